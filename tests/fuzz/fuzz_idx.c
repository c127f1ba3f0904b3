/* libFuzzer target: IDX header and size checks (ssli_idx_parse).
 * SPDX-License-Identifier: BSD-3-Clause */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t dims[4];
    int nd;
    const uint8_t *px;
    if (ssli_idx_parse(fuzz_ctx(), data, size, 1, 4, dims, &nd, &px, "fuzz") == SSLK_OK) {
        /* the claimed data must lie inside the buffer: touch its last byte */
        size_t total = 1;
        for (int k = 0; k < nd; k++) total *= dims[k];
        volatile uint8_t last = px[total - 1];
        (void)last;
    }
    return 0;
}
