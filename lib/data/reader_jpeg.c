/* JPEG decoding through the TurboJPEG 2.x API (libjpeg-turbo 2.1 on Debian 12):
 * read the header, pick the smallest DCT scaling factor whose output still
 * covers what the augmentation needs, decode to RGB (CMYK / YCCK through
 * ssli_cmyk_to_rgb).  EXIF orientation is ignored: pixels come in stored
 * order, as torchvision's decode_jpeg and PIL's Image.open give them by
 * default, so the same file yields the same tensor in both pipelines.
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

/* Whether the JPEG carries an Adobe APP14 segment (FF EE, "Adobe") before its
 * first scan.  Photoshop, which writes nearly every CMYK JPEG, stores CMYK
 * inverted (255 - ink) and marks the file so; libjpeg passes the stored
 * samples through, so the conversion below must know. */
static bool has_adobe_marker(const uint8_t *b, size_t n) {
    size_t i = 2;
    while (i + 4 <= n) {
        if (b[i] != 0xFF) return false;
        uint8_t m = b[i + 1];
        if (m == 0xFF) { /* fill byte */
            i++;
            continue;
        }
        if (m == 0xDA || m == 0xD9) return false; /* start of scan / end of image */
        size_t seg = ((size_t)b[i + 2] << 8) | b[i + 3];
        if (seg < 2 || i + 2 + seg > n) return false;
        if (m == 0xEE && seg >= 7 && memcmp(b + i + 4, "Adobe", 5) == 0) return true;
        i += 2 + seg;
    }
    return false;
}

/* CMYK to RGB, R = (255 - C)(255 - K) / 255 on ink values (likewise G from M,
 * B from Y), rounded to nearest; inverted (Adobe) files store 255 - ink, so
 * R = C'K'/255 on the stored values.  The rule of PIL's CMYK -> RGB
 * conversion and of the browsers' decoders. */
void ssli_cmyk_to_rgb(const uint8_t *cmyk, size_t npix, bool inverted, uint8_t *rgb) {
    for (size_t i = 0; i < npix; i++) {
        const uint8_t *p = cmyk + 4 * i;
        unsigned k = inverted ? p[3] : 255u - p[3];
        for (int c = 0; c < 3; c++) {
            unsigned v = inverted ? p[c] : 255u - p[c];
            rgb[3 * i + (size_t)c] = (uint8_t)((v * k + 127u) / 255u);
        }
    }
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
    sc->jpeg_cs = cs;
    sc->adobe = (cs == TJCS_CMYK || cs == TJCS_YCCK) && has_adobe_marker(buf, len);
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
    /* CMYK and YCCK (libjpeg turns YCCK into CMYK) decode to 4 samples per
     * pixel, then to RGB by the rule of ssli_cmyk_to_rgb. */
    bool cmyk = sc->jpeg_cs == TJCS_CMYK || sc->jpeg_cs == TJCS_YCCK;
    uint8_t *dst = sc->pix;
    int pf = TJPF_RGB;
    if (cmyk) {
        SSLI_TRY(ssli_scratch_reserve(sc->ctx, &sc->aux, &sc->aux_cap, (size_t)sw * (size_t)sh * 4, "sslk_dataset"));
        dst = sc->aux;
        pf = TJPF_CMYK;
    }
    /* LIMITSCANS: more than 500 progressive scans is a CPU bomb, never a photo. */
    int flags = TJFLAG_LIMITSCANS | (fast ? TJFLAG_FASTDCT : 0);
    tjhandle tj = (tjhandle)sc->tj;
    if (tjDecompress2(tj, buf, (unsigned long)len, dst, sw, 0, sh, pf, flags | TJFLAG_STOPONWARNING) == 0)
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
    if (tjDecompress2(tj, buf, (unsigned long)len, dst, sw, 0, sh, pf, flags) != 0) {
        const char *msg = tjGetErrorStr2(tj);
        if (tjGetErrorCode(tj) != TJERR_WARNING || strcmp(msg, first) != 0)
            return tj_fail(sc, what, "is a corrupt JPEG", msg);
    }
done:
    if (cmyk) ssli_cmyk_to_rgb(sc->aux, (size_t)sw * (size_t)sh, sc->adobe, sc->pix);
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

/* Images are told apart by their first bytes, not their names: a PNG saved
 * as .jpg is common in scraped collections. */
static sslk_status sniff(const ssli_scratch *sc, const char *path, bool *png) {
    *png = ssli_is_png(sc->file, sc->file_len);
    if (*png || (sc->file_len >= 3 && sc->file[0] == 0xFF && sc->file[1] == 0xD8 && sc->file[2] == 0xFF))
        return SSLK_OK;
    if (sc->file_len == 0) return ssli_err(SSLK_E_FORMAT, "sslk_dataset: '%s' is empty (0 bytes)", path);
    return ssli_err(SSLK_E_FORMAT, "sslk_dataset: '%s' is neither a JPEG nor a PNG (%zu bytes, starting %02x %02x)",
                    path, sc->file_len, sc->file[0], sc->file_len > 1 ? sc->file[1] : 0u);
}

static sslk_status jpg_header(const sslk_dataset *ds, ssli_scratch *sc, size_t i, size_t *h, size_t *w,
                              size_t *c) {
    char pbuf[4096];
    const char *path = ssli_folder_path(ds, i, pbuf, sizeof pbuf);
    size_t max = (size_t)ssli_dataset_setting(ds, SSLK_DATASET_MAX_FILE_MB) << 20;
    size_t side = (size_t)ssli_dataset_setting(ds, SSLK_DATASET_MAX_IMAGE_SIDE);
    SSLI_TRY(ssli_read_file_into(ds->ctx, path, max, &sc->file, &sc->file_cap, &sc->file_len, "sslk_dataset"));
    bool png = false;
    SSLI_TRY(sniff(sc, path, &png));
    if (png) SSLI_TRY(ssli_png_header(sc, sc->file, sc->file_len, side, w, h, path));
    else
        SSLI_TRY(jpeg_header(sc, sc->file, sc->file_len, side, (int)ssli_dataset_setting(ds, SSLK_DATASET_JPEG_LENIENT),
                             w, h, path));
    *c = 3;
    return SSLK_OK;
}

static sslk_status jpg_decode(const sslk_dataset *ds, ssli_scratch *sc, size_t i, size_t need_w, size_t need_h,
                              ssli_image *img) {
    char pbuf[4096];
    const char *path = ssli_folder_path(ds, i, pbuf, sizeof pbuf);
    size_t w = 0, h = 0, side = (size_t)ssli_dataset_setting(ds, SSLK_DATASET_MAX_IMAGE_SIDE);
    bool png = false;
    SSLI_TRY(sniff(sc, path, &png));
    if (png) return ssli_png_decode(sc, sc->file, sc->file_len, side, img, path);
    int lenient = (int)ssli_dataset_setting(ds, SSLK_DATASET_JPEG_LENIENT);
    SSLI_TRY(jpeg_header(sc, sc->file, sc->file_len, side, lenient, &w, &h, path));
    return jpeg_decode(sc, sc->file, sc->file_len, w, h, need_w, need_h,
                       (int)ssli_dataset_setting(ds, SSLK_DATASET_JPEG_FAST_DCT),
                       (int)ssli_dataset_setting(ds, SSLK_DATASET_DCT_SCALING), lenient, img, path);
}

const ssli_reader ssli_reader_jpeg = {jpg_header, jpg_decode, ssli_folder_close};
