/* Random Fourier features (Rahimi & Recht) of the Gaussian kernel, the cheap
 * "random features" input of closed-form SSL.  Draws are indexed by
 * (column, coordinate), so a column's weights do not depend on n or on
 * threads.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "linalg/linalg.h"
#include "theory_internal.h"

sslk_status sslk_random_features(sslk_ctx *ctx, const float *x, size_t n, size_t d, size_t D, double sigma,
                                 uint64_t seed, float *out) {
    static const char *fn = "sslk_random_features";
    SSLI_CHECK_PTR(x, fn);
    SSLI_CHECK_PTR(out, fn);
    if (n == 0 || d == 0 || D == 0)
        return ssli_err(SSLK_E_SHAPE, "%s: n = %zu, d = %zu, D = %zu; all must be >= 1", fn, n, d, D);
    if (!(sigma > 0) || !isfinite(sigma))
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'sigma' = %g must be positive and finite", fn, sigma);
    size_t tmp;
    if (ssli_mul3_overflow(n, d, sizeof(double), &tmp) || ssli_mul3_overflow(d, D, sizeof(float), &tmp) ||
        ssli_mul3_overflow(n, D, sizeof(float), &tmp))
        return ssli_err(SSLK_E_OVERFLOW, "%s: n = %zu, d = %zu, D = %zu overflow", fn, n, d, D);
    SSLI_TRY(ssli_check_finite_f32(x, n, d, fn, "x"));
    float *W = ssli_malloc(ctx, d * D, sizeof(float));
    if (!W) return ssli_alloc_status();
    uint64_t kw = ssli_rng_key(seed, 0x5f, 1), kb = ssli_rng_key(seed, 0x5f, 2);
    for (size_t t = 0; t < d; t++)
        for (size_t c = 0; c < D; c++) W[t * D + c] = (float)(ssli_rng_normal(kw, (uint64_t)c * d + t) / sigma);
    ssli_sgemm(ctx, false, false, n, D, d, 1.0f, x, d, W, D, 0.0f, out, D);
    ssli_free(ctx, W);
    double scale = sqrt(2.0 / (double)D);
    for (size_t c = 0; c < D; c++) {
        double b = 2 * M_PI * ssli_rng_uniform(kb, c);
        for (size_t i = 0; i < n; i++) out[i * D + c] = (float)(scale * cos((double)out[i * D + c] + b));
    }
    return SSLK_OK;
}
