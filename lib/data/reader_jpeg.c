/* JPEG decoding through the TurboJPEG 2.x API (libjpeg-turbo 2.1 on Debian 12):
 * read the header, pick the smallest DCT scaling factor whose output still
 * covers what the augmentation needs, decode to RGB.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "data_internal.h"

#include <string.h>
#include <turbojpeg.h>

#define MAX_PIXELS ((size_t)1 << 28)         /* header sanity bound */
#define MAX_DECODED_PIXELS ((size_t)1 << 26) /* 64 Mpx (192 MiB RGB) per decode */

static sslk_status tj_handle(ssli_scratch *sc, const char *what) {
    if (sc->tj) return SSLK_OK;
    sc->tj = tjInitDecompress();
    if (!sc->tj)
        return ssli_err(SSLK_E_NOMEM, "sslk_dataset: cannot create a TurboJPEG decompressor for '%s': %s", what,
                        tjGetErrorStr2(NULL));
    return SSLK_OK;
}

static sslk_status jpeg_header(ssli_scratch *sc, const uint8_t *buf, size_t len, size_t max_side, size_t *w,
                               size_t *h, const char *what) {
    SSLI_TRY(tj_handle(sc, what));
    if (len < 4 || len > (size_t)0x7fffffff)
        return ssli_err(SSLK_E_FORMAT, "sslk_dataset: '%s' is not a JPEG (%zu bytes)", what, len);
    int ww = 0, hh = 0, sub = 0, cs = 0;
    if (tjDecompressHeader3((tjhandle)sc->tj, buf, (unsigned long)len, &ww, &hh, &sub, &cs) != 0)
        return ssli_err(SSLK_E_FORMAT, "sslk_dataset: '%s' is not a readable JPEG: %s", what,
                        tjGetErrorStr2((tjhandle)sc->tj));
    if (ww <= 0 || hh <= 0 || (size_t)ww > max_side || (size_t)hh > max_side ||
        (size_t)ww * (size_t)hh > MAX_PIXELS)
        return ssli_err(SSLK_E_FORMAT, "sslk_dataset: '%s' claims %d x %d pixels (limit %zu per side)", what, ww, hh,
                        max_side);
    if (cs == TJCS_CMYK || cs == TJCS_YCCK)
        return ssli_err(SSLK_E_UNSUPPORTED, "sslk_dataset: '%s' is a CMYK JPEG; convert it to RGB", what);
    *w = (size_t)ww;
    *h = (size_t)hh;
    return SSLK_OK;
}

/* Smallest factor 1/1, 1/2, 1/4 or 1/8 with scaled sides >= need.  The other
 * eighths (3/8, 5/8, 3/4, 7/8) use libjpeg-turbo's generic scaled IDCTs, which
 * measured slower here than a full-size decode (1.12 vs 0.73 ms at 3/4 of a
 * 500x375 q90 JPEG), so they are skipped. */
static tjscalingfactor pick_scale(size_t w, size_t h, size_t need_w, size_t need_h) {
    tjscalingfactor best = {1, 1};
    int n = 0;
    tjscalingfactor *f = tjGetScalingFactors(&n);
    size_t best_px = w * h;
    for (int k = 0; f && k < n; k++) {
        if (f[k].num != 1 || (f[k].denom != 1 && f[k].denom != 2 && f[k].denom != 4 && f[k].denom != 8)) continue;
        size_t sw = (size_t)TJSCALED((int)w, f[k]), sh = (size_t)TJSCALED((int)h, f[k]);
        if (sw >= need_w && sh >= need_h && sw * sh < best_px) {
            best = f[k];
            best_px = sw * sh;
        }
    }
    return best;
}

static sslk_status jpeg_decode(ssli_scratch *sc, const uint8_t *buf, size_t len, size_t w, size_t h,
                               size_t need_w, size_t need_h, int fast, int dct_scaling, ssli_image *img,
                               const char *what) {
    tjscalingfactor sf = {1, 1};
    if (dct_scaling) sf = pick_scale(w, h, need_w, need_h);
    int sw = TJSCALED((int)w, sf), sh = TJSCALED((int)h, sf);
    /* A few hundred bytes can claim 16384 x 16384; bound what one decode allocates. */
    if ((size_t)sw * (size_t)sh > MAX_DECODED_PIXELS)
        return ssli_err(SSLK_E_FORMAT, "sslk_dataset: '%s' would decode to %d x %d pixels (limit %zu)", what, sw, sh,
                        MAX_DECODED_PIXELS);
    SSLI_TRY(ssli_scratch_reserve(sc->ctx, &sc->pix, &sc->pix_cap, (size_t)sw * (size_t)sh * 3, "sslk_dataset"));
    int flags = TJFLAG_LIMITSCANS | (fast ? TJFLAG_FASTDCT : 0);
    if (tjDecompress2((tjhandle)sc->tj, buf, (unsigned long)len, sc->pix, sw, 0, sh, TJPF_RGB, flags) != 0) {
        const char *msg = tjGetErrorStr2((tjhandle)sc->tj);
        /* Warnings (e.g. extraneous bytes) leave a usable image, as PIL does;
         * a premature end leaves grey rows, so it counts as corrupt. */
        if (tjGetErrorCode((tjhandle)sc->tj) != TJERR_WARNING || strstr(msg, "Premature end"))
            return ssli_err(SSLK_E_FORMAT, "sslk_dataset: '%s' is a corrupt JPEG: %s", what, msg);
    }
    img->data = sc->pix;
    img->w = (size_t)sw;
    img->h = (size_t)sh;
    img->c = 3;
    return SSLK_OK;
}

sslk_status ssli_jpeg_decode_mem(ssli_scratch *sc, const uint8_t *buf, size_t len, size_t need_w,
                                 size_t need_h, size_t max_side, int fast, int dct_scaling, ssli_image *img,
                                 size_t *full_w, size_t *full_h, const char *what) {
    size_t w = 0, h = 0;
    SSLI_TRY(jpeg_header(sc, buf, len, max_side, &w, &h, what));
    if (full_w) *full_w = w;
    if (full_h) *full_h = h;
    return jpeg_decode(sc, buf, len, w, h, need_w, need_h, fast, dct_scaling, img, what);
}

/* ---- reader table entries over the folder's file list (reader_folder.c) ---- */

static sslk_status jpg_header(const sslk_dataset *ds, ssli_scratch *sc, size_t i, size_t *h, size_t *w,
                              size_t *c) {
    char pbuf[4096];
    const char *path = ssli_folder_path(ds, i, pbuf, sizeof pbuf);
    size_t max = (size_t)ssli_dataset_setting(ds, SSLK_DATASET_MAX_FILE_MB) << 20;
    SSLI_TRY(ssli_read_file_into(ds->ctx, path, max, &sc->file, &sc->file_cap, &sc->file_len, "sslk_dataset"));
    SSLI_TRY(jpeg_header(sc, sc->file, sc->file_len, (size_t)ssli_dataset_setting(ds, SSLK_DATASET_MAX_IMAGE_SIDE), w,
                         h, path));
    *c = 3;
    return SSLK_OK;
}

static sslk_status jpg_decode(const sslk_dataset *ds, ssli_scratch *sc, size_t i, size_t need_w, size_t need_h,
                              ssli_image *img) {
    char pbuf[4096];
    const char *path = ssli_folder_path(ds, i, pbuf, sizeof pbuf);
    size_t w = 0, h = 0;
    SSLI_TRY(jpeg_header(sc, sc->file, sc->file_len, (size_t)ssli_dataset_setting(ds, SSLK_DATASET_MAX_IMAGE_SIDE),
                         &w, &h, path));
    return jpeg_decode(sc, sc->file, sc->file_len, w, h, need_w, need_h,
                       (int)ssli_dataset_setting(ds, SSLK_DATASET_JPEG_FAST_DCT),
                       (int)ssli_dataset_setting(ds, SSLK_DATASET_DCT_SCALING), img, path);
}

const ssli_reader ssli_reader_jpeg = {jpg_header, jpg_decode, ssli_folder_close};
