/* InfoNCE with outside negatives (MoCo's queue, lightly's
 * NTXentLoss(memory_bank_size=...)): anchors a_i, positives b_i, and m
 * constant negatives k_j (no gradient), all L2-normalised, s = cos / tau:
 *   l_i = -s(a_i, b_i) + log( exp s(a_i, b_i) + sum_j exp s(a_i, k_j) ),  L = mean_i l_i.
 * Only the anchors are rows of the softmax (no in-batch negatives), as lightly
 * with a memory bank.  dl/ds_pos = expm1(-l_i) (stable near saturation), dl/ds_ij
 * = softmax; the queue object keeps negatives between steps.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLI_IN_TEMPLATE
#include <string.h>

#include "loss_dist.h"
#include "loss_internal.h"

#define SSLI_LOSS_TEMPLATE "infonce_bank.c"
#include "loss_template.h"

sslk_status sslk_loss_compute_negatives(sslk_loss *L, const float *za, const float *zb, size_t n, size_t d,
                                        const float *negatives, size_t m, double *value, float *ga,
                                        float *gb) {
    const char *fn = "sslk_loss_compute_negatives";
    SSLI_CHECK_PTR(L, fn);
    SSLI_CHECK_PTR(za, fn);
    SSLI_CHECK_PTR(zb, fn);
    SSLI_CHECK_PTR(negatives, fn);
    if (L->vt->kind == SSLK_LOSS_MOCO) /* MoCo v2: the queue's keys (moco.c) */
        return ssli_moco_negatives(L, za, zb, n, d, negatives, m, value, ga, gb);
    if (L->vt->kind != SSLK_LOSS_INFONCE)
        return ssli_err(SSLK_E_UNSUPPORTED, "%s: outside negatives need an infonce or moco loss, not %s", fn, L->vt->fn);
    if (n == 0 || d == 0 || m == 0)
        return ssli_err(SSLK_E_SHAPE, "%s: empty input (n = %zu, d = %zu, m = %zu negatives)", fn, n, d, m);
    size_t t1, t2;
    if (ssli_mul_overflow(n, m, &t1) || ssli_mul_overflow(n + m, d, &t2) || t1 > ((size_t)1 << 40) ||
        t2 > ((size_t)1 << 40))
        return ssli_err(SSLK_E_OVERFLOW, "%s: n = %zu, m = %zu, d = %zu: too large", fn, n, m, d);
    SSLI_TRY(ssli_check_finite_f32(za, n, d, fn, "za"));
    SSLI_TRY(ssli_check_finite_f32(zb, n, d, fn, "zb"));
    SSLI_TRY(ssli_check_finite_f32(negatives, m, d, fn, "negatives"));
    L->have_terms = false;
    double v = 0;
    SSLI_TRY(ssli_loss_double(L) ? bank_run_d(L, za, zb, n, d, negatives, m, &v, ga, gb)
                                 : bank_run_f(L, za, zb, n, d, negatives, m, &v, ga, gb));
    if (!isfinite(v)) return ssli_err(SSLK_E_NUMERIC, "%s: the loss evaluated to %g", fn, v);
    SSLI_TRY(ssli_loss_dist_rowmean(L, n, d, &v, ga, gb, fn)); /* across ranks: the mean over all anchors */
    float *g[2] = {ga, gb};
    for (int b = 0; b < 2; b++) {
        if (!g[b]) continue;
        size_t e = ssli_loss_first_nonfinite(g[b], n * d);
        if (e < n * d)
            return ssli_err(SSLK_E_NUMERIC, "%s: the gradient of %s is %g at row %zu, column %zu (float32 "
                            "overflow: rescale the inputs)", fn, b ? "zb" : "za", (double)g[b][e], e / d, e % d);
    }
    if (value) *value = v;
    L->have_terms = true;
    return SSLK_OK;
}

#else /* ---- template ---------------------------------------------------- */

static sslk_status F(bank_run)(sslk_loss *L, const float *za, const float *zb, size_t n, size_t d,
                               const float *neg, size_t m, double *value, float *ga, float *gb) {
    const sslk_ctx *ctx = L->ctx;
    const double tau = ssli_loss_setting(L, SSLK_INFONCE_TEMPERATURE);
    const bool want = ga || gb;
    size_t bytes = 3 * SSLI_RUP(n * d * sizeof(R)) + SSLI_RUP(m * d * sizeof(R)) + SSLI_RUP(n * m * sizeof(R)) +
                   2 * SSLI_RUP(n * sizeof(double)) + SSLI_RUP(m * sizeof(double)) + 3 * SSLI_RUP(n * sizeof(double));
    char *p = ssli_loss_workspace(L, bytes);
    if (!p) return ssli_alloc_status();
    R *Ua = ssli_carve(&p, n * d * sizeof(R));
    R *Ub = ssli_carve(&p, n * d * sizeof(R));
    R *dU = ssli_carve(&p, n * d * sizeof(R));
    R *Un = ssli_carve(&p, m * d * sizeof(R));
    R *S = ssli_carve(&p, n * m * sizeof(R));
    double *ra = ssli_carve(&p, n * sizeof(double));
    double *rb = ssli_carve(&p, n * sizeof(double));
    double *rn = ssli_carve(&p, m * sizeof(double));
    double *pos = ssli_carve(&p, n * sizeof(double));
    double *lse = ssli_carve(&p, n * sizeof(double));
    double *em1 = ssli_carve(&p, n * sizeof(double));
    F(ssli_loss_normalize)(ctx, za, n, d, ra, Ua);
    F(ssli_loss_normalize)(ctx, zb, n, d, rb, Ub);
    F(ssli_loss_normalize)(ctx, neg, m, d, rn, Un);
    GEMM(ctx, false, true, n, m, d, (R)(1.0 / tau), Ua, d, Un, d, (R)0, S, m);
    const int nt = ssli_threads(ctx);
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
    for (long long ii = 0; ii < (long long)n; ii++) {
        size_t i = (size_t)ii;
        R *s = S + i * m;
        double sp = F(ssli_row_dot)(Ua + i * d, Ub + i * d, d) / tau;
        double mx = (double)F(ssli_row_max)(s, m);
        mx = sp > mx ? sp : mx;
        double sum = exp(sp - mx) + F(ssli_row_expsum)(s, NULL, m, (R)mx);
        pos[i] = sp;
        lse[i] = mx + log(sum);
        em1[i] = expm1(sp - lse[i]); /* p_pos - 1 without cancellation */
    }
    double sp = 0, sl = 0, tot = 0;
    for (size_t i = 0; i < n; i++) {
        sp += pos[i];
        sl += lse[i];
        tot += lse[i] - pos[i];
    }
    L->terms[0] = -sp / (double)n;
    L->terms[1] = sl / (double)n;
    *value = tot / (double)n;
    if (!want) return SSLK_OK;
    const double c = 1.0 / (double)n;
    /* G = softmax over the negatives / n; dUa = (G Un + c em1 Ub) / tau, dUb = c em1 Ua / tau */
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
    for (long long ii = 0; ii < (long long)n; ii++) {
        size_t i = (size_t)ii;
        R *s = S + i * m;
        /* exp(s - lse) = exp(s - mx) exp(mx - lse) with mx = the larger of the float max and lse */
        R mx = (R)F(ssli_row_max)(s, m);
        F(ssli_row_expaffine)(s, m, mx, (R)(c * exp((double)mx - lse[i])), (R)0);
    }
    if (ga) {
        GEMM(ctx, false, false, n, d, m, (R)(1.0 / tau), S, m, Un, d, (R)0, dU, d);
        for (size_t i = 0; i < n; i++) {
            const double w = c * em1[i] / tau;
            R *du = dU + i * d;
            const R *ub = Ub + i * d;
            for (size_t j = 0; j < d; j++) du[j] = (R)((double)du[j] + w * (double)ub[j]);
        }
        F(ssli_loss_normalize_back)(ctx, Ua, dU, ra, n, d, ga, false);
    }
    if (gb) {
        for (size_t i = 0; i < n; i++) {
            const double w = c * em1[i] / tau;
            R *du = dU + i * d;
            const R *ua = Ua + i * d;
            for (size_t j = 0; j < d; j++) du[j] = (R)(w * (double)ua[j]);
        }
        F(ssli_loss_normalize_back)(ctx, Ub, dU, rb, n, d, gb, false);
    }
    return SSLK_OK;
}

#endif
