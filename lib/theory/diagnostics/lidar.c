/* LiDAR (Thilak et al., ICLR 2024; design note 1.4): RankMe-style effective
 * rank of the LDA matrix whose "classes" are the samples and whose
 * within-class spread is the spread of their views.  The eigenvalues of
 * Sigma_w^{-1/2} Sigma_b Sigma_w^{-1/2} are those of the generalised
 * problem Sigma_b v = lambda Sigma_w v, solved without forming the root.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "linalg/linalg.h"
#include "sslkit/metrics.h"
#include "theory/theory_internal.h"

sslk_status sslk_lidar(sslk_ctx *ctx, const float *e, size_t n, size_t q, size_t d, double delta, double eps,
                       double *value, double *spectrum) {
    static const char *fn = "sslk_lidar";
    SSLI_CHECK_PTR(e, fn);
    SSLI_CHECK_PTR(value, fn);
    if (n < 2) return ssli_err(SSLK_E_SHAPE, "%s: 'n' = %zu samples; at least 2 are needed", fn, n);
    if (q < 2) return ssli_err(SSLK_E_SHAPE, "%s: 'q' = %zu views per sample; at least 2 are needed", fn, q);
    if (d < 1) return ssli_err(SSLK_E_SHAPE, "%s: 'd' = 0", fn);
    if (!(delta >= 0) || !isfinite(delta))
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'delta' = %g must be >= 0 and finite", fn, delta);
    if (!(eps >= 0) || !isfinite(eps))
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'eps' = %g must be >= 0 and finite", fn, eps);
    size_t rows, tmp;
    if (ssli_mul_overflow(n, q, &rows) || ssli_mul3_overflow(rows, d, sizeof(double), &tmp) ||
        ssli_mul3_overflow(d, d, sizeof(double), &tmp))
        return ssli_err(SSLK_E_OVERFLOW, "%s: n x q x d = %zu x %zu x %zu overflows", fn, n, q, d);
    SSLI_TRY(ssli_check_finite_f32(e, rows, d, fn, "e"));
    size_t bs = ((size_t)1 << 18) / (q * d);
    if (bs == 0) bs = 1;
    if (bs > n) bs = n;
    double *M = ssli_calloc(ctx, n * d, sizeof(double)); /* view means */
    double *Sb = ssli_calloc(ctx, d * d, sizeof(double));
    double *Sw = ssli_calloc(ctx, d * d, sizeof(double));
    double *blk = ssli_malloc(ctx, bs * q * d, sizeof(double));
    double *mu = ssli_calloc(ctx, d, sizeof(double));
    double *w = ssli_malloc(ctx, d, sizeof(double));
    sslk_status st = SSLK_OK;
    if (!M || !Sb || !Sw || !blk || !mu || !w) {
        st = ssli_alloc_status();
        goto done;
    }
    for (size_t i0 = 0; i0 < n; i0 += bs) {
        size_t ni = n - i0 < bs ? n - i0 : bs;
        for (size_t i = 0; i < ni; i++) {
            double *mi = M + (i0 + i) * d;
            for (size_t a = 0; a < q; a++)
                for (size_t t = 0; t < d; t++) mi[t] += e[((i0 + i) * q + a) * d + t];
            for (size_t t = 0; t < d; t++) mi[t] /= (double)q;
            for (size_t a = 0; a < q; a++)
                for (size_t t = 0; t < d; t++) blk[(i * q + a) * d + t] = e[((i0 + i) * q + a) * d + t] - mi[t];
        }
        ssli_dsyrk(ctx, true, d, ni * q, 1.0, blk, d, 1.0, Sw, d);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < d; t++) mu[t] += M[i * d + t];
    for (size_t t = 0; t < d; t++) mu[t] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < d; t++) M[i * d + t] -= mu[t];
    ssli_dsyrk(ctx, true, d, n, 1.0 / (double)(n - 1), M, d, 0.0, Sb, d);
    double wn = 1.0 / ((double)n * (double)(q - 1));
    for (size_t i = 0; i < d * d; i++) Sw[i] *= wn;
    for (size_t t = 0; t < d; t++) Sw[t * d + t] += delta;
    st = ssli_dsygv(d, Sb, d, Sw, d, w, false);
    if (st != SSLK_OK) {
        st = ssli_err(st, "%s: the within-sample scatter (views around their mean, + delta = %g) is singular; "
                          "use delta > 0",
                      fn, delta);
        goto done;
    }
    for (size_t j = 0; j < d / 2; j++) { /* descending */
        double t = w[j];
        w[j] = w[d - 1 - j];
        w[d - 1 - j] = t;
    }
    for (size_t j = 0; j < d; j++)
        if (w[j] < 0) w[j] = 0;
    st = sslk_rankme_spectrum(w, d, eps, value);
    if (st == SSLK_E_DEGENERATE)
        st = ssli_err(st, "%s: the %zu samples' view means are all equal: LiDAR is undefined", fn, n);
    if (st == SSLK_OK && spectrum) memcpy(spectrum, w, d * sizeof(double));
done:
    ssli_free(ctx, M);
    ssli_free(ctx, Sb);
    ssli_free(ctx, Sw);
    ssli_free(ctx, blk);
    ssli_free(ctx, mu);
    ssli_free(ctx, w);
    return st;
}
