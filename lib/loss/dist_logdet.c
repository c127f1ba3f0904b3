/* LogDet VICReg across ranks with gathered statistics (as dist_vicreg.c):
 * all-reduce the invariance sum and column sums (1 + 2d doubles), then each
 * view's d x d Gram of its centred (or raw) local rows (2 d^2 doubles); every
 * rank factorises I + beta C (Cholesky, double) and forms the exact
 * gradient of its own rows, dH/dX = (beta / c) X M^-1 (the centring terms
 * drop out: the columns of X M^-1 sum to zero over the global batch).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "dist/dist_internal.h"
#include "loss_dist.h"

sslk_status ssli_loss_dist_logdet(sslk_loss *L, const sslk_dist *t, const ssli_loss_in *in, size_t N, double *value,
                                  const char *fn) {
    const char *kfn = "sslk_loss_compute(vicreg_logdet)";
    if (in->nviews != 2) return ssli_err(SSLK_E_SHAPE, "%s: takes exactly 2 views, got %zu", kfn, in->nviews);
    const bool centered = ssli_loss_setting(L, SSLK_VICREG_LOGDET_CENTERED) != 0;
    SSLI_TRY(ssli_loss_need_rows(kfn, N, centered ? 2 : 1));
    const size_t n = in->n, d = in->d;
    const double lam = ssli_loss_setting(L, SSLK_VICREG_LOGDET_SIM_COEFF);
    const double beta = ssli_loss_setting(L, SSLK_VICREG_LOGDET_BETA);
    double w = ssli_loss_setting(L, SSLK_VICREG_LOGDET_ENTROPY_COEFF);
    if (ssli_loss_setting(L, SSLK_VICREG_LOGDET_PER_DIM) != 0) w /= (double)d;
    const double cden = centered ? (double)N - 1.0 : (double)N;
    size_t nd, dd;
    if (ssli_mul_overflow(n, d, &nd) || ssli_mul_overflow(d, d, &dd) || dd > SIZE_MAX / 8 - nd)
        return ssli_err(SSLK_E_OVERFLOW, "%s: n = %zu, d = %zu overflows", kfn, n, d);
    double *buf = ssli_malloc(L->ctx, 3 * nd + 2 * dd + 2 * d + 1, sizeof(double));
    if (!buf) return ssli_alloc_status();
    double *X = buf, *Y = X + 2 * nd, *G = Y + nd, *st = G + 2 * dd;
    double inv = 0;
    for (size_t e = 0; e < nd; e++) {
        double q = (double)in->views[0][e] - (double)in->views[1][e];
        inv += q * q;
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
            for (size_t j = 0; j < d; j++)
                Xb[i * d + j] = (double)in->views[b][i * d + j] - (centered ? cs[j] / (double)N : 0.0);
        ssli_dsyrk(L->ctx, true, d, n, 1.0, Xb, d, 0.0, G + b * dd, d);
    }
    if (s == SSLK_OK) s = ssli_dist_allreduce_f64(t, G, 2 * dd, fn);
    double H[2] = {0, 0};
    const double cinv = lam * 2.0 / ((double)N * (double)d);
    for (size_t b = 0; s == SSLK_OK && b < 2; b++) {
        double *M = G + b * dd, *Xb = X + b * nd;
        for (size_t e = 0; e < dd; e++) M[e] *= beta / cden;
        for (size_t k = 0; k < d; k++) M[k * d + k] += 1.0;
        s = ssli_dpotrf(d, M, d);
        if (s != SSLK_OK) break;
        for (size_t k = 0; k < d; k++) H[b] += log(M[k * d + k]);
        float *g = in->grads ? in->grads[b] : NULL;
        if (!g) continue;
        s = ssli_dpotri(d, M, d);
        if (s != SSLK_OK) break;
        ssli_dgemm(L->ctx, false, false, n, d, d, beta / cden, Xb, d, M, d, 0.0, Y, d);
        const double ci = b == 0 ? cinv : -cinv;
        for (size_t e = 0; e < nd; e++)
            g[e] = (float)(ci * ((double)in->views[0][e] - (double)in->views[1][e]) - w * Y[e]);
    }
    if (s == SSLK_OK) {
        L->terms[0] = st[0] / ((double)N * (double)d);
        L->terms[1] = H[0] + H[1];
        *value = lam * L->terms[0] - w * L->terms[1];
    }
    ssli_free(L->ctx, buf);
    return s;
}
