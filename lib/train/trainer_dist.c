/* Data-parallel pieces of the training loop (issue 17).  Every rank draws
 * the same global batch order (same loader seed) and keeps a contiguous
 * slice of each batch, so P ranks see exactly the rows one process sees;
 * the losses return the gradient of the GLOBAL loss for the local rows, so
 * summing the parameter gradients over ranks gives the one-process gradient
 * (the "average" of data-parallel training is already inside the losses'
 * 1/N).  Loss-owned tensors (DIET head, MSN prototypes) come out of the loss
 * already global and are left alone.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "dist/dist_internal.h"
#include "train/trainer_dist.h"

void ssli_train_shard(size_t rows, const sslk_dist *t, size_t *lo, size_t *n) {
    if (!t) {
        *lo = 0;
        *n = rows;
        return;
    }
    const size_t W = (size_t)t->world_size, r = (size_t)t->rank;
    *lo = rows * r / W;
    *n = rows * (r + 1) / W - *lo;
}

/* Sum one bucket over the ranks and scatter it back into the gradients. */
static sslk_status flush(const sslk_dist *t, float *bucket, size_t used, sslk_param_view *views, size_t v0, size_t v1,
                         const char *fn) {
    SSLI_TRY(ssli_dist_allreduce_f32(t, bucket, used, fn));
    size_t off = 0;
    for (size_t i = v0; i < v1; i++) {
        memcpy(views[i].grad, bucket + off, views[i].count * sizeof(float));
        off += views[i].count;
    }
    return SSLK_OK;
}

static sslk_status collect(sslk_model *m, sslk_param_view **views, size_t *nv, size_t *cap, const sslk_ctx *ctx) {
    size_t cnt = 0;
    SSLI_TRY(sslk_model_param_count(m, &cnt));
    if (*nv + cnt > *cap) {
        size_t nc = *nv + cnt + 16;
        sslk_param_view *nvw = ssli_malloc(ctx, nc, sizeof *nvw);
        if (!nvw) return ssli_alloc_status();
        if (*nv) memcpy(nvw, *views, *nv * sizeof *nvw);
        ssli_free(ctx, *views);
        *views = nvw;
        *cap = nc;
    }
    for (size_t i = 0; i < cnt; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        SSLI_TRY(sslk_model_param(m, i, &v));
        if (v.grad && v.count) (*views)[(*nv)++] = v;
    }
    return SSLK_OK;
}

/* Buckets of at most SSLI_TRAIN_BUCKET floats, projector tensors first
 * (backward finishes them first), then the encoder's; a tensor larger than a
 * bucket goes alone, reduced in place.  Runs after the whole backward: the
 * table's collectives are blocking, so there is no overlap with backward. */
sslk_status ssli_train_allreduce_grads(sslk_trainer *tr, const sslk_dist *t) {
    static const char fn[] = "sslk_trainer_fit(gradient all-reduce)";
    const sslk_ctx *ctx = tr->ctx;
    sslk_param_view *views = NULL;
    size_t nv = 0, cap = 0;
    sslk_status s = collect(tr->proj, &views, &nv, &cap, ctx);
    if (s == SSLK_OK) s = collect(tr->enc, &views, &nv, &cap, ctx);
    float *bucket = s == SSLK_OK ? ssli_malloc(ctx, SSLI_TRAIN_BUCKET, sizeof(float)) : NULL;
    if (s == SSLK_OK && !bucket) s = ssli_alloc_status();
    size_t used = 0, v0 = 0;
    for (size_t i = 0; s == SSLK_OK && i < nv; i++) {
        const sslk_param_view *v = &views[i];
        if (v->count > SSLI_TRAIN_BUCKET) {
            if (used) s = flush(t, bucket, used, views, v0, i, fn);
            if (s == SSLK_OK) s = ssli_dist_allreduce_f32(t, v->grad, v->count, fn);
            used = 0;
            v0 = i + 1;
            continue;
        }
        if (used + v->count > SSLI_TRAIN_BUCKET) {
            s = flush(t, bucket, used, views, v0, i, fn);
            used = 0;
            v0 = i;
        }
        memcpy(bucket + used, v->grad, v->count * sizeof(float));
        used += v->count;
    }
    if (s == SSLK_OK && used) s = flush(t, bucket, used, views, v0, nv, fn);
    ssli_free(ctx, bucket);
    ssli_free(ctx, views);
    return s;
}

/* Rank 0 writes; every rank learns whether it worked (one broadcast), so a
 * failed write stops all ranks alike. */
sslk_status ssli_train_rank0_checkpoint(sslk_trainer *tr, const sslk_dist *t,
                                        sslk_status (*write)(sslk_trainer *tr, const ssli_ckpt_full *full,
                                                             const char *fn),
                                        const char *fn) {
    if (!t) return write(tr, NULL, fn);
    ssli_ckpt_full full = {0};
    const bool sharded = ssli_train_head_sharded(tr);
    if (sharded) SSLI_TRY(ssli_train_gather_head(tr, &full, fn));
    int32_t st = 0;
    sslk_status s = SSLK_OK;
    if (t->rank == 0) {
        s = write(tr, sharded ? &full : NULL, fn);
        st = (int32_t)s;
    }
    ssli_train_full_free(tr, &full);
    SSLI_TRY(ssli_dist_broadcast(t, &st, sizeof st, 0, fn));
    if (t->rank == 0) return s;
    if (st != 0)
        return ssli_err((sslk_status)st, "%s: rank 0 failed to write the checkpoint (%s); see rank 0's message", fn,
                        sslk_status_str((sslk_status)st));
    return SSLK_OK;
}
