/* VICReg across ranks with gathered statistics instead of gathered rows.
 * Local: the invariance sum (per-sample).  Gathered (all-reduced): the
 * column sums of each view (1 + 2d doubles with the invariance sum), then
 * each view's Gram X^T X of its centred local rows (2 d^2 doubles).  Every
 * rank then holds the global mean, variances and covariance C and forms the
 * exact gradient of the global loss for its own rows:
 *   dL/dZ = 2 lam (Z - Z')/(N d) - (mu_b/d) a_j X_ij/((N-1) S_j) + 4 nu/(d (N-1)) X Cbar
 * (the centring terms drop out, as in vicreg.c: the columns of the gradient
 * wrt X sum to zero over the global batch).  Computed in double for both
 * precisions; cost per rank 3 n d^2 flops (n local rows) + 2 d^2 doubles of
 * all-reduce, independent of the number of ranks.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "dist/dist_internal.h"
#include "loss_dist.h"

sslk_status ssli_loss_dist_vicreg(sslk_loss *L, const sslk_dist *t, const ssli_loss_in *in, const size_t *counts,
                                  size_t N, double *value, const char *fn) {
    (void)counts;
    const char *kfn = "sslk_loss_compute(vicreg)";
    if (in->nviews != 2)
        return ssli_err(SSLK_E_SHAPE, "%s: VICReg takes exactly 2 views, got %zu", kfn, in->nviews);
    SSLI_TRY(ssli_loss_need_rows(kfn, N, 2)); /* the global batch; a rank may hold one row */
    const size_t n = in->n, d = in->d;
    double lam = ssli_loss_setting(L, SSLK_VICREG_SIM_COEFF), mu = ssli_loss_setting(L, SSLK_VICREG_STD_COEFF);
    double gamma = ssli_loss_setting(L, SSLK_VICREG_GAMMA), eps = ssli_loss_setting(L, SSLK_VICREG_EPS);
    double red = ssli_loss_setting(L, SSLK_VICREG_VAR_BRANCH_REDUCTION) == SSLK_REDUCE_SUM ? 1.0 : 0.5;
    double nu = ssli_loss_setting(L, SSLK_VICREG_COV_COEFF);
    size_t nd, dd, tot;
    if (ssli_mul_overflow(n, d, &nd) || ssli_mul_overflow(d, d, &dd) || dd > SIZE_MAX / 4 - nd ||
        (tot = 2 * nd + 2 * dd + 1 + 2 * d) < nd)
        return ssli_err(SSLK_E_OVERFLOW, "%s: n = %zu, d = %zu overflows", kfn, n, d);
    double *w = ssli_malloc(L->ctx, tot, sizeof(double));
    if (!w) return ssli_alloc_status();
    double *X = w, *G = w + 2 * nd, *st = G + 2 * dd; /* st: [inv sum, colsum0, colsum1] */
    /* the per-sample invariance sum and the column sums (double, rows in order) */
    double inv = 0;
    for (size_t i = 0; i < nd; i++) {
        double e = (double)in->views[0][i] - (double)in->views[1][i];
        inv += e * e;
    }
    st[0] = inv;
    for (size_t b = 0; b < 2; b++) {
        double *cs = st + 1 + b * d;
        memset(cs, 0, d * sizeof *cs);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) cs[j] += in->views[b][i * d + j];
    }
    sslk_status s = ssli_dist_allreduce_f64(t, st, 1 + 2 * d, fn);
    for (size_t b = 0; s == SSLK_OK && b < 2; b++) {
        const double *cs = st + 1 + b * d;
        double *Xb = X + b * nd;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) Xb[i * d + j] = (double)in->views[b][i * d + j] - cs[j] / (double)N;
        ssli_dsyrk(L->ctx, true, d, n, 1.0, Xb, d, 0.0, G + b * dd, d); /* X^T X, d x d */
    }
    if (s == SSLK_OK) s = ssli_dist_allreduce_f64(t, G, 2 * dd, fn);
    if (s != SSLK_OK) {
        ssli_free(L->ctx, w);
        return s;
    }
    const double Nm1 = (double)N - 1.0, dn = (double)d;
    double v[2] = {0, 0}, cv[2] = {0, 0};
    for (size_t b = 0; b < 2; b++) {
        double *C = G + b * dd, *Xb = X + b * nd;
        for (size_t k = 0; k < dd; k++) C[k] /= Nm1;
        double off = 0;
        for (size_t k = 0; k < d; k++)
            for (size_t l = 0; l < d; l++)
                if (k != l) off += C[k * d + l] * C[k * d + l];
        cv[b] = off / dn;
        for (size_t j = 0; j < d; j++) {
            double S = sqrt(C[j * d + j] + eps);
            v[b] += S < gamma ? gamma - S : 0.0;
        }
        v[b] /= dn;
        if (!in->grads || !in->grads[b]) continue;
        /* gradient: covariance part via X Cbar (diagonal zeroed), then the hinge and invariance parts */
        double *Cd = ssli_malloc(L->ctx, dd + nd, sizeof(double));
        if (!Cd) {
            ssli_free(L->ctx, w);
            return ssli_alloc_status();
        }
        double *XC = Cd + dd;
        memcpy(Cd, C, dd * sizeof *Cd);
        for (size_t j = 0; j < d; j++) Cd[j * d + j] = 0;
        ssli_dgemm(L->ctx, false, false, n, d, d, 1.0, Xb, d, Cd, d, 0.0, XC, d);
        const double cc = 4.0 * nu / (dn * Nm1), ci = 2.0 * lam / ((double)N * dn), sign = b == 0 ? 1.0 : -1.0;
        float *g = in->grads[b];
        for (size_t j = 0; j < d; j++) {
            double S = sqrt(C[j * d + j] + eps);
            double ha = S < gamma ? -(mu * red / dn) / (Nm1 * S) : 0.0;
            for (size_t i = 0; i < n; i++) {
                size_t e = i * d + j;
                double z = ci * sign * ((double)in->views[0][e] - (double)in->views[1][e]);
                g[e] = (float)(z + ha * Xb[e] + cc * XC[e]);
            }
        }
        ssli_free(L->ctx, Cd);
    }
    L->terms[0] = st[0] / ((double)N * dn);
    L->terms[1] = red * (v[0] + v[1]);
    L->terms[2] = cv[0] + cv[1];
    *value = lam * L->terms[0] + mu * L->terms[1] + nu * L->terms[2];
    ssli_free(L->ctx, w);
    return SSLK_OK;
}
