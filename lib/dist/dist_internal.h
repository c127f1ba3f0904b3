/* Internal collectives used by the layers: thin checked wrappers over the
 * context's sslk_dist table (lib/dist/table.c).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_DIST_INTERNAL_H
#define SSLKIT_DIST_INTERNAL_H

#include <stddef.h>

#include "core/internal.h"

/* struct_size of the first sslk_dist (before any_thread): still accepted. */
#define SSLI_DIST_MIN_SIZE offsetof(sslk_dist, any_thread)

/* The context's table when it spans more than one rank, else NULL: callers
 * take their single-process path unchanged when this is NULL. */
const sslk_dist *ssli_dist(const sslk_ctx *ctx);

/* Each returns SSLK_OK or SSLK_E_DIST with "fn: <collective> failed on rank r
 * of w[: filler's sentence]". */
sslk_status ssli_dist_allreduce_f64(const sslk_dist *t, double *buf, size_t count, const char *fn);
sslk_status ssli_dist_allreduce_f32(const sslk_dist *t, float *buf, size_t count, const char *fn);
sslk_status ssli_dist_allgatherv_f32(const sslk_dist *t, const float *send, size_t count, float *recv,
                                     const size_t *counts, const char *fn);
sslk_status ssli_dist_allgatherv_f64(const sslk_dist *t, const double *send, size_t count, double *recv,
                                     const size_t *counts, const char *fn);
sslk_status ssli_dist_broadcast(const sslk_dist *t, void *buf, size_t bytes, int root, const char *fn);
/* counts[r] = local of rank r (counts has world_size entries); *total their sum. */
sslk_status ssli_dist_counts(const sslk_ctx *ctx, const sslk_dist *t, size_t local, size_t *counts, size_t *total,
                             const char *fn);
/* Agreement step before a collective computation: one allgather of (status,
 * count) per rank.  A rank whose own checks failed (local != OK, message set)
 * returns local; the others return SSLK_E_DIST naming it; so no rank is left
 * waiting.  Otherwise counts[r] and their *total. */
sslk_status ssli_dist_agree(const sslk_ctx *ctx, const sslk_dist *t, sslk_status local, size_t count, size_t *counts,
                            size_t *total, const char *fn);
/* Gather an int64 array (exact up to 2^53, as doubles). */
sslk_status ssli_dist_allgatherv_i64(const sslk_ctx *ctx, const sslk_dist *t, const int64_t *send, size_t count,
                                     int64_t *recv, const size_t *counts, const char *fn);

/* ---- one collective as data (lib/dist/comm.c runs these on a thread) ---- */
typedef enum ssli_comm_kind {
    SSLI_COMM_ALLREDUCE_F32,
    SSLI_COMM_ALLREDUCE_F64,
    SSLI_COMM_ALLGATHERV_F32,
    SSLI_COMM_ALLGATHERV_F64,
    SSLI_COMM_BROADCAST,
    SSLI_COMM_BARRIER
} ssli_comm_kind;

typedef struct ssli_comm_op {
    ssli_comm_kind kind;
    void *buf;            /* allreduce: in place; allgatherv: recv; broadcast: buf */
    const void *send;     /* allgatherv */
    size_t count;         /* elements (broadcast: bytes) */
    const size_t *counts; /* allgatherv */
    int root;             /* broadcast */
    const char *fn;       /* the library function, for the message */
    /* run on the executing thread after a successful call (e.g. scatter a bucket) */
    void (*after)(void *arg);
    void *arg;
    /* results */
    int rc;        /* the filler's return code (0: success) */
    char msg[256]; /* the filler's sentence, if it gave one */
    struct ssli_comm_op *next;
    int done;
} ssli_comm_op;

/* Run op's collective on this thread now (the filler's sentence into op->msg). */
int ssli_dist_exec(const sslk_dist *t, ssli_comm_op *op);
/* SSLK_E_DIST naming op's collective, t's rank and op->msg (op->rc != 0). */
sslk_status ssli_dist_op_error(const sslk_dist *t, const ssli_comm_op *op);
/* Add seconds to the calling thread's sslk_dist_wait_seconds. */
void ssli_dist_add_wait(double seconds);
double ssli_dist_now(void);

/* ---- the communication thread --------------------------------------------
 * Executes the collectives handed to it in FIFO order, one at a time, so the
 * filler sees one caller (MPI_THREAD_SERIALIZED suffices).  After a failed
 * collective the later ones are not run (they fail with the first one's
 * message), so a dead rank costs one timeout, not one per bucket.  While a
 * thread has routed a table to it (ssli_comm_route), every collective that
 * thread makes on that table goes through the queue too (and is waited
 * for): SyncBN's backward all-reduces then keep their place between the
 * gradient buckets, the same order on every rank. */
typedef struct ssli_comm ssli_comm;
/* t must have any_thread set; the table is copied. */
sslk_status ssli_comm_start(const sslk_dist *t, ssli_comm **out);
/* Waits for the queue to drain, then joins the thread (NULL accepted). */
void ssli_comm_stop(ssli_comm *c);
/* Queue op (owned by the caller until ssli_comm_wait_all returns). */
void ssli_comm_submit(ssli_comm *c, ssli_comm_op *op);
/* Wait until every submitted op ran; SSLK_OK or the first failure. */
sslk_status ssli_comm_wait_all(ssli_comm *c);
/* Route the calling thread's collectives on c's table through c (NULL: stop). */
void ssli_comm_route(ssli_comm *c);
/* The communication thread the calling thread routes t to, or NULL. */
ssli_comm *ssli_comm_routed(const sslk_dist *t);
/* Submit op and wait for it (the routed form of one collective). */
int ssli_comm_call(ssli_comm *c, ssli_comm_op *op);

#endif
