/* SPDX-License-Identifier: BSD-3-Clause */
#include "bench_util.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <turbojpeg.h>

#include "linalg/linalg.h"

double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bench_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void bench_write_photos(const char *dir, int classes, int count, int W0, int H0, int W1, int H1) {
    int W = W0 > W1 ? W0 : W1, H = H0 > H1 ? H0 : H1;
    uint8_t *px = malloc((size_t)W * H * 3);
    tjhandle t = tjInitCompress();
    if (!px || !t) exit(1);
    unsigned seed = 12345;
    for (int k = 0; k < count; k++) {
        W = k % 2 ? W1 : W0;
        H = k % 2 ? H1 : H0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                seed = seed * 1103515245u + 12345u;
                int noise = (int)((seed >> 16) % 25) - 12;
                double a = sin(0.03 * x + 0.5 * k) * cos(0.02 * y), b = (double)(x + y) / (W + H);
                int blk = ((x / (37 + k % 5)) + (y / 29)) % 3;
                int v[3] = {(int)(120 + 90 * a) + noise, (int)(255 * b) + noise, 60 * blk + 40 + noise};
                for (int ch = 0; ch < 3; ch++)
                    px[3 * (y * W + x) + ch] = (uint8_t)(v[ch] < 0 ? 0 : (v[ch] > 255 ? 255 : v[ch]));
            }
        unsigned char *jb = NULL;
        unsigned long jn = 0;
        if (tjCompress2(t, px, W, 0, H, TJPF_RGB, &jb, &jn, TJSAMP_420, 90, 0) != 0) exit(1);
        char p[600];
        if (classes > 0)
            snprintf(p, sizeof p, "%s/c%d/img%03d.jpg", dir, k % classes, k);
        else
            snprintf(p, sizeof p, "%s/img%03d.jpg", dir, k);
        FILE *f = fopen(p, "wb");
        if (!f || fwrite(jb, 1, jn, f) != jn) exit(1);
        fclose(f);
        tjFree(jb);
    }
    tjDestroy(t);
    free(px);
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
