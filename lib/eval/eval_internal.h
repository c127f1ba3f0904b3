/* Internal helpers of the evaluation layer (kNN and linear probe).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_EVAL_INTERNAL_H
#define SSLKIT_EVAL_INTERNAL_H

#include "core/internal.h"

extern const ssli_setting_table ssli_settings_knn;
extern const ssli_setting_table ssli_settings_probe;

/* SSLK_E_RANGE naming fn when a label is outside [0, nclasses). */
sslk_status ssli_check_labels(const int32_t *y, size_t n, size_t nclasses, const char *fn);

#endif
