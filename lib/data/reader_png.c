/* PNG decoding through libpng (classic API) for image folders, so that PNGs,
 * and PNGs named .jpg, sit beside JPEGs.  Every PNG becomes 8-bit RGB:
 * palettes and gray below 8 bits are expanded, 16-bit samples keep their high
 * byte (as PIL reads 16-bit RGB), gray is replicated to three channels and an
 * alpha channel is dropped, not composited (as PIL's convert("RGB"), which
 * torchvision's ImageFolder loader applies).  Gamma and colour chunks are
 * ignored (no colour management, as PIL and torchvision).
 * SPDX-License-Identifier: BSD-3-Clause */
#include "data_internal.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

bool ssli_is_png(const uint8_t *buf, size_t len) { return len >= 8 && memcmp(buf, png_magic, 8) == 0; }

typedef struct png_src {
    const uint8_t *buf;
    size_t len, off;
    char msg[256];
    jmp_buf jb;
} png_src;

static void on_error(png_structp png, png_const_charp msg) {
    png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg ? msg : "libpng error");
    longjmp(s->jb, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg; /* benign chunk complaints (e.g. a bad iCCP) do not stop the decode */
}

static void on_read(png_structp png, png_bytep out, size_t n) {
    png_src *s = png_get_io_ptr(png);
    if (n > s->len - s->off) png_error(png, "file truncated");
    memcpy(out, s->buf + s->off, n);
    s->off += n;
}

/* Header (decode = false) or header + pixels into sc->pix (decode = true).
 * The setjmp frame holds nothing that changes after it but libpng's own state. */
static sslk_status png_run(ssli_scratch *sc, const uint8_t *buf, size_t len, size_t max_side, bool decode,
                           ssli_image *img, size_t *full_w, size_t *full_h, const char *what) {
    png_src src;
    memset(&src, 0, sizeof src);
    src.buf = buf;
    src.len = len;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        return ssli_err(SSLK_E_NOMEM, "sslk_dataset: cannot create a PNG reader for '%s'", what);
    }
    png_bytep *volatile rows = NULL;
    sslk_status st = SSLK_OK;
    if (setjmp(src.jb)) {
        st = ssli_err(SSLK_E_FORMAT, "sslk_dataset: '%s' is a corrupt PNG: %s", what, src.msg);
        goto out;
    }
    png_set_read_fn(png, &src, on_read);
    /* A decompression bomb is refused by the size checks below; CRC errors on
     * critical chunks stay errors (libpng's default). */
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if (w == 0 || h == 0 || w > max_side || h > max_side) {
        st = ssli_err(SSLK_E_FORMAT, "sslk_dataset: '%s' claims %u x %u pixels (limit %zu per side)", what,
                      (unsigned)w, (unsigned)h, max_side);
        goto out;
    }
    char lim_what[600];
    snprintf(lim_what, sizeof lim_what, "'%s' (%u x %u from its PNG header)", what, (unsigned)w, (unsigned)h);
    st = ssli_check_limit(sc->ctx, SSLK_CTX_MAX_IMAGE_PIXELS, (uint64_t)w * h, "sslk_dataset", lim_what);
    if (st != SSLK_OK) goto out;
    if (full_w) *full_w = w;
    if (full_h) *full_h = h;
    if (!decode) goto out;
    int ct = png_get_color_type(png, info);
    png_set_expand(png); /* palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha */
    png_set_strip_16(png);
    png_set_strip_alpha(png);
    if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8) {
        st = ssli_err(SSLK_E_FORMAT, "sslk_dataset: '%s': PNG layout not reducible to 8-bit RGB", what);
        goto out;
    }
    st = ssli_scratch_reserve(sc->ctx, &sc->pix, &sc->pix_cap, (size_t)w * h * 3, "sslk_dataset");
    if (st != SSLK_OK) goto out;
    rows = ssli_malloc(sc->ctx, h, sizeof *rows);
    if (!rows) {
        st = ssli_err(ssli_alloc_status(), "sslk_dataset: out of memory decoding '%s'", what);
        goto out;
    }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = sc->pix + (size_t)y * w * 3;
    png_read_image(png, rows);
    img->data = sc->pix;
    img->w = w;
    img->h = h;
    img->c = 3;
out:
    ssli_free(sc->ctx, rows);
    png_destroy_read_struct(&png, &info, NULL);
    return st;
}

sslk_status ssli_png_header(ssli_scratch *sc, const uint8_t *buf, size_t len, size_t max_side, size_t *w, size_t *h,
                            const char *what) {
    return png_run(sc, buf, len, max_side, false, NULL, w, h, what);
}

sslk_status ssli_png_decode(ssli_scratch *sc, const uint8_t *buf, size_t len, size_t max_side, ssli_image *img,
                            const char *what) {
    return png_run(sc, buf, len, max_side, true, img, NULL, NULL, what);
}
