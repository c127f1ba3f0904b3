/* Pictures of a SplineCam partition (inside libsslkit-plot): regions, argmax
 * cells, decision boundary, anchors.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <cairo.h>
#include <math.h>
#include <string.h>

#include "geometry/partition.h"
#include "plot/plot_module.h"

/* Qualitative palette (10 classes), lightened for fills. */
static const double palette[10][3] = {
    {0.12, 0.47, 0.71}, {1.00, 0.50, 0.05}, {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16}, {0.58, 0.40, 0.74},
    {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.50, 0.50, 0.50}, {0.74, 0.74, 0.13}, {0.09, 0.75, 0.81}};

static void region_colour(size_t i, int32_t cls, unsigned flags, double rgb[3]) {
    if (flags & SSLK_PARTITION_PLOT_RANDOM_COLORS) {
        uint64_t h = ssli_mix64(i * 0x9e3779b97f4a7c15ull + 17);
        for (int c = 0; c < 3; c++) rgb[c] = 0.35 + 0.6 * (double)((h >> (16 * c)) & 0xFFFF) / 65535.0;
        return;
    }
    const double *b = palette[(size_t)(cls < 0 ? 0 : cls) % 10];
    /* vary the lightness a little per region so neighbours stay visible */
    double l = 0.55 + 0.15 * (double)(ssli_mix64(i + 1) & 0xFF) / 255.0;
    for (int c = 0; c < 3; c++) rgb[c] = b[c] + (1.0 - b[c]) * l;
}

static void draw(const sslk_partition *p, cairo_t *cr, int W, int H, unsigned flags) {
    double u0 = INFINITY, u1 = -INFINITY, v0 = INFINITY, v1 = -INFINITY;
    for (size_t i = 0; i < p->ndomain; i++) {
        u0 = fmin(u0, p->domain[i].x), u1 = fmax(u1, p->domain[i].x);
        v0 = fmin(v0, p->domain[i].y), v1 = fmax(v1, p->domain[i].y);
    }
    double margin = 10, sx = (W - 2 * margin) / (u1 - u0), sy = (H - 2 * margin) / (v1 - v0);
    double sc = fmin(sx, sy);
    double ox = margin + 0.5 * ((W - 2 * margin) - sc * (u1 - u0)) - sc * u0;
    double oy = H - margin - 0.5 * ((H - 2 * margin) - sc * (v1 - v0)) + sc * v0;
#define TX(u) (ox + sc * (u))
#define TY(v) (oy - sc * (v))
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    double ew = fmax(0.3, fmin(1.0, 0.002 * (W + H) / 2.0));
    size_t cell = 0;
    for (size_t i = 0; i < p->n; i++) {
        const ssli_pt *q = p->pts + p->voff[i];
        size_t nv = p->voff[i + 1] - p->voff[i];
        double rgb[3];
        bool by_class = !(flags & SSLK_PARTITION_PLOT_RANDOM_COLORS);
        bool has_cells = false;
        /* regions the boundary crosses: fill each argmax cell with its class */
        while (cell < p->ncell && p->cell_info[2 * cell] == (int32_t)i) {
            has_cells = true;
            const ssli_pt *c = p->cell_pts + p->cell_off[cell];
            size_t m = p->cell_off[cell + 1] - p->cell_off[cell];
            if (by_class) {
                cairo_new_path(cr);
                for (size_t j = 0; j < m; j++) cairo_line_to(cr, TX(c[j].x), TY(c[j].y));
                cairo_close_path(cr);
                region_colour(i, p->cell_info[2 * cell + 1], flags, rgb);
                cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
                cairo_fill_preserve(cr);
                cairo_set_line_width(cr, 0.5); /* hide anti-aliasing seams */
                cairo_stroke(cr);
            }
            cell++;
        }
        cairo_new_path(cr);
        for (size_t j = 0; j < nv; j++) cairo_line_to(cr, TX(q[j].x), TY(q[j].y));
        cairo_close_path(cr);
        if (!(has_cells && by_class)) {
            region_colour(i, p->cls[i], flags, rgb);
            cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
            if (flags & SSLK_PARTITION_PLOT_NO_EDGES) cairo_fill(cr);
            else cairo_fill_preserve(cr);
        }
        if (!(flags & SSLK_PARTITION_PLOT_NO_EDGES)) {
            cairo_set_source_rgba(cr, 0.15, 0.15, 0.15, 0.8);
            cairo_set_line_width(cr, ew);
            cairo_stroke(cr);
        }
        cairo_new_path(cr);
    }
    if (!(flags & SSLK_PARTITION_PLOT_NO_BOUNDARY) && p->nseg) {
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_set_line_width(cr, 4 * ew + 1.5);
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
        for (size_t i = 0; i < p->nseg; i++) {
            const double *g = p->segs + 4 * i;
            cairo_move_to(cr, TX(g[0]), TY(g[1]));
            cairo_line_to(cr, TX(g[2]), TY(g[3]));
        }
        cairo_stroke(cr);
    }
    if (!(flags & SSLK_PARTITION_PLOT_NO_ANCHORS))
        for (size_t i = 0; i < p->nanchors; i++) {
            double r = fmax(4.0, 0.008 * (W + H) / 2.0);
            cairo_arc(cr, TX(p->anchors[i].x), TY(p->anchors[i].y), r, 0, 2 * M_PI);
            cairo_set_source_rgb(cr, 1, 1, 1);
            cairo_fill_preserve(cr);
            cairo_set_source_rgb(cr, 0.8, 0, 0);
            cairo_set_line_width(cr, r / 2);
            cairo_stroke(cr);
        }
    /* domain outline */
    cairo_new_path(cr);
    for (size_t j = 0; j < p->ndomain; j++) cairo_line_to(cr, TX(p->domain[j].x), TY(p->domain[j].y));
    cairo_close_path(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1.0);
    cairo_stroke(cr);
#undef TX
#undef TY
}

sslk_status ssli_plotm_partition(const sslk_partition *p, const char *path, int width, int height,
                                 unsigned flags) {
    static const char *fn = "sslk_partition_plot";
    SSLI_CHECK_PTR(p, fn);
    SSLI_CHECK_PTR(path, fn);
    if (width < 16 || height < 16 || width > 16384 || height > 16384)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: size %d x %d outside [16, 16384]", fn, width, height);
    if (flags & ~0xFu) return ssli_err(SSLK_E_INVALID_ARG, "%s: unknown 'flags' bits 0x%x", fn, flags);
    ssli_plot_sink o;
    SSLI_TRY(ssli_plot_begin(&o, path, SSLI_PLOT_PNG | SSLI_PLOT_SVG | SSLI_PLOT_PDF, width, height, fn));
    draw(p, o.cr, width, height, flags);
    return ssli_plot_end(&o);
}
