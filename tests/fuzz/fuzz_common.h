/* Shared by the fuzz targets: the entry point, and one context per process
 * for the data readers.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLK_FUZZ_COMMON_H
#define SSLK_FUZZ_COMMON_H
#include <stddef.h>
#include <stdint.h>

#include "data/data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline sslk_ctx *fuzz_ctx(void) {
    static sslk_ctx *c;
    if (!c && sslk_ctx_create(&c) != SSLK_OK) return NULL;
    return c;
}
#endif
