/* The layer table of a model (sslkit model info): name, kind, output shape,
 * own parameter count and FLOPs per image of each layer, depth first.
 * FLOPs: 2 x multiply-adds for linear and conv (bias adds not counted, the
 * convention of torchvision's GFLOPS x 2); batch-norm 2, activations 1 per
 * output value; pooling 1 per window element read; residual addition 1 per
 * output value; flatten 0.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "core/struct_sizes.h"
#include "nn/layers.h"

#define SSLI_V12_LAYER_INFO (offsetof(sslk_layer_info, flops) + sizeof(uint64_t))

static size_t numel(ssli_shape s) { return s.c * s.h * s.w; }

static const char *kind_name(ssli_layer_kind k) {
    switch (k) {
    case SSLI_LAYER_LINEAR: return "linear";
    case SSLI_LAYER_CONV2D: return "conv";
    case SSLI_LAYER_BATCHNORM: return "bn";
    case SSLI_LAYER_RELU: return "relu";
    case SSLI_LAYER_LEAKY_RELU: return "leaky_relu";
    case SSLI_LAYER_ABS: return "abs";
    case SSLI_LAYER_MAXPOOL: return "maxpool";
    case SSLI_LAYER_AVGPOOL: return "avgpool";
    case SSLI_LAYER_GAP: return "gap";
    case SSLI_LAYER_FLATTEN: return "flatten";
    case SSLI_LAYER_RESIDUAL: return "res";
    case SSLI_LAYER_ADAPTIVE_AVGPOOL: return "adaptive_avgpool";
    }
    return "?";
}

static uint64_t flops(const ssli_layer *L) {
    uint64_t out = numel(L->out);
    switch (L->kind) {
    case SSLI_LAYER_LINEAR: return 2 * (uint64_t)L->weight_count;
    case SSLI_LAYER_CONV2D: return 2 * out * (uint64_t)(L->weight_count / L->out.c);
    case SSLI_LAYER_BATCHNORM: return 2 * out;
    case SSLI_LAYER_RELU:
    case SSLI_LAYER_LEAKY_RELU:
    case SSLI_LAYER_ABS:
    case SSLI_LAYER_RESIDUAL: return out;
    case SSLI_LAYER_MAXPOOL:
    case SSLI_LAYER_AVGPOOL: return out * (uint64_t)L->kernel * L->kernel;
    case SSLI_LAYER_GAP:
    case SSLI_LAYER_ADAPTIVE_AVGPOOL: return numel(L->in); /* exact for non-overlapping bins (1x1) */
    case SSLI_LAYER_FLATTEN: return 0;
    }
    return 0;
}

static bool seq_holds(const ssli_seq *s, const ssli_layer *t) {
    if (!s) return false;
    for (size_t i = 0; i < s->n; i++) {
        const ssli_layer *L = &s->layers[i];
        if (L == t) return true;
        if (L->kind == SSLI_LAYER_RESIDUAL && (seq_holds(L->body, t) || seq_holds(L->shortcut, t))) return true;
    }
    return false;
}

/* Depth of layer t: the number of residual layers whose subtree holds it. */
static size_t depth_of(ssli_layer *const *all, size_t n, const ssli_layer *t) {
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        if (all[i]->kind == SSLI_LAYER_RESIDUAL && (seq_holds(all[i]->body, t) || seq_holds(all[i]->shortcut, t)))
            d++;
    return d;
}

sslk_status sslk_model_layer_count(const sslk_model *m, size_t *n) {
    static const char fn[] = "sslk_model_layer_count";
    SSLI_CHECK_PTR(m, fn);
    SSLI_CHECK_PTR(n, fn);
    *n = ssli_model_collect_layers((sslk_model *)m, NULL, 0);
    return SSLK_OK;
}

sslk_status sslk_model_layer_info(const sslk_model *m, size_t i, sslk_layer_info *info) {
    static const char fn[] = "sslk_model_layer_info";
    SSLI_CHECK_PTR(m, fn);
    SSLI_TRY(ssli_struct_check(info, SSLI_V12_LAYER_INFO, fn, "info"));
    sslk_model *mm = (sslk_model *)m;
    size_t n = ssli_model_collect_layers(mm, NULL, 0);
    if (i >= n) return ssli_err(SSLK_E_RANGE, "%s: layer %zu, the model has %zu", fn, i, n);
    ssli_layer **all = ssli_malloc(m->ctx, n, sizeof *all);
    if (!all) return ssli_alloc_status();
    ssli_model_collect_layers(mm, all, n);
    const ssli_layer *L = all[i];
    sslk_layer_info r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.name = L->name;
    r.kind = kind_name(L->kind);
    r.depth = depth_of(all, n, L);
    r.out_ndim = L->out.ndim;
    r.out_shape[0] = L->out.c;
    r.out_shape[1] = L->out.ndim == 3 ? L->out.h : 0;
    r.out_shape[2] = L->out.ndim == 3 ? L->out.w : 0;
    r.params = (L->weight ? L->weight_count : 0) + (L->bias ? L->bias_count : 0);
    r.flops = flops(L);
    ssli_free(m->ctx, all);
    ssli_struct_out(info, &r, sizeof r);
    return SSLK_OK;
}
