/* libsslkit — evaluation metrics: RankMe and alpha-ReQ (label-free),
 * classification reports with per-class / per-group / worst-k accuracy,
 * ensembles (FAIR-Ensemble) and factor error ratios (ImageNet-X).
 *
 * Results are written into caller-owned memory: scalars into a small public
 * struct whose first field is its own size (set it to sizeof before the call;
 * later versions only append fields), per-class and per-group values into
 * optional caller arrays (NULL to skip).  Accuracies are fractions in [0, 1].
 * A value that does not exist (accuracy of a class with no sample) is NaN,
 * never a silent 0.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_METRICS_H
#define SSLKIT_METRICS_H

#include "sslkit/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * RankMe (Garrido et al., ICML 2023): exp of the entropy of the normalised
 * singular values of the embedding matrix Z (n x d), with the paper's
 * definition p_k = sigma_k / sum(sigma) + eps, eps = 1e-7, and NO centring.
 * ==================================================================== */

/** RankMe of z (n x d, row-major float32) by the paper's definition.
 *  Small inputs (n*d*min(n,d) <= 2^28) and ill-conditioned ones
 *  (sigma_min < 1e-4 sigma_max) up to n*d*min(n,d) <= 2^32 and n*d <= 2^25
 *  use an exact double-precision SVD; others the eigenvalues of the
 *  double-precision Gram matrix (d x d, or n x n when n < d).  SSLK_E_SHAPE if n < 2 or d < 1, SSLK_E_NONFINITE for NaN/Inf,
 *  SSLK_E_DEGENERATE for an all-zero matrix. */
SSLK_API sslk_status sslk_rankme(sslk_ctx *ctx, const float *z, size_t n, size_t d, double *value);

/** The COVARIANCE-EIGENVALUE variant (as in the reptrix package): the same
 *  entropy formula applied to the eigenvalues of the centred covariance of z
 *  (= squared singular values of centred z).  Not the paper's RankMe: on
 *  singular values (3, 1) it gives 1.384 where RankMe gives 1.755. */
SSLK_API sslk_status sslk_rankme_covariance(sslk_ctx *ctx, const float *z, size_t n, size_t d,
                                            double *value);

/** exp(entropy) of a given non-negative spectrum s[count] (any order):
 *  p_k = s_k / sum(s) + eps.  SSLK_E_RANGE for a negative entry,
 *  SSLK_E_DEGENERATE when all are zero. */
SSLK_API sslk_status sslk_rankme_spectrum(const double *s, size_t count, double eps, double *value);

/** Streaming RankMe accumulator: memory O(d^2) whatever the number of rows.
 *  Threads: update, merge, compute and reset need exclusive use of the
 *  accumulator (merge also reads the other one); the one-shot metric
 *  functions take no handle and may run concurrently. */
typedef struct sslk_rankme_acc sslk_rankme_acc;

/** RankMe settings (domain "rankme"); keys frozen. */
typedef enum sslk_rankme_setting {
    SSLK_RANKME_EPS = 900,     /**< f64 in [0, 0.1], default 1e-7: added after L1 normalisation */
    SSLK_RANKME_VARIANT = 901, /**< i64: SSLK_RANKME_SINGULAR (default) or SSLK_RANKME_COVARIANCE */
    SSLK_RANKME_METHOD = 902   /**< i64: SSLK_RANKME_AUTO (default), _GRAM or _EXACT */
} sslk_rankme_setting;

/** Values of SSLK_RANKME_VARIANT. */
typedef enum sslk_rankme_variant {
    SSLK_RANKME_SINGULAR = 0,  /**< paper: singular values of raw Z */
    SSLK_RANKME_COVARIANCE = 1 /**< eigenvalues of the centred covariance */
} sslk_rankme_variant;

/** Values of SSLK_RANKME_METHOD.  The accumulator keeps the raw rows (in
 *  double) while it holds at most max(d, 256) of them; AUTO then computes an
 *  exact SVD, afterwards the Gram matrix's eigenvalues.  EXACT fails with
 *  SSLK_E_STATE once the rows were folded into the Gram matrix. */
typedef enum sslk_rankme_method {
    SSLK_RANKME_AUTO = 0,
    SSLK_RANKME_GRAM = 1,
    SSLK_RANKME_EXACT = 2
} sslk_rankme_method;

/** Create an empty accumulator for d-dimensional rows. */
SSLK_API sslk_status sslk_rankme_create(sslk_ctx *ctx, size_t d, sslk_rankme_acc **out);
/** Destroy (NULL accepted). */
SSLK_API void sslk_rankme_destroy(sslk_rankme_acc *r);
/** Set a real-valued setting (SSLK_E_SETTING for an unknown key or out of bounds). */
SSLK_API sslk_status sslk_rankme_set_f64(sslk_rankme_acc *r, int key, double value);
/** Set an integer setting. */
SSLK_API sslk_status sslk_rankme_set_i64(sslk_rankme_acc *r, int key, int64_t value);
/** Read a setting as a double. */
SSLK_API sslk_status sslk_rankme_get_f64(const sslk_rankme_acc *r, int key, double *value);
#ifdef SSLK_EXPERIMENTAL
/** The other typed accessors of the same settings (one definition for every
 *  handle; an integer read of a real setting truncates toward zero).
 *  Experimental since 1.2. */
SSLK_API sslk_status sslk_rankme_get_i64(const sslk_rankme_acc *r, int key, int64_t *value);
#endif
/** Add n rows z (n x d).  SSLK_E_NONFINITE leaves the accumulator unchanged. */
SSLK_API sslk_status sslk_rankme_update(sslk_rankme_acc *r, const float *z, size_t n);
/** Add everything other has accumulated (same d) into r; other is unchanged. */
SSLK_API sslk_status sslk_rankme_merge(sslk_rankme_acc *r, const sslk_rankme_acc *other);
/** Forget every row (settings are kept). */
SSLK_API sslk_status sslk_rankme_reset(sslk_rankme_acc *r);
/** Rows accumulated so far. */
SSLK_API uint64_t sslk_rankme_count(const sslk_rankme_acc *r);
/** RankMe of all rows so far.  spectrum (may be NULL) receives d values in
 *  descending order: the singular values of Z (SINGULAR variant, zeros past
 *  min(n, d)) or the covariance eigenvalues (COVARIANCE variant).
 *  SSLK_E_SHAPE with fewer than 2 rows, SSLK_E_DEGENERATE when all are zero. */
SSLK_API sslk_status sslk_rankme_compute(sslk_rankme_acc *r, double *value, double *spectrum);

/** alpha-ReQ (Agrawal et al., NeurIPS 2022): fit lambda_i ~ c * i^-alpha to
 *  the centred covariance eigenvalues of z (n x d), by least squares of
 *  log lambda_i on -log i with weights 1/i over i = 6..min(100, d) (1-based),
 *  stopping before the first non-positive eigenvalue.  r2 (may be NULL) is
 *  the weighted R^2 of the log-log fit.  SSLK_E_SHAPE if n < 2 or d < 7;
 *  SSLK_E_DEGENERATE when fewer than 2 points can be fitted. */
SSLK_API sslk_status sslk_alpha_req(sslk_ctx *ctx, const float *z, size_t n, size_t d, double *alpha,
                                    double *r2);
/** alpha-ReQ fit of given eigenvalues eig[count], sorted in descending order. */
SSLK_API sslk_status sslk_alpha_req_spectrum(const double *eig, size_t count, double *alpha, double *r2);

/* ======================================================================
 * Classification reports
 * ==================================================================== */

/** Argmax of each row of logits (n x c); ties go to the lowest index.
 *  SSLK_E_NONFINITE for NaN/Inf. */
SSLK_API sslk_status sslk_argmax(sslk_ctx *ctx, const float *logits, size_t n, size_t c, int32_t *pred);

/** Scalar results of sslk_accuracy_report. */
typedef struct sslk_accuracy_summary {
    size_t struct_size;        /**< set to sizeof(sslk_accuracy_summary) by the caller */
    size_t num_samples;
    size_t num_classes;        /**< C as passed */
    size_t num_present;        /**< classes with at least one sample */
    size_t num_absent;         /**< classes with none: accuracy NaN, excluded from means */
    size_t k;                  /**< k as passed */
    double accuracy;           /**< correct / n */
    double balanced_accuracy;  /**< unweighted mean of per-class accuracy over present classes */
    double worst_k;            /**< unweighted mean of the k lowest per-class accuracies (FAIR-Ensemble bottom-K) */
    double best_k;             /**< unweighted mean of the k highest (top-K) */
    double worst_k_pooled;     /**< accuracy pooled over all samples of the worst-k classes (ImageNet-X) */
    size_t num_groups;         /**< G as passed (0 without groups) */
    double worst_group;        /**< lowest per-group accuracy over present groups (NaN without groups) */
    double minority_majority_gap; /**< acc(largest group) - acc(smallest group) */
    int32_t minority_group;    /**< present group with fewest samples (ties: lowest id), -1 if none */
    int32_t majority_group;    /**< present group with most samples (ties: lowest id), -1 if none */
} sslk_accuracy_summary;

/** Per-class, per-group and worst-k / best-k accuracy of predictions pred[n]
 *  against labels[n], both in [0, C).
 *  - groups[n] (may be NULL, then num_groups must be 0): group id in [0, G).
 *  - k: size of the worst/best class sets (0 = skip, results NaN); k larger
 *    than the number of present classes is SSLK_E_RANGE.
 *  - fixed_worst / fixed_best (k ids each, or NULL): score these class sets
 *    instead of selecting this model's own (FAIR-Ensemble scores every run on
 *    the classes chosen from a reference; see sslk_rank_classes).  A fixed
 *    class that is absent from the data makes the matching mean NaN.
 *  Optional outputs (NULL to skip): class_acc[C] (NaN when absent),
 *  class_count[C], worst_classes[k] / best_classes[k] (the sets used, worst
 *  first / best first), group_acc[G] (NaN when absent), group_count[G].
 *  Errors: SSLK_E_RANGE for a label, prediction, group or fixed class out of
 *  range; SSLK_E_SHAPE for n = 0 or C = 0. */
SSLK_API sslk_status sslk_accuracy_report(sslk_ctx *ctx, const int32_t *pred, const int32_t *labels,
                                          size_t n, size_t num_classes, const int32_t *groups,
                                          size_t num_groups, size_t k, const int32_t *fixed_worst,
                                          const int32_t *fixed_best, sslk_accuracy_summary *summary,
                                          double *class_acc, int64_t *class_count,
                                          int32_t *worst_classes, int32_t *best_classes,
                                          double *group_acc, int64_t *group_count);

/** The k classes with the lowest (worst[k], ascending accuracy) and highest
 *  (best[k], descending) values of acc[C], skipping NaN (absent) classes;
 *  ties go to the lower class id.  Either output may be NULL. */
SSLK_API sslk_status sslk_rank_classes(const double *acc, size_t num_classes, size_t k, int32_t *worst,
                                       int32_t *best);

#ifdef SSLK_EXPERIMENTAL
/** Worst-k with the classes tied at the k boundary sharing the last slots
 *  (experimental, issue 20).  sslk_accuracy_report breaks ties by the lower class
 *  id (ImageNet-X's toolkit by its pandas sort order, i.e. arbitrarily); here the
 *  t present classes whose accuracy equals the k-th lowest, of which r are needed
 *  to fill k, each count with weight r / t.  From per-class correct and sample
 *  counts (count 0 = absent, skipped): *worst_k = weighted mean accuracy (equal to
 *  the lower-id rule's: tied classes have the same accuracy), *worst_k_pooled =
 *  weighted correct / weighted samples (differs when the tied classes differ in
 *  size), *num_tied = t (1 when the boundary is not tied).  Any output may be
 *  NULL.  SSLK_E_RANGE when k = 0 or k exceeds the present classes, or a
 *  count is negative or correct > count. */
SSLK_API sslk_status sslk_worst_k_tie_mean(const int64_t *class_correct, const int64_t *class_count,
                                           size_t num_classes, size_t k, double *worst_k,
                                           double *worst_k_pooled, size_t *num_tied);
#endif

/* ======================================================================
 * Ensembles (FAIR-Ensemble)
 * ==================================================================== */

/** How members' logits are combined.  Values frozen. */
typedef enum sslk_ensemble_combine {
    SSLK_ENSEMBLE_MEAN_PROB = 0,    /**< mean of softmax probabilities, then argmax (default) */
    SSLK_ENSEMBLE_MEAN_LOGIT = 1,   /**< mean of logits, then argmax */
    SSLK_ENSEMBLE_MAJORITY_VOTE = 2 /**< most frequent member argmax; ties to the lowest class */
} sslk_ensemble_combine;

/** Combined prediction pred[n] of m members' logits (m x n x c, member-major).
 *  scores (may be NULL, n x c) receives the mean probabilities, mean logits or
 *  vote fractions. */
SSLK_API sslk_status sslk_ensemble_predict(sslk_ctx *ctx, const float *logits, size_t m, size_t n,
                                           size_t c, sslk_ensemble_combine combine, int32_t *pred,
                                           float *scores);

/** Ensemble-size curve: for each size s = 1..m, metrics of the ensemble of the
 *  first s members of a random member order, averaged over `orders` orders
 *  drawn from `seed` (counter-based, so the result depends only on seed and
 *  orders).  Each array output has m entries (NULL to skip): accuracy,
 *  balanced accuracy, worst-k and best-k class accuracy (classes reselected
 *  for every ensemble).  k as in sslk_accuracy_report (k > C: SSLK_E_RANGE). */
SSLK_API sslk_status sslk_ensemble_curve(sslk_ctx *ctx, const float *logits, size_t m, size_t n, size_t c,
                                         const int32_t *labels, sslk_ensemble_combine combine, size_t k,
                                         size_t orders, uint64_t seed, double *accuracy,
                                         double *balanced_accuracy, double *worst_k, double *best_k);

/* ======================================================================
 * Factor error ratios (ImageNet-X)
 * ==================================================================== */

/** Per-factor accuracy and error ratio.  correct[n] is 0/1 per sample,
 *  factors is an n x F 0/1 matrix (sample i shows factor f).  Outputs (NULL to
 *  skip): *accuracy overall; factor_acc[F] = accuracy over samples with the
 *  factor (NaN when none); error_ratio[F] = (1 - factor_acc) / (1 - accuracy)
 *  (NaN when the factor is absent or the overall error is 0); count[F];
 *  *worst_factor = factor with the lowest accuracy (ties: lowest index;
 *  -1 when no factor occurs).  SSLK_E_RANGE for values other than 0/1. */
SSLK_API sslk_status sslk_factor_error_ratios(sslk_ctx *ctx, const uint8_t *correct, size_t n,
                                              const uint8_t *factors, size_t num_factors, double *accuracy,
                                              double *factor_acc, double *error_ratio, int64_t *count,
                                              int64_t *worst_factor);

#ifdef SSLK_EXPERIMENTAL
/* ImageNet-X annotations as published (experimental since 1.2; issue 15).
 * The toolkit's JSON-lines files: one object per line with file_name, class
 * (int), the 16 factor columns (0/1), justification, one_word, metaclass.
 * Per-factor arrays follow the toolkit's factor order (sslk_imagenet_x_factor_name). */
#define SSLK_IMAGENET_X_NUM_FACTORS 16
/** Annotation file variants: MULTI ("multi_factor": any number of factors per
 *  image) and TOP ("top_factor": at most one; more is an error). */
enum { SSLK_IMAGENET_X_MULTI = 0, SSLK_IMAGENET_X_TOP = 1 };
typedef struct sslk_imagenet_x sslk_imagenet_x;
/** Name of factor f (0..15): pose, background, pattern, color, smaller, shape,
 *  partial_view, subcategory, texture, larger, darker, object_blocking,
 *  person_blocking, style, brighter, multiple_objects. */
SSLK_API sslk_status sslk_imagenet_x_factor_name(size_t f, const char **name);
/** Read an annotation file.  SSLK_E_FORMAT names the line for invalid JSON, a
 *  missing column, a factor value other than 0/1 (or false/true), and a
 *  file_name that appears twice. */
SSLK_API sslk_status sslk_imagenet_x_load(sslk_ctx *ctx, const char *path, int variant, sslk_imagenet_x **out);
/** Destroy (NULL accepted). */
SSLK_API void sslk_imagenet_x_destroy(sslk_imagenet_x *ax);
/** Annotated images and distinct metaclasses (either pointer may be NULL). */
SSLK_API sslk_status sslk_imagenet_x_count(const sslk_imagenet_x *ax, size_t *n, size_t *num_metaclasses);
/** Name of metaclass i, in order of first appearance in the file ("" for rows without one). */
SSLK_API sslk_status sslk_imagenet_x_metaclass(const sslk_imagenet_x *ax, size_t i, const char **name);
/** Join n predictions (pred[i]: predicted class of files[i]; the join is on the
 *  part of files[i] after its last '/') with the annotations (inner join, as the
 *  toolkit) and report, over the matched images: counts = {matched, annotated
 *  without a prediction, predictions without an annotation}; *accuracy; per
 *  factor (16 entries) accuracy, error ratio (1 - acc_f) / (1 - accuracy) and
 *  count; per metaclass (num_metaclasses entries) accuracy and count, and per
 *  metaclass x factor (num_metaclasses x 16) accuracy, error ratio against the
 *  metaclass accuracy and count.  NaN where undefined (no image, no error).
 *  Every output may be NULL.  A file name given twice is SSLK_E_INVALID_ARG,
 *  as is a join with no match. */
SSLK_API sslk_status sslk_imagenet_x_evaluate(const sslk_imagenet_x *ax, const char *const *files,
                                              const int32_t *pred, size_t n, size_t counts[3], double *accuracy,
                                              double *factor_acc, double *error_ratio, int64_t *factor_count,
                                              double *meta_acc, int64_t *meta_count, double *meta_factor_acc,
                                              double *meta_error_ratio, int64_t *meta_factor_count);
#endif

#ifdef __cplusplus
}
#endif
#endif
