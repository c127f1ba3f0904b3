/* Settings tables of the optimizers and the schedule (introspection and
 * validation; values live in each optimizer group).
 * SPDX-License-Identifier: BSD-3-Clause */
#include "nn/optim_internal.h"

static const ssli_setting_def sgd_defs[] = {
    {SSLK_SGD_LR, "lr", SSLK_SETTING_F64, 0.0, 1e6, 0.01, "learning rate"},
    {SSLK_SGD_MOMENTUM, "momentum", SSLK_SETTING_F64, 0.0, 1.0, 0.0, "momentum factor"},
    {SSLK_SGD_DAMPENING, "dampening", SSLK_SETTING_F64, 0.0, 1.0, 0.0, "dampening of the momentum"},
    {SSLK_SGD_NESTEROV, "nesterov", SSLK_SETTING_I64, 0, 1, 0, "1: Nesterov momentum"},
    {SSLK_SGD_WEIGHT_DECAY, "weight_decay", SSLK_SETTING_F64, 0.0, 1e3, 0.0,
     "L2 penalty added to the gradient"},
    {SSLK_SGD_EXCLUDE_NO_DECAY, "exclude_no_decay", SSLK_SETTING_I64, 0, 1, 0,
     "1: no weight decay on biases and batch-norm parameters"},
};
const ssli_setting_table ssli_settings_sgd = {"sgd", sgd_defs, sizeof sgd_defs / sizeof sgd_defs[0], NULL};

static const ssli_setting_def lars_defs[] = {
    {SSLK_LARS_LR, "lr", SSLK_SETTING_F64, 0.0, 1e6, 0.2, "learning rate"},
    {SSLK_LARS_MOMENTUM, "momentum", SSLK_SETTING_F64, 0.0, 1.0, 0.9, "momentum factor"},
    {SSLK_LARS_WEIGHT_DECAY, "weight_decay", SSLK_SETTING_F64, 0.0, 1e3, 1e-6,
     "L2 penalty added to the gradient before adaptation"},
    {SSLK_LARS_ETA, "eta", SSLK_SETTING_F64, 0.0, 1e3, 0.001, "trust coefficient"},
    {SSLK_LARS_EXCLUDE_NO_DECAY, "exclude_no_decay", SSLK_SETTING_I64, 0, 1, 1,
     "1: biases and batch-norm parameters get neither decay nor adaptation"},
};
const ssli_setting_table ssli_settings_lars = {"lars", lars_defs,
                                               sizeof lars_defs / sizeof lars_defs[0], NULL};

static const ssli_setting_def adamw_defs[] = {
    {SSLK_ADAMW_LR, "lr", SSLK_SETTING_F64, 0.0, 1e6, 1e-3, "learning rate"},
    {SSLK_ADAMW_BETA1, "beta1", SSLK_SETTING_F64, 0.0, 0.999999999, 0.9, "first-moment decay"},
    {SSLK_ADAMW_BETA2, "beta2", SSLK_SETTING_F64, 0.0, 0.999999999, 0.999, "second-moment decay"},
    {SSLK_ADAMW_EPS, "eps", SSLK_SETTING_F64, 0.0, 1.0, 1e-8, "denominator epsilon"},
    {SSLK_ADAMW_WEIGHT_DECAY, "weight_decay", SSLK_SETTING_F64, 0.0, 1e3, 0.01, "decoupled weight decay"},
    {SSLK_ADAMW_EXCLUDE_NO_DECAY, "exclude_no_decay", SSLK_SETTING_I64, 0, 1, 0,
     "1: no weight decay on biases and batch-norm parameters"},
};
const ssli_setting_table ssli_settings_adamw = {"adamw", adamw_defs,
                                                sizeof adamw_defs / sizeof adamw_defs[0], NULL};

static const ssli_setting_def schedule_defs[] = {
    {SSLK_SCHEDULE_WARMUP_STEPS, "warmup_steps", SSLK_SETTING_I64, 0, 1e15, 0, "linear warm-up steps"},
    {SSLK_SCHEDULE_TOTAL_STEPS, "total_steps", SSLK_SETTING_I64, 1, 1e15, 1000,
     "steps until the cosine reaches the final rate"},
    {SSLK_SCHEDULE_FINAL_RATIO, "final_ratio", SSLK_SETTING_F64, 0.0, 1.0, 0.0,
     "final learning rate as a fraction of the base"},
};
const ssli_setting_table ssli_settings_schedule = {"schedule", schedule_defs,
                                                   sizeof schedule_defs / sizeof schedule_defs[0], NULL};
