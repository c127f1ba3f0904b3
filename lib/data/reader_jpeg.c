/* JPEG decoding through the TurboJPEG 2.x API (libjpeg-turbo 2.1 on Debian 12):
 * read the header, pick the smallest DCT scaling factor whose output still
 * covers what the augmentation needs, decode to RGB.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "data_internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <turbojpeg.h>

/* TurboJPEG 2.1 quirks this file works around:
 * - tjGetErrorCode() reports TJERR_WARNING for a fatal error that followed a
 *   warning (its warning flag is only ever set), and after a fatal error the
 *   output buffer is partly or wholly unwritten.  Strict decodes therefore use
 *   TJFLAG_STOPONWARNING; lenient ones tell a fatal error apart by its message
 *   (see jpeg_decode).
 * - A fatal error inside tjDecompressHeader3() leaves the handle mid-header,
 *   and every later header read on it fails.
 * - libjpeg keeps Huffman and quantisation tables in the handle from one
 *   image to the next, so a file that uses a table it never defines decodes
 *   differently after another file (found by fuzz_jpeg's repeat check).
 * Each file (and the second, lenient pass) therefore gets a fresh handle:
 * 0.5 us against about 700 us for a 500x375 decode. */

static sslk_status tj_handle(ssli_scratch *sc, const char *what) {
    if (sc->tj) tjDestroy((tjhandle)sc->tj);
    sc->tj = tjInitDecompress();
    if (!sc->tj)
        return ssli_err(SSLK_E_NOMEM, "sslk_dataset: cannot create a TurboJPEG decompressor for '%s': %s", what,
                        tjGetErrorStr2(NULL));
    return SSLK_OK;
}

/* Refuse with TurboJPEG's message, then drop the handle (see above). */
static sslk_status tj_fail(ssli_scratch *sc, const char *what, const char *how, const char *msg) {
    sslk_status s = ssli_err(SSLK_E_FORMAT, "sslk_dataset: '%s' %s: %s", what, how, msg);
    tjDestroy((tjhandle)sc->tj);
    sc->tj = NULL;
    return s;
}

/* libjpeg's warnings for missing entropy data ("Premature end of JPEG file",
 * "Corrupt JPEG data: premature end of data segment"): the rest of the image
 * is grey fill, so even lenient mode refuses them. */
static bool data_missing(const char *msg) {
    for (const char *p = msg; *p; p++)
        if (strncasecmp(p, "premature end", 13) == 0) return true;
    return false;
}

static sslk_status jpeg_header(ssli_scratch *sc, const uint8_t *buf, size_t len, size_t max_side, int lenient,
                               size_t *w, size_t *h, const char *what) {
    SSLI_TRY(tj_handle(sc, what));
    if (len < 4 || len > (size_t)0x7fffffff)
        return ssli_err(SSLK_E_FORMAT, "sslk_dataset: '%s' is not a JPEG (%zu bytes)", what, len);
    int ww = 0, hh = 0, sub = 0, cs = 0;
    if (tjDecompressHeader3((tjhandle)sc->tj, buf, (unsigned long)len, &ww, &hh, &sub, &cs) != 0) {
        /* A warning alone still fills the outputs; after a fatal error they stay 0. */
        const char *msg = tjGetErrorStr2((tjhandle)sc->tj);
        bool warn_only = tjGetErrorCode((tjhandle)sc->tj) == TJERR_WARNING && ww > 0 && hh > 0;
        if (!lenient || !warn_only || data_missing(msg)) return tj_fail(sc, what, "is not a readable JPEG", msg);
    }
    if (ww <= 0 || hh <= 0 || (size_t)ww > max_side || (size_t)hh > max_side)
        return ssli_err(SSLK_E_FORMAT, "sslk_dataset: '%s' claims %d x %d pixels (limit %zu per side)", what, ww, hh,
                        max_side);
    /* From the header, before anything is allocated: a few hundred bytes can
     * claim 16384 x 16384, and libjpeg holds a progressive image's whole
     * coefficient array (6 bytes per pixel at 4:4:4) whatever the DCT scale. */
    char lim_what[600];
    snprintf(lim_what, sizeof lim_what, "'%s' (%d x %d from its JPEG header)", what, ww, hh);
    SSLI_TRY(ssli_check_limit(sc->ctx, SSLK_CTX_MAX_IMAGE_PIXELS, (uint64_t)ww * (uint64_t)hh, "sslk_dataset",
                              lim_what));
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
                               size_t need_w, size_t need_h, int fast, int dct_scaling, int lenient, ssli_image *img,
                               const char *what) {
    tjscalingfactor sf = {1, 1};
    if (dct_scaling) sf = pick_scale(w, h, need_w, need_h);
    int sw = TJSCALED((int)w, sf), sh = TJSCALED((int)h, sf);
    SSLI_TRY(ssli_scratch_reserve(sc->ctx, &sc->pix, &sc->pix_cap, (size_t)sw * (size_t)sh * 3, "sslk_dataset"));
    /* LIMITSCANS: more than 500 progressive scans is a CPU bomb, never a photo. */
    int flags = TJFLAG_LIMITSCANS | (fast ? TJFLAG_FASTDCT : 0);
    tjhandle tj = (tjhandle)sc->tj;
    if (tjDecompress2(tj, buf, (unsigned long)len, sc->pix, sw, 0, sh, TJPF_RGB, flags | TJFLAG_STOPONWARNING) == 0)
        goto done;
    /* Stopped: by a fatal error, or at the first warning (code TJERR_WARNING). */
    char first[256]; /* libjpeg's JMSG_LENGTH_MAX is 200 */
    snprintf(first, sizeof first, "%s", tjGetErrorStr2(tj));
    if (!lenient || tjGetErrorCode(tj) != TJERR_WARNING || data_missing(first))
        return tj_fail(sc, what, "is a corrupt JPEG", first);
    /* Lenient: decode through the warnings.  libjpeg formats only the first
     * warning of a decode (later ones are counted, not printed), so a message
     * other than the first warning's is a fatal error, whatever the code says,
     * and the buffer may hold unwritten rows. */
    SSLI_TRY(tj_handle(sc, what)); /* no tables left over from the stopped pass */
    tj = (tjhandle)sc->tj;
    if (tjDecompress2(tj, buf, (unsigned long)len, sc->pix, sw, 0, sh, TJPF_RGB, flags) != 0) {
        const char *msg = tjGetErrorStr2(tj);
        if (tjGetErrorCode(tj) != TJERR_WARNING || strcmp(msg, first) != 0)
            return tj_fail(sc, what, "is a corrupt JPEG", msg);
    }
done:
    img->data = sc->pix;
    img->w = (size_t)sw;
    img->h = (size_t)sh;
    img->c = 3;
    return SSLK_OK;
}

sslk_status ssli_jpeg_decode_mem(ssli_scratch *sc, const uint8_t *buf, size_t len, size_t need_w,
                                 size_t need_h, size_t max_side, int fast, int dct_scaling, int lenient,
                                 ssli_image *img, size_t *full_w, size_t *full_h, const char *what) {
    size_t w = 0, h = 0;
    SSLI_TRY(jpeg_header(sc, buf, len, max_side, lenient, &w, &h, what));
    if (full_w) *full_w = w;
    if (full_h) *full_h = h;
    return jpeg_decode(sc, buf, len, w, h, need_w, need_h, fast, dct_scaling, lenient, img, what);
}

/* ---- reader table entries over the folder's file list (reader_folder.c) ---- */

static sslk_status jpg_header(const sslk_dataset *ds, ssli_scratch *sc, size_t i, size_t *h, size_t *w,
                              size_t *c) {
    char pbuf[4096];
    const char *path = ssli_folder_path(ds, i, pbuf, sizeof pbuf);
    size_t max = (size_t)ssli_dataset_setting(ds, SSLK_DATASET_MAX_FILE_MB) << 20;
    SSLI_TRY(ssli_read_file_into(ds->ctx, path, max, &sc->file, &sc->file_cap, &sc->file_len, "sslk_dataset"));
    SSLI_TRY(jpeg_header(sc, sc->file, sc->file_len, (size_t)ssli_dataset_setting(ds, SSLK_DATASET_MAX_IMAGE_SIDE),
                         (int)ssli_dataset_setting(ds, SSLK_DATASET_JPEG_LENIENT), w, h, path));
    *c = 3;
    return SSLK_OK;
}

static sslk_status jpg_decode(const sslk_dataset *ds, ssli_scratch *sc, size_t i, size_t need_w, size_t need_h,
                              ssli_image *img) {
    char pbuf[4096];
    const char *path = ssli_folder_path(ds, i, pbuf, sizeof pbuf);
    size_t w = 0, h = 0;
    int lenient = (int)ssli_dataset_setting(ds, SSLK_DATASET_JPEG_LENIENT);
    SSLI_TRY(jpeg_header(sc, sc->file, sc->file_len, (size_t)ssli_dataset_setting(ds, SSLK_DATASET_MAX_IMAGE_SIDE),
                         lenient, &w, &h, path));
    return jpeg_decode(sc, sc->file, sc->file_len, w, h, need_w, need_h,
                       (int)ssli_dataset_setting(ds, SSLK_DATASET_JPEG_FAST_DCT),
                       (int)ssli_dataset_setting(ds, SSLK_DATASET_DCT_SCALING), lenient, img, path);
}

const ssli_reader ssli_reader_jpeg = {jpg_header, jpg_decode, ssli_folder_close};
