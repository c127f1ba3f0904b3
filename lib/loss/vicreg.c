/* VICReg (Bardes, Ponce, LeCun 2022), official conventions: invariance = mean
 * over n*d, variance hinge on sqrt(var + eps) with unbiased var, covariance =
 * off-diagonal squares / d, branch reduction of the variance term selectable.
 * The covariance statistics use the smaller Gram: X^T X (d x d) when n >= d,
 * else X X^T (n x n), since ||X^T X||_F = ||X X^T||_F and X (X^T X) = (X X^T) X.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLI_IN_TEMPLATE
#include <string.h>

#include "loss_internal.h"

static const ssli_setting_def vicreg_defs[] = {
    {SSLK_VICREG_SIM_COEFF, "sim_coeff", SSLK_SETTING_F64, 0, 1e6, 25, "invariance weight lambda"},
    {SSLK_VICREG_STD_COEFF, "std_coeff", SSLK_SETTING_F64, 0, 1e6, 25, "variance weight mu"},
    {SSLK_VICREG_COV_COEFF, "cov_coeff", SSLK_SETTING_F64, 0, 1e6, 1, "covariance weight nu"},
    {SSLK_VICREG_GAMMA, "gamma", SSLK_SETTING_F64, 0, 1e6, 1, "target std of the variance hinge"},
    {SSLK_VICREG_EPS, "eps", SSLK_SETTING_F64, 1e-12, 1, 1e-4, "added to the variance inside the sqrt"},
    {SSLK_VICREG_VAR_BRANCH_REDUCTION, "var_branch_reduction", SSLK_SETTING_I64, 0, 1, 0,
     "0 = mean of the two views' variance terms (official code, lightly); 1 = sum (paper pseudocode, solo-learn)"},
};
static const ssli_setting_choices vicreg_choices[] = {
    {SSLK_VICREG_VAR_BRANCH_REDUCTION, (const char *const[]){"mean", "sum", NULL}},
    {0, NULL},
};
const ssli_setting_table ssli_settings_vicreg = {"vicreg", vicreg_defs,
                                                 sizeof vicreg_defs / sizeof vicreg_defs[0], vicreg_choices};

static const char *const vicreg_terms[] = {"invariance", "variance", "covariance"};

typedef struct {
    double gamma, eps;
    double c_inv; /* lambda * 2 / (n d): invariance gradient factor */
    double mu_b;  /* mu, halved for the MEAN branch reduction */
    double nu;
} vic_cfg;

#define SSLI_LOSS_TEMPLATE "vicreg.c"
#include "loss_template.h"

static sslk_status vicreg_compute(sslk_loss *L, const ssli_loss_in *in, double *value) {
    const char *fn = "sslk_loss_compute(vicreg)";
    if (in->nviews != 2)
        return ssli_err(SSLK_E_SHAPE, "%s: VICReg takes exactly 2 views, got %zu", fn, in->nviews);
    SSLI_TRY(ssli_loss_need_rows(fn, in->n, 2));
    vic_cfg c;
    double lam = ssli_loss_setting(L, SSLK_VICREG_SIM_COEFF);
    c.gamma = ssli_loss_setting(L, SSLK_VICREG_GAMMA);
    c.eps = ssli_loss_setting(L, SSLK_VICREG_EPS);
    c.mu_b = ssli_loss_setting(L, SSLK_VICREG_STD_COEFF) *
             (ssli_loss_setting(L, SSLK_VICREG_VAR_BRANCH_REDUCTION) == SSLK_REDUCE_SUM ? 1.0 : 0.5);
    c.nu = ssli_loss_setting(L, SSLK_VICREG_COV_COEFF);
    c.c_inv = lam * 2.0 / ((double)in->n * (double)in->d);
    double s = ssli_loss_invariance(L, in->views[0], in->views[1], in->n, in->d);
    if (isnan(s)) return ssli_alloc_status();
    double v[2], cv[2];
    sslk_status st = ssli_loss_double(L) ? vicreg_branches_d(L, in, &c, v, cv)
                                         : vicreg_branches_f(L, in, &c, v, cv);
    if (st != SSLK_OK) return st;
    double red = ssli_loss_setting(L, SSLK_VICREG_VAR_BRANCH_REDUCTION) == SSLK_REDUCE_SUM ? 1.0 : 0.5;
    L->terms[0] = s;
    L->terms[1] = red * (v[0] + v[1]);
    L->terms[2] = cv[0] + cv[1];
    *value = lam * L->terms[0] + ssli_loss_setting(L, SSLK_VICREG_STD_COEFF) * L->terms[1] +
             c.nu * L->terms[2];
    return SSLK_OK;
}

const ssli_loss_vt ssli_loss_vicreg_vt = {
    SSLK_LOSS_VICREG, "vicreg", &ssli_settings_vicreg, vicreg_terms, 3, 0, vicreg_compute, NULL, NULL, NULL,
};

#else /* ---- template: R = float or double ---------------------------------- */

/* Batch statistics of both views (variance, covariance) and the full
 * gradient; the invariance (per-sample) part of the gradient is added in the
 * same elementwise pass.  v[b], cv[b] receive each view's v(Z) and c(Z). */
static sslk_status F(vicreg_branches)(sslk_loss *L, const ssli_loss_in *in, const vic_cfg *c, double *v,
                                      double *cv) {
    const sslk_ctx *ctx = L->ctx;
    const size_t n = in->n, d = in->d, m = n < d ? n : d;
    const bool small_n = n < d;
    const double nm1 = (double)(n - 1);
    size_t bytes = 2 * SSLI_RUP(n * d * sizeof(R)) + SSLI_RUP(m * m * sizeof(R)) +
                   3 * SSLI_RUP(d * sizeof(double)) + SSLI_RUP(m * sizeof(double));
    char *p = ssli_loss_workspace(L, bytes);
    if (!p) return ssli_alloc_status();
    R *X = ssli_carve(&p, n * d * sizeof(R));
    R *Y = ssli_carve(&p, n * d * sizeof(R));
    R *G = ssli_carve(&p, m * m * sizeof(R));
    double *mu = ssli_carve(&p, d * sizeof(double));
    double *var = ssli_carve(&p, d * sizeof(double));
    double *hv = ssli_carve(&p, d * sizeof(double)); /* variance-gradient factor per column */
    double *rows = ssli_carve(&p, m * sizeof(double));
    const int nt = ssli_threads(ctx);

    for (int b = 0; b < 2; b++) {
        const float *Z = in->views[b];
        ssli_loss_colmean(ctx, Z, n, d, mu);
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long i = 0; i < (long long)n; i++) {
            const float *z = Z + (size_t)i * d;
            R *x = X + (size_t)i * d;
            for (size_t j = 0; j < d; j++) x[j] = (R)((double)z[j] - mu[j]);
        }
        /* unbiased variances, column blocks of 16 (thread-count independent; 32
         * blocks for d = 512, where 64-wide blocks left half of 16 threads idle) */
        long long nb = (long long)((d + 15) / 16);
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long q = 0; q < nb; q++) {
            size_t j0 = (size_t)q * 16, j1 = j0 + 16 < d ? j0 + 16 : d;
            double acc[16] = {0};
            for (size_t i = 0; i < n; i++) {
                const R *x = X + i * d;
                for (size_t j = j0; j < j1; j++) acc[j - j0] += (double)x[j] * (double)x[j];
            }
            for (size_t j = j0; j < j1; j++) var[j] = acc[j - j0] / nm1;
        }
        double vs = 0, dsq = 0;
        for (size_t j = 0; j < d; j++) {
            double S = sqrt(var[j] + c->eps);
            double h = c->gamma - S;
            vs += h > 0 ? h : 0;
            /* torch relu: zero subgradient at the kink */
            hv[j] = h > 0 ? -c->mu_b / ((double)d * nm1 * S) : 0.0;
            dsq += var[j] * var[j];
        }
        v[b] = vs / (double)d;
        /* covariance: Gram of the smaller side, scaled by 1/(n-1) */
        if (small_n)
            SYRK(ctx, false, n, d, (R)(1.0 / nm1), X, d, (R)0, G, n);
        else
            SYRK(ctx, true, d, n, (R)(1.0 / nm1), X, d, (R)0, G, d);
        /* off-diagonal squares: skip the diagonal in the d x d form (no cancellation);
         * the n x n form only gives the full Frobenius norm */
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long i = 0; i < (long long)m; i++) {
            const R *g = G + (size_t)i * m;
            double acc = 0;
            for (size_t j = 0; j < m; j++) acc += (double)g[j] * (double)g[j];
            if (!small_n) acc -= (double)g[i] * (double)g[i];
            rows[i] = acc;
        }
        double fro = 0;
        for (size_t i = 0; i < m; i++) fro += rows[i];
        if (!small_n) dsq = 0;
        cv[b] = (fro - dsq) / (double)d;

        float *gout = in->grads ? in->grads[b] : NULL;
        if (!gout) continue;
        /* Y = X C = G X (n x n form) or X G (d x d form) */
        if (small_n)
            GEMM(ctx, false, false, n, d, n, (R)1, G, n, X, d, (R)0, Y, d);
        else
            GEMM(ctx, false, false, n, d, d, (R)1, X, d, G, d, (R)0, Y, d);
        const double cc = 4.0 * c->nu / ((double)d * nm1);
        const double ci = b == 0 ? c->c_inv : -c->c_inv;
        const float *Za = in->views[0], *Zb = in->views[1];
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long i = 0; i < (long long)n; i++) {
            size_t o = (size_t)i * d;
            const R *x = X + o, *y = Y + o;
            const float *za = Za + o, *zb = Zb + o;
            float *g = gout + o;
            for (size_t j = 0; j < d; j++) {
                double xv = (double)x[j];
                double t = ci * ((double)za[j] - (double)zb[j]) + hv[j] * xv + cc * ((double)y[j] - xv * var[j]);
                g[j] = (float)t;
            }
        }
    }
    return SSLK_OK;
}

#endif
