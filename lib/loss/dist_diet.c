/* DIET across ranks with the head sharded by datum index: rank r of W owns
 * the classes [lo_r, hi_r), lo_r = floor(N r / W), as rows of its
 * `head.weight` (hi_r - lo_r rows, initialised exactly as those rows of the
 * single-process head).  Every rank gathers the batch (T = views x global
 * rows, K columns), forms the logits of its classes, and one allgather of six
 * numbers per row (max, exp-sum, logit sum, target logit, best logit and its
 * class) gives every rank the global log-sum-exp, loss and accuracy, merged in
 * rank order.  Backward: dW of the own rows is complete locally (G^T H);
 * dH = sum over ranks of G_r W_r is all-reduced (T x K doubles), then each
 * rank keeps its rows.  Computed in double for both precisions; keeps the
 * T x (N / W) logits whole (no chunking of the class dimension yet).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "dist/dist_internal.h"
#include "loss_dist.h"

void ssli_loss_dist_shard(size_t N, int rank, int world, size_t *lo, size_t *hi) {
    /* N <= 2^31 (the setting's bound) and world <= 2^31: the product fits 64 bits */
    *lo = (size_t)((uint64_t)N * (uint64_t)rank / (uint64_t)world);
    *hi = (size_t)((uint64_t)N * (uint64_t)(rank + 1) / (uint64_t)world);
}

sslk_status ssli_loss_dist_diet(sslk_loss *L, const sslk_dist *t, const ssli_loss_in *in, const size_t *counts,
                                size_t Btot, double *value, const char *fn) {
    const char *kfn = "sslk_loss_compute(diet)";
    size_t W = (size_t)t->world_size, V = in->nviews, n = in->n, K = in->d, off = 0;
    for (int r = 0; r < t->rank; r++) off += counts[r];
    /* this rank's own checks, agreed on before any further collective */
    sslk_status local = SSLK_OK;
    if (!in->indices) local = ssli_err(SSLK_E_INVALID_ARG, "%s: 'indices' (datum index per row) is NULL", kfn);
    else if (in->targets) local = ssli_err(SSLK_E_INVALID_ARG, "%s: DIET takes no targets", kfn);
    else local = ssli_loss_param_ready(L, kfn);
    if (!local && K != L->pcols)
        local = ssli_err(SSLK_E_SHAPE, "%s: inputs have d = %zu columns, the head expects dim = %zu", kfn, K, L->pcols);
    if (!local) {
        size_t lo0, hi0;
        ssli_loss_dist_shard((size_t)ssli_loss_setting(L, SSLK_DIET_NUM_SAMPLES), t->rank, t->world_size, &lo0, &hi0);
        if (L->prows != hi0 - lo0)
            local = ssli_err(SSLK_E_STATE, "%s: the head has %zu rows, this rank's shard %zu: it was made before the "
                             "collectives table was attached (attach the table before the first use of the loss)",
                             kfn, L->prows, hi0 - lo0);
    }
    if (!local) local = ssli_loss_check_param(L, kfn);
    size_t *tmp = ssli_malloc(L->ctx, W, sizeof(size_t)), tt;
    if (!tmp) return ssli_alloc_status();
    sslk_status s = ssli_dist_agree(L->ctx, t, local, 0, tmp, &tt, fn);
    ssli_free(L->ctx, tmp);
    SSLI_TRY(s);
    const size_t N = (size_t)ssli_loss_setting(L, SSLK_DIET_NUM_SAMPLES), Nl = L->prows, T = V * Btot;
    size_t lo, hi;
    ssli_loss_dist_shard(N, t->rank, t->world_size, &lo, &hi);
    const double alpha = ssli_loss_setting(L, SSLK_DIET_LABEL_SMOOTHING);
    /* gathered views as double H (T x K), indices (Btot) */
    size_t TK, TN;
    if (ssli_mul_overflow(T, K, &TK) || ssli_mul_overflow(T, Nl, &TN) || T > ((size_t)1 << 40))
        return ssli_err(SSLK_E_OVERFLOW, "%s: %zu rows x %zu overflows", kfn, T, K);
    float *Hf = ssli_malloc(L->ctx, TK + 1, sizeof(float));
    double *H = ssli_malloc(L->ctx, TK + 1, sizeof(double));
    double *Wl = ssli_malloc(L->ctx, Nl * K + 1, sizeof(double));
    double *Lg = ssli_malloc(L->ctx, TN + 1, sizeof(double));
    double *dH = ssli_malloc(L->ctx, TK + 1, sizeof(double));
    double *row = ssli_malloc(L->ctx, 6 * T * (W + 1) + 1, sizeof(double));
    int64_t *idx = ssli_malloc(L->ctx, Btot + 1, sizeof(int64_t));
    size_t *cd = ssli_malloc(L->ctx, W, sizeof(size_t));
    s = Hf && H && Wl && Lg && dH && row && idx && cd ? SSLK_OK : ssli_alloc_status();
    for (size_t r = 0; s == SSLK_OK && r < W; r++) cd[r] = counts[r] * K;
    for (size_t v = 0; s == SSLK_OK && v < V; v++)
        s = ssli_dist_allgatherv_f32(t, in->views[v], n * K, Hf + v * Btot * K, cd, fn);
    if (s == SSLK_OK) s = ssli_dist_allgatherv_i64(L->ctx, t, in->indices, n, idx, counts, fn);
    for (size_t i = 0; s == SSLK_OK && i < Btot; i++)
        if (idx[i] < 0 || (uint64_t)idx[i] >= N)
            s = ssli_err(SSLK_E_RANGE, "%s: 'indices[%zu]' (of all ranks' rows) = %lld is outside [0, %zu)", kfn, i,
                         (long long)idx[i], N);
    double *mine = row, *all = row + 6 * T;
    if (s == SSLK_OK) {
        for (size_t e = 0; e < TK; e++) H[e] = Hf[e];
        for (size_t e = 0; e < Nl * K; e++) Wl[e] = L->param.data[e];
        if (Nl) ssli_dgemm(L->ctx, false, true, T, Nl, K, 1.0, H, K, Wl, K, 0.0, Lg, Nl);
        for (size_t a = 0; a < T; a++) {
            const double *l = Lg + a * Nl;
            double m = -INFINITY, es = 0, sl = 0, tl = 0, best = -INFINITY, arg = -1;
            for (size_t k = 0; k < Nl; k++) {
                if (l[k] > m) m = l[k];
                sl += l[k];
            }
            for (size_t k = 0; k < Nl; k++) es += exp(l[k] - m);
            for (size_t k = 0; k < Nl; k++)
                if (l[k] > best) best = l[k], arg = (double)(lo + k);
            size_t y = (size_t)idx[a % Btot];
            if (y >= lo && y < hi) tl = l[y - lo];
            double *o = mine + 6 * a;
            o[0] = m, o[1] = es, o[2] = sl, o[3] = tl, o[4] = best, o[5] = arg;
            if (!isfinite(sl) || (Nl && !isfinite(m)))
                s = ssli_err(SSLK_E_NONFINITE, "%s: the logits of row %zu overflow: rescale the inputs or the head",
                             kfn, a);
        }
    }
    for (size_t r = 0; cd && r < W; r++) cd[r] = 6 * T;
    /* a non-finite logit on one rank still takes part: the row sums turn NaN everywhere */
    if (s == SSLK_OK || s == SSLK_E_NONFINITE) {
        sslk_status g = ssli_dist_allgatherv_f64(t, mine, 6 * T, all, cd, fn);
        if (g) s = g;
    }
    double ce = 0, hits = 0;
    for (size_t a = 0; s == SSLK_OK && a < T; a++) {
        double M = -INFINITY, S = 0, sl = 0, tl = 0, best = -INFINITY, arg = -1;
        for (size_t r = 0; r < W; r++) {
            const double *o = all + 6 * (r * T + a);
            if (o[0] > M) M = o[0];
        }
        for (size_t r = 0; r < W; r++) {
            const double *o = all + 6 * (r * T + a);
            if (o[1] > 0) S += o[1] * exp(o[0] - M);
            sl += o[2];
            tl += o[3];
            if (o[4] > best) best = o[4], arg = o[5];
        }
        if (!isfinite(sl) || !isfinite(M)) {
            s = ssli_err(SSLK_E_NONFINITE, "%s: the logits of row %zu overflow on some rank: rescale the inputs or "
                         "the head", kfn, a);
            break;
        }
        mine[6 * a] = M + log(S); /* keep the global log-sum-exp for the backward pass */
        ce += mine[6 * a] - (1.0 - alpha) * tl - alpha / (double)N * sl;
        hits += arg == (double)idx[a % Btot];
    }
    if (s == SSLK_OK) {
        L->terms[0] = ce / (double)T;
        L->terms[1] = hits / (double)T;
        *value = L->terms[0];
    }
    if (s == SSLK_OK && in->grads) {
        const double u = alpha / (double)N / (double)T, hit = (1.0 - alpha) / (double)T, invT = 1.0 / (double)T;
        for (size_t a = 0; a < T; a++) {
            double *l = Lg + a * Nl, lse = mine[6 * a];
            for (size_t k = 0; k < Nl; k++) l[k] = exp(l[k] - lse) * invT - u;
            size_t y = (size_t)idx[a % Btot];
            if (y >= lo && y < hi) l[y - lo] -= hit;
        }
        memset(dH, 0, TK * sizeof *dH);
        if (Nl) {
            ssli_dgemm(L->ctx, false, false, T, K, Nl, 1.0, Lg, Nl, Wl, K, 0.0, dH, K);
            ssli_dgemm(L->ctx, true, false, Nl, K, T, 1.0, Lg, Nl, H, K, 0.0, Wl, K); /* Wl := dW (own rows) */
            for (size_t e = 0; e < Nl * K; e++) L->param.grad[e] += (float)Wl[e];
        }
        s = ssli_dist_allreduce_f64(t, dH, TK, fn);
        for (size_t v = 0; s == SSLK_OK && v < V; v++) {
            float *g = in->grads[v];
            if (!g) continue;
            const double *src = dH + (v * Btot + off) * K;
            for (size_t e = 0; e < n * K; e++) g[e] = (float)src[e];
        }
    }
    ssli_free(L->ctx, Hf);
    ssli_free(L->ctx, H);
    ssli_free(L->ctx, Wl);
    ssli_free(L->ctx, Lg);
    ssli_free(L->ctx, dH);
    ssli_free(L->ctx, row);
    ssli_free(L->ctx, idx);
    ssli_free(L->ctx, cd);
    return s;
}
