/* sgemm / dgemm rates through libsslkit's linalg door, one column per kernel
 * set available here (blis, avx2, avx512, neon: docs/performance.md "Dense
 * kernels"), at 1 and 2 threads, for square sizes and the shapes the library
 * runs: tall-skinny products and Grams, the default encoder's linear and conv
 * (im2col) GEMMs, the DIET head.  Each cell is the median of `reps` timings,
 * each timing repeating the product for at least 20 ms.  One-thread cells
 * are timed in process CPU seconds, so that other processes taking the core
 * do not count (the rate per core-second); the others in wall seconds.  bench/gemm_ref.py
 * prints torch.mm's rates for the same shapes.  Run it with a competing load
 * to choose the threading back end (docs/building.md).
 *   bench_gemm [reps] [all|square|lib] [s|d|sd] [threads...]
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "linalg/linalg.h"

typedef struct {
    const char *name;
    size_t m, n, k;
    bool ta, tb;
    bool square;
} shape;

static const shape SHAPES[] = {
    {"square 256", 256, 256, 256, false, false, true},
    {"square 512", 512, 512, 512, false, false, true},
    {"square 1024", 1024, 1024, 1024, false, false, true},
    {"square 2048", 2048, 2048, 2048, false, false, true},
    /* tall-skinny: a 16384 x 256 batch times a 256 x 256 weight, and its Gram-like A^T B */
    {"tall 16384x256x256", 16384, 256, 256, false, false, false},
    {"tall^T 256x256x16384", 256, 256, 16384, true, false, false},
    /* default encoder (trainer.c) on 28 x 28 images, per chunk as layer_conv2d.c cuts them */
    {"conv1 fwd 32x588x25", 32, 588, 25, false, false, false},
    {"conv2 fwd 64x539x288", 64, 539, 288, false, false, false},
    {"conv2 dW 64x288x539", 64, 288, 539, false, true, false},
    {"conv2 dX 288x539x64", 288, 539, 64, true, false, false},
    {"linear 256x512x3136", 256, 512, 3136, false, true, false},
    /* DIET's classification head: batch 256, embedding 512, 60000 classes */
    {"DIET 256x60000x512", 256, 60000, 512, false, true, false},
};

typedef struct {
    sslk_ctx *ctx;
    const shape *s;
    bool dbl;
    void *a, *b, *c;
} job;

static void run_once(const job *j) {
    const shape *s = j->s;
    size_t lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    if (j->dbl)
        ssli_dgemm(j->ctx, s->ta, s->tb, s->m, s->n, s->k, 1.0, j->a, lda, j->b, ldb, 0.0, j->c, s->n);
    else
        ssli_sgemm(j->ctx, s->ta, s->tb, s->m, s->n, s->k, 1.0f, j->a, lda, j->b, ldb, 0.0f, j->c, s->n);
}

/* Median over reps timings, each repeating the product for >= 20 ms of
 * `clock`; GFLOP/s. */
static double rate(job *j, int reps, double (*clock)(void)) {
    run_once(j); /* warm-up: packing buffers, page faults */
    double t0 = clock();
    int calls = 0;
    do {
        run_once(j);
        calls++;
    } while (clock() - t0 < 0.02);
    double *r = malloc((size_t)reps * sizeof *r);
    for (int q = 0; q < reps; q++) {
        double t = clock();
        for (int c = 0; c < calls; c++) run_once(j);
        r[q] = (clock() - t) / calls;
    }
    for (int a = 1; a < reps; a++) /* insertion sort: reps is small */
        for (int b = a; b > 0 && r[b] < r[b - 1]; b--) {
            double x = r[b];
            r[b] = r[b - 1];
            r[b - 1] = x;
        }
    double med = r[reps / 2];
    free(r);
    return 2.0 * (double)j->s->m * (double)j->s->n * (double)j->s->k / med * 1e-9;
}

static void *filled(size_t count, bool dbl, unsigned seed) {
    size_t es = dbl ? sizeof(double) : sizeof(float);
    void *p = malloc(count * es);
    if (!p) {
        fprintf(stderr, "bench_gemm: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < count; i++) {
        double v = (double)((i * 2654435761u + seed) % 1000) / 1000.0 - 0.5;
        if (dbl)
            ((double *)p)[i] = v;
        else
            ((float *)p)[i] = (float)v;
    }
    return p;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    const char *which = argc > 2 ? argv[2] : "all";
    const char *prec = argc > 3 ? argv[3] : "sd";
    int threads[4] = {1, 2}, nthr = 2;
    if (argc > 4) {
        nthr = 0;
        for (int i = 4; i < argc && nthr < 4; i++) threads[nthr++] = atoi(argv[i]);
    }
    if (reps < 1) reps = 1;
    printf("CPU ISA: %s, BLIS %s config %s, default kernel set: %s\n", ssli_cpu_isa(),
           ssli_blis_version(), ssli_blis_arch(), ssli_kernels_name(ssli_kernels_default()));
    ssli_kernels sets[SSLI_KERNELS_COUNT];
    int nsets = 0;
    for (int k = 0; k < SSLI_KERNELS_COUNT; k++)
        if (ssli_kernels_supported((ssli_kernels)k)) sets[nsets++] = (ssli_kernels)k;
    printf("GFLOP/s; 1 thread: per process-CPU second, more threads: per wall second\n");
    printf("| shape | prec | thr |");
    for (int i = 0; i < nsets; i++) printf(" %s |", ssli_kernels_name(sets[i]));
    for (int i = 1; i < nsets; i++) printf(" %s/blis |", ssli_kernels_name(sets[i]));
    printf("\n|---|---|---|");
    for (int i = 0; i < 2 * nsets - 1; i++) printf("---|");
    printf("\n");
    for (size_t si = 0; si < sizeof SHAPES / sizeof SHAPES[0]; si++) {
        const shape *s = &SHAPES[si];
        if (strcmp(which, "square") == 0 && !s->square) continue;
        if (strcmp(which, "lib") == 0 && s->square) continue;
        for (int d = 0; d < 2; d++) {
            if (!strchr(prec, d ? 'd' : 's')) continue;
            job j = {NULL, s, d == 1, filled(s->m * s->k, d, 1), filled(s->k * s->n, d, 2),
                     filled(s->m * s->n, d, 3)};
            for (int t = 0; t < nthr; t++) {
                sslk_ctx_create(&j.ctx);
                sslk_ctx_set_threads(j.ctx, threads[t]);
                double g[SSLI_KERNELS_COUNT];
                for (int i = 0; i < nsets; i++) {
                    ssli_kernels_force(sets[i]);
                    g[i] = rate(&j, reps, threads[t] == 1 ? bench_cpu_now : bench_now);
                }
                printf("| %s | %s | %d |", s->name, d ? "d" : "s", threads[t]);
                for (int i = 0; i < nsets; i++) printf(" %.1f |", g[i]);
                for (int i = 1; i < nsets; i++) printf(" %.2f |", g[i] / g[0]);
                printf("\n");
                fflush(stdout);
                sslk_ctx_destroy(j.ctx);
            }
            free(j.a);
            free(j.b);
            free(j.c);
        }
    }
    return 0;
}
