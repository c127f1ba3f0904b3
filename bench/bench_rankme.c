/* RankMe: libsslkit (double Gram + symmetric eigensolver) against
 * numpy.linalg.svd(compute_uv=False) and torch.linalg.svdvals on the same
 * float32 data, at 1 and 2 threads.  The references run in
 * /usr/bin/python3 (bench/rankme_ref.py) when numpy / torch are installed.
 * usage: bench_rankme [REPS] [N D ...]
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

typedef struct {
    sslk_ctx *ctx;
    const float *z;
    size_t n, d;
    double value;
} job;

static void run(void *a) {
    job *j = a;
    if (sslk_rankme(j->ctx, j->z, j->n, j->d, &j->value) != SSLK_OK) {
        fprintf(stderr, "sslk_rankme: %s\n", sslk_last_error());
        exit(1);
    }
}

/* Gaussian data with column scales j^-1/2: a spread spectrum, RankMe well
 * inside (1, d). */
static void fill(float *z, size_t n, size_t d, uint64_t seed) {
    uint64_t s = seed;
    for (size_t i = 0; i < n * d; i += 2) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double u1 = ((double)(s >> 11) + 0.5) * 0x1.0p-53;
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double u2 = (double)(s >> 11) * 0x1.0p-53, r = sqrt(-2 * log(u1));
        z[i] = (float)(r * cos(6.283185307179586 * u2) / sqrt((double)(i % d + 1)));
        if (i + 1 < n * d) z[i + 1] = (float)(r * sin(6.283185307179586 * u2) / sqrt((double)((i + 1) % d + 1)));
    }
}

/* Run the Python references; fills times/values (NAN when unavailable). */
static void reference(const char *npy, int threads, int reps, double t[2], double v[2]) {
    t[0] = t[1] = v[0] = v[1] = NAN;
    if (access("/usr/bin/python3", X_OK) != 0) return;
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "OMP_NUM_THREADS=%d BLIS_NUM_THREADS=%d OPENBLAS_NUM_THREADS=%d MKL_NUM_THREADS=%d "
             "/usr/bin/python3 %s/rankme_ref.py %s %d %d 2>/dev/null",
             threads, threads, threads, threads, SSLK_BENCH_SRC, npy, threads, reps);
    FILE *p = popen(cmd, "r");
    if (!p) return;
    char line[512];
    while (fgets(line, sizeof line, p)) {
        int k = strstr(line, "\"numpy\"") ? 0 : strstr(line, "\"torch\"") ? 1 : -1;
        const char *ts = strstr(line, "\"time\": "), *vs = strstr(line, "\"value\": ");
        if (k >= 0 && ts && vs) {
            t[k] = atof(ts + 8);
            v[k] = atof(vs + 9);
        }
    }
    pclose(p);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 2;
    size_t sizes[16][2] = {{60000, 512}, {10000, 2048}, {200000, 256}};
    int ns = 3;
    if (argc > 3) {
        ns = 0;
        for (int i = 2; i + 1 < argc && ns < 16; i += 2, ns++) {
            sizes[ns][0] = (size_t)atol(argv[i]);
            sizes[ns][1] = (size_t)atol(argv[i + 1]);
        }
    }
    char npy[] = "/tmp/sslk_bench_rankme_XXXXXX";
    int fd = mkstemp(npy);
    if (fd < 0) return 1;
    close(fd);
    printf("RankMe, float32 input, median of %d runs after a warm-up (wall-clock seconds)\n", reps);
    printf("%-13s %3s %9s %9s %7s %9s %7s %10s %10s\n", "N x d", "thr", "sslkit", "numpy", "ratio", "torch",
           "ratio", "rel.diff np", "rel.diff th");
    for (int s = 0; s < ns; s++) {
        size_t n = sizes[s][0], d = sizes[s][1];
        float *z = malloc(n * d * sizeof *z);
        if (!z) return 1;
        fill(z, n, d, 42 + (uint64_t)s);
        size_t shape[2] = {n, d};
        if (sslk_npy_save(NULL, npy, SSLK_DTYPE_F32, z, 2, shape) != SSLK_OK) {
            fprintf(stderr, "%s\n", sslk_last_error());
            return 1;
        }
        for (int th = 1; th <= 2; th++) {
            job j = {NULL, z, n, d, 0};
            sslk_ctx_create(&j.ctx);
            sslk_ctx_set_threads(j.ctx, th);
            double t = bench_median(run, &j, reps), rt[2], rv[2];
            reference(npy, th, reps, rt, rv);
            char name[32];
            snprintf(name, sizeof name, "%zux%zu", n, d);
            printf("%-13s %3d %9.3f %9.3f %7.2f %9.3f %7.2f %10.1e %10.1e  (RankMe %.4f)\n", name, th, t, rt[0],
                   rt[0] / t, rt[1], rt[1] / t, fabs(j.value - rv[0]) / rv[0], fabs(j.value - rv[1]) / rv[1],
                   j.value);
            fflush(stdout);
            sslk_ctx_destroy(j.ctx);
        }
        free(z);
    }
    unlink(npy);
    return 0;
}
