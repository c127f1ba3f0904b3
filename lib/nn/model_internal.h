/* Internal model structure of lib/nn, also read by the trainer; the geometry
 * tools (SplineCam, POLICE) see models only through nn/walk.h.  Everything
 * here is internal (ssli_), never exported.
 *
 * A model is a tree of sequences: the top sequence holds layers; a residual
 * layer holds two child sequences (body, shortcut; shortcut NULL = identity)
 * and outputs body(x) + shortcut(x).  Shapes are (c, h, w) with ndim 1 for
 * vectors (h = w = 1) and 3 for images.  Buffers are row-major per sample:
 * a batch is rows x numel(shape), NCHW for images.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_NN_MODEL_INTERNAL_H
#define SSLKIT_NN_MODEL_INTERNAL_H

#include "nn/walk.h"

typedef enum ssli_layer_kind {
    SSLI_LAYER_LINEAR = 1,    /* y = x W^T + b, W out x in (image inputs flattened) */
    SSLI_LAYER_CONV2D = 2,    /* W cout x cin x k x k, stride, pad, bias cout or NULL */
    SSLI_LAYER_BATCHNORM = 3, /* weight = gamma, bias = beta (c), running_mean/var (c) */
    SSLI_LAYER_RELU = 4,
    SSLI_LAYER_LEAKY_RELU = 5, /* slope */
    SSLI_LAYER_ABS = 6,
    SSLI_LAYER_MAXPOOL = 7,   /* k, stride, pad (-inf padding), floor; ties -> first in window */
    SSLI_LAYER_AVGPOOL = 8,   /* k, stride, no padding, floor */
    SSLI_LAYER_GAP = 9,       /* (c, h, w) -> (c) */
    SSLI_LAYER_FLATTEN = 10,  /* (c, h, w) -> (c*h*w); data unchanged */
    SSLI_LAYER_RESIDUAL = 11, /* body(x) + shortcut(x) */
    SSLI_LAYER_ADAPTIVE_AVGPOOL = 12 /* (c, h, w) -> (c, out.h, out.w), PyTorch's bins */
} ssli_layer_kind;

typedef struct ssli_seq ssli_seq;

typedef struct ssli_layer {
    ssli_layer_kind kind;
    ssli_shape in, out;
    char name[64]; /* PyTorch module path, e.g. "3" or "2.body.0" */
    uint64_t serial; /* build-order index keying this layer's init stream */

    /* Parameters and their gradients (NULL when absent).  Linear: weight
     * out x in_numel; conv: cout x cin x k x k; batch-norm: gamma (c).
     * bias: linear/conv bias, batch-norm beta. */
    float *weight, *bias, *gweight, *gbias;
    size_t weight_count, bias_count;

    size_t kernel, stride, pad; /* conv2d and max-pool (kernel, stride, pad), avg-pool (kernel, stride) */
    float slope;                /* leaky-ReLU */

    /* Backbone layers (backbone_resnet.c): conv weights drawn as torchvision
     * does (kaiming normal, fan_out) under the default scheme; zero_gamma: the
     * last batch-norm of a block starts at gamma 0 (zero_init_residual). */
    bool tv_init, zero_gamma;

    /* Batch-norm buffers (c each); eps and momentum come from the model's settings. */
    float *running_mean, *running_var;
    int64_t num_batches_tracked;

    /* Tensor names "<name>.weight", ".bias", ".running_mean", ".running_var" in a
     * separate block so views handed out keep valid names when layers move. */
    char (*pnames)[80];

    /* Residual children. */
    ssli_seq *body, *shortcut;

    /* ---- per-call state (owned, grown to the largest rows seen) ---- */
    float *out_buf;   /* rows x numel(out): this layer's output of the last forward
                         (flatten has none: its output is its input) */
    size_t out_cap;   /* bytes */
    void *aux;        /* maxpool: argmax (rows x numel(out) int32); conv2d: cached
                         columns; residual: gradient scratch */
    size_t aux_cap;   /* bytes */
    size_t cols_rows, cols_chunk; /* conv2d: aux holds the forward's columns of this many rows in
                                     chunks of cols_chunk samples (0: none; layer_conv2d.c) */
    double *stat;     /* batch-norm: mean, inv_std of the last forward, 2 backward sums,
                         4c floats of per-channel constants (6c doubles) */
} ssli_layer;

struct ssli_seq {
    ssli_layer *layers;
    size_t n, cap;
    ssli_shape in, out; /* out = last layer's out (in when empty) */
    float *gbuf[2];     /* backward ping-pong gradient buffers */
    size_t gcap[2];     /* bytes */
};

/* The pre-activation hook (ssli_model_hook) is declared in nn/walk.h. */

#define SSLI_MODEL_MAX_DEPTH 16 /* nesting of open residual blocks */

/* A named backbone expanded at the top level (backbone_resnet.c): the
 * options of its spec token and the top-level layers it spans. */
typedef struct ssli_backbone {
    int depth;        /* 18, 34, 50; 0 = the model has no backbone */
    size_t width;     /* width multiplier (1, 2, ...) */
    int cifar;        /* 0: 7x7/2 stem + max-pool; 1 or 2: 3x3/1 stem with that padding, no max-pool */
    bool headless;    /* no fc */
    size_t classes;   /* fc outputs */
    bool zero_init;   /* zero_init_residual */
    size_t start, end; /* top-level layers [start, end) */
} ssli_backbone;

struct sslk_model {
    sslk_ctx *ctx;
    uint64_t seed;
    uint64_t layers_added; /* counter keying the init stream of each new layer */
    ssli_seq top;
    double settings[3]; /* indexed like ssli_settings_model */

    ssli_backbone bb; /* bb.depth == 0: none; layers after it are named "head.<j>" */

    /* builder state: open residual blocks (path of layers being filled) */
    ssli_layer *open[SSLI_MODEL_MAX_DEPTH];
    int open_in_shortcut[SSLI_MODEL_MAX_DEPTH];
    int nopen;

    /* last forward */
    float *in_buf; /* rows x in_numel copy of the input (+ hook rows) */
    size_t in_cap; /* bytes, like every *_cap below */
    float *gy_buf, *gx_buf; /* backward: output gradient (+ zero hook rows), input gradient */
    size_t gy_cap, gx_cap;
    size_t last_n, last_rows; /* caller rows, total rows (n + extra); 0 = no forward yet */
    sslk_mode last_mode;

    const ssli_model_hook *hook; /* NULL: none (nn/walk.h) */
    /* backward: called once a layer's parameter gradients are final (nn/walk.h) */
    sslk_status (*grad_ready)(void *user, const void *key);
    void *grad_ready_user;

    float *ws; /* shared scratch (im2col columns, per-thread partial sums) */
    bool cols_cache;  /* conv layers keep their forward columns (off by default; layer_conv2d.c) */
    size_t cols_used; /* bytes of conv column caches kept by the current forward (layer_conv2d.c) */
    size_t ws_cap; /* bytes */
    /* backward scratch of residual children, one set per nesting depth (a block's
     * backward finishes before the next block's starts): ping-pong gradients
     * of the sequences at depth d + 1, and the residual's own gradient scratch */
    float *gpool[SSLI_MODEL_MAX_DEPTH][3];
    size_t gpool_cap[SSLI_MODEL_MAX_DEPTH][3]; /* bytes */

    /* cached parameter table (rebuilt when layers change) */
    sslk_param_view *views;
    size_t nviews;
    bool views_dirty;

    bool dry; /* shape-only model (file loading checks sizes before allocating) */
};

extern const ssli_setting_table ssli_settings_model;
#define SSLI_MODEL_S_BN_MOMENTUM 0
#define SSLI_MODEL_S_BN_EPS 1
#define SSLI_MODEL_S_SYNC_BN 2 /* issue 17 */

/* ---- accessors for other layers ------------------------------------------ */
/* Top-level layers (residual layers expose their children through body/shortcut). */
static inline size_t ssli_model_nlayers(const sslk_model *m) { return m->top.n; }
static inline ssli_layer *ssli_model_layer(const sslk_model *m, size_t i) {
    return i < m->top.n ? &m->top.layers[i] : NULL;
}
static inline const ssli_seq *ssli_model_top(const sslk_model *m) { return &m->top; }
static inline double ssli_model_bn_eps(const sslk_model *m) { return m->settings[SSLI_MODEL_S_BN_EPS]; }

/* True when the layer at index i of seq is a pre-activation point (nn/walk.h). */
bool ssli_seq_is_preact(const ssli_seq *s, size_t i);

/* Index of the first negative value of a batch-norm running variance view,
 * SIZE_MAX when none (or the view is another tensor); every file loader
 * (.sslk, safetensors, trainer checkpoints) refuses it. */
size_t ssli_param_negative_var(const sslk_param_view *v);

/* The file loaders' parsers on a whole file already in memory (path and fn
 * only name it in messages); the fuzz targets call them directly.  The buffer
 * stays the caller's. */
sslk_status ssli_model_load_buffer(sslk_ctx *ctx, const unsigned char *buf, size_t sz, const char *path,
                                   const char *fn, sslk_model **out);
sslk_status ssli_model_load_safetensors_buffer(sslk_model *m, const unsigned char *buf, size_t sz,
                                               const char *path, const char *fn);

/* ---- internal building blocks (lib/nn) ------------------------------------ */
/* Parse a backbone token ("resnet18-cifar", ...) of length len; false when it
 * is not one (no error set).  *bad receives a reason when the name is a
 * backbone's but an option is malformed. */
bool ssli_backbone_parse(const char *tok, size_t len, ssli_backbone *bb, const char **bad);
/* Append the backbone's layers at the top level of m (no block open). */
sslk_status ssli_backbone_build(sslk_model *m, const ssli_backbone *bb);
/* Canonical token of a backbone into buf (cap >= 64). */
void ssli_backbone_token(const ssli_backbone *bb, char *buf, size_t cap);
/* Rename a layer (and its tensor names). */
sslk_status ssli_layer_rename(ssli_layer *L, const char *name);

sslk_status ssli_seq_forward(sslk_model *m, ssli_seq *s, const float *x, size_t rows, size_t nstat,
                             sslk_mode mode, const float **y);
/* gy may be modified in place when a hook is attached; gx may be NULL
 * (input gradient not needed: the first layer then skips it). */
sslk_status ssli_seq_backward(sslk_model *m, ssli_seq *s, const float *x, float *gy,
                              size_t rows, size_t nstat, float *gx);

#endif
