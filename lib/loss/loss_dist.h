/* Losses across the ranks of the context's collectives table.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_LOSS_DIST_H
#define SSLKIT_LOSS_DIST_H

#include "loss_internal.h"

/* The compute step of sslk_loss_compute.  local = the status of this rank's
 * own input checks (its message already set): with a table, every rank takes
 * part in one agreement gather first, so a rank that refuses its inputs makes
 * all ranks fail (SSLK_E_DIST naming it) instead of leaving them waiting.
 * Without a table (or world 1): local, else vt->compute, unchanged. */
sslk_status ssli_loss_dist_compute(sslk_loss *L, sslk_status local, const ssli_loss_in *in, double *value,
                                   const char *fn);
/* Pieces, for the kind-specific paths. */
sslk_status ssli_loss_dist_agree(sslk_loss *L, const sslk_dist *t, sslk_status local, const ssli_loss_in *in,
                                 size_t *counts, size_t *total, const char *fn);
sslk_status ssli_loss_dist_gather_compute(sslk_loss *L, const sslk_dist *t, const ssli_loss_in *in,
                                          const size_t *counts, size_t N, double *value, const char *fn);
/* VICReg with all-reduced column sums and d x d covariance (dist_vicreg.c). */
sslk_status ssli_loss_dist_vicreg(sslk_loss *L, const sslk_dist *t, const ssli_loss_in *in, const size_t *counts,
                                  size_t N, double *value, const char *fn);

/* A loss that is a mean of per-row terms computed on this rank's n rows
 * (sslk_loss_compute_negatives: outside negatives are constants shared by all
 * ranks): all-reduce n, n value and n terms, so value and terms become the
 * means over all ranks' rows and the gradients are scaled by n / N.  Nothing
 * without a table. */
sslk_status ssli_loss_dist_rowmean(sslk_loss *L, size_t n, size_t d, double *value, float *ga, float *gb,
                                   const char *fn);
/* LogDet VICReg with all-reduced d x d Grams (dist_logdet.c). */
sslk_status ssli_loss_dist_logdet(sslk_loss *L, const sslk_dist *t, const ssli_loss_in *in, size_t N, double *value,
                                  const char *fn);
/* DIET with the head sharded by datum index (dist_diet.c). */
sslk_status ssli_loss_dist_diet(sslk_loss *L, const sslk_dist *t, const ssli_loss_in *in, const size_t *counts,
                                size_t N, double *value, const char *fn);
/* NT-Xent / InfoNCE (every view count, sample ids) with this rank's anchors
 * against the gathered keys (dist_infonce.c); symmetric InfoNCE likewise
 * (dist_infonce_sym.c); MSN with all-reduced Sinkhorn masses, mean
 * prediction and prototype gradient (dist_msn.c).  off: this rank's first
 * global row. */
sslk_status ssli_loss_dist_infonce(sslk_loss *L, const sslk_dist *t, const ssli_loss_in *in, const size_t *counts,
                                   size_t N, double *value, const char *fn);
sslk_status ssli_loss_dist_infonce_sym(sslk_loss *L, const sslk_dist *t, const ssli_loss_in *in,
                                       const size_t *counts, size_t N, double *value, const char *fn);
sslk_status ssli_loss_dist_msn(sslk_loss *L, const sslk_dist *t, const ssli_loss_in *in, const size_t *counts,
                               size_t N, double *value, const char *fn);
/* Groups of the T stacked rows (row a = sample a % in->n of view a / in->n)
 * sharing a sample id (in->indices, else the row's sample): perm lists rows
 * grouped, gstart / glen give each row's group, *ngroups their number;
 * SSLK_E_INVALID_ARG on a sample that occurs once (infonce.c). */
sslk_status ssli_infonce_group_rows(const sslk_ctx *ctx, const ssli_loss_in *in, size_t T, size_t *perm,
                                    size_t *gstart, size_t *glen, size_t *ngroups);
/* MSN's forward and backward on this rank's rows (msn.c): t NULL = one
 * process; else the Sinkhorn column masses, the mean prediction with the
 * cross-entropy and entropy sums, and the prototype gradient are all-reduced
 * over t, and N is the global row count. */
sslk_status ssli_msn_check(sslk_loss *L, const ssli_loss_in *in, size_t N); /* the kind's checks */
sslk_status ssli_msn_run(sslk_loss *L, const ssli_loss_in *in, const sslk_dist *t, size_t N, double *value,
                         const char *fn);
/* MSN's Sinkhorn (ssli_msn_sinkhorn) on this rank's B rows with each
 * iteration's K column masses all-reduced over t (NULL: one process). */
sslk_status ssli_msn_sinkhorn_dist(double *T, size_t B, size_t K, int iters, double *cs, int nt, const sslk_dist *t,
                                   const char *fn);
/* DINO: local rows, then one all-reduce of the loss sums and the centre's
 * teacher column sums (the official code's dist.all_reduce) (dino.c). */
sslk_status ssli_loss_dist_dino(sslk_loss *L, const sslk_dist *t, const ssli_loss_in *in, size_t N, double *value,
                                const char *fn);
/* Rows [lo, hi) of an N-row table owned by rank of world: lo = floor(N rank / world). */
void ssli_loss_dist_shard(size_t N, int rank, int world, size_t *lo, size_t *hi);

#endif
