/* Spectral embeddings: graphs, Laplacian eigenmaps and diffusion maps
 * (ARPACK), Galerkin eigenfunctions.  References: hand-derived spectra (T2:
 * two cliques; K3's Laplacian spectrum 0, 3, 3), a dense LAPACK
 * eigendecomposition of the same Laplacian, brute-force neighbours, the
 * Neumann spectrum (pi m)^2 of [0, 1] (T3), and the half-moons separation.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/linalg.h"
#include "testutil.h"

static sslk_ctx *ctx;
static sslk_spectral *sp;
static void setup(void) {
    ck_ok(sslk_ctx_create(&ctx));
    ck_ok(sslk_spectral_create(ctx, &sp));
}
static void teardown(void) {
    sslk_spectral_destroy(sp);
    sslk_ctx_destroy(ctx);
}

#ifdef SSLK_HAVE_ARPACK
/* Two moons (n/2 each) with deterministic noise; labels into y. */
static void moons(float *x, int *y, size_t n, double noise, unsigned seed) {
    double *e = malloc(2 * n * sizeof(double));
    tu_fill_normal_d(e, 2 * n, seed);
    size_t h = n / 2;
    for (size_t i = 0; i < n; i++) {
        bool second = i >= h;
        size_t j = second ? i - h : i, m = second ? n - h : h;
        double t = M_PI * (double)j / (double)(m - 1);
        double a = second ? 1 - cos(t) : cos(t), b = second ? 1 - sin(t) - 0.5 : sin(t);
        x[2 * i] = (float)(a + noise * e[2 * i]);
        x[2 * i + 1] = (float)(b + noise * e[2 * i + 1]);
        y[i] = second;
    }
    free(e);
}

/* Leave-one-out 5-NN majority accuracy of labels y on the rows of emb (n x k). */
static double knn_accuracy(const float *emb, const int *y, size_t n, size_t k) {
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        double bd[5];
        int by[5];
        size_t c = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            double s = 0;
            for (size_t a = 0; a < k; a++) s += pow((double)emb[i * k + a] - emb[j * k + a], 2);
            if (c == 5 && s >= bd[4]) continue;
            size_t p = c < 5 ? c++ : 4;
            while (p > 0 && s < bd[p - 1]) {
                bd[p] = bd[p - 1];
                by[p] = by[p - 1];
                p--;
            }
            bd[p] = s;
            by[p] = y[j];
        }
        int votes = 0;
        for (size_t a = 0; a < 5; a++) votes += by[a];
        ok += (votes >= 3) == (y[i] == 1);
    }
    return (double)ok / (double)n;
}

/* T2: two far-apart 3-cliques; unnormalised Laplacian spectrum 0, 0, 3, 3, ... */
START_TEST(two_cliques) {
    float x[12] = {0, 0, 1e-3f, 0, 0, 1e-3f, 100, 100, 100.001f, 100, 100, 100.001f};
    ck_ok(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_GRAPH, SSLK_SPECTRAL_DENSE));
    ck_ok(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_LAPLACIAN, SSLK_SPECTRAL_UNNORMALIZED));
    ck_ok(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_DROP_FIRST, 0));
    float emb[6 * 3];
    double ev[3];
    ck_ok(sslk_spectral_eigenmaps(sp, x, 6, 2, 3, emb, ev));
    ck_close(ev[0], 0, 0, 1e-9);
    ck_close(ev[1], 0, 0, 1e-9);
    ck_close(ev[2], 3, 1e-5, 0); /* weights exp(-1e-6) ~ 1 */
    for (size_t c = 0; c < 2; c++) /* the null space is spanned by the clique indicators */
        for (size_t i = 1; i < 3; i++) {
            ck_close(emb[i * 3 + c], emb[c], 0, 1e-5);
            ck_close(emb[(3 + i) * 3 + c], emb[3 * 3 + c], 0, 1e-5);
        }
    /* and the two vectors are orthonormal */
    double g00 = 0, g01 = 0;
    for (size_t i = 0; i < 6; i++) {
        g00 += (double)emb[i * 3] * emb[i * 3];
        g01 += (double)emb[i * 3] * emb[i * 3 + 1];
    }
    ck_close(g00, 1, 1e-5, 0);
    ck_close(g01, 0, 0, 1e-5);
    /* symmetric normalised: same null space, K3 normalised eigenvalue 1.5 */
    ck_ok(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_LAPLACIAN, SSLK_SPECTRAL_SYMMETRIC));
    ck_ok(sslk_spectral_eigenmaps(sp, x, 6, 2, 3, emb, ev));
    ck_close(ev[0], 0, 0, 1e-9);
    ck_close(ev[1], 0, 0, 1e-9);
    ck_close(ev[2], 1.5, 1e-5, 0);
}
END_TEST

/* Eigenpairs against a dense LAPACK eigendecomposition of the same Laplacian
 * (from the exported CSR), subspaces compared through sum cos^2 of the
 * principal angles (= ||U^T V||_F^2, k when equal). */
static void dense_case(int lap, int graph) {
    enum { N = 60, D = 3, K = 4 };
    float x[N * D];
    tu_fill_uniform(x, N * D, 7, -1, 1);
    ck_ok(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_LAPLACIAN, lap));
    ck_ok(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_GRAPH, graph));
    ck_ok(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_NEIGHBORS, 6));
    ck_ok(sslk_spectral_set_f64(sp, SSLK_SPECTRAL_SIGMA, 0.7));
    float emb[N * K];
    double ev[K];
    ck_ok(sslk_spectral_eigenmaps(sp, x, N, D, K, emb, ev));
    size_t n, nnz;
    ck_ok(sslk_spectral_graph_size(sp, &n, &nnz));
    ck_assert_uint_eq(n, N);
    int64_t *ip = malloc((N + 1) * sizeof(int64_t)), *ix = malloc(nnz * sizeof(int64_t));
    float *w = malloc(nnz * sizeof(float));
    ck_ok(sslk_spectral_graph_csr(sp, ip, ix, w));
    double *L = calloc(N * N, sizeof(double)), deg[N] = {0}, lam[N];
    for (size_t i = 0; i < N; i++)
        for (int64_t e = ip[i]; e < ip[i + 1]; e++) deg[i] += w[e];
    for (size_t i = 0; i < N; i++) {
        for (int64_t e = ip[i]; e < ip[i + 1]; e++) {
            size_t j = (size_t)ix[e];
            L[i * N + j] = lap == SSLK_SPECTRAL_UNNORMALIZED ? -w[e] : -w[e] / sqrt(deg[i] * deg[j]);
        }
        L[i * N + i] = lap == SSLK_SPECTRAL_UNNORMALIZED ? deg[i] : 1.0;
    }
    ck_ok(ssli_dsyev(N, L, N, lam, true));
    for (size_t c = 0; c < K; c++) ck_close(ev[c], lam[c + 1], 1e-6, 1e-9);
    double f2 = 0, nrm[K] = {0};
    for (size_t a = 0; a < K; a++)
        for (size_t i = 0; i < N; i++) {
            double v = emb[i * K + a];
            if (lap == SSLK_SPECTRAL_RANDOM_WALK) v *= sqrt(deg[i]); /* back to u */
            nrm[a] += v * v;
        }
    for (size_t a = 0; a < K; a++)
        for (size_t b = 0; b < K; b++) {
            double dot = 0;
            for (size_t i = 0; i < N; i++) {
                double v = emb[i * K + a];
                if (lap == SSLK_SPECTRAL_RANDOM_WALK) v *= sqrt(deg[i]);
                dot += v * L[i * N + b + 1];
            }
            f2 += dot * dot / nrm[a];
        }
    ck_close(f2, K, 1e-5, 0);
    free(ip);
    free(ix);
    free(w);
    free(L);
}

START_TEST(eigenpairs_match_dense_lapack) {
    dense_case(SSLK_SPECTRAL_SYMMETRIC, SSLK_SPECTRAL_KNN);
    dense_case(SSLK_SPECTRAL_UNNORMALIZED, SSLK_SPECTRAL_KNN);
    dense_case(SSLK_SPECTRAL_RANDOM_WALK, SSLK_SPECTRAL_DENSE);
}
END_TEST

/* The minimal-variations half-moons case: k = 5, sigma = 0.1. */
START_TEST(half_moons_separate) {
    enum { N = 400 };
    float x[2 * N], emb[N * 5];
    int y[N];
    moons(x, y, N, 0.05, 3);
    ck_ok(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_GRAPH, SSLK_SPECTRAL_DENSE));
    ck_ok(sslk_spectral_set_f64(sp, SSLK_SPECTRAL_SIGMA, 0.1));
    ck_ok(sslk_spectral_eigenmaps(sp, x, N, 2, 5, emb, NULL));
    double acc = knn_accuracy(emb, y, N, 5);
    ck_assert_msg(acc >= 0.99, "dense rbf: kNN accuracy on the embedding %.4f < 0.99", acc);
    ck_ok(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_GRAPH, SSLK_SPECTRAL_KNN));
    ck_ok(sslk_spectral_eigenmaps(sp, x, N, 2, 5, emb, NULL));
    acc = knn_accuracy(emb, y, N, 5);
    ck_assert_msg(acc >= 0.99, "kNN graph: kNN accuracy on the embedding %.4f < 0.99", acc);
}
END_TEST

/* kNN lists against brute force: every node's k nearest are its neighbours;
 * binary union weights are 1 (mutual) or 1/2 (one way); mutual keeps the 1s. */
START_TEST(knn_graph_brute_force) {
    enum { N = 80, D = 5, K = 4 };
    float x[N * D];
    tu_fill_uniform(x, N * D, 11, 0, 1);
    ck_ok(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_NEIGHBORS, K));
    ck_ok(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_WEIGHTS, SSLK_SPECTRAL_BINARY));
    ck_ok(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_MEMORY_MB, 1));
    ck_ok(sslk_spectral_graph(sp, x, N, D));
    size_t n, nnz;
    ck_ok(sslk_spectral_graph_size(sp, &n, &nnz));
    int64_t ip[N + 1], *ix = malloc(nnz * sizeof(int64_t));
    float *w = malloc(nnz * sizeof(float));
    ck_ok(sslk_spectral_graph_csr(sp, ip, ix, w));
    static int adj[N][N];
    memset(adj, 0, sizeof adj);
    for (size_t i = 0; i < N; i++) {
        double d2[N];
        for (size_t j = 0; j < N; j++) {
            d2[j] = 0;
            for (size_t c = 0; c < D; c++) d2[j] += pow((double)x[i * D + c] - x[j * D + c], 2);
        }
        d2[i] = INFINITY;
        for (size_t t = 0; t < K; t++) {
            size_t b = 0;
            for (size_t j = 1; j < N; j++)
                if (d2[j] < d2[b]) b = j;
            adj[i][b] = 1;
            d2[b] = INFINITY;
        }
    }
    size_t want = 0;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++) want += adj[i][j] || adj[j][i];
    ck_assert_uint_eq(nnz, want);
    for (size_t i = 0; i < N; i++)
        for (int64_t e = ip[i]; e < ip[i + 1]; e++) {
            size_t j = (size_t)ix[e];
            ck_assert(i != j);
            if (e > ip[i]) ck_assert(ix[e - 1] < ix[e]);
            ck_close(w[e], 0.5 * (adj[i][j] + adj[j][i]), 0, 0);
        }
    ck_ok(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_SYMMETRIZE, SSLK_SPECTRAL_MUTUAL));
    ck_ok(sslk_spectral_graph(sp, x, N, D));
    size_t nm;
    ck_ok(sslk_spectral_graph_size(sp, NULL, &nm));
    size_t mutual = 0;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++) mutual += adj[i][j] && adj[j][i];
    ck_assert_uint_eq(nm, mutual);
    ck_assert_uint_lt(nm, nnz);
    free(ix);
    free(w);
}
END_TEST

/* Diffusion map: mu = 1 - lambda_sym, pi-weighted orthonormality, t scaling. */
START_TEST(diffusion_map_identities) {
    enum { N = 50, D = 2, K = 3 };
    float x[N * D], c1[N * K], c2[N * K];
    double mu[K], ev[K], m2[K];
    tu_fill_uniform(x, N * D, 5, 0, 1);
    ck_ok(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_NEIGHBORS, 8));
    ck_ok(sslk_spectral_diffusion_map(sp, x, N, D, K, 1.0, c1, mu));
    ck_ok(sslk_spectral_diffusion_map(sp, x, N, D, K, 3.0, c2, m2));
    float emb[N * K];
    ck_ok(sslk_spectral_eigenmaps(sp, x, N, D, K, emb, ev));
    size_t nnz;
    ck_ok(sslk_spectral_graph_size(sp, NULL, &nnz));
    int64_t ip[N + 1];
    float *w = malloc(nnz * sizeof(float));
    ck_ok(sslk_spectral_graph_csr(sp, ip, NULL, w));
    double deg[N] = {0}, vol = 0;
    for (size_t i = 0; i < N; i++) {
        for (int64_t e = ip[i]; e < ip[i + 1]; e++) deg[i] += w[e];
        vol += deg[i];
    }
    for (size_t c = 0; c < K; c++) {
        ck_close(mu[c], 1 - ev[c], 1e-9, 1e-9);
        double s = 0;
        for (size_t i = 0; i < N; i++) {
            double psi = c1[i * K + c] / mu[c];
            s += deg[i] / vol * psi * psi;
            ck_close(c2[i * K + c], c1[i * K + c] * mu[c] * mu[c], 1e-4, 1e-6);
        }
        ck_close(s, 1, 1e-5, 0);
    }
    ck_status(sslk_spectral_diffusion_map(sp, x, N, D, K, -1.0, c1, mu), SSLK_E_INVALID_ARG);
    free(w);
}
END_TEST

START_TEST(deterministic) {
    enum { N = 300, D = 4, K = 3 };
    float *x = malloc(N * D * sizeof(float)), e1[N * K], e2[N * K];
    tu_fill_uniform(x, N * D, 9, 0, 1);
    ck_ok(sslk_spectral_eigenmaps(sp, x, N, D, K, e1, NULL));
    ck_ok(sslk_spectral_eigenmaps(sp, x, N, D, K, e2, NULL));
    ck_assert_mem_eq(e1, e2, sizeof e1);
    free(x);
}
END_TEST
#endif

/* T3: 1-D uniform on [0, 1]: eigenvalues -> (pi m)^2, eigenfunctions ->
 * cos(pi m x) (Neumann), also at points not seen in the fit. */
START_TEST(galerkin_neumann_cosines) {
    enum { N = 2000, P = 100, K = 4 };
    float *x = malloc(N * sizeof(float));
    /* Kronecker sequence frac(t phi): uniform with low discrepancy (a random
     * sample's eigenvalues scatter by ~5% at this n), and its first P rows,
     * the representers, are spread over [0, 1] too */
    for (size_t t = 0; t < N; t++) x[t] = (float)fmod((double)t * 0.6180339887498949, 1.0);
    ck_ok(sslk_spectral_set_f64(sp, SSLK_SPECTRAL_SIGMA, 0.1));
    ck_ok(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_DROP_FIRST, 0));
    double alpha[P * K], ev[K];
    ck_ok(sslk_spectral_galerkin_fit(sp, x, N, 1, P, K, alpha, ev));
    ck_close(ev[0], 0, 0, 0.01);
    for (size_t m = 1; m < K; m++) ck_close(ev[m], pow(M_PI * (double)m, 2), 0.005, 0);
    enum { M = 101 };
    float q[M], out[M * K];
    for (size_t j = 0; j < M; j++) q[j] = 0.05f + 0.9f * (float)j / (M - 1);
    ck_ok(sslk_spectral_galerkin_eval(sp, x, P, 1, alpha, K, q, M, out));
    for (size_t m = 1; m < K; m++) {
        double sfc = 0, sff = 0, scc = 0;
        for (size_t j = 0; j < M; j++) {
            double c = cos(M_PI * (double)m * q[j]), f = out[j * K + m];
            sfc += f * c;
            sff += f * f;
            scc += c * c;
        }
        ck_assert_double_gt(fabs(sfc) / sqrt(sff * scc), 0.995);
    }
    /* a^T R a = 1: the mean square of each eigenfunction over the samples is 1 */
    float *fx = malloc(N * K * sizeof(float));
    ck_ok(sslk_spectral_galerkin_eval(sp, x, P, 1, alpha, K, x, N, fx));
    for (size_t m = 0; m < K; m++) {
        double s = 0;
        for (size_t t = 0; t < N; t++) s += (double)fx[t * K + m] * fx[t * K + m];
        ck_close(s / N, 1, 1e-4, 0);
    }
    free(fx);
    free(x);
}
END_TEST

START_TEST(settings_roundtrip) {
    double f;
    int64_t v;
    ck_ok(sslk_spectral_get_i64(sp, SSLK_SPECTRAL_NEIGHBORS, &v));
    ck_assert_int_eq(v, 10);
    ck_ok(sslk_spectral_get_i64(sp, SSLK_SPECTRAL_LAPLACIAN, &v));
    ck_assert_int_eq(v, SSLK_SPECTRAL_SYMMETRIC);
    ck_ok(sslk_spectral_set_f64(sp, SSLK_SPECTRAL_SIGMA, 0.25));
    ck_ok(sslk_spectral_get_f64(sp, SSLK_SPECTRAL_SIGMA, &f));
    ck_close(f, 0.25, 0, 0);
    ck_ok(sslk_spectral_set_f64(sp, SSLK_SPECTRAL_NEIGHBORS, 7)); /* a whole real for an integer setting */
    ck_ok(sslk_spectral_get_f64(sp, SSLK_SPECTRAL_NEIGHBORS, &f));
    ck_close(f, 7, 0, 0);
    ck_status(sslk_spectral_set_f64(sp, SSLK_SPECTRAL_NEIGHBORS, 7.5), SSLK_E_SETTING);
    ck_status(sslk_spectral_get_i64(sp, 9999, &v), SSLK_E_SETTING);
    ck_status(sslk_spectral_get_i64(NULL, SSLK_SPECTRAL_NEIGHBORS, &v), SSLK_E_INVALID_ARG);
    int64_t c;
    ck_ok(sslk_setting_choice_find(SSLK_SPECTRAL_LAPLACIAN, "random_walk", &c));
    ck_assert_int_eq(c, SSLK_SPECTRAL_RANDOM_WALK);
    ck_ok(sslk_setting_choice_find(SSLK_SPECTRAL_WEIGHTS, "self_tuning", &c));
    ck_assert_int_eq(c, SSLK_SPECTRAL_SELF_TUNING);
    sslk_spectral_destroy(NULL);
}
END_TEST

START_TEST(bad_input) {
    float x[20];
    tu_fill_uniform(x, 20, 1, 0, 1);
    float emb[40];
    double alpha[40];
    ck_status(sslk_spectral_create(ctx, NULL), SSLK_E_INVALID_ARG);
    ck_status(sslk_spectral_graph_size(sp, NULL, NULL), SSLK_E_STATE);
    ck_status(sslk_spectral_graph(sp, NULL, 10, 2), SSLK_E_INVALID_ARG);
    ck_status(sslk_spectral_graph(sp, x, 1, 2), SSLK_E_SHAPE);
    ck_status(sslk_spectral_graph(sp, x, 10, 2), SSLK_E_SHAPE); /* neighbors 10 >= n */
    ck_status(sslk_spectral_graph(sp, x, SIZE_MAX / 2, 4), SSLK_E_SHAPE);
    ck_status(sslk_spectral_graph(sp, x, (size_t)1 << 30, (size_t)1 << 40), SSLK_E_OVERFLOW);
    ck_status(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_NEIGHBORS, 0), SSLK_E_SETTING);
    ck_status(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_LAPLACIAN, 3), SSLK_E_SETTING);
    ck_status(sslk_spectral_set_f64(sp, SSLK_SPECTRAL_SIGMA, 0), SSLK_E_SETTING);
    ck_ok(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_NEIGHBORS, 3));
    float bad[20];
    memcpy(bad, x, sizeof bad);
    bad[7] = NAN;
    ck_status(sslk_spectral_graph(sp, bad, 10, 2), SSLK_E_NONFINITE);
    ck_status(sslk_spectral_eigenmaps(sp, bad, 10, 2, 2, emb, NULL), SSLK_E_NONFINITE);
    ck_status(sslk_spectral_eigenmaps(sp, x, 10, 2, 9, emb, NULL), SSLK_E_SHAPE); /* k + 1 >= n */
    ck_status(sslk_spectral_eigenmaps(sp, x, 10, 2, 0, emb, NULL), SSLK_E_SHAPE);
    ck_status(sslk_spectral_eigenmaps(sp, x, 10, 2, 2, NULL, NULL), SSLK_E_INVALID_ARG);
    ck_ok(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_GRAPH, SSLK_SPECTRAL_DENSE));
    ck_ok(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_DENSE_MAX_N, 5));
    ck_status(sslk_spectral_graph(sp, x, 10, 2), SSLK_E_LIMIT);
    ck_status(sslk_spectral_galerkin_fit(sp, x, 10, 2, 8, 2, alpha, NULL), SSLK_E_LIMIT);
    ck_status(sslk_spectral_galerkin_fit(sp, x, 10, 2, 11, 2, alpha, NULL), SSLK_E_SHAPE);
    ck_status(sslk_spectral_galerkin_fit(sp, bad, 10, 2, 4, 2, alpha, NULL), SSLK_E_NONFINITE);
    alpha[0] = NAN;
    ck_status(sslk_spectral_galerkin_eval(sp, x, 4, 2, alpha, 2, x, 10, emb), SSLK_E_NONFINITE);
    /* a dense graph whose weights all underflow carries nothing */
    ck_ok(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_DENSE_MAX_N, 100));
    ck_ok(sslk_spectral_set_f64(sp, SSLK_SPECTRAL_SIGMA, 1e-6));
    float far[8] = {0, 0, 10, 0, 0, 10, 10, 10};
#ifdef SSLK_HAVE_ARPACK
    ck_status(sslk_spectral_eigenmaps(sp, far, 4, 2, 1, emb, NULL), SSLK_E_DEGENERATE);
#else
    ck_status(sslk_spectral_eigenmaps(sp, far, 4, 2, 1, emb, NULL), SSLK_E_UNSUPPORTED);
#endif
}
END_TEST

int main(void) {
    Suite *s = suite_create("spectral");
    TCase *t = tcase_create("spectral");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
#ifdef SSLK_HAVE_ARPACK
    tcase_add_test(t, two_cliques);
    tcase_add_test(t, eigenpairs_match_dense_lapack);
    tcase_add_test(t, half_moons_separate);
    tcase_add_test(t, knn_graph_brute_force);
    tcase_add_test(t, diffusion_map_identities);
    tcase_add_test(t, deterministic);
#endif
    tcase_add_test(t, galerkin_neumann_cosines);
    tcase_add_test(t, settings_roundtrip);
    tcase_add_test(t, bad_input);
    suite_add_tcase(s, t);
    return tu_run(s) ? 1 : 0;
}
