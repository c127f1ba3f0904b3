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
/* DINO: local rows, then one all-reduce of the loss sums and the centre's
 * teacher column sums (the official code's dist.all_reduce) (dino.c). */
sslk_status ssli_loss_dist_dino(sslk_loss *L, const sslk_dist *t, const ssli_loss_in *in, size_t N, double *value,
                                const char *fn);
/* Rows [lo, hi) of an N-row table owned by rank of world: lo = floor(N rank / world). */
void ssli_loss_dist_shard(size_t N, int rank, int world, size_t *lo, size_t *hi);

#endif
