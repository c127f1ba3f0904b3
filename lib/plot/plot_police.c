/* Picture of a partition with a region outlined (POLICE constraint region),
 * PNG / SVG / PDF through cairo, written atomically.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <cairo.h>
#include <math.h>
#include <string.h>

#include "geometry/partition.h"
#include "plot/plot_module.h"

typedef struct view {
    double sc, ox, oy;
    int H;
} view;

static void to_px(const view *v, double u, double w, double *x, double *y) {
    *x = v->ox + v->sc * u;
    *y = v->H - (v->oy + v->sc * w);
}

static void render(const sslk_partition *p, const double *ol, size_t n, const double *pts,
                   const int32_t *lab, size_t np, cairo_t *cr, int W, int H) {
    double u0 = INFINITY, u1 = -INFINITY, v0 = INFINITY, v1 = -INFINITY;
    for (size_t i = 0; i < p->ndomain; i++) {
        u0 = fmin(u0, p->domain[i].x), u1 = fmax(u1, p->domain[i].x);
        v0 = fmin(v0, p->domain[i].y), v1 = fmax(v1, p->domain[i].y);
    }
    for (size_t i = 0; i < n; i++) {
        u0 = fmin(u0, ol[2 * i]), u1 = fmax(u1, ol[2 * i]);
        v0 = fmin(v0, ol[2 * i + 1]), v1 = fmax(v1, ol[2 * i + 1]);
    }
    const double m = 12;
    view V = {fmin((W - 2 * m) / fmax(u1 - u0, 1e-300), (H - 2 * m) / fmax(v1 - v0, 1e-300)), 0, 0, H};
    V.ox = 0.5 * (W - V.sc * (u1 - u0)) - V.sc * u0;
    V.oy = 0.5 * (H - V.sc * (v1 - v0)) - V.sc * v0;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    static const double fill[4][3] = {{0.70, 0.80, 0.95}, {0.98, 0.80, 0.65}, {0.75, 0.90, 0.72},
                                      {0.93, 0.75, 0.80}};
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    for (int pass = 0; pass < 2; pass++)
        for (size_t r = 0; r < p->n; r++) {
            for (size_t k = p->voff[r]; k < p->voff[r + 1]; k++) {
                double x, y;
                to_px(&V, p->pts[k].x, p->pts[k].y, &x, &y);
                if (k == p->voff[r]) cairo_move_to(cr, x, y);
                else cairo_line_to(cr, x, y);
            }
            cairo_close_path(cr);
            if (pass == 0) {
                const double *c = fill[(size_t)(p->cls[r] < 0 ? 0 : p->cls[r]) % 4];
                /* a slight per-region tint keeps neighbouring regions apart */
                double t = 0.06 * (double)(ssli_mix64(r + 1) & 0xFF) / 255.0;
                cairo_set_source_rgb(cr, c[0] - t, c[1] - t, c[2] - t);
                cairo_fill(cr);
            } else {
                cairo_set_source_rgba(cr, 0.25, 0.25, 0.25, 0.35);
                cairo_set_line_width(cr, 0.5);
                cairo_stroke(cr);
            }
        }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 2.5);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    for (size_t s = 0; s < p->nseg; s++) {
        double x0, y0, x1, y1;
        to_px(&V, p->segs[4 * s], p->segs[4 * s + 1], &x0, &y0);
        to_px(&V, p->segs[4 * s + 2], p->segs[4 * s + 3], &x1, &y1);
        cairo_move_to(cr, x0, y0);
        cairo_line_to(cr, x1, y1);
    }
    cairo_stroke(cr);
    for (size_t i = 0; i < n; i++) {
        double x, y;
        to_px(&V, ol[2 * i], ol[2 * i + 1], &x, &y);
        if (i == 0) cairo_move_to(cr, x, y);
        else cairo_line_to(cr, x, y);
    }
    cairo_close_path(cr);
    cairo_set_source_rgb(cr, 0.85, 0.05, 0.05);
    cairo_set_line_width(cr, 3.0);
    cairo_stroke(cr);
    static const double mark[4][3] = {{0.05, 0.25, 0.65}, {0.75, 0.30, 0.0}, {0.1, 0.5, 0.1}, {0.6, 0.1, 0.4}};
    for (size_t i = 0; i < np; i++) {
        double x, y;
        to_px(&V, pts[2 * i], pts[2 * i + 1], &x, &y);
        const double *c = mark[(size_t)(lab && lab[i] > 0 ? lab[i] : 0) % 4];
        cairo_set_source_rgba(cr, c[0], c[1], c[2], 0.8);
        cairo_arc(cr, x, y, 1.8, 0, 2 * M_PI);
        cairo_fill(cr);
    }
}

/* Arguments were checked by the core's stub, which also reduced the outline
 * to its convex hull (hull_uv, nh points). */
sslk_status ssli_plotm_police(const sslk_partition *p, const double *hull_uv, size_t nh,
                              const double *points_uv, const int32_t *labels, size_t npoints,
                              const char *path, int width, int height) {
    ssli_plot_sink o;
    SSLI_TRY(ssli_plot_begin(&o, path, SSLI_PLOT_PNG | SSLI_PLOT_SVG | SSLI_PLOT_PDF, width, height,
                             "sslk_police_plot"));
    render(p, hull_uv, nh, points_uv, labels, npoints, o.cr, width, height);
    return ssli_plot_end(&o);
}
