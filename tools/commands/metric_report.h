/* Printing an accuracy report (shared by the accuracy and demo commands).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_METRIC_REPORT_H
#define SSLKIT_METRIC_REPORT_H

#include "metric_cli.h"

typedef struct cli_report {
    sslk_accuracy_summary s;
    size_t C, G, k;
    double *class_acc, *group_acc;
    int64_t *class_count, *group_count;
    int32_t *worst, *best;
} cli_report;

/* Compute the report; k = SIZE_MAX picks min(10, present classes).
 * class_names may be NULL.  Returns the library status. */
sslk_status cli_report_compute(cli_report *r, const int32_t *pred, const int32_t *labels, size_t n, size_t C,
                               const int32_t *groups, size_t G, size_t k);
void cli_report_print(const cli_report *r, const char *const *class_names);
void cli_report_json(const cli_report *r, FILE *f);
void cli_report_free(cli_report *r);

#endif
