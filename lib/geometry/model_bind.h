/* The CPWL binder (model_bind.c): a model's layer walk as a CPWL net.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_GEOMETRY_MODEL_BIND_H
#define SSLKIT_GEOMETRY_MODEL_BIND_H

#include "geometry/cpwl.h"
#include "nn/walk.h"

typedef struct ssli_bind_opts {
    const char *fn;   /* names the caller in error messages */
    bool fold_norm;   /* fold batch-norm into a directly preceding linear / conv (SplineCam) */
    /* Per pre-activation point (walk order), nshift entries: per-unit values
     * subtracted from the point's output (an entry may be NULL); NULL: none. */
    const double *const *shift;
    size_t nshift;
} ssli_bind_opts;

/* Bind m; the op holding pre-activation point k gets op->point = k + 1
 * (net->npoints in all).  Refuses non-finite parameters and running
 * variances with var + eps <= 0. */
sslk_status ssli_cpwl_bind(const sslk_model *m, const ssli_bind_opts *o, ssli_cpwl *net);

#endif
