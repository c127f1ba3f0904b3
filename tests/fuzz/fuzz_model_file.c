/* libFuzzer target: native model files (.sslk), the CRC appended by the
 * harness (fuzz_crc.h).  A context with a 64 MiB allocation budget keeps a
 * hostile spec from swapping.  When a file loads: its canonical spec must
 * build a model with the same parameter count, and a small model runs one
 * eval forward on the values it loaded.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>

#include "fuzz_common.h"
#include "fuzz_crc.h"
#include "nn/layers.h"
#include "nn/model_internal.h"

#define MAX_ACT ((size_t)1 << 20) /* activation values of one sample over all layers */

static sslk_ctx *file_ctx(void) {
    static sslk_ctx *c;
    if (!c) {
        if (sslk_ctx_create(&c) != SSLK_OK) return NULL;
        sslk_ctx_set_threads(c, 1);
        sslk_ctx_set_i64(c, SSLK_CTX_MAX_ALLOC_BYTES, (int64_t)64 << 20);
    }
    return c;
}

static size_t activations(sslk_model *m) {
    ssli_layer *L[256];
    size_t n = ssli_model_collect_layers(m, L, 256), total = 0;
    if (n > 256) return SIZE_MAX;
    for (size_t i = 0; i < n; i++) total += ssli_shape_numel(L[i]->out);
    return total;
}

static void check(sslk_ctx *c, sslk_model *m) {
    size_t ndim = 0, shape[3] = {0, 0, 0}, np = 0, np2 = 0, in = 0, out = 0;
    char *spec = NULL;
    sslk_model *r = NULL;
    /* the canonical spec rebuilds the same network (same parameter count) */
    if (sslk_model_input_shape(m, &ndim, shape) != SSLK_OK || ssli_model_spec_alloc(m, &spec) != SSLK_OK ||
        sslk_model_param_count(m, &np) != SSLK_OK)
        abort();
    sslk_status st = sslk_model_from_spec(c, spec, ndim, shape, 1, &r);
    if (st != SSLK_OK && st != SSLK_E_NOMEM && st != SSLK_E_LIMIT) abort();
    if (st == SSLK_OK && (sslk_model_param_count(r, &np2) != SSLK_OK || np2 != np)) abort();
    ssli_free(c, spec);
    sslk_model_destroy(r);
    sslk_model_io_size(m, &in, &out);
    if (activations(m) > MAX_ACT || in > MAX_ACT) return;
    float *x = malloc((in ? in : 1) * sizeof(float)), *y = malloc((out ? out : 1) * sizeof(float));
    if (x && y) {
        for (size_t i = 0; i < in; i++) x[i] = (float)((i * 37) % 17) / 8.0f - 1.0f;
        sslk_model_forward(m, x, 1, y, SSLK_MODE_EVAL);
    }
    free(x), free(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sslk_ctx *c = file_ctx();
    size_t n;
    unsigned char *buf = c ? fuzz_with_crc(data, size, &n) : NULL;
    if (!buf) return 0;
    sslk_model *m = NULL;
    if (ssli_model_load_buffer(c, buf, n, "fuzz.sslk", "fuzz", &m) == SSLK_OK) check(c, m);
    sslk_model_destroy(m);
    free(buf);
    return 0;
}
