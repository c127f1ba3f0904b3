/* Data-parallel pieces of the training loop (trainer_dist.c, issue 17).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_TRAIN_TRAINER_DIST_H
#define SSLKIT_TRAIN_TRAINER_DIST_H

#include "dist/dist_internal.h"
#include "train/trainer_internal.h"

/* Floats per gradient all-reduce bucket (4 MiB). */
#define SSLI_TRAIN_BUCKET ((size_t)1 << 20)

/* Shard the training loader: rank r reads and decodes only its rows
 * [floor(B r/P), floor(B (r+1)/P)) of each global batch (SSLK_LOADER_SHARD_*). */
sslk_status ssli_train_shard_loader(sslk_trainer *tr, const sslk_dist *t);
/* Collective: the global row count of this step, and whether some rank has
 * none (then no rank steps). */
sslk_status ssli_train_global_rows(sslk_trainer *tr, const sslk_dist *t, size_t local, size_t *total, bool *empty);
/* The gradient sum over the ranks (bucketed, trainer_dist.c): made per fit
 * (the layout of the trainable tensors; with t->any_thread a communication
 * thread that reduces each bucket as soon as the backward has finished it). */
typedef struct ssli_grad_sync ssli_grad_sync;
sslk_status ssli_grad_sync_create(sslk_trainer *tr, const sslk_dist *t, ssli_grad_sync **out);
void ssli_grad_sync_destroy(ssli_grad_sync *gs);
/* Backward of the projector (from gz) and the encoder; with gs (NULL: one
 * process) their gradients come out summed over the ranks. */
sslk_status ssli_train_backward_sync(sslk_trainer *tr, ssli_grad_sync *gs, float *gz);
/* Tests: floats per bucket for the layouts made from now on (0: SSLI_TRAIN_BUCKET). */
void ssli_train_set_bucket(size_t floats);
/* write() on rank 0 only (with DIET's head assembled first, collectively),
 * its status shared with every rank. */
sslk_status ssli_train_rank0_checkpoint(sslk_trainer *tr, const sslk_dist *t,
                                        sslk_status (*write)(sslk_trainer *tr, const ssli_ckpt_full *full,
                                                             const char *fn),
                                        const char *fn);

/* DIET's sharded head in checkpoints (trainer_shard.c). */
bool ssli_train_head_sharded(const sslk_trainer *tr);
/* Collective: the whole head and the optimizer state of one process, on
 * rank 0 (*full zeroed elsewhere). */
sslk_status ssli_train_gather_head(sslk_trainer *tr, ssli_ckpt_full *full, const char *fn);
void ssli_train_full_free(const sslk_trainer *tr, ssli_ckpt_full *full);
/* Keep this rank's rows of a whole head (and of its optimizer arrays). */
sslk_status ssli_train_slice_head(sslk_trainer *tr, const float *head, size_t count, const unsigned char *blob,
                                  size_t len, const char *fn);

#endif
