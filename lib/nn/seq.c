/* Forward and backward over a sequence of layers (recursing into residual
 * blocks), the constraint hook points, and buffer growth.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "nn/layers.h"

sslk_status ssli_nn_grow(const sslk_ctx *ctx, void **buf, size_t *cap, size_t bytes) {
    if (*buf && *cap >= bytes) return SSLK_OK;
    void *p = ssli_malloc(ctx, bytes ? bytes : 1, 1);
    if (!p) return ssli_alloc_status();
    ssli_free(ctx, *buf);
    *buf = p;
    *cap = bytes;
    return SSLK_OK;
}

sslk_status ssli_nn_scratch(sslk_model *m, size_t bytes, void **out) {
    SSLI_TRY(ssli_nn_grow(m->ctx, (void **)&m->ws, &m->ws_cap, bytes));
    *out = m->ws;
    return SSLK_OK;
}

bool ssli_seq_is_preact(const ssli_seq *s, size_t i) {
    ssli_layer_kind k = s->layers[i].kind;
    if (k != SSLI_LAYER_LINEAR && k != SSLI_LAYER_CONV2D && k != SSLI_LAYER_BATCHNORM) return false;
    return i + 1 >= s->n || s->layers[i + 1].kind != SSLI_LAYER_BATCHNORM;
}

/* A ReLU runs in place on the output of the layer before it (same sequence,
 * not a flatten): nothing reads that output after the ReLU has run (the hook
 * acts on it before; ReLU's backward tests x > 0, which the rectified values
 * answer alike), and a ResNet then keeps one copy per batch-norm, not two. */
static bool relu_in_place(const ssli_seq *s, size_t i) {
    return s->layers[i].kind == SSLI_LAYER_RELU && i > 0 && s->layers[i - 1].kind != SSLI_LAYER_FLATTEN;
}

/* Layer i is an in-place ReLU whose backward the batch-norm before it does
 * (masking by the rectified values in the batch-norm's buffer, layer_batchnorm.c):
 * not when a hook rewrites the gradient at the batch-norm's output, nor for SyncBN. */
static bool relu_fused_back(const sslk_model *m, const ssli_seq *s, size_t i) {
    return relu_in_place(s, i) && s->layers[i - 1].kind == SSLI_LAYER_BATCHNORM && !m->hook &&
           !ssli_batchnorm_synced(m, m->last_mode);
}

/* A residual block writes its sum over its body's output when the body ends in
 * a layer whose backward reads only its input (torchvision's "out += identity"):
 * one activation less per block. */
static bool residual_in_place(const ssli_layer *L) {
    if (L->kind != SSLI_LAYER_RESIDUAL || L->body->n == 0) return false;
    ssli_layer_kind k = L->body->layers[L->body->n - 1].kind;
    return k == SSLI_LAYER_CONV2D || k == SSLI_LAYER_BATCHNORM || k == SSLI_LAYER_LINEAR;
}

/* The buffer holding a (non-flatten, not in-place ReLU) layer's output. */
static float *own_output(const ssli_layer *L) {
    return residual_in_place(L) ? L->body->layers[L->body->n - 1].out_buf : L->out_buf;
}

/* Output of layer i of the last forward (flatten passes its input through,
 * an in-place ReLU leaves it in its predecessor's buffer). */
static const float *layer_output(const ssli_seq *s, size_t i, const float *x) {
    for (;;) {
        if (s->layers[i].kind != SSLI_LAYER_FLATTEN && !relu_in_place(s, i)) return own_output(&s->layers[i]);
        if (i == 0) return x;
        i--;
    }
}

static sslk_status grow_rows(const sslk_ctx *ctx, float **buf, size_t *cap, size_t rows,
                             size_t numel) {
    size_t bytes;
    if (ssli_mul3_overflow(rows, numel, sizeof(float), &bytes))
        return ssli_err(SSLK_E_OVERFLOW, "model: buffer of %zu x %zu floats overflows", rows, numel);
    return ssli_nn_grow(ctx, (void **)buf, cap, bytes);
}

sslk_status ssli_seq_forward(sslk_model *m, ssli_seq *s, const float *x, size_t rows, size_t nstat,
                             sslk_mode mode, const float **y) {
    const float *cur = x;
    if (s == &m->top) m->cols_used = 0; /* a new forward: the column cache budget starts over */
    bool fused = false; /* the previous batch-norm already applied this ReLU */
    for (size_t i = 0; i < s->n; i++) {
        ssli_layer *L = &s->layers[i];
        if (L->kind == SSLI_LAYER_FLATTEN) continue;
        if (fused) {
            fused = false;
            continue;
        }
        if (relu_in_place(s, i)) {
            float *h = (float *)(uintptr_t)cur; /* the previous layer's own buffer */
            ssli_act_forward(m, L, cur, rows, h);
            continue;
        }
        if (!residual_in_place(L))
            SSLI_TRY(grow_rows(m->ctx, &L->out_buf, &L->out_cap, rows, ssli_shape_numel(L->out)));
        switch (L->kind) {
        case SSLI_LAYER_LINEAR: ssli_linear_forward(m, L, cur, rows); break;
        case SSLI_LAYER_CONV2D: SSLI_TRY(ssli_conv2d_forward(m, L, cur, rows)); break;
        case SSLI_LAYER_BATCHNORM:
            /* fuse with an in-place ReLU after it unless the hook must see the values before it */
            fused = i + 1 < s->n && relu_in_place(s, i + 1) && !(m->hook && m->hook->forward);
            if (ssli_batchnorm_synced(m, mode)) SSLI_TRY(ssli_batchnorm_forward_sync(m, L, cur, rows, nstat, fused));
            else SSLI_TRY(ssli_batchnorm_forward(m, L, cur, rows, nstat, mode, fused));
            break;
        case SSLI_LAYER_RELU:
        case SSLI_LAYER_LEAKY_RELU:
        case SSLI_LAYER_ABS: ssli_act_forward(m, L, cur, rows, L->out_buf); break;
        case SSLI_LAYER_MAXPOOL:
        case SSLI_LAYER_AVGPOOL:
        case SSLI_LAYER_ADAPTIVE_AVGPOOL:
        case SSLI_LAYER_GAP: SSLI_TRY(ssli_pool_forward(m, L, cur, rows)); break;
        case SSLI_LAYER_RESIDUAL:
            SSLI_TRY(ssli_residual_forward(m, L, cur, rows, nstat, mode));
            break;
        default: return ssli_err(SSLK_E_INTERNAL, "model: unknown layer kind %d", (int)L->kind);
        }
        if (m->hook && m->hook->forward && ssli_seq_is_preact(s, i))
            SSLI_TRY(m->hook->forward(m->hook->user, (const void *)L, L->out_buf, nstat, rows - nstat,
                                      ssli_shape_numel(L->out)));
        cur = own_output(L);
    }
    *y = cur;
    return SSLK_OK;
}

static sslk_status residual_backward(sslk_model *m, ssli_layer *L, const float *x, float *gy, size_t rows,
                                     size_t nstat, float *gx, int depth);

/* depth: nesting of s (0 = the model's top sequence).  Sequences inside
 * residual blocks take their ping-pong buffers from the model's pool for
 * their depth: one pair per depth instead of one per block. */
static sslk_status seq_backward(sslk_model *m, ssli_seq *s, const float *x, float *gy, size_t rows,
                                size_t nstat, float *gx, int depth) {
    if (s->n == 0) {
        if (gx) memcpy(gx, gy, rows * ssli_shape_numel(s->in) * sizeof(float));
        return SSLK_OK;
    }
    size_t maxin = 0;
    for (size_t i = 1; i < s->n; i++) {
        size_t k = ssli_shape_numel(s->layers[i].in);
        if (k > maxin) maxin = k;
    }
    float **gb = depth == 0 ? s->gbuf : m->gpool[depth - 1];
    size_t *gc = depth == 0 ? s->gcap : m->gpool_cap[depth - 1];
    if (s->n > 1)
        for (int b = 0; b < 2; b++) SSLI_TRY(grow_rows(m->ctx, &gb[b], &gc[b], rows, maxin));
    float *gcur = gy;
    bool relu_after = false; /* layer i + 1 is a ReLU fused into layer i's backward */
    for (size_t i = s->n; i-- > 0;) {
        ssli_layer *L = &s->layers[i];
        const bool fuse = relu_after;
        relu_after = relu_fused_back(m, s, i);
        if (relu_after) continue; /* gcur passes on unmasked */
        const float *xin = i ? layer_output(s, i - 1, x) : x;
        if (m->hook && m->hook->backward && ssli_seq_is_preact(s, i))
            SSLI_TRY(m->hook->backward(m->hook->user, (const void *)L, gcur, nstat, rows - nstat,
                                       ssli_shape_numel(L->out)));
        float *t = i == 0 ? gx : (gcur == gb[0] ? gb[1] : gb[0]);
        if (L->kind == SSLI_LAYER_RELU && i > 0) t = gcur; /* the gradient is ours: mask it in place */
        switch (L->kind) {
        case SSLI_LAYER_LINEAR: ssli_linear_backward(m, L, xin, gcur, rows, t); break;
        case SSLI_LAYER_CONV2D: SSLI_TRY(ssli_conv2d_backward(m, L, xin, gcur, rows, t)); break;
        case SSLI_LAYER_BATCHNORM:
            if (ssli_batchnorm_synced(m, m->last_mode))
                SSLI_TRY(ssli_batchnorm_backward_sync(m, L, xin, gcur, rows, nstat, t));
            else
                SSLI_TRY(ssli_batchnorm_backward(m, L, xin, gcur, rows, nstat, m->last_mode,
                                                 fuse ? L->out_buf : NULL, t));
            break;
        case SSLI_LAYER_RELU:
        case SSLI_LAYER_LEAKY_RELU:
        case SSLI_LAYER_ABS: ssli_act_backward(m, L, xin, gcur, rows, t); break;
        case SSLI_LAYER_MAXPOOL:
        case SSLI_LAYER_AVGPOOL:
        case SSLI_LAYER_ADAPTIVE_AVGPOOL:
        case SSLI_LAYER_GAP: ssli_pool_backward(m, L, gcur, rows, t); break;
        case SSLI_LAYER_FLATTEN:
            if (t) memcpy(t, gcur, rows * ssli_shape_numel(L->in) * sizeof(float));
            break;
        case SSLI_LAYER_RESIDUAL:
            SSLI_TRY(residual_backward(m, L, xin, gcur, rows, nstat, t, depth));
            break;
        default: return ssli_err(SSLK_E_INTERNAL, "model: unknown layer kind %d", (int)L->kind);
        }
        if (m->grad_ready && (L->weight || L->bias)) SSLI_TRY(m->grad_ready(m->grad_ready_user, L));
        if (!t) break; /* only layer 0 may have no target */
        gcur = t;
    }
    return SSLK_OK;
}

sslk_status ssli_seq_backward(sslk_model *m, ssli_seq *s, const float *x, float *gy, size_t rows,
                              size_t nstat, float *gx) {
    return seq_backward(m, s, x, gy, rows, nstat, gx, 0);
}

sslk_status ssli_residual_forward(sslk_model *m, ssli_layer *L, const float *x, size_t rows,
                                  size_t nstat, sslk_mode mode) {
    const float *yb, *ys = x;
    SSLI_TRY(ssli_seq_forward(m, L->body, x, rows, nstat, mode, &yb));
    if (L->shortcut) SSLI_TRY(ssli_seq_forward(m, L->shortcut, x, rows, nstat, mode, &ys));
    const size_t n = rows * ssli_shape_numel(L->out);
    float *y = own_output(L); /* may be yb itself: element-wise, in place is fine */
    int nt = ssli_threads(m->ctx);
#pragma omp parallel for num_threads(nt) schedule(static) if (n > SSLI_NN_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = yb[i] + ys[i];
    return SSLK_OK;
}

/* True when the body's backward leaves its output gradient untouched (no
 * hook rewrites it, its last layer writes a fresh buffer): the shortcut can
 * then read the same gradient without a copy. */
static bool body_keeps_gy(const sslk_model *m, const ssli_seq *body) {
    if (m->hook || body->n == 0) return false;
    ssli_layer_kind k = body->layers[body->n - 1].kind;
    return k == SSLI_LAYER_CONV2D || k == SSLI_LAYER_BATCHNORM || k == SSLI_LAYER_LINEAR;
}

static sslk_status residual_backward(sslk_model *m, ssli_layer *L, const float *x, float *gy, size_t rows,
                                     size_t nstat, float *gx, int depth) {
    if (depth >= SSLI_MODEL_MAX_DEPTH)
        return ssli_err(SSLK_E_INTERNAL, "model: residual nesting deeper than %d", SSLI_MODEL_MAX_DEPTH);
    const size_t on = rows * ssli_shape_numel(L->out), in = rows * ssli_shape_numel(L->in);
    /* scratch (shared by the blocks of this depth): [copy of gy for the body
     * unless it keeps gy | shortcut input gradient] */
    const bool keep = body_keeps_gy(m, L->body);
    size_t nfl = (keep ? 0 : on) + (L->shortcut && gx ? in : 0), bytes;
    if (ssli_mul_overflow(nfl, sizeof(float), &bytes))
        return ssli_err(SSLK_E_OVERFLOW, "model: residual scratch overflows");
    SSLI_TRY(ssli_nn_grow(m->ctx, (void **)&m->gpool[depth][2], &m->gpool_cap[depth][2], bytes));
    float *gyb = gy, *gxs = m->gpool[depth][2];
    if (!keep) {
        gyb = gxs;
        gxs += on;
        memcpy(gyb, gy, on * sizeof(float));
    }
    SSLI_TRY(seq_backward(m, L->body, x, gyb, rows, nstat, gx, depth + 1));
    int nt = ssli_threads(m->ctx);
    if (L->shortcut) {
        /* gy is ours to rewrite now: the body is done with it */
        SSLI_TRY(seq_backward(m, L->shortcut, x, gy, rows, nstat, gx ? gxs : NULL, depth + 1));
        if (gx) {
#pragma omp parallel for num_threads(nt) schedule(static) if (in > SSLI_NN_PAR_MIN)
            for (size_t i = 0; i < in; i++) gx[i] += gxs[i];
        }
    } else if (gx) {
#pragma omp parallel for num_threads(nt) schedule(static) if (in > SSLI_NN_PAR_MIN)
        for (size_t i = 0; i < in; i++) gx[i] += gy[i];
    }
    return SSLK_OK;
}
