/* Optimizer internals.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_NN_OPTIM_INTERNAL_H
#define SSLKIT_NN_OPTIM_INTERNAL_H

#include "core/internal.h"
#include "sslkit/optim.h"

#define SSLI_OPTIM_MAX_SETTINGS 8

extern const ssli_setting_table ssli_settings_sgd;
extern const ssli_setting_table ssli_settings_lars;
extern const ssli_setting_table ssli_settings_adamw;
extern const ssli_setting_table ssli_settings_schedule;

typedef struct ssli_optim_param {
    sslk_param_view v;
    size_t group;
    float *s1, *s2;  /* momentum buffer (SGD, LARS) / first and second moments (AdamW) */
    uint64_t t;      /* steps applied to this tensor */
    int has_buf;     /* SGD: momentum buffer initialised */
} ssli_optim_param;

struct sslk_optim {
    sslk_ctx *ctx;
    sslk_optim_kind kind;
    const ssli_setting_table *table;
    double defaults[SSLI_OPTIM_MAX_SETTINGS];
    double (*groups)[SSLI_OPTIM_MAX_SETTINGS];
    size_t ngroups;
    ssli_optim_param *p;
    size_t np, pcap;
    double lr_scale;
    uint64_t steps;
};

#endif
