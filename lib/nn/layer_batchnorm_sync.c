/* SyncBN: batch-norm training statistics over the rows of every rank of the
 * context's collectives table (the trainer's global batch), so N ranks
 * normalise exactly as one process with all rows.  Forward all-reduces the
 * per-channel sums (then the squared deviations from the global mean: the
 * same two-pass variance as layer_batchnorm.c); backward all-reduces the two
 * per-channel gradient sums that dx needs.  The parameter gradients keep the
 * LOCAL sums: the trainer's gradient all-reduce adds the ranks up.  As in
 * layer_batchnorm.c the normalised values are recomputed from the input in
 * backward, and `relu` rectifies the output for a fused in-place ReLU.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>

#include "dist/dist_internal.h"
#include "nn/layers.h"

bool ssli_batchnorm_synced(const sslk_model *m, sslk_mode mode) {
    return mode == SSLK_MODE_TRAIN && m->settings[SSLI_MODEL_S_SYNC_BN] != 0 && ssli_dist(m->ctx) != NULL;
}

sslk_status ssli_batchnorm_forward_sync(sslk_model *m, ssli_layer *L, const float *x, size_t rows, size_t nstat,
                                        bool relu) {
    static const char fn[] = "sslk_model_forward(SyncBN)";
    const sslk_dist *t = ssli_dist(m->ctx);
    const size_t c = L->in.c, hw = L->in.h * L->in.w, numel = c * hw;
    double *acc = ssli_calloc(m->ctx, c + 1, sizeof(double));
    if (!acc) return ssli_alloc_status();
    double *mean = L->stat, *istd = L->stat + c;
    const double eps = m->settings[SSLI_MODEL_S_BN_EPS], mom = m->settings[SSLI_MODEL_S_BN_MOMENTUM];
    for (size_t r = 0; r < nstat; r++)
        for (size_t j = 0; j < c; j++) acc[j] += ssli_nn_sum(x + r * numel + j * hw, hw);
    acc[c] = (double)(nstat * hw);
    sslk_status s = ssli_dist_allreduce_f64(t, acc, c + 1, fn);
    const double M = acc[c];
    if (s == SSLK_OK && M < 2)
        s = ssli_err(SSLK_E_SHAPE, "%s: batch-norm layer '%s' needs more than 1 value per channel over all ranks "
                                   "(got %.0f)", fn, L->name, M);
    if (s == SSLK_OK) {
        for (size_t j = 0; j < c; j++) {
            mean[j] = acc[j] / M;
            acc[j] = 0.0;
        }
        for (size_t r = 0; r < nstat; r++)
            for (size_t j = 0; j < c; j++) {
                const float *xp = x + r * numel + j * hw;
                const float mu = (float)mean[j];
                for (size_t p = 0; p < hw; p++) acc[j] += ((double)xp[p] - mu) * ((double)xp[p] - mu);
            }
        s = ssli_dist_allreduce_f64(t, acc, c, fn);
    }
    if (s == SSLK_OK) {
        for (size_t j = 0; j < c; j++) {
            const double var = acc[j] / M;
            istd[j] = 1.0 / sqrt(var + eps);
            L->running_mean[j] = (float)((1.0 - mom) * L->running_mean[j] + mom * mean[j]);
            L->running_var[j] = (float)((1.0 - mom) * L->running_var[j] + mom * var * M / (M - 1));
        }
        for (size_t r = 0; r < rows; r++)
            for (size_t j = 0; j < c; j++) {
                const float mu = (float)mean[j], is = (float)istd[j], gam = L->weight[j], bet = L->bias[j];
                const size_t o = r * numel + j * hw;
                for (size_t p = 0; p < hw; p++) {
                    const float v = gam * ((x[o + p] - mu) * is) + bet;
                    L->out_buf[o + p] = relu && !(v > 0.0f) ? 0.0f : v;
                }
            }
        L->num_batches_tracked++;
    }
    ssli_free(m->ctx, acc);
    return s;
}

sslk_status ssli_batchnorm_backward_sync(sslk_model *m, ssli_layer *L, const float *x, const float *gy, size_t rows,
                                         size_t nstat, float *gx) {
    static const char fn[] = "sslk_model_backward(SyncBN)";
    const sslk_dist *t = ssli_dist(m->ctx);
    const size_t c = L->in.c, hw = L->in.h * L->in.w, numel = c * hw;
    const double *mean = L->stat, *istd = L->stat + c;
    double *acc = ssli_calloc(m->ctx, 2 * c + 1, sizeof(double));
    if (!acc) return ssli_alloc_status();
    double *s1 = acc, *s2 = acc + c;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < c; j++) {
            const size_t o = r * numel + j * hw;
            const float mu = (float)mean[j], is = (float)istd[j];
            for (size_t p = 0; p < hw; p++) {
                s1[j] += gy[o + p];
                s2[j] += (double)gy[o + p] * ((x[o + p] - mu) * is);
            }
        }
    for (size_t j = 0; j < c; j++) { /* local sums: the trainer all-reduces parameter gradients */
        L->gbias[j] += (float)s1[j];
        L->gweight[j] += (float)s2[j];
    }
    acc[2 * c] = (double)(nstat * hw);
    sslk_status s = gx ? ssli_dist_allreduce_f64(t, acc, 2 * c + 1, fn) : SSLK_OK;
    if (s == SSLK_OK && gx) {
        const double M = acc[2 * c];
        for (size_t j = 0; j < c; j++) {
            const float a = (float)((double)L->weight[j] * istd[j]), mu = (float)mean[j], is = (float)istd[j];
            const float b1 = (float)(s1[j] / M), b2 = (float)(s2[j] / M);
            for (size_t r = 0; r < rows; r++) {
                const size_t o = r * numel + j * hw;
                for (size_t p = 0; p < hw; p++)
                    gx[o + p] = r < nstat ? a * (gy[o + p] - b1 - ((x[o + p] - mu) * is) * b2) : a * gy[o + p];
            }
        }
    }
    ssli_free(m->ctx, acc);
    return s;
}
