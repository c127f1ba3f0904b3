/* Named backbones of the spec grammar: torchvision's ResNet-18 / 34
 * (BasicBlock) and ResNet-50 (Bottleneck, stride on the 3x3 conv: "v1.5"),
 * built from ordinary layers (conv, bn, relu, max-pool, residual blocks,
 * gap, linear) and named with torchvision's module paths so that tensors are
 * "conv1.weight", "layer2.0.downsample.1.running_var", "fc.bias".
 *
 * Token: resnet{18,34,50} followed by options, each after a '-':
 *   wK        every width times K (SimCLR's ResNet-50 x2 is resnet50-w2)
 *   cifar     3x3 stride-1 stem with padding 1 and no max-pool
 *   pad2      with cifar: the stem's padding is 2 (solo-learn)
 *   headless  no fc: the output is the pooled feature vector
 *   fcN       fc with N outputs (default 1000)
 *   zeroinit  last batch-norm gamma of every block starts at 0
 *             (torchvision's zero_init_residual)
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>

#include "nn/layers.h"

#define MAX_WIDTH 16
#define MAX_CLASSES ((size_t)1 << 24)

static bool opt_is(const char *o, size_t n, const char *name) {
    return n == strlen(name) && !memcmp(o, name, n);
}

/* Digits o[from..n) as a size in [1, max]. */
static bool opt_num(const char *o, size_t n, size_t from, size_t max, size_t *out) {
    if (n <= from || n - from > 9) return false;
    size_t v = 0;
    for (size_t i = from; i < n; i++) {
        if (o[i] < '0' || o[i] > '9') return false;
        v = v * 10 + (size_t)(o[i] - '0');
    }
    if (v == 0 || v > max) return false;
    *out = v;
    return true;
}

bool ssli_backbone_parse(const char *tok, size_t len, ssli_backbone *bb, const char **bad) {
    memset(bb, 0, sizeof *bb);
    bb->width = 1;
    bb->classes = 1000;
    size_t i = 6; /* after "resnet" */
    size_t d0 = i;
    while (i < len && tok[i] >= '0' && tok[i] <= '9') i++;
    if (opt_is(tok + d0, i - d0, "18")) bb->depth = 18;
    else if (opt_is(tok + d0, i - d0, "34")) bb->depth = 34;
    else if (opt_is(tok + d0, i - d0, "50")) bb->depth = 50;
    else {
        *bad = "unknown backbone (resnet18, resnet34, resnet50) in";
        return false;
    }
    bool seen_w = false, seen_fc = false, pad2 = false;
    while (i < len) {
        if (tok[i] != '-') {
            *bad = "malformed backbone (options follow '-') in";
            return false;
        }
        size_t o0 = ++i;
        while (i < len && tok[i] != '-') i++;
        const char *o = tok + o0;
        size_t n = i - o0;
        bool dup = false;
        if (opt_is(o, n, "cifar")) {
            dup = bb->cifar != 0;
            bb->cifar = 1;
        } else if (opt_is(o, n, "pad2")) {
            dup = pad2;
            pad2 = true;
        } else if (opt_is(o, n, "headless")) {
            dup = bb->headless;
            bb->headless = true;
        } else if (opt_is(o, n, "zeroinit")) {
            dup = bb->zero_init;
            bb->zero_init = true;
        } else if (n > 1 && o[0] == 'w' && o[1] >= '0' && o[1] <= '9') {
            if (!opt_num(o, n, 1, MAX_WIDTH, &bb->width)) {
                *bad = "width multiplier out of [1, 16] in backbone";
                return false;
            }
            dup = seen_w;
            seen_w = true;
        } else if (n > 2 && o[0] == 'f' && o[1] == 'c') {
            if (!opt_num(o, n, 2, MAX_CLASSES, &bb->classes)) {
                *bad = "fc outputs out of [1, 16777216] in backbone";
                return false;
            }
            dup = seen_fc;
            seen_fc = true;
        } else {
            *bad = "unknown option (wK, cifar, pad2, headless, fcN, zeroinit) in backbone";
            return false;
        }
        if (dup) {
            *bad = "repeated option in backbone";
            return false;
        }
    }
    if (pad2 && !bb->cifar) {
        *bad = "option pad2 without cifar in backbone";
        return false;
    }
    if (bb->headless && seen_fc) {
        *bad = "options headless and fcN together in backbone";
        return false;
    }
    if (pad2) bb->cifar = 2;
    return true;
}

void ssli_backbone_token(const ssli_backbone *bb, char *buf, size_t cap) {
    int w = snprintf(buf, cap, "resnet%d", bb->depth);
    size_t n = w > 0 ? (size_t)w : 0;
#define ADD(...)                                                            \
    do {                                                                    \
        if (n < cap) {                                                      \
            int k_ = snprintf(buf + n, cap - n, __VA_ARGS__);               \
            if (k_ > 0) n += (size_t)k_;                                    \
        }                                                                   \
    } while (0)
    if (bb->width != 1) ADD("-w%zu", bb->width);
    if (bb->cifar) ADD("-cifar");
    if (bb->cifar == 2) ADD("-pad2");
    if (bb->headless) ADD("-headless");
    else if (bb->classes != 1000) ADD("-fc%zu", bb->classes);
    if (bb->zero_init) ADD("-zeroinit");
#undef ADD
}

/* ---- building ---------------------------------------------------------------- */

typedef struct builder {
    sslk_model *m;
    const ssli_backbone *bb;
} builder;

/* The layer just appended (the current sequence's last). */
static ssli_layer *last_layer(sslk_model *m) {
    ssli_seq *s = &m->top;
    if (m->nopen) {
        ssli_layer *R = m->open[m->nopen - 1];
        s = m->open_in_shortcut[m->nopen - 1] ? R->shortcut : R->body;
    }
    return &s->layers[s->n - 1];
}

/* Name the layer just added "<prefix>.<name>" (or "<name>") and set its
 * torchvision initialisation. */
static sslk_status finish(builder *B, const char *prefix, const char *name, bool zero_gamma) {
    ssli_layer *L = last_layer(B->m);
    char full[64];
    int w = prefix ? snprintf(full, sizeof full, "%s.%s", prefix, name) : snprintf(full, sizeof full, "%s", name);
    if (w < 0 || (size_t)w >= sizeof full) return ssli_err(SSLK_E_INTERNAL, "backbone: name too long");
    SSLI_TRY(ssli_layer_rename(L, full));
    L->tv_init = L->kind == SSLI_LAYER_CONV2D;
    L->zero_gamma = zero_gamma;
    if (!B->m->dry && (L->tv_init || zero_gamma)) ssli_layer_init(L, SSLK_INIT_PYTORCH, B->m->seed);
    return SSLK_OK;
}

static sslk_status conv(builder *B, const char *prefix, const char *name, size_t c, size_t k, size_t s,
                        size_t p) {
    SSLI_TRY(sslk_model_add_conv2d(B->m, c, k, s, p, 0));
    return finish(B, prefix, name, false);
}

static sslk_status bn(builder *B, const char *prefix, const char *name, bool last) {
    SSLI_TRY(sslk_model_add_batchnorm(B->m));
    return finish(B, prefix, name, last && B->bb->zero_init);
}

static sslk_status relu(builder *B, const char *prefix, const char *name) {
    SSLI_TRY(sslk_model_add_relu(B->m));
    return finish(B, prefix, name, false);
}

/* One block "layer<li>.<b>": body, optional downsample, relu after the add. */
static sslk_status block(builder *B, const char *pre, size_t inplanes, size_t planes, size_t stride,
                         size_t *outplanes) {
    const bool bottleneck = B->bb->depth == 50;
    const size_t out = bottleneck ? 4 * planes : planes;
    SSLI_TRY(sslk_model_residual_begin(B->m));
    SSLI_TRY(ssli_layer_rename(B->m->open[B->m->nopen - 1], pre)); /* its body is current now */
    if (bottleneck) {
        SSLI_TRY(conv(B, pre, "conv1", planes, 1, 1, 0));
        SSLI_TRY(bn(B, pre, "bn1", false));
        SSLI_TRY(relu(B, pre, "relu"));
        SSLI_TRY(conv(B, pre, "conv2", planes, 3, stride, 1));
        SSLI_TRY(bn(B, pre, "bn2", false));
        SSLI_TRY(relu(B, pre, "relu_1"));
        SSLI_TRY(conv(B, pre, "conv3", out, 1, 1, 0));
        SSLI_TRY(bn(B, pre, "bn3", true));
    } else {
        SSLI_TRY(conv(B, pre, "conv1", planes, 3, stride, 1));
        SSLI_TRY(bn(B, pre, "bn1", false));
        SSLI_TRY(relu(B, pre, "relu"));
        SSLI_TRY(conv(B, pre, "conv2", planes, 3, 1, 1));
        SSLI_TRY(bn(B, pre, "bn2", true));
    }
    if (stride != 1 || inplanes != out) {
        SSLI_TRY(sslk_model_residual_shortcut(B->m));
        SSLI_TRY(conv(B, pre, "downsample.0", out, 1, stride, 0));
        SSLI_TRY(bn(B, pre, "downsample.1", false));
    }
    SSLI_TRY(sslk_model_residual_end(B->m));
    SSLI_TRY(relu(B, pre, bottleneck ? "relu_2" : "relu_1"));
    *outplanes = out;
    return SSLK_OK;
}

sslk_status ssli_backbone_build(sslk_model *m, const ssli_backbone *bb) {
    static const size_t blocks[3][4] = {{2, 2, 2, 2}, {3, 4, 6, 3}, {3, 4, 6, 3}};
    const size_t *nb = blocks[bb->depth == 18 ? 0 : bb->depth == 34 ? 1 : 2];
    builder B = {m, bb};
    const size_t start = m->top.n, base = 64 * bb->width;
    if (bb->cifar)
        SSLI_TRY(conv(&B, NULL, "conv1", base, 3, 1, (size_t)bb->cifar));
    else
        SSLI_TRY(conv(&B, NULL, "conv1", base, 7, 2, 3));
    SSLI_TRY(bn(&B, NULL, "bn1", false));
    SSLI_TRY(relu(&B, NULL, "relu"));
    if (!bb->cifar) {
        SSLI_TRY(sslk_model_add_maxpool_pad(m, 3, 2, 1));
        SSLI_TRY(finish(&B, NULL, "maxpool", false));
    }
    size_t inplanes = base;
    for (size_t li = 0; li < 4; li++) {
        for (size_t b = 0; b < nb[li]; b++) {
            char pre[32];
            snprintf(pre, sizeof pre, "layer%zu.%zu", li + 1, b);
            SSLI_TRY(block(&B, pre, inplanes, base << li, b == 0 && li > 0 ? 2 : 1, &inplanes));
        }
    }
    SSLI_TRY(sslk_model_add_gap(m));
    SSLI_TRY(finish(&B, NULL, "avgpool", false));
    if (!bb->headless) {
        SSLI_TRY(sslk_model_add_linear(m, bb->classes, 1));
        SSLI_TRY(finish(&B, NULL, "fc", false));
    }
    m->bb = *bb;
    m->bb.start = start;
    m->bb.end = m->top.n;
    return SSLK_OK;
}
