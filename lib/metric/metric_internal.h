/* Internal helpers shared by the metric files.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_METRIC_INTERNAL_H
#define SSLKIT_METRIC_INTERNAL_H

#include "core/internal.h"
#include "sslkit/metrics.h"

extern const ssli_setting_table ssli_settings_rankme;

/* Entry of a class ranking: accuracy and class id. */
typedef struct ssli_class_acc {
    double acc;
    int32_t id;
} ssli_class_acc;

/* Class-level summary from per-class sample and correct counts. */
typedef struct ssli_class_stats {
    double balanced;     /* mean accuracy over present classes */
    double worst_k, best_k;
    double worst_pooled; /* correct / count pooled over the worst-k classes */
} ssli_class_stats;

/* Fill st from count/correct (C classes).  fixed_worst/fixed_best (k ids,
 * validated by the caller) override the selection.  worst_ids/best_ids
 * (k entries, may be NULL) receive the sets used.  scratch holds C entries.
 * k must not exceed the number of present classes (checked by callers). */
void ssli_class_stats_compute(const int64_t *count, const int64_t *correct, size_t C, size_t k,
                              const int32_t *fixed_worst, const int32_t *fixed_best, int32_t *worst_ids,
                              int32_t *best_ids, ssli_class_acc *scratch, ssli_class_stats *st);

/* Number of classes with count > 0. */
size_t ssli_present_classes(const int64_t *count, size_t C);

/* Check that every v[i] lies in [0, hi); message names fn and arg. */
sslk_status ssli_check_ids(const int32_t *v, size_t n, size_t hi, const char *fn, const char *arg);

/* Row argmax with ties to the lowest index (double and float). */
static inline int32_t ssli_argmax_d(const double *x, size_t c) {
    size_t b = 0;
    for (size_t j = 1; j < c; j++)
        if (x[j] > x[b]) b = j;
    return (int32_t)b;
}
static inline int32_t ssli_argmax_f(const float *x, size_t c) {
    size_t b = 0;
    for (size_t j = 1; j < c; j++)
        if (x[j] > x[b]) b = j;
    return (int32_t)b;
}

/* ImageNet-X JSON lines in memory (imagenet_x.c; path names the source in
 * messages): what sslk_imagenet_x_load does after reading the file. */
sslk_status ssli_imagenet_x_parse(sslk_ctx *ctx, const uint8_t *buf, size_t len, const char *path, int variant,
                                  sslk_imagenet_x **out);

#endif
