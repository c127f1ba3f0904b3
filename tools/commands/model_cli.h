/* Pieces of `sslkit model` shared between its files.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_TOOLS_MODEL_CLI_H
#define SSLKIT_TOOLS_MODEL_CLI_H

#include "sslkit/sslkit.h"

/* Print spec, shapes, the layer table with totals and every tensor: 0, or 1 after a library error. */
int model_print_info(const char *cmd, sslk_model *m);

#endif
