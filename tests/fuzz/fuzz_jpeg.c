/* libFuzzer target: TurboJPEG header checks (side and context pixel limits),
 * strict and lenient decoding at full size and at a DCT-scaled size, then one
 * augmentation pass over the decoded image.  An accepted image must not depend
 * on what the pixel buffer held before the decode (issue 12: unwritten rows
 * after a fatal error came back as the allocator's fill pattern), so each
 * accepted decode is repeated over a buffer filled with 0x00 and then 0xFF.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static sslk_status decode_checked(ssli_scratch *sc, const uint8_t *data, size_t size, size_t need, int fast,
                                  int scale, int lenient, ssli_image *img) {
    sslk_status s = ssli_jpeg_decode_mem(sc, data, size, need, need, 2048, fast, scale, lenient, img, NULL, NULL,
                                         "fuzz");
    if (s != SSLK_OK) return s;
    size_t n = img->w * img->h * img->c;
    memset(sc->pix, 0x00, sc->pix_cap);
    if (ssli_jpeg_decode_mem(sc, data, size, need, need, 2048, fast, scale, lenient, img, NULL, NULL, "fuzz") !=
        SSLK_OK)
        abort(); /* the same bytes decoded once */
    uint8_t *first = malloc(n);
    if (!first) abort();
    memcpy(first, img->data, n);
    memset(sc->pix, 0xFF, sc->pix_cap);
    if (ssli_jpeg_decode_mem(sc, data, size, need, need, 2048, fast, scale, lenient, img, NULL, NULL, "fuzz") !=
            SSLK_OK ||
        memcmp(first, img->data, n) != 0)
        abort(); /* pixels the decoder never wrote */
    free(first);
    return SSLK_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sslk_ctx *c = fuzz_ctx();
    /* 4 Mpx keeps one run's memory small and exercises the limit path */
    static int once;
    if (!once++) sslk_ctx_set_i64(c, SSLK_CTX_MAX_IMAGE_PIXELS, 1 << 22);
    ssli_scratch sc;
    ssli_scratch_init(&sc, c);
    ssli_image img;
    for (int lenient = 0; lenient <= 1; lenient++) {
        if (decode_checked(&sc, data, size, 16, 0, 1, lenient, &img) != SSLK_OK) continue;
        static sslk_augment *aug;
        if (!aug && sslk_augment_create(c, 1, &aug) == SSLK_OK) sslk_augment_set_i64(aug, 0, SSLK_AUG_SIZE, 16);
        static float out[3 * 16 * 16];
        if (aug) sslk_augment_apply(aug, 0, img.data, img.h, img.w, img.c, 1, 0, 0, out);
        decode_checked(&sc, data, size, 1, 1, 0, lenient, &img);
    }
    ssli_scratch_free(&sc);
    return 0;
}
