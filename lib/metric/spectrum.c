/* Functions of a spectrum: RankMe's exp-entropy and the alpha-ReQ power-law fit.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>

#include "metric_internal.h"

sslk_status sslk_rankme_spectrum(const double *s, size_t count, double eps, double *value) {
    static const char *fn = "sslk_rankme_spectrum";
    SSLI_CHECK_PTR(s, fn);
    SSLI_CHECK_PTR(value, fn);
    if (count == 0) return ssli_err(SSLK_E_SHAPE, "%s: 'count' is 0", fn);
    if (!(eps >= 0) || !isfinite(eps)) return ssli_err(SSLK_E_INVALID_ARG, "%s: 'eps' = %g must be >= 0", fn, eps);
    double total = 0;
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(s[i])) return ssli_err(SSLK_E_NONFINITE, "%s: 's[%zu]' is not finite", fn, i);
        if (s[i] < 0) return ssli_err(SSLK_E_RANGE, "%s: 's[%zu]' = %g is negative", fn, i, s[i]);
        total += s[i];
    }
    if (total == 0)
        return ssli_err(SSLK_E_DEGENERATE, "%s: every value of 's' is zero (all-zero matrix): RankMe is undefined",
                        fn);
    double h = 0;
    for (size_t i = 0; i < count; i++) {
        double p = s[i] / total + eps;
        if (p > 0) h -= p * log(p);
    }
    *value = exp(h);
    return SSLK_OK;
}

sslk_status sslk_alpha_req_spectrum(const double *eig, size_t count, double *alpha, double *r2) {
    static const char *fn = "sslk_alpha_req_spectrum";
    SSLI_CHECK_PTR(eig, fn);
    SSLI_CHECK_PTR(alpha, fn);
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(eig[i])) return ssli_err(SSLK_E_NONFINITE, "%s: 'eig[%zu]' is not finite", fn, i);
        if (i && eig[i] > eig[i - 1])
            return ssli_err(SSLK_E_INVALID_ARG, "%s: 'eig' must be in descending order (eig[%zu] = %g > eig[%zu] = %g)",
                            fn, i, eig[i], i - 1, eig[i - 1]);
    }
    /* 1-based ranks 6..100: skip the few leading directions, as the reference does. */
    double sw = 0, sx = 0, sy = 0;
    size_t last = count < 100 ? count : 100, m = 0;
    for (size_t i = 6; i <= last && eig[i - 1] > 0; i++, m++) {
        double w = 1.0 / (double)i;
        sw += w;
        sx += w * -log((double)i);
        sy += w * log(eig[i - 1]);
    }
    if (m < 2)
        return ssli_err(SSLK_E_DEGENERATE,
                        "%s: only %zu positive eigenvalues in ranks 6..100 (count = %zu): at least 2 are needed", fn,
                        m, count);
    double mx = sx / sw, my = sy / sw, sxx = 0, sxy = 0, syy = 0;
    for (size_t i = 6; i < 6 + m; i++) {
        double w = 1.0 / (double)i, x = -log((double)i) - mx, y = log(eig[i - 1]) - my;
        sxx += w * x * x;
        sxy += w * x * y;
        syy += w * y * y;
    }
    double a = sxy / sxx;
    *alpha = a;
    if (r2) {
        double res = syy - a * sxy; /* weighted residual sum of squares */
        *r2 = syy > 0 ? 1.0 - (res < 0 ? 0 : res) / syy : 1.0;
    }
    return SSLK_OK;
}
