/* Kernel Galerkin Laplacian eigenfunctions (the minimal-variations paper's
 * klap): Gaussian features centred on p representers, the Dirichlet form L
 * and the L2 Gram R estimated on the n samples, L a = lambda R a solved in
 * R's well-conditioned eigenbasis.  With K_ti = k(x_t, y_i) and
 * grad_x k(x, y) = -(2 / sigma^2)(x - y) k(x, y):
 *   n sigma^4 / 4 * L_ij = sum_t K_ti K_tj (x_t - y_i).(x_t - y_j)
 *     = [K^T diag(|x|^2) K - (K o G)^T K - K^T (K o G) + (K^T K) o (Y Y^T)]_ij
 * with G = X Y^T, everything in double after centring on the representers'
 * mean (translation-invariant, and it keeps the expansion well-conditioned).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "linalg/linalg.h"
#include "spectral/spectral_internal.h"

#define GBLOCK 512 /* sample rows per accumulation block */

/* Gaussian kernel rows: K[b x p] = exp(-|q_r - y_i|^2 / s2) for rows q (b x d,
 * double, centred), y (p x d) with squared norms ysq; G gets q y^T. */
static void kernel_block(const sslk_ctx *ctx, const double *q, size_t b, const double *y, const double *ysq,
                         size_t p, size_t d, double s2, double *G, double *K, double *qsq) {
    ssli_dgemm(ctx, false, true, b, p, d, 1.0, q, d, y, d, 0.0, G, p);
    for (size_t r = 0; r < b; r++) {
        double a = 0;
        for (size_t c = 0; c < d; c++) a += q[r * d + c] * q[r * d + c];
        qsq[r] = a;
        for (size_t i = 0; i < p; i++) {
            double d2 = a + ysq[i] - 2 * G[r * p + i];
            K[r * p + i] = exp(-(d2 > 0 ? d2 : 0) / s2);
        }
    }
}

/* Representers as centred doubles and their squared norms; mean into mean[d]. */
static void center_rep(const float *y, size_t p, size_t d, double *yd, double *ysq, double *mean) {
    memset(mean, 0, d * sizeof(double));
    for (size_t i = 0; i < p; i++)
        for (size_t c = 0; c < d; c++) mean[c] += y[i * d + c];
    for (size_t c = 0; c < d; c++) mean[c] /= (double)p;
    for (size_t i = 0; i < p; i++) {
        double a = 0;
        for (size_t c = 0; c < d; c++) {
            yd[i * d + c] = y[i * d + c] - mean[c];
            a += yd[i * d + c] * yd[i * d + c];
        }
        ysq[i] = a;
    }
}

static sslk_status solve(const sslk_ctx *ctx, size_t p, double *R, double *L, size_t k, size_t drop, double *alpha,
                         double *eigenvalues, const char *fn) {
    double *r = ssli_malloc(ctx, p, sizeof(double));
    double *T = ssli_malloc(ctx, p, p * sizeof(double));
    double *LT = ssli_malloc(ctx, p, p * sizeof(double));
    double *M = ssli_malloc(ctx, p, p * sizeof(double));
    double *w = ssli_malloc(ctx, p, sizeof(double));
    sslk_status s = SSLK_OK;
    if (!r || !T || !LT || !M || !w) {
        s = ssli_alloc_status();
        goto done;
    }
    s = ssli_dsyev(p, R, p, r, true); /* R now holds its eigenvectors as columns */
    if (s != SSLK_OK) goto done;
    double rmax = r[p - 1];
    size_t m = 0;
    /* keep the well-conditioned part of R (ascending: the tail), T = U_m r^-1/2 */
    for (size_t j = 0; j < p; j++) {
        size_t src = p - 1 - j;
        if (!(r[src] > 1e-10 * rmax)) break;
        double f = 1.0 / sqrt(r[src]);
        for (size_t i = 0; i < p; i++) T[i * p + m] = R[i * p + src] * f;
        m++;
    }
    if (k + drop > m) {
        s = ssli_err(SSLK_E_SHAPE,
                     "%s: k = %zu (plus %zu dropped) eigenfunctions exceed the %zu well-conditioned directions of "
                     "the kernel Gram matrix (more representers p or a larger sigma)",
                     fn, k, drop, m);
        goto done;
    }
    ssli_dgemm(ctx, false, false, p, m, p, 1.0, L, p, T, p, 0.0, LT, p);        /* L T, p x m (ld p) */
    ssli_dgemm(ctx, true, false, m, m, p, 1.0, T, p, LT, p, 0.0, M, m);         /* T^T L T, m x m */
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < i; j++) M[i * m + j] = M[j * m + i] = 0.5 * (M[i * m + j] + M[j * m + i]);
    s = ssli_dsyev(m, M, m, w, true);
    if (s != SSLK_OK) goto done;
    /* alpha = T V[:, drop .. drop + k) */
    ssli_dgemm(ctx, false, false, p, k, m, 1.0, T, p, M + drop, m, 0.0, alpha, k);
    for (size_t c = 0; c < k; c++) {
        double best = 0;
        size_t at = 0;
        for (size_t i = 0; i < p; i++)
            if (fabs(alpha[i * k + c]) > best) {
                best = fabs(alpha[i * k + c]);
                at = i;
            }
        if (alpha[at * k + c] < 0)
            for (size_t i = 0; i < p; i++) alpha[i * k + c] = -alpha[i * k + c];
        if (eigenvalues) eigenvalues[c] = w[c + drop];
    }
done:
    ssli_free(ctx, r);
    ssli_free(ctx, T);
    ssli_free(ctx, LT);
    ssli_free(ctx, M);
    ssli_free(ctx, w);
    return s;
}

sslk_status sslk_spectral_galerkin_fit(sslk_spectral *sp, const float *x, size_t n, size_t d, size_t p, size_t k,
                                       double *alpha, double *eigenvalues) {
    static const char *fn = "sslk_spectral_galerkin_fit";
    SSLI_CHECK_PTR(sp, fn);
    SSLI_CHECK_PTR(alpha, fn);
    SSLI_TRY(ssli_spectral_check_x(x, n, d, fn));
    size_t drop = (size_t)ssli_spectral_get(sp, SSLK_SPECTRAL_DROP_FIRST);
    size_t cap = (size_t)ssli_spectral_get(sp, SSLK_SPECTRAL_DENSE_MAX_N);
    if (p < 2 || p > n)
        return ssli_err(SSLK_E_SHAPE, "%s: p = %zu representers must lie in [2, n = %zu]", fn, p, n);
    if (p > cap)
        return ssli_err(SSLK_E_LIMIT,
                        "%s: p = %zu representers are above dense_max_n = %zu (p x p matrices, O(n p^2) time); "
                        "raise SSLK_SPECTRAL_DENSE_MAX_N",
                        fn, p, cap);
    if (k < 1 || k + drop > p)
        return ssli_err(SSLK_E_SHAPE, "%s: k = %zu (plus %zu dropped) must be >= 1 and at most p = %zu", fn, k, drop,
                        p);
    const sslk_ctx *ctx = sp->ctx;
    double sigma = ssli_spectral_get(sp, SSLK_SPECTRAL_SIGMA), s2 = sigma * sigma;
    size_t pp = p * p, bmax = n < GBLOCK ? n : GBLOCK;
    double *yd = ssli_malloc(ctx, p, d * sizeof(double));
    double *ysq = ssli_malloc(ctx, p, sizeof(double));
    double *mean = ssli_malloc(ctx, d, sizeof(double));
    double *xb = ssli_malloc(ctx, bmax, d * sizeof(double));
    double *G = ssli_malloc(ctx, bmax, p * sizeof(double));
    double *K = ssli_malloc(ctx, bmax, p * sizeof(double));
    double *KA = ssli_malloc(ctx, bmax, p * sizeof(double));
    double *qsq = ssli_malloc(ctx, bmax, sizeof(double));
    double *R = ssli_calloc(ctx, pp, sizeof(double));
    double *L1 = ssli_calloc(ctx, pp, sizeof(double));
    double *M2 = ssli_calloc(ctx, pp, sizeof(double));
    double *YY = ssli_malloc(ctx, pp, sizeof(double));
    sslk_status s = SSLK_OK;
    if (!yd || !ysq || !mean || !xb || !G || !K || !KA || !qsq || !R || !L1 || !M2 || !YY) {
        s = ssli_alloc_status();
        goto done;
    }
    center_rep(x, p, d, yd, ysq, mean);
    ssli_dgemm(ctx, false, true, p, p, d, 1.0, yd, d, yd, d, 0.0, YY, p);
    for (size_t t0 = 0; t0 < n; t0 += bmax) {
        size_t b = t0 + bmax < n ? bmax : n - t0;
        for (size_t r = 0; r < b; r++)
            for (size_t c = 0; c < d; c++) xb[r * d + c] = x[(t0 + r) * d + c] - mean[c];
        kernel_block(ctx, xb, b, yd, ysq, p, d, s2, G, K, qsq);
        ssli_dgemm(ctx, true, false, p, p, b, 1.0, K, p, K, p, 1.0, R, p); /* K^T K */
        for (size_t r = 0; r < b; r++)
            for (size_t i = 0; i < p; i++) KA[r * p + i] = K[r * p + i] * qsq[r];
        ssli_dgemm(ctx, true, false, p, p, b, 1.0, KA, p, K, p, 1.0, L1, p); /* K^T diag(|x|^2) K */
        for (size_t r = 0; r < b; r++)
            for (size_t i = 0; i < p; i++) KA[r * p + i] = K[r * p + i] * G[r * p + i];
        ssli_dgemm(ctx, true, false, p, p, b, 1.0, KA, p, K, p, 1.0, M2, p); /* (K o G)^T K */
    }
    double fl = 4.0 / (s2 * s2 * (double)n);
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < p; j++) {
            size_t ij = i * p + j, ji = j * p + i;
            L1[ij] = fl * (L1[ij] - M2[ij] - M2[ji] + R[ij] * YY[ij]);
        }
    for (size_t i = 0; i < pp; i++) R[i] /= (double)n;
    for (size_t i = 0; i < p; i++) /* exact symmetry for LAPACK */
        for (size_t j = 0; j < i; j++) {
            L1[i * p + j] = L1[j * p + i] = 0.5 * (L1[i * p + j] + L1[j * p + i]);
            R[i * p + j] = R[j * p + i] = 0.5 * (R[i * p + j] + R[j * p + i]);
        }
    s = solve(ctx, p, R, L1, k, drop, alpha, eigenvalues, fn);
done:
    ssli_free(ctx, yd);
    ssli_free(ctx, ysq);
    ssli_free(ctx, mean);
    ssli_free(ctx, xb);
    ssli_free(ctx, G);
    ssli_free(ctx, K);
    ssli_free(ctx, KA);
    ssli_free(ctx, qsq);
    ssli_free(ctx, R);
    ssli_free(ctx, L1);
    ssli_free(ctx, M2);
    ssli_free(ctx, YY);
    return s;
}

sslk_status sslk_spectral_galerkin_eval(sslk_spectral *sp, const float *y, size_t p, size_t d, const double *alpha,
                                        size_t k, const float *q, size_t m, float *out) {
    static const char *fn = "sslk_spectral_galerkin_eval";
    SSLI_CHECK_PTR(sp, fn);
    SSLI_CHECK_PTR(y, fn);
    SSLI_CHECK_PTR(alpha, fn);
    SSLI_CHECK_PTR(q, fn);
    SSLI_CHECK_PTR(out, fn);
    size_t pd, pk, md;
    if (p < 1 || d < 1 || k < 1 || m < 1)
        return ssli_err(SSLK_E_SHAPE, "%s: p = %zu, d = %zu, k = %zu, m = %zu must all be >= 1", fn, p, d, k, m);
    if (ssli_mul_overflow(p, d, &pd) || ssli_mul_overflow(p, k, &pk) || ssli_mul_overflow(m, d, &md))
        return ssli_err(SSLK_E_OVERFLOW, "%s: p = %zu, d = %zu, k = %zu, m = %zu overflow a size", fn, p, d, k, m);
    SSLI_TRY(ssli_check_finite_f32(y, p, d, fn, "y"));
    SSLI_TRY(ssli_check_finite_f32(q, m, d, fn, "q"));
    size_t bad = ssli_first_nonfinite_f64(alpha, pk);
    if (bad != SIZE_MAX)
        return ssli_err(SSLK_E_NONFINITE, "%s: alpha[%zu][%zu] is not finite", fn, bad / k, bad % k);
    const sslk_ctx *ctx = sp->ctx;
    double sigma = ssli_spectral_get(sp, SSLK_SPECTRAL_SIGMA);
    size_t bmax = m < GBLOCK ? m : GBLOCK;
    double *yd = ssli_malloc(ctx, pd, sizeof(double));
    double *ysq = ssli_malloc(ctx, p, sizeof(double));
    double *mean = ssli_malloc(ctx, d, sizeof(double));
    double *qb = ssli_malloc(ctx, bmax, d * sizeof(double));
    double *G = ssli_malloc(ctx, bmax, p * sizeof(double));
    double *K = ssli_malloc(ctx, bmax, p * sizeof(double));
    double *qsq = ssli_malloc(ctx, bmax, sizeof(double));
    double *ob = ssli_malloc(ctx, bmax, k * sizeof(double));
    sslk_status s = SSLK_OK;
    if (!yd || !ysq || !mean || !qb || !G || !K || !qsq || !ob) {
        s = ssli_alloc_status();
        goto done;
    }
    center_rep(y, p, d, yd, ysq, mean);
    for (size_t t0 = 0; t0 < m; t0 += bmax) {
        size_t b = t0 + bmax < m ? bmax : m - t0;
        for (size_t r = 0; r < b; r++)
            for (size_t c = 0; c < d; c++) qb[r * d + c] = q[(t0 + r) * d + c] - mean[c];
        kernel_block(ctx, qb, b, yd, ysq, p, d, sigma * sigma, G, K, qsq);
        ssli_dgemm(ctx, false, false, b, k, p, 1.0, K, p, alpha, k, 0.0, ob, k);
        for (size_t i = 0; i < b * k; i++) out[t0 * k + i] = (float)ob[i];
    }
done:
    ssli_free(ctx, yd);
    ssli_free(ctx, ysq);
    ssli_free(ctx, mean);
    ssli_free(ctx, qb);
    ssli_free(ctx, G);
    ssli_free(ctx, K);
    ssli_free(ctx, qsq);
    ssli_free(ctx, ob);
    return s;
}
