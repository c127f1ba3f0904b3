/* Fully connected layer: y = x W^T + b with BLIS GEMMs.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "linalg/linalg.h"
#include "nn/layers.h"

void ssli_linear_forward(sslk_model *m, ssli_layer *L, const float *x, size_t rows) {
    const size_t in = ssli_shape_numel(L->in), out = L->out.c;
    float *y = L->out_buf;
    float beta = 0.0f;
    if (L->bias) {
        /* Seed y with the bias so the GEMM adds into it (no extra pass afterwards). */
        int nt = ssli_threads(m->ctx);
#pragma omp parallel for num_threads(nt) schedule(static) if (rows * out > SSLI_NN_PAR_MIN)
        for (size_t r = 0; r < rows; r++) memcpy(y + r * out, L->bias, out * sizeof(float));
        beta = 1.0f;
    }
    ssli_sgemm(ssli_nn_gemm_ctx(m, rows, out, in), false, true, rows, out, in, 1.0f, x, in, L->weight, in, beta, y, out);
}

void ssli_linear_backward(sslk_model *m, ssli_layer *L, const float *x, const float *gy,
                          size_t rows, float *gx) {
    const size_t in = ssli_shape_numel(L->in), out = L->out.c;
    /* dW += gy^T x */
    ssli_sgemm(ssli_nn_gemm_ctx(m, rows, out, in), true, false, out, in, rows, 1.0f, gy, out, x, in, 1.0f, L->gweight, in);
    if (L->bias) {
        int nt = ssli_threads(m->ctx);
        /* column sums in double, each column summed over rows in order */
#pragma omp parallel for num_threads(nt) schedule(static) if (rows * out > SSLI_NN_PAR_MIN)
        for (size_t j0 = 0; j0 < out; j0 += 64) {
            size_t j1 = j0 + 64 < out ? j0 + 64 : out;
            double acc[64] = {0};
            for (size_t r = 0; r < rows; r++) {
                const float *g = gy + r * out;
                for (size_t j = j0; j < j1; j++) acc[j - j0] += g[j];
            }
            for (size_t j = j0; j < j1; j++) L->gbias[j] += (float)acc[j - j0];
        }
    }
    if (gx)
        ssli_sgemm(ssli_nn_gemm_ctx(m, rows, out, in), false, false, rows, in, out, 1.0f, gy, out, L->weight, in, 0.0f, gx, in);
}
