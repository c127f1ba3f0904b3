/* Barlow Twins (Zbontar et al. 2021), conventions of the official code
 * (facebookresearch/barlowtwins): each view goes through a batch norm without
 * affine parameters in training mode, x = (z - mean) / sqrt(var + eps) with the
 * BIASED variance (divide by n) and eps = 1e-5 (torch BatchNorm1d), then
 * C = X1^T X2 / n (d x d) and
 *   L = sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2,   lambda = 0.0051.
 * Backward: dL/dC = G (G_ii = -2 (1 - C_ii), G_ij = 2 lambda C_ij),
 * dX1 = X2 G^T / n, dX2 = X1 G / n, then the batch-norm backward per column
 * dz = (dx - mean(dx) - x mean(dx x)) / sqrt(var + eps).
 * When n < d the d x d matrix is never formed: ||C||_F^2 = <X1 X1^T, X2 X2^T> / n^2
 * and X2 C^T = (X2 X2^T) X1 / n use n x n Grams (O(n^2 d) instead of O(n d^2)).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLI_IN_TEMPLATE
#include <string.h>

#include "loss_internal.h"

static const ssli_setting_def barlow_defs[] = {
    {SSLK_BARLOW_LAMBDA, "lambd", SSLK_SETTING_F64, 0, 1e6, 0.0051,
     "weight of the off-diagonal squares (official code's --lambd)"},
    {SSLK_BARLOW_EPS, "eps", SSLK_SETTING_F64, 1e-12, 1, 1e-5,
     "added to the biased variance inside the batch-norm sqrt (torch BatchNorm1d)"},
};
const ssli_setting_table ssli_settings_barlow = {"barlow_twins", barlow_defs,
                                                 sizeof barlow_defs / sizeof barlow_defs[0], NULL};

static const char *const barlow_terms[] = {"on_diagonal", "off_diagonal"};

#define SSLI_LOSS_TEMPLATE "barlow.c"
#include "loss_template.h"

static sslk_status barlow_compute(sslk_loss *L, const ssli_loss_in *in, double *value) {
    const char *fn = "sslk_loss_compute(barlow_twins)";
    if (in->nviews != 2)
        return ssli_err(SSLK_E_SHAPE, "%s: Barlow Twins takes exactly 2 views, got %zu", fn, in->nviews);
    if (in->indices || in->targets)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: takes no indices or targets (row i of each view is sample i)", fn);
    SSLI_TRY(ssli_loss_need_rows(fn, in->n, 2));
    const size_t m = in->n < in->d ? in->n : in->d; /* the Gram side used */
    size_t mm;
    if (ssli_mul_overflow(m, m, &mm) || mm > ((size_t)1 << 40))
        return ssli_err(SSLK_E_OVERFLOW, "%s: the %zu x %zu cross-correlation (n = %zu, d = %zu) is too large", fn, m,
                        m, in->n, in->d);
    return ssli_loss_double(L) ? barlow_run_d(L, in, value) : barlow_run_f(L, in, value);
}

const ssli_loss_vt ssli_loss_barlow_vt = {
    SSLK_LOSS_BARLOW_TWINS, "barlow_twins", &ssli_settings_barlow, barlow_terms, 2, 0, barlow_compute,
    NULL, NULL, NULL,
};

#else /* ---- template: R = float or double ---------------------------------- */

/* X = batch-normalised Z (biased variance); s[j] = sqrt(var_j + eps).  Column
 * blocks, rows in order: the sums do not depend on the thread count. */
static void F(barlow_bn)(const sslk_ctx *ctx, const float *Z, size_t n, size_t d, double eps, R *X,
                         double *s) {
    long long nb = (long long)((d + 63) / 64);
#pragma omp parallel for schedule(static) num_threads(ssli_loss_nt(ctx, n * d))
    for (long long q = 0; q < nb; q++) {
        size_t j0 = (size_t)q * 64, j1 = j0 + 64 < d ? j0 + 64 : d;
        double mu[64] = {0}, var[64] = {0};
        for (size_t i = 0; i < n; i++)
            for (size_t j = j0; j < j1; j++) mu[j - j0] += (double)Z[i * d + j];
        for (size_t j = j0; j < j1; j++) mu[j - j0] /= (double)n;
        for (size_t i = 0; i < n; i++)
            for (size_t j = j0; j < j1; j++) {
                double t = (double)Z[i * d + j] - mu[j - j0];
                var[j - j0] += t * t;
            }
        for (size_t j = j0; j < j1; j++) {
            double sj = sqrt(var[j - j0] / (double)n + eps), inv = 1.0 / sj;
            s[j] = sj;
            for (size_t i = 0; i < n; i++) X[i * d + j] = (R)(((double)Z[i * d + j] - mu[j - j0]) * inv);
        }
    }
}

/* gz = (dX - mean(dX) - X mean(dX X)) / s, per column */
static void F(barlow_bn_back)(const sslk_ctx *ctx, const R *X, const R *dX, const double *s, size_t n,
                              size_t d, float *gz) {
    long long nb = (long long)((d + 63) / 64);
#pragma omp parallel for schedule(static) num_threads(ssli_loss_nt(ctx, n * d))
    for (long long q = 0; q < nb; q++) {
        size_t j0 = (size_t)q * 64, j1 = j0 + 64 < d ? j0 + 64 : d;
        double m1[64] = {0}, m2[64] = {0};
        for (size_t i = 0; i < n; i++)
            for (size_t j = j0; j < j1; j++) {
                double g = (double)dX[i * d + j];
                m1[j - j0] += g;
                m2[j - j0] += g * (double)X[i * d + j];
            }
        for (size_t j = j0; j < j1; j++) m1[j - j0] /= (double)n, m2[j - j0] /= (double)n;
        for (size_t i = 0; i < n; i++)
            for (size_t j = j0; j < j1; j++) {
                double t = (double)dX[i * d + j] - m1[j - j0] - (double)X[i * d + j] * m2[j - j0];
                gz[i * d + j] = (float)(t / s[j]);
            }
    }
}

static sslk_status F(barlow_run)(sslk_loss *L, const ssli_loss_in *in, double *value) {
    const sslk_ctx *ctx = L->ctx;
    const size_t n = in->n, d = in->d, m = n < d ? n : d;
    const bool small_n = n < d;
    const double lam = ssli_loss_setting(L, SSLK_BARLOW_LAMBDA), eps = ssli_loss_setting(L, SSLK_BARLOW_EPS);
    const bool back = in->grads && (in->grads[0] || in->grads[1]);
    size_t bytes = (back ? 4 : 2) * SSLI_RUP(n * d * sizeof(R)) + 2 * SSLI_RUP(m * m * sizeof(R)) +
                   4 * SSLI_RUP(d * sizeof(double));
    char *p = ssli_loss_workspace(L, bytes);
    if (!p) return ssli_alloc_status();
    R *X1 = ssli_carve(&p, n * d * sizeof(R));
    R *X2 = ssli_carve(&p, n * d * sizeof(R));
    R *C = ssli_carve(&p, m * m * sizeof(R));  /* d x d: C, then dL/dC; n x n: X1 X1^T */
    R *G2 = ssli_carve(&p, m * m * sizeof(R)); /* n x n form: X2 X2^T */
    double *s1 = ssli_carve(&p, d * sizeof(double));
    double *s2 = ssli_carve(&p, d * sizeof(double));
    double *dg = ssli_carve(&p, d * sizeof(double)); /* C_ii */
    double *rows = ssli_carve(&p, d * sizeof(double));
    F(barlow_bn)(ctx, in->views[0], n, d, eps, X1, s1);
    F(barlow_bn)(ctx, in->views[1], n, d, eps, X2, s2);
    /* the diagonal in double from X1, X2 (C_ii is near 1: a float GEMM value
     * would lose digits of 1 - C_ii); column blocks, rows in order */
    for (size_t i = 0; i < d; i++) dg[i] = 0;
    for (size_t k = 0; k < n; k++) {
        const R *a = X1 + k * d, *b = X2 + k * d;
        for (size_t i = 0; i < d; i++) dg[i] += (double)a[i] * (double)b[i];
    }
    double on = 0, dsq = 0;
    for (size_t i = 0; i < d; i++) {
        dg[i] /= (double)n;
        on += (1.0 - dg[i]) * (1.0 - dg[i]);
        dsq += dg[i] * dg[i];
    }
    const int nt = ssli_loss_nt(ctx, m * m);
    double off = 0;
    if (small_n) {
        /* n < d: ||C||_F^2 = <X1 X1^T, X2 X2^T>_F / n^2 with n x n Grams (as VICReg's
         * smaller Gram); the off-diagonal part is that minus the diagonal squares */
        SYRK(ctx, false, n, d, (R)1, X1, d, (R)0, C, n);
        SYRK(ctx, false, n, d, (R)1, X2, d, (R)0, G2, n);
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long i = 0; i < (long long)n; i++) {
            double acc = 0;
            for (size_t j = 0; j < n; j++) acc += (double)C[(size_t)i * n + j] * (double)G2[(size_t)i * n + j];
            rows[i] = acc;
        }
        for (size_t i = 0; i < n; i++) off += rows[i];
        off = off / ((double)n * (double)n) - dsq;
        off = off > 0 ? off : 0; /* a difference of sums: rounding may dip below 0 */
    } else {
        GEMM(ctx, true, false, d, d, n, (R)(1.0 / (double)n), X1, d, X2, d, (R)0, C, d);
        /* off-diagonal squares per row (double); C becomes G = dL/dC in place */
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long i = 0; i < (long long)d; i++) {
            R *c = C + (size_t)i * d;
            double acc = 0;
            for (size_t j = 0; j < d; j++) {
                double v = (double)c[j];
                if (j != (size_t)i) acc += v * v;
                c[j] = (R)(2.0 * lam * v);
            }
            c[i] = (R)(-2.0 * (1.0 - dg[i]));
            rows[i] = acc;
        }
        for (size_t i = 0; i < d; i++) off += rows[i];
    }
    L->terms[0] = on;
    L->terms[1] = off;
    *value = on + lam * off;
    if (!back) return SSLK_OK;
    R *dX1 = ssli_carve(&p, n * d * sizeof(R));
    R *dX2 = ssli_carve(&p, n * d * sizeof(R));
    const R inv_n = (R)(1.0 / (double)n);
    if (small_n) {
        /* G = 2 lam C + diag(g), g_i = -2 (1 - C_ii) - 2 lam C_ii:
         * dX1 = X2 G^T / n = (2 lam / n^2) (X2 X2^T) X1 + X2 diag(g) / n, dX2 alike */
        for (size_t i = 0; i < d; i++) rows[i] = (-2.0 * (1.0 - dg[i]) - 2.0 * lam * dg[i]) / (double)n;
        const R a = (R)(2.0 * lam / ((double)n * (double)n));
        for (int b = 0; b < 2; b++) {
            if (!in->grads[b]) continue;
            R *dX = b ? dX2 : dX1;
            const R *Xs = b ? X1 : X2, *Gs = b ? C : G2, *Xo = b ? X2 : X1;
            GEMM(ctx, false, false, n, d, n, a, Gs, n, Xo, d, (R)0, dX, d);
            /* + the other view scaled per column: Xs diag(g) / n */
#pragma omp parallel for schedule(static) num_threads(ssli_loss_nt(ctx, n * d))
            for (long long k = 0; k < (long long)n; k++)
                for (size_t i = 0; i < d; i++)
                    dX[(size_t)k * d + i] = (R)((double)dX[(size_t)k * d + i] +
                                                rows[i] * (double)Xs[(size_t)k * d + i]);
            F(barlow_bn_back)(ctx, b ? X2 : X1, dX, b ? s2 : s1, n, d, in->grads[b]);
        }
        return SSLK_OK;
    }
    if (in->grads[0]) {
        GEMM(ctx, false, true, n, d, d, inv_n, X2, d, C, d, (R)0, dX1, d);
        F(barlow_bn_back)(ctx, X1, dX1, s1, n, d, in->grads[0]);
    }
    if (in->grads[1]) {
        GEMM(ctx, false, false, n, d, d, inv_n, X1, d, C, d, (R)0, dX2, d);
        F(barlow_bn_back)(ctx, X2, dX2, s2, n, d, in->grads[1]);
    }
    return SSLK_OK;
}

#endif
