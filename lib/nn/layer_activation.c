/* Element-wise continuous piecewise-linear activations: relu, leaky-relu, abs.
 * The derivative at 0 is taken as the right-hand one for relu / leaky-relu
 * (0 for relu, matching PyTorch) and 0 for abs (PyTorch's sign(0) = 0).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>

#include "nn/layers.h"

void ssli_act_forward(const sslk_model *m, const ssli_layer *L, const float *x, size_t rows, float *y) {
    const size_t n = rows * ssli_shape_numel(L->in);
    const float a = L->slope;
    int nt = ssli_threads(m->ctx);
    switch (L->kind) {
    case SSLI_LAYER_RELU:
#pragma omp parallel for num_threads(nt) schedule(static) if (n > SSLI_NN_PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case SSLI_LAYER_LEAKY_RELU:
#pragma omp parallel for num_threads(nt) schedule(static) if (n > SSLI_NN_PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : a * x[i];
        break;
    default: /* abs */
#pragma omp parallel for num_threads(nt) schedule(static) if (n > SSLI_NN_PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = fabsf(x[i]);
        break;
    }
}

void ssli_act_backward(const sslk_model *m, const ssli_layer *L, const float *x, const float *gy,
                       size_t rows, float *gx) {
    if (!gx) return;
    const size_t n = rows * ssli_shape_numel(L->in);
    const float a = L->slope;
    int nt = ssli_threads(m->ctx);
    /* gy is loaded unconditionally so the selects vectorise into blends: a
     * conditional load kept these loops scalar and branchy (ReLU signs are
     * near-random), 7% of a training step in perf. */
    switch (L->kind) {
    case SSLI_LAYER_RELU:
#pragma omp parallel for num_threads(nt) schedule(static) if (n > SSLI_NN_PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            const float g = gy[i];
            gx[i] = x[i] > 0.0f ? g : 0.0f;
        }
        break;
    case SSLI_LAYER_LEAKY_RELU:
#pragma omp parallel for num_threads(nt) schedule(static) if (n > SSLI_NN_PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            const float g = gy[i];
            gx[i] = x[i] > 0.0f ? g : a * g;
        }
        break;
    default:
#pragma omp parallel for num_threads(nt) schedule(static) if (n > SSLI_NN_PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            const float g = gy[i], v = x[i];
            gx[i] = v > 0.0f ? g : (v < 0.0f ? -g : 0.0f);
        }
        break;
    }
}
