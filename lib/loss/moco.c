/* MoCo v2 / v3 (He et al. 2020, Chen et al. 2020 and 2021), conventions of
 * the official code (facebookresearch/moco, facebookresearch/moco-v3).  q are
 * the online predictions, k the momentum encoder's keys (constants: their
 * gradients are written as zeros); u = x / max(|x|, 1e-12), T = temperature.
 *   v2 (sslk_loss_compute_negatives: q, k and the queue's m keys):
 *     logits_i = [u(q_i).u(k_i), u(q_i).u(n_1..m)] / T, positive at index 0,
 *     L = mean_i CE(logits_i, 0)            (no in-batch negatives)
 *   v3 (sslk_loss_compute: views (q, k) or (q1, q2, k1, k2)):
 *     ctr(q, k) = 2 T mean_i CE(u(q_i).u(k)^T / T, i)   (in-batch: the other
 *     rows' keys are the negatives; 2 T is the official scale),
 *     L = ctr(q, k), or ctr(q1, k2) + ctr(q2, k1) (symmetric).
 * Backward: dCE/dlogits = softmax - onehot, through the normalisation.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLI_IN_TEMPLATE
#include <string.h>

#include "loss_internal.h"

static const ssli_setting_def moco_defs[] = {
    {SSLK_MOCO_TEMPERATURE, "temperature", SSLK_SETTING_F64, 1e-4, 1e4, 0.2,
     "T of the logits (official --moco-t: 0.2 for v2, 1.0 (ResNet) or 0.2 (ViT) for v3)"},
    {SSLK_MOCO_VERSION, "version", SSLK_SETTING_I64, 2, 3, 2,
     "MoCo version: 2 (queue negatives, sslk_loss_compute_negatives) or 3 (in-batch, symmetric, x 2 T)"},
};
const ssli_setting_table ssli_settings_moco = {"moco", moco_defs, sizeof moco_defs / sizeof moco_defs[0], NULL};

static const char *const moco_terms[] = {"cross_entropy", "positive_cosine"};

#define SSLI_LOSS_TEMPLATE "moco.c"
#include "loss_template.h"

static sslk_status moco_size_check(size_t n, size_t m, size_t d, const char *fn) {
    size_t t1, t2;
    if (ssli_mul_overflow(n, m, &t1) || ssli_mul_overflow(n + m, d, &t2) || t1 > ((size_t)1 << 40) ||
        t2 > ((size_t)1 << 40))
        return ssli_err(SSLK_E_OVERFLOW, "%s: n = %zu, m = %zu, d = %zu: too large", fn, n, m, d);
    return SSLK_OK;
}

static sslk_status moco_compute(sslk_loss *L, const ssli_loss_in *in, double *value) {
    const char *fn = "sslk_loss_compute(moco)";
    if (ssli_loss_setting(L, SSLK_MOCO_VERSION) == 2)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: version 2 takes its negatives from the queue: call "
                        "sslk_loss_compute_negatives (or set version = 3 for in-batch negatives)", fn);
    if (in->nviews != 2 && in->nviews != 4)
        return ssli_err(SSLK_E_SHAPE, "%s: version 3 takes 2 views (q, k) or 4 (q1, q2, k1, k2), got %zu", fn,
                        in->nviews);
    if (in->indices || in->targets)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: takes no indices or targets (the keys are views)", fn);
    SSLI_TRY(ssli_loss_need_rows(fn, in->n, 2));
    SSLI_TRY(moco_size_check(in->n, in->n, in->d, fn));
    return ssli_loss_double(L) ? moco_v3_d(L, in, value) : moco_v3_f(L, in, value);
}

sslk_status ssli_moco_negatives(sslk_loss *L, const float *q, const float *k, size_t n, size_t d,
                                const float *neg, size_t m, double *value, float *gq, float *gk) {
    const char *fn = "sslk_loss_compute_negatives(moco)";
    if (ssli_loss_setting(L, SSLK_MOCO_VERSION) != 2)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: version 3 has in-batch negatives: call sslk_loss_compute "
                        "with views (q, k) or (q1, q2, k1, k2)", fn);
    if (n == 0 || d == 0 || m == 0)
        return ssli_err(SSLK_E_SHAPE, "%s: empty input (n = %zu, d = %zu, m = %zu negatives)", fn, n, d, m);
    SSLI_TRY(moco_size_check(n, m, d, fn));
    SSLI_TRY(ssli_check_finite_f32(q, n, d, fn, "q"));
    SSLI_TRY(ssli_check_finite_f32(k, n, d, fn, "k"));
    SSLI_TRY(ssli_check_finite_f32(neg, m, d, fn, "negatives"));
    L->have_terms = false;
    double v = 0;
    SSLI_TRY(ssli_loss_double(L) ? moco_v2_d(L, q, k, n, d, neg, m, &v, gq)
                                 : moco_v2_f(L, q, k, n, d, neg, m, &v, gq));
    if (!isfinite(v)) return ssli_err(SSLK_E_NUMERIC, "%s: the loss evaluated to %g", fn, v);
    if (gq) {
        size_t e = ssli_loss_first_nonfinite(gq, n * d);
        if (e < n * d)
            return ssli_err(SSLK_E_NUMERIC, "%s: the gradient of q is %g at row %zu, column %zu (float32 "
                            "overflow: rescale the inputs)", fn, (double)gq[e], e / d, e % d);
    }
    if (gk) memset(gk, 0, n * d * sizeof(float)); /* the keys are constants */
    if (value) *value = v;
    L->have_terms = true;
    return SSLK_OK;
}

const ssli_loss_vt ssli_loss_moco_vt = {
    SSLK_LOSS_MOCO, "moco", &ssli_settings_moco, moco_terms, 2, 0, moco_compute, NULL, NULL, NULL,
};

#else /* ---- template: R = float or double ---------------------------------- */

/* Softmax rows of S (n x m, in place, times c), given each row's log-sum-exp. */
static void F(moco_softmax)(const sslk_ctx *ctx, R *S, size_t n, size_t m, const double *lse, double c) {
#pragma omp parallel for schedule(static) num_threads(ssli_loss_nt(ctx, n * m))
    for (long long ii = 0; ii < (long long)n; ii++) {
        R *s = S + (size_t)ii * m;
        R mx = (R)F(ssli_row_max)(s, m);
        F(ssli_row_expaffine)(s, m, mx, (R)(c * exp((double)mx - lse[ii])), (R)0);
    }
}

/* v2: anchors q against their key (index 0) and the m queue keys. */
static sslk_status F(moco_v2)(sslk_loss *L, const float *q, const float *k, size_t n, size_t d, const float *neg,
                              size_t m, double *value, float *gq) {
    const sslk_ctx *ctx = L->ctx;
    const double T = ssli_loss_setting(L, SSLK_MOCO_TEMPERATURE);
    size_t bytes = 3 * SSLI_RUP(n * d * sizeof(R)) + SSLI_RUP(m * d * sizeof(R)) + SSLI_RUP(n * m * sizeof(R)) +
                   5 * SSLI_RUP(n * sizeof(double)) + SSLI_RUP(m * sizeof(double));
    char *p = ssli_loss_workspace(L, bytes);
    if (!p) return ssli_alloc_status();
    R *Uq = ssli_carve(&p, n * d * sizeof(R));
    R *Uk = ssli_carve(&p, n * d * sizeof(R));
    R *dU = ssli_carve(&p, n * d * sizeof(R));
    R *Un = ssli_carve(&p, m * d * sizeof(R));
    R *S = ssli_carve(&p, n * m * sizeof(R));
    double *rq = ssli_carve(&p, n * sizeof(double));
    double *rk = ssli_carve(&p, n * sizeof(double));
    double *rn = ssli_carve(&p, m * sizeof(double));
    double *pos = ssli_carve(&p, n * sizeof(double));
    double *lse = ssli_carve(&p, n * sizeof(double));
    double *em1 = ssli_carve(&p, n * sizeof(double));
    F(ssli_loss_normalize)(ctx, q, n, d, rq, Uq);
    F(ssli_loss_normalize)(ctx, k, n, d, rk, Uk);
    F(ssli_loss_normalize)(ctx, neg, m, d, rn, Un);
    GEMM(ctx, false, true, n, m, d, (R)(1.0 / T), Uq, d, Un, d, (R)0, S, m);
#pragma omp parallel for schedule(static) num_threads(ssli_loss_nt(ctx, n * m))
    for (long long ii = 0; ii < (long long)n; ii++) {
        size_t i = (size_t)ii;
        double sp = F(ssli_row_dot)(Uq + i * d, Uk + i * d, d) / T;
        double mx = (double)F(ssli_row_max)(S + i * m, m);
        mx = sp > mx ? sp : mx;
        double sum = exp(sp - mx) + F(ssli_row_expsum)(S + i * m, NULL, m, (R)mx);
        pos[i] = sp;
        lse[i] = mx + log(sum);
        em1[i] = expm1(sp - lse[i]); /* p_pos - 1 without cancellation */
    }
    double ce = 0, cs = 0;
    for (size_t i = 0; i < n; i++) {
        ce += lse[i] - pos[i];
        cs += pos[i] * T;
    }
    L->terms[0] = ce / (double)n;
    L->terms[1] = cs / (double)n;
    *value = ce / (double)n;
    if (!gq) return SSLK_OK;
    const double c = 1.0 / (double)n;
    /* dUq = (P_neg Un + em1 Uk) / (n T), P_neg the softmax over the queue columns */
    F(moco_softmax)(ctx, S, n, m, lse, c);
    GEMM(ctx, false, false, n, d, m, (R)(1.0 / T), S, m, Un, d, (R)0, dU, d);
    for (size_t i = 0; i < n; i++) {
        const double w = c * em1[i] / T;
        R *du = dU + i * d;
        const R *uk = Uk + i * d;
        for (size_t j = 0; j < d; j++) du[j] = (R)((double)du[j] + w * (double)uk[j]);
    }
    F(ssli_loss_normalize_back)(ctx, Uq, dU, rq, n, d, gq, false);
    return SSLK_OK;
}

/* v3: in-batch, one or two pairs (q view a, key view P + (P - 1 - a)), each
 * 2 T mean_i CE(S_i, i) with S = u(q) u(k)^T / T. */
static sslk_status F(moco_v3)(sslk_loss *L, const ssli_loss_in *in, double *value) {
    const sslk_ctx *ctx = L->ctx;
    const size_t n = in->n, d = in->d, P = in->nviews / 2;
    const double T = ssli_loss_setting(L, SSLK_MOCO_TEMPERATURE), scale = 2.0 * T;
    size_t bytes = 3 * SSLI_RUP(n * d * sizeof(R)) + SSLI_RUP(n * n * sizeof(R)) + 3 * SSLI_RUP(n * sizeof(double));
    char *p = ssli_loss_workspace(L, bytes);
    if (!p) return ssli_alloc_status();
    R *Uq = ssli_carve(&p, n * d * sizeof(R));
    R *Uk = ssli_carve(&p, n * d * sizeof(R));
    R *dU = ssli_carve(&p, n * d * sizeof(R));
    R *S = ssli_carve(&p, n * n * sizeof(R));
    double *rq = ssli_carve(&p, n * sizeof(double));
    double *rk = ssli_carve(&p, n * sizeof(double));
    double *lse = ssli_carve(&p, n * sizeof(double));
    double val = 0, ce_all = 0, cs_all = 0;
    for (size_t a = 0; a < P; a++) {
        const float *qv = in->views[a], *kv = in->views[P + (P - 1 - a)];
        float *g = in->grads ? in->grads[a] : NULL;
        F(ssli_loss_normalize)(ctx, qv, n, d, rq, Uq);
        F(ssli_loss_normalize)(ctx, kv, n, d, rk, Uk);
        GEMM(ctx, false, true, n, n, d, (R)(1.0 / T), Uq, d, Uk, d, (R)0, S, n);
        double ce = 0, cs = 0;
        for (size_t i = 0; i < n; i++) {
            const R *s = S + i * n;
            double mx = (double)F(ssli_row_max)(s, n);
            lse[i] = mx + log(F(ssli_row_expsum)(s, NULL, n, (R)mx));
            ce += lse[i] - (double)s[i];
            cs += (double)s[i] * T;
        }
        ce /= (double)n;
        ce_all += ce;
        cs_all += cs / (double)n;
        val += scale * ce;
        if (!g) continue;
        /* dS = scale / n (softmax - I); dUq = dS Uk / T */
        const double c = scale / (double)n;
        F(moco_softmax)(ctx, S, n, n, lse, c);
        for (size_t i = 0; i < n; i++) S[i * n + i] = (R)((double)S[i * n + i] - c);
        GEMM(ctx, false, false, n, d, n, (R)(1.0 / T), S, n, Uk, d, (R)0, dU, d);
        F(ssli_loss_normalize_back)(ctx, Uq, dU, rq, n, d, g, false);
    }
    if (in->grads)
        for (size_t v = P; v < 2 * P; v++)
            if (in->grads[v]) memset(in->grads[v], 0, n * d * sizeof(float)); /* keys: stop-gradient */
    L->terms[0] = ce_all / (double)P;
    L->terms[1] = cs_all / (double)P;
    *value = val;
    return SSLK_OK;
}

#endif
