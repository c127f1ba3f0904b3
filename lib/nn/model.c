/* The model handle: creation, layer builders (with residual blocks),
 * shapes, settings, forward / backward entry points, clone.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>

#include "core/par.h"
#include "nn/layers.h"

#define MAX_DIM ((size_t)1 << 24) /* any single size above this is refused as absurd */

static const ssli_setting_def model_defs[] = {
    {SSLK_MODEL_BN_MOMENTUM, "bn_momentum", SSLK_SETTING_F64, 0.0, 1.0, 0.1,
     "batch-norm running-stat update weight (PyTorch convention)"},
    {SSLK_MODEL_BN_EPS, "bn_eps", SSLK_SETTING_F64, 0.0, 1.0, 1e-5,
     "batch-norm epsilon added to the variance"},
    {SSLK_MODEL_SYNC_BN, "sync_bn", SSLK_SETTING_I64, 0, 1, 1,
     "1: train-mode batch-norm statistics over every rank of the context's collectives table (SyncBN)"},
};
const ssli_setting_table ssli_settings_model = {"model", model_defs,
                                                sizeof model_defs / sizeof model_defs[0], NULL};

static sslk_status check_model(const sslk_model *m, const char *fn) {
    if (!m) return ssli_err(SSLK_E_INVALID_ARG, "%s: argument 'm' is NULL", fn);
    return SSLK_OK;
}

sslk_status sslk_model_create(sslk_ctx *ctx, size_t ndim, const size_t *shape, uint64_t seed,
                              sslk_model **out) {
    static const char fn[] = "sslk_model_create";
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(shape, fn);
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    if (ndim != 1 && ndim != 3)
        return ssli_err(SSLK_E_SHAPE, "%s: 'ndim' must be 1 (D) or 3 (C, H, W), got %zu", fn, ndim);
    ssli_shape s = {shape[0], ndim == 3 ? shape[1] : 1, ndim == 3 ? shape[2] : 1, (int)ndim};
    if (s.c == 0 || s.h == 0 || s.w == 0)
        return ssli_err(SSLK_E_SHAPE, "%s: 'shape' has a zero size (%zu, %zu, %zu)", fn, s.c, s.h, s.w);
    if (s.c > MAX_DIM || s.h > MAX_DIM || s.w > MAX_DIM)
        return ssli_err(SSLK_E_RANGE, "%s: 'shape' (%zu, %zu, %zu) has a size above %zu", fn, s.c,
                        s.h, s.w, MAX_DIM);
    size_t numel;
    if (ssli_mul3_overflow(s.c, s.h, s.w, &numel) || numel > ((size_t)1 << 32))
        return ssli_err(SSLK_E_RANGE, "%s: input of %zu x %zu x %zu elements is too large", fn, s.c,
                        s.h, s.w);
    char what[96];
    snprintf(what, sizeof what, "one sample's input (%zu x %zu x %zu floats)", s.c, s.h, s.w);
    SSLI_TRY(ssli_check_limit(ctx, SSLK_CTX_MAX_ALLOC_BYTES, numel * sizeof(float), fn, what));
    sslk_model *m = ssli_calloc(ctx, 1, sizeof *m);
    if (!m) return ssli_alloc_status();
    m->ctx = ctx;
    m->seed = seed;
    m->top.in = m->top.out = s;
    ssli_setting_defaults(&ssli_settings_model, m->settings);
    m->views_dirty = true;
    *out = m;
    return SSLK_OK;
}

void ssli_layer_free(const sslk_ctx *ctx, ssli_layer *L) {
    ssli_free(ctx, L->weight);
    ssli_free(ctx, L->bias);
    ssli_free(ctx, L->gweight);
    ssli_free(ctx, L->gbias);
    ssli_free(ctx, L->running_mean);
    ssli_free(ctx, L->running_var);
    ssli_free(ctx, L->out_buf);
    ssli_free(ctx, L->aux);
    ssli_free(ctx, L->stat);
    ssli_free(ctx, L->pnames);
    if (L->body) {
        ssli_seq_free(ctx, L->body);
        ssli_free(ctx, L->body);
    }
    if (L->shortcut) {
        ssli_seq_free(ctx, L->shortcut);
        ssli_free(ctx, L->shortcut);
    }
    memset(L, 0, sizeof *L);
}

void ssli_seq_free(const sslk_ctx *ctx, ssli_seq *s) {
    for (size_t i = 0; i < s->n; i++) ssli_layer_free(ctx, &s->layers[i]);
    ssli_free(ctx, s->layers);
    ssli_free(ctx, s->gbuf[0]);
    ssli_free(ctx, s->gbuf[1]);
    memset(s, 0, sizeof *s);
}

void sslk_model_destroy(sslk_model *m) {
    if (!m) return;
    const sslk_ctx *ctx = m->ctx;
    ssli_seq_free(ctx, &m->top);
    ssli_free(ctx, m->in_buf);
    ssli_free(ctx, m->gy_buf);
    ssli_free(ctx, m->gx_buf);
    ssli_free(ctx, m->ws);
    for (int d = 0; d < SSLI_MODEL_MAX_DEPTH; d++)
        for (int b = 0; b < 3; b++) ssli_free(ctx, m->gpool[d][b]);
    ssli_free(ctx, m->views);
    ssli_free(ctx, m);
}

/* ---- building ------------------------------------------------------------ */

/* The sequence layers are currently appended to. */
static ssli_seq *current_seq(sslk_model *m) {
    if (m->nopen == 0) return &m->top;
    ssli_layer *R = m->open[m->nopen - 1];
    return m->open_in_shortcut[m->nopen - 1] ? R->shortcut : R->body;
}

/* Append a zeroed layer of a kind with input shape = the sequence's output. */
static sslk_status push_layer(sslk_model *m, ssli_layer_kind kind, const char *fn,
                              ssli_layer **out) {
    ssli_seq *s = current_seq(m);
    if (s->n == s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 8;
        ssli_layer *nl = ssli_calloc(m->ctx, nc, sizeof *nl);
        if (!nl) return ssli_alloc_status();
        if (s->n) memcpy(nl, s->layers, s->n * sizeof *nl);
        ssli_free(m->ctx, s->layers);
        s->layers = nl;
        s->cap = nc;
    }
    ssli_layer *L = &s->layers[s->n];
    memset(L, 0, sizeof *L);
    L->kind = kind;
    L->in = L->out = s->out;
    int w;
    if (m->nopen == 0 && m->bb.depth && s->n >= m->bb.end)
        w = snprintf(L->name, sizeof L->name, "head.%zu", s->n - m->bb.end); /* after a backbone */
    else if (m->nopen == 0)
        w = snprintf(L->name, sizeof L->name, "%zu", s->n);
    else
        w = snprintf(L->name, sizeof L->name, "%s.%s.%zu", m->open[m->nopen - 1]->name,
                     m->open_in_shortcut[m->nopen - 1] ? "shortcut" : "body", s->n);
    if (w < 0 || (size_t)w >= sizeof L->name)
        return ssli_err(SSLK_E_RANGE, "%s: layer name too long (nesting too deep)", fn);
    *out = L;
    return SSLK_OK;
}

static void set_pnames(ssli_layer *L) {
    static const char *const suffix[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int k = 0; k < 4; k++) snprintf(L->pnames[k], sizeof L->pnames[k], "%s.%s", L->name, suffix[k]);
}

sslk_status ssli_layer_rename(ssli_layer *L, const char *name) {
    /* tensor names add at most ".running_mean" (13) to the layer name */
    if (strlen(name) >= sizeof L->name || strlen(name) + 14 > sizeof L->pnames[0])
        return ssli_err(SSLK_E_RANGE, "model: layer name '%s' is too long", name);
    snprintf(L->name, sizeof L->name, "%s", name);
    if (L->pnames) set_pnames(L);
    return SSLK_OK;
}

/* Allocate parameters of a pushed layer, initialise, and commit it. */
static sslk_status commit_layer(sslk_model *m, ssli_layer *L) {
    const sslk_ctx *c = m->ctx;
    size_t wc = m->dry ? 0 : L->weight_count, bc = m->dry ? 0 : L->bias_count;
    if (wc) {
        L->weight = ssli_malloc(c, wc, sizeof(float));
        L->gweight = ssli_calloc(c, wc, sizeof(float));
        if (!L->weight || !L->gweight) goto fail;
    }
    if (bc) {
        L->bias = ssli_malloc(c, bc, sizeof(float));
        L->gbias = ssli_calloc(c, bc, sizeof(float));
        if (!L->bias || !L->gbias) goto fail;
    }
    if (L->kind == SSLI_LAYER_BATCHNORM && !m->dry) {
        L->running_mean = ssli_malloc(c, L->in.c, sizeof(float));
        L->running_var = ssli_malloc(c, L->in.c, sizeof(float));
        L->stat = ssli_malloc(c, 6 * L->in.c, sizeof(double)); /* mean, inv std, 2 sums, 4c floats */
        if (!L->running_mean || !L->running_var || !L->stat) goto fail;
    }
    if (L->weight_count || L->bias_count) {
        L->pnames = ssli_malloc(c, 4, sizeof *L->pnames);
        if (!L->pnames) goto fail;
        set_pnames(L);
    }
    if (L->kind == SSLI_LAYER_RESIDUAL) {
        L->body = ssli_calloc(c, 1, sizeof(ssli_seq));
        if (!L->body) goto fail;
        L->body->in = L->body->out = L->in;
    }
    L->serial = m->layers_added++;
    if (!m->dry) ssli_layer_init(L, SSLK_INIT_PYTORCH, m->seed);
    ssli_seq *s = current_seq(m);
    s->n++;
    s->out = L->out;
    m->views_dirty = true;
    m->last_rows = 0;
    return SSLK_OK;
fail:;
    sslk_status st = ssli_alloc_status();
    ssli_layer_free(c, L);
    return st;
}

/* Every buffer of a layer is a multiple of its output: C*H*W and its bytes must
 * fit size_t (SSLK_E_OVERFLOW), and one sample's output must fit one
 * allocation of the context budget (SSLK_E_LIMIT), so that a spec cannot ask
 * for a model whose forward can never run. */
static sslk_status check_output(const sslk_model *m, ssli_shape s, const char *fn) {
    size_t numel, bytes;
    if (ssli_mul3_overflow(s.c, s.h, s.w, &numel) || ssli_mul_overflow(numel, sizeof(float), &bytes))
        return ssli_err(SSLK_E_OVERFLOW, "%s: an output of %zu x %zu x %zu values overflows size_t", fn,
                        s.c, s.h, s.w);
    char what[96];
    snprintf(what, sizeof what, "one sample's output (%zu x %zu x %zu floats)", s.c, s.h, s.w);
    return ssli_check_limit(m->ctx, SSLK_CTX_MAX_ALLOC_BYTES, bytes, fn, what);
}

/* A tensor of `count` elements of `elem` bytes against the budget, checked
 * before anything is allocated (also in the shape-only dry run). */
static sslk_status check_tensor(const sslk_model *m, size_t count, size_t elem, const char *fn,
                                const char *what) {
    size_t bytes;
    if (ssli_mul_overflow(count, elem, &bytes))
        return ssli_err(SSLK_E_OVERFLOW, "%s: %s overflows size_t", fn, what);
    return ssli_check_limit(m->ctx, SSLK_CTX_MAX_ALLOC_BYTES, bytes, fn, what);
}

static sslk_status check_size(size_t v, const char *fn, const char *arg) {
    if (v == 0) return ssli_err(SSLK_E_SHAPE, "%s: '%s' must be >= 1, got 0", fn, arg);
    if (v > MAX_DIM) return ssli_err(SSLK_E_RANGE, "%s: '%s' = %zu exceeds %zu", fn, arg, v, MAX_DIM);
    return SSLK_OK;
}

sslk_status sslk_model_add_linear(sslk_model *m, size_t out_features, int bias) {
    static const char fn[] = "sslk_model_add_linear";
    SSLI_TRY(check_model(m, fn));
    SSLI_TRY(check_size(out_features, fn, "out_features"));
    ssli_layer *L = NULL;
    SSLI_TRY(push_layer(m, SSLI_LAYER_LINEAR, fn, &L));
    size_t in = ssli_shape_numel(L->in);
    L->out = (ssli_shape){out_features, 1, 1, 1};
    SSLI_TRY(check_output(m, L->out, fn));
    char what[96];
    snprintf(what, sizeof what, "a weight of %zu x %zu floats", out_features, in);
    if (ssli_mul_overflow(out_features, in, &L->weight_count))
        return ssli_err(SSLK_E_OVERFLOW, "%s: %s overflows size_t", fn, what);
    SSLI_TRY(check_tensor(m, L->weight_count, sizeof(float), fn, what));
    L->bias_count = bias ? out_features : 0;
    return commit_layer(m, L);
}

sslk_status sslk_model_add_conv2d(sslk_model *m, size_t out_channels, size_t k, size_t stride,
                                  size_t padding, int bias) {
    static const char fn[] = "sslk_model_add_conv2d";
    SSLI_TRY(check_model(m, fn));
    SSLI_TRY(check_size(out_channels, fn, "out_channels"));
    SSLI_TRY(check_size(k, fn, "k"));
    SSLI_TRY(check_size(stride, fn, "stride"));
    if (padding > MAX_DIM) return ssli_err(SSLK_E_RANGE, "%s: 'padding' = %zu is absurd", fn, padding);
    ssli_layer *L = NULL;
    SSLI_TRY(push_layer(m, SSLI_LAYER_CONV2D, fn, &L));
    if (L->in.ndim != 3)
        return ssli_err(SSLK_E_SHAPE, "%s: conv2d needs an image input (C, H, W), got a vector of %zu",
                        fn, L->in.c);
    if (L->in.h + 2 * padding < k || L->in.w + 2 * padding < k)
        return ssli_err(SSLK_E_SHAPE, "%s: kernel %zu larger than the padded input %zu x %zu", fn, k,
                        L->in.h + 2 * padding, L->in.w + 2 * padding);
    L->kernel = k, L->stride = stride, L->pad = padding;
    L->out = (ssli_shape){out_channels, (L->in.h + 2 * padding - k) / stride + 1,
                          (L->in.w + 2 * padding - k) / stride + 1, 3};
    SSLI_TRY(check_output(m, L->out, fn));
    char what[128];
    snprintf(what, sizeof what, "a weight of %zu x %zu x %zu x %zu floats", out_channels, L->in.c, k, k);
    size_t ckk, ws, hw = L->out.h * L->out.w; /* hw fits: checked with the output */
    if (ssli_mul3_overflow(L->in.c, k, k, &ckk) || ssli_mul_overflow(out_channels, ckk, &L->weight_count))
        return ssli_err(SSLK_E_OVERFLOW, "%s: %s overflows size_t", fn, what);
    SSLI_TRY(check_tensor(m, L->weight_count, sizeof(float), fn, what));
    /* forward's workspace for one sample: im2col columns (C*K*K x HW) and the output */
    snprintf(what, sizeof what, "a workspace of (%zu + %zu) x %zu floats (im2col columns of one sample)",
             ckk, out_channels, hw);
    if (ckk > SIZE_MAX - out_channels || ssli_mul_overflow(ckk + out_channels, hw, &ws))
        return ssli_err(SSLK_E_OVERFLOW, "%s: %s overflows size_t", fn, what);
    SSLI_TRY(check_tensor(m, ws, sizeof(float), fn, what));
    L->bias_count = bias ? out_channels : 0;
    return commit_layer(m, L);
}

sslk_status sslk_model_add_batchnorm(sslk_model *m) {
    static const char fn[] = "sslk_model_add_batchnorm";
    SSLI_TRY(check_model(m, fn));
    ssli_layer *L = NULL;
    SSLI_TRY(push_layer(m, SSLI_LAYER_BATCHNORM, fn, &L));
    L->weight_count = L->bias_count = L->in.c;
    /* the largest per-channel block: mean, inv std, 2 sums, 4c floats (6c doubles) */
    SSLI_TRY(check_tensor(m, L->in.c, 6 * sizeof(double), fn, "batch-norm statistics"));
    return commit_layer(m, L);
}

static sslk_status add_simple(sslk_model *m, ssli_layer_kind kind, float slope, const char *fn) {
    SSLI_TRY(check_model(m, fn));
    ssli_layer *L = NULL;
    SSLI_TRY(push_layer(m, kind, fn, &L));
    L->slope = slope;
    return commit_layer(m, L);
}

sslk_status sslk_model_add_relu(sslk_model *m) {
    return add_simple(m, SSLI_LAYER_RELU, 0.0f, "sslk_model_add_relu");
}

sslk_status sslk_model_add_leaky_relu(sslk_model *m, double slope) {
    static const char fn[] = "sslk_model_add_leaky_relu";
    if (!(slope >= -1e3 && slope <= 1e3))
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'slope' = %g must be finite and in [-1e3, 1e3]", fn,
                        slope);
    return add_simple(m, SSLI_LAYER_LEAKY_RELU, (float)slope, fn);
}

sslk_status sslk_model_add_abs(sslk_model *m) {
    return add_simple(m, SSLI_LAYER_ABS, 0.0f, "sslk_model_add_abs");
}

static sslk_status add_pool(sslk_model *m, ssli_layer_kind kind, size_t k, size_t stride,
                            size_t pad, const char *fn) {
    SSLI_TRY(check_model(m, fn));
    SSLI_TRY(check_size(k, fn, "k"));
    if (stride == 0) stride = k;
    SSLI_TRY(check_size(stride, fn, "stride"));
    /* PyTorch's rule: every window keeps at least one real value */
    if (pad > k / 2)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'padding' = %zu exceeds half the window (%zu)", fn, pad, k);
    ssli_layer *L = NULL;
    SSLI_TRY(push_layer(m, kind, fn, &L));
    if (L->in.ndim != 3)
        return ssli_err(SSLK_E_SHAPE, "%s: pooling needs an image input (C, H, W), got a vector of %zu",
                        fn, L->in.c);
    if (L->in.h + 2 * pad < k || L->in.w + 2 * pad < k)
        return ssli_err(SSLK_E_SHAPE, "%s: window %zu larger than the padded input %zu x %zu", fn, k,
                        L->in.h + 2 * pad, L->in.w + 2 * pad);
    /* max-pool keeps the winner's index in its plane as an int32 */
    if (kind == SSLI_LAYER_MAXPOOL && L->in.h * L->in.w > (size_t)INT32_MAX)
        return ssli_err(SSLK_E_RANGE, "%s: an input plane of %zu x %zu values exceeds 2^31 - 1", fn,
                        L->in.h, L->in.w);
    L->kernel = k, L->stride = stride, L->pad = pad;
    L->out = (ssli_shape){L->in.c, (L->in.h + 2 * pad - k) / stride + 1, (L->in.w + 2 * pad - k) / stride + 1, 3};
    return commit_layer(m, L);
}

sslk_status sslk_model_add_maxpool(sslk_model *m, size_t k, size_t stride) {
    return add_pool(m, SSLI_LAYER_MAXPOOL, k, stride, 0, "sslk_model_add_maxpool");
}

sslk_status sslk_model_add_maxpool_pad(sslk_model *m, size_t k, size_t stride, size_t padding) {
    return add_pool(m, SSLI_LAYER_MAXPOOL, k, stride, padding, "sslk_model_add_maxpool_pad");
}

sslk_status sslk_model_add_avgpool(sslk_model *m, size_t k, size_t stride) {
    return add_pool(m, SSLI_LAYER_AVGPOOL, k, stride, 0, "sslk_model_add_avgpool");
}

sslk_status sslk_model_add_adaptive_avgpool(sslk_model *m, size_t out_h, size_t out_w) {
    static const char fn[] = "sslk_model_add_adaptive_avgpool";
    SSLI_TRY(check_model(m, fn));
    SSLI_TRY(check_size(out_h, fn, "out_h"));
    SSLI_TRY(check_size(out_w, fn, "out_w"));
    ssli_layer *L = NULL;
    SSLI_TRY(push_layer(m, SSLI_LAYER_ADAPTIVE_AVGPOOL, fn, &L));
    if (L->in.ndim != 3)
        return ssli_err(SSLK_E_SHAPE, "%s: pooling needs an image input (C, H, W), got a vector of %zu",
                        fn, L->in.c);
    L->out = (ssli_shape){L->in.c, out_h, out_w, 3};
    SSLI_TRY(check_output(m, L->out, fn));
    return commit_layer(m, L);
}

sslk_status sslk_model_add_gap(sslk_model *m) {
    static const char fn[] = "sslk_model_add_gap";
    SSLI_TRY(check_model(m, fn));
    ssli_layer *L = NULL;
    SSLI_TRY(push_layer(m, SSLI_LAYER_GAP, fn, &L));
    if (L->in.ndim != 3)
        return ssli_err(SSLK_E_SHAPE, "%s: gap needs an image input (C, H, W), got a vector of %zu",
                        fn, L->in.c);
    L->out = (ssli_shape){L->in.c, 1, 1, 1};
    return commit_layer(m, L);
}

sslk_status sslk_model_add_flatten(sslk_model *m) {
    static const char fn[] = "sslk_model_add_flatten";
    SSLI_TRY(check_model(m, fn));
    ssli_layer *L = NULL;
    SSLI_TRY(push_layer(m, SSLI_LAYER_FLATTEN, fn, &L));
    L->out = (ssli_shape){ssli_shape_numel(L->in), 1, 1, 1};
    return commit_layer(m, L);
}

sslk_status sslk_model_residual_begin(sslk_model *m) {
    static const char fn[] = "sslk_model_residual_begin";
    SSLI_TRY(check_model(m, fn));
    if (m->nopen >= SSLI_MODEL_MAX_DEPTH)
        return ssli_err(SSLK_E_RANGE, "%s: more than %d nested residual blocks", fn,
                        SSLI_MODEL_MAX_DEPTH);
    ssli_layer *L = NULL;
    SSLI_TRY(push_layer(m, SSLI_LAYER_RESIDUAL, fn, &L));
    SSLI_TRY(commit_layer(m, L));
    m->open[m->nopen] = L;
    m->open_in_shortcut[m->nopen] = 0;
    m->nopen++;
    return SSLK_OK;
}

sslk_status sslk_model_residual_shortcut(sslk_model *m) {
    static const char fn[] = "sslk_model_residual_shortcut";
    SSLI_TRY(check_model(m, fn));
    if (m->nopen == 0) return ssli_err(SSLK_E_STATE, "%s: no residual block is open", fn);
    if (m->open_in_shortcut[m->nopen - 1])
        return ssli_err(SSLK_E_STATE, "%s: the open block is already in its shortcut", fn);
    ssli_layer *R = m->open[m->nopen - 1];
    R->shortcut = ssli_calloc(m->ctx, 1, sizeof(ssli_seq));
    if (!R->shortcut) return ssli_alloc_status();
    R->shortcut->in = R->shortcut->out = R->in;
    m->open_in_shortcut[m->nopen - 1] = 1;
    return SSLK_OK;
}

static bool same_shape(ssli_shape a, ssli_shape b) {
    return a.c == b.c && a.h == b.h && a.w == b.w && a.ndim == b.ndim;
}

sslk_status sslk_model_residual_end(sslk_model *m) {
    static const char fn[] = "sslk_model_residual_end";
    SSLI_TRY(check_model(m, fn));
    if (m->nopen == 0) return ssli_err(SSLK_E_STATE, "%s: no residual block is open", fn);
    ssli_layer *R = m->open[m->nopen - 1];
    ssli_shape sb = R->body->out, ss = R->shortcut ? R->shortcut->out : R->in;
    if (!same_shape(sb, ss))
        return ssli_err(SSLK_E_SHAPE,
                        "%s: block '%s' body output (%zu, %zu, %zu) differs from its shortcut "
                        "output (%zu, %zu, %zu)",
                        fn, R->name, sb.c, sb.h, sb.w, ss.c, ss.h, ss.w);
    if (R->shortcut && R->shortcut->n == 0) { /* empty shortcut = identity */
        ssli_seq_free(m->ctx, R->shortcut);
        ssli_free(m->ctx, R->shortcut);
        R->shortcut = NULL;
    }
    R->out = sb;
    m->nopen--;
    ssli_seq *s = current_seq(m);
    s->out = R->out;
    m->views_dirty = true;
    m->last_rows = 0;
    return SSLK_OK;
}

/* ---- settings, shapes ------------------------------------------------------ */

static sslk_status model_put(sslk_model *m, int key, double v, sslk_setting_type as, const char *fn) {
    SSLI_TRY(check_model(m, fn));
    return ssli_setting_set(&ssli_settings_model, m->settings, key, v, as, fn);
}

static sslk_status model_read(const sslk_model *m, int key, double *v, const char *fn) {
    SSLI_TRY(check_model(m, fn));
    return ssli_setting_get(&ssli_settings_model, m->settings, key, v, fn);
}

SSLI_SETTINGS_ACCESSORS(sslk_model, sslk_model, model_put, model_read)

static void put_shape(ssli_shape s, size_t *ndim, size_t shape[3]) {
    *ndim = (size_t)s.ndim;
    shape[0] = s.c;
    if (s.ndim == 3) shape[1] = s.h, shape[2] = s.w;
}

sslk_status sslk_model_input_shape(const sslk_model *m, size_t *ndim, size_t shape[3]) {
    SSLI_TRY(check_model(m, "sslk_model_input_shape"));
    SSLI_CHECK_PTR(ndim, "sslk_model_input_shape");
    SSLI_CHECK_PTR(shape, "sslk_model_input_shape");
    put_shape(m->top.in, ndim, shape);
    return SSLK_OK;
}

sslk_status sslk_model_output_shape(const sslk_model *m, size_t *ndim, size_t shape[3]) {
    SSLI_TRY(check_model(m, "sslk_model_output_shape"));
    SSLI_CHECK_PTR(ndim, "sslk_model_output_shape");
    SSLI_CHECK_PTR(shape, "sslk_model_output_shape");
    put_shape(m->top.out, ndim, shape);
    return SSLK_OK;
}

sslk_status sslk_model_io_size(const sslk_model *m, size_t *in_numel, size_t *out_numel) {
    SSLI_TRY(check_model(m, "sslk_model_io_size"));
    if (in_numel) *in_numel = ssli_shape_numel(m->top.in);
    if (out_numel) *out_numel = ssli_shape_numel(m->top.out);
    return SSLK_OK;
}

void ssli_model_set_hook(sslk_model *m, const ssli_model_hook *hook) {
    m->hook = hook;
    m->last_rows = 0;
}

/* ---- running ------------------------------------------------------------- */

sslk_status sslk_model_forward(sslk_model *m, const float *x, size_t n, float *y, sslk_mode mode) {
    static const char fn[] = "sslk_model_forward";
    SSLI_TRY(check_model(m, fn));
    SSLI_CHECK_PTR(x, fn);
    SSLI_CHECK_PTR(y, fn);
    if (m->nopen) return ssli_err(SSLK_E_STATE, "%s: %d residual block(s) still open", fn, m->nopen);
    if (mode != SSLK_MODE_EVAL && mode != SSLK_MODE_TRAIN)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'mode' = %d is not a sslk_mode", fn, (int)mode);
    if (n == 0) return ssli_err(SSLK_E_SHAPE, "%s: 'n' must be >= 1", fn);
    const size_t in = ssli_shape_numel(m->top.in), out = ssli_shape_numel(m->top.out);
    const size_t extra = m->hook ? m->hook->extra_rows : 0;
    if (n > SIZE_MAX - extra) return ssli_err(SSLK_E_OVERFLOW, "%s: 'n' = %zu overflows", fn, n);
    const size_t rows = n + extra;
    size_t bytes;
    if (ssli_mul3_overflow(rows, in, sizeof(float), &bytes))
        return ssli_err(SSLK_E_OVERFLOW, "%s: batch of %zu x %zu floats overflows", fn, rows, in);
    m->last_rows = 0;
    SSLI_TRY(ssli_nn_grow(m->ctx, (void **)&m->in_buf, &m->in_cap, bytes));
    /* check and copy in one threaded pass (issue 16: a serial share of the step) */
    SSLI_TRY(ssli_par_check_finite(m->ctx, x, n, in, m->in_buf, fn, "x"));
    if (extra) memcpy(m->in_buf + n * in, m->hook->extra_input, extra * in * sizeof(float));
    const float *res;
    m->last_mode = mode;
    SSLI_TRY(ssli_seq_forward(m, &m->top, m->in_buf, rows, n, mode, &res));
    ssli_par_copy(m->ctx, y, res, n * out);
    m->last_n = n;
    m->last_rows = rows;
    return SSLK_OK;
}

sslk_status sslk_model_backward(sslk_model *m, const float *grad_out, float *grad_in) {
    static const char fn[] = "sslk_model_backward";
    SSLI_TRY(check_model(m, fn));
    SSLI_CHECK_PTR(grad_out, fn);
    if (m->last_rows == 0)
        return ssli_err(SSLK_E_STATE, "%s: no forward pass to back-propagate (call sslk_model_forward)", fn);
    const size_t n = m->last_n, rows = m->last_rows;
    const size_t in = ssli_shape_numel(m->top.in), out = ssli_shape_numel(m->top.out);
    SSLI_TRY(ssli_nn_grow(m->ctx, (void **)&m->gy_buf, &m->gy_cap, rows * out * sizeof(float)));
    SSLI_TRY(ssli_par_check_finite(m->ctx, grad_out, n, out, m->gy_buf, fn, "grad_out"));
    if (rows > n) memset(m->gy_buf + n * out, 0, (rows - n) * out * sizeof(float));
    float *gx = NULL;
    if (grad_in) {
        if (rows == n) {
            gx = grad_in;
        } else {
            SSLI_TRY(ssli_nn_grow(m->ctx, (void **)&m->gx_buf, &m->gx_cap, rows * in * sizeof(float)));
            gx = m->gx_buf;
        }
    }
    SSLI_TRY(ssli_seq_backward(m, &m->top, m->in_buf, m->gy_buf, rows, n, gx));
    if (grad_in && gx != grad_in) ssli_par_copy(m->ctx, grad_in, gx, n * in);
    return SSLK_OK;
}

static void seq_zero_grad(ssli_seq *s) {
    for (size_t i = 0; i < s->n; i++) {
        ssli_layer *L = &s->layers[i];
        if (L->gweight) memset(L->gweight, 0, L->weight_count * sizeof(float));
        if (L->gbias) memset(L->gbias, 0, L->bias_count * sizeof(float));
        if (L->body) seq_zero_grad(L->body);
        if (L->shortcut) seq_zero_grad(L->shortcut);
    }
}

sslk_status sslk_model_zero_grad(sslk_model *m) {
    SSLI_TRY(check_model(m, "sslk_model_zero_grad"));
    seq_zero_grad(&m->top);
    return SSLK_OK;
}

/* Scalars (parameters and batch-norm buffers) a spec would allocate, computed
 * on a shape-only model: lets file readers compare against the bytes present
 * before allocating anything. */
sslk_status ssli_spec_scalars(sslk_ctx *ctx, const char *spec, size_t ndim, const size_t *shape,
                              size_t *count) {
    sslk_model *m;
    SSLI_TRY(sslk_model_create(ctx, ndim, shape, 0, &m));
    m->dry = true;
    sslk_status st = sslk_model_add_spec(m, spec);
    if (st == SSLK_OK) {
        size_t nl = ssli_model_collect_layers(m, NULL, 0), total = 0;
        ssli_layer **all = ssli_malloc(ctx, nl ? nl : 1, sizeof *all);
        if (!all) {
            st = ssli_alloc_status();
        } else {
            ssli_model_collect_layers(m, all, nl);
            for (size_t i = 0; i < nl; i++) {
                size_t t = all[i]->weight_count + all[i]->bias_count;
                if (all[i]->kind == SSLI_LAYER_BATCHNORM) t += 2 * all[i]->in.c;
                if (total > SIZE_MAX - t) total = SIZE_MAX; else total += t;
            }
            ssli_free(ctx, all);
            *count = total;
        }
    }
    sslk_model_destroy(m);
    return st;
}
