/* Cross-view-only symmetric InfoNCE (CLIP / MoCo-v3 style): logits
 * A = U1 U2^T / tau, loss = (CE_rows(A, I) + CE_cols(A, I)) / 2, each CE a mean
 * over n rows; only the other view's samples are negatives.  Settings domain
 * "infonce" (temperature; view_reduction SUM doubles the value).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLI_IN_TEMPLATE
#include <string.h>

#include "loss_internal.h"

static const char *const infonce_sym_terms[] = {"a_to_b", "b_to_a"};

#define SSLI_LOSS_TEMPLATE "infonce_sym.c"
#include "loss_template.h"

static sslk_status infonce_sym_compute(sslk_loss *L, const ssli_loss_in *in, double *value) {
    const char *fn = "sslk_loss_compute(infonce_symmetric)";
    if (in->nviews != 2)
        return ssli_err(SSLK_E_SHAPE, "%s: takes exactly 2 views, got %zu", fn, in->nviews);
    if (in->indices)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: takes no sample indices (row i of each view is sample i)", fn);
    if (in->n > ((size_t)1 << 20)) return ssli_err(SSLK_E_OVERFLOW, "%s: n = %zu is too large", fn, in->n);
    SSLI_TRY(ssli_loss_need_rows(fn, in->n, 2));
    return ssli_loss_double(L) ? infonce_sym_run_d(L, in, value) : infonce_sym_run_f(L, in, value);
}

const ssli_loss_vt ssli_loss_infonce_sym_vt = {
    SSLK_LOSS_INFONCE_SYMMETRIC, "infonce_symmetric", &ssli_settings_infonce, infonce_sym_terms, 2, 0,
    infonce_sym_compute, NULL, NULL, NULL,
};

#else /* ---- template ---------------------------------------------------- */

static sslk_status F(infonce_sym_run)(sslk_loss *L, const ssli_loss_in *in, double *value) {
    const sslk_ctx *ctx = L->ctx;
    const size_t n = in->n, d = in->d;
    const double tau = ssli_loss_setting(L, SSLK_INFONCE_TEMPERATURE);
    const double scale = ssli_loss_setting(L, SSLK_INFONCE_VIEW_REDUCTION) == SSLK_REDUCE_SUM ? 2.0 : 1.0;
    size_t bytes = 4 * SSLI_RUP(n * d * sizeof(R)) + SSLI_RUP(n * n * sizeof(R)) + 6 * SSLI_RUP(n * sizeof(double));
    char *p = ssli_loss_workspace(L, bytes);
    if (!p) return ssli_alloc_status();
    R *U1 = ssli_carve(&p, n * d * sizeof(R));
    R *U2 = ssli_carve(&p, n * d * sizeof(R));
    R *dU1 = ssli_carve(&p, n * d * sizeof(R));
    R *dU2 = ssli_carve(&p, n * d * sizeof(R));
    R *A = ssli_carve(&p, n * n * sizeof(R));
    double *r1 = ssli_carve(&p, n * sizeof(double));
    double *r2 = ssli_carve(&p, n * sizeof(double));
    double *lr = ssli_carve(&p, n * sizeof(double));
    double *lc = ssli_carve(&p, n * sizeof(double));
    double *mc = ssli_carve(&p, n * sizeof(double));
    double *sc = ssli_carve(&p, n * sizeof(double));
    F(ssli_loss_normalize)(ctx, in->views[0], n, d, r1, U1);
    F(ssli_loss_normalize)(ctx, in->views[1], n, d, r2, U2);
    GEMM(ctx, false, true, n, n, d, (R)(1.0 / tau), U1, d, U2, d, (R)0, A, n);
    const int nt = ssli_threads(ctx);
    /* row log-sum-exp */
#pragma omp parallel for schedule(static) num_threads(nt)
    for (long long i = 0; i < (long long)n; i++) {
        const R *a = A + (size_t)i * n;
        double m = -INFINITY, s = 0;
        for (size_t j = 0; j < n; j++) m = (double)a[j] > m ? (double)a[j] : m;
        for (size_t j = 0; j < n; j++) s += (double)EXPR((R)((double)a[j] - m));
        lr[i] = m + log(s);
    }
    /* column log-sum-exp: column blocks, rows in order (thread-count independent) */
    long long nb = (long long)((n + 63) / 64);
#pragma omp parallel for schedule(static) num_threads(nt)
    for (long long q = 0; q < nb; q++) {
        size_t j0 = (size_t)q * 64, j1 = j0 + 64 < n ? j0 + 64 : n;
        for (size_t j = j0; j < j1; j++) mc[j] = -INFINITY, sc[j] = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = j0; j < j1; j++) mc[j] = (double)A[i * n + j] > mc[j] ? (double)A[i * n + j] : mc[j];
        for (size_t i = 0; i < n; i++)
            for (size_t j = j0; j < j1; j++) sc[j] += (double)EXPR((R)((double)A[i * n + j] - mc[j]));
        for (size_t j = j0; j < j1; j++) lc[j] = mc[j] + log(sc[j]);
    }
    double ab = 0, ba = 0;
    for (size_t i = 0; i < n; i++) {
        ab += lr[i] - (double)A[i * n + i];
        ba += lc[i] - (double)A[i * n + i];
    }
    L->terms[0] = ab / (double)n;
    L->terms[1] = ba / (double)n;
    *value = scale * 0.5 * (L->terms[0] + L->terms[1]);
    if (!in->grads) return SSLK_OK;
    const double c = scale / (2.0 * (double)n);
#pragma omp parallel for schedule(static) num_threads(nt)
    for (long long i = 0; i < (long long)n; i++) {
        R *a = A + (size_t)i * n;
        for (size_t j = 0; j < n; j++) {
            double x = (double)a[j];
            a[j] = (R)(c * ((double)EXPR((R)(x - lr[i])) + (double)EXPR((R)(x - lc[j]))));
        }
        a[i] -= (R)(2.0 * c);
    }
    GEMM(ctx, false, false, n, d, n, (R)(1.0 / tau), A, n, U2, d, (R)0, dU1, d);
    GEMM(ctx, true, false, n, d, n, (R)(1.0 / tau), A, n, U1, d, (R)0, dU2, d);
    if (in->grads[0]) F(ssli_loss_normalize_back)(ctx, U1, dU1, r1, n, d, in->grads[0], false);
    if (in->grads[1]) F(ssli_loss_normalize_back)(ctx, U2, dU2, r2, n, d, in->grads[1], false);
    return SSLK_OK;
}

#endif
