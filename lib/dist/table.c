/* The context's collectives table: set/get, the filler's error sentence and
 * the checked wrappers the layers call (dist_internal.h).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>

#include "dist_internal.h"

/* struct_size of the first release of sslk_dist (experimental: may move). */
#define SSLI_DIST_MIN_SIZE sizeof(sslk_dist)

static _Thread_local char tl_dist_msg[256];

void sslk_dist_set_error(const char *msg) {
    if (!msg) {
        tl_dist_msg[0] = '\0';
        return;
    }
    snprintf(tl_dist_msg, sizeof tl_dist_msg, "%s", msg);
}

sslk_status sslk_ctx_set_dist(sslk_ctx *ctx, const sslk_dist *table) {
    const char *fn = "sslk_ctx_set_dist";
    SSLI_CHECK_PTR(ctx, fn);
    if (!table) {
        memset(&ctx->dist, 0, sizeof ctx->dist);
        return SSLK_OK;
    }
    sslk_dist in = {0};
    SSLI_TRY(ssli_struct_in(&in, sizeof in, table, SSLI_DIST_MIN_SIZE, fn, "table"));
    if (in.world_size < 1)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'table->world_size' = %d, must be >= 1", fn, in.world_size);
    if (in.rank < 0 || in.rank >= in.world_size)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'table->rank' = %d, must be in [0, %d)", fn, in.rank,
                        in.world_size);
    const char *missing = !in.allgatherv_f32      ? "allgatherv_f32"
                          : !in.allgatherv_f64    ? "allgatherv_f64"
                          : !in.allreduce_sum_f32 ? "allreduce_sum_f32"
                          : !in.allreduce_sum_f64 ? "allreduce_sum_f64"
                          : !in.broadcast         ? "broadcast"
                          : !in.barrier           ? "barrier"
                                                  : NULL;
    if (missing) return ssli_err(SSLK_E_INVALID_ARG, "%s: 'table->%s' is NULL (every collective is required)", fn, missing);
    ctx->dist = in;
    return SSLK_OK;
}

sslk_status sslk_ctx_get_dist(const sslk_ctx *ctx, sslk_dist *out) {
    const char *fn = "sslk_ctx_get_dist";
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_TRY(ssli_struct_check(out, SSLI_DIST_MIN_SIZE, fn, "out"));
    sslk_dist t = ctx->dist;
    if (t.world_size == 0) {
        memset(&t, 0, sizeof t);
        t.world_size = 1;
    }
    t.struct_size = sizeof t;
    ssli_struct_out(out, &t, sizeof t);
    return SSLK_OK;
}

const sslk_dist *ssli_dist(const sslk_ctx *ctx) {
    return ctx && ctx->dist.world_size > 1 ? &ctx->dist : NULL;
}

static sslk_status dist_fail(const sslk_dist *t, int rc, const char *what, const char *fn) {
    sslk_status s = tl_dist_msg[0]
                        ? ssli_err(SSLK_E_DIST, "%s: collective %s failed on rank %d of %d (code %d): %s", fn, what,
                                   t->rank, t->world_size, rc, tl_dist_msg)
                        : ssli_err(SSLK_E_DIST, "%s: collective %s failed on rank %d of %d (code %d)", fn, what,
                                   t->rank, t->world_size, rc);
    tl_dist_msg[0] = '\0';
    return s;
}

#define SSLI_DIST_CALL(t, what, fn, call)                                                             \
    do {                                                                                              \
        tl_dist_msg[0] = '\0';                                                                        \
        int rc_ = (call);                                                                             \
        if (rc_ != 0) return dist_fail(t, rc_, what, fn);                                             \
    } while (0)

sslk_status ssli_dist_allreduce_f64(const sslk_dist *t, double *buf, size_t count, const char *fn) {
    SSLI_DIST_CALL(t, "allreduce_sum_f64", fn, t->allreduce_sum_f64(t->user, buf, count));
    return SSLK_OK;
}

sslk_status ssli_dist_allreduce_f32(const sslk_dist *t, float *buf, size_t count, const char *fn) {
    SSLI_DIST_CALL(t, "allreduce_sum_f32", fn, t->allreduce_sum_f32(t->user, buf, count));
    return SSLK_OK;
}

sslk_status ssli_dist_allgatherv_f32(const sslk_dist *t, const float *send, size_t count, float *recv,
                                     const size_t *counts, const char *fn) {
    SSLI_DIST_CALL(t, "allgatherv_f32", fn, t->allgatherv_f32(t->user, send, count, recv, counts));
    return SSLK_OK;
}

sslk_status ssli_dist_allgatherv_f64(const sslk_dist *t, const double *send, size_t count, double *recv,
                                     const size_t *counts, const char *fn) {
    SSLI_DIST_CALL(t, "allgatherv_f64", fn, t->allgatherv_f64(t->user, send, count, recv, counts));
    return SSLK_OK;
}

sslk_status ssli_dist_broadcast(const sslk_dist *t, void *buf, size_t bytes, int root, const char *fn) {
    SSLI_DIST_CALL(t, "broadcast", fn, t->broadcast(t->user, buf, bytes, root));
    return SSLK_OK;
}

sslk_status ssli_dist_counts(const sslk_ctx *ctx, const sslk_dist *t, size_t local, size_t *counts, size_t *total,
                             const char *fn) {
    size_t W = (size_t)t->world_size;
    double *all = ssli_malloc(ctx, W + 1, sizeof(double));
    size_t *ones = ssli_malloc(ctx, W, sizeof(size_t));
    sslk_status s = all && ones ? SSLK_OK : ssli_alloc_status();
    if (s == SSLK_OK) {
        double mine = (double)local;
        for (size_t r = 0; r < W; r++) ones[r] = 1;
        s = ssli_dist_allgatherv_f64(t, &mine, 1, all, ones, fn);
    }
    size_t sum = 0;
    for (size_t r = 0; s == SSLK_OK && r < W; r++) {
        if (!(all[r] >= 0 && all[r] <= 9007199254740992.0))
            s = ssli_err(SSLK_E_DIST, "%s: rank %zu reported %g rows", fn, r, all[r]);
        else {
            counts[r] = (size_t)all[r];
            sum += counts[r];
        }
    }
    ssli_free(ctx, all);
    ssli_free(ctx, ones);
    if (s == SSLK_OK) *total = sum;
    return s;
}

sslk_status ssli_dist_allgatherv_i64(const sslk_ctx *ctx, const sslk_dist *t, const int64_t *send, size_t count,
                                     int64_t *recv, const size_t *counts, const char *fn) {
    size_t total = 0;
    for (int r = 0; r < t->world_size; r++) total += counts[r];
    double *buf = ssli_malloc(ctx, total + count + 1, sizeof(double));
    if (!buf) return ssli_alloc_status();
    double *mine = buf + total;
    for (size_t i = 0; i < count; i++) mine[i] = (double)send[i];
    sslk_status s = ssli_dist_allgatherv_f64(t, mine, count, buf, counts, fn);
    if (s == SSLK_OK)
        for (size_t i = 0; i < total; i++) recv[i] = (int64_t)buf[i];
    ssli_free(ctx, buf);
    return s;
}

sslk_status ssli_dist_agree(const sslk_ctx *ctx, const sslk_dist *t, sslk_status local, size_t count, size_t *counts,
                            size_t *total, const char *fn) {
    size_t W = (size_t)t->world_size;
    double mine[2] = {(double)local, (double)count};
    double *all = ssli_malloc(ctx, 2 * W, sizeof(double));
    size_t *two = ssli_malloc(ctx, W, sizeof(size_t));
    sslk_status s = all && two ? SSLK_OK : ssli_alloc_status();
    for (size_t r = 0; s == SSLK_OK && r < W; r++) two[r] = 2;
    if (s == SSLK_OK) s = ssli_dist_allgatherv_f64(t, mine, 2, all, two, fn);
    size_t sum = 0;
    for (size_t r = 0; s == SSLK_OK && r < W; r++) {
        if (all[2 * r] != 0)
            s = local ? local
                      : ssli_err(SSLK_E_DIST, "%s: rank %zu refused its inputs (%s), so every rank stops", fn, r,
                                 sslk_status_str((sslk_status)all[2 * r]));
        else if (!(all[2 * r + 1] >= 0 && all[2 * r + 1] <= 9007199254740992.0))
            s = ssli_err(SSLK_E_DIST, "%s: rank %zu reported %g rows (a broken collective?)", fn, r, all[2 * r + 1]);
        else {
            counts[r] = (size_t)all[2 * r + 1];
            sum += counts[r];
        }
    }
    ssli_free(ctx, all);
    ssli_free(ctx, two);
    if (s == SSLK_OK) *total = sum;
    return s;
}
