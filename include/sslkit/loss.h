/* libsslkit — self-supervised losses with exact gradients: VICReg, entropy-
 * estimator VICReg (LogDet, pairwise distance), InfoNCE / NT-Xent, DIET and
 * MSN / prior-MSN.  See docs/losses.md for formulas, defaults and conventions.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_LOSS_H
#define SSLKIT_LOSS_H

#include "sslkit/core.h"
#include "sslkit/param.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque loss handle: one kind, its settings, owned parameters (DIET head,
 *  MSN prototypes) and the named terms of the last compute call.
 *  Threads: sslk_loss_compute writes the handle's scratch, terms and
 *  parameter gradients, so it needs exclusive use (concurrent computes on one
 *  loss give wrong values or crash); so do the setters and zero_grad.  The
 *  const getters may run concurrently with each other.  Use one loss per
 *  thread, or serialise. */
typedef struct sslk_loss sslk_loss;

/** Loss kinds (frozen values). */
typedef enum sslk_loss_kind {
    SSLK_LOSS_VICREG = 1,            /**< VICReg (settings domain "vicreg") */
    SSLK_LOSS_VICREG_LOGDET = 2,     /**< invariance - LogDet entropy ("vicreg_logdet") */
    SSLK_LOSS_VICREG_PAIRDIST = 3,   /**< invariance - pairwise-distance entropy ("vicreg_pairdist") */
    SSLK_LOSS_INFONCE = 4,           /**< NT-Xent / SimCLR, V >= 2 views ("infonce") */
    SSLK_LOSS_INFONCE_SYMMETRIC = 5, /**< cross-view-only InfoNCE, 2 views ("infonce") */
    SSLK_LOSS_DIET = 6,              /**< datum index as target, owns the head W ("diet") */
    SSLK_LOSS_MSN = 7                /**< MSN / PMSN, owns the prototypes ("msn") */
} sslk_loss_kind;

/** Settings keys (frozen values; domain in parentheses).  Query names, bounds
 *  and defaults with sslk_setting_info(); set with sslk_loss_set_f64/_i64. */
typedef enum sslk_loss_setting {
    /* VICReg ("vicreg") */
    SSLK_VICREG_SIM_COEFF = 100,            /**< lambda, invariance weight (25) */
    SSLK_VICREG_STD_COEFF = 101,            /**< mu, variance weight (25) */
    SSLK_VICREG_COV_COEFF = 102,            /**< nu, covariance weight (1) */
    SSLK_VICREG_GAMMA = 103,                /**< std target of the hinge (1) */
    SSLK_VICREG_EPS = 104,                  /**< added to the variance inside the sqrt (1e-4) */
    SSLK_VICREG_VAR_BRANCH_REDUCTION = 105, /**< sslk_branch_reduction: MEAN (official) or SUM (paper) */
    /* LogDet entropy VICReg ("vicreg_logdet") */
    SSLK_VICREG_LOGDET_SIM_COEFF = 200,     /**< invariance weight (25) */
    SSLK_VICREG_LOGDET_ENTROPY_COEFF = 201, /**< eta, entropy weight (25) */
    SSLK_VICREG_LOGDET_BETA = 202,          /**< scale in 1/2 log det(I + beta C) (1) */
    SSLK_VICREG_LOGDET_CENTERED = 203,      /**< 1: C = X^T X/(n-1) centred; 0: Z^T Z/n (1) */
    SSLK_VICREG_LOGDET_PER_DIM = 204,       /**< 1: divide the entropy by d in the loss (1) */
    /* pairwise-distance entropy VICReg ("vicreg_pairdist") */
    SSLK_VICREG_PAIRDIST_SIM_COEFF = 250,     /**< invariance weight (25) */
    SSLK_VICREG_PAIRDIST_ENTROPY_COEFF = 251, /**< eta, entropy weight (25) */
    SSLK_VICREG_PAIRDIST_SIGMA2 = 252,        /**< kernel variance sigma^2 (1) */
    SSLK_VICREG_PAIRDIST_SIGMA2_PER_DIM = 253,/**< 1: effective sigma^2 = sigma2 * d (1) */
    SSLK_VICREG_PAIRDIST_ESTIMATOR = 254,     /**< sslk_pairdist_estimator: KL (0) or BHATTACHARYYA (1) */
    /* InfoNCE ("infonce") */
    SSLK_INFONCE_TEMPERATURE = 300,     /**< tau (0.1) */
    SSLK_INFONCE_VIEW_REDUCTION = 301,  /**< sslk_branch_reduction: MEAN over anchors, or SUM of per-view means (TF SimCLR = 2x) */
    /* DIET ("diet") */
    SSLK_DIET_NUM_SAMPLES = 400,    /**< N, classes = dataset size (required) */
    SSLK_DIET_DIM = 401,            /**< K, representation width (required) */
    SSLK_DIET_LABEL_SMOOTHING = 402,/**< alpha, torch convention (0.8) */
    SSLK_DIET_CHUNK = 403,          /**< classes per chunk of the N dimension (0 = auto) */
    SSLK_DIET_LOGIT_CACHE_MB = 404, /**< keep the B x N logits between passes when they fit (256) */
    /* MSN / PMSN ("msn") */
    SSLK_MSN_NUM_PROTOTYPES = 500,     /**< K (1024) */
    SSLK_MSN_DIM = 501,                /**< d (256) */
    SSLK_MSN_TEMPERATURE = 502,        /**< anchor temperature (0.1) */
    SSLK_MSN_SHARPEN = 503,            /**< target sharpening; target temperature = temperature * sharpen (0.25) */
    SSLK_MSN_SINKHORN_ITERATIONS = 504,/**< 0 disables Sinkhorn on the targets (3) */
    SSLK_MSN_PRIOR = 505,              /**< sslk_msn_prior (UNIFORM = me-max) */
    SSLK_MSN_TAU = 506,                /**< power-law exponent of the prior (0.25) */
    SSLK_MSN_PRIOR_WEIGHT = 507,       /**< lambda of KL(mean prediction || prior) (1) */
    SSLK_MSN_ENTROPY_WEIGHT = 508,     /**< weight of the mean per-anchor entropy (0) */
    SSLK_MSN_KL_DIRECTION = 509,       /**< sslk_kl_direction: FORWARD KL(pbar||pi) or REVERSE KL(pi||pbar) */
    /* generic, every kind ("loss") */
    SSLK_LOSS_PRECISION = 800          /**< sslk_loss_precision: FLOAT (fast) or DOUBLE (exact reference) */
} sslk_loss_setting;

#ifdef SSLK_EXPERIMENTAL
/* ---- Supervised cross-entropy (experimental, since 1.2) --------------------
 * Softmax cross-entropy of one view of n x c logits against class labels given
 * as the indices (sslk_loss_compute_indexed: indices[i] in [0, c)); one term,
 * "cross_entropy".  The trainer's SUPERVISED method uses it.  Kept outside
 * the frozen enums so that their ABI stays as released. */
#define SSLK_LOSS_XENT ((sslk_loss_kind)8) /**< supervised cross-entropy ("xent") */
/** Settings of SSLK_LOSS_XENT (domain "xent"). */
#define SSLK_XENT_LABEL_SMOOTHING 600 /**< f64 alpha, torch convention (0) */

/* ---- Conventions of other code bases (experimental, issue 20) --------------- */
/** MSN ("msn"): label smoothing s of the prototype labels as the official MSN
 *  training script (`label_smoothing`, 0 - 0.1): every prediction, anchor and
 *  target, is (1 - s) softmax + s / K before the target sharpening, the
 *  cross-entropy, the prior KL and the entropy.  0 (default) = off. */
#define SSLK_MSN_LABEL_SMOOTHING 510

/** MSN: a user prior in double (sslk_loss_set_prior takes float32).  Every p > 0
 *  and finite, the sum within 1e-3 of one (a guard against passing counts or
 *  logits); the vector is then divided by its sum in double, so the KL uses a
 *  prior summing to one to rounding.  Sets SSLK_MSN_PRIOR to USER. */
SSLK_API sslk_status sslk_loss_set_prior_f64(sslk_loss *loss, const double *p, size_t k);

/** InfoNCE with outside negatives (MoCo's queue; lightly's
 *  NTXentLoss(memory_bank_size=...)): anchors za, positives zb (n x d; row i of
 *  zb is the positive of row i of za) and m negatives (m x d, constants: no
 *  gradient), all L2-normalised, s = cos / temperature,
 *  l_i = -s(a_i, b_i) + log(exp s(a_i, b_i) + sum_j exp s(a_i, k_j)), value = mean_i l_i.
 *  Only the za rows are anchors (no in-batch negatives), as lightly with a memory
 *  bank.  Needs an SSLK_LOSS_INFONCE loss (its temperature; view_reduction is not
 *  used); terms "positive" (mean -s_pos) and "logsumexp".  ga, gb may be NULL. */
SSLK_API sslk_status sslk_loss_compute_negatives(sslk_loss *loss, const float *za, const float *zb,
                                                 size_t n, size_t d, const float *negatives, size_t m,
                                                 double *value, float *ga, float *gb);

/** Queue of negatives kept between steps (for sslk_loss_compute_negatives). */
typedef struct sslk_negqueue sslk_negqueue;
/** Initial contents of a queue. */
#define SSLK_NEGQUEUE_RANDOM 0 /**< full of unit-length N(0,1) rows from the context seed (lightly) */
#define SSLK_NEGQUEUE_EMPTY 1  /**< no rows; grows as batches are pushed */
/** Create a queue of `capacity` rows of width d. */
SSLK_API sslk_status sslk_negqueue_create(sslk_ctx *ctx, size_t capacity, size_t d, int init,
                                          sslk_negqueue **out);
/** Destroy a queue (NULL accepted). */
SSLK_API void sslk_negqueue_destroy(sslk_negqueue *q);
/** Enqueue n rows (n x d, copied as given) from the write pointer on; when they
 *  reach the end of the queue the rows that do not fit are dropped and the
 *  pointer returns to 0 (lightly's MemoryBankModule). */
SSLK_API sslk_status sslk_negqueue_push(sslk_negqueue *q, const float *rows, size_t n, size_t d);
/** The stored rows (count x d, valid until the next push or destroy). */
SSLK_API sslk_status sslk_negqueue_rows(const sslk_negqueue *q, const float **rows, size_t *count);

/* ---- Barlow Twins and negative cosine (experimental, issue 21) -------------- */
/** Barlow Twins, 2 views n x d (n >= 2), official code's conventions: batch norm
 *  of each view without affine (biased variance, eps), C = X1^T X2 / n,
 *  L = sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2; terms "on_diagonal" and
 *  "off_diagonal" (unweighted).  Settings domain "barlow_twins". */
#define SSLK_LOSS_BARLOW_TWINS ((sslk_loss_kind)9)
#define SSLK_BARLOW_LAMBDA 700 /**< f64 "lambd" (official name), off-diagonal weight (0.0051) */
#define SSLK_BARLOW_EPS 701    /**< f64 added to the biased variance in the batch norm (1e-5) */
/** Negative cosine similarity with stop-gradient (SimSiam, BYOL): views
 *  (p, z), or (p1, p2, z1, z2) with SSLK_NEGCOS_SYMMETRIC = 1 (pairs (p1, z2) and
 *  (p2, z1)); D = -mean_i cos(p_i, z_i) or 2 - 2 mean cos (form BYOL).  The
 *  targets z are constants: their gradients are written as zeros.  Rows of zero
 *  norm are refused.  Term "cosine" (mean cosine over rows and pairs); settings
 *  domain "negcos". */
#define SSLK_LOSS_NEGCOS ((sslk_loss_kind)10)
#define SSLK_NEGCOS_FORM 750           /**< i64 0 = SIMSIAM (-cos), 1 = BYOL (2 - 2 cos) */
#define SSLK_NEGCOS_SYMMETRIC 751      /**< i64 1: 4 views, swapped pairs (0) */
#define SSLK_NEGCOS_VIEW_REDUCTION 752 /**< i64 sslk_branch_reduction of the two pairs: MEAN (SimSiam) or SUM (BYOL) */
#define SSLK_NEGCOS_SIMSIAM 0
#define SSLK_NEGCOS_BYOL 1
/* ---- MoCo v2 / v3 (experimental, issue 21) ---------------------------------- */
/** MoCo (official moco / moco-v3 conventions): q = online predictions, k = the
 *  momentum encoder's keys (constants: their gradients are written as zeros),
 *  both L2-normalised, T = temperature.  Version 2: sslk_loss_compute_negatives(
 *  loss, q, k, n, d, queue rows, m, ...): mean_i CE([q_i.k_i, q_i.queue] / T, 0),
 *  the positive at index 0, no in-batch negatives (sslk_negqueue keeps the keys;
 *  the caller pushes the normalised k after the step).  Version 3:
 *  sslk_loss_compute with views (q, k) or (q1, q2, k1, k2): ctr(q, k) =
 *  2 T mean_i CE(q_i.k^T / T, i) (the other rows' keys are negatives),
 *  value ctr(q, k) or ctr(q1, k2) + ctr(q2, k1).  Terms "cross_entropy" (mean
 *  over pairs, unscaled) and "positive_cosine".  Settings domain "moco". */
#define SSLK_LOSS_MOCO ((sslk_loss_kind)13)
#define SSLK_MOCO_TEMPERATURE 3060 /**< f64 T (0.2, MoCo v2's --moco-t) */
#define SSLK_MOCO_VERSION 3061     /**< i64 2 (queue) or 3 (in-batch, symmetric, x 2T) (2) */

/* ---- DINO (experimental, issue 21) ------------------------------------------ */
/** DINO (Caron et al. 2021), the official code's DINOLoss: views = S student
 *  views then T teacher views (settings "teacher_views", default 2), n x K each;
 *  student view v < T and teacher view v are the same (global) crop.
 *  q_t = softmax((teacher_t - center) / teacher_temp) (a constant: the teacher
 *  views' gradients are written as zeros), p_v = log_softmax(student_v /
 *  student_temp), and value = mean over the T (S - 1) pairs (t, v != t) of
 *  mean_i sum_k -q_t[i,k] p_v[i,k].  Needs S >= 2 and S >= T.  After each
 *  successful compute the loss updates its centre (K doubles, zeros on the first
 *  call) with the teacher rows' mean: center = m center + (1 - m) mean (across
 *  ranks the mean over every rank's rows, all-reduced).  teacher_temp warms up
 *  linearly from warmup_teacher_temp over warmup_teacher_temp_epochs epochs,
 *  selected by the "epoch" setting the caller sets (numpy linspace schedule of the
 *  official code).  Terms "cross_entropy", "teacher_entropy" (mean entropy of q)
 *  and "kl_divergence" (their difference).  Settings domain "dino". */
#define SSLK_LOSS_DINO ((sslk_loss_kind)11)
#define SSLK_DINO_STUDENT_TEMP 3000       /**< f64 student temperature (0.1) */
#define SSLK_DINO_TEACHER_TEMP 3001       /**< f64 teacher temperature after the warm-up (0.04; 0.04 - 0.07) */
#define SSLK_DINO_WARMUP_TEACHER_TEMP 3002 /**< f64 teacher temperature at epoch 0 (0.04) */
#define SSLK_DINO_WARMUP_TEACHER_TEMP_EPOCHS 3003 /**< i64 warm-up length in epochs (0 = none) */
#define SSLK_DINO_CENTER_MOMENTUM 3004    /**< f64 m of the centre update (0.9; 1 freezes the centre) */
#define SSLK_DINO_EPOCH 3005              /**< i64 current epoch, set by the caller (0) */
#define SSLK_DINO_TEACHER_VIEWS 3006      /**< i64 T, teacher (global) views at the end of the batch (2) */
/** DINO: the number of centre entries K (0 before the first compute or set). */
SSLK_API sslk_status sslk_loss_dino_center_size(const sslk_loss *loss, size_t *k);
/** DINO: copy the centre (k = its size) into center, e.g. for a checkpoint. */
SSLK_API sslk_status sslk_loss_dino_get_center(const sslk_loss *loss, double *center, size_t k);
/** DINO: replace the centre by center[0..k) (finite; k = K of the next batches),
 *  e.g. from a checkpoint.  Allowed before the first compute (fixes K). */
SSLK_API sslk_status sslk_loss_dino_set_center(sslk_loss *loss, const double *center, size_t k);

/* ---- SwAV (experimental, issue 21b) ------------------------------------------ */
/** SwAV, official code's conventions (facebookresearch/swav main_swav.py):
 *  num_views = V >= 2 crops, n x dim each (row i of every view is sample i; the
 *  loss L2-normalises them, as the official model's head does), prototypes C
 *  (K x dim, owned, parameter "prototypes"), scores S_v = z_v C^T.  For every
 *  assigned crop a (SSLK_SWAV_CROPS_FOR_ASSIGN) the codes q_a = Sinkhorn(exp(S_a /
 *  epsilon)) over the batch rows (stop-gradient);
 *  L = mean_a 1/(V-1) sum_{v != a} mean_i -sum_k q_a,ik log softmax(S_v,i / T)_k.
 *  The gradient w.r.t. C is that of the plain linear layer z C^T; with
 *  SSLK_SWAV_NORMALIZE_PROTOTYPES = 1 (default) the loss first normalises the
 *  rows of C in place, as the official code does before every forward.  Across
 *  ranks (a collectives table on the context) the Sinkhorn sums are
 *  all-reduced; value and prototype gradient are those of all ranks' rows.
 *  Term "swapped_prediction" (= the value).  Settings domain "swav". */
#define SSLK_LOSS_SWAV ((sslk_loss_kind)12)
#define SSLK_SWAV_NUM_PROTOTYPES 3030       /**< i64 K (3000, official nmb_prototypes) */
#define SSLK_SWAV_DIM 3031                  /**< i64 D (128, official feat_dim) */
#define SSLK_SWAV_TEMPERATURE 3032          /**< f64 T of the swapped prediction (0.1) */
#define SSLK_SWAV_EPSILON 3033              /**< f64 Sinkhorn regularisation (0.05) */
#define SSLK_SWAV_SINKHORN_ITERATIONS 3034  /**< i64 (3); 0: codes = row softmax(S / epsilon) */
#define SSLK_SWAV_CROPS_FOR_ASSIGN 3035     /**< i64 bit mask, bit v = view v (3 = views 0 and 1) */
#define SSLK_SWAV_NORMALIZE_PROTOTYPES 3036 /**< i64 1: the loss normalises C in place per compute (1) */
/** SwAV with a queue of past embeddings (official --queue_length): queues[a]
 *  (m x dim, constants, L2-normalised by the loss) is the queue of the a-th
 *  assigned crop (in view order); its scores against the current prototypes are
 *  prepended to that crop's scores before Sinkhorn, and only the batch rows'
 *  codes are used.  The caller keeps and updates the queues (e.g. one
 *  sslk_negqueue per assigned crop, pushed with that crop's rows after the
 *  step); the official code starts using a queue once it is full.  m = 0 (queues
 *  may then be NULL) is sslk_loss_compute.  grads as sslk_loss_compute. */
struct sslk_loss_batch; /* defined below */
SSLK_API sslk_status sslk_loss_compute_swav_queue(sslk_loss *loss, const struct sslk_loss_batch *batch,
                                                  const float *const *queues, size_t m, double *value,
                                                  float *const *grads);
#endif /* SSLK_EXPERIMENTAL */

/** Values of SSLK_VICREG_VAR_BRANCH_REDUCTION and SSLK_INFONCE_VIEW_REDUCTION. */
typedef enum sslk_branch_reduction {
    SSLK_REDUCE_MEAN = 0,
    SSLK_REDUCE_SUM = 1
} sslk_branch_reduction;

/** Values of SSLK_VICREG_PAIRDIST_ESTIMATOR. */
typedef enum sslk_pairdist_estimator {
    SSLK_PAIRDIST_KL = 0,            /**< D = |zi - zj|^2 / (2 sigma^2), upper bound */
    SSLK_PAIRDIST_BHATTACHARYYA = 1  /**< D = |zi - zj|^2 / (8 sigma^2), lower bound */
} sslk_pairdist_estimator;

/** Values of SSLK_MSN_PRIOR. */
typedef enum sslk_msn_prior {
    SSLK_MSN_PRIOR_UNIFORM = 0,   /**< MSN me-max */
    SSLK_MSN_PRIOR_POWER_LAW = 1, /**< pi_k proportional to k^-tau, k = 1..K */
    SSLK_MSN_PRIOR_USER = 2       /**< vector given with sslk_loss_set_prior */
} sslk_msn_prior;

/** Values of SSLK_MSN_KL_DIRECTION. */
typedef enum sslk_kl_direction {
    SSLK_KL_FORWARD = 0, /**< KL(pbar || pi): reduces to me-max for a uniform prior */
    SSLK_KL_REVERSE = 1  /**< KL(pi || pbar): what lightly's PMSNLoss computes */
} sslk_kl_direction;

/** Values of SSLK_LOSS_PRECISION. */
typedef enum sslk_loss_precision {
    SSLK_PRECISION_FLOAT = 0, /**< float32 GEMMs, double reductions */
    SSLK_PRECISION_DOUBLE = 1 /**< every step in double (slower; for checks) */
} sslk_loss_precision;

/** Create a loss of the given kind with default settings.  Parameters (DIET,
 *  MSN) are allocated and initialised from the context's seed on first use. */
SSLK_API sslk_status sslk_loss_create(sslk_ctx *ctx, sslk_loss_kind kind, sslk_loss **out);
/** Destroy a loss (NULL accepted). */
SSLK_API void sslk_loss_destroy(sslk_loss *loss);
/** Kind of a loss. */
SSLK_API sslk_status sslk_loss_get_kind(const sslk_loss *loss, sslk_loss_kind *kind);
/** Settings domain name of a kind (e.g. "vicreg"); generic keys are in domain "loss". */
SSLK_API sslk_status sslk_loss_kind_domain(sslk_loss_kind kind, const char **domain);

/** Set a real setting.  SSLK_E_SETTING for a key of another kind or an
 *  out-of-bounds value; SSLK_E_STATE for a size once parameters exist. */
SSLK_API sslk_status sslk_loss_set_f64(sslk_loss *loss, int key, double value);
/** Set an integer setting (also booleans and enum choices). */
SSLK_API sslk_status sslk_loss_set_i64(sslk_loss *loss, int key, int64_t value);
/** Read a setting as a double. */
SSLK_API sslk_status sslk_loss_get_f64(const sslk_loss *loss, int key, double *value);
/** Read a setting as an integer (real settings are truncated). */
SSLK_API sslk_status sslk_loss_get_i64(const sslk_loss *loss, int key, int64_t *value);

/** MSN: use a user prior p[0..k) (k = num_prototypes, every p > 0, sum 1
 *  within 1e-3; renormalised).  Also sets SSLK_MSN_PRIOR to USER. */
SSLK_API sslk_status sslk_loss_set_prior(sslk_loss *loss, const float *p, size_t k);

/** Inputs of one compute call.  Public struct: set struct_size to
 *  sizeof(sslk_loss_batch); fields are only ever appended.
 *  - VICReg kinds, INFONCE_SYMMETRIC: 2 views, n x d each (row i of each view
 *    is the same sample).
 *  - INFONCE: num_views >= 2 views, n x d each (rows i of all views are
 *    positives), or 1 view with indices (rows with the same index are
 *    positives; every index must occur at least twice).
 *  - DIET: num_views >= 1 views, n x dim each, indices = datum index of each
 *    row (shared by the views), in [0, num_samples).
 *  - MSN: num_views >= 1 anchor views, n x dim each, and targets n x dim
 *    (constants: no gradient). */
typedef struct sslk_loss_batch {
    size_t struct_size;
    const float *const *views; /**< num_views pointers to n x d row-major blocks */
    size_t num_views;
    size_t n;                  /**< rows per view */
    size_t d;                  /**< columns */
    const int64_t *indices;    /**< n indices, or NULL */
    const float *targets;      /**< n x d, or NULL */
} sslk_loss_batch;

/** Compute the loss value and, for every grads[v] that is not NULL, dL/dview_v
 *  (n x d, overwritten).  grads may be NULL (value only); value may be NULL.
 *  Owned parameters' gradients are ACCUMULATED (see sslk_loss_zero_grad).
 *  Refuses NaN/Inf, shape mismatches, n < 2 where statistics need it,
 *  out-of-range indices; leaves outputs unspecified on failure. */
SSLK_API sslk_status sslk_loss_compute(sslk_loss *loss, const sslk_loss_batch *batch,
                                       double *value, float *const *grads);
/** Two-view convenience form of sslk_loss_compute (ga, gb may be NULL). */
SSLK_API sslk_status sslk_loss_compute_pair(sslk_loss *loss, const float *za, const float *zb,
                                            size_t n, size_t d, double *value, float *ga,
                                            float *gb);
/** One view with per-row indices: DIET datum indices, or InfoNCE sample ids. */
SSLK_API sslk_status sslk_loss_compute_indexed(sslk_loss *loss, const float *z,
                                               const int64_t *indices, size_t n, size_t d,
                                               double *value, float *gz);
/** MSN: anchors (num_views * n) x d stacked view after view (row v*n + i is a
 *  view of target i), targets n x d; ganchors (same shape as anchors) may be NULL. */
SSLK_API sslk_status sslk_loss_compute_targets(sslk_loss *loss, const float *anchors,
                                               size_t num_views, const float *targets, size_t n,
                                               size_t d, double *value, float *ganchors);

/** Number of named terms of this kind (e.g. 3 for VICReg). */
SSLK_API sslk_status sslk_loss_num_terms(const sslk_loss *loss, size_t *count);
/** Static name of term i (e.g. "invariance"). */
SSLK_API sslk_status sslk_loss_term_name(const sslk_loss *loss, size_t i, const char **name);
/** Value of term i in the last successful compute call (unweighted, as
 *  documented per kind).  SSLK_E_STATE before the first call. */
SSLK_API sslk_status sslk_loss_term_value(const sslk_loss *loss, size_t i, double *value);

/** Number of parameter tensors the loss owns (DIET 1, MSN 1, others 0). */
SSLK_API sslk_status sslk_loss_param_count(const sslk_loss *loss, size_t *count);
/** View of parameter i (allocating and initialising it on first use; size
 *  settings are frozen afterwards).  out->struct_size must be set. */
SSLK_API sslk_status sslk_loss_param(sslk_loss *loss, size_t i, sslk_param_view *out);
/** Zero the gradients of the owned parameters. */
SSLK_API sslk_status sslk_loss_zero_grad(sslk_loss *loss);

#ifdef __cplusplus
}
#endif
#endif
