/* The spectral handle: settings table, input checks and the graph accessors.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "spectral/spectral_internal.h"

static const ssli_setting_def spectral_defs[] = {
    {SSLK_SPECTRAL_NEIGHBORS, "neighbors", SSLK_SETTING_I64, 1, 100000, 10,
     "k of the kNN graph (the point itself is not counted)"},
    {SSLK_SPECTRAL_WEIGHTS, "weights", SSLK_SETTING_I64, 0, 2, 1,
     "0 = rbf exp(-d^2/sigma^2), 1 = self-tuning exp(-d^2/(s_i s_j)), 2 = binary (kNN edge weights)"},
    {SSLK_SPECTRAL_SIGMA, "sigma", SSLK_SETTING_F64, 1e-12, 1e12, 1.0,
     "Gaussian bandwidth of rbf graphs and of the Galerkin kernel"},
    {SSLK_SPECTRAL_SYMMETRIZE, "symmetrize", SSLK_SETTING_I64, 0, 1, 0,
     "0 = union (a_ij + a_ji)/2, 1 = mutual neighbours only"},
    {SSLK_SPECTRAL_GRAPH, "graph", SSLK_SETTING_I64, 0, 1, 0, "0 = sparse kNN, 1 = dense rbf (small n)"},
    {SSLK_SPECTRAL_LAPLACIAN, "laplacian", SSLK_SETTING_I64, 0, 2, 1,
     "0 = unnormalised D - W, 1 = symmetric normalised, 2 = random walk"},
    {SSLK_SPECTRAL_DENSE_MAX_N, "dense_max_n", SSLK_SETTING_I64, 2, 1 << 20, 4096,
     "largest n of a dense graph and largest Galerkin p (SSLK_E_LIMIT beyond)"},
    {SSLK_SPECTRAL_DROP_FIRST, "drop_first", SSLK_SETTING_I64, 0, 1, 1,
     "skip the smallest (trivial, constant on a connected graph) eigenvector"},
    {SSLK_SPECTRAL_TOL, "tol", SSLK_SETTING_F64, 0, 1, 1e-8, "ARPACK relative tolerance (0 = machine precision)"},
    {SSLK_SPECTRAL_MAX_ITER, "max_iter", SSLK_SETTING_I64, 1, 10000000, 5000, "ARPACK restart limit"},
    {SSLK_SPECTRAL_NCV, "ncv", SSLK_SETTING_I64, 0, 100000, 0,
     "ARPACK Lanczos vectors (0 = auto: max(2 nev + 1, 20), at most n)"},
    {SSLK_SPECTRAL_MEMORY_MB, "memory_mb", SSLK_SETTING_I64, 1, 1 << 20, 64,
     "cap on one query x n distance block of the kNN search, MiB"},
};
static const ssli_setting_choices spectral_choices[] = {
    {SSLK_SPECTRAL_WEIGHTS, (const char *const[]){"rbf", "self_tuning", "binary", NULL}},
    {SSLK_SPECTRAL_SYMMETRIZE, (const char *const[]){"union", "mutual", NULL}},
    {SSLK_SPECTRAL_GRAPH, (const char *const[]){"knn", "dense", NULL}},
    {SSLK_SPECTRAL_LAPLACIAN, (const char *const[]){"unnormalized", "symmetric", "random_walk", NULL}},
    {0, NULL},
};
const ssli_setting_table ssli_settings_spectral = {"spectral", spectral_defs,
                                                   sizeof spectral_defs / sizeof spectral_defs[0], spectral_choices};

_Static_assert(sizeof spectral_defs / sizeof spectral_defs[0] == SSLI_SPECTRAL_NSET, "settings count");

double ssli_spectral_get(const sslk_spectral *sp, int key) {
    return sp->set[ssli_setting_index(&ssli_settings_spectral, key)];
}

sslk_status sslk_spectral_create(sslk_ctx *ctx, sslk_spectral **out) {
    SSLI_CHECK_PTR(out, "sslk_spectral_create");
    *out = NULL;
    SSLI_CHECK_PTR(ctx, "sslk_spectral_create");
    sslk_spectral *sp = ssli_calloc(ctx, 1, sizeof *sp);
    if (!sp) return ssli_alloc_status();
    sp->ctx = ctx;
    ssli_setting_defaults(&ssli_settings_spectral, sp->set);
    *out = sp;
    return SSLK_OK;
}

void ssli_csr_free(const sslk_ctx *ctx, ssli_csr *g) {
    ssli_free(ctx, g->indptr);
    ssli_free(ctx, g->col);
    ssli_free(ctx, g->w);
    memset(g, 0, sizeof *g);
}

void sslk_spectral_destroy(sslk_spectral *sp) {
    if (!sp) return;
    ssli_csr_free(sp->ctx, &sp->g);
    ssli_free(sp->ctx, sp);
}

/* sslk_spectral_{set,get}_{f64,i64} */
SSLI_SETTINGS_TABLE_ACCESSORS(sslk_spectral, sslk_spectral, ssli_settings_spectral, set)

sslk_status ssli_spectral_check_x(const float *x, size_t n, size_t d, const char *fn) {
    SSLI_CHECK_PTR(x, fn);
    if (n < 2 || d < 1) return ssli_err(SSLK_E_SHAPE, "%s: x is %zu x %zu, needs n >= 2 and d >= 1", fn, n, d);
    /* int32 column indices and ARPACK's int sizes */
    if (n > (size_t)INT32_MAX - 1)
        return ssli_err(SSLK_E_SHAPE, "%s: n = %zu is absurd (above 2^31 - 2 points)", fn, n);
    size_t nd;
    if (ssli_mul_overflow(n, d, &nd))
        return ssli_err(SSLK_E_OVERFLOW, "%s: n * d overflows (n = %zu, d = %zu)", fn, n, d);
    return ssli_check_finite_f32(x, n, d, fn, "x");
}

sslk_status sslk_spectral_graph(sslk_spectral *sp, const float *x, size_t n, size_t d) {
    static const char *fn = "sslk_spectral_graph";
    SSLI_CHECK_PTR(sp, fn);
    SSLI_TRY(ssli_spectral_check_x(x, n, d, fn));
    return ssli_spectral_build_graph(sp, x, n, d, fn);
}

sslk_status sslk_spectral_graph_size(const sslk_spectral *sp, size_t *n, size_t *nnz) {
    static const char *fn = "sslk_spectral_graph_size";
    SSLI_CHECK_PTR(sp, fn);
    if (!sp->g.indptr) return ssli_err(SSLK_E_STATE, "%s: no graph built yet (call sslk_spectral_graph)", fn);
    if (n) *n = sp->g.n;
    if (nnz) *nnz = sp->g.nnz;
    return SSLK_OK;
}

sslk_status sslk_spectral_graph_csr(const sslk_spectral *sp, int64_t *indptr, int64_t *indices, float *weights) {
    static const char *fn = "sslk_spectral_graph_csr";
    SSLI_CHECK_PTR(sp, fn);
    if (!sp->g.indptr) return ssli_err(SSLK_E_STATE, "%s: no graph built yet (call sslk_spectral_graph)", fn);
    const ssli_csr *g = &sp->g;
    if (indptr) memcpy(indptr, g->indptr, (g->n + 1) * sizeof(int64_t));
    if (indices)
        for (size_t e = 0; e < g->nnz; e++) indices[e] = g->col[e];
    if (weights) memcpy(weights, g->w, g->nnz * sizeof(float));
    return SSLK_OK;
}

void ssli_sign_fix(double *v, size_t n, size_t k) {
    for (size_t c = 0; c < k; c++) {
        double *col = v + c * n, best = 0;
        size_t at = 0;
        for (size_t i = 0; i < n; i++)
            if (fabs(col[i]) > best) {
                best = fabs(col[i]);
                at = i;
            }
        if (col[at] < 0)
            for (size_t i = 0; i < n; i++) col[i] = -col[i];
    }
}
