/* Internal collectives used by the layers: thin checked wrappers over the
 * context's sslk_dist table (lib/dist/table.c).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_DIST_INTERNAL_H
#define SSLKIT_DIST_INTERNAL_H

#include "core/internal.h"

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

#endif
