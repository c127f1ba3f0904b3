/* Embedding a dataset with any model (the evaluation harness without a
 * training run): an unshuffled loader with the caller's recipe feeds eval-mode
 * forwards; rows land at their dataset index whatever the worker schedule.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "eval_internal.h"
#include "nn/model_internal.h"
#include "sslkit/data.h"
#include "sslkit/eval.h"

sslk_status sslk_model_embed(sslk_model *m, sslk_dataset *ds, const sslk_augment *aug, size_t batch, float *out,
                             size_t n, size_t dim, int32_t *labels, sslk_embed_progress_fn progress, void *user) {
    static const char *fn = "sslk_model_embed";
    SSLI_CHECK_PTR(m, fn);
    SSLI_CHECK_PTR(ds, fn);
    SSLI_CHECK_PTR(aug, fn);
    SSLI_CHECK_PTR(out, fn);
    size_t cnt = 0, nv = 0, in_numel = 0, out_numel = 0;
    SSLI_TRY(sslk_dataset_count(ds, &cnt));
    SSLI_TRY(sslk_augment_num_views(aug, &nv));
    SSLI_TRY(sslk_model_io_size(m, &in_numel, &out_numel));
    if (nv != 1) return ssli_err(SSLK_E_INVALID_ARG, "%s: the recipe has %zu views, embedding takes 1", fn, nv);
    if (batch == 0 || batch > 65536) return ssli_err(SSLK_E_RANGE, "%s: 'batch' = %zu outside [1, 65536]", fn, batch);
    if (n != cnt || dim != out_numel)
        return ssli_err(SSLK_E_SHAPE, "%s: out is %zu x %zu, the dataset has %zu items and the model %zu outputs", fn,
                        n, dim, cnt, out_numel);
    sslk_ctx *ctx = m->ctx;
    sslk_loader *ld = NULL;
    float *x = NULL, *h = NULL;
    int64_t *idx = NULL;
    int32_t *lab = NULL;
    sslk_status st = sslk_loader_create(ctx, ds, aug, batch, &ld);
    size_t c = 0, hh = 0, ww = 0;
    if (st == SSLK_OK) st = sslk_loader_view_shape(ld, 0, &c, &hh, &ww);
    if (st == SSLK_OK && c * hh * ww != in_numel) {
        size_t nd = 0, sh[3] = {0, 0, 0};
        sslk_model_input_shape(m, &nd, sh);
        st = ssli_err(SSLK_E_SHAPE, "%s: the recipe gives %zu x %zu x %zu inputs, the model takes %zu x %zu x %zu "
                      "(set the recipe's size and out_channels to match)", fn, c, hh, ww, sh[0], nd > 1 ? sh[1] : 1,
                      nd > 2 ? sh[2] : 1);
    }
    if (st == SSLK_OK) {
        x = ssli_malloc(ctx, batch, in_numel * sizeof(float));
        h = ssli_malloc(ctx, batch, dim * sizeof(float));
        idx = ssli_malloc(ctx, batch, sizeof(int64_t));
        lab = ssli_malloc(ctx, batch, sizeof(int32_t));
        if (!x || !h || !idx || !lab) st = ssli_alloc_status();
    }
    if (st == SSLK_OK) st = sslk_loader_set_i64(ld, SSLK_LOADER_SHUFFLE, 0);
    if (st == SSLK_OK) st = sslk_loader_set_i64(ld, SSLK_LOADER_DROP_LAST, 0);
    if (st == SSLK_OK) st = sslk_loader_begin_epoch(ld, 0);
    size_t done = 0;
    while (st == SSLK_OK) {
        size_t rows = 0;
        float *views[1] = {x};
        st = sslk_loader_next(ld, views, lab, idx, &rows);
        if (st != SSLK_OK || rows == 0) break;
        st = sslk_model_forward(m, x, rows, h, SSLK_MODE_EVAL);
        for (size_t i = 0; i < rows && st == SSLK_OK; i++) {
            if (idx[i] < 0 || (size_t)idx[i] >= n) {
                st = ssli_err(SSLK_E_INTERNAL, "%s: loader index %lld out of range", fn, (long long)idx[i]);
                break;
            }
            memcpy(out + (size_t)idx[i] * dim, h + i * dim, dim * sizeof(float));
            if (labels) labels[idx[i]] = lab[i];
        }
        done += rows;
        if (st == SSLK_OK && progress && progress(user, done, n) != 0)
            st = ssli_err(SSLK_E_CANCELLED, "%s: stopped by the progress callback after %zu of %zu items", fn, done, n);
    }
    if (st == SSLK_OK && done != n)
        st = ssli_err(SSLK_E_INTERNAL, "%s: the loader delivered %zu of %zu items", fn, done, n);
    sslk_loader_destroy(ld);
    ssli_free(ctx, x);
    ssli_free(ctx, h);
    ssli_free(ctx, idx);
    ssli_free(ctx, lab);
    return st;
}
