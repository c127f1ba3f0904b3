/* The one output sink of every picture (inside libsslkit-plot): extension ->
 * cairo surface, bytes -> atomic temporary file, commit or abort.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <string.h>

#include "plot/plot_module.h"

static cairo_status_t sink_write(void *closure, const unsigned char *data, unsigned int len) {
    ssli_plot_sink *s = closure;
    if (s->st != SSLK_OK) return CAIRO_STATUS_WRITE_ERROR;
    s->st = ssli_atomic_write(&s->f, data, len, s->fn);
    return s->st == SSLK_OK ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

/* SSLI_PLOT_PNG / SVG / PDF from the last four characters, any case; 0 if none. */
static int kind_of(const char *path) {
    size_t n = strlen(path);
    if (n < 4) return 0;
    char e[5];
    for (int i = 0; i < 4; i++) {
        char c = path[n - 4 + i];
        e[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    e[4] = '\0';
    return !strcmp(e, ".png") ? SSLI_PLOT_PNG : !strcmp(e, ".svg") ? SSLI_PLOT_SVG
                                              : !strcmp(e, ".pdf") ? SSLI_PLOT_PDF : 0;
}

sslk_status ssli_plot_begin(ssli_plot_sink *s, const char *path, int kinds, double width, double height,
                            const char *fn) {
    memset(s, 0, sizeof *s);
    s->fn = fn;
    s->path = path;
    SSLI_CHECK_PTR(path, fn);
    s->kind = kind_of(path) & kinds;
    if (!s->kind)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: '%s' must end in .png%s%s", fn, path,
                        kinds & SSLI_PLOT_PDF ? ", .svg or .pdf" : "", kinds & SSLI_PLOT_PDF ? "" : " or .svg");
    SSLI_TRY(ssli_atomic_open(&s->f, path, fn));
    cairo_surface_t *surf =
        s->kind == SSLI_PLOT_PNG   ? cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)width, (int)height)
        : s->kind == SSLI_PLOT_SVG ? cairo_svg_surface_create_for_stream(sink_write, s, width, height)
                                   : cairo_pdf_surface_create_for_stream(sink_write, s, width, height);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(surf);
        ssli_atomic_abort(&s->f);
        return ssli_err(SSLK_E_NOMEM, "%s: cairo could not create a %.0f x %.0f surface", fn, width, height);
    }
    s->surf = surf;
    s->cr = cairo_create(surf);
    return SSLK_OK;
}

sslk_status ssli_plot_end(ssli_plot_sink *s) {
    cairo_surface_t *surf = s->surf;
    cairo_destroy(s->cr);
    cairo_status_t cs = CAIRO_STATUS_SUCCESS;
    if (s->kind == SSLI_PLOT_PNG && s->st == SSLK_OK) cs = cairo_surface_write_to_png_stream(surf, sink_write, s);
    cairo_surface_finish(surf); /* SVG, PDF: flushes the document into the stream */
    if (cs == CAIRO_STATUS_SUCCESS) cs = cairo_surface_status(surf);
    cairo_surface_destroy(surf);
    if (s->st == SSLK_OK && cs != CAIRO_STATUS_SUCCESS)
        s->st = ssli_err(SSLK_E_IO, "%s: cairo failed writing '%s': %s", s->fn, s->path, cairo_status_to_string(cs));
    if (s->st != SSLK_OK) {
        ssli_atomic_abort(&s->f);
        return s->st;
    }
    return ssli_atomic_commit(&s->f, s->fn);
}
