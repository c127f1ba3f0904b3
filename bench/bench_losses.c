/* Forward + backward time of every loss kind at the sizes, the GEMM
 * flops each loss inherently needs as a fraction of the BLIS sgemm rate
 * measured in the same run, and the ratio against PyTorch (bench/losses_ref.py
 * through /usr/bin/python3, same thread count) when torch imports.
 * Usage: bench_losses [threads=2] [reps=5] [notorch|torch] [row-filter]
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "sslkit/sslkit.h"

#ifndef SSLK_BENCH_SRC
#define SSLK_BENCH_SRC "bench"
#endif

typedef struct {
    sslk_loss *L;
    const float *views[16];
    float *grads[16];
    size_t V, n, d;
    int64_t *idx;
    const float *targets;
    const float *neg; /* MoCo v2: the queue (N rows), through sslk_loss_compute_negatives */
    size_t m;
} job;

static void run(void *p) {
    job *j = p;
    sslk_loss_batch b = {sizeof b, j->views, j->V, j->n, j->d, j->idx, j->targets};
    double v;
    sslk_status s = j->neg ? sslk_loss_compute_negatives(j->L, j->views[0], j->views[1], j->n, j->d, j->neg, j->m,
                                                         &v, j->grads[0], NULL)
                           : sslk_loss_compute(j->L, &b, &v, j->grads);
    if (s != SSLK_OK) {
        fprintf(stderr, "compute failed: %s\n", sslk_last_error());
        exit(1);
    }
}

static float *randn(size_t cnt, unsigned seed) {
    float *x = malloc(cnt * sizeof(float));
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < cnt; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double u1 = ((double)(s >> 11) + 0.5) * 0x1.0p-53;
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double u2 = (double)(s >> 11) * 0x1.0p-53;
        x[i] = (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
    }
    return x;
}

typedef struct {
    const char *key, *label;
    sslk_loss_kind kind;
    size_t n, d, N, V; /* rows per view, width, classes/prototypes, views */
} row;

/* PyTorch time of one row (run right after ours, under the same load), NAN
 * when /usr/bin/python3 or torch is missing. */
static double torch_time(const char *key, int threads, int reps) {
    char cmd[1024], out[256] = {0};
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/losses_ref.py %d %d %s 2>/dev/null", SSLK_BENCH_SRC, threads,
             reps < 3 ? 3 : reps, key);
    FILE *f = popen(cmd, "r");
    if (!f) return NAN;
    size_t len = fread(out, 1, sizeof out - 1, f);
    int rc = pclose(f);
    const char *p = strstr(out, key);
    if (rc != 0 || len == 0 || !p) return NAN;
    return atof(p + strlen(key));
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    int use_torch = !(argc > 3 && strcmp(argv[3], "notorch") == 0);
    const char *only = argc > 4 ? argv[4] : NULL; /* run rows whose key contains this */
    const row rows[] = {
        {"vicreg_256_2048 ", "VICReg (256, 2048)", SSLK_LOSS_VICREG, 256, 2048, 0, 2},
        {"vicreg_1024_2048 ", "VICReg (1024, 2048)", SSLK_LOSS_VICREG, 1024, 2048, 0, 2},
        {"vicreg_512_8192 ", "VICReg (512, 8192)", SSLK_LOSS_VICREG, 512, 8192, 0, 2},
        {"ntxent_512_128 ", "NT-Xent (512, 128)", SSLK_LOSS_INFONCE, 512, 128, 0, 2},
        {"ntxent_2048_256 ", "NT-Xent (2048, 256)", SSLK_LOSS_INFONCE, 2048, 256, 0, 2},
        {"diet_256_512_60000 ", "DIET (256, 512, 60000)", SSLK_LOSS_DIET, 256, 512, 60000, 1},
        {"diet_256_2048_50000 ", "DIET (256, 2048, 50000)", SSLK_LOSS_DIET, 256, 2048, 50000, 1},
        {"msn_256_256_1024_11 ", "MSN (256, 256, K 1024, 11 views)", SSLK_LOSS_MSN, 256, 256, 1024, 11},
        /* issue 21: Barlow Twins at the VICReg sizes, symmetric SimSiam at the NT-Xent sizes */
        {"barlow_256_2048 ", "Barlow Twins (256, 2048)", SSLK_LOSS_BARLOW_TWINS, 256, 2048, 0, 2},
        {"barlow_1024_2048 ", "Barlow Twins (1024, 2048)", SSLK_LOSS_BARLOW_TWINS, 1024, 2048, 0, 2},
        {"barlow_512_8192 ", "Barlow Twins (512, 8192)", SSLK_LOSS_BARLOW_TWINS, 512, 8192, 0, 2},
        {"negcos_512_128 ", "SimSiam neg. cosine (512, 128)", SSLK_LOSS_NEGCOS, 512, 128, 0, 4},
        {"negcos_2048_256 ", "SimSiam neg. cosine (2048, 256)", SSLK_LOSS_NEGCOS, 2048, 256, 0, 4},
        /* issue 21c: MoCo at the NT-Xent sizes; v2 with a queue of N keys, v3 symmetric (4 views) */
        {"mocov2_512_128_4096 ", "MoCo v2 (512, 128, queue 4096)", SSLK_LOSS_MOCO, 512, 128, 4096, 2},
        {"mocov2_2048_256_16384 ", "MoCo v2 (2048, 256, queue 16384)", SSLK_LOSS_MOCO, 2048, 256, 16384, 2},
        {"mocov3_512_128 ", "MoCo v3 symmetric (512, 128)", SSLK_LOSS_MOCO, 512, 128, 0, 4},
        {"mocov3_2048_256 ", "MoCo v3 symmetric (2048, 256)", SSLK_LOSS_MOCO, 2048, 256, 0, 4},
        /* issue 21: DINO at the VICReg sizes (n, K), the official 2 global + 8 local
         * student crops and 2 teacher views */
        {"dino_256_2048 ", "DINO (256, K 2048, 10+2 views)", SSLK_LOSS_DINO, 256, 2048, 0, 12},
        {"dino_1024_2048 ", "DINO (1024, K 2048, 10+2 views)", SSLK_LOSS_DINO, 1024, 2048, 0, 12},
        {"dino_512_8192 ", "DINO (512, K 8192, 10+2 views)", SSLK_LOSS_DINO, 512, 8192, 0, 12},
        /* issue 21b: SwAV at the official defaults (K 3000, D 128; 2 crops, 2 + 6 multi-crop) and the MSN row's sizes */
        {"swav_256_128_3000_2 ", "SwAV (256, 128, K 3000, 2 crops)", SSLK_LOSS_SWAV, 256, 128, 3000, 2},
        {"swav_256_128_3000_8 ", "SwAV (256, 128, K 3000, 8 crops)", SSLK_LOSS_SWAV, 256, 128, 3000, 8},
        {"swav_256_256_1024_11 ", "SwAV (256, 256, K 1024, 11 crops)", SSLK_LOSS_SWAV, 256, 256, 1024, 11},
    };
    const size_t nrows = sizeof rows / sizeof rows[0];

    /* the BLIS rate is re-measured next to every row: on a shared machine the
     * available throughput drifts, and the fraction is only meaningful against a
     * rate measured under the same load */
    printf("threads %d%s\n", threads, use_torch ? "" : " (PyTorch comparison off)");
    printf("%-34s %10s %10s %10s %7s %10s %8s\n", "row", "ms", "GFLOP", "BLIS GF/s", "%BLIS", "torch ms",
           "speedup");
    sslk_ctx *ctx;
    sslk_ctx_create(&ctx);
    sslk_ctx_set_threads(ctx, threads);
    for (size_t r = 0; r < nrows; r++) {
        const row *w = &rows[r];
        if (only && !strstr(w->key, only)) continue;
        job j = {0};
        j.n = w->n;
        j.d = w->d;
        j.V = w->V;
        sslk_loss_create(ctx, w->kind, &j.L);
        for (size_t v = 0; v < w->V; v++) {
            j.views[v] = randn(w->n * w->d, (unsigned)(r * 31 + v));
            j.grads[v] = malloc(w->n * w->d * sizeof(float));
        }
        double flops = 0, n = (double)w->n, d = (double)w->d, N = (double)w->N, V = (double)w->V;
        if (w->kind == SSLK_LOSS_VICREG || w->kind == SSLK_LOSS_BARLOW_TWINS) {
            double m = fmin(n, d), M = fmax(n, d);
            /* VICReg per view: syrk m^2 M + gemm 2 m^2 M; Barlow: C (or two n x n
             * syrks) and two gradient gemms, the same 6 m^2 M */
            flops = 2 * 3 * m * m * M;
        } else if (w->kind == SSLK_LOSS_INFONCE) {
            double T = V * n;
            flops = 3 * T * T * d; /* syrk T^2 d + gemm 2 T^2 d */
        } else if (w->kind == SSLK_LOSS_DIET) {
            sslk_loss_set_i64(j.L, SSLK_DIET_NUM_SAMPLES, (int64_t)w->N);
            sslk_loss_set_i64(j.L, SSLK_DIET_DIM, (int64_t)w->d);
            j.idx = malloc(w->n * sizeof(int64_t));
            for (size_t i = 0; i < w->n; i++) j.idx[i] = (int64_t)((i * 7919) % w->N);
            flops = 6 * n * d * N; /* logits, dH, dW */
        } else if (w->kind == SSLK_LOSS_MSN) {
            sslk_loss_set_i64(j.L, SSLK_MSN_NUM_PROTOTYPES, (int64_t)w->N);
            sslk_loss_set_i64(j.L, SSLK_MSN_DIM, (int64_t)w->d);
            j.targets = randn(w->n * w->d, 999);
            flops = 6 * V * n * N * d + 2 * n * N * d; /* anchor logits, dZ, dQ + target logits */
        }
        if (w->kind == SSLK_LOSS_SWAV) {
            sslk_loss_set_i64(j.L, SSLK_SWAV_NUM_PROTOTYPES, (int64_t)w->N);
            sslk_loss_set_i64(j.L, SSLK_SWAV_DIM, (int64_t)w->d);
            flops = 6 * V * n * N * d; /* scores, dZ, dC */
        }
        if (w->kind == SSLK_LOSS_NEGCOS) sslk_loss_set_i64(j.L, SSLK_NEGCOS_SYMMETRIC, 1); /* no GEMM */
        float *queue = NULL;
        if (w->kind == SSLK_LOSS_MOCO && w->N) { /* v2: logits against the queue, gradient GEMM */
            j.neg = queue = randn(w->N * w->d, 4242);
            j.m = w->N;
            flops = 4 * n * N * d;
        } else if (w->kind == SSLK_LOSS_MOCO) { /* v3: per pair q k^T and dS k */
            sslk_loss_set_i64(j.L, SSLK_MOCO_VERSION, 3);
            flops = 2 * 4 * n * n * d;
        }
        double rate = bench_sgemm_gflops(threads, 1024);
        double t = bench_median(run, &j, reps);
        rate = 0.5 * (rate + bench_sgemm_gflops(threads, 1024));
        char key[64];
        snprintf(key, sizeof key, "%s", w->key);
        key[strcspn(key, " ")] = 0;
        double tt = use_torch ? torch_time(key, threads, reps) : NAN;
        printf("%-34s %10.2f %10.2f %10.1f %6.0f%% %10.2f %7.2fx\n", w->label, 1e3 * t, flops * 1e-9, rate,
               100.0 * flops / t * 1e-9 / rate, 1e3 * tt, tt / t);
        fflush(stdout);
        for (size_t v = 0; v < w->V; v++) {
            free((void *)j.views[v]);
            free(j.grads[v]);
        }
        free(j.idx);
        free((void *)j.targets);
        free(queue);
        sslk_loss_destroy(j.L);
    }
    sslk_ctx_destroy(ctx);
    return 0;
}
