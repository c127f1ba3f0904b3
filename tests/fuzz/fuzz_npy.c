/* libFuzzer target: NPY header parsing, image conversion and label arrays.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sslk_ctx *c = fuzz_ctx();
    sslk_dataset *ds = NULL;
    if (ssli_npy_images_from_buffer(c, data, size, "fuzz", &ds) == SSLK_OK) {
        size_t n, h, w, ch;
        sslk_dataset_count(ds, &n);
        sslk_dataset_shape(ds, &h, &w, &ch);
        if (h * w * ch <= 4096) {
            uint8_t px[4096];
            sslk_dataset_read(ds, n - 1, px, sizeof px, NULL, NULL, NULL);
        }
    }
    sslk_dataset_destroy(ds);
    /* the same bytes as a label array for a small dataset */
    ssli_npy_info in;
    if (ssli_npy_parse(data, size, &in, "fuzz") == SSLK_OK && in.ndim == 1 && in.shape[0] >= 1 &&
        in.shape[0] <= 4096) {
        static uint8_t zero[4096];
        if (sslk_dataset_from_memory(c, zero, in.shape[0], 1, 1, 1, NULL, &ds) == SSLK_OK) {
            ssli_npy_labels_from_buffer(ds, data, size, "fuzz");
            sslk_dataset_destroy(ds);
        }
    }
    return 0;
}
