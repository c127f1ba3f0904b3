/* bench_dist: data-parallel training throughput.  Run it under mpirun:
 *
 *   for P in 1 2 4; do mpirun --oversubscribe -np $P build/bench/bench_dist [method] [steps] [overlap|blocking] [local-bn]; done
 *
 * Each rank trains with 1 thread on its shard of a fixed global batch (256
 * synthetic 28x28 images of 4096, MLP encoder and projector); after 3 warm-up
 * steps rank 0 prints steps/s and two fractions of a step: "comm", the time
 * inside the MPI filler's collectives on any thread (the communication
 * thread's overlapped all-reduce included), and "exposed", the time the
 * training thread was blocked in collectives (sslk_dist_wait_seconds: the
 * communication not hidden behind the backward; waiting for the slowest
 * rank included in both).  "blocking" clears the table's any_thread: the
 * all-reduce then runs after the backward.  "local-bn" turns SyncBN off
 * (per-rank batch statistics; with SyncBN on, its backward all-reduces wait
 * behind the queued buckets, which limits the overlap).  Without mpirun it
 * runs as one process (no table).
 * `bench_dist loss ...`: the losses alone on the in-process fake (bench_dist_loss.c).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "sslkit/sslkit.h"

#define NIMG 4096 /* 16 steps per epoch */
#define SIDE 28
#define WARM 3

typedef struct timing {
    uint64_t steps, warm;
    double t0, c0, t1, c1, w0, w1;
} timing;

static int on_step(void *user, const sslk_train_progress *p) {
    timing *T = user;
    if (p->global_step == T->warm) {
        T->t0 = bench_now();
        T->c0 = sslk_dist_mpi_seconds();
        T->w0 = sslk_dist_wait_seconds();
    }
    if (p->global_step == T->steps) {
        T->t1 = bench_now();
        T->c1 = sslk_dist_mpi_seconds();
        T->w1 = sslk_dist_wait_seconds();
    }
    return 0;
}

#define CK(call)                                                                                       \
    do {                                                                                               \
        sslk_status s_ = (call);                                                                       \
        if (s_ != SSLK_OK) {                                                                           \
            fprintf(stderr, "bench_dist: %s: %s\n", #call, sslk_last_error());                         \
            sslk_dist_mpi_abort(1);                                                                    \
        }                                                                                              \
    } while (0)

int bench_dist_loss(int argc, char **argv); /* bench_dist_loss.c */

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "loss")) return bench_dist_loss(argc - 1, argv + 1);
    const char *mname = argc > 1 ? argv[1] : "vicreg";
    const int steps = argc > 2 ? atoi(argv[2]) : 20;
    const int blocking = argc > 3 && !strcmp(argv[3], "blocking");
    const int local_bn = argc > 4 && !strcmp(argv[4], "local-bn");
    if (steps <= WARM) return fprintf(stderr, "bench_dist: steps must exceed %d\n", WARM), 2;
    sslk_dist t = {.struct_size = sizeof t, .world_size = 1};
    const int dist = sslk_dist_mpi_launched();
    if (dist) CK(sslk_dist_mpi_init(0, &t));
    if (blocking) t.any_thread = 0;
    sslk_ctx *c = NULL;
    CK(sslk_ctx_create(&c));
    CK(sslk_ctx_set_threads(c, 1));
    if (dist && t.world_size > 1) CK(sslk_ctx_set_dist(c, &t));
    uint8_t *px = malloc((size_t)NIMG * SIDE * SIDE);
    int32_t *lab = malloc(NIMG * sizeof(int32_t));
    unsigned s = 99;
    for (size_t i = 0; i < (size_t)NIMG * SIDE * SIDE; i++) {
        s = s * 1103515245u + 12345u;
        px[i] = (uint8_t)(s >> 24);
    }
    for (int i = 0; i < NIMG; i++) lab[i] = i % 10;
    sslk_dataset *ds = NULL;
    CK(sslk_dataset_from_memory(c, px, NIMG, SIDE, SIDE, 1, lab, &ds));
    sslk_method m;
    CK(sslk_method_from_name(mname, &m));
    sslk_trainer *tr = NULL;
    const char *proj = m == SSLK_METHOD_DIET ? "" : "linear:512,bn,relu,linear:256";
    CK(sslk_trainer_create(c, m, ds, "flatten,linear:512,bn,relu,linear:512,bn,relu", proj, &tr));
    CK(sslk_trainer_set_i64(tr, SSLK_TRAIN_BATCH, 256));
    const int epochs = (steps + 15) / 16;
    CK(sslk_trainer_set_i64(tr, SSLK_TRAIN_EPOCHS, epochs));
    CK(sslk_trainer_set_i64(tr, SSLK_TRAIN_WORKERS, 1));
    CK(sslk_trainer_set_i64(tr, SSLK_TRAIN_MONITOR_EVERY, 0));
    if (local_bn) {
        sslk_model *mm = NULL;
        CK(sslk_trainer_encoder(tr, &mm));
        CK(sslk_model_set_i64(mm, SSLK_MODEL_SYNC_BN, 0));
        CK(sslk_trainer_projector(tr, &mm));
        CK(sslk_model_set_i64(mm, SSLK_MODEL_SYNC_BN, 0));
    }
    if (m == SSLK_METHOD_DIET) CK(sslk_trainer_set_i64(tr, SSLK_TRAIN_SUBSET, NIMG));
    timing T = {.steps = (uint64_t)epochs * 16, .warm = WARM};
    CK(sslk_trainer_set_callbacks(tr, on_step, NULL, &T));
    CK(sslk_trainer_fit(tr, 0));
    const double secs = T.t1 - T.t0, comm = T.c1 - T.c0, exposed = T.w1 - T.w0;
    /* the slowest rank sets the pace: report rank 0 (every rank waits at each step) */
    if (t.rank == 0) {
        printf("%-8s ranks %d  threads 1  global batch 256  %-8s %s steps/s %7.2f  images/s %7.0f  comm %5.1f%%  "
               "exposed %5.1f%% of a step\n",
               mname, t.world_size, t.world_size == 1 ? "-" : t.any_thread ? "overlap" : "blocking",
               local_bn ? "local-bn" : "sync-bn ",
               (double)(T.steps - WARM) / secs, 256.0 * (double)(T.steps - WARM) / secs, 100.0 * comm / secs,
               100.0 * exposed / secs);
    }
    sslk_trainer_destroy(tr);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
    free(px);
    free(lab);
    if (dist) sslk_dist_mpi_finalize();
    return 0;
}
