/* Collapse monitors: per-dimension std of embeddings (what VICReg's variance
 * term hinges on) and the std of L2-normalised embeddings (SimSiam's
 * monitor, ~1/sqrt(d) when spread, 0 when collapsed).  Two passes in double.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "theory/theory_internal.h"

sslk_status sslk_collapse_std(sslk_ctx *ctx, const float *z, size_t n, size_t d, int normalize, double *mean_std,
                              double *per_dim) {
    static const char *fn = "sslk_collapse_std";
    SSLI_CHECK_PTR(z, fn);
    SSLI_CHECK_PTR(mean_std, fn);
    if (n < 2) return ssli_err(SSLK_E_SHAPE, "%s: 'n' = %zu rows; at least 2 are needed", fn, n);
    if (d < 1) return ssli_err(SSLK_E_SHAPE, "%s: 'd' = 0", fn);
    if (normalize != 0 && normalize != 1)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'normalize' = %d must be 0 or 1", fn, normalize);
    size_t tmp;
    if (ssli_mul_overflow(n, d, &tmp) || ssli_mul3_overflow(d, 2, sizeof(double), &tmp))
        return ssli_err(SSLK_E_OVERFLOW, "%s: n x d = %zu x %zu overflows", fn, n, d);
    SSLI_TRY(ssli_check_finite_f32(z, n, d, fn, "z"));
    double *mean = ssli_calloc(ctx, 2 * d, sizeof(double));
    if (!mean) return ssli_alloc_status();
    double *var = mean + d;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            const float *row = z + i * d;
            double s = 1;
            if (normalize) {
                double nn = 0;
                for (size_t t = 0; t < d; t++) nn += (double)row[t] * row[t];
                s = nn > 0 ? 1.0 / sqrt(nn) : 0; /* a zero row stays zero */
            }
            for (size_t t = 0; t < d; t++) {
                double v = row[t] * s;
                if (pass == 0)
                    mean[t] += v / (double)n;
                else
                    var[t] += (v - mean[t]) * (v - mean[t]);
            }
        }
    double total = 0;
    for (size_t t = 0; t < d; t++) {
        double sd = sqrt(var[t] / (double)(n - 1));
        total += sd;
        if (per_dim) per_dim[t] = sd;
    }
    *mean_std = total / (double)d;
    ssli_free(ctx, mean);
    return SSLK_OK;
}
