/* Encoder outputs of a whole dataset (eval mode, plain resize + the training
 * normalisation), in dataset order whatever the loader's batching.  Under
 * SSLK_TRAIN_ON_CORRUPT = skip an unreadable item gets the outputs of a blank
 * input (every pixel at the normalisation mean), so rows stay aligned with
 * the dataset and finite.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "train/trainer_internal.h"

sslk_status sslk_trainer_embed(sslk_trainer *tr, sslk_dataset *ds, float *out, size_t n, size_t dim,
                               int32_t *labels) {
    static const char *fn = "sslk_trainer_embed";
    SSLI_CHECK_PTR(tr, fn);
    SSLI_CHECK_PTR(ds, fn);
    SSLI_CHECK_PTR(out, fn);
    size_t cnt = 0;
    SSLI_TRY(sslk_dataset_count(ds, &cnt));
    if (n != cnt || dim != tr->de)
        return ssli_err(SSLK_E_SHAPE, "%s: out is %zu x %zu, the dataset has %zu items and the encoder %zu outputs", fn, n,
                        dim, cnt, tr->de);
    if (tr->mid_epoch)
        return ssli_err(SSLK_E_STATE, "%s: training stopped inside an epoch", fn);
    const size_t B = 256, chw = tr->in_c * tr->in_s * tr->in_s;
    sslk_augment *aug = NULL;
    sslk_loader *ld = NULL;
    float *x = ssli_malloc(tr->ctx, B, chw * sizeof(float)), *h = ssli_malloc(tr->ctx, B, dim * sizeof(float));
    int64_t *idx = ssli_malloc(tr->ctx, B, sizeof(int64_t));
    int32_t *lab = ssli_malloc(tr->ctx, B, sizeof(int32_t));
    sslk_status st = (x && h && idx && lab) ? SSLK_OK : ssli_alloc_status();
    if (st == SSLK_OK) st = ssli_train_make_augment(tr, true, &aug);
    if (st == SSLK_OK) st = sslk_loader_create(tr->ctx, ds, aug, B, &ld);
    if (st == SSLK_OK) st = sslk_loader_set_i64(ld, SSLK_LOADER_SHUFFLE, 0);
    if (st == SSLK_OK) st = sslk_loader_set_i64(ld, SSLK_LOADER_DROP_LAST, 0);
    if (st == SSLK_OK) st = sslk_loader_set_i64(ld, SSLK_LOADER_WORKERS, (int64_t)ssli_train_get(tr, SSLK_TRAIN_WORKERS));
    bool skip = ssli_train_get(tr, SSLK_TRAIN_ON_CORRUPT) == SSLK_CORRUPT_SKIP;
    uint8_t *seen = skip ? ssli_calloc(tr->ctx, n, 1) : NULL;
    if (st == SSLK_OK && skip && !seen) st = ssli_alloc_status();
    if (st == SSLK_OK && skip) st = sslk_loader_set_i64(ld, SSLK_LOADER_ON_CORRUPT, SSLK_CORRUPT_SKIP);
    if (st == SSLK_OK) st = sslk_loader_begin_epoch(ld, 0);
    size_t done = 0;
    while (st == SSLK_OK) {
        size_t rows = 0;
        float *views[1] = {x};
        st = sslk_loader_next(ld, views, lab, idx, &rows);
        if (st != SSLK_OK || rows == 0) break;
        st = sslk_model_forward(tr->enc, x, rows, h, SSLK_MODE_EVAL);
        for (size_t i = 0; i < rows && st == SSLK_OK; i++) {
            if (idx[i] < 0 || (size_t)idx[i] >= n) {
                st = ssli_err(SSLK_E_INTERNAL, "%s: loader index %lld out of range", fn, (long long)idx[i]);
                break;
            }
            memcpy(out + (size_t)idx[i] * dim, h + i * dim, dim * sizeof(float));
            if (labels) labels[idx[i]] = lab[i];
            if (seen) seen[idx[i]] = 1;
        }
        done += rows;
    }
    if (st == SSLK_OK && seen && done < n) {
        memset(x, 0, chw * sizeof(float));
        st = sslk_model_forward(tr->enc, x, 1, h, SSLK_MODE_EVAL);
        for (size_t i = 0; i < n && st == SSLK_OK; i++) {
            if (seen[i]) continue;
            memcpy(out + i * dim, h, dim * sizeof(float));
            if (labels) st = sslk_dataset_label(ds, i, &labels[i]);
            done++;
        }
    }
    ssli_free(tr->ctx, seen);
    if (st == SSLK_OK && done != n)
        st = ssli_err(SSLK_E_INTERNAL, "%s: the loader delivered %zu of %zu items", fn, done, n);
    sslk_loader_destroy(ld);
    sslk_augment_destroy(aug);
    ssli_free(tr->ctx, x);
    ssli_free(tr->ctx, h);
    ssli_free(tr->ctx, idx);
    ssli_free(tr->ctx, lab);
    return st;
}
