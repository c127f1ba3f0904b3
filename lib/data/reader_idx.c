/* IDX reader (MNIST / Fashion-MNIST), plain or gzip through zlib.
 * Format: 0x00 0x00 <type> <ndim>, ndim big-endian uint32 sizes, then data.
 * Only unsigned bytes (type 0x08) hold images and labels.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "data_internal.h"

#include <stdio.h>
#include <string.h>

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

sslk_status ssli_idx_parse(sslk_ctx *ctx, const uint8_t *buf, size_t len, int ndim_min, int ndim_max,
                           size_t dims[4], int *ndim, const uint8_t **data, const char *what) {
    (void)ctx;
    static const char *fn = "ssli_idx_parse";
    if (len < 4) return ssli_err(SSLK_E_FORMAT, "%s: '%s' is too short for an IDX header (%zu bytes)", fn, what, len);
    if (buf[0] != 0 || buf[1] != 0)
        return ssli_err(SSLK_E_FORMAT, "%s: '%s' has no IDX magic (first bytes 0x%02x 0x%02x)", fn, what, buf[0],
                        buf[1]);
    if (buf[2] != 0x08)
        return ssli_err(buf[2] == 0x09 || (buf[2] >= 0x0B && buf[2] <= 0x0E) ? SSLK_E_UNSUPPORTED : SSLK_E_FORMAT,
                        "%s: '%s' has IDX element type 0x%02x; images and labels must be unsigned bytes (0x08)", fn,
                        what, buf[2]);
    int nd = buf[3];
    if (nd < ndim_min || nd > ndim_max)
        return ssli_err(SSLK_E_FORMAT, "%s: '%s' has %d dimensions, expected %d..%d", fn, what, nd, ndim_min,
                        ndim_max);
    size_t hdr = 4 + 4 * (size_t)nd;
    if (len < hdr) return ssli_err(SSLK_E_FORMAT, "%s: '%s' is truncated inside its IDX header", fn, what);
    size_t total = 1;
    for (int k = 0; k < nd; k++) {
        dims[k] = be32(buf + 4 + 4 * k);
        if (dims[k] == 0) return ssli_err(SSLK_E_FORMAT, "%s: '%s' has a zero size in dimension %d", fn, what, k);
        if (ssli_mul_overflow(total, dims[k], &total) || total > SSLI_DATA_MAX_BYTES)
            return ssli_err(SSLK_E_OVERFLOW, "%s: '%s' claims more than %zu bytes of data", fn, what,
                            SSLI_DATA_MAX_BYTES);
    }
    if (len - hdr != total)
        return ssli_err(SSLK_E_FORMAT, "%s: '%s' %s: header claims %zu data bytes, file holds %zu", fn, what,
                        len - hdr < total ? "is truncated" : "has trailing bytes", total, len - hdr);
    *ndim = nd;
    *data = buf + hdr;
    return SSLK_OK;
}

/* Read an IDX file whole.  Its size is known from the header's dims, so it is
 * checked against SSLK_CTX_MAX_FILE_BYTES before the payload is read (a 13 MB
 * gzip can claim 3 GB of zeros); the read itself is bounded by that size + 1
 * so trailing data is seen, and by the context limit while inflating. */
static sslk_status load_idx(sslk_ctx *ctx, const char *path, uint8_t **buf, size_t *len, const char *fn) {
    if (!ssli_path_exists(path)) return ssli_err(SSLK_E_NOT_FOUND, "%s: '%s' does not exist", fn, path);
    uint8_t *h = NULL;
    size_t hn = 0;
    SSLI_TRY(ssli_read_head(ctx, path, 20, 1, &h, &hn, fn));
    size_t want = 0;
    if (hn >= 4 && h[0] == 0 && h[1] == 0 && h[3] >= 1 && h[3] <= 4 && hn >= 4 + 4 * (size_t)h[3]) {
        size_t prod = 1;
        for (int k = 0; k < h[3] && prod; k++)
            if (ssli_mul_overflow(prod, be32(h + 4 + 4 * k), &prod) || prod > SSLI_DATA_MAX_BYTES) prod = 0;
        want = prod ? 4 + 4 * (size_t)h[3] + prod : 0;
    }
    ssli_free(ctx, h);
    if (want) {
        char what[600];
        snprintf(what, sizeof what, "'%s' (its IDX header claims %zu bytes)", path, want);
        SSLI_TRY(ssli_check_limit(ctx, SSLK_CTX_MAX_FILE_BYTES, want, fn, what));
    }
    /* A header that does not parse still reads a bounded amount, for the parser's message. */
    size_t max = want ? want + 1 : (size_t)1 << 20;
    return ssli_read_file(ctx, path, max, 1, buf, len, fn);
}

static bool replace_once(char *dst, size_t cap, const char *src, const char *from, const char *to) {
    const char *p = strstr(src, from);
    if (!p) return false;
    int n = snprintf(dst, cap, "%.*s%s%s", (int)(p - src), src, to, p + strlen(from));
    return n > 0 && (size_t)n < cap;
}

static char *find_in_dir(sslk_ctx *ctx, const char *dir, const char *prefix, const char *what) {
    static const char *const forms[] = {"%s-%s-idx%c-ubyte.gz", "%s-%s-idx%c-ubyte", "%s-%s.idx%c-ubyte.gz",
                                        "%s-%s.idx%c-ubyte"};
    char name[256];
    for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
        snprintf(name, sizeof name, forms[k], prefix, what, what[0] == 'i' ? '3' : '1');
        char *p = ssli_path_join(ctx, dir, name);
        if (!p) return NULL;
        if (ssli_path_exists(p)) return p;
        ssli_free(ctx, p);
    }
    return NULL;
}

sslk_status ssli_open_idx(sslk_ctx *ctx, const char *path, const char *labels_path, sslk_split split,
                          sslk_dataset **out) {
    static const char *fn = "sslk_dataset_open";
    char *img_path = NULL, *lab_path = NULL;
    if (ssli_is_dir(path)) {
        const char *prefix = split == SSLK_SPLIT_TEST ? "t10k" : "train";
        img_path = find_in_dir(ctx, path, prefix, "images");
        if (!img_path)
            return ssli_err(SSLK_E_NOT_FOUND, "%s: no %s-images-idx3-ubyte[.gz] in '%s'", fn, prefix, path);
        if (!labels_path) lab_path = find_in_dir(ctx, path, prefix, "labels");
    } else {
        img_path = ssli_strdup(ctx, path);
        if (!labels_path && img_path) {
            char cand[4096];
            if ((replace_once(cand, sizeof cand, path, "images-idx3", "labels-idx1") ||
                 replace_once(cand, sizeof cand, path, "images.idx3", "labels.idx1")) &&
                ssli_path_exists(cand))
                lab_path = ssli_strdup(ctx, cand);
        }
    }
    if (labels_path) lab_path = ssli_strdup(ctx, labels_path);
    if (!img_path || (labels_path && !lab_path)) {
        ssli_free(ctx, img_path);
        return ssli_err(SSLK_E_NOMEM, "%s: out of memory", fn);
    }

    uint8_t *buf = NULL, *lbuf = NULL;
    size_t len = 0, llen = 0, dims[4] = {0}, ldims[4] = {0};
    int nd = 0, lnd = 0;
    const uint8_t *data = NULL, *ldata = NULL;
    sslk_dataset *ds = NULL;
    sslk_status s = load_idx(ctx, img_path, &buf, &len, fn);
    if (s == SSLK_OK) s = ssli_idx_parse(ctx, buf, len, 3, 4, dims, &nd, &data, img_path);
    if (s == SSLK_OK && nd == 4 && dims[3] != 1 && dims[3] != 3)
        s = ssli_err(SSLK_E_FORMAT, "%s: '%s' has %zu channels; 1 or 3 are supported", fn, img_path, dims[3]);
    if (s == SSLK_OK && (dims[1] > SSLI_DATA_MAX_SIDE || dims[2] > SSLI_DATA_MAX_SIDE))
        s = ssli_err(SSLK_E_FORMAT, "%s: '%s' has images of %zu x %zu", fn, img_path, dims[1], dims[2]);
    if (s == SSLK_OK && lab_path) {
        s = load_idx(ctx, lab_path, &lbuf, &llen, fn);
        if (s == SSLK_OK) s = ssli_idx_parse(ctx, lbuf, llen, 1, 1, ldims, &lnd, &ldata, lab_path);
        if (s == SSLK_OK && ldims[0] != dims[0])
            s = ssli_err(SSLK_E_SHAPE, "%s: '%s' has %zu labels for %zu images in '%s'", fn, lab_path, ldims[0],
                         dims[0], img_path);
    }
    if (s == SSLK_OK)
        s = ssli_dataset_alloc_mem(ctx, SSLK_DATASET_IDX, dims[0], dims[1], dims[2], nd == 4 ? dims[3] : 1,
                                   img_path, &ds, fn);
    if (s == SSLK_OK) {
        memcpy(ds->pixels, data, dims[0] * dims[1] * dims[2] * ds->c);
        if (ldata) {
            int32_t *l = ssli_malloc(ctx, dims[0], sizeof *l);
            if (!l) s = ssli_err(ssli_alloc_status(), "%s: cannot allocate labels", fn);
            else {
                for (size_t i = 0; i < dims[0]; i++) l[i] = ldata[i];
                s = ssli_dataset_set_labels(ds, l, 256, fn);
            }
        }
    }
    ssli_free(ctx, buf);
    ssli_free(ctx, lbuf);
    ssli_free(ctx, img_path);
    ssli_free(ctx, lab_path);
    if (s != SSLK_OK) {
        sslk_dataset_destroy(ds);
        return s;
    }
    *out = ds;
    return SSLK_OK;
}
