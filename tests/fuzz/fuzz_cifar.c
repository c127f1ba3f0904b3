/* libFuzzer target: CIFAR-10 and CIFAR-100 record parsing into a dataset.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > ((size_t)1 << 22)) return 0;
    for (int lb = 1; lb <= 2; lb++) {
        sslk_dataset *ds = NULL;
        if (ssli_cifar_parse(fuzz_ctx(), data, size, lb, "fuzz", &ds) == SSLK_OK) {
            uint8_t px[3072];
            size_t n;
            sslk_dataset_count(ds, &n);
            sslk_dataset_read(ds, n - 1, px, sizeof px, NULL, NULL, NULL);
        }
        sslk_dataset_destroy(ds);
    }
    return 0;
}
