/* Per-layer kernels of lib/nn.  Each forward writes L->out_buf (rows x
 * numel(L->out), allocated by the caller); each backward adds parameter
 * gradients and writes gx (rows x numel(L->in)) unless gx is NULL.
 * `nstat` is the number of leading rows batch-norm takes statistics over.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_NN_LAYERS_H
#define SSLKIT_NN_LAYERS_H

#include "nn/model_internal.h"

/* Grow a 64-aligned buffer to at least `bytes` (contents not kept). */
sslk_status ssli_nn_grow(const sslk_ctx *ctx, void **buf, size_t *cap, size_t bytes);
/* Element count below which memory-bound loops stay on one thread: every
 * parallel region is a barrier that costs a scheduler time slice when the
 * machine is loaded.  Was 2^18 (1 MB): the 512 x 512 activations of the
 * default encoder's and projector's linear layers (bias seed, bias gradient,
 * ReLU) then ran on one thread, a serial share of every step that grows
 * with the thread count (issue 16); 2^15 (128 KB) is the batch-norm's
 * threshold. */
#define SSLI_NN_PAR_MIN ((size_t)1 << 15)

/* Sum of a short run (a feature plane, a chunk of columns; up to a few
 * thousand values): eight float lanes, which vectorise, combined in double in
 * a fixed order; callers accumulate runs in double. */
static inline double ssli_nn_sum(const float *x, size_t n) {
    float a[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) a[k] += x[i + k];
    double s = 0.0;
    for (; i < n; i++) s += x[i];
    return s + (((double)a[0] + a[1]) + ((double)a[2] + a[3])) + (((double)a[4] + a[5]) + ((double)a[6] + a[7]));
}

/* Context for a GEMM of m x n x k: the model's (threaded) one when the
 * product is large enough to pay for waking threads, else NULL (1 thread). */
static inline const sslk_ctx *ssli_nn_gemm_ctx(const sslk_model *m, size_t M, size_t N, size_t K) {
    return (double)M * (double)N * (double)K >= 2e6 ? m->ctx : NULL;
}
/* Scratch of the model (m->ws) of at least `bytes`. */
sslk_status ssli_nn_scratch(sslk_model *m, size_t bytes, void **out);

void ssli_linear_forward(sslk_model *m, ssli_layer *L, const float *x, size_t rows);
void ssli_linear_backward(sslk_model *m, ssli_layer *L, const float *x, const float *gy,
                          size_t rows, float *gx);

sslk_status ssli_conv2d_forward(sslk_model *m, ssli_layer *L, const float *x, size_t rows);
sslk_status ssli_conv2d_backward(sslk_model *m, ssli_layer *L, const float *x, const float *gy,
                                 size_t rows, float *gx);

/* relu: also rectify the output (an in-place ReLU follows and no hook needs the values before it). */
sslk_status ssli_batchnorm_forward(sslk_model *m, ssli_layer *L, const float *x, size_t rows,
                                   size_t nstat, sslk_mode mode, bool relu);
/* x: the forward's input (normalised values are recomputed from it, not stored).
 * ry: NULL, or the output of a ReLU right after this layer (its rectified output): gy is
 * then the ReLU's output gradient, masked here in place (fused; bit-identical to running
 * the ReLU's backward first). */
sslk_status ssli_batchnorm_backward(sslk_model *m, ssli_layer *L, const float *x, float *gy, size_t rows,
                                    size_t nstat, sslk_mode mode, const float *ry, float *gx);
/* SyncBN (layer_batchnorm_sync.c, issue 17): train-mode statistics over every
 * rank of the context's collectives table, when SSLK_MODEL_SYNC_BN is on. */
bool ssli_batchnorm_synced(const sslk_model *m, sslk_mode mode);
sslk_status ssli_batchnorm_forward_sync(sslk_model *m, ssli_layer *L, const float *x, size_t rows, size_t nstat,
                                        bool relu);
sslk_status ssli_batchnorm_backward_sync(sslk_model *m, ssli_layer *L, const float *x, const float *gy, size_t rows,
                                         size_t nstat, float *gx);

/* relu, leaky_relu, abs: y = act(x); y may be x (in place). */
void ssli_act_forward(const sslk_model *m, const ssli_layer *L, const float *x, size_t rows, float *y);
void ssli_act_backward(const sslk_model *m, const ssli_layer *L, const float *x, const float *gy,
                       size_t rows, float *gx);

/* maxpool, avgpool, gap */
sslk_status ssli_pool_forward(sslk_model *m, ssli_layer *L, const float *x, size_t rows);
void ssli_pool_backward(const sslk_model *m, const ssli_layer *L, const float *gy, size_t rows,
                        float *gx);

sslk_status ssli_residual_forward(sslk_model *m, ssli_layer *L, const float *x, size_t rows,
                                  size_t nstat, sslk_mode mode);

/* Initialise the parameters / buffers of one layer (not recursive). */
void ssli_layer_init(ssli_layer *L, sslk_init scheme, uint64_t seed);
/* Free a layer's storage (recursively for residual children). */
void ssli_layer_free(const sslk_ctx *ctx, ssli_layer *L);
void ssli_seq_free(const sslk_ctx *ctx, ssli_seq *s);

/* Tensor view by name, NULL when absent (params.c). */
const sslk_param_view *ssli_model_find_view(sslk_model *m, const char *name);
/* Every layer in depth-first build order (residual, then its body, then its
 * shortcut); writes up to cap pointers, returns the total count. */
size_t ssli_model_collect_layers(sslk_model *m, ssli_layer **out, size_t cap);
/* Scalars a spec would allocate (parameters + batch-norm buffers), without allocating them. */
sslk_status ssli_spec_scalars(sslk_ctx *ctx, const char *spec, size_t ndim, const size_t *shape,
                              size_t *count);
/* Canonical spec as a NUL-terminated string allocated with ssli_malloc. */
sslk_status ssli_model_spec_alloc(const sslk_model *m, char **out);
/* Ensure the parameter views are built (params.c). */
sslk_status ssli_model_views(sslk_model *m, const sslk_param_view **views, size_t *n);

#endif
