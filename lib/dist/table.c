/* The context's collectives table: set/get, the filler's error sentence and
 * the checked wrappers the layers call (dist_internal.h).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dist_internal.h"


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

double ssli_dist_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static _Thread_local double tl_wait_s;

double sslk_dist_wait_seconds(void) { return tl_wait_s; }

void ssli_dist_add_wait(double seconds) { tl_wait_s += seconds; }

static const char *op_name(ssli_comm_kind k) {
    switch (k) {
    case SSLI_COMM_ALLREDUCE_F32: return "allreduce_sum_f32";
    case SSLI_COMM_ALLREDUCE_F64: return "allreduce_sum_f64";
    case SSLI_COMM_ALLGATHERV_F32: return "allgatherv_f32";
    case SSLI_COMM_ALLGATHERV_F64: return "allgatherv_f64";
    case SSLI_COMM_BROADCAST: return "broadcast";
    case SSLI_COMM_BARRIER: return "barrier";
    }
    return "?";
}

int ssli_dist_exec(const sslk_dist *t, ssli_comm_op *op) {
    tl_dist_msg[0] = '\0';
    int rc = 0;
    switch (op->kind) {
    case SSLI_COMM_ALLREDUCE_F32: rc = t->allreduce_sum_f32(t->user, op->buf, op->count); break;
    case SSLI_COMM_ALLREDUCE_F64: rc = t->allreduce_sum_f64(t->user, op->buf, op->count); break;
    case SSLI_COMM_ALLGATHERV_F32: rc = t->allgatherv_f32(t->user, op->send, op->count, op->buf, op->counts); break;
    case SSLI_COMM_ALLGATHERV_F64: rc = t->allgatherv_f64(t->user, op->send, op->count, op->buf, op->counts); break;
    case SSLI_COMM_BROADCAST: rc = t->broadcast(t->user, op->buf, op->count, op->root); break;
    case SSLI_COMM_BARRIER: rc = t->barrier(t->user); break;
    }
    op->rc = rc;
    snprintf(op->msg, sizeof op->msg, "%s", rc ? tl_dist_msg : "");
    tl_dist_msg[0] = '\0';
    if (rc == 0 && op->after) op->after(op->arg);
    return rc;
}

sslk_status ssli_dist_op_error(const sslk_dist *t, const ssli_comm_op *op) {
    const char *what = op_name(op->kind);
    return op->msg[0] ? ssli_err(SSLK_E_DIST, "%s: collective %s failed on rank %d of %d (code %d): %s", op->fn, what,
                                 t->rank, t->world_size, op->rc, op->msg)
                      : ssli_err(SSLK_E_DIST, "%s: collective %s failed on rank %d of %d (code %d)", op->fn, what,
                                 t->rank, t->world_size, op->rc);
}

/* One collective from the caller's thread: directly, or through the
 * communication thread this thread routes the table to (and waited for);
 * the time blocked counts as exposed communication. */
static sslk_status dist_run(const sslk_dist *t, ssli_comm_op *op) {
    const double t0 = ssli_dist_now();
    ssli_comm *c = ssli_comm_routed(t);
    int rc = c ? ssli_comm_call(c, op) : ssli_dist_exec(t, op);
    tl_wait_s += ssli_dist_now() - t0;
    return rc ? ssli_dist_op_error(t, op) : SSLK_OK;
}

sslk_status ssli_dist_allreduce_f64(const sslk_dist *t, double *buf, size_t count, const char *fn) {
    ssli_comm_op op = {.kind = SSLI_COMM_ALLREDUCE_F64, .buf = buf, .count = count, .fn = fn};
    return dist_run(t, &op);
}

sslk_status ssli_dist_allreduce_f32(const sslk_dist *t, float *buf, size_t count, const char *fn) {
    ssli_comm_op op = {.kind = SSLI_COMM_ALLREDUCE_F32, .buf = buf, .count = count, .fn = fn};
    return dist_run(t, &op);
}

sslk_status ssli_dist_allgatherv_f32(const sslk_dist *t, const float *send, size_t count, float *recv,
                                     const size_t *counts, const char *fn) {
    ssli_comm_op op = {.kind = SSLI_COMM_ALLGATHERV_F32, .buf = recv, .send = send, .count = count,
                       .counts = counts, .fn = fn};
    return dist_run(t, &op);
}

sslk_status ssli_dist_allgatherv_f64(const sslk_dist *t, const double *send, size_t count, double *recv,
                                     const size_t *counts, const char *fn) {
    ssli_comm_op op = {.kind = SSLI_COMM_ALLGATHERV_F64, .buf = recv, .send = send, .count = count,
                       .counts = counts, .fn = fn};
    return dist_run(t, &op);
}

sslk_status ssli_dist_broadcast(const sslk_dist *t, void *buf, size_t bytes, int root, const char *fn) {
    ssli_comm_op op = {.kind = SSLI_COMM_BROADCAST, .buf = buf, .count = bytes, .root = root, .fn = fn};
    return dist_run(t, &op);
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
