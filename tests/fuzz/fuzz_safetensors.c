/* libFuzzer target: safetensors files loaded into a fixed model.  The first
 * byte picks one of two small models (a conv net with batch norm and a
 * linear one), its bits 1-2 the loader: the 1.x function, or the
 * experimental one strict, non-strict with the prefix "m.", or non-strict
 * skipping mis-shaped tensors (with a report); the rest is the file.  A load
 * is all or nothing: when it fails, every parameter, buffer and batch-norm
 * counter must be as before; the report's lists must be readable.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "nn/layers.h"
#include "nn/model_internal.h"
#include "nn/st_internal.h"

#define MAX_STATE 4096 /* values plus counters of the larger model */

static const struct {
    const char *spec;
    size_t ndim, shape[3];
} MODELS[2] = {
    {"conv:2:3:1:1,bn,relu,maxpool:2,flatten,linear:3,bn,linear:2", 3, {2, 4, 4}},
    {"linear:2,bn", 1, {3, 0, 0}},
};

static sslk_ctx *c;

static sslk_model *model(int k) {
    static sslk_model *m[2];
    if (!c) {
        if (sslk_ctx_create(&c) != SSLK_OK) return NULL;
        sslk_ctx_set_threads(c, 1);
        sslk_ctx_set_i64(c, SSLK_CTX_MAX_ALLOC_BYTES, (int64_t)16 << 20);
    }
    if (!m[k] && sslk_model_from_spec(c, MODELS[k].spec, MODELS[k].ndim, MODELS[k].shape, 3, &m[k]) != SSLK_OK)
        return NULL;
    return m[k];
}

/* Every value the loader may write, in a fixed order; the count stored. */
static size_t snapshot(sslk_model *m, double *out) {
    size_t np = 0, k = 0;
    sslk_model_param_count(m, &np);
    for (size_t i = 0; i < np; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        if (sslk_model_param(m, i, &v) != SSLK_OK || k + v.count > MAX_STATE) abort();
        for (size_t j = 0; j < v.count; j++) out[k++] = v.data[j];
    }
    ssli_layer *L[64];
    size_t nl = ssli_model_collect_layers(m, L, 64);
    for (size_t i = 0; i < nl && i < 64 && k < MAX_STATE; i++)
        if (L[i]->kind == SSLI_LAYER_BATCHNORM) out[k++] = (double)L[i]->num_batches_tracked;
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    sslk_model *m = model(data[0] & 1);
    if (!m) return 0;
    static double before[MAX_STATE], after[MAX_STATE];
    size_t nb = snapshot(m, before);
    /* a copy of exactly size - 1 bytes, so reads past the end are caught */
    unsigned char *buf = malloc(size - 1 ? size - 1 : 1);
    if (!buf) return 0;
    memcpy(buf, data + 1, size - 1);
    int mode = (data[0] >> 1) & 3;
    static sslk_load_report *rep;
    if (!rep && sslk_load_report_create(c, &rep) != SSLK_OK) abort();
    sslk_safetensors_options o;
    sslk_safetensors_options_init(&o);
    o.flags = mode == 2 ? SSLK_SAFETENSORS_NON_STRICT
                        : mode == 3 ? SSLK_SAFETENSORS_NON_STRICT | SSLK_SAFETENSORS_SKIP_MISMATCHED : 0;
    o.prefix = mode == 2 ? "m." : NULL;
    sslk_status st = mode == 0 ? ssli_model_load_safetensors_buffer(m, buf, size - 1, "fuzz.safetensors", "fuzz")
                               : ssli_st_load_buffer(m, buf, size - 1, "fuzz.safetensors", "fuzz", &o, rep, false);
    free(buf);
    for (int k = 0; mode && k < 4; k++) {
        size_t n = 0;
        const char *name;
        if (sslk_load_report_count(rep, k, &n) != SSLK_OK) abort();
        for (size_t i = 0; i < n; i++)
            if (sslk_load_report_name(rep, k, i, &name) != SSLK_OK || !name) abort();
    }
    if (st != SSLK_OK && (snapshot(m, after) != nb || memcmp(before, after, nb * sizeof(double)) != 0))
        abort(); /* a refused file changed the model */
    return 0;
}
