/* Opening datasets by name or path: format detection and the default
 * Fashion-MNIST location from Debian's dataset-fashion-mnist package.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "data_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Fashion-MNIST: class names from its README; mean / std of the 60000
 * training images scaled to [0, 1] (0.2860, 0.3530). */
static const char *const fmnist_classes[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                               "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
static const ssli_dataset_info fmnist_info = {0.286, 0.353, 10, fmnist_classes};

/* Named datasets: name -> folder under $SSLKIT_DATASETS_DIR (default
 * /usr/share/datasets), the Debian package that installs it, and what it
 * knows about itself (also given to a folder of that name). */
static const struct {
    const char *name, *folder, *package;
    sslk_dataset_kind kind;
    const ssli_dataset_info *info;
} known[] = {
    {"fashion-mnist", "fashion-mnist", "dataset-fashion-mnist", SSLK_DATASET_IDX, &fmnist_info},
};

/* The known dataset whose folder is dir's last component, else NULL. */
static const ssli_dataset_info *info_of_dir(const char *dir, sslk_dataset_kind kind) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/') b--;
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        if (kind == known[k].kind && strlen(known[k].folder) == n - b && memcmp(dir + b, known[k].folder, n - b) == 0)
            return known[k].info;
    return NULL;
}

sslk_status sslk_dataset_mean_std(const sslk_dataset *ds, double *mean, double *std) {
    static const char *fn = "sslk_dataset_mean_std";
    SSLI_CHECK_PTR(ds, fn);
    SSLI_CHECK_PTR(mean, fn);
    SSLI_CHECK_PTR(std, fn);
    if (!ds->info)
        return ssli_err(SSLK_E_NOT_FOUND, "%s: dataset '%s' has no known pixel statistics (only named datasets do)",
                        fn, ds->path ? ds->path : "?");
    *mean = ds->info->mean;
    *std = ds->info->std;
    return SSLK_OK;
}

sslk_status sslk_dataset_class_name(const sslk_dataset *ds, size_t i, const char **name) {
    static const char *fn = "sslk_dataset_class_name";
    SSLI_CHECK_PTR(ds, fn);
    SSLI_CHECK_PTR(name, fn);
    *name = NULL;
    if (!ds->info)
        return ssli_err(SSLK_E_NOT_FOUND, "%s: dataset '%s' has no known class names (only named datasets do)", fn,
                        ds->path ? ds->path : "?");
    if (i >= ds->info->nclasses)
        return ssli_err(SSLK_E_RANGE, "%s: 'i' = %zu but the dataset has %zu classes", fn, i, ds->info->nclasses);
    *name = ds->info->class_names[i];
    return SSLK_OK;
}

static bool has_any(sslk_ctx *ctx, const char *dir, const char *const *names) {
    for (; *names; names++) {
        char *p = ssli_path_join(ctx, dir, *names);
        bool ok = p && ssli_path_exists(p);
        ssli_free(ctx, p);
        if (ok) return true;
    }
    return false;
}

static bool ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

static sslk_dataset_kind detect_dir(sslk_ctx *ctx, const char *dir) {
    static const char *const idx[] = {"train-images-idx3-ubyte.gz", "train-images-idx3-ubyte",
                                      "t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte",
                                      "train-images.idx3-ubyte", "t10k-images.idx3-ubyte", NULL};
    static const char *const c10[] = {"data_batch_1.bin", "test_batch.bin", NULL};
    static const char *const c100[] = {"train.bin", "test.bin", NULL};
    static const char *const npy[] = {"train_images.npy", "test_images.npy", "x_train.npy", "x_test.npy",
                                      "images.npy", NULL};
    if (has_any(ctx, dir, idx)) return SSLK_DATASET_IDX;
    if (has_any(ctx, dir, c10)) return SSLK_DATASET_CIFAR10;
    if (has_any(ctx, dir, c100)) return SSLK_DATASET_CIFAR100;
    if (has_any(ctx, dir, npy)) return SSLK_DATASET_NPY;
    return SSLK_DATASET_JPEG_FOLDER;
}

static sslk_status detect_file(const char *path, sslk_dataset_kind *kind) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strstr(base, "ubyte")) *kind = SSLK_DATASET_IDX;
    else if (ends_with(base, ".npy")) *kind = SSLK_DATASET_NPY;
    else if (ends_with(base, ".bin")) {
        struct stat st;
        if (stat(path, &st) != 0) return ssli_err(SSLK_E_IO, "sslk_dataset_open: cannot stat '%s'", path);
        bool m10 = st.st_size % 3073 == 0, m100 = st.st_size % 3074 == 0;
        *kind = m100 && (!m10 || strcmp(base, "train.bin") == 0 || strcmp(base, "test.bin") == 0)
                    ? SSLK_DATASET_CIFAR100
                    : SSLK_DATASET_CIFAR10;
    } else
        return ssli_err(SSLK_E_UNSUPPORTED,
                        "sslk_dataset_open: cannot tell the format of '%s' (expected *-ubyte[.gz], *.npy, *.bin or a "
                        "folder)", path);
    return SSLK_OK;
}

/* A JPEG root with train/ and val/ or test/ folders selects the split. */
static sslk_status open_jpeg_split(sslk_ctx *ctx, const char *root, sslk_split split, sslk_dataset **out) {
    char *tr = ssli_path_join(ctx, root, "train");
    bool has_split = tr && ssli_is_dir(tr);
    ssli_free(ctx, tr);
    if (!has_split) return ssli_open_jpeg_folder(ctx, root, NULL, out);
    const char *names[] = {split == SSLK_SPLIT_TEST ? "val" : "train", split == SSLK_SPLIT_TEST ? "test" : "train"};
    for (int k = 0; k < 2; k++) {
        char *p = ssli_path_join(ctx, root, names[k]);
        if (!p) return ssli_err(SSLK_E_NOMEM, "sslk_dataset_open: out of memory");
        if (ssli_is_dir(p)) {
            sslk_status s = ssli_open_jpeg_folder(ctx, p, NULL, out);
            ssli_free(ctx, p);
            return s;
        }
        ssli_free(ctx, p);
    }
    return ssli_err(SSLK_E_NOT_FOUND, "sslk_dataset_open: '%s' has train/ but no val/ or test/ folder", root);
}

static sslk_status open_path(sslk_ctx *ctx, sslk_dataset_kind kind, const char *path, const char *labels,
                             sslk_split split, sslk_dataset **out) {
    if (!ssli_path_exists(path)) {
        if (!strchr(path, '/'))
            return ssli_err(SSLK_E_NOT_FOUND,
                            "sslk_dataset_open: '%s' is neither a file, a folder nor a known dataset name "
                            "(known: fashion-mnist)", path);
        return ssli_err(SSLK_E_NOT_FOUND, "sslk_dataset_open: '%s' does not exist", path);
    }
    bool dir = ssli_is_dir(path);
    if (!dir && (kind == SSLK_DATASET_AUTO || kind == SSLK_DATASET_JPEG_FOLDER) && ssli_is_file_list(ctx, path))
        return ssli_open_file_list(ctx, path, out); /* both splits: one list is one split */
    if (kind == SSLK_DATASET_AUTO) {
        if (dir) kind = detect_dir(ctx, path);
        else SSLI_TRY(detect_file(path, &kind));
    }
    switch (kind) {
    case SSLK_DATASET_IDX:
        SSLI_TRY(ssli_open_idx(ctx, path, labels, split, out));
        if (dir) (*out)->info = info_of_dir(path, kind);
        return SSLK_OK;
    case SSLK_DATASET_CIFAR10:
    case SSLK_DATASET_CIFAR100: return ssli_open_cifar(ctx, kind, path, split, out);
    case SSLK_DATASET_NPY: return ssli_open_npy(ctx, path, labels, split, out);
    case SSLK_DATASET_JPEG_FOLDER:
        if (!dir) return ssli_err(SSLK_E_INVALID_ARG, "sslk_dataset_open: a JPEG folder path must be a directory: '%s'", path);
        return open_jpeg_split(ctx, path, split, out);
    default: break;
    }
    return ssli_err(SSLK_E_INVALID_ARG, "sslk_dataset_open_kind: kind %d cannot be opened from a path", (int)kind);
}

sslk_status sslk_dataset_open_kind(sslk_ctx *ctx, sslk_dataset_kind kind, const char *path, const char *labels_path,
                                   sslk_split split, sslk_dataset **out) {
    static const char *fn = "sslk_dataset_open_kind";
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(path, fn);
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    if (split != SSLK_SPLIT_TRAIN && split != SSLK_SPLIT_TEST)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: split = %d is neither SSLK_SPLIT_TRAIN nor SSLK_SPLIT_TEST", fn, (int)split);
    if ((int)kind < SSLK_DATASET_AUTO || kind > SSLK_DATASET_JPEG_FOLDER)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: kind = %d is not a file format", fn, (int)kind);
    if (kind == SSLK_DATASET_JPEG_FOLDER) return ssli_open_jpeg_folder(ctx, path, NULL, out);
    return open_path(ctx, kind, path, labels_path, split, out);
}

sslk_status sslk_dataset_open(sslk_ctx *ctx, const char *path_or_name, sslk_split split, sslk_dataset **out) {
    static const char *fn = "sslk_dataset_open";
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(path_or_name, fn);
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    if (split != SSLK_SPLIT_TRAIN && split != SSLK_SPLIT_TEST)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: split = %d is neither SSLK_SPLIT_TRAIN nor SSLK_SPLIT_TEST", fn, (int)split);
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        if (strcmp(path_or_name, known[k].name) != 0) continue;
        if (ssli_path_exists(path_or_name)) break; /* a local folder of that name wins */
        const char *base = getenv("SSLKIT_DATASETS_DIR");
        if (!base || !*base) base = "/usr/share/datasets";
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", base, known[k].folder);
        if (!ssli_is_dir(dir))
            return ssli_err(SSLK_E_NOT_FOUND,
                            "%s: dataset '%s' is not installed: '%s' is missing; install the Debian package %s "
                            "(apt-get install %s) or pass a path", fn, known[k].name, dir, known[k].package,
                            known[k].package);
        SSLI_TRY(ssli_open_idx(ctx, dir, NULL, split, out));
        (*out)->info = known[k].info;
        return SSLK_OK;
    }
    return open_path(ctx, SSLK_DATASET_AUTO, path_or_name, NULL, split, out);
}
