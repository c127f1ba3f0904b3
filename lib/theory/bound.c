/* Bound report (design note 7): the computable parts of the
 * information-theoretic VICReg generalisation bound for a linear head on
 * frozen embeddings.  The paper's constants were not verified, so every part
 * is reported separately and the total only adds them as documented.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "linalg/linalg.h"
#include "theory_internal.h"

sslk_status sslk_vicreg_bound(sslk_ctx *ctx, const float *w, const float *b, size_t c, size_t k, const float *z,
                              const int32_t *labels, size_t n, const float *z1, const float *z2, size_t m,
                              double inv_weight, double complexity, double delta, sslk_bound_report *report) {
    static const char *fn = "sslk_vicreg_bound";
    SSLI_CHECK_PTR(w, fn);
    SSLI_CHECK_PTR(z, fn);
    SSLI_CHECK_PTR(labels, fn);
    SSLI_CHECK_PTR(z1, fn);
    SSLI_CHECK_PTR(z2, fn);
    SSLI_TRY(ssli_struct_check(report, sizeof(sslk_bound_report), fn, "report"));
    if (c < 2 || k < 1) return ssli_err(SSLK_E_SHAPE, "%s: c = %zu classes (>= 2) and k = %zu (>= 1)", fn, c, k);
    if (n < 1 || m < 1) return ssli_err(SSLK_E_SHAPE, "%s: n = %zu labelled and m = %zu pairs; both >= 1", fn, n, m);
    if (!(delta > 0 && delta < 1)) return ssli_err(SSLK_E_INVALID_ARG, "%s: 'delta' = %g must be in (0, 1)", fn, delta);
    if (!(inv_weight >= 0) || !isfinite(inv_weight))
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'inv_weight' = %g must be >= 0 and finite", fn, inv_weight);
    if (!(complexity >= 0) || !isfinite(complexity))
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'complexity' = %g must be >= 0 and finite", fn, complexity);
    size_t tmp;
    if (ssli_mul3_overflow(n > m ? n : m, c > k ? c : k, sizeof(double), &tmp) || ssli_mul_overflow(c, k, &tmp))
        return ssli_err(SSLK_E_OVERFLOW, "%s: sizes n = %zu, m = %zu, c = %zu, k = %zu overflow", fn, n, m, c, k);
    SSLI_TRY(ssli_check_finite_f32(w, c, k, fn, "w"));
    if (b) SSLI_TRY(ssli_check_finite_f32(b, 1, c, fn, "b"));
    SSLI_TRY(ssli_check_finite_f32(z, n, k, fn, "z"));
    SSLI_TRY(ssli_check_finite_f32(z1, m, k, fn, "z1"));
    SSLI_TRY(ssli_check_finite_f32(z2, m, k, fn, "z2"));
    for (size_t i = 0; i < n; i++)
        if (labels[i] < 0 || (size_t)labels[i] >= c)
            return ssli_err(SSLK_E_RANGE, "%s: 'labels[%zu]' = %d is outside [0, %zu)", fn, i, (int)labels[i], c);
    double *logit = ssli_malloc(ctx, c, sizeof(double));
    if (!logit) return ssli_alloc_status();
    double loss = 0, wrong = 0, inv = 0;
    for (size_t i = 0; i < n; i++) {
        double mx = -INFINITY;
        size_t arg = 0;
        for (size_t j = 0; j < c; j++) {
            double v = b ? b[j] : 0;
            for (size_t t = 0; t < k; t++) v += (double)w[j * k + t] * z[i * k + t];
            logit[j] = v;
            if (v > mx) {
                mx = v;
                arg = j;
            }
        }
        double se = 0;
        for (size_t j = 0; j < c; j++) se += exp(logit[j] - mx);
        loss += mx + log(se) - logit[labels[i]];
        wrong += arg != (size_t)labels[i];
    }
    for (size_t i = 0; i < m; i++) {
        double s = 0;
        for (size_t j = 0; j < c; j++) {
            double v = 0;
            for (size_t t = 0; t < k; t++) v += (double)w[j * k + t] * ((double)z1[i * k + t] - z2[i * k + t]);
            s += v * v;
        }
        inv += sqrt(s);
    }
    ssli_free(ctx, logit);
    sslk_bound_report r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.labelled_loss = loss / (double)n;
    r.labelled_error = wrong / (double)n;
    r.invariance = inv / (double)m;
    r.confidence = sqrt(log(1.0 / delta) / (2.0 * (double)n));
    r.complexity = complexity;
    r.total = r.labelled_loss + inv_weight * r.invariance + complexity + r.confidence;
    r.num_labelled = n;
    r.num_pairs = m;
    ssli_struct_out(report, &r, sizeof r);
    return SSLK_OK;
}
