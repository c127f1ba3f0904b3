/* InfoNCE's float path below temperature 0.025 (2/tau >= 80): the logits
 * S = U U^T / tau and both passes over them stay in double; only the
 * exponentials (corrected for their exponent's rounding, rowkern.c) and the
 * gradient product G U are float.  A float logit of magnitude up to 1/tau > 40
 * carries ~|S| 6e-8 of rounding, which becomes the relative error of every
 * probability exp(S - lse): near saturation 1-4e-6 of gradient error, against
 * 0.5-2e-6 for a float32 numpy or PyTorch evaluation; with double logits
 * ~1e-7.  Costs 8 T^2 bytes more than the float path (the double logits) and
 * a double Gram product.  Same formula as infonce.c (pass 1: log-sum-exps,
 * pass 2: G + G^T row by row from the symmetric S).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "linalg/linalg.h"
#include "loss_internal.h"

sslk_status ssli_infonce_wide_f(sslk_loss *L, const ssli_loss_in *in, size_t T, double *value) {
    const sslk_ctx *ctx = L->ctx;
    const size_t n = in->n, d = in->d;
    const double tau = ssli_loss_setting(L, SSLK_INFONCE_TEMPERATURE);
    const bool want = in->grads != NULL;
    const int nt = ssli_threads(ctx);
    size_t bytes = SSLI_RUP(T * d * sizeof(double)) + 2 * SSLI_RUP(T * d * sizeof(float)) +
                   SSLI_RUP(T * T * sizeof(double)) + (want ? SSLI_RUP(T * T * sizeof(float)) : 0) +
                   4 * SSLI_RUP(T * sizeof(double)) + 3 * SSLI_RUP(T * sizeof(size_t));
    char *p = ssli_loss_workspace(L, bytes);
    if (!p) return ssli_alloc_status();
    double *Ud = ssli_carve(&p, T * d * sizeof(double));
    float *U = ssli_carve(&p, T * d * sizeof(float));
    float *dU = ssli_carve(&p, T * d * sizeof(float));
    double *S = ssli_carve(&p, T * T * sizeof(double));
    float *G = want ? ssli_carve(&p, T * T * sizeof(float)) : NULL;
    double *r = ssli_carve(&p, T * sizeof(double));
    double *lpos = ssli_carve(&p, T * sizeof(double));
    double *lall = ssli_carve(&p, T * sizeof(double));
    double *em1 = ssli_carve(&p, T * sizeof(double));
    size_t *perm = ssli_carve(&p, T * sizeof(size_t));
    size_t *gstart = ssli_carve(&p, T * sizeof(size_t));
    size_t *glen = ssli_carve(&p, T * sizeof(size_t));
    size_t ngroups = 0;
    SSLI_TRY(ssli_infonce_group_rows(ctx, in, T, perm, gstart, glen, &ngroups));
    const double scale =
        ssli_loss_setting(L, SSLK_INFONCE_VIEW_REDUCTION) == SSLK_REDUCE_SUM ? (double)T / (double)ngroups : 1.0;
    const double c = scale / (double)T;

    ssli_loss_normalize_views_d(ctx, in->views, in->nviews, n, d, r, Ud);
    ssli_dgram(ctx, false, T, d, 1.0 / tau, Ud, d, 0.0, S, T);

    /* pass 1: the positives' log-sum-exp and the one over every other row */
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
    for (long long ai = 0; ai < (long long)T; ai++) {
        const size_t a = (size_t)ai;
        double *s = S + a * T;
        const size_t *grp = perm + gstart[a];
        double mp = -INFINITY, sp = 0;
        for (size_t k = 0; k < glen[a]; k++)
            if (grp[k] != a && s[grp[k]] > mp) mp = s[grp[k]];
        for (size_t k = 0; k < glen[a]; k++)
            if (grp[k] != a) sp += exp(s[grp[k]] - mp);
        lpos[a] = mp + log(sp);
        double self = s[a], m = -INFINITY;
        s[a] = -INFINITY; /* excluded: its exponential is clamped to ~e^-87 */
        for (size_t b = 0; b < T; b++) m = s[b] > m ? s[b] : m;
        lall[a] = m + log(ssli_row_expsumd_f(s, NULL, T, m));
        s[a] = self;
    }
    double sum_pos = 0, sum_all = 0;
    for (size_t a = 0; a < T; a++) {
        sum_pos += lpos[a];
        sum_all += lall[a];
    }
    L->terms[0] = -sum_pos / (double)T;
    L->terms[1] = sum_all / (double)T;
    *value = scale * (L->terms[0] + L->terms[1]);
    if (!want) return SSLK_OK;

    /* pass 2: (G + G^T)_ab = c (P_ab + P_ba) off the positives, where
     * P - Ppos = Ppos expm1(lpos - lse) (no cancellation near saturation) */
    for (size_t a = 0; a < T; a++) em1[a] = expm1(lpos[a] - lall[a]);
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
    for (long long ai = 0; ai < (long long)T; ai++) {
        const size_t a = (size_t)ai;
        const double *s = S + a * T;
        float *g = G + a * T;
        const size_t *grp = perm + gstart[a];
        ssli_row_softmax2_dx(s, g, T, lall[a], lall, (float)c);
        g[a] = 0;
        for (size_t k = 0; k < glen[a]; k++) {
            size_t b = grp[k];
            if (b != a) g[b] = (float)(c * (exp(s[b] - lpos[a]) * em1[a] + exp(s[b] - lpos[b]) * em1[b]));
        }
    }
    for (size_t e = 0; e < T * d; e++) U[e] = (float)Ud[e];
    ssli_sgemm(ctx, false, false, T, d, T, (float)(1.0 / tau), G, T, U, d, 0.0f, dU, d);
    ssli_loss_normalize_back_views_f(ctx, U, dU, r, in->nviews, n, d, in->grads);
    return SSLK_OK;
}
