/* The in-process fake: N ranks on threads sharing one slot array; every
 * collective is post / barrier / read / barrier, reductions summed in rank
 * order in double so N-rank results are reproducible.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist_internal.h"

#define FAKE_MAX_WORLD 1024

typedef struct fake_slot {
    const void *send;
    size_t count;
} fake_slot;

typedef struct fake_rank {
    sslk_dist_fake *f;
    int rank;
} fake_rank;

struct sslk_dist_fake {
    int world;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int arrived, left;
    unsigned long gen;
    fake_slot *slot;
    fake_rank *ranks;
};

/* 0 when all ranks arrived; 1 when a rank left, so this one must not wait. */
static int fake_barrier(sslk_dist_fake *f) {
    pthread_mutex_lock(&f->mu);
    unsigned long g = f->gen;
    if (++f->arrived + f->left >= f->world) {
        f->arrived = 0;
        f->gen++;
        pthread_cond_broadcast(&f->cv);
        int bad = f->left > 0;
        pthread_mutex_unlock(&f->mu);
        return bad;
    }
    while (f->gen == g && f->left == 0) pthread_cond_wait(&f->cv, &f->mu);
    int bad = f->gen == g;
    if (bad) f->arrived--;
    pthread_mutex_unlock(&f->mu);
    return bad;
}

static int fake_left_error(void) {
    sslk_dist_set_error("fake: a rank left the world before this collective");
    return 1;
}

static int fake_gather(void *user, const void *send, size_t count, void *recv, const size_t *counts, size_t el) {
    fake_rank *me = user;
    sslk_dist_fake *f = me->f;
    if (count != counts[me->rank]) {
        char m[128];
        snprintf(m, sizeof m, "fake: count %zu differs from counts[%d] = %zu", count, me->rank, counts[me->rank]);
        sslk_dist_set_error(m);
        f->slot[me->rank] = (fake_slot){NULL, (size_t)-1};
        fake_barrier(f); /* keep the others in step: they fail on the count check below */
        fake_barrier(f);
        return 1;
    }
    f->slot[me->rank] = (fake_slot){send, count};
    if (fake_barrier(f)) return fake_left_error();
    int bad = 0;
    char *out = recv;
    for (int r = 0; r < f->world; r++) {
        if (!f->slot[r].send || f->slot[r].count != counts[r]) {
            bad = 1;
            break;
        }
        if (counts[r]) memcpy(out, f->slot[r].send, counts[r] * el);
        out += counts[r] * el;
    }
    if (fake_barrier(f)) return fake_left_error();
    f->slot[me->rank].send = NULL;
    if (bad) sslk_dist_set_error("fake: ranks disagree on the counts of an allgatherv");
    return bad;
}

static int fake_allgatherv_f32(void *u, const float *s, size_t c, float *r, const size_t *cs) {
    return fake_gather(u, s, c, r, cs, sizeof(float));
}
static int fake_allgatherv_f64(void *u, const double *s, size_t c, double *r, const size_t *cs) {
    return fake_gather(u, s, c, r, cs, sizeof(double));
}

/* Post, barrier, sum everyone's buffer in rank order into a private copy,
 * barrier (all reads done), write back. */
#define FAKE_ALLREDUCE(NAME, T)                                                                 \
    static int NAME(void *user, T *buf, size_t count) {                                         \
        fake_rank *me = user;                                                                   \
        sslk_dist_fake *f = me->f;                                                              \
        double *acc = malloc((count ? count : 1) * sizeof *acc);                                \
        f->slot[me->rank] = (fake_slot){buf, count};                                            \
        if (fake_barrier(f)) {                                                                  \
            free(acc);                                                                          \
            return fake_left_error();                                                           \
        }                                                                                       \
        int bad = !acc;                                                                         \
        for (int r = 0; r < f->world && !bad; r++) bad = f->slot[r].count != count;             \
        if (!bad) {                                                                             \
            for (size_t i = 0; i < count; i++) acc[i] = 0;                                      \
            for (int r = 0; r < f->world; r++) {                                                \
                const T *x = f->slot[r].send;                                                   \
                for (size_t i = 0; i < count; i++) acc[i] += (double)x[i];                      \
            }                                                                                   \
        }                                                                                       \
        if (fake_barrier(f)) {                                                                  \
            free(acc);                                                                          \
            return fake_left_error();                                                           \
        }                                                                                       \
        if (!bad)                                                                               \
            for (size_t i = 0; i < count; i++) buf[i] = (T)acc[i];                              \
        free(acc);                                                                              \
        if (bad) sslk_dist_set_error("fake: out of memory or ranks disagree on an allreduce count"); \
        return bad;                                                                             \
    }
FAKE_ALLREDUCE(fake_allreduce_f32, float)
FAKE_ALLREDUCE(fake_allreduce_f64, double)

static int fake_broadcast(void *user, void *buf, size_t bytes, int root) {
    fake_rank *me = user;
    sslk_dist_fake *f = me->f;
    f->slot[me->rank] = (fake_slot){buf, bytes};
    if (fake_barrier(f)) return fake_left_error();
    int bad = root < 0 || root >= f->world || f->slot[root].count != bytes;
    if (!bad && me->rank != root && bytes) memcpy(buf, f->slot[root].send, bytes);
    if (fake_barrier(f)) return fake_left_error();
    if (bad) sslk_dist_set_error("fake: bad broadcast root or ranks disagree on the size");
    return bad;
}

static int fake_barrier_fn(void *user) {
    fake_rank *me = user;
    return fake_barrier(me->f) ? fake_left_error() : 0;
}

sslk_status sslk_dist_fake_create(int world_size, sslk_dist_fake **out) {
    const char *fn = "sslk_dist_fake_create";
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    if (world_size < 1 || world_size > FAKE_MAX_WORLD)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'world_size' = %d, must be in [1, %d]", fn, world_size,
                        FAKE_MAX_WORLD);
    sslk_dist_fake *f = calloc(1, sizeof *f);
    if (f) {
        f->slot = calloc((size_t)world_size, sizeof *f->slot);
        f->ranks = calloc((size_t)world_size, sizeof *f->ranks);
    }
    if (!f || !f->slot || !f->ranks) {
        if (f) {
            free(f->slot);
            free(f->ranks);
        }
        free(f);
        return ssli_err(SSLK_E_NOMEM, "%s: out of memory", fn);
    }
    f->world = world_size;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    for (int r = 0; r < world_size; r++) f->ranks[r] = (fake_rank){f, r};
    *out = f;
    return SSLK_OK;
}

sslk_status sslk_dist_fake_table(sslk_dist_fake *f, int rank, sslk_dist *out) {
    const char *fn = "sslk_dist_fake_table";
    SSLI_CHECK_PTR(f, fn);
    SSLI_TRY(ssli_struct_check(out, SSLI_DIST_MIN_SIZE, fn, "out"));
    if (rank < 0 || rank >= f->world)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'rank' = %d, must be in [0, %d)", fn, rank, f->world);
    sslk_dist t = {sizeof t, rank, f->world, &f->ranks[rank], fake_allgatherv_f32, fake_allgatherv_f64,
                   fake_allreduce_f32, fake_allreduce_f64, fake_broadcast, fake_barrier_fn,
                   1 /* any_thread: state is per rank, not per thread */};
    ssli_struct_out(out, &t, sizeof t);
    return SSLK_OK;
}

void sslk_dist_fake_leave(sslk_dist_fake *f, int rank) {
    if (!f || rank < 0 || rank >= f->world) return;
    pthread_mutex_lock(&f->mu);
    f->left++;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

void sslk_dist_fake_destroy(sslk_dist_fake *f) {
    if (!f) return;
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f->slot);
    free(f->ranks);
    free(f);
}

typedef struct fake_job {
    sslk_dist_fake *f;
    int rank;
    void (*fn)(sslk_ctx *, int, void *);
    void *user;
    sslk_status st;
} fake_job;

static void *fake_thread(void *arg) {
    fake_job *j = arg;
    sslk_ctx *ctx = NULL;
    sslk_dist t;
    memset(&t, 0, sizeof t);
    t.struct_size = sizeof t;
    j->st = sslk_ctx_create(&ctx);
    if (j->st == SSLK_OK) j->st = sslk_dist_fake_table(j->f, j->rank, &t);
    if (j->st == SSLK_OK) j->st = sslk_ctx_set_dist(ctx, &t);
    if (j->st == SSLK_OK) j->fn(ctx, j->rank, j->user);
    sslk_dist_fake_leave(j->f, j->rank);
    sslk_ctx_destroy(ctx);
    return NULL;
}

sslk_status sslk_dist_fake_run(int world_size, void (*fn)(sslk_ctx *ctx, int rank, void *user), void *user) {
    const char *name = "sslk_dist_fake_run";
    SSLI_CHECK_PTR(fn, name);
    sslk_dist_fake *f;
    SSLI_TRY(sslk_dist_fake_create(world_size, &f));
    fake_job *jobs = calloc((size_t)world_size, sizeof *jobs);
    pthread_t *th = calloc((size_t)world_size, sizeof *th);
    if (!jobs || !th) {
        free(jobs);
        free(th);
        sslk_dist_fake_destroy(f);
        return ssli_err(SSLK_E_NOMEM, "%s: out of memory", name);
    }
    int started = 0;
    for (int r = 0; r < world_size; r++) {
        jobs[r] = (fake_job){f, r, fn, user, SSLK_OK};
        if (pthread_create(&th[r], NULL, fake_thread, &jobs[r]) != 0) {
            for (int q = r; q < world_size; q++) sslk_dist_fake_leave(f, q); /* the started ones fail, not hang */
            break;
        }
        started++;
    }
    for (int r = 0; r < started; r++) pthread_join(th[r], NULL);
    sslk_status st = started < world_size ? ssli_err(SSLK_E_NOMEM, "%s: could not start %d threads", name, world_size)
                                          : SSLK_OK;
    for (int r = 0; r < started && st == SSLK_OK; r++)
        if (jobs[r].st != SSLK_OK)
            st = ssli_err(jobs[r].st, "%s: setting up rank %d failed (%s)", name, r, sslk_status_str(jobs[r].st));
    free(jobs);
    free(th);
    sslk_dist_fake_destroy(f);
    return st;
}
