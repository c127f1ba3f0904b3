/* libFuzzer target: TurboJPEG header checks and decoding at full size and at
 * a DCT-scaled size, then one augmentation pass over the decoded image.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sslk_ctx *c = fuzz_ctx();
    ssli_scratch sc;
    ssli_scratch_init(&sc, c);
    ssli_image img;
    size_t fw, fh;
    if (ssli_jpeg_decode_mem(&sc, data, size, 16, 16, 2048, 0, 1, &img, &fw, &fh, "fuzz") == SSLK_OK) {
        static sslk_augment *aug;
        if (!aug && sslk_augment_create(c, 1, &aug) == SSLK_OK) sslk_augment_set_i64(aug, 0, SSLK_AUG_SIZE, 16);
        static float out[3 * 16 * 16];
        if (aug) sslk_augment_apply(aug, 0, img.data, img.h, img.w, img.c, 1, 0, 0, out);
        ssli_jpeg_decode_mem(&sc, data, size, 1, 1, 2048, 1, 0, &img, NULL, NULL, "fuzz");
    }
    ssli_scratch_free(&sc);
    return 0;
}
