/* libsslkit — objects from the SSL theory papers (experimental tier, since 1.3):
 * closed-form VC-regularised SSL (linear and Gaussian-kernel), label-free
 * diagnostics (LiDAR, variation scores, collapse monitors) and the computable
 * parts of the information-theoretic VICReg generalisation bound.
 * Everything here is declared only when SSLK_EXPERIMENTAL is defined before
 * the include, and may change in any minor release.  docs/theory.md holds
 * the formulas and conventions.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_THEORY_H
#define SSLKIT_THEORY_H

#include "sslkit/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef SSLK_EXPERIMENTAL

typedef struct sslk_model sslk_model;

/* ======================================================================
 * Closed-form VC-regularised SSL (Cabannes et al., "The SSL interplay",
 * ICML 2023).  Data: N inputs x m views of features, a float32 matrix of
 * N*m rows; rows i*m .. i*m+m-1 are the views of input i.  With features
 * phi (the rows themselves, or Gaussian-kernel coordinates):
 *   Sigma   = 1/(Nm) sum_ia phi_ia phi_ia^T
 *   Sigma_X = 1/(N m (m-1)) sum_i sum_{a != b} phi_ia phi_ib^T
 * and the loss ||Theta Sigma Theta^T - I||_F^2
 *   + 2 beta tr(Theta (Sigma - Sigma_X) Theta^T) + lambda ||Theta||_F^2
 * is minimised by the top-k solutions of the generalised eigenproblem
 *   [(1-beta) Sigma + beta Sigma_X - (lambda/2) I] v = mu Sigma v,
 * v^T Sigma v = 1, Theta's rows = sqrt(max(mu, 0)) v^T.  The mu are the
 * invariance spectrum; a kept direction with mu <= 0 collapses (row 0).
 * ==================================================================== */
typedef struct sslk_cfssl sslk_cfssl;

/** Settings (domain "cfssl"). */
typedef enum sslk_cfssl_setting {
    SSLK_CFSSL_K = 3800,          /**< i64 in [1, 2^31]: directions kept (16) */
    SSLK_CFSSL_BETA = 3801,       /**< f64 >= 0: invariance weight beta (1) */
    SSLK_CFSSL_LAMBDA = 3802,     /**< f64 >= 0: Tikhonov weight lambda on ||Theta||^2 (0) */
    SSLK_CFSSL_KERNEL = 3803,     /**< i64: SSLK_CFSSL_LINEAR (default) or SSLK_CFSSL_GAUSSIAN */
    SSLK_CFSSL_SIGMA = 3804,      /**< f64 > 0: Gaussian bandwidth, k = exp(-|x-y|^2 / (2 sigma^2)) (1) */
    SSLK_CFSSL_MAX_POINTS = 3805, /**< i64: cap on kernel points, N*m (exact) or landmarks (4096) */
    SSLK_CFSSL_LANDMARKS = 3806,  /**< i64: 0 = exact kernel on all N*m views; p > 0 = Nystrom, p landmarks (0) */
    SSLK_CFSSL_CENTER = 3807,     /**< i64 0/1: centre the features (covariances instead of second moments) (0) */
    SSLK_CFSSL_JITTER = 3808,     /**< f64 in [0, 1]: ridge jitter * mean(diag Sigma) added to the right-hand Sigma (1e-10) */
    SSLK_CFSSL_SEED = 3809        /**< i64: seed of the Nystrom landmark draw (0) */
} sslk_cfssl_setting;

/** Values of SSLK_CFSSL_KERNEL. */
typedef enum sslk_cfssl_kernel {
    SSLK_CFSSL_LINEAR = 0,  /**< phi(x) = x */
    SSLK_CFSSL_GAUSSIAN = 1 /**< Gaussian RKHS, through kernel-PCA coordinates of the landmarks */
} sslk_cfssl_kernel;

/** Create an unfitted solver with default settings. */
SSLK_API sslk_status sslk_cfssl_create(sslk_ctx *ctx, sslk_cfssl **out);
/** Destroy (NULL accepted). */
SSLK_API void sslk_cfssl_destroy(sslk_cfssl *h);
/** Typed setting accessors (SSLK_E_SETTING for an unknown key or a value out of bounds). */
SSLK_API sslk_status sslk_cfssl_set_f64(sslk_cfssl *h, int key, double value);
/** Set an integer setting. */
SSLK_API sslk_status sslk_cfssl_set_i64(sslk_cfssl *h, int key, int64_t value);
/** Read a setting as a double. */
SSLK_API sslk_status sslk_cfssl_get_f64(const sslk_cfssl *h, int key, double *value);
/** Read a setting as an integer (a real setting truncates toward zero). */
SSLK_API sslk_status sslk_cfssl_get_i64(const sslk_cfssl *h, int key, int64_t *value);

/** Fit from x ((n*m) x d float32, views of one input consecutive).  n >= 1,
 *  m >= 2, d >= 1.  Kernel mode: SSLK_E_LIMIT when n*m (exact) or the
 *  landmark count exceeds SSLK_CFSSL_MAX_POINTS, naming both; Nystrom
 *  landmarks (SSLK_CFSSL_LANDMARKS) are the way past the cap.  Refits
 *  replace the previous fit. */
SSLK_API sslk_status sslk_cfssl_fit(sslk_cfssl *h, const float *x, size_t n, size_t m, size_t d);
/** Fit the LINEAR model from given moment matrices sigma and sigma_x (d x d,
 *  row-major, symmetric; sigma positive semi-definite), e.g. population
 *  operators.  SSLK_E_STATE in kernel mode. */
SSLK_API sslk_status sslk_cfssl_fit_moments(sslk_cfssl *h, const double *sigma, const double *sigma_x, size_t d);
/** Input width d and output width (min(k, feature dimension)) of the fit.
 *  SSLK_E_STATE before a fit.  Either pointer may be NULL. */
SSLK_API sslk_status sslk_cfssl_shape(const sslk_cfssl *h, size_t *in_dim, size_t *out_dim);
/** The invariance spectrum: every generalised eigenvalue mu, descending,
 *  into mu[cap] (at most cap written; mu may be NULL); *count gets how many
 *  exist (the feature dimension) and *collapsed (may be NULL) how many of
 *  the kept directions have mu <= 0. */
SSLK_API sslk_status sslk_cfssl_spectrum(const sslk_cfssl *h, double *mu, size_t cap, size_t *count,
                                         size_t *collapsed);
/** Representation of new inputs: out[n x out_dim] = Theta (phi(x) - mean). */
SSLK_API sslk_status sslk_cfssl_apply(const sslk_cfssl *h, const float *x, size_t n, float *out);
/** Linear kernel only: theta[out_dim x d] and (mean may be NULL) the
 *  feature mean[d] subtracted first (zeros without centring), so that
 *  apply(x) = theta (x - mean).  SSLK_E_STATE in kernel mode. */
SSLK_API sslk_status sslk_cfssl_linear_map(const sslk_cfssl *h, float *theta, float *mean);

/** Random Fourier features of the Gaussian kernel exp(-|x-y|^2/(2 sigma^2)):
 *  out[n x D] = sqrt(2/D) cos(x W + b), W ~ N(0, 1/sigma^2) (d x D),
 *  b ~ U[0, 2 pi), drawn from seed (same seed, same features). */
SSLK_API sslk_status sslk_random_features(sslk_ctx *ctx, const float *x, size_t n, size_t d, size_t D,
                                          double sigma, uint64_t seed, float *out);

/* ======================================================================
 * Label-free diagnostics (next to RankMe in metrics.h)
 * ==================================================================== */

/** LiDAR (Thilak et al., ICLR 2024) of e ((n*q) x d, the q views of each
 *  of n samples consecutive): effective rank exp(H(p)) of the eigenvalues
 *  lambda of Sigma_w^{-1/2} Sigma_b Sigma_w^{-1/2}, where Sigma_b is the
 *  between-sample scatter of the view means (1/(n-1)) and Sigma_w the
 *  within-sample scatter (1/(n(q-1))) + delta I; p = lambda/sum(lambda)
 *  + eps (RankMe's placement).  Common constants: delta = 1e-4,
 *  eps = 1e-8.  spectrum (may be NULL) gets the d eigenvalues, descending.
 *  n >= 2, q >= 2; SSLK_E_NUMERIC when Sigma_w is singular (delta = 0). */
SSLK_API sslk_status sslk_lidar(sslk_ctx *ctx, const float *e, size_t n, size_t q, size_t d, double delta,
                                double eps, double *value, double *spectrum);

/** Collapse monitor: the per-dimension standard deviation (unbiased) of
 *  z (n x d), or with normalize = 1 of the rows of z divided by their L2
 *  norms (SimSiam's monitor: ~1/sqrt(d) when spread, 0 when collapsed).
 *  mean_std gets the average over dimensions; per_dim[d] may be NULL.
 *  VICReg's variance term hinges on the same per-dimension std. */
SSLK_API sslk_status sslk_collapse_std(sslk_ctx *ctx, const float *z, size_t n, size_t d, int normalize,
                                       double *mean_std, double *per_dim);

/** Graph variation of embeddings z (n x k) over a graph given as edges
 *  (src[e], dst[e], weight w[e] or 1 when w is NULL):
 *  sum_e w_e |z_src - z_dst|^2 / num_edges. */
SSLK_API sslk_status sslk_graph_variation(sslk_ctx *ctx, const float *z, size_t n, size_t k, const int64_t *src,
                                          const int64_t *dst, const float *w, size_t num_edges, double *value);

/** Augmentation variation of a model on x (n x in_numel): the mean over
 *  entries of (f(x) - f(x + sigma * N(0, I)))^2, noise drawn from seed,
 *  eval mode. */
SSLK_API sslk_status sslk_augmentation_variation(sslk_model *model, const float *x, size_t n, double sigma,
                                                 uint64_t seed, double *value);

/** Dirichlet energy of a model on x (n x in_numel) by central finite
 *  differences with step h along every input coordinate:
 *  1/(n k d) sum_i |J f(x_i)|_F^2 (k outputs, d inputs), eval mode. */
SSLK_API sslk_status sslk_dirichlet_energy(sslk_model *model, const float *x, size_t n, double h, double *value);

/** Orthonormality penalty ||C - I||_F^2, C = Z^T Z / n of z (n x k), the
 *  columns centred first when center = 1 (minimal-variations objective). */
SSLK_API sslk_status sslk_ortho_penalty(sslk_ctx *ctx, const float *z, size_t n, size_t k, int center,
                                        double *value);
/** Its unbiased two-halves estimator: rows split into halves Z, Z' by a
 *  seeded permutation (an odd last row is left out),
 *  mean_ij (z_i . z'_j)^2 - 2 mean_i |z_i|^2 + k (z used as given). */
SSLK_API sslk_status sslk_ortho_penalty_split(sslk_ctx *ctx, const float *z, size_t n, size_t k, uint64_t seed,
                                              double *value);

/* ======================================================================
 * Bound report: computable parts of the information-theoretic VICReg
 * generalisation bound (Shwartz-Ziv et al., NeurIPS 2023) for an encoder's
 * embeddings and a linear head y = W z + b.  The paper's constants were not
 * verified; the total is labelled_loss + inv_weight * invariance +
 * complexity (the caller's) + confidence.
 * ==================================================================== */
typedef struct sslk_bound_report {
    size_t struct_size;   /**< set to sizeof(sslk_bound_report) by the caller */
    double labelled_loss; /**< mean cross-entropy of the head on the labelled set */
    double labelled_error; /**< 0-1 error of the head on the labelled set */
    double invariance;    /**< head-weighted invariance: mean_i |W (z1_i - z2_i)|_2 on the pairs */
    double confidence;    /**< sqrt(ln(1/delta) / (2 n)), n = labelled samples */
    double complexity;    /**< as passed (architecture-dependent, not computed) */
    double total;         /**< labelled_loss + inv_weight * invariance + complexity + confidence */
    size_t num_labelled;
    size_t num_pairs;
} sslk_bound_report;

/** Fill report: w (c x k), b (c, may be NULL), labelled embeddings z (n x k)
 *  with labels in [0, c), unlabelled pairs z1, z2 (m x k).  delta in (0, 1),
 *  inv_weight >= 0, complexity >= 0 (finite). */
SSLK_API sslk_status sslk_vicreg_bound(sslk_ctx *ctx, const float *w, const float *b, size_t c, size_t k,
                                       const float *z, const int32_t *labels, size_t n, const float *z1,
                                       const float *z2, size_t m, double inv_weight, double complexity,
                                       double delta, sslk_bound_report *report);

#endif /* SSLK_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif

#endif
