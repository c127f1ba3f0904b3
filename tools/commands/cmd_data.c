/* sslkit data: describe a dataset, and preview the augmentation pipeline as
 * a PNG grid (one row per image: the plain view, then each augmented view).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <png.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../cli.h"

static const char *const data_value_opts[] = {"--split", "--out", "--n", "--views", "--size", "--preset",
                                              "--seed", "--epoch", "--threads", NULL};

static void data_help(FILE *f) {
    fprintf(f,
            "usage: sslkit data info PATH|fashion-mnist [--split train|test] [--json]\n"
            "       sslkit data preview PATH|fashion-mnist --out grid.png [--n 8] [--views 2]\n"
            "              [--size S] [--preset vicreg|simclr|local|plain] [--seed N] [--epoch N] [--split ...]\n\n"
            "info     format, item count, image shape, classes and per-class counts.\n"
            "preview  a PNG grid: each row is one image, first its plain (resized) view, then\n"
            "         --views augmented views of the recipe (default VICReg, size = image side\n"
            "         for fixed-size datasets, else 224).\n"
            "Datasets: IDX (MNIST/Fashion-MNIST), CIFAR-10/100 binary, NPY, JPEG folders.\n"
            "The name fashion-mnist opens /usr/share/datasets/fashion-mnist (Debian package\n"
            "dataset-fashion-mnist).\n");
}

static const char *kind_name(sslk_dataset_kind k) {
    switch (k) {
    case SSLK_DATASET_IDX: return "idx";
    case SSLK_DATASET_CIFAR10: return "cifar10";
    case SSLK_DATASET_CIFAR100: return "cifar100";
    case SSLK_DATASET_NPY: return "npy";
    case SSLK_DATASET_JPEG_FOLDER: return "jpeg_folder";
    case SSLK_DATASET_MEMORY: return "memory";
    default: return "unknown";
    }
}

static int open_ds(int argc, char **argv, const char *cmd, sslk_ctx **ctx, sslk_dataset **ds, const char **path) {
    char *pos[4];
    int np = cli_positionals(argc, argv, data_value_opts, pos, 4);
    if (np < 2) return cli_usage(cmd, "missing dataset PATH or name");
    *path = pos[1];
    const char *split = cli_opt(argc, argv, "--split");
    sslk_split sp = SSLK_SPLIT_TRAIN;
    if (split && strcmp(split, "test") == 0) sp = SSLK_SPLIT_TEST;
    else if (split && strcmp(split, "train") != 0) return cli_usage(cmd, "--split must be train or test, got '%s'", split);
    int threads, rc = cli_opt_threads(argc, argv, cmd, &threads);
    if (rc) return rc;
    *ctx = cli_ctx(threads);
    if (!*ctx) return cli_fail(cmd, "context", SSLK_E_NOMEM);
    sslk_status s = sslk_dataset_open(*ctx, *path, sp, ds);
    if (s != SSLK_OK) {
        sslk_ctx_destroy(*ctx);
        return cli_fail(cmd, *path, s);
    }
    return 0;
}

static int data_info(int argc, char **argv) {
    sslk_ctx *ctx;
    sslk_dataset *ds;
    const char *path;
    int rc = open_ds(argc, argv, "data info", &ctx, &ds, &path);
    if (rc) return rc;
    size_t n, h, w, c, k;
    sslk_dataset_kind kind;
    sslk_dataset_count(ds, &n);
    sslk_dataset_shape(ds, &h, &w, &c);
    sslk_dataset_num_classes(ds, &k);
    sslk_dataset_get_kind(ds, &kind);
    int32_t *lab = malloc(n * sizeof *lab);
    size_t *per = calloc(k ? k : 1, sizeof *per);
    if (!lab || !per) {
        free(lab);
        free(per);
        sslk_dataset_destroy(ds);
        sslk_ctx_destroy(ctx);
        return cli_fail("data info", "memory", SSLK_E_NOMEM);
    }
    sslk_dataset_labels(ds, lab, n);
    for (size_t i = 0; i < n; i++)
        if (lab[i] >= 0 && (size_t)lab[i] < k) per[lab[i]]++;
    size_t sh = 0, sw = 0;
    if (h == 0 && n) sslk_dataset_image_shape(ds, 0, &sh, &sw, NULL);
    if (cli_flag(argc, argv, "--json")) {
        printf("{\"path\": ");
        cli_json_str(stdout, path);
        printf(", \"kind\": \"%s\", \"count\": %zu, \"height\": %zu, \"width\": %zu, \"channels\": %zu, "
               "\"classes\": %zu, \"per_class\": [", kind_name(kind), n, h, w, c, k);
        for (size_t j = 0; j < k; j++) printf("%s%zu", j ? ", " : "", per[j]);
        printf("]}\n");
    } else {
        printf("path      %s\nformat    %s\nitems     %zu\n", path, kind_name(kind), n);
        if (h) printf("image     %zu x %zu x %zu (H x W x C)\n", h, w, c);
        else printf("image     varying size, %zu channels (first: %zu x %zu)\n", c, sh, sw);
        if (k) {
            printf("classes   %zu\nper class", k);
            for (size_t j = 0; j < k; j++) printf(" %zu", per[j]);
            printf("\n");
        } else {
            printf("classes   none (unlabeled)\n");
        }
    }
    free(lab);
    free(per);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(ctx);
    return 0;
}

/* Write an RGB image with libpng to path atomically. */
static int write_png(const char *path, const uint8_t *rgb, size_t w, size_t h) {
    cli_atomic out;
    FILE *f = cli_atomic_open(&out, path);
    if (!f) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    int ok = png && info;
    if (ok && setjmp(png_jmpbuf(png))) ok = 0;
    else if (ok) {
        png_init_io(png, f);
        png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        for (size_t y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(rgb + y * w * 3));
        png_write_end(png, NULL);
    }
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    return cli_atomic_commit(&out, path, ok) == 0 ? 0 : -1;
}

/* Paste a C x S x S float view in [0,1] into the grid, nearest-upscaled by z. */
static void paste(uint8_t *grid, size_t gw, size_t x0, size_t y0, const float *v, size_t c, size_t s, size_t z) {
    for (size_t y = 0; y < s * z; y++)
        for (size_t x = 0; x < s * z; x++) {
            uint8_t *p = grid + ((y0 + y) * gw + x0 + x) * 3;
            for (size_t k = 0; k < 3; k++) {
                float f = v[(c == 3 ? k : 0) * s * s + (y / z) * s + x / z];
                f = f < 0 ? 0 : (f > 1 ? 1 : f);
                p[k] = (uint8_t)(f * 255.0f + 0.5f);
            }
        }
}

static int data_preview(int argc, char **argv) {
    const char *out = cli_opt(argc, argv, "--out");
    if (!out) return cli_usage("data preview", "--out FILE.png is required");
    const char *cmd = "data preview";
    int64_t rows64, views64, size64;
    uint64_t seed, epoch;
    int urc;
    /* --size: the augmentation's own bounds (SSLK_AUG_SIZE); 0 divided the zoom */
    if ((urc = cli_opt_i64(argc, argv, cmd, "--n", 1, 256, 8, &rows64)) ||
        (urc = cli_opt_i64(argc, argv, cmd, "--views", 1, 16, 2, &views64)) ||
        (urc = cli_opt_i64(argc, argv, cmd, "--size", 1, 4096, 0, &size64)) ||
        (urc = cli_opt_u64(argc, argv, cmd, "--seed", 0, &seed)) ||
        (urc = cli_opt_u64(argc, argv, cmd, "--epoch", 0, &epoch)))
        return urc;
    size_t rows = (size_t)rows64, views = (size_t)views64;
    const char *preset = cli_opt(argc, argv, "--preset");
    sslk_aug_preset pr = SSLK_AUG_PRESET_VICREG;
    if (preset) {
        if (strcmp(preset, "simclr") == 0) pr = SSLK_AUG_PRESET_SIMCLR;
        else if (strcmp(preset, "local") == 0) pr = SSLK_AUG_PRESET_LOCAL;
        else if (strcmp(preset, "plain") == 0) pr = SSLK_AUG_PRESET_PLAIN;
        else if (strcmp(preset, "vicreg") != 0) return cli_usage("data preview", "unknown --preset '%s'", preset);
    }

    sslk_ctx *ctx;
    sslk_dataset *ds;
    const char *path;
    int rc = open_ds(argc, argv, "data preview", &ctx, &ds, &path);
    if (rc) return rc;
    size_t n, h, w, c;
    sslk_dataset_count(ds, &n);
    sslk_dataset_shape(ds, &h, &w, &c);
    size_t size = h && h == w ? h : 224;
    if (size64) size = (size_t)size64;
    if (n == 0) {
        fprintf(stderr, "sslkit %s: '%s' holds no images to preview\n", cmd, path);
        sslk_dataset_destroy(ds);
        sslk_ctx_destroy(ctx);
        return 1;
    }
    if (rows > n) rows = n;
    size_t zoom = size < 96 ? (96 + size - 1) / size : 1, cell = size * zoom, pad = 4;
    size_t gw = (views + 1) * (cell + pad) + pad, gh = rows * (cell + pad) + pad;

    sslk_augment *aug = NULL, *plain = NULL;
    sslk_status s = sslk_augment_create(ctx, views, &aug);
    if (s == SSLK_OK) s = sslk_augment_preset(aug, -1, pr);
    if (s == SSLK_OK) s = sslk_augment_set_i64(aug, -1, SSLK_AUG_SIZE, (int64_t)size);
    if (s == SSLK_OK) s = sslk_augment_create(ctx, 1, &plain);
    if (s == SSLK_OK) s = sslk_augment_preset(plain, 0, SSLK_AUG_PRESET_PLAIN);
    if (s == SSLK_OK) s = sslk_augment_set_i64(plain, 0, SSLK_AUG_SIZE, (int64_t)size);
    uint8_t *grid = calloc(gw * gh, 3), *img = NULL;
    float *v = malloc(3 * size * size * sizeof *v);
    size_t cap = 0;
    if (!grid || !v) s = SSLK_E_NOMEM;
    for (size_t r = 0; r < rows && s == SSLK_OK; r++) {
        size_t i = r * (n / rows), ih, iw, ic;
        s = sslk_dataset_image_shape(ds, i, &ih, &iw, &ic);
        if (s != SSLK_OK) break;
        if (ih * iw * ic > cap) {
            free(img);
            cap = ih * iw * ic;
            img = malloc(cap);
            if (!img) {
                s = SSLK_E_NOMEM;
                break;
            }
        }
        s = sslk_dataset_read(ds, i, img, cap, &ih, &iw, &ic);
        size_t y0 = pad + r * (cell + pad), oc;
        if (s == SSLK_OK) s = sslk_augment_apply(plain, 0, img, ih, iw, ic, seed, epoch, i, v);
        if (s == SSLK_OK) paste(grid, gw, pad, y0, v, ic, size, zoom);
        for (size_t k = 0; k < views && s == SSLK_OK; k++) {
            s = sslk_augment_out_shape(aug, k, ic, &oc, NULL, NULL);
            if (s == SSLK_OK) s = sslk_augment_apply(aug, k, img, ih, iw, ic, seed, epoch, i, v);
            if (s == SSLK_OK) paste(grid, gw, pad + (k + 1) * (cell + pad), y0, v, oc, size, zoom);
        }
    }
    int ret = 0;
    if (s != SSLK_OK) ret = cli_fail("data preview", path, s);
    else if (write_png(out, grid, gw, gh) != 0) {
        fprintf(stderr, "sslkit data preview: cannot write '%s'\n", out);
        ret = 1;
    } else {
        printf("wrote %s: %zu rows x (plain + %zu views), %zu px cells\n", out, rows, views, cell);
    }
    free(grid);
    free(img);
    free(v);
    sslk_augment_destroy(aug);
    sslk_augment_destroy(plain);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(ctx);
    return ret;
}

int cmd_data(int argc, char **argv) {
    if (argc < 2 || cli_flag(argc, argv, "--help") || cli_flag(argc, argv, "-h")) {
        data_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "info") == 0) return data_info(argc, argv);
    if (strcmp(argv[1], "preview") == 0) return data_preview(argc, argv);
    return cli_usage("data", "unknown subcommand '%s' (info or preview)", argv[1]);
}
