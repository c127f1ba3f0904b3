/* Laplacian eigenmaps: the graph operators handed to ARPACK and the mapping
 * of their largest eigenpairs back to the smallest Laplacian ones.
 *   normalised: A = D^-1/2 W D^-1/2, lambda(L_sym) = lambda(L_rw) = 1 - mu;
 *   unnormalised: c I - (D - W) with c = 2 max degree (>= lambda_max(L) by
 *   Gershgorin), lambda(L) = c - mu.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "spectral/spectral_internal.h"

void ssli_graph_degrees(const ssli_csr *g, double *deg) {
    for (size_t i = 0; i < g->n; i++) {
        double s = 0;
        for (int64_t e = g->indptr[i]; e < g->indptr[i + 1]; e++) s += g->w[e];
        deg[i] = s;
    }
}

void ssli_graph_op_apply(const void *opv, const double *x, double *y) {
    const ssli_graph_op *op = opv;
    const ssli_csr *g = op->g;
    size_t n = g->n;
    const double *in = x;
    int nt = ssli_threads(op->ctx);
    if (op->dh) {
        for (size_t i = 0; i < n; i++) op->tmp[i] = op->dh[i] * x[i];
        in = op->tmp;
    }
#pragma omp parallel for num_threads(nt) schedule(static, 256)
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t e = g->indptr[i]; e < g->indptr[i + 1]; e++) s += (double)g->w[e] * in[g->col[e]];
        y[i] = op->dh ? op->dh[i] * s : s + (op->shift - op->deg[i]) * x[i];
    }
}

sslk_status ssli_spectral_top(sslk_spectral *sp, bool normalized, size_t nev, double *mu, double *vec, double *deg,
                              double *dh, double *shift, const char *fn) {
    const ssli_csr *g = &sp->g;
    size_t n = g->n;
    ssli_graph_degrees(g, deg);
    double dmax = 0;
    for (size_t i = 0; i < n; i++) {
        if (deg[i] > dmax) dmax = deg[i];
        dh[i] = deg[i] > 0 ? 1.0 / sqrt(deg[i]) : 0.0; /* isolated node: its row of A is zero */
    }
    if (!(dmax > 0))
        return ssli_err(SSLK_E_DEGENERATE, "%s: the graph has no edge of positive weight (sigma too small?)", fn);
    *shift = 2.0 * dmax;
    double *tmp = ssli_malloc(sp->ctx, n, sizeof(double));
    if (!tmp) return ssli_alloc_status();
    ssli_graph_op op = {sp->ctx, g, deg, normalized ? dh : NULL, *shift, tmp};
    sslk_status s = ssli_arpack_largest(sp->ctx, n, nev, (size_t)ssli_spectral_get(sp, SSLK_SPECTRAL_NCV),
                                        ssli_spectral_get(sp, SSLK_SPECTRAL_TOL),
                                        (int64_t)ssli_spectral_get(sp, SSLK_SPECTRAL_MAX_ITER),
                                        sslk_ctx_get_seed(sp->ctx), ssli_graph_op_apply, &op, mu, vec, fn);
    ssli_free(sp->ctx, tmp);
    return s;
}

sslk_status ssli_spectral_prepare(sslk_spectral *sp, const float *x, size_t n, size_t d, size_t k, const void *out,
                                  size_t *nev, const char *fn) {
    SSLI_CHECK_PTR(sp, fn);
    SSLI_CHECK_PTR(out, fn);
    SSLI_TRY(ssli_spectral_check_x(x, n, d, fn));
    size_t drop = (size_t)ssli_spectral_get(sp, SSLK_SPECTRAL_DROP_FIRST);
    if (k < 1 || k + drop >= n)
        return ssli_err(SSLK_E_SHAPE, "%s: k = %zu (plus %zu dropped) must be >= 1 and below n = %zu", fn, k, drop,
                        n);
    *nev = k + drop;
    return ssli_spectral_build_graph(sp, x, n, d, fn);
}

sslk_status sslk_spectral_eigenmaps(sslk_spectral *sp, const float *x, size_t n, size_t d, size_t k, float *emb,
                                    double *eigenvalues) {
    static const char *fn = "sslk_spectral_eigenmaps";
    size_t nev;
    SSLI_TRY(ssli_spectral_prepare(sp, x, n, d, k, emb, &nev, fn));
    size_t drop = nev - k;
    int lap = (int)ssli_spectral_get(sp, SSLK_SPECTRAL_LAPLACIAN);
    bool normalized = lap != SSLK_SPECTRAL_UNNORMALIZED;
    double *mu = ssli_malloc(sp->ctx, nev, sizeof(double));
    double *vec = ssli_malloc(sp->ctx, n, nev * sizeof(double));
    double *deg = ssli_malloc(sp->ctx, n, sizeof(double));
    double *dh = ssli_malloc(sp->ctx, n, sizeof(double));
    sslk_status s = SSLK_OK;
    double shift = 0;
    if (!mu || !vec || !deg || !dh) {
        s = ssli_alloc_status();
        goto done;
    }
    s = ssli_spectral_top(sp, normalized, nev, mu, vec, deg, dh, &shift, fn);
    if (s != SSLK_OK) goto done;
    double *sel = vec + drop * n;
    if (lap == SSLK_SPECTRAL_RANDOM_WALK)
        for (size_t c = 0; c < k; c++)
            for (size_t i = 0; i < n; i++) sel[c * n + i] *= dh[i];
    ssli_sign_fix(sel, n, k);
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < k; c++) emb[i * k + c] = (float)sel[c * n + i];
    if (eigenvalues)
        for (size_t c = 0; c < k; c++) eigenvalues[c] = (normalized ? 1.0 : shift) - mu[c + drop];
done:
    ssli_free(sp->ctx, mu);
    ssli_free(sp->ctx, vec);
    ssli_free(sp->ctx, deg);
    ssli_free(sp->ctx, dh);
    return s;
}
