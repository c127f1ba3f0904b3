/* Queue of negatives kept between steps (MoCo's queue, lightly's
 * MemoryBankModule): capacity x d float rows.  RANDOM starts full of N(0, 1)
 * rows normalised to unit length (lightly's initial bank; drawn from the
 * context seed with the counter-based generator); EMPTY starts with no rows and
 * grows as batches arrive.  push writes the batch from the pointer on; when the
 * batch reaches the end, the rows that do not fit are dropped and the pointer
 * returns to 0 (lightly's _dequeue_and_enqueue; MoCo's assert capacity % batch
 * == 0 makes the two the same).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <string.h>

#include "loss_internal.h"

struct sslk_negqueue {
    sslk_ctx *ctx;
    float *rows;
    size_t cap, d, ptr, count;
};

sslk_status sslk_negqueue_create(sslk_ctx *ctx, size_t capacity, size_t d, int init, sslk_negqueue **out) {
    const char *fn = "sslk_negqueue_create";
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    if (capacity == 0 || d == 0)
        return ssli_err(SSLK_E_SHAPE, "%s: 'capacity' = %zu and 'd' = %zu must be >= 1", fn, capacity, d);
    if (init != SSLK_NEGQUEUE_RANDOM && init != SSLK_NEGQUEUE_EMPTY)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'init' = %d (0 = random, 1 = empty)", fn, init);
    size_t cnt;
    if (ssli_mul_overflow(capacity, d, &cnt) || cnt > ((size_t)1 << 36))
        return ssli_err(SSLK_E_OVERFLOW, "%s: %zu x %zu rows are too large", fn, capacity, d);
    sslk_negqueue *q = ssli_calloc(ctx, 1, sizeof *q);
    if (!q) return ssli_alloc_status();
    q->rows = ssli_malloc(ctx, cnt, sizeof(float));
    if (!q->rows) {
        ssli_free(ctx, q);
        return ssli_alloc_status();
    }
    q->ctx = ctx;
    q->cap = capacity;
    q->d = d;
    if (init == SSLK_NEGQUEUE_RANDOM) {
        uint64_t key = ssli_rng_key(ctx->seed, 0x9e9, 0x9e9);
        for (size_t i = 0; i < capacity; i++) {
            float *r = q->rows + i * d;
            double s = 0;
            for (size_t j = 0; j < d; j++) {
                double x = ssli_rng_normal(key, i * d + j);
                r[j] = (float)x;
                s += x * x;
            }
            double inv = 1.0 / (sqrt(s) > 1e-12 ? sqrt(s) : 1e-12);
            for (size_t j = 0; j < d; j++) r[j] = (float)((double)r[j] * inv);
        }
        q->count = capacity;
    } else {
        memset(q->rows, 0, cnt * sizeof(float));
    }
    *out = q;
    return SSLK_OK;
}

void sslk_negqueue_destroy(sslk_negqueue *q) {
    if (!q) return;
    ssli_free(q->ctx, q->rows);
    ssli_free(q->ctx, q);
}

sslk_status sslk_negqueue_push(sslk_negqueue *q, const float *rows, size_t n, size_t d) {
    const char *fn = "sslk_negqueue_push";
    SSLI_CHECK_PTR(q, fn);
    SSLI_CHECK_PTR(rows, fn);
    if (d != q->d) return ssli_err(SSLK_E_SHAPE, "%s: rows have d = %zu, the queue d = %zu", fn, d, q->d);
    if (n == 0) return SSLK_OK;
    SSLI_TRY(ssli_check_finite_f32(rows, n, d, fn, "rows"));
    size_t room = q->cap - q->ptr, k = n < room ? n : room;
    memcpy(q->rows + q->ptr * d, rows, k * d * sizeof(float));
    q->ptr += k;
    if (q->ptr > q->count) q->count = q->ptr;
    if (n >= room) q->ptr = 0; /* lightly: ptr + batch >= size wraps (the rest is dropped) */
    return SSLK_OK;
}

sslk_status sslk_negqueue_rows(const sslk_negqueue *q, const float **rows, size_t *count) {
    const char *fn = "sslk_negqueue_rows";
    SSLI_CHECK_PTR(q, fn);
    SSLI_CHECK_PTR(rows, fn);
    SSLI_CHECK_PTR(count, fn);
    *rows = q->rows;
    *count = q->count;
    return SSLK_OK;
}

/* ---- checkpoints (issue 21c: the trainer's MoCo queue) ---------------------- */
size_t ssli_negqueue_ptr(const sslk_negqueue *q) { return q->ptr; }

sslk_status ssli_negqueue_restore(sslk_negqueue *q, const float *rows, size_t count, size_t ptr) {
    if (count > q->cap || ptr >= q->cap || (count < q->cap && ptr != count))
        return ssli_err(SSLK_E_FORMAT, "negqueue: %zu rows with the pointer at %zu do not fit a queue of %zu", count,
                        ptr, q->cap);
    SSLI_TRY(ssli_check_finite_f32(rows, count, q->d, "negqueue", "rows"));
    memcpy(q->rows, rows, count * q->d * sizeof(float));
    q->count = count;
    q->ptr = ptr;
    return SSLK_OK;
}
