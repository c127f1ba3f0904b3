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

/* A fixed piece [lo, hi) of tensor `param`: the unit of parallel work of a
 * step (optim_step.c).  Boundaries depend on the tensor sizes only, never on
 * the thread count, so a step gives the same bits at every thread count. */
typedef struct ssli_optim_chunk {
    size_t param, lo, hi;
} ssli_optim_chunk;

/* Per-tensor constants of one step, computed before the parallel update. */
typedef struct ssli_optim_coef {
    float lr, mom, damp, wd, scale; /* scale: LARS trust ratio */
    float decay, b1, b2, c1, c2, step, isb2, eps; /* AdamW */
    int nesterov, first;
} ssli_optim_coef;

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
    /* step workspace, rebuilt when tensors are added (never during a step) */
    ssli_optim_chunk *chunks;
    size_t nchunks;
    double *part;          /* 2 per chunk: LARS partial sums of squares */
    ssli_optim_coef *coef; /* one per tensor */
};

/* (Re)build the chunk table and step workspace for the registered tensors. */
sslk_status ssli_optim_build_chunks(sslk_optim *opt);
void ssli_optim_free_chunks(sslk_optim *opt);

#endif
