/* Orthonormality penalty of the minimal-variations objective (design note
 * 6.2, test T4): ||C - I||_F^2 with C = Z^T Z / n, and its unbiased
 * two-halves estimator mean_ij (z_i . z'_j)^2 - 2 mean_i |z_i|^2 + k, which
 * estimates tr(C^2) with independent halves instead of the biased full-batch
 * square.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "linalg/linalg.h"
#include "theory/theory_internal.h"

static sslk_status check(const float *z, size_t n, size_t k, size_t min_n, const double *value, const char *fn) {
    SSLI_CHECK_PTR(z, fn);
    SSLI_CHECK_PTR(value, fn);
    if (n < min_n) return ssli_err(SSLK_E_SHAPE, "%s: 'n' = %zu rows; at least %zu are needed", fn, n, min_n);
    if (k < 1) return ssli_err(SSLK_E_SHAPE, "%s: 'k' = 0", fn);
    size_t tmp;
    if (ssli_mul3_overflow(n, k, sizeof(double), &tmp) || ssli_mul3_overflow(k, k, sizeof(double), &tmp))
        return ssli_err(SSLK_E_OVERFLOW, "%s: n x k = %zu x %zu overflows", fn, n, k);
    return ssli_check_finite_f32(z, n, k, fn, "z");
}

sslk_status sslk_ortho_penalty(sslk_ctx *ctx, const float *z, size_t n, size_t k, int center, double *value) {
    static const char *fn = "sslk_ortho_penalty";
    SSLI_TRY(check(z, n, k, 1, value, fn));
    if (center != 0 && center != 1)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'center' = %d must be 0 or 1", fn, center);
    double *Z = ssli_malloc(ctx, n * k, sizeof(double));
    double *C = ssli_calloc(ctx, k * k + k, sizeof(double));
    if (!Z || !C) {
        ssli_free(ctx, Z);
        ssli_free(ctx, C);
        return ssli_alloc_status();
    }
    double *mean = C + k * k;
    for (size_t i = 0; i < n * k; i++) Z[i] = z[i];
    if (center) {
        for (size_t i = 0; i < n; i++)
            for (size_t t = 0; t < k; t++) mean[t] += Z[i * k + t] / (double)n;
        for (size_t i = 0; i < n; i++)
            for (size_t t = 0; t < k; t++) Z[i * k + t] -= mean[t];
    }
    ssli_dsyrk(ctx, true, k, n, 1.0 / (double)n, Z, k, 0.0, C, k);
    double s = 0;
    for (size_t a = 0; a < k; a++)
        for (size_t b = 0; b < k; b++) {
            double v = C[a * k + b] - (a == b);
            s += v * v;
        }
    *value = s;
    ssli_free(ctx, Z);
    ssli_free(ctx, C);
    return SSLK_OK;
}

sslk_status sslk_ortho_penalty_split(sslk_ctx *ctx, const float *z, size_t n, size_t k, uint64_t seed,
                                     double *value) {
    static const char *fn = "sslk_ortho_penalty_split";
    SSLI_TRY(check(z, n, k, 2, value, fn));
    size_t h = n / 2;
    size_t *idx = ssli_malloc(ctx, n, sizeof(size_t));
    double *A = ssli_malloc(ctx, 2 * h * k, sizeof(double));
    double *G = ssli_malloc(ctx, h * h, sizeof(double));
    sslk_status st = SSLK_OK;
    if (!idx || !A || !G) {
        st = ssli_alloc_status();
        goto done;
    }
    for (size_t i = 0; i < n; i++) idx[i] = i;
    ssli_rng rng;
    ssli_rng_init(&rng, seed, 0x0f7);
    ssli_rng_shuffle(&rng, idx, n);
    double sq = 0;
    for (size_t i = 0; i < 2 * h; i++)
        for (size_t t = 0; t < k; t++) {
            double v = z[idx[i] * k + t];
            A[i * k + t] = v;
            sq += v * v;
        }
    /* G = Z Z'^T (h x h): mean of its squared entries estimates tr(C^2) */
    ssli_dgemm(ctx, false, true, h, h, k, 1.0, A, k, A + h * k, k, 0.0, G, h);
    double g2 = 0;
    for (size_t i = 0; i < h * h; i++) g2 += G[i] * G[i];
    *value = g2 / ((double)h * (double)h) - 2 * sq / (double)(2 * h) + (double)k;
done:
    ssli_free(ctx, idx);
    ssli_free(ctx, A);
    ssli_free(ctx, G);
    return st;
}
