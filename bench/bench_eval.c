/* Seconds of the evaluation protocol on synthetic features of the main job's
 * size: kNN (fit + 10000 queries against 60000 x 512, k = 20, cosine) and
 * the linear probe (default recipe: penalty search on a held-out 10%, refit),
 * at 1 and 2 threads, with the kNN similarity GEMM's rate.  Synthetic blobs
 * are easy for the probe (L-BFGS stops early); real features show its cost:
 *   sslkit embed RUN --split train --out ztr.npy; sslkit embed RUN --split test --out zte.npy
 *   (labels saved with numpy) then bench_eval ztr.npy ytr.npy zte.npy yte.npy
 * Usage: bench_eval [n_train] [dim] | bench_eval Ztrain.npy ytrain.npy Ztest.npy ytest.npy
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "sslkit/sslkit.h"

#define NC 10

/* Gaussian blobs around NC random centres, spread so the probe is not trivial. */
static void blobs(float *z, int32_t *y, size_t n, size_t d, unsigned seed) {
    static float centre[NC][4096];
    unsigned s = 12345;
    for (int c = 0; c < NC; c++)
        for (size_t j = 0; j < d; j++) {
            s = s * 1664525u + 1013904223u;
            centre[c][j] = (float)((s >> 8) * (1.0 / 16777216.0) - 0.5);
        }
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        y[i] = (int32_t)((seed >> 8) % NC);
        for (size_t j = 0; j < d; j += 2) {
            seed = seed * 1664525u + 1013904223u;
            double u1 = ((seed >> 8) + 0.5) / 16777216.0;
            seed = seed * 1664525u + 1013904223u;
            double u2 = ((seed >> 8) + 0.5) / 16777216.0, r = sqrt(-2 * log(u1));
            z[i * d + j] = centre[y[i]][j] + (float)(2.0 * r * cos(6.283185307 * u2));
            if (j + 1 < d) z[i * d + j + 1] = centre[y[i]][j + 1] + (float)(2.0 * r * sin(6.283185307 * u2));
        }
    }
}

static void check(sslk_status s, const char *what) {
    if (s != SSLK_OK) {
        fprintf(stderr, "%s: %s: %s\n", what, sslk_status_str(s), sslk_last_error());
        exit(1);
    }
}

/* An NPY array read as `as` into a new buffer; rows / cols from its shape. */
static void *load(sslk_ctx *c, const char *path, sslk_dtype as, size_t *rows, size_t *cols) {
    sslk_npy *f;
    check(sslk_npy_open(c, path, &f), path);
    *rows = sslk_npy_dim(f, 0);
    *cols = sslk_npy_ndim(f) > 1 ? sslk_npy_dim(f, 1) : 1;
    size_t count = sslk_npy_count(f);
    void *buf = malloc(count * sslk_dtype_size(as));
    if (!buf) exit(1);
    check(sslk_npy_read(f, as, buf, count), path);
    sslk_npy_close(f);
    return buf;
}

int main(int argc, char **argv) {
    size_t n = argc == 2 || argc == 3 ? (size_t)atol(argv[1]) : 60000, d = argc == 3 ? (size_t)atol(argv[2]) : 512;
    size_t m = 10000, nclasses = NC;
    float *z, *q;
    int32_t *y, *yq;
    if (argc == 5) {
        sslk_ctx *c;
        check(sslk_ctx_create(&c), "ctx");
        size_t one, dq;
        z = load(c, argv[1], SSLK_DTYPE_F32, &n, &d);
        y = load(c, argv[2], SSLK_DTYPE_I32, &one, &one);
        q = load(c, argv[3], SSLK_DTYPE_F32, &m, &dq);
        yq = load(c, argv[4], SSLK_DTYPE_I32, &one, &one);
        sslk_ctx_destroy(c);
        if (dq != d) return fprintf(stderr, "train and test features differ in width\n"), 2;
        nclasses = 0;
        for (size_t i = 0; i < n; i++) nclasses = (size_t)y[i] + 1 > nclasses ? (size_t)y[i] + 1 : nclasses;
        printf("evaluation protocol on %s: train %zu x %zu, %zu queries, %zu classes\n\n", argv[1], n, d, m, nclasses);
    } else {
        if (d > 4096 || n < 100 || argc > 3)
            return fprintf(stderr, "usage: bench_eval [n_train >= 100] [dim <= 4096] | Z.npy y.npy Zq.npy yq.npy\n"), 2;
        z = malloc(n * d * sizeof *z), q = malloc(m * d * sizeof *q);
        y = malloc(n * sizeof *y), yq = malloc(m * sizeof *yq);
        if (!z || !q || !y || !yq) return 1;
        blobs(z, y, n, d, 1);
        blobs(q, yq, m, d, 2);
        printf("evaluation protocol on synthetic features: train %zu x %zu, %zu queries, %d classes\n\n", n, d, m, NC);
    }
    printf("%-8s %10s %12s %10s %10s %10s %10s\n", "threads", "kNN s", "kNN GFLOP/s", "kNN top1", "probe s",
           "probe top1", "probe l2");
    for (int th = 1; th <= 2; th++) {
        sslk_ctx *c;
        check(sslk_ctx_create(&c), "ctx");
        check(sslk_ctx_set_threads(c, th), "threads");
        sslk_knn *k;
        double t1 = 0, t5 = 0, p1 = 0, l2 = 0;
        check(sslk_knn_create(c, &k), "knn");
        double t0 = bench_now();
        check(sslk_knn_fit(k, z, y, n, d, nclasses), "knn fit");
        check(sslk_knn_evaluate(k, q, yq, m, d, &t1, &t5), "knn eval");
        double tk = bench_now() - t0;
        sslk_knn_destroy(k);
        sslk_probe *p;
        check(sslk_probe_create(c, &p), "probe");
        t0 = bench_now();
        check(sslk_probe_fit(p, z, y, n, d, nclasses), "probe fit");
        double tp = bench_now() - t0;
        check(sslk_probe_evaluate(p, q, yq, m, d, &p1), "probe eval");
        check(sslk_probe_chosen_l2(p, &l2), "l2");
        sslk_probe_destroy(p);
        printf("%-8d %10.2f %12.1f %9.2f%% %10.2f %9.2f%% %10.0e\n", th, tk, 2.0 * (double)n * m * d / tk / 1e9,
               100 * t1, tp, 100 * p1, l2);
        sslk_ctx_destroy(c);
    }
    free(z);
    free(q);
    free(y);
    free(yq);
    return 0;
}
