/* InfoNCE / NT-Xent (SimCLR): every row is an anchor, every other row of the
 * batch is in its denominator (self excluded), rows of the same sample are
 * positives (summed inside the log when there are several, as solo-learn).
 * Value = mean over anchors (x views for the SUM view reduction = TF SimCLR).
 * The positive logits are per-sample terms; the log-sum-exp over the batch is
 * the batch-statistic term.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLI_IN_TEMPLATE
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "loss_dist.h"
#include "loss_internal.h"

static const ssli_setting_def infonce_defs[] = {
    {SSLK_INFONCE_TEMPERATURE, "temperature", SSLK_SETTING_F64, 1e-4, 1e4, 0.1,
     "softmax temperature tau of the cosine logits"},
    {SSLK_INFONCE_VIEW_REDUCTION, "view_reduction", SSLK_SETTING_I64, 0, 1, 0,
     "0 = mean over all anchors; 1 = sum over views of the per-view means (google-research/simclr: 2x)"},
};
static const ssli_setting_choices infonce_choices[] = {
    {SSLK_INFONCE_VIEW_REDUCTION, (const char *const[]){"mean", "sum", NULL}},
    {0, NULL},
};
const ssli_setting_table ssli_settings_infonce = {"infonce", infonce_defs,
                                                  sizeof infonce_defs / sizeof infonce_defs[0], infonce_choices};

static const char *const infonce_terms[] = {"positive", "logsumexp"};

typedef struct {
    int64_t id;
    size_t row;
} id_row;

static int cmp_id_row(const void *a, const void *b) {
    const id_row *x = a, *y = b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

sslk_status ssli_infonce_group_rows(const sslk_ctx *ctx, const ssli_loss_in *in, size_t T, size_t *perm,
                                    size_t *gstart, size_t *glen, size_t *ngroups) {
    id_row *tmp = ssli_malloc(ctx, T, sizeof *tmp);
    if (!tmp) return ssli_alloc_status();
    for (size_t a = 0; a < T; a++) {
        size_t i = a % in->n;
        tmp[a].id = in->indices ? in->indices[i] : (int64_t)i;
        tmp[a].row = a;
    }
    qsort(tmp, T, sizeof *tmp, cmp_id_row);
    size_t g = 0;
    for (size_t s = 0; s < T;) {
        size_t e = s + 1;
        while (e < T && tmp[e].id == tmp[s].id) e++;
        if (e - s < 2) {
            int64_t id = tmp[s].id;
            size_t row = tmp[s].row;
            ssli_free(ctx, tmp);
            return ssli_err(SSLK_E_INVALID_ARG,
                            "sslk_loss_compute(infonce): sample index %lld (row %zu) occurs once: "
                            "an anchor needs at least one positive", (long long)id, row);
        }
        for (size_t k = s; k < e; k++) {
            perm[k] = tmp[k].row;
            gstart[tmp[k].row] = s;
            glen[tmp[k].row] = e - s;
        }
        g++;
        s = e;
    }
    ssli_free(ctx, tmp);
    *ngroups = g;
    return SSLK_OK;
}

#define SSLI_LOSS_TEMPLATE "infonce.c"
#include "loss_template.h"

static sslk_status infonce_compute(sslk_loss *L, const ssli_loss_in *in, double *value) {
    const char *fn = "sslk_loss_compute(infonce)";
    if (in->nviews < 2 && !in->indices)
        return ssli_err(SSLK_E_SHAPE, "%s: needs >= 2 views, or 1 view with sample indices (got 1 view)", fn);
    size_t T = in->nviews * in->n;
    if (T > ((size_t)1 << 20))
        return ssli_err(SSLK_E_OVERFLOW, "%s: %zu anchors: the %zu x %zu logits are too large", fn, T, T, T);
    SSLI_TRY(ssli_loss_need_rows(fn, T, 2));
    return ssli_loss_double(L) ? infonce_run_d(L, in, T, value) : infonce_run_f(L, in, T, value);
}

const ssli_loss_vt ssli_loss_infonce_vt = {
    SSLK_LOSS_INFONCE, "infonce", &ssli_settings_infonce, infonce_terms, 2, 0, infonce_compute, NULL, NULL, NULL,
};

#else /* ---- template ---------------------------------------------------- */

#include "infonce_rows.h"

static sslk_status F(infonce_run)(sslk_loss *L, const ssli_loss_in *in, size_t T, double *value) {
    const sslk_ctx *ctx = L->ctx;
    const size_t n = in->n, d = in->d;
    const double tau = ssli_loss_setting(L, SSLK_INFONCE_TEMPERATURE);
    const bool want = in->grads != NULL;
    const int nt = ssli_threads(ctx);
    size_t bytes = 2 * SSLI_RUP(T * d * sizeof(R)) + SSLI_RUP(T * T * sizeof(R)) + 3 * SSLI_RUP(T * sizeof(double)) +
                   3 * SSLI_RUP(T * sizeof(size_t)) + SSLI_RUP(T * sizeof(R)) + SSLI_RUP(2 * T * sizeof(double));
    char *p = ssli_loss_workspace(L, bytes);
    if (!p) return ssli_alloc_status();
    R *U = ssli_carve(&p, T * d * sizeof(R));
    R *dU = ssli_carve(&p, T * d * sizeof(R));
    R *S = ssli_carve(&p, T * T * sizeof(R));
    double *r = ssli_carve(&p, T * sizeof(double));
    double *lpos = ssli_carve(&p, T * sizeof(double));
    double *lall = ssli_carve(&p, T * sizeof(double));
    size_t *perm = ssli_carve(&p, T * sizeof(size_t));
    R *lr = ssli_carve(&p, T * sizeof(R));
    double *mrow = ssli_carve(&p, 2 * T * sizeof(double)); /* m_a, then expm1(-l_a) */
    size_t *gstart = ssli_carve(&p, T * sizeof(size_t));
    size_t *glen = ssli_carve(&p, T * sizeof(size_t));
    size_t ngroups = 0;
    SSLI_TRY(ssli_infonce_group_rows(ctx, in, T, perm, gstart, glen, &ngroups));
    const double scale =
        ssli_loss_setting(L, SSLK_INFONCE_VIEW_REDUCTION) == SSLK_REDUCE_SUM ? (double)T / (double)ngroups : 1.0;
    const double c = scale / (double)T;

    F(ssli_loss_normalize_views)(ctx, in->views, in->nviews, n, d, r, U);
    SYRK(ctx, false, T, d, (R)(1.0 / tau), U, d, (R)0, S, T);

    /* With |S| <= 1/tau, exp(S - m_a) cannot underflow and exp(m_a - m_b) cannot
     * overflow in float when 2/tau < 80: then pass 2 reuses pass 1's exponentials. */
    const bool fast = want && 2.0 / tau < 80.0;
    /* pass 1 (read-only unless fast): positives' and all rows' log-sum-exp (infonce_rows.h) */
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
    for (long long ai = 0; ai < (long long)T; ai++) {
        const size_t a = (size_t)ai;
        F(infonce_row_lse)(S + a * T, a, T, perm + gstart[a], glen[a], fast, &lpos[a], &mrow[a], &lall[a]);
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

    /* pass 2: (G + G^T)_ab = c (P_ab + P_ba) - c (Ppos_ab + Ppos_ba), using the
     * symmetry of S; no transposition needed (infonce_rows.h) */
    if (fast)
        for (size_t b = 0; b < T; b++) lr[b] = (R)(c * exp(-lall[b])); /* c exp(-lse_b) */
    else
        for (size_t b = 0; b < T; b++) lr[b] = (R)lall[b];
    double *em1 = mrow + T; /* scratch after mrow: T doubles */
    for (size_t a = 0; a < T; a++) em1[a] = expm1(lpos[a] - lall[a]);
    size_t maxg = 1;
    for (size_t a = 0; a < T; a++) maxg = glen[a] > maxg ? glen[a] : maxg;
    double *posv = ssli_malloc(ctx, (size_t)nt * maxg, sizeof(double)); /* per thread: one row's positives */
    if (!posv) return ssli_alloc_status();
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
    for (long long ai = 0; ai < (long long)T; ai++) {
        const size_t a = (size_t)ai;
        int th = 0;
#ifdef _OPENMP
        th = omp_get_thread_num();
#endif
        F(infonce_row_grad)(S + a * T, a, T, perm + gstart[a], glen[a], fast, c, mrow[a], lall[a], lpos, em1, lr,
                            posv + (size_t)th * maxg);
    }
    ssli_free(ctx, posv);
    GEMM(ctx, false, false, T, d, T, (R)(1.0 / tau), S, T, U, d, (R)0, dU, d);
    F(ssli_loss_normalize_back_views)(ctx, U, dU, r, in->nviews, n, d, in->grads);
    return SSLK_OK;
}

#endif
