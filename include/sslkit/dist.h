/* libsslkit — collectives table: how a context talks to the other ranks of a
 * data-parallel job (experimental, since 1.2).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_DIST_H
#define SSLKIT_DIST_H

#include "sslkit/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef SSLK_EXPERIMENTAL
/* A context carries at most one collectives table.  With none (or world_size
 * 1) every call computes on the rows it is given, bit for bit as before.  With
 * one, losses gather the batch statistics they need over all ranks in forward
 * and return the exact gradient of the GLOBAL loss for the caller's LOCAL rows
 * (docs/distributed.md lists what each loss gathers).  The value carries the
 * 1/N of the global batch, so a data-parallel trainer SUMS (not averages) the
 * encoder gradients over ranks.  Owned loss parameters: MSN's prototype
 * gradient is already the global one, identical on every rank (reduce it no
 * further); DIET's head is sharded by datum index (rank r holds rows
 * [floor(N r / W), floor(N (r + 1) / W)) and their global gradient).  With a
 * table, sslk_loss_compute*, sslk_knn_predict / _evaluate and
 * sslk_rankme_allreduce are collectives.
 *
 * Every function pointer is a collective: all ranks call it in the same order
 * with matching arguments.  Return 0 on success, nonzero on failure; the
 * library then fails with SSLK_E_DIST and a message naming the collective,
 * the rank and the filler's sentence (sslk_dist_set_error) if it gave one.
 * A failure on one rank must make the collective fail on the others too
 * (within bounded time), or they wait forever: that is the filler's duty.
 *
 * Shape: as issue 17's brief, unchanged.  Counts are element counts; recv of
 * allgatherv is the concatenation in rank order (counts[r] elements of rank
 * r, sum(counts) in all); count == counts[rank]. */
typedef struct sslk_dist {
    size_t struct_size; /**< set to sizeof(sslk_dist) */
    int rank;           /**< 0 .. world_size-1 */
    int world_size;     /**< >= 1 */
    void *user;         /**< passed to every function */
    int (*allgatherv_f32)(void *user, const float *send, size_t count, float *recv, const size_t *counts);
    int (*allgatherv_f64)(void *user, const double *send, size_t count, double *recv, const size_t *counts);
    int (*allreduce_sum_f32)(void *user, float *buf, size_t count);   /**< in place */
    int (*allreduce_sum_f64)(void *user, double *buf, size_t count);  /**< in place */
    int (*broadcast)(void *user, void *buf, size_t bytes, int root);  /**< bytes from root to all */
    int (*barrier)(void *user);
    /* ---- appended (issue 17, overlap); a shorter table reads as 0 ---- */
    int any_thread; /**< nonzero: the functions may be called from a thread of the library other
                         than the one that attached the table (never two calls at once); the
                         data-parallel trainer then runs the gradient all-reduce on a
                         communication thread, overlapped with the backward.  0: every call
                         comes from the caller's thread, the all-reduce after the backward. */
} sslk_dist;

/** Attach a copy of `table` to ctx (NULL detaches: single process).  Refuses
 *  a struct_size below the first release of this struct, rank outside
 *  [0, world_size), world_size < 1 and missing functions (SSLK_E_INVALID_ARG).
 *  Configure before creating handles; the table's user data must outlive ctx. */
SSLK_API sslk_status sslk_ctx_set_dist(sslk_ctx *ctx, const sslk_dist *table);
/** Copy of the attached table into *out (out->struct_size must be set); with
 *  none, a table with rank 0, world_size 1 and NULL functions. */
SSLK_API sslk_status sslk_ctx_get_dist(const sslk_ctx *ctx, sslk_dist *out);
/** Seconds the calling thread has spent blocked in the library's collectives
 *  (direct calls, and waiting for the communication thread of an overlapped
 *  all-reduce): the communication that was NOT hidden behind computation.
 *  Per thread, cumulative from 0; a thread that never ran one reads 0. */
SSLK_API double sslk_dist_wait_seconds(void);
/** For fillers: record a sentence (copied, truncated to 255 bytes, per
 *  thread) that the library appends to its SSLK_E_DIST message when the
 *  current collective returns nonzero.  NULL clears it. */
SSLK_API void sslk_dist_set_error(const char *msg);

/* ---- the in-process fake: N ranks on threads of one process (tests) ------
 * Sums run in rank order in double, so results are reproducible bit for bit
 * for a fixed world size.  A rank that leaves (sslk_dist_fake_leave, or its
 * function returning in sslk_dist_fake_run) makes every later collective fail
 * on the others instead of waiting forever. */
typedef struct sslk_dist_fake sslk_dist_fake;
/** World of `world_size` ranks (1..1024). */
SSLK_API sslk_status sslk_dist_fake_create(int world_size, sslk_dist_fake **out);
/** Table of rank `rank` (out->struct_size must be set); any_thread is 1: one
 *  call at a time, from any thread. */
SSLK_API sslk_status sslk_dist_fake_table(sslk_dist_fake *fake, int rank, sslk_dist *out);
/** Rank `rank` will make no more calls (lets the others fail instead of hang). */
SSLK_API void sslk_dist_fake_leave(sslk_dist_fake *fake, int rank);
/** Destroy (NULL accepted) after every rank has finished. */
SSLK_API void sslk_dist_fake_destroy(sslk_dist_fake *fake);
/** Run fn(ctx, rank, user) on world_size threads, each with a fresh context
 *  (1 thread, seed 0) carrying its rank's table; returns when all are done. */
SSLK_API sslk_status sslk_dist_fake_run(int world_size, void (*fn)(sslk_ctx *ctx, int rank, void *user),
                                        void *user);

/* ---- evaluation across ranks --------------------------------------------
 * RankMe: each rank updates its accumulator with its own rows, then
 * sslk_rankme_allreduce (collective) leaves the statistics of all rows on
 * every rank (Gram + column sums + count all-reduced, d^2 + d + 1 doubles;
 * the accumulator is in the folded Gram form afterwards, so method EXACT is
 * refused; AUTO and GRAM work).  Without a table it does nothing. */
typedef struct sslk_rankme_acc sslk_rankme_acc; /* as in sslkit/metrics.h (C11 allows the repeat) */
SSLK_API sslk_status sslk_rankme_allreduce(sslk_rankme_acc *r);
/* kNN: with a table on the kNN's context, sslk_knn_fit keeps this rank's
 * shard of the training bank, and sslk_knn_predict / sslk_knn_evaluate are
 * collectives: the queries of all ranks are gathered, every rank selects the
 * top-k of every query in its shard, the candidate lists are gathered and
 * merged (ties to the lower global training index, the rank order), so each
 * rank gets the predictions of its own queries exactly as one process with
 * the concatenated bank; evaluate returns the accuracy over all ranks' queries.
 *
 * Linear probe on gathered features: gather them, then fit on every rank.
 * sslk_dist_rows (collective) gives the total row count; sslk_dist_gather_rows
 * (collective) fills out (total x d, rank order); _i32 for labels. */
SSLK_API sslk_status sslk_dist_rows(sslk_ctx *ctx, size_t n, size_t *total);
SSLK_API sslk_status sslk_dist_gather_rows(sslk_ctx *ctx, const float *x, size_t n, size_t d, float *out);
SSLK_API sslk_status sslk_dist_gather_i32(sslk_ctx *ctx, const int32_t *x, size_t n, int32_t *out);
#endif /* SSLK_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif
#endif
