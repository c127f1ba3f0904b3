/* The plotting module: libsslkit-plot.so.1 holds every cairo picture, so the
 * core library links no cairo/X11/fontconfig.  libsslkit.so keeps the public
 * plot functions (lib/plot/plot_stub.c) and loads the module on first use.
 * The two sides exchange one table each; both are built from one source tree,
 * and the stub refuses a module of another version or layout.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_PLOT_MODULE_H
#define SSLKIT_PLOT_MODULE_H

#include <stdarg.h>

#include "core/internal.h"
#include "sslkit/geometry.h"
#include "sslkit/plot.h"
#include "sslkit/police.h"

/* What the core lends the module: the error sentence lives in the core's
 * thread-local buffer and allocations go through the context's allocator. */
typedef struct ssli_plot_host {
    size_t struct_size;
    sslk_status (*verr)(sslk_status s, const char *fmt, va_list ap);
    void *(*malloc_)(const sslk_ctx *ctx, size_t n, size_t elem);
    void (*free_)(const sslk_ctx *ctx, void *p);
    sslk_status (*alloc_status)(void);
    uint64_t (*mix64)(uint64_t x);
    sslk_status (*atomic_open)(ssli_atomic_file *f, const char *path, const char *fn);
    sslk_status (*atomic_write)(ssli_atomic_file *f, const void *buf, size_t n, const char *fn);
    sslk_status (*atomic_commit)(ssli_atomic_file *f, const char *fn);
    void (*atomic_abort)(ssli_atomic_file *f);
} ssli_plot_host;

/* What the module offers: the four public entry points' implementations. */
typedef struct ssli_plot_api {
    size_t struct_size;
    const char *version;   /* SSLK_VERSION_STRING of the module's build */
    size_t partition_size; /* sizeof(struct sslk_partition) it was built with */
    sslk_status (*partition_plot)(const sslk_partition *p, const char *path, int width, int height,
                                  unsigned flags);
    sslk_status (*police_plot)(const sslk_partition *p, const double *hull_uv, size_t nh,
                               const double *points_uv, const int32_t *labels, size_t npoints,
                               const char *path, int width, int height);
    sslk_status (*curves)(const char *path, const char *title, const char *xlabel, const char *ylabel,
                          const double *x, const double *y, size_t nseries, size_t npoints,
                          const char *const *names, unsigned flags);
    sslk_status (*bars)(const char *path, const char *title, const char *ylabel, const double *values,
                        const char *const *labels, size_t n);
} ssli_plot_api;

#define SSLI_PLOT_ENTRY "ssli_plot_module_v1"
typedef const ssli_plot_api *(*ssli_plot_entry_fn)(const ssli_plot_host *host);

/* ---- inside the module ------------------------------------------------------
 * One output sink for every picture: PNG, SVG or PDF chosen by the path's
 * extension (case-insensitive, among the kinds in `kinds`), written through an
 * atomic temporary file.  begin opens the file and a width x height surface;
 * end encodes (PNG), finishes, and commits, or aborts on any error. */
enum { SSLI_PLOT_PNG = 1, SSLI_PLOT_SVG = 2, SSLI_PLOT_PDF = 4 };
typedef struct ssli_plot_sink {
    ssli_atomic_file f;
    sslk_status st;
    int kind;
    const char *fn, *path;
    void *surf; /* cairo_surface_t */
    void *cr;   /* cairo_t */
} ssli_plot_sink;
sslk_status ssli_plot_begin(ssli_plot_sink *s, const char *path, int kinds, double width, double height,
                            const char *fn);
sslk_status ssli_plot_end(ssli_plot_sink *s);

sslk_status ssli_plotm_partition(const sslk_partition *p, const char *path, int width, int height,
                                 unsigned flags);
sslk_status ssli_plotm_police(const sslk_partition *p, const double *hull_uv, size_t nh,
                              const double *points_uv, const int32_t *labels, size_t npoints,
                              const char *path, int width, int height);
sslk_status ssli_plotm_curves(const char *path, const char *title, const char *xlabel, const char *ylabel,
                              const double *x, const double *y, size_t nseries, size_t npoints,
                              const char *const *names, unsigned flags);
sslk_status ssli_plotm_bars(const char *path, const char *title, const char *ylabel, const double *values,
                            const char *const *labels, size_t n);

#endif
