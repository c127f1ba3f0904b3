/* Helpers shared by the metric commands.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "metric_cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int cli_load(const char *cmd, const char *what, const char *path, sslk_dtype as, size_t min_ndim,
             size_t max_ndim, cli_array *out) {
    memset(out, 0, sizeof *out);
    sslk_npy *f = NULL;
    sslk_status s = sslk_npy_open(NULL, path, &f);
    if (s != SSLK_OK) return cli_fail(cmd, what, s);
    out->ndim = sslk_npy_ndim(f);
    for (size_t i = 0; i < out->ndim; i++) out->shape[i] = sslk_npy_dim(f, i);
    out->count = sslk_npy_count(f);
    if (out->ndim < min_ndim || out->ndim > max_ndim) {
        fprintf(stderr, "sslkit %s: %s '%s' has %zu axes; expected %zu to %zu\n", cmd, what, path, out->ndim,
                min_ndim, max_ndim);
        sslk_npy_close(f);
        return 1;
    }
    out->data = malloc(out->count ? out->count * sslk_dtype_size(as) : 1);
    if (!out->data) {
        fprintf(stderr, "sslkit %s: out of memory loading '%s'\n", cmd, path);
        sslk_npy_close(f);
        return 1;
    }
    s = sslk_npy_read(f, as, out->data, out->count);
    sslk_npy_close(f);
    if (s != SSLK_OK) {
        cli_array_free(out);
        return cli_fail(cmd, what, s);
    }
    return 0;
}

void cli_array_free(cli_array *a) {
    free(a->data);
    a->data = NULL;
}

size_t cli_row_width(const cli_array *a) {
    size_t w = 1;
    for (size_t i = 1; i < a->ndim; i++) w *= a->shape[i];
    return w;
}
