/* bench_embed: embedding throughput of a headless resnet18 over a folder of
 * JPEG photos at 224 (decode + evaluation transform + eval forward), images/s,
 * against the PyTorch DataLoader + torchvision pipeline in the same run
 * (bench/embed_ref.py: ImageFolder, Resize(256) + CenterCrop(224) + ToTensor +
 * Normalize, torchvision resnet18 with fc = Identity, eval, no_grad, the same
 * batch, num_workers 0, torch.set_num_threads = our thread count).
 * The sslkit side is the path `sslkit embed --model` takes: sslk_dataset_open
 * on the folder with DCT scaling off (full-size decode, as PIL), preset EVAL
 * (crop fraction 0.875, ImageNet normalisation) and sslk_model_embed.
 * The folder: N (default 64) photo-like 500x375 q90 4:2:0 JPEGs written here
 * with TurboJPEG, as bench_data's, in two class sub-folders.
 * Each side: one warm-up pass over the folder, then the median of --reps
 * passes (wall and process CPU time).  Weights are random on both sides: the
 * cost does not depend on them.
 * usage: bench_embed [--n N] [--reps R] [--batch B] [--threads 1,2] [--no-ref]
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "bench_util.h"
#include "sslkit/sslkit.h"

#ifndef SSLK_BENCH_SRC
#define SSLK_BENCH_SRC "bench"
#endif

#define CHECK(x)                                                                                             \
    do {                                                                                                     \
        sslk_status s_ = (x);                                                                                \
        if (s_ != SSLK_OK) {                                                                                 \
            fprintf(stderr, "%s: %s: %s\n", #x, sslk_status_str(s_), sslk_last_error());                     \
            exit(1);                                                                                         \
        }                                                                                                    \
    } while (0)

typedef struct rate {
    double wall, cpu; /* images per wall-clock second and per CPU-second */
} rate;

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The `sslkit embed --model` path at `threads`: median images/s of reps passes. */
static rate run_sslkit(const char *dir, int threads, int reps, size_t batch) {
    sslk_ctx *ctx;
    CHECK(sslk_ctx_create(&ctx));
    CHECK(sslk_ctx_set_threads(ctx, threads));
    const size_t shape[3] = {3, 224, 224};
    sslk_model *m;
    CHECK(sslk_model_from_spec(ctx, "resnet18-headless", 3, shape, 0, &m));
    sslk_dataset *ds;
    CHECK(sslk_dataset_open(ctx, dir, SSLK_SPLIT_TEST, &ds));
    CHECK(sslk_dataset_set_i64(ds, SSLK_DATASET_DCT_SCALING, 0));
    sslk_augment *a;
    CHECK(sslk_augment_create(ctx, 1, &a));
    CHECK(sslk_augment_preset(a, 0, SSLK_AUG_PRESET_EVAL));
    CHECK(sslk_augment_set_i64(a, 0, SSLK_AUG_SIZE, 224));
    CHECK(sslk_augment_set_f64(a, 0, SSLK_AUG_CENTER_FRACTION, 0.875));
    CHECK(sslk_augment_set_i64(a, 0, SSLK_AUG_OUT_CHANNELS, 3));
    const double mean[3] = {0.485, 0.456, 0.406}, sd[3] = {0.229, 0.224, 0.225};
    for (int k = 0; k < 3; k++) {
        CHECK(sslk_augment_set_f64(a, 0, SSLK_AUG_MEAN0 + k, mean[k]));
        CHECK(sslk_augment_set_f64(a, 0, SSLK_AUG_STD0 + k, sd[k]));
    }
    size_t n = 0, dim = 0;
    CHECK(sslk_dataset_count(ds, &n));
    CHECK(sslk_model_io_size(m, NULL, &dim));
    float *z = malloc(n * dim * sizeof(float));
    if (!z) exit(1);
    double w[64], c[64];
    if (reps > 64) reps = 64;
    CHECK(sslk_model_embed(m, ds, a, batch, z, n, dim, NULL, NULL, NULL)); /* warm-up */
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now(), c0 = bench_cpu_now();
        CHECK(sslk_model_embed(m, ds, a, batch, z, n, dim, NULL, NULL, NULL));
        w[r] = (double)n / (bench_now() - t0);
        c[r] = (double)n / (bench_cpu_now() - c0);
    }
    for (size_t i = 0; i < n * dim; i++)
        if (!isfinite(z[i])) {
            fprintf(stderr, "bench_embed: non-finite feature at %zu\n", i);
            exit(1);
        }
    qsort(w, (size_t)reps, sizeof *w, cmp_d);
    qsort(c, (size_t)reps, sizeof *c, cmp_d);
    free(z);
    sslk_augment_destroy(a);
    sslk_dataset_destroy(ds);
    sslk_model_destroy(m);
    sslk_ctx_destroy(ctx);
    return (rate){w[reps / 2], c[reps / 2]};
}

static rate run_ref(const char *dir, int threads, int reps, size_t batch) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/embed_ref.py %s --threads %d --reps %d --batch %zu 2>/dev/null",
             SSLK_BENCH_SRC, dir, threads, reps, batch);
    FILE *p = popen(cmd, "r");
    rate v = {NAN, NAN};
    if (p) {
        char line[256];
        while (fgets(line, sizeof line, p))
            if (sscanf(line, "images_per_s %lf cpu_images_per_s %lf", &v.wall, &v.cpu) == 2) break;
        pclose(p);
    }
    return v;
}

int main(int argc, char **argv) {
    int n = 64, reps = 3, noref = 0, threads[8] = {1, 2}, nt = 2;
    size_t batch = 32;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-ref")) noref = 1;
        else if (!strcmp(argv[i], "--n") && i + 1 < argc) n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            nt = 0;
            for (char *s = strtok(argv[++i], ","); s && nt < 8; s = strtok(NULL, ",")) threads[nt++] = atoi(s);
        } else {
            fprintf(stderr, "usage: bench_embed [--n N] [--reps R] [--batch B] [--threads 1,2] [--no-ref]\n");
            return 2;
        }
    }
    if (n < 2 || n > 4096 || reps < 1 || batch < 1 || batch > 4096) {
        fprintf(stderr, "bench_embed: --n in [2, 4096], --reps >= 1, --batch in [1, 4096]\n");
        return 2;
    }
    char dir[] = "/tmp/sslk_bench_embed_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char sub[600];
    for (int k = 0; k < 2; k++) {
        snprintf(sub, sizeof sub, "%s/c%d", dir, k);
        if (mkdir(sub, 0700) != 0) return 1;
    }
    bench_write_photos(dir, 2, n, 500, 375, 500, 375);

    printf("bench_embed: resnet18 (headless) embedding of %d JPEGs 500x375 -> Resize 256 + CenterCrop 224, "
           "batch %zu, median of %d passes\n", n, batch, reps);
    printf("| %-7s | %8s | %8s | %6s | %9s | %9s | %6s |\n", "threads", "sslkit", "torch DL", "ratio", "sslkit",
           "torch DL", "ratio");
    printf("| %-7s | %8s | %8s | %6s | %9s | %9s | %6s |\n", "", "img/s", "img/s", "wall", "img/cpu-s", "img/cpu-s",
           "cpu");
    printf("|---------|----------|----------|--------|-----------|-----------|--------|\n");
    for (int t = 0; t < nt; t++) {
        rate ours = run_sslkit(dir, threads[t], reps, batch);
        rate ref = noref ? (rate){NAN, NAN} : run_ref(dir, threads[t], reps, batch);
        printf("| %7d | %8.1f | %8.1f | %6.2f | %9.1f | %9.1f | %6.2f |\n", threads[t], ours.wall, ref.wall,
               ours.wall / ref.wall, ours.cpu, ref.cpu, ours.cpu / ref.cpu);
        fflush(stdout);
    }
    printf("(reference: torchvision ImageFolder + DataLoader(num_workers=0), PIL decode, "
           "torch.set_num_threads = threads)\n");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) != 0;
}
