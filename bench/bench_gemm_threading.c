/* The two ways a multi-threaded sgemm uses T threads (lib/linalg/gemm_threading.c):
 * "split" (C cut into about 3 blocks per thread, each a single-thread BLIS
 * call: every block packs its own panels) and "blis" (one BLIS call with T
 * threads, packed panels shared).
 *   work table (any machine): the blocks of a T-thread split run one after
 *     another on one thread (OMP_THREAD_LIMIT=1; the program re-runs itself
 *     so), against one single-thread call: the work the split adds, which a
 *     T-core machine pays whatever its cores.  Process-CPU GFLOP/s.
 *   wall table (a machine with T free cores): split against blis at T threads.
 * Shapes: the default encoder's linear layer at batch 512 (forward, input and
 * weight gradient), the projector's 512 x 512 x 512, square 2048.
 *   bench_gemm_threading [reps] [T...]   (default reps 7, T = 2 4 8 16; the
 *   wall table uses the T up to the CPUs this process may run on)
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity */
#endif
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "linalg/linalg.h"
#include "sslkit/sslkit.h"

typedef struct {
    const char *name;
    size_t m, n, k;
    bool ta, tb;
} shape;

static const shape SHAPES[] = {
    {"linear fwd 512x512x3136", 512, 512, 3136, false, true},
    {"linear dX 512x3136x512", 512, 3136, 512, false, false},
    {"linear dW 512x3136x512^T", 512, 3136, 512, true, false},
    {"projector 512x512x512", 512, 512, 512, false, true},
    {"square 2048", 2048, 2048, 2048, false, false},
};
#define NSHAPES (sizeof SHAPES / sizeof SHAPES[0])

typedef struct {
    const shape *s;
    sslk_ctx *ctx;
    float *A, *B, *C;
} job;

static void run(void *p) {
    const job *j = p;
    const shape *s = j->s;
    ssli_sgemm(j->ctx, s->ta, s->tb, s->m, s->n, s->k, 1.0f, j->A, s->ta ? s->m : s->k, j->B, s->tb ? s->k : s->n,
               0.0f, j->C, s->n);
}

/* GFLOP/s of the product at `threads` in `mode`; cpu: per process-CPU second. */
static double rate(const shape *s, int threads, ssli_gemm_threading mode, int reps, bool cpu, float *A, float *B,
                   float *C) {
    sslk_ctx *ctx;
    if (sslk_ctx_create(&ctx) != SSLK_OK || sslk_ctx_set_threads(ctx, threads) != SSLK_OK) {
        fprintf(stderr, "bench_gemm_threading: %s\n", sslk_last_error());
        exit(1);
    }
    ssli_gemm_threading_force(mode);
    job j = {s, ctx, A, B, C};
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = cpu ? bench_cpu_now() : bench_now();
        run(&j);
        double t = (cpu ? bench_cpu_now() : bench_now()) - t0;
        if (t < best) best = t;
    }
    sslk_ctx_destroy(ctx);
    return 2.0 * (double)s->m * (double)s->n * (double)s->k / best / 1e9;
}

int main(int argc, char **argv) {
    const char *lim = getenv("OMP_THREAD_LIMIT");
    const bool serial = lim && strcmp(lim, "1") == 0;
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 1) reps = 7;
    int ts[16], nts = 0;
    for (int i = 2; i < argc && nts < 16; i++)
        if (atoi(argv[i]) > 1) ts[nts++] = atoi(argv[i]);
    if (!nts) ts[0] = 2, ts[1] = 4, ts[2] = 8, ts[3] = 16, nts = 4;
    cpu_set_t cs;
    const int cpus = sched_getaffinity(0, sizeof cs, &cs) == 0 ? CPU_COUNT(&cs) : 1;
    size_t most = 0;
    for (size_t i = 0; i < NSHAPES; i++) {
        size_t a = SHAPES[i].m * SHAPES[i].k, b = SHAPES[i].k * SHAPES[i].n, c = SHAPES[i].m * SHAPES[i].n;
        if (a > most) most = a;
        if (b > most) most = b;
        if (c > most) most = c;
    }
    float *A = malloc(most * sizeof(float)), *B = malloc(most * sizeof(float)), *C = malloc(most * sizeof(float));
    if (!A || !B || !C) return 1;
    for (size_t i = 0; i < most; i++) A[i] = (float)(i % 13) * 0.05f - 0.3f, B[i] = (float)(i % 7) * 0.1f - 0.3f;

    if (serial) {
        printf("work: the blocks of a T-thread split run on one thread, against one call (1 thread)\n");
        printf("GFLOP/s per process-CPU second, best of %d\n| shape | one call |", reps);
        for (int t = 0; t < nts; t++) printf(" split T=%d |", ts[t]);
        printf(" one call / split, by T |\n|---|---|");
        for (int t = 0; t < nts; t++) printf("---|");
        printf("---|\n");
        for (size_t i = 0; i < NSHAPES; i++) {
            const shape *s = &SHAPES[i];
            const double one = rate(s, 1, SSLI_GEMM_THREADING_SPLIT, reps, true, A, B, C);
            double r[16];
            printf("| %s | %.1f |", s->name, one);
            for (int t = 0; t < nts; t++) {
                r[t] = rate(s, ts[t], SSLI_GEMM_THREADING_SPLIT, reps, true, A, B, C);
                printf(" %.1f |", r[t]);
            }
            printf(" ");
            for (int t = 0; t < nts; t++) printf("%s%.2f", t ? " / " : "", one / r[t]);
            printf(" |\n");
        }
        return 0;
    }
    printf("machine: %d CPUs usable; %s\n", cpus, sslk_linalg_info());
    printf("\nwall: GFLOP/s at T threads, best of %d\n", reps);
    printf("| shape | T | split | blis | blis / split |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < NSHAPES; i++)
        for (int t = 0; t < nts; t++) {
            if (ts[t] > cpus) continue;
            const double a = rate(&SHAPES[i], ts[t], SSLI_GEMM_THREADING_SPLIT, reps, false, A, B, C);
            const double b = rate(&SHAPES[i], ts[t], SSLI_GEMM_THREADING_BLIS, reps, false, A, B, C);
            printf("| %s | %d | %.1f | %.1f | %.2f |\n", SHAPES[i].name, ts[t], a, b, b / a);
        }
    free(A), free(B), free(C);
    fflush(stdout);
    /* the work table needs OpenMP limited to one thread from the start: run again so */
    setenv("OMP_THREAD_LIMIT", "1", 1);
    printf("\n");
    fflush(stdout);
    execv("/proc/self/exe", argv);
    perror("bench_gemm_threading: re-run with OMP_THREAD_LIMIT=1");
    return 1;
}
