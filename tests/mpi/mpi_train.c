/* Driver of the mpi suite (run under mpirun by run_mpi.py):
 *   mpi_train equal METHOD   5 training steps on P ranks; every rank checks
 *                            its loader read only its rows and its parameters
 *                            equal rank 0's, rank 0 checks they equal one
 *                            process with the global batch
 *   mpi_train kill DIR       checkpoints into DIR; rank 1 dies (SIGKILL)
 *                            after the first checkpoint
 *   mpi_train stall DIR      rank 1 stops calling collectives: the others
 *                            must fail with SSLK_E_DIST within the timeout
 *   mpi_train load DIR       (no MPI) the checkpoint in DIR loads
 *   mpi_train overlap METHOD 5 steps with the all-reduce overlapped with the
 *                            backward (communication thread) and 5 without:
 *                            the same bits on every rank
 * SPDX-License-Identifier: BSD-3-Clause */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SSLK_EXPERIMENTAL
#define SSLK_EXPERIMENTAL
#endif
#include "sslkit/sslkit.h"

#define NIMG 96
#define SIDE 8
#define BATCH 14 /* 7 + 7 on 2 ranks, 4 + 5 + 5 on 3: uneven shards */

#define OK(call)                                                                                          \
    do {                                                                                                  \
        sslk_status s_ = (call);                                                                          \
        if (s_ != SSLK_OK) {                                                                              \
            fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #call, sslk_status_str(s_),     \
                    sslk_last_error());                                                                   \
            exit(2);                                                                                      \
        }                                                                                                 \
    } while (0)

static uint8_t px[NIMG * SIDE * SIDE];
static int32_t lab[NIMG];

/* Four classes of 8x8 patterns with per-image noise (as tests/unit/test_train.c). */
static void fill_pixels(void) {
    unsigned s = 12345;
    for (int i = 0; i < NIMG; i++) {
        int k = i % 4;
        lab[i] = k;
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                int on = k == 0 ? (y == 2 || y == 5) : k == 1 ? (x == 3 || x == 4)
                         : k == 2 ? (abs(x - 4) + abs(y - 4) < 3) : (x == y || x == SIDE - 1 - y);
                s = s * 1103515245u + 12345u;
                px[(i * SIDE + y) * SIDE + x] = (uint8_t)((on ? 200 : 30) + (int)((s >> 16) % 40));
            }
    }
}

static sslk_ctx *make_ctx(const sslk_dist *t) {
    sslk_ctx *c = NULL;
    OK(sslk_ctx_create(&c));
    OK(sslk_ctx_set_threads(c, 1));
    sslk_ctx_set_seed(c, 7);
    if (t) OK(sslk_ctx_set_dist(c, t));
    return c;
}

static int dbg_step(void *u, const sslk_train_progress *p) {
    fprintf(stderr, "[%s] step %llu loss %.9g\n", (const char *)u, (unsigned long long)p->step, p->loss);
    return 0;
}

static const char *g_enc = "flatten,linear:32,bn,relu";

static sslk_trainer *make_trainer(sslk_ctx *c, sslk_dataset **ds, sslk_method m, int epochs, int steps) {
    OK(sslk_dataset_from_memory(c, px, NIMG, SIDE, SIDE, 1, lab, ds));
    sslk_trainer *tr = NULL;
    const char *proj = m == SSLK_METHOD_DIET ? "" : "linear:16,bn,relu,linear:16";
    OK(sslk_trainer_create(c, m, *ds, g_enc, proj, &tr));
    OK(sslk_trainer_set_i64(tr, SSLK_TRAIN_BATCH, BATCH));
    OK(sslk_trainer_set_i64(tr, SSLK_TRAIN_EPOCHS, epochs));
    OK(sslk_trainer_set_i64(tr, SSLK_TRAIN_STEPS_PER_EPOCH, steps));
    OK(sslk_trainer_set_f64(tr, SSLK_TRAIN_WARMUP_EPOCHS, 0));
    OK(sslk_trainer_set_f64(tr, SSLK_TRAIN_FINAL_LR_RATIO, 1.0));
    /* SGD: AdamW divides by sqrt(v), which turns the rounding noise of
     * gradients that are zero in exact arithmetic (the last bias before a
     * shift-invariant loss such as VICReg) into lr-sized steps, so no two
     * summation orders could agree to 1e-5; the losses then agree to 1e-9. */
    OK(sslk_trainer_set_i64(tr, SSLK_TRAIN_OPTIMIZER, SSLK_OPTIM_SGD));
    OK(sslk_trainer_set_f64(tr, SSLK_TRAIN_LR, 0.05));
    OK(sslk_trainer_set_i64(tr, SSLK_TRAIN_WORKERS, 1));
    OK(sslk_trainer_set_i64(tr, SSLK_TRAIN_MONITOR_EVERY, 0));
    if (getenv("MPI_TRAIN_DEBUG")) OK(sslk_trainer_set_callbacks(tr, dbg_step, NULL, (void *)"step"));
    return tr;
}

/* All trained tensors (encoder, projector, loss-owned) concatenated. */
static float *params(sslk_trainer *tr, size_t *n, size_t *nmodel) {
    sslk_model *ms[2];
    OK(sslk_trainer_encoder(tr, &ms[0]));
    OK(sslk_trainer_projector(tr, &ms[1]));
    sslk_loss *l = NULL;
    OK(sslk_trainer_loss(tr, &l));
    float *out = NULL;
    size_t len = 0;
    for (int pass = 0; pass < 3; pass++) {
        size_t cnt = 0;
        if (pass == 2) *nmodel = len;
        if (pass < 2 && ms[pass]) OK(sslk_model_param_count(ms[pass], &cnt));
        if (pass == 2 && l) OK(sslk_loss_param_count(l, &cnt));
        for (size_t i = 0; i < cnt; i++) {
            sslk_param_view v = {.struct_size = sizeof v};
            if (pass < 2) OK(sslk_model_param(ms[pass], i, &v));
            else OK(sslk_loss_param(l, i, &v));
            out = realloc(out, (len + v.count) * sizeof(float));
            if (!out) exit(2);
            memcpy(out + len, v.data, v.count * sizeof(float));
            len += v.count;
        }
    }
    *n = len;
    return out;
}

static int run_equal(const sslk_dist *t, const char *mname) {
    sslk_method m;
    OK(sslk_method_from_name(mname, &m));
    sslk_ctx *c = make_ctx(t);
    sslk_dataset *ds = NULL;
    sslk_trainer *tr = make_trainer(c, &ds, m, 1, 5);
    OK(sslk_trainer_fit(tr, 0));
    /* the rank's loader read only its rows: 5 steps of its shard of BATCH */
    sslk_loader *ld = NULL;
    sslk_loader_stats st = {.struct_size = sizeof st};
    OK(sslk_trainer_loader(tr, &ld));
    OK(sslk_loader_stats_get(ld, &st));
    const uint64_t mine_rows = (uint64_t)(BATCH * (t->rank + 1) / t->world_size - BATCH * t->rank / t->world_size);
    int bad = st.images != 5 * mine_rows;
    printf("rank %d: loaded %llu rows in 5 steps (its shard: %llu per step)\n", t->rank,
           (unsigned long long)st.images, (unsigned long long)mine_rows);
    size_t nl = 0, nm = 0;
    float *local = params(tr, &nl, &nm);
    /* the networks are the same on every rank: compare with rank 0's */
    float *r0 = malloc(nm * sizeof(float));
    memcpy(r0, local, nm * sizeof(float));
    OK(t->broadcast(t->user, r0, nm * sizeof(float), 0) == 0 ? SSLK_OK : SSLK_E_DIST);
    if (memcmp(r0, local, nm * sizeof(float)) != 0) bad = 1;
    if (bad) fprintf(stderr, "rank %d: parameters differ from rank 0's\n", t->rank);
    /* the loss's tensors: the same on every rank, except DIET's head whose
     * row shards, in rank order, make the head: assemble on rank 0 */
    const int sharded = m == SSLK_METHOD_DIET && t->world_size > 1;
    size_t n = nl;
    float *mine = local;
    if (sharded) {
        mine = malloc(nm * sizeof(float));
        memcpy(mine, local, nm * sizeof(float));
        n = nm;
        for (int r = 0; r < t->world_size; r++) {
            uint64_t cnt = nl - nm;
            OK(t->broadcast(t->user, &cnt, sizeof cnt, r) == 0 ? SSLK_OK : SSLK_E_DIST);
            mine = realloc(mine, (n + cnt) * sizeof(float));
            if (t->rank == r) memcpy(mine + n, local + nm, cnt * sizeof(float));
            OK(t->broadcast(t->user, mine + n, cnt * sizeof(float), r) == 0 ? SSLK_OK : SSLK_E_DIST);
            n += cnt;
        }
        free(local);
    }
    if (t->rank == 0) {
        sslk_ctx *c1 = make_ctx(NULL);
        sslk_dataset *ds1 = NULL;
        sslk_trainer *ref = make_trainer(c1, &ds1, m, 1, 5);
        OK(sslk_trainer_fit(ref, 0));
        size_t n1 = 0, nm1 = 0;
        float *one = params(ref, &n1, &nm1);
        double worst = 0, scale = 0, moved = 0;
        for (size_t i = 0; i < n1 && n1 == n; i++) scale = fmax(scale, fabs(one[i]));
        size_t wi = 0;
        for (size_t i = 0; i < n1 && n1 == n; i++)
            if (fabs((double)mine[i] - one[i]) > worst) {
                worst = fabs((double)mine[i] - one[i]);
                wi = i;
            }
        printf("largest difference at parameter %zu: %.9g vs %.9g\n", wi, mine[wi], one[wi]);
        /* guard against a test that cannot fail: training moved the parameters */
        sslk_ctx *c0 = make_ctx(NULL);
        sslk_dataset *ds0 = NULL;
        sslk_trainer *init = make_trainer(c0, &ds0, m, 1, 5);
        size_t n0 = 0, nm0 = 0;
        float *p0 = params(init, &n0, &nm0);
        for (size_t i = 0; i < n0 && n0 == n; i++) moved = fmax(moved, fabs((double)p0[i] - one[i]));
        printf("%s on %d ranks: %zu parameters, max |P ranks - 1 process| = %.3g (scale %.3g, rel %.3g), "
               "moved by training %.3g\n", mname, t->world_size, n, worst, scale, worst / scale, moved);
        if (n1 != n || !(worst <= 1e-5 * scale) || !(moved > 1e-3)) bad = 1;
        free(one);
        free(p0);
        sslk_trainer_destroy(init);
        sslk_dataset_destroy(ds0);
        sslk_ctx_destroy(c0);
        sslk_trainer_destroy(ref);
        sslk_dataset_destroy(ds1);
        sslk_ctx_destroy(c1);
    }
    free(mine);
    free(r0);
    sslk_trainer_destroy(tr);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
    return bad;
}

/* The overlapped and the blocking all-reduce hand MPI the same buckets in
 * the same order: the same bits.  The encoder is wide enough (1.2 M floats)
 * for three 4 MiB buckets, so buckets go while the backward still runs. */
static int run_overlap(sslk_dist *t, const char *mname) {
    sslk_method m;
    OK(sslk_method_from_name(mname, &m));
    g_enc = "flatten,linear:2048,bn,relu,linear:512,bn,relu";
    if (!t->any_thread) {
        fprintf(stderr, "rank %d: MPI did not grant MPI_THREAD_SERIALIZED: no overlap to test\n", t->rank);
        return 1;
    }
    float *p[2] = {NULL, NULL};
    size_t n[2] = {0, 0}, nm = 0;
    double wait[2] = {0, 0};
    for (int pass = 0; pass < 2; pass++) {
        sslk_dist tp = *t;
        tp.any_thread = pass == 0; /* 0: blocking all-reduce after the backward */
        sslk_ctx *c = make_ctx(&tp);
        sslk_dataset *ds = NULL;
        sslk_trainer *tr = make_trainer(c, &ds, m, 1, 5);
        double w0 = sslk_dist_wait_seconds();
        OK(sslk_trainer_fit(tr, 0));
        wait[pass] = sslk_dist_wait_seconds() - w0;
        p[pass] = params(tr, &n[pass], &nm);
        sslk_trainer_destroy(tr);
        sslk_dataset_destroy(ds);
        sslk_ctx_destroy(c);
    }
    int bad = n[0] != n[1] || memcmp(p[0], p[1], n[0] * sizeof(float)) != 0;
    printf("rank %d: %s overlap on %d ranks: %zu parameters %s; blocked in collectives %.3f s overlapped, %.3f s "
           "not\n", t->rank, mname, t->world_size, n[0], bad ? "DIFFER" : "bitwise equal", wait[0], wait[1]);
    free(p[0]);
    free(p[1]);
    return bad;
}

static int g_rank, g_stall;

/* After the first epoch (its checkpoint is on disk): rank 1 dies or stalls. */
static int on_epoch(void *user, const sslk_train_progress *p) {
    (void)user;
    if (g_rank == 1 && p->epoch == 0) {
        if (g_stall) sleep(60);
        else raise(SIGKILL);
    }
    return 0;
}

static int run_fail(const sslk_dist *t, const char *dir, int stall) {
    g_rank = t->rank;
    g_stall = stall;
    sslk_ctx *c = make_ctx(t);
    sslk_dataset *ds = NULL;
    sslk_trainer *tr = make_trainer(c, &ds, SSLK_METHOD_VICREG, 4, 2);
    OK(sslk_trainer_set_checkpoint_dir(tr, dir));
    OK(sslk_trainer_set_callbacks(tr, NULL, on_epoch, NULL));
    sslk_status s = sslk_trainer_fit(tr, 0);
    fprintf(stderr, "rank %d: fit -> %s: %s\n", t->rank, sslk_status_str(s), sslk_last_error());
    sslk_dist_mpi_abort(s == SSLK_E_DIST ? 3 : 4); /* the stalled rank cannot be waited for */
    return 4;
}

static int run_load(const char *dir) {
    sslk_ctx *c = make_ctx(NULL);
    sslk_dataset *ds = NULL;
    OK(sslk_dataset_from_memory(c, px, NIMG, SIDE, SIDE, 1, lab, &ds));
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoint.sslkt", dir);
    sslk_trainer *tr = NULL;
    OK(sslk_trainer_load(c, path, ds, &tr));
    uint64_t e = 0;
    OK(sslk_trainer_epochs_done(tr, &e));
    printf("checkpoint %s loads: %llu epoch(s) done\n", path, (unsigned long long)e);
    sslk_trainer_destroy(tr);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
    return e >= 1 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: mpi_train equal METHOD | overlap METHOD | kill DIR | stall DIR | load DIR\n");
        return 2;
    }
    fill_pixels();
    if (!strcmp(argv[1], "load")) return run_load(argv[2]);
    sslk_dist t = {.struct_size = sizeof t};
    OK(sslk_dist_mpi_init(0, &t));
    int rc = !strcmp(argv[1], "equal")     ? run_equal(&t, argv[2])
             : !strcmp(argv[1], "overlap") ? run_overlap(&t, argv[2])
             : !strcmp(argv[1], "kill")  ? run_fail(&t, argv[2], 0)
             : !strcmp(argv[1], "stall") ? run_fail(&t, argv[2], 1)
                                         : 2;
    sslk_dist_mpi_finalize();
    return rc;
}
