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
    /* ARPACK calls this hundreds of times: below ~1M entries a parallel
     * region's barrier costs more than it saves on a busy machine */
    int nt = g->nnz >= ((size_t)1 << 20) ? ssli_threads(op->ctx) : 1;
    if (op->dh) {
        for (size_t i = 0; i < n; i++) op->tmp[i] = op->dh[i] * x[i];
        in = op->tmp;
    }
#pragma omp parallel for num_threads(nt) schedule(static, 256) if (nt > 1)
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t e = g->indptr[i]; e < g->indptr[i + 1]; e++) s += (double)g->w[e] * in[g->col[e]];
        y[i] = op->dh ? op->dh[i] * s : s + (op->shift - op->deg[i]) * x[i];
    }
}

/* Connected components through edges of positive weight: comp[i] numbered
 * in order of each component's smallest node; returns their count. */
static size_t components(const ssli_csr *g, int32_t *comp, int32_t *queue) {
    size_t n = g->n, nc = 0;
    for (size_t i = 0; i < n; i++) comp[i] = -1;
    for (size_t s = 0; s < n; s++) {
        if (comp[s] >= 0) continue;
        size_t head = 0, tail = 0;
        comp[s] = (int32_t)nc;
        queue[tail++] = (int32_t)s;
        while (head < tail) {
            int32_t i = queue[head++];
            for (int64_t e = g->indptr[i]; e < g->indptr[i + 1]; e++)
                if (g->w[e] > 0 && comp[g->col[e]] < 0) {
                    comp[g->col[e]] = (int32_t)nc;
                    queue[tail++] = g->col[e];
                }
        }
        nc++;
    }
    return nc;
}

/* P (B + plus I) P with P = I - Q Q^T: the operator with the known null
 * vectors Q (one per component) deflated, so that a repeated zero Laplacian
 * eigenvalue, which Lanczos from one start vector cannot resolve, is exact. */
typedef struct deflated_op {
    ssli_graph_op base;
    const double *Q; /* nq columns of length n */
    size_t nq;
    double plus;
    double *px; /* n scratch */
} deflated_op;

static void project(const double *Q, size_t nq, size_t n, double *x) {
    for (size_t c = 0; c < nq; c++) {
        const double *q = Q + c * n;
        double dot = 0;
        for (size_t i = 0; i < n; i++) dot += q[i] * x[i];
        for (size_t i = 0; i < n; i++) x[i] -= dot * q[i];
    }
}

static void deflated_apply(const void *opv, const double *x, double *y) {
    const deflated_op *op = opv;
    size_t n = op->base.g->n;
    memcpy(op->px, x, n * sizeof(double));
    project(op->Q, op->nq, n, op->px);
    ssli_graph_op_apply(&op->base, op->px, y);
    for (size_t i = 0; i < n; i++) y[i] += op->plus * op->px[i];
    project(op->Q, op->nq, n, y);
}

sslk_status ssli_spectral_top(sslk_spectral *sp, bool normalized, size_t nev, double *mu, double *vec, double *deg,
                              double *dh, double *shift, const char *fn) {
    const ssli_csr *g = &sp->g;
    size_t n = g->n;
    ssli_graph_degrees(g, deg);
    double dmax = 0;
    for (size_t i = 0; i < n; i++) {
        if (deg[i] > dmax) dmax = deg[i];
        dh[i] = deg[i] > 0 ? 1.0 / sqrt(deg[i]) : 0.0;
    }
    if (!(dmax > 0))
        return ssli_err(SSLK_E_DEGENERATE, "%s: the graph has no edge of positive weight (sigma too small?)", fn);
    *shift = 2.0 * dmax;
    /* top value of the operator: A has 1 on D^1/2 1_C, c I - L has c on 1_C
     * (an isolated node is a component of its own, Laplacian eigenvalue 0) */
    double top = normalized ? 1.0 : *shift;
    int32_t *comp = ssli_malloc(sp->ctx, n, sizeof(int32_t));
    int32_t *queue = ssli_malloc(sp->ctx, n, sizeof(int32_t));
    double *tmp = ssli_malloc(sp->ctx, n, sizeof(double));
    double *px = ssli_malloc(sp->ctx, n, sizeof(double));
    sslk_status s = SSLK_OK;
    if (!comp || !queue || !tmp || !px) {
        s = ssli_alloc_status();
        goto done;
    }
    size_t nc = components(g, comp, queue);
    size_t nq = nc < nev ? nc : nev;
    memset(vec, 0, nq * n * sizeof(double));
    double *norm2 = (double *)tmp; /* per component, nq <= n */
    memset(norm2, 0, nq * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        size_t c = (size_t)comp[i];
        if (c >= nq) continue;
        double v = normalized && deg[i] > 0 ? sqrt(deg[i]) : 1.0;
        vec[c * n + i] = v;
        norm2[c] += v * v;
    }
    for (size_t i = 0; i < n; i++)
        if ((size_t)comp[i] < nq) vec[(size_t)comp[i] * n + i] /= sqrt(norm2[comp[i]]);
    for (size_t c = 0; c < nq; c++) mu[c] = top;
    if (nq < nev) { /* every component is deflated; ARPACK finds the rest */
        /* isolated nodes: their rows of A are zero, the projection removes them */
        double plus = normalized ? 1.0 : 0.0; /* A + I >= 0, so the deflated 0s sort last */
        deflated_op op = {{sp->ctx, g, deg, normalized ? dh : NULL, *shift, tmp}, vec, nq, plus, px};
        s = ssli_arpack_largest(sp->ctx, n, nev - nq, (size_t)ssli_spectral_get(sp, SSLK_SPECTRAL_NCV),
                                ssli_spectral_get(sp, SSLK_SPECTRAL_TOL),
                                (int64_t)ssli_spectral_get(sp, SSLK_SPECTRAL_MAX_ITER),
                                sslk_ctx_get_seed(sp->ctx), deflated_apply, &op, mu + nq, vec + nq * n, fn);
        for (size_t j = nq; j < nev; j++) mu[j] -= plus;
    }
done:
    ssli_free(sp->ctx, comp);
    ssli_free(sp->ctx, queue);
    ssli_free(sp->ctx, tmp);
    ssli_free(sp->ctx, px);
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
    SSLI_TRY(ssli_arpack_available(fn)); /* before the (possibly long) graph */
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
