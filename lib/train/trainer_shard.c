/* DIET's head across ranks in checkpoints (issue 17).  With a collectives
 * table the DIET loss holds only this rank's rows of head.weight (datum
 * shard, lib/loss/dist_diet.c), and the optimizer's state for it likewise.
 * Checkpoints always hold the one-process layout: on save the shards (data
 * and the optimizer's arrays) are assembled on rank 0 with one broadcast per
 * rank and array, so other ranks never hold more than their shard; on load
 * each rank keeps its rows.  So a DIET checkpoint resumes on any number of
 * ranks, one process included.
 *
 * Optimizer state blob (lib/nn/optim_state.c): 32-byte header (magic, kind,
 * ntensors, steps), 24 bytes per tensor (count, t, has_buf), then per tensor
 * its arrays (1 for SGD/LARS, 2 for AdamW) of count floats.  The head is the
 * optimizer's last tensor (group 1, added after the networks).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "loss/loss_dist.h"
#include "train/trainer_dist.h"

static uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Layout of a blob whose last tensor has `last` floats: bytes before the
 * last tensor's arrays, and the number of arrays per tensor. */
static sslk_status blob_layout(const unsigned char *b, size_t n, uint64_t last, size_t *prefix, size_t *arrays,
                               const char *fn) {
    if (n < 32) return ssli_err(SSLK_E_FORMAT, "%s: optimizer state of %zu bytes", fn, n);
    uint64_t np = get64(b + 16);
    if (np == 0 || np > (n - 32) / 24) return ssli_err(SSLK_E_FORMAT, "%s: optimizer state with %llu tensors", fn,
                                                        (unsigned long long)np);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < np; i++) sum += get64(b + 32 + 24 * i);
    if (get64(b + 32 + 24 * (np - 1)) != last)
        return ssli_err(SSLK_E_FORMAT, "%s: the optimizer's last tensor has %llu values, the DIET head %llu", fn,
                        (unsigned long long)get64(b + 32 + 24 * (np - 1)), (unsigned long long)last);
    size_t body = n - 32 - 24 * (size_t)np;
    size_t a = sum ? body / ((size_t)sum * sizeof(float)) : 0;
    if ((a != 1 && a != 2) || a * (size_t)sum * sizeof(float) != body)
        return ssli_err(SSLK_E_FORMAT, "%s: optimizer state body of %zu bytes for %llu values", fn, body,
                        (unsigned long long)sum);
    *arrays = a;
    *prefix = n - a * (size_t)last * sizeof(float);
    return SSLK_OK;
}

bool ssli_train_head_sharded(const sslk_trainer *tr) {
    return tr->loss && tr->md->loss == SSLK_LOSS_DIET && ssli_dist(tr->ctx) != NULL;
}

/* Rank r's shard (counts[r] floats, at src on rank r) into dst + off on rank 0. */
static sslk_status to_root(const sslk_dist *t, float *scratch, const float *src, size_t cnt, float *dst, int r,
                           const char *fn) {
    float *buf = t->rank == 0 ? dst : scratch;
    if (t->rank == r && buf != src) memcpy(buf, src, cnt * sizeof(float));
    return ssli_dist_broadcast(t, buf, cnt * sizeof(float), r, fn);
}

sslk_status ssli_train_gather_head(sslk_trainer *tr, ssli_ckpt_full *full, const char *fn) {
    const sslk_dist *t = ssli_dist(tr->ctx);
    const sslk_ctx *ctx = tr->ctx;
    memset(full, 0, sizeof *full);
    sslk_param_view v = {.struct_size = sizeof v};
    SSLI_TRY(sslk_loss_param(tr->loss, 0, &v));
    const size_t W = (size_t)t->world_size;
    size_t *counts = ssli_malloc(ctx, W, sizeof(size_t)), total = 0, ob = 0, prefix = 0, arrays = 0, mx = 0;
    unsigned char *mine = NULL;
    float *scratch = NULL;
    sslk_status s = counts ? ssli_dist_counts(ctx, t, v.count, counts, &total, fn) : ssli_alloc_status();
    if (s == SSLK_OK) s = sslk_optim_state_size(tr->opt, &ob);
    if (s == SSLK_OK && !(mine = ssli_malloc(ctx, ob, 1))) s = ssli_alloc_status();
    if (s == SSLK_OK) s = sslk_optim_state_get(tr->opt, mine, ob);
    if (s == SSLK_OK) s = blob_layout(mine, ob, v.count, &prefix, &arrays, fn);
    for (size_t r = 0; s == SSLK_OK && r < W; r++) mx = counts[r] > mx ? counts[r] : mx;
    if (s == SSLK_OK && t->rank == 0) {
        full->head = ssli_malloc(ctx, total, sizeof(float));
        full->blob_len = prefix + arrays * total * sizeof(float);
        full->blob = ssli_malloc(ctx, full->blob_len, 1);
        if (!full->head || !full->blob) s = ssli_alloc_status();
        full->head_count = total;
    } else if (s == SSLK_OK && !(scratch = ssli_malloc(ctx, mx, sizeof(float)))) {
        s = ssli_alloc_status();
    }
    if (s == SSLK_OK && t->rank == 0) {
        memcpy(full->blob, mine, prefix);
        put64(full->blob + 32 + 24 * (get64(mine + 16) - 1), total);
    }
    /* the head, then each optimizer array, shard by shard in rank order */
    for (size_t a = 0; a <= arrays && s == SSLK_OK; a++) {
        const float *src = a == 0 ? v.data : (const float *)(void *)(mine + prefix + (a - 1) * v.count * sizeof(float));
        size_t off = 0;
        for (size_t r = 0; r < W && s == SSLK_OK; r++) {
            float *dst = NULL;
            if (t->rank == 0)
                dst = a == 0 ? full->head + off
                             : (float *)(void *)(full->blob + prefix + ((a - 1) * total + off) * sizeof(float));
            s = to_root(t, scratch, src, counts[r], dst, (int)r, fn);
            off += counts[r];
        }
    }
    ssli_free(ctx, counts);
    ssli_free(ctx, mine);
    ssli_free(ctx, scratch);
    if (s != SSLK_OK) ssli_train_full_free(tr, full);
    return s;
}

void ssli_train_full_free(const sslk_trainer *tr, ssli_ckpt_full *full) {
    ssli_free(tr->ctx, full->head);
    ssli_free(tr->ctx, full->blob);
    memset(full, 0, sizeof *full);
}

sslk_status ssli_train_slice_head(sslk_trainer *tr, const float *head, size_t count, const unsigned char *blob,
                                  size_t len, const char *fn) {
    const sslk_dist *t = ssli_dist(tr->ctx);
    sslk_param_view v = {.struct_size = sizeof v};
    SSLI_TRY(sslk_loss_param(tr->loss, 0, &v));
    const size_t K = v.ndim == 2 ? v.shape[1] : 0;
    if (K == 0 || count % K != 0)
        return ssli_err(SSLK_E_FORMAT, "%s: DIET head of %zu values in the file is not a multiple of K = %zu", fn,
                        count, K);
    size_t lo, hi;
    ssli_loss_dist_shard(count / K, t->rank, t->world_size, &lo, &hi);
    if ((hi - lo) * K != v.count)
        return ssli_err(SSLK_E_FORMAT, "%s: DIET head of %zu rows in the file, this rank holds %zu of another size",
                        fn, count / K, v.count / K);
    memcpy(v.data, head + lo * K, v.count * sizeof(float));
    size_t prefix, arrays;
    SSLI_TRY(blob_layout(blob, len, count, &prefix, &arrays, fn));
    size_t n = prefix + arrays * v.count * sizeof(float);
    unsigned char *b = ssli_malloc(tr->ctx, n, 1);
    if (!b) return ssli_alloc_status();
    memcpy(b, blob, prefix);
    put64(b + 32 + 24 * (get64(blob + 16) - 1), v.count);
    for (size_t a = 0; a < arrays; a++)
        memcpy(b + prefix + a * v.count * sizeof(float), blob + prefix + (a * count + lo * K) * sizeof(float),
               v.count * sizeof(float));
    sslk_status s = sslk_optim_state_set(tr->opt, b, n);
    ssli_free(tr->ctx, b);
    return s;
}
