/* SplineCam throughput: regions/s and wall time at 1 and 2 threads for
 * (a) a 2-64-64-64-10 MLP on [-1,1]^2, (b) a 784-256-256-256-10 MLP on the
 * plane through three Fashion-MNIST test images, (c) a small conv net with
 * max-pool on that plane.  Models use the PyTorch default initialisation.
 * Usage: bench_splinecam [reps [case]]   (median of reps runs, default 3; case a, b or c)
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_util.h"
#include "sslkit/sslkit.h"

typedef struct job {
    sslk_ctx *ctx;
    sslk_model *m;
    sslk_slice *s;
    size_t regions;
    double length;
    sslk_status st;
} job;

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void run(void *arg) {
    job *j = arg;
    sslk_partition *p = NULL;
    j->st = sslk_splinecam(j->ctx, j->m, j->s, 0, &p);
    if (j->st == SSLK_OK) {
        sslk_partition_info(p, &j->regions, NULL, NULL, NULL);
        sslk_partition_boundary_length(p, &j->length);
    }
    sslk_partition_destroy(p);
}

static long max_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

/* Three Fashion-MNIST test images scaled to [0, 1] (random points when missing). */
static int anchors_784(sslk_ctx *c, float *a) {
    sslk_dataset *ds = NULL;
    const size_t idx[3] = {0, 1, 2};
    if (sslk_dataset_open(c, "fashion-mnist", SSLK_SPLIT_TEST, &ds) == SSLK_OK) {
        uint8_t img[784];
        size_t h, w, ch;
        int ok = 1;
        for (int i = 0; i < 3 && ok; i++) {
            ok = sslk_dataset_read(ds, idx[i], img, sizeof img, &h, &w, &ch) == SSLK_OK && h * w * ch == 784;
            for (int k = 0; ok && k < 784; k++) a[i * 784 + k] = img[k] / 255.0f;
        }
        sslk_dataset_destroy(ds);
        if (ok) return 1;
    }
    srand(1);
    for (int k = 0; k < 3 * 784; k++) a[k] = (float)rand() / (float)RAND_MAX;
    return 0;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    if (reps < 1) reps = 1;
    const char *only = argc > 2 ? argv[2] : NULL;
    sslk_ctx *c;
    if (sslk_ctx_create(&c) != SSLK_OK) return 1;
    float *a = malloc(3 * 784 * sizeof *a);
    int real = anchors_784(c, a);
    struct {
        const char *name, *spec;
        size_t ndim, shape[3];
    } cases[3] = {
        {"(a) MLP 2-64-64-64-10, [-1,1]^2", "linear:64,relu,linear:64,relu,linear:64,relu,linear:10", 1, {2, 0, 0}},
        {"(b) MLP 784-256x3-10, FMNIST plane", "linear:256,relu,linear:256,relu,linear:256,relu,linear:10", 1, {784, 0, 0}},
        {"(c) conv+maxpool, FMNIST plane", "conv:4:5:2:2,relu,maxpool:2,conv:8:3:1:1,relu,maxpool:2,flatten,linear:10", 3, {1, 28, 28}},
    };
    printf("SplineCam benchmark (median of %d runs; anchors: %s)\n", reps,
           real ? "Fashion-MNIST test images 0,1,2" : "random 784-D points (dataset missing)");
    printf("%-36s %7s %9s %9s %9s %11s %9s %13s %7s\n", "case", "threads", "regions", "bnd.len", "wall s",
           "regions/s", "cpu s/run", "regions/cpu-s", "maxRSS");
    for (int k = 0; k < 3; k++) {
        if (only && only[0] != 'a' + k) continue;
        sslk_model *m = NULL;
        if (sslk_model_from_spec(c, cases[k].spec, cases[k].ndim, cases[k].shape, 1, &m) != SSLK_OK) {
            fprintf(stderr, "model: %s\n", sslk_last_error());
            return 1;
        }
        sslk_slice *s = NULL;
        sslk_status st;
        if (k == 0) {
            float o[2] = {0, 0}, d[4] = {1, 0, 0, 1};
            double ext[4] = {-1, 1, -1, 1};
            st = sslk_slice_from_box(c, o, d, 2, ext, &s);
        } else {
            st = sslk_slice_from_anchors(c, a, 3, 784, 1.0, &s);
        }
        if (st != SSLK_OK) {
            fprintf(stderr, "slice: %s\n", sslk_last_error());
            return 1;
        }
        for (int t = 1; t <= 2; t++) {
            sslk_ctx_set_threads(c, t);
            job j = {c, m, s, 0, 0, SSLK_OK};
            double c0 = cpu_now();
            double sec = bench_median(run, &j, reps);
            double cpu = (cpu_now() - c0) / (reps + 1); /* bench_median runs reps + 1 times */
            if (j.st != SSLK_OK) {
                fprintf(stderr, "splinecam: %s: %s\n", sslk_status_str(j.st), sslk_last_error());
                return 1;
            }
            printf("%-36s %7d %9zu %9.4g %9.4f %11.4g %9.4f %13.4g %5ldMB\n", cases[k].name, t, j.regions, j.length,
                   sec, (double)j.regions / sec, cpu, (double)j.regions / cpu, max_rss_mb());
            fflush(stdout);
        }
        sslk_slice_destroy(s);
        sslk_model_destroy(m);
    }
    free(a);
    sslk_ctx_destroy(c);
    return 0;
}
