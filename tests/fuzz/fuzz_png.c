/* libFuzzer target: PNG header and decode (libpng, setjmp error path) under
 * the side and context pixel limits; an accepted decode must not depend on
 * what the pixel buffer held before (repeated over 0x00 and 0xFF fills).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sslk_ctx *c = fuzz_ctx();
    static int once;
    if (!once++) sslk_ctx_set_i64(c, SSLK_CTX_MAX_IMAGE_PIXELS, 1 << 22);
    ssli_scratch sc;
    ssli_scratch_init(&sc, c);
    size_t w = 0, h = 0;
    ssli_image img;
    if (ssli_is_png(data, size) && ssli_png_header(&sc, data, size, 2048, &w, &h, "fuzz") == SSLK_OK &&
        ssli_png_decode(&sc, data, size, 2048, &img, "fuzz") == SSLK_OK) {
        if (img.w != w || img.h != h || img.c != 3) abort();
        size_t n = w * h * 3;
        uint8_t *first = malloc(n);
        if (!first) abort();
        memcpy(first, img.data, n);
        for (int fill = 0; fill < 2; fill++) {
            memset(sc.pix, fill ? 0xFF : 0x00, sc.pix_cap);
            if (ssli_png_decode(&sc, data, size, 2048, &img, "fuzz") != SSLK_OK || memcmp(first, img.data, n) != 0)
                abort(); /* the same bytes decode once, every pixel written */
        }
        free(first);
    }
    ssli_scratch_free(&sc);
    return 0;
}
