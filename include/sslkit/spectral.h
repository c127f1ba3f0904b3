/* libsslkit — spectral embeddings (minimal-variations paper, Cabannes, Bietti
 * and Balestriero, ICASSP 2023): sparse kNN or dense RBF graphs, Laplacian
 * eigenmaps, diffusion maps, and kernel Galerkin Laplacian eigenfunctions with
 * out-of-sample extension.  Everything here is experimental (no ABI promise):
 * define SSLK_EXPERIMENTAL before including sslkit.h.
 *
 * Conventions (docs/spectral.md):
 * - Gaussian weights exp(-||x - y||^2 / sigma^2) (no factor 2, as the paper).
 * - Graph eigenvectors come from ARPACK (dsaupd/dseupd, reverse communication,
 *   largest algebraic eigenvalues of D^-1/2 W D^-1/2, or of c I - L with
 *   c = 2 max degree for the unnormalised Laplacian); the start vector is
 *   drawn from the context seed, so results are deterministic for a seed and
 *   thread count.  Builds without ARPACK return SSLK_E_UNSUPPORTED there.
 * - Each returned eigenvector is sign-fixed: its largest-magnitude entry is
 *   positive.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_SPECTRAL_H
#define SSLKIT_SPECTRAL_H

#include "sslkit/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef SSLK_EXPERIMENTAL
/** Settings of a spectral handle (domain "spectral").  Experimental. */
typedef enum sslk_spectral_setting {
    SSLK_SPECTRAL_NEIGHBORS = 3900,  /**< k of the kNN graph, self excluded (i64, 1..100000, default 10) */
    SSLK_SPECTRAL_WEIGHTS = 3901,    /**< sslk_spectral_weights (i64, default self_tuning) */
    SSLK_SPECTRAL_SIGMA = 3902,      /**< Gaussian bandwidth: rbf graphs and Galerkin (f64, default 1) */
    SSLK_SPECTRAL_SYMMETRIZE = 3903, /**< sslk_spectral_symmetrize (i64, default union) */
    SSLK_SPECTRAL_GRAPH = 3904,      /**< sslk_spectral_graph_kind (i64, default knn) */
    SSLK_SPECTRAL_LAPLACIAN = 3905,  /**< sslk_spectral_laplacian (i64, default symmetric) */
    SSLK_SPECTRAL_DENSE_MAX_N = 3906, /**< size cap of dense graphs and Galerkin representers (i64, default 4096) */
    SSLK_SPECTRAL_DROP_FIRST = 3907, /**< skip the smallest (trivial) eigenvector (i64 0/1, default 1) */
    SSLK_SPECTRAL_TOL = 3908,        /**< ARPACK relative tolerance, 0 = machine precision (f64, default 1e-8) */
    SSLK_SPECTRAL_MAX_ITER = 3909,   /**< ARPACK restarts (i64, default 5000) */
    SSLK_SPECTRAL_NCV = 3910,        /**< ARPACK Lanczos basis size, 0 = auto (i64, default 0) */
    SSLK_SPECTRAL_MEMORY_MB = 3911   /**< cap on one distance block of the kNN search, MiB (i64, default 64) */
} sslk_spectral_setting;

/** Edge weights of the kNN graph.  Dense graphs are always rbf. */
typedef enum sslk_spectral_weights {
    SSLK_SPECTRAL_RBF = 0,        /**< exp(-d_ij^2 / sigma^2) */
    SSLK_SPECTRAL_SELF_TUNING = 1, /**< exp(-d_ij^2 / (s_i s_j)), s_i = distance to the k-th neighbour */
    SSLK_SPECTRAL_BINARY = 2      /**< 1 (connectivity, as scikit-learn's nearest_neighbors affinity) */
} sslk_spectral_weights;

/** Symmetrisation of the directed kNN relation (a_ij = weight of j among the
 *  neighbours of i, else 0). */
typedef enum sslk_spectral_symmetrize {
    SSLK_SPECTRAL_UNION = 0, /**< w_ij = (a_ij + a_ji) / 2 for every pair where either is a neighbour */
    SSLK_SPECTRAL_MUTUAL = 1 /**< w_ij = (a_ij + a_ji) / 2 only where both are (isolated nodes possible) */
} sslk_spectral_symmetrize;

/** Graph construction. */
typedef enum sslk_spectral_graph_kind {
    SSLK_SPECTRAL_KNN = 0,  /**< exact kNN by blocked GEMM, O(n k) memory */
    SSLK_SPECTRAL_DENSE = 1 /**< every pair, rbf weights; n <= SSLK_SPECTRAL_DENSE_MAX_N else SSLK_E_LIMIT */
} sslk_spectral_graph_kind;

/** Laplacian whose smallest eigenpairs make the embedding (D = diag(W 1)). */
typedef enum sslk_spectral_laplacian {
    SSLK_SPECTRAL_UNNORMALIZED = 0, /**< L = D - W; orthonormal eigenvectors */
    SSLK_SPECTRAL_SYMMETRIC = 1,    /**< I - D^-1/2 W D^-1/2; orthonormal eigenvectors u */
    SSLK_SPECTRAL_RANDOM_WALK = 2   /**< I - D^-1 W; eigenvectors D^-1/2 u (scikit-learn's scaling) */
} sslk_spectral_laplacian;

/** Opaque spectral handle: settings plus the last graph built.  One thread
 *  at a time per handle. */
typedef struct sslk_spectral sslk_spectral;

/** Create a handle with default settings (seed from the context). */
SSLK_API sslk_status sslk_spectral_create(sslk_ctx *ctx, sslk_spectral **out);
/** Destroy (NULL accepted). */
SSLK_API void sslk_spectral_destroy(sslk_spectral *sp);
/** Typed setting accessors (SSLK_E_SETTING for unknown keys or out-of-bounds values). */
SSLK_API sslk_status sslk_spectral_set_f64(sslk_spectral *sp, int key, double value);
SSLK_API sslk_status sslk_spectral_set_i64(sslk_spectral *sp, int key, int64_t value);
SSLK_API sslk_status sslk_spectral_get_f64(const sslk_spectral *sp, int key, double *value);
SSLK_API sslk_status sslk_spectral_get_i64(const sslk_spectral *sp, int key, int64_t *value);

/** Build the graph of x (n x d) with the current settings and keep it in the
 *  handle (replacing the previous one).  SSLK_E_SHAPE when n < 2 or, for kNN,
 *  neighbors >= n; SSLK_E_NONFINITE for NaN/Inf; SSLK_E_LIMIT beyond the dense
 *  cap or the context's allocation limit. */
SSLK_API sslk_status sslk_spectral_graph(sslk_spectral *sp, const float *x, size_t n, size_t d);
/** Size of the kept graph: nodes and stored (symmetric, no self-loop) entries. */
SSLK_API sslk_status sslk_spectral_graph_size(const sslk_spectral *sp, size_t *n, size_t *nnz);
/** Copy the kept graph as CSR: indptr[n + 1], indices[nnz] (sorted within a
 *  row), weights[nnz].  Any of them may be NULL. */
SSLK_API sslk_status sslk_spectral_graph_csr(const sslk_spectral *sp, int64_t *indptr, int64_t *indices,
                                             float *weights);

/** Laplacian eigenmaps of x (n x d): build the graph, then the k smallest
 *  eigenpairs of the chosen Laplacian (after the first when DROP_FIRST).
 *  emb (n x k) receives the eigenvectors as columns, eigenvalues[k] (may be
 *  NULL) the Laplacian eigenvalues in ascending order.  Needs
 *  k + DROP_FIRST < n (SSLK_E_SHAPE); SSLK_E_NUMERIC when ARPACK does not
 *  converge within MAX_ITER; SSLK_E_UNSUPPORTED without ARPACK. */
SSLK_API sslk_status sslk_spectral_eigenmaps(sslk_spectral *sp, const float *x, size_t n, size_t d, size_t k,
                                             float *emb, double *eigenvalues);

/** Diffusion map at time t >= 0 of x (n x d): with P = D^-1 W, eigenvalues
 *  mu_i (descending) and right eigenvectors psi_i normalised so that
 *  sum_x pi(x) psi_i(x)^2 = 1 (pi = stationary distribution), coordinates
 *  (n x k) are sign(mu_i) |mu_i|^t psi_i(x) for the k leading non-trivial
 *  i (the trivial constant one is skipped when DROP_FIRST).  Euclidean
 *  distances between rows are the diffusion distances at time t truncated to
 *  these k components.  mu[k] may be NULL.  The Laplacian setting is unused. */
SSLK_API sslk_status sslk_spectral_diffusion_map(sslk_spectral *sp, const float *x, size_t n, size_t d, size_t k,
                                                 double t, float *coords, double *mu);

/** Kernel Galerkin Laplacian eigenfunctions (klap): representers y = the
 *  first p rows of x (n x d, p <= n, p <= DENSE_MAX_N), Gaussian kernel with
 *  SIGMA.  With K_ti = k(x_t, y_i), solves L a = lambda R a for
 *  L_ij = 1/n sum_t grad k(x_t, y_i) . grad k(x_t, y_j),
 *  R_ij = 1/n sum_t K_ti K_tj, restricted to the span of R's eigenvectors
 *  above 1e-10 of its largest (a pseudo-inverse instead of a ridge), with
 *  a^T R a = 1.  alpha (p x k, row i = representer i) and eigenvalues[k] (may
 *  be NULL) of the k smallest (after the first when DROP_FIRST).
 *  SSLK_E_SHAPE when k + DROP_FIRST exceeds the rank kept. */
SSLK_API sslk_status sslk_spectral_galerkin_fit(sslk_spectral *sp, const float *x, size_t n, size_t d, size_t p,
                                                size_t k, double *alpha, double *eigenvalues);
/** Evaluate fitted eigenfunctions at m new points q (m x d):
 *  out[j][c] = sum_i alpha[i][c] exp(-||q_j - y_i||^2 / sigma^2), with the
 *  representers y (p x d) and the handle's SIGMA (the one used to fit). */
SSLK_API sslk_status sslk_spectral_galerkin_eval(sslk_spectral *sp, const float *y, size_t p, size_t d,
                                                 const double *alpha, size_t k, const float *q, size_t m,
                                                 float *out);
#endif /* SSLK_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif
#endif
