/* Entropy-estimator VICReg with the pairwise-distance mixture estimator
 * (Kolchinsky & Tracey 2017), constants dropped:
 *   H(Z) = log n - (1/n) sum_i log sum_j exp(-D_ij),  D_ij = |z_i - z_j|^2 / (2 s2)
 *   (KL, upper bound) or / (8 s2) (Bhattacharyya, lower bound), j = i kept;
 *   s2 = sigma2 (* d when sigma2_per_dim);
 *   L = sim_coeff * s(Z, Z') - entropy_coeff * (H(Z) + H(Z')).
 * dH/dz_k = (2 kappa / n) sum_j (W_kj + W_jk)(z_k - z_j), W = row softmax of -D.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLI_IN_TEMPLATE
#include <string.h>

#include "loss_internal.h"

static const ssli_setting_def pairdist_defs[] = {
    {SSLK_VICREG_PAIRDIST_SIM_COEFF, "sim_coeff", SSLK_SETTING_F64, 0, 1e6, 25, "invariance weight"},
    {SSLK_VICREG_PAIRDIST_ENTROPY_COEFF, "entropy_coeff", SSLK_SETTING_F64, 0, 1e6, 25, "entropy weight eta"},
    {SSLK_VICREG_PAIRDIST_SIGMA2, "sigma2", SSLK_SETTING_F64, 1e-12, 1e12, 1, "kernel variance sigma^2"},
    {SSLK_VICREG_PAIRDIST_SIGMA2_PER_DIM, "sigma2_per_dim", SSLK_SETTING_I64, 0, 1, 1,
     "1: effective sigma^2 = sigma2 * d (distances per dimension)"},
    {SSLK_VICREG_PAIRDIST_ESTIMATOR, "estimator", SSLK_SETTING_I64, 0, 1, 0,
     "0 = KL (D / 2 sigma^2, upper bound); 1 = Bhattacharyya (D / 8 sigma^2, lower bound)"},
};
static const ssli_setting_choices pairdist_choices[] = {
    {SSLK_VICREG_PAIRDIST_ESTIMATOR, (const char *const[]){"kl", "bhattacharyya", NULL}},
    {0, NULL},
};
const ssli_setting_table ssli_settings_vicreg_pairdist = {"vicreg_pairdist", pairdist_defs,
                                                          sizeof pairdist_defs / sizeof pairdist_defs[0], pairdist_choices};

static const char *const pairdist_terms[] = {"invariance", "entropy"};

#define SSLI_LOSS_TEMPLATE "vicreg_pairdist.c"
#include "loss_template.h"

static sslk_status pairdist_compute(sslk_loss *L, const ssli_loss_in *in, double *value) {
    const char *fn = "sslk_loss_compute(vicreg_pairdist)";
    if (in->nviews != 2) return ssli_err(SSLK_E_SHAPE, "%s: takes exactly 2 views, got %zu", fn, in->nviews);
    SSLI_TRY(ssli_loss_need_rows(fn, in->n, 2));
    if (in->n > ((size_t)1 << 20)) return ssli_err(SSLK_E_OVERFLOW, "%s: n = %zu is too large", fn, in->n);
    double lam = ssli_loss_setting(L, SSLK_VICREG_PAIRDIST_SIM_COEFF);
    double eta = ssli_loss_setting(L, SSLK_VICREG_PAIRDIST_ENTROPY_COEFF);
    double s2 = ssli_loss_setting(L, SSLK_VICREG_PAIRDIST_SIGMA2);
    if (ssli_loss_setting(L, SSLK_VICREG_PAIRDIST_SIGMA2_PER_DIM) != 0) s2 *= (double)in->d;
    double kappa = (ssli_loss_setting(L, SSLK_VICREG_PAIRDIST_ESTIMATOR) == SSLK_PAIRDIST_BHATTACHARYYA ? 0.125 : 0.5) / s2;
    double s = ssli_loss_invariance(L, in->views[0], in->views[1], in->n, in->d);
    if (isnan(s)) return ssli_alloc_status();
    double H[2];
    double cinv = lam * 2.0 / ((double)in->n * (double)in->d);
    SSLI_TRY(ssli_loss_double(L) ? pairdist_branches_d(L, in, cinv, eta, kappa, H)
                                 : pairdist_branches_f(L, in, cinv, eta, kappa, H));
    L->terms[0] = s;
    L->terms[1] = H[0] + H[1];
    *value = lam * s - eta * L->terms[1];
    return SSLK_OK;
}

const ssli_loss_vt ssli_loss_pairdist_vt = {
    SSLK_LOSS_VICREG_PAIRDIST, "vicreg_pairdist", &ssli_settings_vicreg_pairdist, pairdist_terms, 2, 0,
    pairdist_compute, NULL, NULL, NULL,
};

#else /* ---- template ---------------------------------------------------- */

static sslk_status F(pairdist_branches)(sslk_loss *L, const ssli_loss_in *in, double cinv, double eta, double kappa,
                                        double *H) {
    const sslk_ctx *ctx = L->ctx;
    const size_t n = in->n, d = in->d;
    size_t bytes = 2 * SSLI_RUP(n * d * sizeof(R)) + SSLI_RUP(n * n * sizeof(R)) + 3 * SSLI_RUP(n * sizeof(double)) +
                   SSLI_RUP(d * sizeof(double));
    char *p = ssli_loss_workspace(L, bytes);
    if (!p) return ssli_alloc_status();
    R *X = ssli_carve(&p, n * d * sizeof(R));
    R *Y = ssli_carve(&p, n * d * sizeof(R));
    R *G = ssli_carve(&p, n * n * sizeof(R));
    double *sq = ssli_carve(&p, n * sizeof(double));
    double *lse = ssli_carve(&p, n * sizeof(double));
    double *rs = ssli_carve(&p, n * sizeof(double));
    double *mu = ssli_carve(&p, d * sizeof(double));
    const int nt = ssli_threads(ctx);
    for (int b = 0; b < 2; b++) {
        const float *Z = in->views[b];
        ssli_loss_colmean(ctx, Z, n, d, mu); /* distances are translation invariant; centring helps rounding */
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long i = 0; i < (long long)n; i++) {
            double a = 0;
            for (size_t j = 0; j < d; j++) {
                R x = (R)((double)Z[(size_t)i * d + j] - mu[j]);
                X[(size_t)i * d + j] = x;
                a += (double)x * (double)x;
            }
            sq[i] = a;
        }
        SYRK(ctx, false, n, d, (R)1, X, d, (R)0, G, n);
        /* w_ij = exp(-D_ij) (symmetric, diagonal 1), s_i = sum_j w_ij */
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long ii = 0; ii < (long long)n; ii++) {
            size_t i = (size_t)ii;
            R *g = G + i * n;
            for (size_t j = 0; j < n; j++) {
                double dd = sq[i] + sq[j] - 2.0 * (double)g[j];
                g[j] = (R)(-kappa * (j == i || dd < 0 ? 0 : dd));
            }
            lse[i] = log(F(ssli_row_expsum)(g, g, n, (R)0));
        }
        double acc = 0;
        for (size_t i = 0; i < n; i++) acc += lse[i];
        H[b] = log((double)n) - acc / (double)n;
        float *gout = in->grads ? in->grads[b] : NULL;
        if (!gout) continue;
        /* A = W + W^T with W_ij = w_ij / s_i: A_ij = w_ij (1/s_i + 1/s_j); rowsum(A) */
        for (size_t i = 0; i < n; i++) sq[i] = exp(-lse[i]); /* 1 / s_i (sq no longer needed) */
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long ii = 0; ii < (long long)n; ii++) {
            size_t i = (size_t)ii;
            R *g = G + i * n;
            double a = 0;
            for (size_t j = 0; j < n; j++) {
                g[j] = (R)((double)g[j] * (sq[i] + sq[j]));
                a += (double)g[j];
            }
            rs[i] = a;
        }
        GEMM(ctx, false, false, n, d, n, (R)1, G, n, X, d, (R)0, Y, d);
        const double ce = 2.0 * kappa / (double)n * eta;
        const double ci = b == 0 ? cinv : -cinv;
        const float *Za = in->views[0], *Zb = in->views[1];
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long i = 0; i < (long long)n; i++)
            for (size_t j = 0; j < d; j++) {
                size_t o = (size_t)i * d + j;
                double dh = rs[i] * (double)X[o] - (double)Y[o];
                gout[o] = (float)(ci * ((double)Za[o] - (double)Zb[o]) - ce * dh);
            }
    }
    return SSLK_OK;
}

#endif
