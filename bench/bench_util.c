/* SPDX-License-Identifier: BSD-3-Clause */
#include "bench_util.h"

#include <stdlib.h>
#include <time.h>

#include "linalg/linalg.h"

double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(void (*fn)(void *), void *arg, int reps) {
    if (reps < 1) reps = 1;
    double *t = malloc(sizeof(double) * (size_t)reps);
    fn(arg);
    for (int i = 0; i < reps; i++) {
        double t0 = bench_now();
        fn(arg);
        t[i] = bench_now() - t0;
    }
    qsort(t, (size_t)reps, sizeof(double), cmp_d);
    double m = t[reps / 2];
    free(t);
    return m;
}

typedef struct {
    sslk_ctx *ctx;
    size_t n;
    float *a, *b, *c;
} gemm_arg;

static void gemm_fn(void *p) {
    gemm_arg *g = p;
    ssli_sgemm(g->ctx, false, false, g->n, g->n, g->n, 1.0f, g->a, g->n, g->b, g->n, 0.0f, g->c, g->n);
}

double bench_sgemm_gflops(int nthreads, size_t n) {
    sslk_ctx *ctx;
    sslk_ctx_create(&ctx);
    sslk_ctx_set_threads(ctx, nthreads);
    gemm_arg g = {ctx, n, malloc(n * n * 4), malloc(n * n * 4), malloc(n * n * 4)};
    for (size_t i = 0; i < n * n; i++) {
        g.a[i] = (float)(i % 7) * 0.1f;
        g.b[i] = (float)(i % 5) * 0.1f;
    }
    double t = bench_median(gemm_fn, &g, 5);
    free(g.a);
    free(g.b);
    free(g.c);
    sslk_ctx_destroy(ctx);
    return 2.0 * (double)n * n * n / t * 1e-9;
}
