/* Helpers shared by the metric commands (rankme, accuracy, ensemble,
 * factors, demo): NPY loading into malloc'd buffers and JSON numbers.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_METRIC_CLI_H
#define SSLKIT_METRIC_CLI_H

#include "cli.h"

typedef struct cli_array {
    void *data;
    size_t ndim;
    size_t shape[SSLK_NPY_MAX_NDIM];
    size_t count;
} cli_array;

/* Load path converted to `as`; ndim must lie in [min_ndim, max_ndim].
 * Prints a message naming cmd and returns 1 on failure, 0 on success. */
int cli_load(const char *cmd, const char *what, const char *path, sslk_dtype as, size_t min_ndim,
             size_t max_ndim, cli_array *out);
void cli_array_free(cli_array *a);
/* Product of the shape after the first axis (the row width). */
size_t cli_row_width(const cli_array *a);

#endif
