/* bench_dist loss: the per-rank cost of the losses across ranks, on the
 * in-process fake table (no MPI needed):
 *
 *   build/bench/bench_dist loss [ntxent|msn|all] [reps]
 *
 * Weak scaling: every rank holds b rows (NT-Xent b = 256, d = 128, 2 views,
 * tau 0.1; MSN b = 128, d = 256, K = 1024 prototypes, 2 anchor views, 3
 * Sinkhorn iterations), P = 1, 2, 4 ranks on threads (1 thread each), value
 * and gradients.  Prints the median CPU time of one call on the busiest rank
 * (thread CPU clock: waiting in the fake's barriers costs none, so the figure
 * is the rank's own work whatever the number of cores), the median wall time,
 * and the bytes one rank hands to the collectives per call (received by a
 * gather, the buffer of an all-reduce).  P = 1 is one process, no table.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "sslkit/sslkit.h"

#define MAXP 4
#define MAXREPS 64

typedef struct counted {
    sslk_dist in;
    double bytes;
    int calls;
} counted;

static size_t sum_counts(const size_t *counts, int W) {
    size_t s = 0;
    for (int r = 0; r < W; r++) s += counts[r];
    return s;
}
static int c_gf(void *u, const float *s, size_t n, float *r, const size_t *c) {
    counted *k = u;
    k->bytes += 4.0 * (double)sum_counts(c, k->in.world_size), k->calls++;
    return k->in.allgatherv_f32(k->in.user, s, n, r, c);
}
static int c_gd(void *u, const double *s, size_t n, double *r, const size_t *c) {
    counted *k = u;
    k->bytes += 8.0 * (double)sum_counts(c, k->in.world_size), k->calls++;
    return k->in.allgatherv_f64(k->in.user, s, n, r, c);
}
static int c_rf(void *u, float *b, size_t n) {
    counted *k = u;
    k->bytes += 4.0 * (double)n, k->calls++;
    return k->in.allreduce_sum_f32(k->in.user, b, n);
}
static int c_rd(void *u, double *b, size_t n) {
    counted *k = u;
    k->bytes += 8.0 * (double)n, k->calls++;
    return k->in.allreduce_sum_f64(k->in.user, b, n);
}
static int c_bc(void *u, void *b, size_t n, int root) {
    counted *k = u;
    k->bytes += (double)n, k->calls++;
    return k->in.broadcast(k->in.user, b, n, root);
}
static int c_bar(void *u) {
    counted *k = u;
    return k->in.barrier(k->in.user);
}

typedef struct job {
    int msn, P, reps;
    size_t b, d, K;
    float *Z, *T; /* P b rows of each view (MSN: 2 anchor views + targets) */
    counted wrap[MAXP];
    double cpu[MAXP][MAXREPS], wall[MAXREPS];
    double bytes;
    int calls;
    sslk_status st[MAXP];
} job;

static double thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void rank_fn(sslk_ctx *ctx, int rank, void *user) {
    job *J = user;
    size_t b = J->b, d = J->d, N = (size_t)J->P * b;
    if (J->P > 1) {
        counted *k = &J->wrap[rank];
        k->in.struct_size = sizeof k->in;
        sslk_ctx_get_dist(ctx, &k->in);
        sslk_dist t = k->in;
        t.user = k;
        t.allgatherv_f32 = c_gf, t.allgatherv_f64 = c_gd, t.allreduce_sum_f32 = c_rf, t.allreduce_sum_f64 = c_rd;
        t.broadcast = c_bc, t.barrier = c_bar;
        sslk_ctx_set_dist(ctx, &t);
    }
    sslk_loss *L = NULL;
    sslk_status s = sslk_loss_create(ctx, J->msn ? SSLK_LOSS_MSN : SSLK_LOSS_INFONCE, &L);
    if (s == SSLK_OK && J->msn) {
        s = sslk_loss_set_i64(L, SSLK_MSN_NUM_PROTOTYPES, (int64_t)J->K);
        if (s == SSLK_OK) s = sslk_loss_set_i64(L, SSLK_MSN_DIM, (int64_t)d);
    }
    float *g = malloc(2 * b * d * sizeof(float));
    const float *views[2] = {J->Z + (size_t)rank * b * d, J->Z + (N + (size_t)rank * b) * d};
    float *grads[2] = {g, g + b * d};
    sslk_loss_batch B = {sizeof B, views, 2, b, d, NULL, J->msn ? J->T + (size_t)rank * b * d : NULL};
    double v;
    if (s == SSLK_OK) s = sslk_loss_compute(L, &B, &v, grads); /* warm-up: workspaces, prototypes */
    for (int i = 0; s == SSLK_OK && i < J->reps; i++) {
        if (J->msn) sslk_loss_zero_grad(L);
        double t0 = bench_now(), c0 = thread_cpu();
        double b0 = J->wrap[rank].bytes;
        int k0 = J->wrap[rank].calls;
        s = sslk_loss_compute(L, &B, &v, grads);
        J->cpu[rank][i] = thread_cpu() - c0;
        if (rank == 0) {
            J->wall[i] = bench_now() - t0;
            J->bytes = J->wrap[0].bytes - b0;
            J->calls = J->wrap[0].calls - k0;
        }
    }
    J->st[rank] = s;
    if (s != SSLK_OK) fprintf(stderr, "bench_dist loss: rank %d: %s\n", rank, sslk_last_error());
    free(g);
    sslk_loss_destroy(L);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double median(double *x, int n) {
    qsort(x, (size_t)n, sizeof *x, cmp_d);
    return x[n / 2];
}

static int run(int msn, int reps) {
    const size_t b = msn ? 128 : 256, d = msn ? 256 : 128, K = 1024;
    printf("%s: %zu rows per rank, d = %zu%s, 2 views, float32, 1 thread per rank, median of %d calls\n",
           msn ? "MSN" : "NT-Xent", b, d, msn ? ", K = 1024, 3 Sinkhorn iterations" : ", tau 0.1", reps);
    printf("   P  global B  CPU ms / call (busiest rank)  wall ms  bytes to collectives (rank 0)  collectives\n");
    for (int P = 1; P <= MAXP; P *= 2) {
        job *J = calloc(1, sizeof *J);
        J->msn = msn, J->P = P, J->reps = reps, J->b = b, J->d = d, J->K = K;
        size_t N = (size_t)P * b;
        J->Z = malloc(2 * N * d * sizeof(float));
        J->T = malloc(N * d * sizeof(float));
        unsigned s = 7;
        for (size_t i = 0; i < 2 * N * d; i++) {
            s = s * 1103515245u + 12345u;
            J->Z[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
        }
        for (size_t i = 0; i < N * d; i++) J->T[i] = J->Z[i] + 0.1f * J->Z[(i * 7) % (N * d)];
        sslk_status st = sslk_dist_fake_run(P, rank_fn, J);
        for (int r = 0; r < P; r++)
            if (J->st[r] != SSLK_OK) st = J->st[r];
        if (st != SSLK_OK) return 1;
        double worst = 0;
        for (int r = 0; r < P; r++) {
            double m = median(J->cpu[r], reps);
            worst = m > worst ? m : worst;
        }
        printf("%4d  %8zu  %28.1f  %7.1f  %30.0f  %11d\n", P, N, 1e3 * worst, 1e3 * median(J->wall, reps), J->bytes,
               J->calls);
        free(J->Z);
        free(J->T);
        free(J);
    }
    return 0;
}

int bench_dist_loss(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "all";
    int reps = argc > 2 ? atoi(argv[2]) : 7;
    if (reps < 1 || reps > MAXREPS) return fprintf(stderr, "bench_dist loss: reps in 1..%d\n", MAXREPS), 2;
    int rc = 0;
    if (!strcmp(which, "ntxent") || !strcmp(which, "all")) rc |= run(0, reps);
    if (!strcmp(which, "msn") || !strcmp(which, "all")) rc |= run(1, reps);
    return rc;
}
