/* NPY image arrays (N x H x W [x C], uint8 or float in [0, 1]) with an optional
 * integer label array.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "core/npy_internal.h"
#include "data_internal.h"

#include <stdio.h>
#include <string.h>

/* The preamble and header dictionary go through the core NPY parser (one
 * parser for hostile headers); images and labels accept every plain numeric
 * dtype of either byte order, converted here. */
sslk_status ssli_npy_parse(const uint8_t *buf, size_t len, ssli_npy_info *info, const char *what) {
    static const char *fn = "sslk_dataset_open";
    memset(info, 0, sizeof *info);
    size_t prefix, hl;
    SSLI_TRY(ssli_npy_preamble(buf, len, &prefix, &hl, fn, what));
    if (hl > len - prefix)
        return ssli_err(SSLK_E_FORMAT, "%s: '%s' NPY header length %zu exceeds the file (%zu bytes)", fn, what, hl, len);
    ssli_npy_hdr h;
    SSLI_TRY(ssli_npy_parse_header_raw((const char *)buf + prefix, hl, &h, fn, what));
    if (h.ndim > sizeof info->shape / sizeof info->shape[0])
        return ssli_err(SSLK_E_UNSUPPORTED, "%s: '%s' has %zu dimensions (at most 8)", fn, what, h.ndim);
    if (h.bytes > SSLI_DATA_MAX_BYTES)
        return ssli_err(SSLK_E_OVERFLOW, "%s: '%s' NPY data would exceed %zu bytes", fn, what, SSLI_DATA_MAX_BYTES);
    info->kind = h.kind;
    info->size = (int)h.size;
    info->big = h.big;
    info->ndim = (int)h.ndim;
    memcpy(info->shape, h.shape, h.ndim * sizeof h.shape[0]);
    info->count = h.count;
    info->data_off = prefix + hl;
    if (len - info->data_off < h.bytes)
        return ssli_err(SSLK_E_FORMAT, "%s: '%s' is truncated: header claims %zu data bytes, file holds %zu", fn,
                        what, h.bytes, len - info->data_off);
    if (len - info->data_off > h.bytes)
        return ssli_err(SSLK_E_FORMAT, "%s: '%s' has %zu trailing bytes at offset %zu, after the %zu data bytes its "
                        "header claims", fn, what, len - info->data_off - h.bytes, info->data_off + h.bytes, h.bytes);
    return SSLK_OK;
}

static uint64_t load_uint(const uint8_t *p, int size, int big) {
    uint64_t v = 0;
    for (int k = 0; k < size; k++) v |= (uint64_t)p[big ? size - 1 - k : k] << (8 * k);
    return v;
}

static double load_float(const uint8_t *p, int size, int big) {
    uint64_t bits = load_uint(p, size, big);
    if (size == 4) {
        uint32_t b = (uint32_t)bits;
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

/* Images from a parsed buffer into a new dataset. */
static sslk_status npy_images(sslk_ctx *ctx, const uint8_t *buf, const ssli_npy_info *in, const char *what,
                              sslk_dataset **out) {
    static const char *fn = "sslk_dataset_open";
    if (in->ndim != 3 && in->ndim != 4)
        return ssli_err(SSLK_E_SHAPE, "%s: '%s' has %d dimensions; images need N x H x W [x C]", fn, what, in->ndim);
    size_t n = in->shape[0], h = in->shape[1], w = in->shape[2], c = in->ndim == 4 ? in->shape[3] : 1;
    if (n == 0 || h == 0 || w == 0 || h > SSLI_DATA_MAX_SIDE || w > SSLI_DATA_MAX_SIDE || (c != 1 && c != 3))
        return ssli_err(SSLK_E_SHAPE, "%s: '%s' has shape %zu x %zu x %zu x %zu; need N, H, W > 0 and C = 1 or 3", fn,
                        what, n, h, w, c);
    bool u8 = in->kind == 'u' && in->size == 1;
    bool fl = in->kind == 'f' && (in->size == 4 || in->size == 8);
    if (!u8 && !fl)
        return ssli_err(SSLK_E_DTYPE, "%s: '%s' holds %c%d; images must be uint8 or float32/64 in [0, 1]", fn, what,
                        in->kind, in->size);
    sslk_dataset *ds;
    SSLI_TRY(ssli_dataset_alloc_mem(ctx, SSLK_DATASET_NPY, n, h, w, c, what, &ds, fn));
    const uint8_t *src = buf + in->data_off;
    if (u8) memcpy(ds->pixels, src, in->count);
    else
        for (size_t k = 0; k < in->count; k++) {
            double v = load_float(src + k * (size_t)in->size, in->size, in->big);
            if (!(v >= 0.0 && v <= 1.0)) {
                sslk_dataset_destroy(ds);
                return ssli_err(v != v || v - v != 0 ? SSLK_E_NONFINITE : SSLK_E_RANGE,
                                "%s: '%s' element %zu = %g; float images must lie in [0, 1]", fn, what, k, v);
            }
            ds->pixels[k] = (uint8_t)(v * 255.0 + 0.5);
        }
    *out = ds;
    return SSLK_OK;
}

static sslk_status npy_labels(sslk_dataset *ds, const uint8_t *buf, const ssli_npy_info *in, const char *what) {
    static const char *fn = "sslk_dataset_open";
    if (in->ndim != 1 || in->shape[0] != ds->n)
        return ssli_err(SSLK_E_SHAPE, "%s: labels '%s' must have shape (%zu,), got %d dimensions of first size %zu", fn,
                        what, ds->n, in->ndim, in->ndim ? in->shape[0] : 0);
    if (in->kind != 'u' && in->kind != 'i')
        return ssli_err(SSLK_E_DTYPE, "%s: labels '%s' must be integers, got kind '%c'", fn, what, in->kind);
    int32_t *l = ssli_malloc(ds->ctx, ds->n, sizeof *l);
    if (!l) return ssli_err(ssli_alloc_status(), "%s: cannot allocate labels", fn);
    const uint8_t *src = buf + in->data_off;
    for (size_t k = 0; k < ds->n; k++) {
        uint64_t v = load_uint(src + k * (size_t)in->size, in->size, in->big);
        if (in->kind == 'i' && in->size < 8 && (v >> (8 * in->size - 1))) v = UINT64_MAX; /* negative */
        if (v > INT32_MAX) {
            ssli_free(ds->ctx, l);
            return ssli_err(SSLK_E_RANGE, "%s: labels '%s' item %zu is negative or above 2^31", fn, what, k);
        }
        l[k] = (int32_t)v;
    }
    return ssli_dataset_set_labels(ds, l, INT32_MAX, fn);
}

sslk_status ssli_npy_images_from_buffer(sslk_ctx *ctx, const uint8_t *buf, size_t len, const char *what,
                                        sslk_dataset **out) {
    ssli_npy_info in;
    SSLI_TRY(ssli_npy_parse(buf, len, &in, what));
    return npy_images(ctx, buf, &in, what, out);
}

sslk_status ssli_npy_labels_from_buffer(sslk_dataset *ds, const uint8_t *buf, size_t len, const char *what) {
    ssli_npy_info in;
    SSLI_TRY(ssli_npy_parse(buf, len, &in, what));
    return npy_labels(ds, buf, &in, what);
}

static char *first_existing(sslk_ctx *ctx, const char *dir, const char *const *names, size_t n) {
    for (size_t k = 0; k < n; k++) {
        if (!names[k]) continue;
        char *p = dir ? ssli_path_join(ctx, dir, names[k]) : ssli_strdup(ctx, names[k]);
        if (p && ssli_path_exists(p)) return p;
        ssli_free(ctx, p);
    }
    return NULL;
}

sslk_status ssli_open_npy(sslk_ctx *ctx, const char *path, const char *labels_path, sslk_split split,
                          sslk_dataset **out) {
    static const char *fn = "sslk_dataset_open";
    char *ip = NULL, *lp = NULL;
    const char *sp = split == SSLK_SPLIT_TEST ? "test" : "train";
    char a[64], b[64], c[64], d[64];
    snprintf(a, sizeof a, "%s_images.npy", sp);
    snprintf(b, sizeof b, "x_%s.npy", sp);
    snprintf(c, sizeof c, "%s_labels.npy", sp);
    snprintf(d, sizeof d, "y_%s.npy", sp);
    if (ssli_is_dir(path)) {
        const char *imgs[] = {a, b, split == SSLK_SPLIT_TRAIN ? "images.npy" : NULL};
        const char *labs[] = {c, d, split == SSLK_SPLIT_TRAIN ? "labels.npy" : NULL};
        /* pair the label file with the image naming that matched */
        for (size_t k = 0; k < 3 && !ip; k++) {
            ip = first_existing(ctx, path, &imgs[k], 1);
            if (ip && !labels_path) lp = first_existing(ctx, path, &labs[k], 1);
        }
        if (!ip) return ssli_err(SSLK_E_NOT_FOUND, "%s: no %s, %s or images.npy in '%s'", fn, a, b, path);
    } else {
        ip = ssli_strdup(ctx, path);
        if (!labels_path && ip) {
            size_t n = strlen(path);
            char cand1[4096] = "", cand2[4096] = "";
            if (n > 4 && n < 4000 && strcmp(path + n - 4, ".npy") == 0) {
                snprintf(cand1, sizeof cand1, "%.*s_labels.npy", (int)(n - 4), path);
                const char *im = strstr(path, "images");
                if (im) snprintf(cand2, sizeof cand2, "%.*slabels%s", (int)(im - path), path, im + 6);
            }
            const char *cands[] = {cand1[0] ? cand1 : NULL, cand2[0] ? cand2 : NULL};
            lp = first_existing(ctx, NULL, cands, 2);
        }
    }
    if (labels_path) lp = ssli_strdup(ctx, labels_path);
    if (!ip) return ssli_err(SSLK_E_NOMEM, "%s: out of memory", fn);

    uint8_t *buf = NULL;
    size_t len = 0;
    ssli_npy_info in;
    sslk_dataset *ds = NULL;
    sslk_status s = ssli_path_exists(ip) ? SSLK_OK : ssli_err(SSLK_E_NOT_FOUND, "%s: '%s' does not exist", fn, ip);
    if (s == SSLK_OK) s = ssli_read_file(ctx, ip, SSLI_DATA_MAX_BYTES, 0, &buf, &len, fn);
    if (s == SSLK_OK) s = ssli_npy_parse(buf, len, &in, ip);
    if (s == SSLK_OK) s = npy_images(ctx, buf, &in, ip, &ds);
    ssli_free(ctx, buf);
    buf = NULL;
    if (s == SSLK_OK && lp) {
        s = ssli_path_exists(lp) ? SSLK_OK : ssli_err(SSLK_E_NOT_FOUND, "%s: labels '%s' do not exist", fn, lp);
        if (s == SSLK_OK) s = ssli_read_file(ctx, lp, SSLI_DATA_MAX_BYTES, 0, &buf, &len, fn);
        if (s == SSLK_OK) s = ssli_npy_parse(buf, len, &in, lp);
        if (s == SSLK_OK) s = npy_labels(ds, buf, &in, lp);
        ssli_free(ctx, buf);
    }
    ssli_free(ctx, ip);
    ssli_free(ctx, lp);
    if (s != SSLK_OK) {
        sslk_dataset_destroy(ds);
        return s;
    }
    *out = ds;
    return SSLK_OK;
}
