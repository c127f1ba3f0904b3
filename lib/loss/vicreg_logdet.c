/* Entropy-estimator VICReg with the LogDet estimator (information-theoretic
 * VICReg, Shwartz-Ziv et al. 2023; estimator of Zhouyin & Liu 2021):
 *   H(Z) = 1/2 log det(I + beta C),  C = X^T X / (n-1) (centred) or Z^T Z / n
 *   L = sim_coeff * s(Z, Z') - entropy_coeff * (H(Z) + H(Z')) [/ d when per_dim]
 * Factorised by Cholesky in double; the n x n form det(I_n + beta X X^T / c)
 * is used when n < d (Sylvester).  dH/dX = (beta / c) X M^-1 = (beta / c) M_n^-1 X.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLI_IN_TEMPLATE
#include <string.h>

#include "loss_internal.h"

static const ssli_setting_def logdet_defs[] = {
    {SSLK_VICREG_LOGDET_SIM_COEFF, "sim_coeff", SSLK_SETTING_F64, 0, 1e6, 25, "invariance weight"},
    {SSLK_VICREG_LOGDET_ENTROPY_COEFF, "entropy_coeff", SSLK_SETTING_F64, 0, 1e6, 25, "entropy weight eta"},
    {SSLK_VICREG_LOGDET_BETA, "beta", SSLK_SETTING_F64, 1e-12, 1e12, 1, "scale beta in 1/2 log det(I + beta C)"},
    {SSLK_VICREG_LOGDET_CENTERED, "centered", SSLK_SETTING_I64, 0, 1, 1,
     "1: C = X^T X / (n-1) of the centred batch; 0: C = Z^T Z / n"},
    {SSLK_VICREG_LOGDET_PER_DIM, "per_dim", SSLK_SETTING_I64, 0, 1, 1,
     "1: the loss uses the entropy divided by d (weights independent of the width)"},
};
const ssli_setting_table ssli_settings_vicreg_logdet = {"vicreg_logdet", logdet_defs,
                                                        sizeof logdet_defs / sizeof logdet_defs[0], NULL};

static const char *const logdet_terms[] = {"invariance", "entropy"};

#define SSLI_LOSS_TEMPLATE "vicreg_logdet.c"
#include "loss_template.h"

static sslk_status logdet_compute(sslk_loss *L, const ssli_loss_in *in, double *value) {
    const char *fn = "sslk_loss_compute(vicreg_logdet)";
    if (in->nviews != 2) return ssli_err(SSLK_E_SHAPE, "%s: takes exactly 2 views, got %zu", fn, in->nviews);
    bool centered = ssli_loss_setting(L, SSLK_VICREG_LOGDET_CENTERED) != 0;
    SSLI_TRY(ssli_loss_need_rows(fn, in->n, centered ? 2 : 1));
    if (in->n > 65536 && in->d > 65536) return ssli_err(SSLK_E_OVERFLOW, "%s: Gram too large", fn);
    double lam = ssli_loss_setting(L, SSLK_VICREG_LOGDET_SIM_COEFF);
    double s = ssli_loss_invariance(L, in->views[0], in->views[1], in->n, in->d);
    if (isnan(s)) return ssli_alloc_status();
    double w = ssli_loss_setting(L, SSLK_VICREG_LOGDET_ENTROPY_COEFF);
    if (ssli_loss_setting(L, SSLK_VICREG_LOGDET_PER_DIM) != 0) w /= (double)in->d;
    double H[2];
    double cinv = lam * 2.0 / ((double)in->n * (double)in->d);
    SSLI_TRY(ssli_loss_double(L) ? logdet_branches_d(L, in, cinv, w, H) : logdet_branches_f(L, in, cinv, w, H));
    L->terms[0] = s;
    L->terms[1] = H[0] + H[1];
    *value = lam * s - w * L->terms[1];
    return SSLK_OK;
}

const ssli_loss_vt ssli_loss_logdet_vt = {
    SSLK_LOSS_VICREG_LOGDET, "vicreg_logdet", &ssli_settings_vicreg_logdet, logdet_terms, 2, 0, logdet_compute,
    NULL, NULL, NULL,
};

#else /* ---- template ---------------------------------------------------- */

static sslk_status F(logdet_branches)(sslk_loss *L, const ssli_loss_in *in, double cinv, double w, double *H) {
    const sslk_ctx *ctx = L->ctx;
    const size_t n = in->n, d = in->d, m = n < d ? n : d;
    const bool small_n = n < d, centered = ssli_loss_setting(L, SSLK_VICREG_LOGDET_CENTERED) != 0;
    const double beta = ssli_loss_setting(L, SSLK_VICREG_LOGDET_BETA);
    const double cden = centered ? (double)(n - 1) : (double)n;
    size_t bytes = 2 * SSLI_RUP(n * d * sizeof(R)) + SSLI_RUP(m * m * sizeof(R)) + SSLI_RUP(m * m * sizeof(double)) +
                   SSLI_RUP(d * sizeof(double));
    char *p = ssli_loss_workspace(L, bytes);
    if (!p) return ssli_alloc_status();
    R *X = ssli_carve(&p, n * d * sizeof(R));
    R *Y = ssli_carve(&p, n * d * sizeof(R));
    R *G = ssli_carve(&p, m * m * sizeof(R));
    double *Md = ssli_carve(&p, m * m * sizeof(double));
    double *mu = ssli_carve(&p, d * sizeof(double));
    const int nt = ssli_threads(ctx);
    for (int b = 0; b < 2; b++) {
        const float *Z = in->views[b];
        if (centered)
            ssli_loss_colmean(ctx, Z, n, d, mu);
        else
            memset(mu, 0, d * sizeof(double));
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long i = 0; i < (long long)n; i++)
            for (size_t j = 0; j < d; j++) X[(size_t)i * d + j] = (R)((double)Z[(size_t)i * d + j] - mu[j]);
        if (small_n)
            SYRK(ctx, false, n, d, (R)(beta / cden), X, d, (R)0, G, n);
        else
            SYRK(ctx, true, d, n, (R)(beta / cden), X, d, (R)0, G, d);
        for (size_t e = 0; e < m * m; e++) Md[e] = (double)G[e];
        for (size_t k = 0; k < m; k++) Md[k * m + k] += 1.0;
        /* a float Gram of huge inputs overflows; LAPACK would only report a bad argument */
        for (size_t e = 0; e < m * m; e++)
            if (!isfinite(Md[e]))
                return ssli_err(SSLK_E_NUMERIC, "sslk_loss_compute(vicreg_logdet): the Gram of views[%d] overflows "
                                "(%g at row %zu, column %zu): rescale the inputs or set precision = double", b,
                                Md[e], e / m, e % m);
        sslk_status st = ssli_dpotrf(m, Md, m);
        if (st != SSLK_OK) return st;
        double ld = 0;
        for (size_t k = 0; k < m; k++) ld += log(Md[k * m + k]);
        H[b] = ld; /* 1/2 log det = sum log L_kk */
        float *gout = in->grads ? in->grads[b] : NULL;
        if (!gout) continue;
        SSLI_TRY(ssli_dpotri(m, Md, m));
        for (size_t e = 0; e < m * m; e++) G[e] = (R)Md[e];
        if (small_n)
            GEMM(ctx, false, false, n, d, n, (R)(beta / cden), G, n, X, d, (R)0, Y, d);
        else
            GEMM(ctx, false, false, n, d, d, (R)(beta / cden), X, d, G, d, (R)0, Y, d);
        const double ci = b == 0 ? cinv : -cinv;
        const float *Za = in->views[0], *Zb = in->views[1];
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long i = 0; i < (long long)n; i++)
            for (size_t j = 0; j < d; j++) {
                size_t o = (size_t)i * d + j;
                gout[o] = (float)(ci * ((double)Za[o] - (double)Zb[o]) - w * (double)Y[o]);
            }
    }
    return SSLK_OK;
}

#endif
