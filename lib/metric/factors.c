/* Factor error ratios (ImageNet-X): accuracy of the samples showing each
 * factor, relative to the overall error.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>

#include "metric_internal.h"

sslk_status sslk_factor_error_ratios(sslk_ctx *ctx, const uint8_t *correct, size_t n, const uint8_t *factors,
                                     size_t num_factors, double *accuracy, double *factor_acc, double *error_ratio,
                                     int64_t *count, int64_t *worst_factor) {
    static const char *fn = "sslk_factor_error_ratios";
    SSLI_CHECK_PTR(correct, fn);
    SSLI_CHECK_PTR(factors, fn);
    if (n == 0) return ssli_err(SSLK_E_SHAPE, "%s: 'n' = 0 samples", fn);
    if (num_factors == 0) return ssli_err(SSLK_E_SHAPE, "%s: 'num_factors' = 0", fn);
    size_t tot;
    if (ssli_mul_overflow(n, num_factors, &tot)) return ssli_err(SSLK_E_OVERFLOW, "%s: n x F overflows", fn);
    for (size_t i = 0; i < n; i++)
        if (correct[i] > 1) return ssli_err(SSLK_E_RANGE, "%s: 'correct[%zu]' = %u is not 0 or 1", fn, i, correct[i]);
    for (size_t i = 0; i < tot; i++)
        if (factors[i] > 1)
            return ssli_err(SSLK_E_RANGE, "%s: 'factors[%zu][%zu]' = %u is not 0 or 1", fn, i / num_factors,
                            i % num_factors, factors[i]);
    int64_t *cnt = ssli_calloc(ctx, 2 * num_factors, sizeof(int64_t));
    if (!cnt) return ssli_alloc_status();
    int64_t *cor = cnt + num_factors, ncorrect = 0;
    for (size_t i = 0; i < n; i++) {
        ncorrect += correct[i];
        for (size_t f = 0; f < num_factors; f++)
            if (factors[i * num_factors + f]) {
                cnt[f]++;
                cor[f] += correct[i];
            }
    }
    double acc = (double)ncorrect / (double)n;
    int64_t worst = -1;
    double worst_acc = 0;
    for (size_t f = 0; f < num_factors; f++) {
        double a = cnt[f] ? (double)cor[f] / (double)cnt[f] : NAN;
        if (factor_acc) factor_acc[f] = a;
        if (error_ratio) error_ratio[f] = (cnt[f] && acc < 1) ? (1 - a) / (1 - acc) : NAN;
        if (count) count[f] = cnt[f];
        if (cnt[f] && (worst < 0 || a < worst_acc)) {
            worst = (int64_t)f;
            worst_acc = a;
        }
    }
    if (accuracy) *accuracy = acc;
    if (worst_factor) *worst_factor = worst;
    ssli_free(ctx, cnt);
    return SSLK_OK;
}
