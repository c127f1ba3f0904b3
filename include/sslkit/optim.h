/* libsslkit — optimizers (SGD, LARS, AdamW) over sslk_param_view sets, and
 * the warm-up + cosine learning-rate schedule.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_OPTIM_H
#define SSLKIT_OPTIM_H

#include "sslkit/core.h"
#include "sslkit/param.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque optimizer handle.  Threads: step, zero_grad, add_params, state_set
 *  and the setters need exclusive use of the optimizer and of the models /
 *  losses whose tensors it holds; the const queries may run concurrently. */
typedef struct sslk_optim sslk_optim;

/** Optimizer kinds. */
typedef enum sslk_optim_kind {
    SSLK_OPTIM_SGD = 1,   /**< PyTorch torch.optim.SGD semantics */
    SSLK_OPTIM_LARS = 2,  /**< LARS as in VICReg's recipe (facebookresearch/vicreg) */
    SSLK_OPTIM_ADAMW = 3  /**< PyTorch torch.optim.AdamW semantics */
} sslk_optim_kind;

/** SGD settings (domain "sgd"). */
typedef enum sslk_sgd_setting {
    SSLK_SGD_LR = 1100,           /**< learning rate, default 0.01 */
    SSLK_SGD_MOMENTUM = 1101,     /**< default 0 */
    SSLK_SGD_DAMPENING = 1102,    /**< default 0 */
    SSLK_SGD_NESTEROV = 1103,     /**< 0/1, default 0 (needs momentum > 0, dampening 0) */
    SSLK_SGD_WEIGHT_DECAY = 1104, /**< L2 added to the gradient, default 0 */
    SSLK_SGD_EXCLUDE_NO_DECAY = 1105 /**< 1: no decay on SSLK_PARAM_NO_DECAY tensors; default 0 */
} sslk_sgd_setting;

/** LARS settings (domain "lars").  Per tensor: g' = g + wd * p (unless
 *  excluded); q = eta * |p| / |g'| when both norms > 0, else 1 (unless
 *  excluded); mu = momentum * mu + q * g'; p -= lr * mu. */
typedef enum sslk_lars_setting {
    SSLK_LARS_LR = 1200,             /**< default 0.2 (VICReg base lr; scale by batch/256 yourself) */
    SSLK_LARS_MOMENTUM = 1201,       /**< default 0.9 */
    SSLK_LARS_WEIGHT_DECAY = 1202,   /**< default 1e-6 */
    SSLK_LARS_ETA = 1203,            /**< trust coefficient, default 0.001 */
    SSLK_LARS_EXCLUDE_NO_DECAY = 1204 /**< 1 (default): SSLK_PARAM_NO_DECAY tensors (biases,
                                          batch-norm) get neither decay nor adaptation */
} sslk_lars_setting;

/** AdamW settings (domain "adamw"). */
typedef enum sslk_adamw_setting {
    SSLK_ADAMW_LR = 1300,            /**< default 1e-3 */
    SSLK_ADAMW_BETA1 = 1301,         /**< default 0.9 */
    SSLK_ADAMW_BETA2 = 1302,         /**< default 0.999 */
    SSLK_ADAMW_EPS = 1303,           /**< default 1e-8 */
    SSLK_ADAMW_WEIGHT_DECAY = 1304,  /**< decoupled decay, default 0.01 */
    SSLK_ADAMW_EXCLUDE_NO_DECAY = 1305 /**< 1: no decay on SSLK_PARAM_NO_DECAY tensors; default 0 */
} sslk_adamw_setting;

/** Schedule settings (domain "schedule"), for front ends that configure
 *  sslk_schedule_warmup_cosine generically. */
typedef enum sslk_schedule_setting {
    SSLK_SCHEDULE_WARMUP_STEPS = 1400, /**< default 0 */
    SSLK_SCHEDULE_TOTAL_STEPS = 1401,  /**< default 1000 */
    SSLK_SCHEDULE_FINAL_RATIO = 1402   /**< final lr / base lr, default 0 */
} sslk_schedule_setting;

/** Create an optimizer of a kind with its default settings and no parameters. */
SSLK_API sslk_status sslk_optim_create(sslk_ctx *ctx, sslk_optim_kind kind, sslk_optim **out);
/** Destroy (NULL accepted). */
SSLK_API void sslk_optim_destroy(sslk_optim *opt);

/** Register n tensors in parameter group `group` (0 .. current group count:
 *  a new index opens a new group whose settings start as copies of the
 *  optimizer-wide ones).  Views are copied; the tensors they point to must
 *  outlive the optimizer.  Views flagged SSLK_PARAM_FROZEN are skipped. */
SSLK_API sslk_status sslk_optim_add_params(sslk_optim *opt, const sslk_param_view *views,
                                           size_t n, size_t group);
/** Number of parameter groups and registered tensors (either pointer may be NULL). */
SSLK_API sslk_status sslk_optim_counts(const sslk_optim *opt, size_t *groups, size_t *tensors);

/** Set a setting of the optimizer's kind for every group (and for groups opened later). */
SSLK_API sslk_status sslk_optim_set_f64(sslk_optim *opt, int key, double value);
/** Set a setting for one group only (e.g. its lr or weight decay). */
SSLK_API sslk_status sslk_optim_group_set_f64(sslk_optim *opt, size_t group, int key, double value);
/** Get a group's setting (group 0 .. count-1), or the optimizer-wide value when group is SIZE_MAX. */
SSLK_API sslk_status sslk_optim_get_f64(const sslk_optim *opt, size_t group, int key, double *value);
#ifdef SSLK_EXPERIMENTAL
/** The other typed accessors of the same settings (one definition for every
 *  handle; an integer read of a real setting truncates toward zero).
 *  Experimental since 1.2. */
SSLK_API sslk_status sslk_optim_set_i64(sslk_optim *opt, int key, int64_t value);
SSLK_API sslk_status sslk_optim_group_set_i64(sslk_optim *opt, size_t group, int key, int64_t value);
SSLK_API sslk_status sslk_optim_get_i64(const sslk_optim *opt, size_t group, int key, int64_t *value);
#endif
/** Multiply every group's lr by `scale` at the next steps (a schedule's output, default 1). */
SSLK_API sslk_status sslk_optim_set_lr_scale(sslk_optim *opt, double scale);

/** One update of every registered tensor.  Before touching anything, every
 *  gradient is checked: SSLK_E_NONFINITE naming the tensor and element when
 *  one holds NaN/Inf (nothing is changed then). */
SSLK_API sslk_status sslk_optim_step(sslk_optim *opt);
/** Zero the gradients of every registered tensor. */
SSLK_API sslk_status sslk_optim_zero_grad(sslk_optim *opt);
/** Number of successful steps taken. */
SSLK_API sslk_status sslk_optim_steps(const sslk_optim *opt, uint64_t *steps);

/** Size in bytes of the optimizer state blob (kind, step count, per-tensor
 *  sizes, momentum / moment buffers). */
SSLK_API sslk_status sslk_optim_state_size(const sslk_optim *opt, size_t *nbytes);
/** Write the state blob (cap >= state size). */
SSLK_API sslk_status sslk_optim_state_get(const sslk_optim *opt, void *buf, size_t cap);
/** Restore a state blob written by an optimizer of the same kind over the
 *  same tensors (sizes checked; SSLK_E_FORMAT otherwise).  Settings are not
 *  part of the state. */
SSLK_API sslk_status sslk_optim_state_set(sslk_optim *opt, const void *buf, size_t n);

/** Learning rate at `step` (0-based): linear warm-up over warmup_steps up
 *  to base, then cosine decay from base to final, reached at total_steps:
 *    step <  warmup: base * (step + 1) / warmup
 *    otherwise:      final + (base - final) * (1 + cos(pi * t)) / 2,
 *                    t = min(1, (step - warmup) / max(1, total - warmup)). */
SSLK_API sslk_status sslk_schedule_warmup_cosine(uint64_t step, uint64_t warmup_steps,
                                                 uint64_t total_steps, double base, double final,
                                                 double *lr);

#ifdef __cplusplus
}
#endif
#endif
