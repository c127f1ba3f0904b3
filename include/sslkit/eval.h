/* libsslkit — evaluation of frozen features: weighted kNN classifier and
 * linear probe (multinomial logistic regression).
 *
 * Both follow fixed, documented protocols (docs/training.md) so a number
 * printed by libsslkit can be compared with another one printed by it:
 * - kNN (DINO protocol by default): cosine similarity, k = 20 neighbours,
 *   votes weighted by exp(similarity / 0.07), top-1 and top-5.
 * - Linear probe: features standardised with the training mean and standard
 *   deviation; softmax regression with an L2 penalty on the weights chosen
 *   from a fixed grid on a seeded held-out split of the training set, then
 *   refitted on the whole training set; full-batch L-BFGS.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_EVAL_H
#define SSLKIT_EVAL_H

#include "sslkit/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- kNN classifier ------------------------------------------------------ */

/** Settings of the kNN classifier (domain "knn").  Values frozen. */
typedef enum sslk_knn_setting {
    SSLK_KNN_K = 2100,           /**< neighbours (i64, 1..100000, default 20) */
    SSLK_KNN_TEMPERATURE = 2101, /**< temperature of exp weights (f64, default 0.07) */
    SSLK_KNN_WEIGHTING = 2102,   /**< sslk_knn_weighting (i64, default exp) */
    SSLK_KNN_DISTANCE = 2103,    /**< sslk_knn_distance (i64, default cosine) */
    SSLK_KNN_MEMORY_MB = 2104,   /**< cap on the similarity block, MiB (i64, default 256) */
    SSLK_KNN_EPS = 2105          /**< offset of inverse-distance weights 1/(d + eps) (f64, 1e-6) */
} sslk_knn_setting;

/** How neighbours vote.  Values frozen. */
typedef enum sslk_knn_weighting {
    SSLK_KNN_WEIGHT_EXP = 0,     /**< exp(s / T), s = cosine similarity (or -distance for euclidean) */
    SSLK_KNN_WEIGHT_INVERSE = 1, /**< 1 / (distance + eps); cosine distance is 1 - s */
    SSLK_KNN_WEIGHT_UNIFORM = 2  /**< one vote each */
} sslk_knn_weighting;

/** Neighbour metric.  Values frozen. */
typedef enum sslk_knn_distance {
    SSLK_KNN_COSINE = 0,   /**< features L2-normalised, largest dot product first */
    SSLK_KNN_EUCLIDEAN = 1 /**< smallest Euclidean distance first */
} sslk_knn_distance;

/** Opaque kNN classifier: holds a copy of the training features.
 *  Threads: fit, predict and evaluate use the handle's scratch and need
 *  exclusive use; sslk_knn_get_f64 may run concurrently with other getters. */
typedef struct sslk_knn sslk_knn;

/** Create a kNN classifier with default settings. */
SSLK_API sslk_status sslk_knn_create(sslk_ctx *ctx, sslk_knn **out);
/** Destroy (NULL accepted). */
SSLK_API void sslk_knn_destroy(sslk_knn *knn);
/** Set a real-valued or integer setting (integers also accepted here). */
SSLK_API sslk_status sslk_knn_set_f64(sslk_knn *knn, int key, double value);
/** Set an integer setting. */
SSLK_API sslk_status sslk_knn_set_i64(sslk_knn *knn, int key, int64_t value);
/** Read a setting. */
SSLK_API sslk_status sslk_knn_get_f64(const sslk_knn *knn, int key, double *value);
#ifdef SSLK_EXPERIMENTAL
/** The other typed accessors of the same settings (one definition for every
 *  handle; an integer read of a real setting truncates toward zero).
 *  Experimental since 1.2. */
SSLK_API sslk_status sslk_knn_get_i64(const sslk_knn *knn, int key, int64_t *value);
/** Top-5 rule of sslk_knn_evaluate (i64 setting, experimental, issue 20):
 *  SSLK_KNN_TOP5_ALL (default) ranks every class by its votes (ties: lower id) and
 *  counts the first min(5, nclasses); SSLK_KNN_TOP5_DINO counts the first
 *  min(5, k) as DINO's eval_knn.py (with k < 5 neighbours no more than k classes
 *  have votes, so zero-vote classes never count as hits). */
#define SSLK_KNN_TOP5_RULE 2106
#define SSLK_KNN_TOP5_ALL 0
#define SSLK_KNN_TOP5_DINO 1
#endif
/** Store the training set: z n x d, labels y[n] in [0, nclasses).  Rows with
 *  zero norm are refused under the cosine distance (SSLK_E_DEGENERATE). */
SSLK_API sslk_status sslk_knn_fit(sslk_knn *knn, const float *z, const int32_t *y, size_t n,
                                  size_t d, size_t nclasses);
/** Classify m queries q (m x d).  ranked (m x ntop, may be NULL) receives the
 *  ntop best classes per query, best first (ties: lower class first);
 *  scores (m x nclasses, may be NULL) the summed votes.  1 <= ntop <= nclasses. */
SSLK_API sslk_status sslk_knn_predict(sslk_knn *knn, const float *q, size_t m, size_t d,
                                      int32_t *ranked, size_t ntop, float *scores);
/** Accuracy on labelled queries: top1 and top5 fractions in [0, 1] (either
 *  pointer may be NULL; top5 is top-min(5, nclasses)). */
SSLK_API sslk_status sslk_knn_evaluate(sslk_knn *knn, const float *q, const int32_t *y, size_t m,
                                       size_t d, double *top1, double *top5);

/* ---- linear probe ---------------------------------------------------------- */

/** Settings of the linear probe (domain "probe").  Values frozen. */
typedef enum sslk_probe_setting {
    SSLK_PROBE_L2 = 2200,           /**< fixed L2 penalty; < 0 = choose from the grid (default -1) */
    SSLK_PROBE_VAL_FRACTION = 2201, /**< held-out share of the training set for the choice (0.1) */
    SSLK_PROBE_MAX_ITER = 2202,     /**< L-BFGS iterations of the final fit (default 300) */
    SSLK_PROBE_SEARCH_ITER = 2203,  /**< L-BFGS iterations per grid value (default 100) */
    SSLK_PROBE_STANDARDIZE = 2204,  /**< 1 = standardise features (default 1) */
    SSLK_PROBE_SEED = 2205,         /**< seed of the held-out split (default 0) */
    SSLK_PROBE_TOL = 2206           /**< relative gradient-norm tolerance (default 1e-5) */
} sslk_probe_setting;

/** Opaque linear probe.  Threads: fit, predict and evaluate need exclusive
 *  use; the const getters may run concurrently with each other. */
typedef struct sslk_probe sslk_probe;

/** Create a linear probe with default settings. */
SSLK_API sslk_status sslk_probe_create(sslk_ctx *ctx, sslk_probe **out);
/** Destroy (NULL accepted). */
SSLK_API void sslk_probe_destroy(sslk_probe *probe);
/** Set a setting. */
SSLK_API sslk_status sslk_probe_set_f64(sslk_probe *probe, int key, double value);
/** Set an integer setting. */
SSLK_API sslk_status sslk_probe_set_i64(sslk_probe *probe, int key, int64_t value);
/** Read a setting. */
SSLK_API sslk_status sslk_probe_get_f64(const sslk_probe *probe, int key, double *value);
#ifdef SSLK_EXPERIMENTAL
/** The other typed accessors of the same settings (one definition for every
 *  handle; an integer read of a real setting truncates toward zero).
 *  Experimental since 1.2. */
SSLK_API sslk_status sslk_probe_get_i64(const sslk_probe *probe, int key, int64_t *value);
#endif
/** Fit on z (n x d) with labels y[n] in [0, nclasses).  With SSLK_PROBE_L2 < 0
 *  the penalty is chosen from {1e-6, 1e-5, 1e-4, 1e-3, 1e-2} (mean cross-entropy
 *  + l2/2 ||W||^2) by held-out top-1 (ties: larger penalty), then refitted on all n. */
SSLK_API sslk_status sslk_probe_fit(sslk_probe *probe, const float *z, const int32_t *y, size_t n,
                                    size_t d, size_t nclasses);
/** The L2 penalty used by the last fit (SSLK_E_STATE before a fit). */
SSLK_API sslk_status sslk_probe_chosen_l2(const sslk_probe *probe, double *l2);
/** Predict: pred[m] classes (may be NULL) and logits m x nclasses (may be NULL). */
SSLK_API sslk_status sslk_probe_predict(sslk_probe *probe, const float *q, size_t m, size_t d,
                                        int32_t *pred, float *logits);
/** Top-1 accuracy on labelled queries into *top1. */
SSLK_API sslk_status sslk_probe_evaluate(sslk_probe *probe, const float *q, const int32_t *y,
                                         size_t m, size_t d, double *top1);

#ifdef SSLK_EXPERIMENTAL
/* ---- embedding a dataset with any model (experimental since 1.2; issue 15) ---- */
struct sslk_model;
struct sslk_dataset;
struct sslk_augment;
/** Progress of sslk_model_embed after each batch: items done of total;
 *  return non-zero to stop (SSLK_E_CANCELLED). */
typedef int (*sslk_embed_progress_fn)(void *user, size_t done, size_t total);
/** Model outputs (eval mode) of every item of ds, in dataset order, through a
 *  one-view recipe aug (e.g. preset SSLK_AUG_PRESET_EVAL with size, mean, std
 *  and out_channels set to the model's input) in batches of `batch` rows
 *  (1..65536), read by the loader's workers (the context's thread count) with
 *  the FAIL corrupt policy.  out is n x dim (n = dataset count, dim = the
 *  model's output numel); labels[n] (may be NULL) receives the labels (-1
 *  unlabeled); progress may be NULL.  SSLK_E_SHAPE when the recipe's output
 *  shape is not the model's input shape. */
SSLK_API sslk_status sslk_model_embed(struct sslk_model *m, struct sslk_dataset *ds, const struct sslk_augment *aug,
                                      size_t batch, float *out, size_t n, size_t dim, int32_t *labels,
                                      sslk_embed_progress_fn progress, void *user);
#endif

#ifdef __cplusplus
}
#endif
#endif
