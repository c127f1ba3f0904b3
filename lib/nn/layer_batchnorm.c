/* Batch-norm 1d (vectors: c features) and 2d (images: c channels x h*w).
 * Train: statistics over the first `nstat` rows (all rows when no
 * constraint hook adds rows), biased variance for normalising, unbiased for
 * the running average (PyTorch: running = (1 - momentum) running + momentum
 * batch).  Eval: running statistics.  Sums in double, per plane (2d) or per
 * block of rows (1d) and then per channel in row order, so results do not
 * depend on the thread count.  The normalised
 * values are not stored: backward recomputes them from the input, bit for bit
 * (one activation-sized buffer less per batch-norm, one write pass less).
 * A ReLU after the batch-norm is fused into both passes: the forward
 * rectifies as it writes; the backward runs the ReLU's backward rule (g
 * where the rectified output ry > 0, else 0) in place on each plane of the
 * gradient right before that plane's sums, while it is in L1, instead of as
 * a separate pass over the whole gradient.  Bit-identical to the two layers
 * run apart (the same select, the same sums).  Measured alternatives that
 * were slower than no fusion: masking by recomputing the pre-ReLU value from
 * the input (4%: arithmetic), and masking on the fly in both passes without
 * writing back (ry read from memory twice: 3%).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>

#include <omp.h>

#include "nn/layers.h"

/* Plane reductions: eight float lanes (vectorised), then double across planes
 * and rows (see ssli_nn_sum). */
static double plane_sqdev(const float *x, size_t n, float mu) {
    float a[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            float d = x[i + k] - mu;
            a[k] += d * d;
        }
    double s = 0.0;
    for (; i < n; i++) s += ((double)x[i] - mu) * ((double)x[i] - mu);
    return s + (((double)a[0] + a[1]) + ((double)a[2] + a[3])) + (((double)a[4] + a[5]) + ((double)a[6] + a[7]));
}

/* The forward's output value (before a fused ReLU). */
static inline float bn_affine(float x, float mu, float is, float gam, float bet) {
    const float h = (x - mu) * is;
    return gam * h + bet;
}

static double lanes(const float a[8]) {
    return (((double)a[0] + a[1]) + ((double)a[2] + a[3])) + (((double)a[4] + a[5]) + ((double)a[6] + a[7]));
}

/* One pass over a plane for both backward sums: *s1 += sum g (as ssli_nn_sum)
 * and *s2 += sum g * xhat with xhat = (x - mu) * is, as the forward computed it. */
static void plane_sum_dot_hat(const float *g, const float *x, float mu, float is, size_t n, double *s1,
                              double *s2) {
    float a[8] = {0}, b[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            const float h = (x[i + k] - mu) * is;
            a[k] += g[i + k];
            b[k] += g[i + k] * h;
        }
    double t1 = 0.0, t2 = 0.0;
    for (; i < n; i++) {
        const float h = (x[i] - mu) * is;
        t1 += g[i];
        t2 += (double)g[i] * h;
    }
    *s1 += t1 + lanes(a);
    *s2 += t2 + lanes(b);
}

/* The fused ReLU's backward on n values in place: g = ry > 0 ? g : 0 (the
 * unconditional load keeps the select vectorised, as in layer_activation.c). */
static void relu_mask_inplace(float *g, const float *ry, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const float gv = g[i];
        g[i] = ry[i] > 0.0f ? gv : 0.0f;
    }
}

/* Channel j's constants from its batch statistics (train: mean, biased
 * variance over M values; the running averages take the unbiased one) or
 * from the running statistics (eval): the double mean and 1 / std in the stat
 * block, and their float copies the passes use. */
static void channel_train(ssli_layer *L, size_t j, double mean, double var, double M, double eps, double mom) {
    const size_t c = L->in.c;
    L->stat[j] = mean;
    L->stat[c + j] = 1.0 / sqrt(var + eps);
    L->running_mean[j] = (float)((1.0 - mom) * L->running_mean[j] + mom * mean);
    L->running_var[j] = (float)((1.0 - mom) * L->running_var[j] + mom * var * M / (M - 1.0));
    float *mu = (float *)(L->stat + 4 * c), *is = mu + c;
    mu[j] = (float)L->stat[j], is[j] = (float)L->stat[c + j];
}

static void channel_eval(ssli_layer *L, size_t j, double eps) {
    const size_t c = L->in.c;
    L->stat[j] = L->running_mean[j];
    L->stat[c + j] = 1.0 / sqrt((double)L->running_var[j] + eps);
    float *mu = (float *)(L->stat + 4 * c), *is = mu + c;
    mu[j] = (float)L->stat[j], is[j] = (float)L->stat[c + j];
}

/* Threads for a pass over `values` floats. */
static int bn_threads(const sslk_model *m, size_t values) {
    return values < 32768 ? 1 : ssli_threads(m->ctx);
}

/* BatchNorm1d: rows x c with channels contiguous.  Every pass splits the rows
 * over the threads (each thread streams whole rows); the per-channel sums are
 * taken per block of SSLI_BN1D_ROWS rows (vectorised over the channels, in
 * row order within the block) and the blocks added in order, so results do
 * not depend on the thread count.  The first version gave each thread a
 * channel range of every row: two threads then took alternate 1 KB runs of
 * each 2 KB row of the projector's 512 features, and perf showed 1.7-1.8x the
 * one-thread CPU at 2 threads (the hardware prefetchers pulling in the other
 * thread's half), so the layer got no faster with threads. */
#define SSLI_BN1D_ROWS 16
#define SSLI_BN1D_COLS 64 /* channels per task when the blocks are added */

/* t[j - j0] += P[q ld + j] for the blocks q in order and j in [j0, j1): rows
 * of P read contiguously (a column walk strides 4 KB for 512 features, which
 * maps every load to one L1 set). */
static void bn1d_block_add(const double *P, size_t ld, size_t nb, size_t j0, size_t j1, double *t) {
    for (size_t q = 0; q < nb; q++)
        for (size_t j = j0; j < j1; j++) t[j - j0] += P[q * ld + j];
}

/* Adds block q's rows of x (deviations from mean when mean != NULL, squared)
 * into P[j] (c doubles, zeroed here). */
static void bn1d_block_sum(const float *x, size_t c, size_t r0, size_t r1, const double *mean, double *P) {
    for (size_t j = 0; j < c; j++) P[j] = 0.0;
    for (size_t r = r0; r < r1; r++) {
        const float *xr = x + r * c;
        if (mean)
            for (size_t j = 0; j < c; j++) {
                const double d = xr[j] - mean[j];
                P[j] += d * d;
            }
        else
            for (size_t j = 0; j < c; j++) P[j] += xr[j];
    }
}

static sslk_status bn1d_forward(sslk_model *m, ssli_layer *L, const float *x, size_t rows, size_t nstat,
                                sslk_mode mode, double eps, double mom, bool relu) {
    const size_t c = L->in.c, nb = (nstat + SSLI_BN1D_ROWS - 1) / SSLI_BN1D_ROWS;
    const bool train = mode == SSLK_MODE_TRAIN;
    double *mean = L->stat, *P = NULL;
    if (train) SSLI_TRY(ssli_nn_scratch(m, nb * c * sizeof(double), (void **)&P));
    float *mu = (float *)(L->stat + 4 * c), *is = mu + c;
    const double M = (double)nstat;
#pragma omp parallel num_threads(bn_threads(m, rows * c))
    {
        if (train) {
            for (int pass = 0; pass < 2; pass++) { /* sums, then squared deviations from the mean */
#pragma omp for schedule(static)
                for (long long q = 0; q < (long long)nb; q++) {
                    const size_t r0 = (size_t)q * SSLI_BN1D_ROWS;
                    bn1d_block_sum(x, c, r0, r0 + SSLI_BN1D_ROWS < nstat ? r0 + SSLI_BN1D_ROWS : nstat,
                                   pass ? mean : NULL, P + (size_t)q * c);
                }
#pragma omp for schedule(static)
                for (size_t j0 = 0; j0 < c; j0 += SSLI_BN1D_COLS) {
                    const size_t j1 = j0 + SSLI_BN1D_COLS < c ? j0 + SSLI_BN1D_COLS : c;
                    double t[SSLI_BN1D_COLS] = {0};
                    bn1d_block_add(P, c, nb, j0, j1, t);
                    for (size_t j = j0; j < j1; j++) {
                        if (!pass) mean[j] = t[j - j0] / M;
                        else channel_train(L, j, mean[j], t[j - j0] / M, M, eps, mom);
                    }
                }
            }
        } else {
#pragma omp for schedule(static)
            for (size_t j = 0; j < c; j++) channel_eval(L, j, eps);
        }
#pragma omp for schedule(static)
        for (size_t r = 0; r < rows; r++) {
            const float *xr = x + r * c;
            float *yr = L->out_buf + r * c;
            if (relu) /* the same values as a ReLU pass over the output, one pass less */
                for (size_t j = 0; j < c; j++) {
                    const float v = bn_affine(xr[j], mu[j], is[j], L->weight[j], L->bias[j]);
                    yr[j] = v > 0.0f ? v : 0.0f;
                }
            else
                for (size_t j = 0; j < c; j++) yr[j] = bn_affine(xr[j], mu[j], is[j], L->weight[j], L->bias[j]);
        }
    }
    return SSLK_OK;
}

static sslk_status bn1d_backward(sslk_model *m, ssli_layer *L, const float *x, size_t rows, size_t nstat,
                                 sslk_mode mode, const float *ry, float *gy, float *gx) {
    const size_t c = L->in.c, nb = (rows + SSLI_BN1D_ROWS - 1) / SSLI_BN1D_ROWS;
    const double *mean = L->stat, *istd = L->stat + c;
    double *P;
    SSLI_TRY(ssli_nn_scratch(m, nb * c * 2 * sizeof(double), (void **)&P));
    /* the forward's float constants, rebuilt; then a = gamma istd, b1 = S1 / M,
     * b2 = S2 / M in the stat block's float slots (a, b1 over mu, is) */
    float *mu = (float *)(L->stat + 4 * c), *is = mu + c;
    float *A = mu, *B1 = mu + c, *B2 = B1 + c;
    const double M = (double)nstat;
    const bool train = mode == SSLK_MODE_TRAIN;
    for (size_t j = 0; j < c; j++) mu[j] = (float)mean[j], is[j] = (float)istd[j];
#pragma omp parallel num_threads(bn_threads(m, rows * c))
    {
        /* per block: S1 = sum g, S2 = sum g xhat over every row (extra rows included) */
#pragma omp for schedule(static)
        for (long long q = 0; q < (long long)nb; q++) {
            const size_t r0 = (size_t)q * SSLI_BN1D_ROWS, r1 = r0 + SSLI_BN1D_ROWS < rows ? r0 + SSLI_BN1D_ROWS : rows;
            double *p1 = P + (size_t)q * 2 * c, *p2 = p1 + c;
            for (size_t j = 0; j < c; j++) p1[j] = p2[j] = 0.0;
            for (size_t r = r0; r < r1; r++) {
                float *g = gy + r * c;
                const float *xr = x + r * c;
                if (ry) relu_mask_inplace(g, ry + r * c, c);
                for (size_t j = 0; j < c; j++) {
                    const float h = (xr[j] - mu[j]) * is[j];
                    p1[j] += g[j];
                    p2[j] += (double)g[j] * h;
                }
            }
        }
#pragma omp for schedule(static)
        for (size_t j0 = 0; j0 < c; j0 += SSLI_BN1D_COLS) {
            const size_t j1 = j0 + SSLI_BN1D_COLS < c ? j0 + SSLI_BN1D_COLS : c;
            double s1[SSLI_BN1D_COLS] = {0}, s2[SSLI_BN1D_COLS] = {0};
            bn1d_block_add(P, 2 * c, nb, j0, j1, s1);
            bn1d_block_add(P + c, 2 * c, nb, j0, j1, s2);
            for (size_t j = j0; j < j1; j++) {
                L->gbias[j] += (float)s1[j - j0];
                L->gweight[j] += (float)s2[j - j0];
                B2[j] = train ? (float)(s2[j - j0] / M) : 0.0f;
                B1[j] = train ? (float)(s1[j - j0] / M) : 0.0f; /* over is[j]: nothing reads it after this loop */
                A[j] = (float)((double)L->weight[j] * istd[j]);
            }
        }
        if (gx) {
#pragma omp for schedule(static)
            for (size_t r = 0; r < rows; r++) {
                const float *g = gy + r * c, *xr = x + r * c;
                float *o = gx + r * c;
                if (train && r < nstat)
                    for (size_t j = 0; j < c; j++) {
                        const float h = (xr[j] - (float)mean[j]) * (float)istd[j];
                        o[j] = A[j] * (g[j] - B1[j] - h * B2[j]);
                    }
                else
                    for (size_t j = 0; j < c; j++) o[j] = A[j] * g[j];
            }
        }
    }
    return SSLK_OK;
}

/* Batch-norm 2d over planes: a plane is one sample's channel (hw values,
 * contiguous), plane p = r c + j.  Every pass runs over planes in memory
 * order, split over the threads by plane index (sequential streams for the
 * prefetcher, every thread busy even with fewer channels than threads, no
 * per-channel accumulators shared between threads); per-plane partial sums go
 * to the model's scratch and are added per channel in row order, so results
 * do not depend on the thread count.  The first version split the channels
 * over the threads and accumulated into the per-channel sums: at 16 threads
 * and 32 channels four threads then wrote the same cache line every plane,
 * and on 2 cores (Zen 4) the forward's batch-norm took as much wall time at 2
 * threads as at 1 (perf). */

/* Train statistics of one plane, read once from memory (the second loop
 * finds it in L1): s = sum, q = sum of squared deviations from the plane's
 * own mean rounded to float. */
static void plane_stats(const float *x, size_t n, double *s, double *q) {
    *s = ssli_nn_sum(x, n);
    *q = plane_sqdev(x, n, (float)(*s / (double)n));
}

/* Mean and sum of squared deviations of channel j from its planes' (s, q),
 * rows in order (Chan et al.'s pairwise update, exact algebra): over a plane
 * of n values with its float mean mp and d = mp - mean,
 * sum (x - mean)^2 = q + 2 d (s - n mp) + n d^2.  The mean is the sum of the
 * plane sums in row order, the value the two-pass version had. */
static void channel_moments(const double *P, size_t c, size_t j, size_t nstat, size_t hw, double *mean,
                            double *m2) {
    const double n = (double)hw;
    double s = 0.0;
    for (size_t r = 0; r < nstat; r++) s += P[2 * (r * c + j)];
    const double mu = s / (n * (double)nstat);
    double q = 0.0;
    for (size_t r = 0; r < nstat; r++) {
        const double ps = P[2 * (r * c + j)], mp = (float)(ps / n), d = mp - mu;
        q += P[2 * (r * c + j) + 1] + d * (2.0 * (ps - n * mp) + n * d);
    }
    *mean = mu, *m2 = q;
}

sslk_status ssli_batchnorm_forward(sslk_model *m, ssli_layer *L, const float *x, size_t rows,
                                   size_t nstat, sslk_mode mode, bool relu) {
    const size_t c = L->in.c, hw = L->in.h * L->in.w, numel = c * hw;
    const size_t M = nstat * hw;
    if (mode == SSLK_MODE_TRAIN && M < 2)
        return ssli_err(SSLK_E_SHAPE,
                        "sslk_model_forward: batch-norm layer '%s' needs more than 1 value per "
                        "channel in train mode (batch %zu x %zu spatial)",
                        L->name, nstat, hw);
    const double eps = m->settings[SSLI_MODEL_S_BN_EPS];
    const double mom = m->settings[SSLI_MODEL_S_BN_MOMENTUM];
    const bool train = mode == SSLK_MODE_TRAIN;
    if (hw == 1) {
        SSLI_TRY(bn1d_forward(m, L, x, rows, nstat, mode, eps, mom, relu));
        if (train) L->num_batches_tracked++;
        return SSLK_OK;
    }
    /* per-plane (s, q) of the statistics rows; the builder bounds rows x numel */
    double *P = NULL;
    if (train) SSLI_TRY(ssli_nn_scratch(m, nstat * c * 2 * sizeof(double), (void **)&P));
    const long long nplanes = (long long)(rows * c), nsp = (long long)(nstat * c);
    float *mu = (float *)(L->stat + 4 * c), *is = mu + c;
#pragma omp parallel num_threads(bn_threads(m, rows * numel))
    {
        if (train) {
#pragma omp for schedule(static)
            for (long long p = 0; p < nsp; p++) plane_stats(x + (size_t)p * hw, hw, &P[2 * p], &P[2 * p + 1]);
#pragma omp for schedule(static)
            for (size_t j = 0; j < c; j++) {
                double mj, m2;
                channel_moments(P, c, j, nstat, hw, &mj, &m2);
                channel_train(L, j, mj, m2 / (double)M, (double)M, eps, mom);
            }
        } else {
#pragma omp for schedule(static)
            for (size_t j = 0; j < c; j++) channel_eval(L, j, eps);
        }
#pragma omp for schedule(static)
        for (long long p = 0; p < nplanes; p++) {
            const size_t j = (size_t)p % c;
            const float *xp = x + (size_t)p * hw;
            float *yp = L->out_buf + (size_t)p * hw;
            const float muj = mu[j], isj = is[j], gam = L->weight[j], bet = L->bias[j];
            if (relu) /* the same values as a ReLU pass over the output, one pass less */
                for (size_t q = 0; q < hw; q++) {
                    const float v = bn_affine(xp[q], muj, isj, gam, bet);
                    yp[q] = v > 0.0f ? v : 0.0f;
                }
            else
                for (size_t q = 0; q < hw; q++) yp[q] = bn_affine(xp[q], muj, isj, gam, bet);
        }
    }
    if (train) L->num_batches_tracked++;
    return SSLK_OK;
}

sslk_status ssli_batchnorm_backward(sslk_model *m, ssli_layer *L, const float *x, float *gy, size_t rows,
                                    size_t nstat, sslk_mode mode, const float *ry, float *gx) {
    const size_t c = L->in.c, hw = L->in.h * L->in.w, numel = c * hw;
    const double M = (double)(nstat * hw);
    const double *mean = L->stat, *istd = L->stat + c;
    if (hw == 1) return bn1d_backward(m, L, x, rows, nstat, mode, ry, gy, gx);
    /* per-plane (sum g, sum g xhat) over every row (extra rows included) */
    double *P;
    SSLI_TRY(ssli_nn_scratch(m, rows * c * 2 * sizeof(double), (void **)&P));
    const long long nplanes = (long long)(rows * c);
    /* per-channel float constants a = gamma istd, b1 = S1 / M, b2 = S2 / M in the stat block's float slots */
    float *A = (float *)(L->stat + 4 * c), *B1 = A + c, *B2 = B1 + c;
    const bool train = mode == SSLK_MODE_TRAIN;
#pragma omp parallel num_threads(bn_threads(m, rows * numel))
    {
#pragma omp for schedule(static)
        for (long long p = 0; p < nplanes; p++) {
            const size_t j = (size_t)p % c, o = (size_t)p * hw;
            if (ry) relu_mask_inplace(gy + o, ry + o, hw);
            P[2 * p] = P[2 * p + 1] = 0.0;
            plane_sum_dot_hat(gy + o, x + o, (float)mean[j], (float)istd[j], hw, &P[2 * p], &P[2 * p + 1]);
        }
#pragma omp for schedule(static)
        for (size_t j = 0; j < c; j++) {
            double s1 = 0.0, s2 = 0.0; /* in row order: the sums the one-pass version accumulated */
            for (size_t r = 0; r < rows; r++) s1 += P[2 * (r * c + j)], s2 += P[2 * (r * c + j) + 1];
            L->gbias[j] += (float)s1;
            L->gweight[j] += (float)s2;
            A[j] = (float)((double)L->weight[j] * istd[j]);
            B1[j] = train ? (float)(s1 / M) : 0.0f;
            B2[j] = train ? (float)(s2 / M) : 0.0f;
        }
        if (gx) {
            /* train: dx = gamma istd (g - [stat row] (S1 + xhat S2) / M); eval: gamma istd g */
            const long long nsp = (long long)(nstat * c);
#pragma omp for schedule(static)
            for (long long p = 0; p < nplanes; p++) {
                const size_t j = (size_t)p % c, off = (size_t)p * hw;
                const float *g = gy + off, *xp = x + off;
                float *o = gx + off;
                const float a = A[j], b1 = B1[j], b2 = B2[j], mu = (float)mean[j], isf = (float)istd[j];
                if (train && p < nsp)
                    for (size_t q = 0; q < hw; q++) {
                        const float h = (xp[q] - mu) * isf;
                        o[q] = a * (g[q] - b1 - h * b2);
                    }
                else
                    for (size_t q = 0; q < hw; q++) o[q] = a * g[q];
            }
        }
    }
    return SSLK_OK;
}
