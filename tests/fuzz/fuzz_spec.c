/* libFuzzer target: model spec strings.  Each input is built for an image
 * input (2, 6, 6) and a vector input (5) on a context whose allocation budget
 * is 64 MiB, so a hostile size is refused instead of swapping.  When a spec
 * builds: the shape-only dry build must agree with it, its canonical spec must
 * print back to itself, and when the model is small a train forward and a
 * backward run on 2 rows, then an eval forward on 1.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "nn/layers.h"

#define MAX_SPEC 4096
#define MAX_SCALARS ((size_t)1 << 22) /* parameters worth a forward (16 MiB) */
#define MAX_ACT ((size_t)1 << 20)     /* activation values of one sample over all layers */

static sslk_ctx *spec_ctx(void) {
    static sslk_ctx *c;
    if (!c) {
        if (sslk_ctx_create(&c) != SSLK_OK) return NULL;
        sslk_ctx_set_threads(c, 1);
        sslk_ctx_set_i64(c, SSLK_CTX_MAX_ALLOC_BYTES, (int64_t)64 << 20);
    }
    return c;
}

/* Sum of the output sizes of every layer (what forward keeps per sample). */
static size_t activations(sslk_model *m) {
    ssli_layer *L[256];
    size_t n = ssli_model_collect_layers(m, L, 256), total = 0;
    if (n > 256) return SIZE_MAX;
    for (size_t i = 0; i < n; i++) total += ssli_shape_numel(L[i]->out);
    return total;
}

static void run(sslk_model *m) {
    size_t in, out;
    sslk_model_io_size(m, &in, &out);
    float *x = malloc(2 * in * sizeof(float)), *y = malloc(2 * out * sizeof(float));
    float *gy = malloc(2 * out * sizeof(float)), *gx = malloc(2 * in * sizeof(float));
    if (x && y && gy && gx) {
        for (size_t i = 0; i < 2 * in; i++) x[i] = (float)((i * 37) % 17) / 8.0f - 1.0f;
        for (size_t i = 0; i < 2 * out; i++) gy[i] = 1.0f;
        if (sslk_model_forward(m, x, 2, y, SSLK_MODE_TRAIN) == SSLK_OK)
            sslk_model_backward(m, gy, gx);
        sslk_model_forward(m, x, 1, y, SSLK_MODE_EVAL);
    }
    free(x), free(y), free(gy), free(gx);
}

static void one(sslk_ctx *c, const char *spec, size_t ndim, const size_t *shape) {
    size_t scalars;
    if (ssli_spec_scalars(c, spec, ndim, shape, &scalars) != SSLK_OK) return;
    if (scalars > MAX_SCALARS) return;
    sslk_model *m = NULL;
    sslk_status st = sslk_model_from_spec(c, spec, ndim, shape, 1, &m);
    if (st == SSLK_E_NOMEM) return;
    if (st != SSLK_OK) abort(); /* the dry build accepted what the real one refused */
    char *a = NULL, *b = NULL;
    sslk_model *r = NULL;
    if (ssli_model_spec_alloc(m, &a) != SSLK_OK || sslk_model_from_spec(c, a, ndim, shape, 1, &r) != SSLK_OK ||
        ssli_model_spec_alloc(r, &b) != SSLK_OK || strcmp(a, b) != 0)
        abort(); /* the canonical spec does not print back to itself */
    ssli_free(c, a);
    ssli_free(c, b);
    sslk_model_destroy(r);
    if (activations(m) <= MAX_ACT) run(m);
    sslk_model_destroy(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sslk_ctx *c = spec_ctx();
    if (!c || size >= MAX_SPEC) return 0;
    char spec[MAX_SPEC];
    memcpy(spec, data, size);
    spec[size] = '\0';
    one(c, spec, 3, (const size_t[]){2, 6, 6});
    one(c, spec, 1, (const size_t[]){5});
    return 0;
}
