/* Picture of a partition with a region outlined (POLICE constraint region),
 * PNG / SVG / PDF through cairo, written atomically.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <math.h>
#include <string.h>

#include "geometry/partition.h"
#include "geometry/police_internal.h"

typedef struct sink {
    ssli_atomic_file f;
    sslk_status st;
} sink;

static cairo_status_t sink_write(void *closure, const unsigned char *data, unsigned int len) {
    sink *o = closure;
    if (o->st != SSLK_OK) return CAIRO_STATUS_WRITE_ERROR;
    o->st = ssli_atomic_write(&o->f, data, len, "sslk_police_plot");
    return o->st == SSLK_OK ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

static int kind_of(const char *path) {
    size_t n = strlen(path);
    if (n < 4) return -1;
    const char *e = path + n - 4;
    char low[5];
    for (int i = 0; i < 4; i++) low[i] = (char)(e[i] >= 'A' && e[i] <= 'Z' ? e[i] - 'A' + 'a' : e[i]);
    low[4] = 0;
    return !strcmp(low, ".png") ? 0 : !strcmp(low, ".svg") ? 1 : !strcmp(low, ".pdf") ? 2 : -1;
}

typedef struct view {
    double sc, ox, oy;
    int H;
} view;

static void to_px(const view *v, double u, double w, double *x, double *y) {
    *x = v->ox + v->sc * u;
    *y = v->H - (v->oy + v->sc * w);
}

static void render(const sslk_partition *p, const double *ol, size_t n, cairo_t *cr, int W, int H) {
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
                cairo_set_source_rgba(cr, 0.25, 0.25, 0.25, 0.6);
                cairo_set_line_width(cr, 0.6);
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
}

sslk_status sslk_police_plot(const sslk_partition *p, const double *outline_uv, size_t n,
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
    if (width < 16 || height < 16 || width > 16384 || height > 16384)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: size %d x %d outside [16, 16384]", fn, width, height);
    int kind = kind_of(path);
    if (kind < 0) return ssli_err(SSLK_E_INVALID_ARG, "%s: '%s' must end in .png, .svg or .pdf", fn, path);
    sink o;
    memset(&o, 0, sizeof o);
    SSLI_TRY(ssli_atomic_open(&o.f, path, fn));
    cairo_surface_t *surf = kind == 0   ? cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height)
                            : kind == 1 ? cairo_svg_surface_create_for_stream(sink_write, &o, width, height)
                                        : cairo_pdf_surface_create_for_stream(sink_write, &o, width, height);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(surf);
        ssli_atomic_abort(&o.f);
        return ssli_err(SSLK_E_NOMEM, "%s: cairo could not create a %d x %d surface", fn, width, height);
    }
    cairo_t *cr = cairo_create(surf);
    render(p, outline_uv, n, cr, width, height);
    cairo_destroy(cr);
    cairo_status_t cs = kind == 0 ? cairo_surface_write_to_png_stream(surf, sink_write, &o)
                                  : CAIRO_STATUS_SUCCESS;
    cairo_surface_finish(surf);
    if (cs == CAIRO_STATUS_SUCCESS) cs = cairo_surface_status(surf);
    cairo_surface_destroy(surf);
    if (cs != CAIRO_STATUS_SUCCESS || o.st != SSLK_OK) {
        sslk_status s = o.st != SSLK_OK ? o.st
                                        : ssli_err(SSLK_E_IO, "%s: cairo failed writing '%s': %s", fn,
                                                   path, cairo_status_to_string(cs));
        ssli_atomic_abort(&o.f);
        return s;
    }
    return ssli_atomic_commit(&o.f, fn);
}
