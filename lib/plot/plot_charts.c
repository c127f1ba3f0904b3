/* Training curves and per-class bars (inside libsslkit-plot).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <cairo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot_module.h"

#define PW 860.0
#define PH 520.0
#define ML 78.0  /* margins: left, right, top, bottom */
#define MR 24.0
#define MT 48.0
#define MB 64.0

static const double palette[][3] = {
    {0.12, 0.47, 0.71}, {1.00, 0.50, 0.05}, {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16},
    {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.50, 0.50, 0.50},
};
#define NPAL (sizeof palette / sizeof palette[0])

/* Every chart: the shared sink on a PW x PH canvas, white, sans-serif. */
static sslk_status plot_begin(ssli_plot_sink *o, const char *path, const char *fn) {
    SSLI_TRY(ssli_plot_begin(o, path, SSLI_PLOT_PNG | SSLI_PLOT_SVG | SSLI_PLOT_PDF, PW, PH, fn));
    cairo_t *cr = o->cr;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    return SSLK_OK;
}

static void text_at(cairo_t *cr, double x, double y, const char *s, double size, double halign,
                    double valign) {
    cairo_text_extents_t e;
    cairo_set_font_size(cr, size);
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - halign * e.width - e.x_bearing, y - valign * e.height - e.y_bearing);
    cairo_show_text(cr, s);
}

static void title_and_labels(cairo_t *cr, const char *title, const char *xlabel, const char *ylabel) {
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    if (title) text_at(cr, PW / 2, 16, title, 17, 0.5, 0.0);
    if (xlabel) text_at(cr, ML + (PW - ML - MR) / 2, PH - 20, xlabel, 13, 0.5, 0.5);
    if (ylabel) {
        cairo_save(cr);
        cairo_translate(cr, 16, MT + (PH - MT - MB) / 2);
        cairo_rotate(cr, -M_PI / 2);
        text_at(cr, 0, 0, ylabel, 13, 0.5, 0.5);
        cairo_restore(cr);
    }
}

/* "Nice" tick step covering span with about n ticks. */
static double nice_step(double span, int n) {
    double raw = span / n, p = pow(10, floor(log10(raw))), r = raw / p;
    return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * p;
}

static void fmt_num(char *buf, size_t cap, double v) {
    if (v != 0 && (fabs(v) >= 1e5 || fabs(v) < 1e-3))
        snprintf(buf, cap, "%.1e", v);
    else
        snprintf(buf, cap, "%.4g", v);
}

sslk_status ssli_plotm_curves(const char *path, const char *title, const char *xlabel, const char *ylabel,
                             const double *x, const double *y, size_t nseries, size_t npoints,
                             const char *const *names, unsigned flags) {
    static const char *fn = "sslk_plot_curves";
    SSLI_CHECK_PTR(y, fn);
    if (nseries < 1 || npoints < 1 || nseries > 64 || npoints > 100000000)
        return ssli_err(SSLK_E_SHAPE, "%s: nseries = %zu (1..64), npoints = %zu (>= 1)", fn, nseries, npoints);
    const bool logy = flags & SSLK_PLOT_LOG_Y, norm = flags & SSLK_PLOT_NORMALIZE;
    /* y value after normalisation / log; NAN when not drawable */
    double *scale = calloc(nseries, sizeof(double));
    if (!scale) return ssli_err(SSLK_E_NOMEM, "%s: out of memory", fn);
    for (size_t s = 0; s < nseries; s++) {
        scale[s] = 1;
        if (norm)
            for (size_t i = 0; i < npoints; i++)
                if (isfinite(y[s * npoints + i]) && y[s * npoints + i] != 0) {
                    scale[s] = 1.0 / fabs(y[s * npoints + i]);
                    break;
                }
    }
#define YV(s, i) (logy ? (y[(s) * npoints + (i)] * scale[s] > 0 ? log10(y[(s) * npoints + (i)] * scale[s]) : NAN) \
                       : y[(s) * npoints + (i)] * scale[s])
#define XV(i) (x ? x[i] : (double)(i) + 1)
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (size_t i = 0; i < npoints; i++) {
        if (!isfinite(XV(i))) continue;
        for (size_t s = 0; s < nseries; s++) {
            double v = YV(s, i);
            if (!isfinite(v)) continue;
            if (XV(i) < x0) x0 = XV(i);
            if (XV(i) > x1) x1 = XV(i);
            if (v < y0) y0 = v;
            if (v > y1) y1 = v;
        }
    }
    if (!isfinite(x0)) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
    if (x1 - x0 < 1e-12) { x0 -= 0.5; x1 += 0.5; }
    if (y1 - y0 < 1e-12 * (1 + fabs(y0))) { y0 -= 0.5; y1 += 0.5; }
    double pad = 0.05 * (y1 - y0);
    y0 -= pad;
    y1 += pad;

    ssli_plot_sink o;
    sslk_status st = plot_begin(&o, path, fn);
    if (st != SSLK_OK) {
        free(scale);
        return st;
    }
    cairo_t *cr = o.cr;
    const double pw = PW - ML - MR, ph = PH - MT - MB;
#define PX(v) (ML + ((v) - x0) / (x1 - x0) * pw)
#define PY(v) (MT + ph - ((v) - y0) / (y1 - y0) * ph)
    /* grid and ticks */
    char buf[64];
    cairo_set_line_width(cr, 1);
    double ys = nice_step(y1 - y0, 6);
    double ticks[64];
    int nt = 0;
    if (logy) { /* 1-2-5 per decade, or decades only when they would crowd */
        static const double mant[3] = {1, 2, 5};
        int per = (y1 - y0) > 2.5 ? 1 : 3;
        for (double k = floor(y0); k <= ceil(y1) && nt < 60; k++)
            for (int j = 0; j < per && nt < 60; j++) {
                double t = k + log10(mant[j]);
                if (t >= y0 && t <= y1) ticks[nt++] = t;
            }
    } else {
        for (double t = ceil(y0 / ys) * ys; t <= y1 + 1e-9 * ys && nt < 60; t += ys)
            ticks[nt++] = fabs(t) < 1e-12 * ys ? 0 : t;
    }
    for (int i = 0; i < nt; i++) {
        double t = ticks[i];
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, ML, PY(t));
        cairo_line_to(cr, ML + pw, PY(t));
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
        fmt_num(buf, sizeof buf, logy ? pow(10, t) : t);
        text_at(cr, ML - 6, PY(t), buf, 11, 1.0, 0.5);
    }
    double xs = nice_step(x1 - x0, 8);
    if (!x && xs < 1) xs = 1; /* integer positions: integer ticks */
    for (double t = ceil(x0 / xs) * xs; t <= x1 + 1e-9 * xs; t += xs) {
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, PX(t), MT);
        cairo_line_to(cr, PX(t), MT + ph);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
        fmt_num(buf, sizeof buf, t);
        text_at(cr, PX(t), MT + ph + 6, buf, 11, 0.5, 0.0);
    }
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    cairo_rectangle(cr, ML, MT, pw, ph);
    cairo_stroke(cr);
    /* series */
    cairo_set_line_width(cr, 2);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    for (size_t s = 0; s < nseries; s++) {
        const double *c = palette[s % NPAL];
        cairo_set_source_rgb(cr, c[0], c[1], c[2]);
        bool pen = false;
        size_t drawn = 0, last = 0;
        for (size_t i = 0; i < npoints; i++) {
            double v = YV(s, i);
            if (!isfinite(v) || !isfinite(XV(i))) {
                pen = false;
                continue;
            }
            if (pen) cairo_line_to(cr, PX(XV(i)), PY(v));
            else cairo_move_to(cr, PX(XV(i)), PY(v));
            pen = true;
            drawn++;
            last = i;
        }
        cairo_stroke(cr);
        if (drawn == 1) { /* a lone point: show it */
            cairo_arc(cr, PX(XV(last)), PY(YV(s, last)), 3, 0, 2 * M_PI);
            cairo_fill(cr);
        }
    }
    /* legend */
    if (names) {
        size_t shown = 0;
        for (size_t s = 0; s < nseries; s++) shown += names[s] != NULL;
        cairo_set_source_rgba(cr, 1, 1, 1, 0.85); /* keep the legend readable over lines */
        cairo_rectangle(cr, ML + pw - 196, MT + 4, 192, 16.0 * (double)shown + 8);
        cairo_fill(cr);
        double ly = MT + 10;
        for (size_t s = 0; s < nseries; s++) {
            if (!names[s]) continue;
            const double *c = palette[s % NPAL];
            cairo_set_source_rgb(cr, c[0], c[1], c[2]);
            cairo_rectangle(cr, ML + pw - 190, ly, 14, 10);
            cairo_fill(cr);
            cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
            text_at(cr, ML + pw - 170, ly + 5, names[s], 11, 0.0, 0.5);
            ly += 16;
        }
    }
    title_and_labels(cr, title, xlabel, logy ? (ylabel ? ylabel : "value (log scale)") : ylabel);
#undef PX
#undef PY
#undef XV
#undef YV
    free(scale);
    return ssli_plot_end(&o);
}

sslk_status ssli_plotm_bars(const char *path, const char *title, const char *ylabel, const double *values,
                           const char *const *labels, size_t n) {
    static const char *fn = "sslk_plot_bars";
    SSLI_CHECK_PTR(values, fn);
    if (n < 1 || n > 4096) return ssli_err(SSLK_E_SHAPE, "%s: n = %zu bars (1..4096)", fn, n);
    ssli_plot_sink o;
    SSLI_TRY(plot_begin(&o, path, fn));
    cairo_t *cr = o.cr;
    const double pw = PW - ML - MR, ph = PH - MT - MB;
    char buf[64];
    cairo_set_line_width(cr, 1);
    for (int t = 0; t <= 10; t += 2) {
        double yy = MT + ph - t / 10.0 * ph;
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, ML, yy);
        cairo_line_to(cr, ML + pw, yy);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
        snprintf(buf, sizeof buf, "%.1f", t / 10.0);
        text_at(cr, ML - 6, yy, buf, 11, 1.0, 0.5);
    }
    double slot = pw / (double)n, sum = 0;
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) {
        double v = values[i], xl = ML + i * slot + 0.15 * slot;
        if (isfinite(v)) {
            double c = v < 0 ? 0 : v > 1 ? 1 : v;
            sum += v;
            cnt++;
            cairo_set_source_rgb(cr, 0.12 + 0.7 * (1 - c), 0.47 * c + 0.2, 0.71 * c + 0.1);
            cairo_rectangle(cr, xl, MT + ph - c * ph, 0.7 * slot, c * ph);
            cairo_fill(cr);
            if (n <= 40) {
                cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
                snprintf(buf, sizeof buf, "%.3f", v);
                text_at(cr, xl + 0.35 * slot, MT + ph - c * ph - 4, buf, 10, 0.5, 1.0);
            }
        } else if (n <= 40) {
            cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
            text_at(cr, xl + 0.35 * slot, MT + ph - 4, "n/a", 10, 0.5, 1.0);
        }
        if (n <= 40) {
            cairo_save(cr);
            cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
            cairo_translate(cr, xl + 0.35 * slot, MT + ph + 6);
            if (n > 12) cairo_rotate(cr, M_PI / 5);
            if (labels && labels[i])
                snprintf(buf, sizeof buf, "%s", labels[i]);
            else
                snprintf(buf, sizeof buf, "%zu", i);
            text_at(cr, 0, 0, buf, 10, n > 12 ? 0.0 : 0.5, 0.0);
            cairo_restore(cr);
        }
    }
    if (cnt) {
        double mean = sum / (double)cnt, yy = MT + ph - (mean < 0 ? 0 : mean > 1 ? 1 : mean) * ph;
        const double dash[] = {6, 4};
        cairo_set_dash(cr, dash, 2, 0);
        cairo_set_source_rgb(cr, 0.8, 0.1, 0.1);
        cairo_move_to(cr, ML, yy);
        cairo_line_to(cr, ML + pw, yy);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        snprintf(buf, sizeof buf, "mean %.3f", mean);
        text_at(cr, ML + pw - 4, yy - 4, buf, 11, 1.0, 1.0);
    }
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    cairo_rectangle(cr, ML, MT, pw, ph);
    cairo_stroke(cr);
    title_and_labels(cr, title, NULL, ylabel);
    return ssli_plot_end(&o);
}
