/* A continuous piecewise-linear network in double precision: the form in
 * which SplineCam walks a model.  A flat list of ops acting on a "map":
 * 3 rows of F values (d/du, d/dv and the value at u = v = 0 of every
 * feature, i.e. feature = A [u v]^T + b with A = rows 0-1, b = row 2).
 * Affine ops act on all three rows, adding their bias to row 2 only.
 * Residual blocks use a stack of saved maps: PUSH saves the current map,
 * SWAP exchanges the current map with the saved one (body done, shortcut
 * next), ADD adds the saved map to the current one and pops it.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_GEOMETRY_CPWL_H
#define SSLKIT_GEOMETRY_CPWL_H

#include "core/internal.h"

typedef enum ssli_cop {
    SSLI_COP_DENSE = 1,   /* y = W x + b, W out x in */
    SSLI_COP_CONV = 2,    /* square kernel k, stride, zero padding; W oc x c x k x k */
    SSLI_COP_SCALE = 3,   /* per-channel y = w[c] x + b[c] (batch-norm in eval mode) */
    SSLI_COP_AVGPOOL = 4, /* window k, stride, no padding, floor */
    SSLI_COP_GAP = 5,     /* (c, h, w) -> (c) */
    SSLI_COP_UNIT = 6,    /* elementwise two-slope unit: x < 0 ? neg x : pos x */
    SSLI_COP_MAXPOOL = 7, /* window k, stride, pad (-inf), floor; ties -> first */
    SSLI_COP_PUSH = 8,
    SSLI_COP_SWAP = 9,
    SSLI_COP_ADD = 10
} ssli_cop;

typedef struct ssli_cpwl_op {
    ssli_cop kind;
    size_t in, out;       /* features before / after */
    size_t c, h, w;       /* input image shape (spatial ops) */
    size_t oc, oh, ow;    /* output image shape (spatial ops) */
    size_t k, stride, pad;
    double *wgt, *b;      /* owned weights and biases; see ssli_cop */
    double *wt;           /* DENSE: W transposed (in x out), rows are the columns of W */
    double neg, pos;      /* UNIT slopes */
    size_t code_off;      /* first code bit of this nonlinear op */
    size_t code_bits;     /* bits per unit (UNIT: 1, MAXPOOL: ceil(log2 k*k)) */
    size_t m;             /* MAXPOOL: window size k*k */
    uint32_t *win;        /* MAXPOOL: out x m input indices */
    size_t stack_before;  /* doubles on the stack before this op */
    size_t top_dim;       /* SWAP / ADD: features of the map on top of the stack */
    size_t point;         /* k + 1 when the op's output is pre-activation point k; 0 if none */
} ssli_cpwl_op;

typedef struct ssli_cpwl {
    const sslk_ctx *ctx;
    ssli_cpwl_op *ops;
    size_t nops, cap;
    size_t in, out;       /* input / output features */
    size_t code_bits;     /* total activation-code bits */
    size_t max_dim;       /* largest feature count anywhere */
    size_t max_stack;     /* largest stack (doubles) */
    size_t cur;           /* builder: current feature count */
    size_t sdims[32];     /* builder: feature counts on the stack */
    size_t sdepth;
    size_t npoints;       /* pre-activation points marked on ops (model_bind.c) */
    bool finished;
} ssli_cpwl;

void ssli_cpwl_init(ssli_cpwl *n, const sslk_ctx *ctx, size_t in);
void ssli_cpwl_free(ssli_cpwl *n);
/* Builders copy weights (float or double source, exactly one non-NULL). */
sslk_status ssli_cpwl_dense(ssli_cpwl *n, size_t out, const float *wf, const double *wd,
                            const float *bf, const double *bd);
sslk_status ssli_cpwl_conv(ssli_cpwl *n, size_t c, size_t h, size_t w, size_t oc, size_t k,
                           size_t stride, size_t pad, const float *wf, const double *wd,
                           const float *bf, const double *bd);
/* Per-channel scale/shift over `spatial` positions per channel. */
sslk_status ssli_cpwl_scale(ssli_cpwl *n, size_t c, size_t spatial, const double *s,
                            const double *t);
sslk_status ssli_cpwl_avgpool(ssli_cpwl *n, size_t c, size_t h, size_t w, size_t k, size_t stride);
sslk_status ssli_cpwl_gap(ssli_cpwl *n, size_t c, size_t h, size_t w);
sslk_status ssli_cpwl_unit(ssli_cpwl *n, double neg, double pos);
/* Max-pool with `pad` (<= k / 2) of -inf on each side. */
sslk_status ssli_cpwl_maxpool(ssli_cpwl *n, size_t c, size_t h, size_t w, size_t k, size_t stride,
                              size_t pad);
sslk_status ssli_cpwl_push(ssli_cpwl *n);
sslk_status ssli_cpwl_swap(ssli_cpwl *n);
sslk_status ssli_cpwl_add(ssli_cpwl *n);
/* Fold y = s x + t per output feature into the preceding DENSE/CONV op (when the
 * last op is one); returns false when it cannot. */
bool ssli_cpwl_fold_scale(ssli_cpwl *n, const double *s, const double *t);
/* Check the stack is balanced, set code offsets.  SSLK_E_STATE otherwise. */
sslk_status ssli_cpwl_finish(ssli_cpwl *n);

static inline bool ssli_cop_nonlinear(ssli_cop k) {
    return k == SSLI_COP_UNIT || k == SSLI_COP_MAXPOOL;
}

/* Apply an affine op to `nmaps` maps X (nmaps x 3 x in) -> Y (nmaps x 3 x out).
 * Single-threaded (callers parallelise over blocks). */
sslk_status ssli_cpwl_apply_affine(const ssli_cpwl *n, const ssli_cpwl_op *op, const double *X,
                                   size_t nmaps, double *Y);

/* The double evaluator.  At each op marked as pre-activation point k the
 * callback sees h (rows x width, that op's output) and may change it in place. */
typedef sslk_status (*ssli_cpwl_point_cb)(void *user, size_t k, double *h, size_t rows,
                                          size_t width);
/* y (rows x n->out) = n(x) for x rows x n->in; code (rows x
 * ssli_code_words(n->code_bits) words) may be NULL, cb may be NULL. */
sslk_status ssli_cpwl_eval_rows(const ssli_cpwl *n, const double *x, size_t rows, double *y,
                                uint64_t *code, ssli_cpwl_point_cb cb, void *user);
/* One point: out (n->out values), code (n->code_bits bits in words, may be NULL). */
sslk_status ssli_cpwl_eval(const ssli_cpwl *n, const double *x, double *out, uint64_t *code);

static inline void ssli_code_set(uint64_t *code, size_t bit, size_t nbits, uint64_t v) {
    for (size_t i = 0; i < nbits; i++) {
        size_t b = bit + i;
        uint64_t m = (uint64_t)1 << (b & 63);
        if ((v >> i) & 1) code[b >> 6] |= m;
        else code[b >> 6] &= ~m;
    }
}
static inline size_t ssli_code_words(size_t bits) { return (bits + 63) / 64; }

#endif
