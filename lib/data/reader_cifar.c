/* CIFAR-10 / CIFAR-100 binary batches.  A record is the label byte(s) then
 * 3072 bytes: the red, green and blue 32 x 32 planes.  CIFAR-100 records hold
 * a coarse then a fine label; the fine one is used.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "data_internal.h"

#include <stdio.h>
#include <string.h>

#define CIFAR_SIDE 32
#define CIFAR_PIX (3 * CIFAR_SIDE * CIFAR_SIDE)

sslk_status ssli_cifar_parse(sslk_ctx *ctx, const uint8_t *buf, size_t len, int label_bytes,
                             const char *what, sslk_dataset **out) {
    static const char *fn = "sslk_dataset_open";
    size_t rec = (size_t)label_bytes + CIFAR_PIX;
    int nclass = label_bytes == 1 ? 10 : 100;
    if (len == 0 || len % rec != 0)
        return ssli_err(SSLK_E_FORMAT, "%s: '%s' holds %zu bytes, not a positive multiple of the %zu-byte %s record",
                        fn, what, len, rec, label_bytes == 1 ? "CIFAR-10" : "CIFAR-100");
    size_t n = len / rec;
    for (size_t i = 0; i < n; i++) {
        uint8_t lab = buf[i * rec + (size_t)label_bytes - 1];
        if (lab >= nclass)
            return ssli_err(SSLK_E_FORMAT, "%s: '%s' record %zu has label %u, CIFAR-%d labels are < %d", fn, what,
                            i, lab, nclass, nclass);
        if (label_bytes == 2 && buf[i * rec] >= 20)
            return ssli_err(SSLK_E_FORMAT, "%s: '%s' record %zu has coarse label %u >= 20", fn, what, i, buf[i * rec]);
    }
    sslk_dataset *ds;
    SSLI_TRY(ssli_dataset_alloc_mem(ctx, label_bytes == 1 ? SSLK_DATASET_CIFAR10 : SSLK_DATASET_CIFAR100, n,
                                    CIFAR_SIDE, CIFAR_SIDE, 3, what, &ds, fn));
    int32_t *l = ssli_malloc(ctx, n, sizeof *l);
    if (!l) {
        sslk_dataset_destroy(ds);
        return ssli_err(ssli_alloc_status(), "%s: cannot allocate labels", fn);
    }
    const size_t plane = CIFAR_SIDE * CIFAR_SIDE;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = buf + i * rec;
        l[i] = r[label_bytes - 1];
        const uint8_t *px = r + label_bytes;
        uint8_t *o = ds->pixels + i * CIFAR_PIX;
        for (size_t p = 0; p < plane; p++) { /* planar CHW -> interleaved HWC */
            o[3 * p + 0] = px[p];
            o[3 * p + 1] = px[plane + p];
            o[3 * p + 2] = px[2 * plane + p];
        }
    }
    sslk_status s = ssli_dataset_set_labels(ds, l, nclass, fn);
    if (s != SSLK_OK) {
        sslk_dataset_destroy(ds);
        return s;
    }
    *out = ds;
    return SSLK_OK;
}

/* Concatenate the files of a split; each must be a whole number of records. */
sslk_status ssli_open_cifar(sslk_ctx *ctx, sslk_dataset_kind kind, const char *path, sslk_split split,
                            sslk_dataset **out) {
    static const char *fn = "sslk_dataset_open";
    int lb = kind == SSLK_DATASET_CIFAR100 ? 2 : 1;
    size_t rec = (size_t)lb + CIFAR_PIX;
    char names[6][32];
    int nf = 0;
    if (!ssli_is_dir(path)) {
        nf = -1; /* a single file */
    } else if (kind == SSLK_DATASET_CIFAR10) {
        if (split == SSLK_SPLIT_TEST) snprintf(names[nf++], 32, "test_batch.bin");
        else
            for (int k = 1; k <= 5; k++) snprintf(names[nf++], 32, "data_batch_%d.bin", k);
    } else {
        snprintf(names[nf++], 32, "%s", split == SSLK_SPLIT_TEST ? "test.bin" : "train.bin");
    }
    int count = nf < 0 ? 1 : nf;
    uint8_t *all = NULL;
    size_t total = 0;
    sslk_status s = SSLK_OK;
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    for (int k = 0; k < count && s == SSLK_OK; k++) {
        char *p = nf < 0 ? ssli_strdup(ctx, path) : ssli_path_join(ctx, path, names[k]);
        if (!p) {
            s = ssli_err(SSLK_E_NOMEM, "%s: out of memory", fn);
            break;
        }
        if (!ssli_path_exists(p)) s = ssli_err(SSLK_E_NOT_FOUND, "%s: CIFAR file '%s' does not exist", fn, p);
        if (s == SSLK_OK) s = ssli_read_file_into(ctx, p, SSLI_DATA_MAX_BYTES, &buf, &cap, &len, fn);
        if (s == SSLK_OK && (len == 0 || len % rec != 0))
            s = ssli_err(SSLK_E_FORMAT, "%s: '%s' holds %zu bytes, not a positive multiple of the %zu-byte record",
                         fn, p, len, rec);
        ssli_free(ctx, p);
        if (s != SSLK_OK) break;
        uint8_t *na = ssli_malloc(ctx, total + len, 1);
        if (!na) {
            s = ssli_err(ssli_alloc_status(), "%s: cannot allocate %zu bytes", fn, total + len);
            break;
        }
        if (total) memcpy(na, all, total);
        memcpy(na + total, buf, len);
        ssli_free(ctx, all);
        all = na;
        total += len;
    }
    ssli_free(ctx, buf);
    if (s == SSLK_OK) s = ssli_cifar_parse(ctx, all, total, lb, path, out);
    ssli_free(ctx, all);
    return s;
}
