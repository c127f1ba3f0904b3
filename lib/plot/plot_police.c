/* Picture of a partition with a region outlined (POLICE constraint region),
 * PNG / SVG / PDF through cairo, written atomically.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <cairo.h>
#include <math.h>
#include <stdlib.h>
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

static double cross3(const double *o, const double *a, const double *b) {
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
}

static int cmp_pt(const void *a, const void *b) {
    const double *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

/* Convex hull (monotone chain) of n points pts (n x 2, sorted in place)
 * into hull (room for n + 1 points); returns its size. */
static size_t hull2d(double *pts, size_t n, double *hull) {
    qsort(pts, n, 2 * sizeof(double), cmp_pt);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        while (k >= 2 && cross3(hull + 2 * (k - 2), hull + 2 * (k - 1), pts + 2 * i) <= 0) k--;
        hull[2 * k] = pts[2 * i], hull[2 * k + 1] = pts[2 * i + 1], k++;
    }
    for (size_t i = n - 1, t = k + 1; i-- > 0;) {
        while (k >= t && cross3(hull + 2 * (k - 2), hull + 2 * (k - 1), pts + 2 * i) <= 0) k--;
        hull[2 * k] = pts[2 * i], hull[2 * k + 1] = pts[2 * i + 1], k++;
    }
    return k > 1 ? k - 1 : k;
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

sslk_status ssli_plotm_police(const sslk_partition *p, const double *outline_uv, size_t n,
                             const double *points_uv, const int32_t *labels, size_t npoints,
                             const char *path, int width, int height) {
    static const char fn[] = "sslk_police_plot";
    SSLI_CHECK_PTR(p, fn);
    SSLI_CHECK_PTR(outline_uv, fn);
    SSLI_CHECK_PTR(path, fn);
    if (n < 3 || n > 100000000)
        return ssli_err(SSLK_E_SHAPE, "%s: 'n' = %zu outline points; need >= 3", fn, n);
    for (size_t i = 0; i < 2 * n; i++)
        if (!isfinite(outline_uv[i]))
            return ssli_err(SSLK_E_NONFINITE, "%s: 'outline_uv' value %zu is not finite", fn, i);
    if (npoints) {
        SSLI_CHECK_PTR(points_uv, fn);
        if (npoints > 100000000) return ssli_err(SSLK_E_SHAPE, "%s: 'npoints' = %zu too large", fn, npoints);
        for (size_t i = 0; i < 2 * npoints; i++)
            if (!isfinite(points_uv[i]))
                return ssli_err(SSLK_E_NONFINITE, "%s: 'points_uv' value %zu is not finite", fn, i);
    }
    if (width < 16 || height < 16 || width > 16384 || height > 16384)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: size %d x %d outside [16, 16384]", fn, width, height);
    double *tmp = ssli_malloc(p->ctx, 4 * n + 2, sizeof(double));
    if (!tmp) return ssli_alloc_status();
    double *hull = tmp + 2 * n;
    memcpy(tmp, outline_uv, 2 * n * sizeof(double));
    size_t nh = hull2d(tmp, n, hull);
    ssli_plot_sink o;
    sslk_status st = ssli_plot_begin(&o, path, SSLI_PLOT_PNG | SSLI_PLOT_SVG | SSLI_PLOT_PDF, width, height, fn);
    if (st == SSLK_OK) {
        render(p, hull, nh, points_uv, labels, npoints, o.cr, width, height);
        st = ssli_plot_end(&o);
    }
    ssli_free(p->ctx, tmp);
    return st;
}
