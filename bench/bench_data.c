/* bench_data: images/s of the data pipeline (decode + two augmented views)
 * against PIL + torchvision doing the same recipe (bench/data_ref.py).
 *   JPEG:    ~500x375 JPEGs written here with TurboJPEG from a synthetic
 *            image, two views at 224 (VICReg preset, ImageNet normalisation)
 *   F-MNIST: Debian's dataset-fashion-mnist, two gray views at 28
 *   CIFAR:   random 32x32x3 images in memory, two views at 32
 *   SimCLR:  the full training views of the "simclr" recipe (sslk_augment_recipe;
 *            reference: torchvision's SimCLR pipeline) at 224 and at 96, on the
 *            500x375 photos and on large ones (1600x1200 and 2304x1536, 1.9
 *            and 3.5 MP), one thread: images per CPU-second is the per-core rate
 * at 1 and 2 threads (sslkit: loader workers; reference: in-process loop or a
 * torch DataLoader with 2 worker processes).
 * usage: bench_data [--quick] [--no-ref]
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Throughput of the loader over at least n items (whole epochs of batch 32). */
static rate run_loader(sslk_ctx *ctx, sslk_dataset *ds, const sslk_augment *aug, int workers, size_t n) {
    sslk_loader *ld;
    CHECK(sslk_loader_create(ctx, ds, aug, 32, &ld));
    CHECK(sslk_loader_set_i64(ld, SSLK_LOADER_WORKERS, workers));
    CHECK(sslk_loader_set_i64(ld, SSLK_LOADER_DROP_LAST, 0));
    size_t c, h, w;
    CHECK(sslk_loader_view_shape(ld, 0, &c, &h, &w));
    float *v0 = malloc(32 * c * h * w * sizeof(float)), *v1 = malloc(32 * c * h * w * sizeof(float));
    float *views[2] = {v0, v1};
    /* warm-up: one batch */
    size_t rows, done = 0;
    CHECK(sslk_loader_begin_epoch(ld, 100));
    CHECK(sslk_loader_next(ld, views, NULL, NULL, &rows));
    double t0 = bench_now(), c0 = bench_cpu_now();
    for (uint64_t e = 0; done < n; e++) {
        CHECK(sslk_loader_begin_epoch(ld, e));
        for (;;) {
            CHECK(sslk_loader_next(ld, views, NULL, NULL, &rows));
            if (!rows) break;
            done += rows;
            if (done >= n) break;
        }
    }
    rate r = {(double)done / (bench_now() - t0), (double)done / (bench_cpu_now() - c0)};
    sslk_loader_destroy(ld);
    free(v0);
    free(v1);
    return r;
}

static rate run_ref(const char *args, int workers, size_t n) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/data_ref.py %s --workers %d --n %zu 2>/dev/null", SSLK_BENCH_SRC,
             args, workers, n);
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

static sslk_augment *recipe(sslk_ctx *ctx, int size, int gray) {
    sslk_augment *a;
    CHECK(sslk_augment_create(ctx, 2, &a));
    CHECK(sslk_augment_preset(a, -1, SSLK_AUG_PRESET_VICREG));
    CHECK(sslk_augment_set_i64(a, -1, SSLK_AUG_SIZE, size));
    const double m[3] = {0.485, 0.456, 0.406}, s[3] = {0.229, 0.224, 0.225};
    for (int k = 0; k < 3; k++) {
        CHECK(sslk_augment_set_f64(a, -1, SSLK_AUG_MEAN0 + k, gray ? 0.5 : m[k]));
        CHECK(sslk_augment_set_f64(a, -1, SSLK_AUG_STD0 + k, gray ? 0.25 : s[k]));
    }
    return a;
}

static sslk_augment *simclr(sslk_ctx *ctx, int size) {
    sslk_augment *a;
    CHECK(sslk_augment_create(ctx, 2, &a));
    CHECK(sslk_augment_set_i64(a, -1, SSLK_AUG_SIZE, size));
    CHECK(sslk_augment_recipe(a, "simclr"));
    const double m[3] = {0.485, 0.456, 0.406}, s[3] = {0.229, 0.224, 0.225};
    for (int k = 0; k < 3; k++) {
        CHECK(sslk_augment_set_f64(a, -1, SSLK_AUG_MEAN0 + k, m[k]));
        CHECK(sslk_augment_set_f64(a, -1, SSLK_AUG_STD0 + k, s[k]));
    }
    return a;
}

static void row(const char *name, int threads, rate ours, rate ref) {
    printf("| %-26s | %7d | %8.0f | %8.0f | %6.2f | %8.0f | %8.0f | %6.2f |\n", name, threads, ours.wall, ref.wall,
           ours.wall / ref.wall, ours.cpu, ref.cpu, ours.cpu / ref.cpu);
}

static const rate none = {NAN, NAN};

int main(int argc, char **argv) {
    int quick = 0, noref = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        if (!strcmp(argv[i], "--no-ref")) noref = 1;
    }
    sslk_ctx *ctx;
    CHECK(sslk_ctx_create(&ctx));
    char dir[] = "/tmp/sslk_bench_data_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    bench_write_photos(dir, 0, 64, 500, 375, 500, 375);

    printf("bench_data: two-view augmentation throughput (images/s; each image -> 2 views)\n");
    printf("| %-26s | %7s | %8s | %8s | %6s | %8s | %8s | %6s |\n", "input", "threads", "sslkit", "PIL+tv", "ratio",
           "sslkit", "PIL+tv", "ratio");
    printf("| %-26s | %7s | %8s | %8s | %6s | %8s | %8s | %6s |\n", "", "", "img/s", "img/s", "wall", "img/cpu-s",
           "img/cpu-s", "/core");
    printf("|----------------------------|---------|----------|----------|--------|----------|----------|--------|\n");

    sslk_dataset *jd;
    CHECK(sslk_dataset_open_folder(ctx, dir, NULL, &jd));
    sslk_augment *a224 = recipe(ctx, 224, 0);
    char args[600];
    snprintf(args, sizeof args, "jpeg %s --size 224", dir);
    size_t nj = quick ? 128 : 384;
    for (int t = 1; t <= 2; t++)
        row("JPEG 500x375 -> 2x224", t, run_loader(ctx, jd, a224, t, nj), noref ? none : run_ref(args, t, nj));
    /* the decode share: the same with DCT scaling off */
    CHECK(sslk_dataset_set_i64(jd, SSLK_DATASET_DCT_SCALING, 0));
    row("  same, DCT scaling off", 1, run_loader(ctx, jd, a224, 1, nj), none);
    CHECK(sslk_dataset_set_i64(jd, SSLK_DATASET_DCT_SCALING, 1));

    /* full SimCLR training views, one thread (per core) */
    char big[] = "/tmp/sslk_bench_big_XXXXXX";
    if (!mkdtemp(big)) return 1;
    bench_write_photos(big, 0, 8, 1600, 1200, 2304, 1536);
    sslk_dataset *bd;
    CHECK(sslk_dataset_open_folder(ctx, big, NULL, &bd));
    const int sizes[2] = {224, 96};
    for (int si = 0; si < 2; si++) {
        sslk_augment *sa = simclr(ctx, sizes[si]);
        char name[64];
        snprintf(args, sizeof args, "jpeg %s --size %d --recipe simclr", dir, sizes[si]);
        snprintf(name, sizeof name, "SimCLR 500x375 -> 2x%d", sizes[si]);
        size_t ns = quick ? 96 : 256;
        row(name, 1, run_loader(ctx, jd, sa, 1, ns), noref ? none : run_ref(args, 1, ns / 2));
        snprintf(args, sizeof args, "jpeg %s --size %d --recipe simclr", big, sizes[si]);
        snprintf(name, sizeof name, "SimCLR 1.9-3.5 MP -> 2x%d", sizes[si]);
        size_t nb = quick ? 16 : 48;
        row(name, 1, run_loader(ctx, bd, sa, 1, nb), noref ? none : run_ref(args, 1, nb / 2));
        sslk_augment_destroy(sa);
    }
    sslk_dataset_destroy(bd);
    snprintf(args, sizeof args, "rm -rf '%s'", big);
    if (system(args) != 0) return 1;
    sslk_dataset_destroy(jd);

    sslk_dataset *fm;
    if (sslk_dataset_open(ctx, "fashion-mnist", SSLK_SPLIT_TRAIN, &fm) == SSLK_OK) {
        sslk_augment *a28 = recipe(ctx, 28, 1);
        size_t n = quick ? 4000 : 20000;
        for (int t = 1; t <= 2; t++)
            row("Fashion-MNIST 28 -> 2x28", t, run_loader(ctx, fm, a28, t, n),
                noref ? none
                      : run_ref("idx /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz --size 28", t,
                                n / 4));
        sslk_augment_destroy(a28);
        sslk_dataset_destroy(fm);
    } else {
        printf("| Fashion-MNIST: %s |\n", sslk_last_error());
    }

    size_t nc = 1024;
    uint8_t *px = malloc(nc * 32 * 32 * 3);
    for (size_t i = 0; i < nc * 3072; i++) px[i] = (uint8_t)((i * 2654435761u) >> 24);
    sslk_dataset *cd;
    CHECK(sslk_dataset_from_memory(ctx, px, nc, 32, 32, 3, NULL, &cd));
    sslk_augment *a32 = recipe(ctx, 32, 0);
    size_t n = quick ? 4000 : 20000;
    for (int t = 1; t <= 2; t++)
        row("CIFAR-sized 32 -> 2x32", t, run_loader(ctx, cd, a32, t, n),
            noref ? none : run_ref("rand --hw 32 --size 32", t, n / 4));
    printf("(reference: PIL decode + torchvision, same crop/flip/jitter/gray/blur/solarise/normalise recipe)\n");
    sslk_augment_destroy(a32);
    sslk_augment_destroy(a224);
    sslk_dataset_destroy(cd);
    free(px);
    sslk_ctx_destroy(ctx);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    return 0;
}
