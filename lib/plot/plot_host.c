/* Inside libsslkit-plot: the core helpers the pictures call, forwarded to the
 * core library's own through the host table it handed over at load time, so
 * error sentences land in the core's thread-local buffer and memory comes
 * from the context's allocator.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "geometry/partition.h"
#include "plot/plot_module.h"

static const ssli_plot_host *H;

sslk_status ssli_err(sslk_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sslk_status r = H->verr(s, fmt, ap);
    va_end(ap);
    return r;
}
void *ssli_malloc(const sslk_ctx *ctx, size_t n, size_t elem) { return H->malloc_(ctx, n, elem); }
void ssli_free(const sslk_ctx *ctx, void *p) { H->free_(ctx, p); }
sslk_status ssli_alloc_status(void) { return H->alloc_status(); }
uint64_t ssli_mix64(uint64_t x) { return H->mix64(x); }
sslk_status ssli_atomic_open(ssli_atomic_file *f, const char *path, const char *fn) {
    return H->atomic_open(f, path, fn);
}
sslk_status ssli_atomic_write(ssli_atomic_file *f, const void *buf, size_t n, const char *fn) {
    return H->atomic_write(f, buf, n, fn);
}
sslk_status ssli_atomic_commit(ssli_atomic_file *f, const char *fn) { return H->atomic_commit(f, fn); }
void ssli_atomic_abort(ssli_atomic_file *f) { H->atomic_abort(f); }

static const ssli_plot_api api = {
    sizeof(ssli_plot_api), SSLK_VERSION_STRING, sizeof(struct sslk_partition),
    ssli_plotm_partition, ssli_plotm_police, ssli_plotm_curves, ssli_plotm_bars,
};

/* The module's only exported symbol.  NULL when the host's table is older
 * than this module needs. */
__attribute__((visibility("default"))) const ssli_plot_api *ssli_plot_module_v1(const ssli_plot_host *host);
const ssli_plot_api *ssli_plot_module_v1(const ssli_plot_host *host) {
    if (!host || host->struct_size < sizeof(ssli_plot_host)) return NULL;
    H = host;
    return &api;
}
