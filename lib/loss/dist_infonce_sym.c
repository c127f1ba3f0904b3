/* Symmetric (cross-view) InfoNCE across ranks, each rank computing only its
 * own rows.  With A = U1 U2^T / tau over the global batch, rank r owns rows
 * i of A (its view-1 anchors against all view-2 keys) and columns j (its
 * view-2 anchors against all view-1 keys): it forms Ar = U1_r U2^T and Ac =
 * U2_r U1^T (n_r x N each, against the all-gathered views), their row
 * log-sum-exps lr_i and lc_j, and all-gathers (lr, lc, lr - A_ii, lc - A_jj)
 * per row.  The gradient of A_ij, c (P_ij + Q_ij) - 2c [i = j] with
 * P_ij = exp(A_ij - lr_i), Q_ij = exp(A_ij - lc_j), then needs for own i
 * the gathered lc_j (dU1_i = sum_j dA_ij u2_j / tau) and for own j the
 * gathered lr_i (dU2_j = sum_i dA_ij u1_i / tau): no N x d all-reduce.
 * Cost per rank: 8 n N d flops, 2 n x N logits.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLI_IN_TEMPLATE
#include <string.h>

#include "dist/dist_internal.h"
#include "loss_dist.h"

#define SSLI_LOSS_TEMPLATE "dist_infonce_sym.c"
#include "loss_template.h"

sslk_status ssli_loss_dist_infonce_sym(sslk_loss *L, const sslk_dist *t, const ssli_loss_in *in,
                                       const size_t *counts, size_t N, double *value, const char *fn) {
    const char *kfn = "sslk_loss_compute(infonce_symmetric)";
    if (in->nviews != 2) return ssli_err(SSLK_E_SHAPE, "%s: takes exactly 2 views, got %zu", kfn, in->nviews);
    if (in->indices)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: takes no sample indices (row i of each view is sample i)", kfn);
    if (N > ((size_t)1 << 20)) return ssli_err(SSLK_E_OVERFLOW, "%s: n = %zu (all ranks) is too large", kfn, N);
    SSLI_TRY(ssli_loss_need_rows(kfn, N, 2));
    return ssli_loss_double(L) ? dist_sym_run_d(L, t, in, counts, N, value, fn)
                               : dist_sym_run_f(L, t, in, counts, N, value, fn);
}

#else /* ---- template ---------------------------------------------------- */

/* log-sum-exp of each of the n rows of A (n x N), as infonce_sym.c's rows */
static void F(sym_row_lse)(const R *A, size_t n, size_t N, double *l, int nt) {
#pragma omp parallel for schedule(static) num_threads(nt)
    for (long long i = 0; i < (long long)n; i++) {
        const R *a = A + (size_t)i * N;
        double m = -INFINITY, s = 0;
        for (size_t j = 0; j < N; j++) m = (double)a[j] > m ? (double)a[j] : m;
        for (size_t j = 0; j < N; j++) s += (double)EXPR((R)((double)a[j] - m));
        l[i] = m + log(s);
    }
}

/* A := c (exp(A_ij - l_i) + exp(A_ij - lk_j)) - 2c [j = off + i], in place */
static void F(sym_row_grad)(R *A, size_t n, size_t N, size_t off, const double *l, const double *lk, double c,
                            int nt) {
#pragma omp parallel for schedule(static) num_threads(nt)
    for (long long i = 0; i < (long long)n; i++) {
        R *a = A + (size_t)i * N;
        for (size_t j = 0; j < N; j++) {
            double x = (double)a[j];
            a[j] = (R)(c * ((double)EXPR((R)(x - l[i])) + (double)EXPR((R)(x - lk[j]))));
        }
        a[off + (size_t)i] -= (R)(2.0 * c);
    }
}

static sslk_status F(dist_sym_run)(sslk_loss *L, const sslk_dist *t, const ssli_loss_in *in, const size_t *counts,
                                   size_t N, double *value, const char *fn) {
    const sslk_ctx *ctx = L->ctx;
    const size_t n = in->n, d = in->d, W = (size_t)t->world_size;
    size_t off = 0;
    for (int q = 0; q < t->rank; q++) off += counts[q];
    const double tau = ssli_loss_setting(L, SSLK_INFONCE_TEMPERATURE);
    const double scale = ssli_loss_setting(L, SSLK_INFONCE_VIEW_REDUCTION) == SSLK_REDUCE_SUM ? 2.0 : 1.0;
    const int nt = ssli_threads(ctx);
    size_t Nd, nN;
    if (ssli_mul_overflow(N, d, &Nd) || ssli_mul_overflow(n, N, &nN) || Nd > ((size_t)1 << 40))
        return ssli_err(SSLK_E_OVERFLOW, "%s: %zu rows x %zu columns: too large", fn, N, d);
    size_t bytes = 2 * SSLI_RUP(Nd * sizeof(R)) + 2 * SSLI_RUP(n * d * sizeof(R)) + 2 * SSLI_RUP(nN * sizeof(R)) +
                   2 * SSLI_RUP(N * sizeof(double)) + 2 * SSLI_RUP(N * sizeof(double)) +
                   SSLI_RUP(4 * n * sizeof(double)) + SSLI_RUP(4 * N * sizeof(double));
    char *p = ssli_loss_workspace(L, bytes);
    if (!p) return ssli_alloc_status();
    R *U1 = ssli_carve(&p, Nd * sizeof(R));
    R *U2 = ssli_carve(&p, Nd * sizeof(R));
    R *dU1 = ssli_carve(&p, n * d * sizeof(R));
    R *dU2 = ssli_carve(&p, n * d * sizeof(R));
    R *Ar = ssli_carve(&p, nN * sizeof(R));
    R *Ac = ssli_carve(&p, nN * sizeof(R));
    double *r1 = ssli_carve(&p, N * sizeof(double));
    double *r2 = ssli_carve(&p, N * sizeof(double));
    double *lr = ssli_carve(&p, N * sizeof(double)); /* of all rows, after the gather */
    double *lc = ssli_carve(&p, N * sizeof(double));
    double *mine = ssli_carve(&p, 4 * n * sizeof(double));
    double *all = ssli_carve(&p, 4 * N * sizeof(double));

    float *G = ssli_malloc(ctx, 2 * Nd, sizeof(float));
    size_t *cd = ssli_malloc(ctx, W, sizeof(size_t));
    sslk_status s = G && cd ? SSLK_OK : ssli_alloc_status();
    for (size_t q = 0; s == SSLK_OK && q < W; q++) cd[q] = counts[q] * d;
    for (size_t v = 0; s == SSLK_OK && v < 2; v++)
        s = ssli_dist_allgatherv_f32(t, in->views[v], n * d, G + v * Nd, cd, fn);
    if (s == SSLK_OK) {
        F(ssli_loss_normalize)(ctx, G, N, d, r1, U1);
        F(ssli_loss_normalize)(ctx, G + Nd, N, d, r2, U2);
    }
    ssli_free(ctx, G);
    if (s != SSLK_OK) {
        ssli_free(ctx, cd);
        return s;
    }
    const R *U1l = U1 + off * d, *U2l = U2 + off * d;
    GEMM(ctx, false, true, n, N, d, (R)(1.0 / tau), U1l, d, U2, d, (R)0, Ar, N);
    GEMM(ctx, false, true, n, N, d, (R)(1.0 / tau), U2l, d, U1, d, (R)0, Ac, N);
    F(sym_row_lse)(Ar, n, N, mine, nt);
    F(sym_row_lse)(Ac, n, N, mine + n, nt);
    for (size_t i = 0; i < n; i++) {
        mine[2 * n + i] = mine[i] - (double)Ar[i * N + off + i];
        mine[3 * n + i] = mine[n + i] - (double)Ac[i * N + off + i];
    }
    for (size_t q = 0; q < W; q++) cd[q] = 4 * counts[q];
    s = ssli_dist_allgatherv_f64(t, mine, 4 * n, all, cd, fn);
    double ab = 0, ba = 0; /* global row order, as one process */
    for (size_t q = 0, o = 0, oq = 0; s == SSLK_OK && q < W; o += 4 * counts[q], oq += counts[q], q++)
        for (size_t i = 0; i < counts[q]; i++) {
            const double *b = all + o;
            lr[oq + i] = b[i];
            lc[oq + i] = b[counts[q] + i];
            ab += b[2 * counts[q] + i];
            ba += b[3 * counts[q] + i];
        }
    ssli_free(ctx, cd);
    SSLI_TRY(s);
    L->terms[0] = ab / (double)N;
    L->terms[1] = ba / (double)N;
    *value = scale * 0.5 * (L->terms[0] + L->terms[1]);
    if (!in->grads) return SSLK_OK;
    const double c = scale / (2.0 * (double)N);
    if (in->grads[0]) {
        F(sym_row_grad)(Ar, n, N, off, lr + off, lc, c, nt);
        GEMM(ctx, false, false, n, d, N, (R)(1.0 / tau), Ar, N, U2, d, (R)0, dU1, d);
        F(ssli_loss_normalize_back)(ctx, U1l, dU1, r1 + off, n, d, in->grads[0], false);
    }
    if (in->grads[1]) { /* Ac_ji = A_ij: row lse of A^T is lc (own), column side lr (gathered) */
        F(sym_row_grad)(Ac, n, N, off, lc + off, lr, c, nt);
        GEMM(ctx, false, false, n, d, N, (R)(1.0 / tau), Ac, N, U1, d, (R)0, dU2, d);
        F(ssli_loss_normalize_back)(ctx, U2l, dU2, r2 + off, n, d, in->grads[1], false);
    }
    return SSLK_OK;
}

#endif
