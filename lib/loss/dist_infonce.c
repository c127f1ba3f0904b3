/* NT-Xent / InfoNCE across ranks, each rank computing only its own anchors.
 * The keys are every row of every view of all ranks (all-gathered, plus the
 * sample ids); rank r forms the logits of its V n_r anchors against the
 * V N keys (V n_r x V N instead of the one-process (V N)^2), their two
 * log-sum-exps (positives: per-sample term; all other rows: batch
 * statistic), and all-gathers those two numbers per anchor.  Every rank then
 * holds lse_b and lpos_b of every anchor b of the global batch, hence the
 * global value (summed in global row order, as one process), and the exact
 * gradient of its own rows: d/du_a gets the anchor part sum_b G_ab u_b and the
 * key part sum_b G_ba u_b (a as a key of every rank's anchors b), and by the
 * symmetry of the logits G_ba = c (exp(S_ab - lse_b) - [pos] exp(S_ab -
 * lpos_b)) needs only the gathered lse_b and lpos_b, not b's row of logits.
 * So the sum over ranks of the key gradient (a V N x d all-reduce) is
 * replaced by an all-gather of 2 doubles per anchor, and the same row kernels
 * as one process run (infonce_rows.h).
 * Cost per rank: 6 V n V N d flops (linear in the ranks), V n x V N logits.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLI_IN_TEMPLATE
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "dist/dist_internal.h"
#include "loss_dist.h"

#define SSLI_LOSS_TEMPLATE "dist_infonce.c"
#include "loss_template.h"

sslk_status ssli_loss_dist_infonce(sslk_loss *L, const sslk_dist *t, const ssli_loss_in *in, const size_t *counts,
                                   size_t N, double *value, const char *fn) {
    const char *kfn = "sslk_loss_compute(infonce)";
    /* the one-process checks on the global batch (every rank agreed on V, d, ids) */
    if (in->nviews < 2 && !in->indices)
        return ssli_err(SSLK_E_SHAPE, "%s: needs >= 2 views, or 1 view with sample indices (got 1 view)", kfn);
    size_t T;
    if (ssli_mul_overflow(in->nviews, N, &T) || T > ((size_t)1 << 20))
        return ssli_err(SSLK_E_OVERFLOW, "%s: %zu views x %zu rows of all ranks: the logits are too large", kfn,
                        in->nviews, N);
    SSLI_TRY(ssli_loss_need_rows(kfn, T, 2));
    return ssli_loss_double(L) ? dist_infonce_run_d(L, t, in, counts, N, T, value, fn)
                               : dist_infonce_run_f(L, t, in, counts, N, T, value, fn);
}

#else /* ---- template ---------------------------------------------------- */

#include "infonce_rows.h"

static sslk_status F(dist_infonce_run)(sslk_loss *L, const sslk_dist *t, const ssli_loss_in *in,
                                       const size_t *counts, size_t N, size_t T, double *value, const char *fn) {
    const sslk_ctx *ctx = L->ctx;
    const size_t V = in->nviews, n = in->n, d = in->d, tl = V * n, W = (size_t)t->world_size;
    size_t off = 0;
    for (int r = 0; r < t->rank; r++) off += counts[r];
    const double tau = ssli_loss_setting(L, SSLK_INFONCE_TEMPERATURE);
    const bool want = in->grads != NULL;
    const int nt = ssli_threads(ctx);
    size_t Td, tT;
    if (ssli_mul_overflow(T, d, &Td) || ssli_mul_overflow(tl, T, &tT) || Td > ((size_t)1 << 40) ||
        tT > ((size_t)1 << 40))
        return ssli_err(SSLK_E_OVERFLOW, "%s: %zu keys x %zu columns, %zu anchors: too large", fn, T, d, tl);
    /* gathered keys U (T x d) with their norms r; this rank's anchors Ul (tl x d), logits S (tl x T) */
    size_t bytes = SSLI_RUP(Td * sizeof(R)) + 2 * SSLI_RUP(tl * d * sizeof(R)) + SSLI_RUP(tT * sizeof(R)) +
                   SSLI_RUP(T * sizeof(R)) + 4 * SSLI_RUP(T * sizeof(double)) + 3 * SSLI_RUP(T * sizeof(size_t)) +
                   4 * SSLI_RUP(tl * sizeof(double));
    char *p = ssli_loss_workspace(L, bytes);
    if (!p) return ssli_alloc_status();
    R *U = ssli_carve(&p, Td * sizeof(R));
    R *Ul = ssli_carve(&p, tl * d * sizeof(R));
    R *dU = ssli_carve(&p, tl * d * sizeof(R));
    R *S = ssli_carve(&p, tT * sizeof(R));
    R *lr = ssli_carve(&p, T * sizeof(R));
    double *r = ssli_carve(&p, T * sizeof(double));
    double *lpos = ssli_carve(&p, T * sizeof(double)); /* of every anchor, global stack order */
    double *lall = ssli_carve(&p, T * sizeof(double));
    double *em1 = ssli_carve(&p, T * sizeof(double));
    size_t *perm = ssli_carve(&p, T * sizeof(size_t));
    size_t *gstart = ssli_carve(&p, T * sizeof(size_t));
    size_t *glen = ssli_carve(&p, T * sizeof(size_t));
    double *rl = ssli_carve(&p, tl * sizeof(double));
    double *mrow = ssli_carve(&p, tl * sizeof(double));
    double *mine = ssli_carve(&p, 2 * tl * sizeof(double)); /* [lpos, lall] of own anchors */

    /* gather the views (float, as given) and the ids; the recv buffer is the
     * T x 2 doubles of the lse gather's too, so size it for the larger */
    size_t gbytes = Td * sizeof(float) > 2 * T * sizeof(double) ? Td * sizeof(float) : 2 * T * sizeof(double);
    float *G = ssli_malloc(ctx, gbytes / sizeof(float) + 1, sizeof(float));
    const float **views = ssli_calloc(ctx, V, sizeof(float *));
    size_t *cd = ssli_malloc(ctx, W, sizeof(size_t));
    int64_t *idx = in->indices ? ssli_malloc(ctx, N, sizeof(int64_t)) : NULL;
    sslk_status s = G && views && cd && (idx || !in->indices) ? SSLK_OK : ssli_alloc_status();
    for (size_t q = 0; s == SSLK_OK && q < W; q++) cd[q] = counts[q] * d;
    for (size_t v = 0; s == SSLK_OK && v < V; v++) {
        views[v] = G + v * N * d;
        s = ssli_dist_allgatherv_f32(t, in->views[v], n * d, G + v * N * d, cd, fn);
    }
    if (s == SSLK_OK && in->indices) s = ssli_dist_allgatherv_i64(ctx, t, in->indices, n, idx, counts, fn);
    size_t ngroups = 0;
    if (s == SSLK_OK) { /* the same ids on every rank: a singleton fails on all of them alike */
        ssli_loss_in gin = {views, V, N, d, idx, NULL, NULL};
        s = ssli_infonce_group_rows(ctx, &gin, T, perm, gstart, glen, &ngroups);
    }
    if (s == SSLK_OK) F(ssli_loss_normalize_views)(ctx, views, V, N, d, r, U);
    ssli_free(ctx, views);
    ssli_free(ctx, idx);
    if (s != SSLK_OK) {
        ssli_free(ctx, G);
        ssli_free(ctx, cd);
        return s;
    }
    const double scale =
        ssli_loss_setting(L, SSLK_INFONCE_VIEW_REDUCTION) == SSLK_REDUCE_SUM ? (double)T / (double)ngroups : 1.0;
    const double c = scale / (double)T;
    /* own anchor j = v n + i is key v N + off + i */
#define GROW(j) (((j) / n) * N + off + (j) % n)
    for (size_t j = 0; j < tl; j++) {
        memcpy(Ul + j * d, U + GROW(j) * d, d * sizeof(R));
        rl[j] = r[GROW(j)];
    }
    for (size_t v = 0; v < V; v++)
        GEMM(ctx, false, true, n, T, d, (R)(1.0 / tau), Ul + v * n * d, d, U, d, (R)0, S + v * n * T, T);

    const bool fast = want && 2.0 / tau < 80.0; /* as infonce.c */
    double *ml = mine, *al = mine + tl;
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
    for (long long ji = 0; ji < (long long)tl; ji++) {
        const size_t j = (size_t)ji, a = GROW(j);
        F(infonce_row_lse)(S + j * T, a, T, perm + gstart[a], glen[a], fast, &ml[j], &mrow[j], &al[j]);
    }
    /* the two log-sum-exps of every anchor: rank q sends [lpos of its V n_q, lall of them] */
    double *all = (double *)G;
    for (size_t q = 0; q < W; q++) cd[q] = 2 * V * counts[q];
    s = ssli_dist_allgatherv_f64(t, mine, 2 * tl, all, cd, fn);
    for (size_t q = 0, o = 0, oq = 0; s == SSLK_OK && q < W; o += 2 * V * counts[q], oq += counts[q], q++)
        for (size_t j = 0; j < V * counts[q]; j++) {
            size_t a = (j / counts[q]) * N + oq + j % counts[q];
            lpos[a] = all[o + j];
            lall[a] = all[o + V * counts[q] + j];
        }
    ssli_free(ctx, G);
    ssli_free(ctx, cd);
    SSLI_TRY(s);
    double sum_pos = 0, sum_all = 0; /* global row order, as one process */
    for (size_t a = 0; a < T; a++) {
        sum_pos += lpos[a];
        sum_all += lall[a];
    }
    L->terms[0] = -sum_pos / (double)T;
    L->terms[1] = sum_all / (double)T;
    *value = scale * (L->terms[0] + L->terms[1]);
    if (!want) return SSLK_OK;

    if (fast)
        for (size_t b = 0; b < T; b++) lr[b] = (R)(c * exp(-lall[b]));
    else
        for (size_t b = 0; b < T; b++) lr[b] = (R)lall[b];
    for (size_t a = 0; a < T; a++) em1[a] = expm1(lpos[a] - lall[a]);
    size_t maxg = 1;
    for (size_t a = 0; a < T; a++) maxg = glen[a] > maxg ? glen[a] : maxg;
    double *posv = ssli_malloc(ctx, (size_t)nt * maxg, sizeof(double));
    if (!posv) return ssli_alloc_status();
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
    for (long long ji = 0; ji < (long long)tl; ji++) {
        const size_t j = (size_t)ji, a = GROW(j);
        int th = 0;
#ifdef _OPENMP
        th = omp_get_thread_num();
#endif
        F(infonce_row_grad)(S + j * T, a, T, perm + gstart[a], glen[a], fast, c, mrow[j], lall[a], lpos, em1, lr,
                            posv + (size_t)th * maxg);
    }
#undef GROW
    ssli_free(ctx, posv);
    GEMM(ctx, false, false, tl, d, T, (R)(1.0 / tau), S, T, U, d, (R)0, dU, d);
    F(ssli_loss_normalize_back_views)(ctx, Ul, dU, rl, V, n, d, in->grads);
    return SSLK_OK;
}

#endif
