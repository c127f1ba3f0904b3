/* Data-parallel pieces of the training loop (issue 17).  Every rank's loader
 * keeps the global batch order (same seed) and reads, decodes and augments
 * only its contiguous rows of each batch (SSLK_LOADER_SHARD_*), so P ranks
 * see exactly the rows one process sees; the losses return the gradient of
 * the GLOBAL loss for the local rows, so summing the parameter gradients
 * over ranks gives the one-process gradient (the "average" of data-parallel
 * training is already inside the losses' 1/N).  The sum runs in buckets,
 * each handed to a communication thread as soon as the backward has
 * finished its layers (when the table allows calls from another thread).
 * Loss-owned tensors (DIET head, MSN prototypes) come out of the loss
 * already global and are left alone.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "dist/dist_internal.h"
#include "nn/walk.h"
#include "train/trainer_dist.h"

/* The training loader reads only this rank's rows of each global batch. */
sslk_status ssli_train_shard_loader(sslk_trainer *tr, const sslk_dist *t) {
    static const char fn[] = "sslk_trainer_fit";
    if (tr->ld_batch < (size_t)t->world_size)
        return ssli_err(SSLK_E_SHAPE, "%s: the global batch (%zu rows) is smaller than the %d ranks: every rank needs "
                        "a row", fn, tr->ld_batch, t->world_size);
    const int keys[2] = {SSLK_LOADER_SHARD_COUNT, SSLK_LOADER_SHARD_RANK};
    const int64_t want[2] = {t->world_size, t->rank};
    for (int i = 0; i < 2; i++) {
        int64_t v = 0;
        SSLI_TRY(sslk_loader_get_i64(tr->ld, keys[i], &v));
        if (v != want[i]) SSLI_TRY(sslk_loader_set_i64(tr->ld, keys[i], want[i])); /* unchanged: no epoch check */
    }
    return SSLK_OK;
}

sslk_status ssli_train_global_rows(sslk_trainer *tr, const sslk_dist *t, size_t local, size_t *total, bool *empty) {
    const size_t W = (size_t)t->world_size;
    size_t *counts = ssli_malloc(tr->ctx, W, sizeof *counts);
    if (!counts) return ssli_alloc_status();
    sslk_status s = ssli_dist_counts(tr->ctx, t, local, counts, total, "sslk_trainer_fit(rows per rank)");
    *empty = false;
    for (size_t r = 0; s == SSLK_OK && r < W; r++) *empty = *empty || counts[r] == 0;
    ssli_free(tr->ctx, counts);
    return s;
}

/* ---- the gradient all-reduce ---------------------------------------------
 * Layout: the trainable tensors of the projector, then of the encoder, in
 * the order their backward finishes them (last layer first; a residual
 * block's body before its shortcut), packed greedily into buckets of at most
 * SSLI_TRAIN_BUCKET floats (tests may set fewer); a tensor larger than a bucket is reduced alone,
 * in place.  Both paths hand the filler the same buckets in the same order,
 * so the overlapped and the blocking all-reduce give the same bits. */
typedef struct gs_tensor {
    float *grad;
    size_t count, bucket;
} gs_tensor;

typedef struct gs_layer {
    const void *key; /* the model layer (walk key) */
    size_t t0, t1;   /* its tensors */
} gs_layer;

typedef struct gs_bucket {
    struct ssli_grad_sync *gs;
    size_t off, count, t0, t1, pending;
    bool inplace;
    ssli_comm_op op;
} gs_bucket;

struct ssli_grad_sync {
    const sslk_ctx *ctx;
    const sslk_dist *t;
    ssli_comm *comm; /* NULL: blocking all-reduce after the backward */
    gs_tensor *ten;
    gs_layer *lay;
    gs_bucket *bk;
    size_t nten, nlay, nbk, cap_ten, cap_lay;
    size_t next, cursor; /* next bucket to hand over; where the last layer was found */
    float *flat;
    sslk_status hook_status;
};

static const char gs_fn[] = "sslk_trainer_fit(gradient all-reduce)";
static size_t g_bucket_floats = SSLI_TRAIN_BUCKET;

void ssli_train_set_bucket(size_t floats) { g_bucket_floats = floats ? floats : SSLI_TRAIN_BUCKET; }

static sslk_status gs_grow(ssli_grad_sync *gs) {
    if (gs->nten == gs->cap_ten) {
        size_t nc = gs->cap_ten ? 2 * gs->cap_ten : 64;
        gs_tensor *n = ssli_malloc(gs->ctx, nc, sizeof *n);
        if (!n) return ssli_alloc_status();
        if (gs->nten) memcpy(n, gs->ten, gs->nten * sizeof *n);
        ssli_free(gs->ctx, gs->ten);
        gs->ten = n;
        gs->cap_ten = nc;
    }
    if (gs->nlay == gs->cap_lay) {
        size_t nc = gs->cap_lay ? 2 * gs->cap_lay : 32;
        gs_layer *n = ssli_malloc(gs->ctx, nc, sizeof *n);
        if (!n) return ssli_alloc_status();
        if (gs->nlay) memcpy(n, gs->lay, gs->nlay * sizeof *n);
        ssli_free(gs->ctx, gs->lay);
        gs->lay = n;
        gs->cap_lay = nc;
    }
    return SSLK_OK;
}

/* Append the tensor whose data is `data` (the model's trainable view of it). */
static sslk_status gs_add_tensor(ssli_grad_sync *gs, sslk_param_view *views, size_t nv, const float *data) {
    for (size_t i = 0; data && i < nv; i++)
        if (views[i].data == data && views[i].grad && views[i].count) {
            SSLI_TRY(gs_grow(gs));
            gs->ten[gs->nten++] = (gs_tensor){views[i].grad, views[i].count, 0};
            views[i].grad = NULL; /* taken */
            return SSLK_OK;
        }
    return SSLK_OK;
}

/* Layers of w in backward order (last first; body, then shortcut). */
static sslk_status gs_walk(ssli_grad_sync *gs, ssli_walk w, sslk_param_view *views, size_t nv) {
    for (size_t i = ssli_walk_count(w); i-- > 0;) {
        ssli_walk_layer d;
        ssli_walk_get(w, i, &d);
        if (d.op == SSLI_WALK_ADD) {
            SSLI_TRY(gs_walk(gs, d.body, views, nv));
            if (!d.identity) SSLI_TRY(gs_walk(gs, d.shortcut, views, nv));
            continue;
        }
        if (!d.weight && !d.bias) continue;
        SSLI_TRY(gs_grow(gs));
        const size_t t0 = gs->nten;
        SSLI_TRY(gs_add_tensor(gs, views, nv, d.weight));
        SSLI_TRY(gs_add_tensor(gs, views, nv, d.bias));
        if (gs->nten > t0) gs->lay[gs->nlay++] = (gs_layer){d.key, t0, gs->nten};
    }
    return SSLK_OK;
}

static sslk_status gs_model(ssli_grad_sync *gs, sslk_model *m) {
    size_t cnt = 0;
    SSLI_TRY(sslk_model_param_count(m, &cnt));
    sslk_param_view *views = ssli_malloc(gs->ctx, cnt ? cnt : 1, sizeof *views);
    if (!views) return ssli_alloc_status();
    sslk_status s = SSLK_OK;
    for (size_t i = 0; s == SSLK_OK && i < cnt; i++) {
        views[i] = (sslk_param_view){.struct_size = sizeof views[i]};
        s = sslk_model_param(m, i, &views[i]);
    }
    if (s == SSLK_OK) s = gs_walk(gs, ssli_model_walk(m), views, cnt);
    /* a trainable tensor the walk did not name (none today): reduced after the backward */
    for (size_t i = 0; s == SSLK_OK && i < cnt; i++)
        if (views[i].grad && views[i].count && (s = gs_grow(gs)) == SSLK_OK)
            gs->ten[gs->nten++] = (gs_tensor){views[i].grad, views[i].count, 0};
    ssli_free(gs->ctx, views);
    return s;
}

static sslk_status gs_layout(ssli_grad_sync *gs, sslk_trainer *tr) {
    const size_t cap = g_bucket_floats;
    SSLI_TRY(gs_model(gs, tr->proj));
    SSLI_TRY(gs_model(gs, tr->enc));
    gs->bk = ssli_calloc(gs->ctx, gs->nten ? gs->nten : 1, sizeof *gs->bk);
    if (!gs->bk) return ssli_alloc_status();
    size_t flat = 0;
    for (size_t i = 0; i < gs->nten; i++) {
        gs_tensor *x = &gs->ten[i];
        gs_bucket *b = gs->nbk ? &gs->bk[gs->nbk - 1] : NULL;
        if (x->count > cap) {
            b = &gs->bk[gs->nbk++];
            *b = (gs_bucket){.gs = gs, .off = 0, .count = x->count, .t0 = i, .t1 = i + 1, .inplace = true};
        } else if (!b || b->inplace || b->count + x->count > cap) {
            b = &gs->bk[gs->nbk++];
            *b = (gs_bucket){.gs = gs, .off = flat, .count = x->count, .t0 = i, .t1 = i + 1};
            flat += x->count;
        } else {
            b->count += x->count;
            b->t1 = i + 1;
            flat += x->count;
        }
        x->bucket = (size_t)(b - gs->bk);
    }
    gs->flat = ssli_malloc(gs->ctx, flat ? flat : 1, sizeof(float));
    return gs->flat ? SSLK_OK : ssli_alloc_status();
}

sslk_status ssli_grad_sync_create(sslk_trainer *tr, const sslk_dist *t, ssli_grad_sync **out) {
    *out = NULL;
    ssli_grad_sync *gs = ssli_calloc(tr->ctx, 1, sizeof *gs);
    if (!gs) return ssli_alloc_status();
    gs->ctx = tr->ctx;
    gs->t = t;
    sslk_status s = gs_layout(gs, tr);
    if (s == SSLK_OK && t->any_thread) s = ssli_comm_start(t, &gs->comm);
    if (s != SSLK_OK) {
        ssli_grad_sync_destroy(gs);
        return s;
    }
    *out = gs;
    return SSLK_OK;
}

void ssli_grad_sync_destroy(ssli_grad_sync *gs) {
    if (!gs) return;
    ssli_comm_stop(gs->comm);
    ssli_free(gs->ctx, gs->flat);
    ssli_free(gs->ctx, gs->bk);
    ssli_free(gs->ctx, gs->lay);
    ssli_free(gs->ctx, gs->ten);
    ssli_free(gs->ctx, gs);
}

/* On the executing thread, after the bucket's all-reduce: back into the gradients. */
static void gs_scatter(void *arg) {
    const gs_bucket *b = arg;
    const ssli_grad_sync *gs = b->gs;
    const float *src = gs->flat + b->off;
    for (size_t i = b->t0; i < b->t1; i++) {
        memcpy(gs->ten[i].grad, src, gs->ten[i].count * sizeof(float));
        src += gs->ten[i].count;
    }
}

/* Hand bucket k over (to the communication thread), or reduce it now. */
static sslk_status gs_submit(ssli_grad_sync *gs, size_t k) {
    gs_bucket *b = &gs->bk[k];
    float *buf = b->inplace ? gs->ten[b->t0].grad : gs->flat + b->off;
    if (!b->inplace) {
        float *dst = buf;
        for (size_t i = b->t0; i < b->t1; i++) {
            memcpy(dst, gs->ten[i].grad, gs->ten[i].count * sizeof(float));
            dst += gs->ten[i].count;
        }
    }
    if (!gs->comm) {
        SSLI_TRY(ssli_dist_allreduce_f32(gs->t, buf, b->count, gs_fn));
        if (!b->inplace) gs_scatter(b);
        return SSLK_OK;
    }
    b->op = (ssli_comm_op){.kind = SSLI_COMM_ALLREDUCE_F32, .buf = buf, .count = b->count, .fn = gs_fn,
                           .after = b->inplace ? NULL : gs_scatter, .arg = b};
    ssli_comm_submit(gs->comm, &b->op);
    return SSLK_OK;
}

/* The backward has finished layer `key`: hand over every bucket now complete,
 * in bucket order (the same order on every rank). */
static sslk_status gs_ready(void *user, const void *key) {
    ssli_grad_sync *gs = user;
    const gs_layer *L = NULL;
    for (size_t k = 0; k < gs->nlay && !L; k++) { /* usually the next one */
        size_t j = (gs->cursor + k) % gs->nlay;
        if (gs->lay[j].key == key) {
            L = &gs->lay[j];
            gs->cursor = j + 1;
        }
    }
    if (!L) return SSLK_OK; /* a layer without trainable tensors in the layout */
    for (size_t i = L->t0; i < L->t1; i++) gs->bk[gs->ten[i].bucket].pending--;
    while (gs->next < gs->nbk && gs->bk[gs->next].pending == 0) SSLI_TRY(gs_submit(gs, gs->next++));
    return SSLK_OK;
}

sslk_status ssli_train_backward_sync(sslk_trainer *tr, ssli_grad_sync *gs, float *gz) {
    if (!gs) {
        SSLI_TRY(sslk_model_backward(tr->proj, gz, tr->gh));
        return sslk_model_backward(tr->enc, tr->gh, NULL);
    }
    for (size_t k = 0; k < gs->nbk; k++) gs->bk[k].pending = gs->bk[k].t1 - gs->bk[k].t0;
    gs->next = gs->cursor = 0;
    if (gs->comm) {
        ssli_model_set_grad_ready(tr->proj, gs_ready, gs);
        ssli_model_set_grad_ready(tr->enc, gs_ready, gs);
        ssli_comm_route(gs->comm); /* SyncBN's backward all-reduces join the queue in order */
    }
    sslk_status s = sslk_model_backward(tr->proj, gz, tr->gh);
    if (s == SSLK_OK) s = sslk_model_backward(tr->enc, tr->gh, NULL);
    if (gs->comm) {
        ssli_model_set_grad_ready(tr->proj, NULL, NULL);
        ssli_model_set_grad_ready(tr->enc, NULL, NULL);
    }
    /* the rest (all of it without the thread), then wait: the optimizer reads the sums */
    while (s == SSLK_OK && gs->next < gs->nbk) s = gs_submit(gs, gs->next++);
    if (gs->comm) {
        ssli_comm_route(NULL);
        sslk_status w = ssli_comm_wait_all(gs->comm);
        if (s == SSLK_OK) s = w;
    }
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
