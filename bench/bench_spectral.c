/* Laplacian eigenmaps of Fashion-MNIST pixels (d = 784, scaled to [0, 1]):
 * libsslkit (exact kNN by GEMM blocks, ARPACK on D^-1/2 W D^-1/2) against
 * scikit-learn's SpectralEmbedding (bench/spectral_ref.py) with equivalent
 * settings: 10 neighbours (sklearn n_neighbors = 11 with itself), binary
 * weights averaged over both directions, random-walk scaling, trivial vector
 * dropped.  Prints the time of each, their ratio and the agreement of the
 * two embeddings up to sign and rotation (cosines of principal angles).
 * "graph s" times the graph alone, "sslkit s" the whole eigenmaps call
 * (graph again + eigenvectors), which is what sklearn's time covers too.
 * The reference runs under `ulimit -v 8000000` (8 GB) so that its sparse
 * LU (shift-invert) cannot exhaust a shared machine; NaN means it failed.
 * usage: bench_spectral [THREADS] [K] [N ...]     (default 1 32 10000 60000)
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "sslkit/sslkit.h"

#ifndef SSLK_BENCH_SRC
#define SSLK_BENCH_SRC "bench"
#endif

#define CHECK(x)                                                                                    \
    do {                                                                                            \
        sslk_status s_ = (x);                                                                       \
        if (s_ != SSLK_OK) {                                                                        \
            fprintf(stderr, "%s: %s\n", #x, sslk_last_error());                                     \
            exit(1);                                                                                \
        }                                                                                           \
    } while (0)

static float *load_fmnist(sslk_ctx *ctx, size_t n) {
    sslk_dataset *ds;
    CHECK(sslk_dataset_open(ctx, "fashion-mnist", SSLK_SPLIT_TRAIN, &ds));
    size_t count;
    CHECK(sslk_dataset_count(ds, &count));
    if (n > count) n = count;
    float *x = malloc(n * 784 * sizeof *x);
    uint8_t img[784];
    for (size_t i = 0; i < n; i++) {
        size_t h, w, c;
        CHECK(sslk_dataset_read(ds, i, img, sizeof img, &h, &w, &c));
        for (size_t j = 0; j < 784; j++) x[i * 784 + j] = img[j] / 255.0f;
    }
    sslk_dataset_destroy(ds);
    return x;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    size_t k = argc > 2 ? (size_t)atol(argv[2]) : 32, sizes[16] = {10000, 60000};
    int ns = 2;
    if (argc > 3) {
        ns = 0;
        for (int i = 3; i < argc && ns < 16; i++) sizes[ns++] = (size_t)atol(argv[i]);
    }
    const size_t neighbors = 10;
    sslk_ctx *ctx;
    CHECK(sslk_ctx_create(&ctx));
    sslk_ctx_set_threads(ctx, threads);
    char feat[] = "/tmp/sslk_bench_spectral_f_XXXXXX", emb_path[] = "/tmp/sslk_bench_spectral_e_XXXXXX";
    int fd1 = mkstemp(feat), fd2 = mkstemp(emb_path);
    if (fd1 < 0 || fd2 < 0) return 1;
    close(fd1);
    close(fd2);
    printf("Laplacian eigenmaps of Fashion-MNIST pixels, d = 784, k = %zu, %zu neighbours, %d thread(s)\n", k,
           neighbors, threads);
    printf("%7s %10s %10s %10s %8s %9s %9s %9s\n", "N", "graph s", "sslkit s", "sklearn s", "ratio", "cos min",
           "cos mean", "col med");
    for (int s = 0; s < ns; s++) {
        size_t n = sizes[s];
        float *x = load_fmnist(ctx, n);
        sslk_spectral *sp;
        CHECK(sslk_spectral_create(ctx, &sp));
        CHECK(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_NEIGHBORS, (int64_t)neighbors));
        CHECK(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_WEIGHTS, SSLK_SPECTRAL_BINARY));
        CHECK(sslk_spectral_set_i64(sp, SSLK_SPECTRAL_LAPLACIAN, SSLK_SPECTRAL_RANDOM_WALK));
        float *emb = malloc(n * k * sizeof *emb);
        double *ev = malloc(k * sizeof *ev);
        double t0 = bench_now();
        CHECK(sslk_spectral_graph(sp, x, n, 784));
        double tg = bench_now() - t0;
        t0 = bench_now();
        CHECK(sslk_spectral_eigenmaps(sp, x, n, 784, k, emb, ev));
        double t = bench_now() - t0;
        size_t fs[2] = {n, 784}, es[2] = {n, k};
        CHECK(sslk_npy_save(ctx, feat, SSLK_DTYPE_F32, x, 2, fs));
        CHECK(sslk_npy_save(ctx, emb_path, SSLK_DTYPE_F32, emb, 2, es));
        double ref = NAN, cmin = NAN, cmean = NAN, cmed = NAN;
        char cmd[2048], line[1024];
        snprintf(cmd, sizeof cmd,
                 "ulimit -v 8000000; OMP_NUM_THREADS=%d BLIS_NUM_THREADS=%d OPENBLAS_NUM_THREADS=%d "
                 "/usr/bin/python3 %s/spectral_ref.py %s %s %zu %d 2>/dev/null",
                 threads, threads, threads, SSLK_BENCH_SRC, feat, emb_path, neighbors, threads);
        FILE *p = access("/usr/bin/python3", X_OK) == 0 ? popen(cmd, "r") : NULL;
        if (p) {
            if (fgets(line, sizeof line, p)) {
                const char *a = strstr(line, "\"sklearn\": "), *b = strstr(line, "\"cos_min\": "),
                           *c = strstr(line, "\"cos_mean\": "), *e = strstr(line, "\"col_median\": ");
                if (a && b && c && e) {
                    ref = atof(a + 11);
                    cmin = atof(b + 11);
                    cmean = atof(c + 12);
                    cmed = atof(e + 14);
                }
            }
            pclose(p);
        }
        printf("%7zu %10.2f %10.2f %10.2f %8.2f %9.5f %9.5f %9.5f   (lambda_1 %.3g, lambda_k %.3g)\n", n, tg, t,
               ref, ref / t, cmin, cmean, cmed, ev[0], ev[k - 1]);
        fflush(stdout);
        sslk_spectral_destroy(sp);
        free(x);
        free(emb);
        free(ev);
    }
    unlink(feat);
    unlink(emb_path);
    sslk_ctx_destroy(ctx);
    return 0;
}
