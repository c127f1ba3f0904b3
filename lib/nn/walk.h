/* Read-only walk over a model's layers, and the pre-activation hook: the
 * only view of a model that code outside lib/nn (SplineCam, POLICE) uses.
 *
 * A walk is one sequence of layers; a residual block is an ADD node whose
 * descriptor carries two nested walks (body, shortcut; a shortcut with
 * `identity` set adds the block's input).  Each layer is described by the
 * piecewise-linear operation it computes in evaluation mode, so a new layer
 * kind that reuses an operation (a padded max-pool, another pooling, a block)
 * needs no change outside lib/nn; a new operation needs one more case in the
 * CPWL binder (lib/geometry/model_bind.c).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_NN_WALK_H
#define SSLKIT_NN_WALK_H

#include "core/internal.h"
#include "sslkit/model.h"

typedef struct ssli_shape {
    size_t c, h, w;
    int ndim; /* 1 or 3 */
} ssli_shape;

static inline size_t ssli_shape_numel(ssli_shape s) { return s.c * s.h * s.w; }

/* What a layer computes in evaluation mode. */
typedef enum ssli_walk_op {
    SSLI_WALK_DENSE = 1,   /* y = W x + b, W out x numel(in) (images flattened) */
    SSLI_WALK_CONV = 2,    /* W out.c x in.c x k x k, stride, zero padding pad; bias out.c or NULL */
    SSLI_WALK_NORM = 3,    /* per channel (weight (x - mean) / sqrt(var + eps) + bias); weight/bias may be NULL */
    SSLI_WALK_UNIT = 4,    /* elementwise x > 0 ? pos x : neg x */
    SSLI_WALK_MAXPOOL = 5, /* window k, stride, pad (-inf padding), floor; ties -> first */
    SSLI_WALK_AVGPOOL = 6, /* window k, stride, no padding, floor */
    SSLI_WALK_GAP = 7,     /* (c, h, w) -> (c) mean */
    SSLI_WALK_RESHAPE = 8, /* data unchanged (flatten) */
    SSLI_WALK_ADD = 9,     /* body(x) + shortcut(x) */
    SSLI_WALK_ADAPTIVE = 10 /* adaptive average pooling with unequal bins (no CPWL op) */
} ssli_walk_op;

typedef struct ssli_walk {
    const void *seq; /* lib/nn's sequence; NULL = empty */
    const sslk_model *model;
} ssli_walk;

typedef struct ssli_walk_layer {
    ssli_walk_op op;
    const void *key;  /* stable identity of the layer: what the hook receives */
    const char *name; /* PyTorch module path, e.g. "3" or "2.body.0" */
    ssli_shape in, out;
    const float *weight, *bias; /* NULL when absent */
    size_t weight_count, bias_count;
    const float *mean, *var;    /* NORM: running statistics (in.c each) */
    double eps;                 /* NORM */
    size_t kernel, stride, pad; /* CONV and MAXPOOL (kernel, stride, pad), AVGPOOL (kernel, stride) */
    double neg, pos;            /* UNIT slopes */
    bool preact;                /* a pre-activation point: the hook acts on its output */
    ssli_walk body, shortcut;   /* ADD */
    bool identity;              /* ADD: the shortcut is the identity */
} ssli_walk_layer;

/* Name of the layer with this walk key (messages of hooks). */
const char *ssli_walk_key_name(const void *key);

/* The top-level sequence of m. */
ssli_walk ssli_model_walk(const sslk_model *m);
size_t ssli_walk_count(ssli_walk w);
/* Describe layer i (< ssli_walk_count) of w. */
void ssli_walk_get(ssli_walk w, size_t i, ssli_walk_layer *out);

const sslk_ctx *ssli_model_ctx(const sslk_model *m);
/* Residual blocks still open in the builder (a model is usable at 0). */
int ssli_model_open_blocks(const sslk_model *m);
ssli_shape ssli_model_in_shape(const sslk_model *m);
ssli_shape ssli_model_out_shape(const sslk_model *m);

/* ---- pre-activation hook ----------------------------------------------------
 * When a hook is attached, every forward runs rows = n + extra_rows rows:
 * the caller's n rows followed by extra_rows rows copied from extra_input
 * (extra_rows x in_numel, owned by the hook).  Batch-norm in train mode
 * computes its statistics over the first n rows only and normalises all rows
 * with them (the gradient of the extra rows flows into the statistics
 * exactly).  The extra rows of the output are dropped, and their output
 * gradient is zero in backward.
 *
 * Pre-activation points (walk descriptors with `preact`): the output of
 * every linear / conv2d / batch-norm layer that is NOT directly followed by
 * a batch-norm in its sequence (so "linear,bn,relu" is hooked once, after
 * bn).  At each such point:
 *   forward : forward(user, key, h, n, c, width) may modify h in place
 *             (h is (n + c) x width, width = numel of the layer's output);
 *   backward: backward(user, key, g, n, c, width) receives the gradient
 *             w.r.t. the hooked (shifted) output and must turn it, in place,
 *             into the gradient w.r.t. the unshifted pre-activation.
 * key is the layer's walk key (stable once the model is built); the hook
 * decides which layers it acts on.  A non-OK status aborts the pass and is
 * returned as is. */
typedef struct ssli_model_hook {
    size_t extra_rows;
    const float *extra_input;
    sslk_status (*forward)(void *user, const void *key, float *h, size_t n, size_t c, size_t width);
    sslk_status (*backward)(void *user, const void *key, float *g, size_t n, size_t c, size_t width);
    void *user;
} ssli_model_hook;

/* Attach (or with NULL detach) a hook; the struct must outlive the
 * attachment.  Invalidates the last forward. */
void ssli_model_set_hook(sslk_model *m, const ssli_model_hook *hook);
/* The attached hook, or NULL. */
const ssli_model_hook *ssli_model_hook_of(const sslk_model *m);

/* ---- gradient-ready callback (data-parallel overlap, issue 17) -----------
 * During sslk_model_backward, fn(user, key) runs on the calling thread right
 * after the backward of each layer that has trainable tensors (weight or
 * bias): from then on that layer's parameter gradients are final for this
 * backward.  Order: the reverse of the forward, a residual block's body
 * before its shortcut (the order of a walk visited last layer first, body
 * then shortcut).  A non-OK status aborts the backward.  NULL detaches. */
void ssli_model_set_grad_ready(sslk_model *m, sslk_status (*fn)(void *user, const void *key), void *user);

#endif
