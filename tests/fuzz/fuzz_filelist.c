/* libFuzzer target: the JPEG folder's file-list cache parser (root "/data").
 * SPDX-License-Identifier: BSD-3-Clause */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t n = 0;
    ssli_folder_cache_parse(fuzz_ctx(), "/data", data, size, &n);
    return 0;
}
