/* sslkit embed --model M: features of a dataset split from any model file
 * (.sslk, or .safetensors with --spec), through the evaluation transform;
 * writes the features, the labels and the list of item files.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness_cli.h"
#include "train_cli.h"

static const char *help =
    "usage: sslkit embed --model M.sslk|M.safetensors [--spec SPEC [--prefix P] [--non-strict]] --data FOLDER|NAME\n"
    "                    --out FEATS.npy\n"
    "                    [--split train|test] [--transform eval|resize] [--image-size N] [--crop-fraction F]\n"
    "                    [--mean M[,M,M]] [--std S[,S,S]] [--batch B] [--labels-out L.npy] [--files-out F.txt]\n"
    "                    [--dct-scaling] [--threads N]\n"
    "  Model outputs (n x dim float32) of every item of the split, in dataset order.\n"
    "  --transform eval (default): resize the shorter side to round(N / F) (F = 0.875), centre crop N x N,\n"
    "    as torchvision's Resize + CenterCrop; resize: the whole image resized to N x N (the trainer's).\n"
    "  --image-size: the model's input side (default; another value is refused).\n"
    "  --mean/--std: per-channel normalisation of values in [0,1]; default: the dataset's own when it knows\n"
    "    them (fashion-mnist, cifar), else ImageNet's (0.485,0.456,0.406)/(0.229,0.224,0.225) for 3 channels.\n"
    "  .safetensors: --spec gives the architecture (e.g. resnet50-headless; input 3 x N x N, or 1 x N x N\n"
    "    with --channels 1), tensors loaded by name; --prefix P strips P from the file's names (\"backbone.\",\n"
    "    \"module.\"); --non-strict ignores tensors the model lacks (a projector); a tensor the file lacks is\n"
    "    always refused.\n"
    "  Labels go to FEATS_labels.npy (int32, -1 unlabeled), item files to FEATS_files.txt (one per line;\n"
    "    'split:index' for datasets that are not folders).  --dct-scaling: decode large JPEGs at a reduced\n"
    "    DCT scale (faster, not what torchvision sees; default off).\n";

static const char *const value_opts[] = {"--model", "--spec", "--prefix", "--data", "--out", "--split", "--transform",
                                         "--image-size", "--crop-fraction", "--mean", "--std", "--batch",
                                         "--labels-out", "--files-out", "--threads", "--channels", NULL};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct embed_progress {
    double t0;
    bool tty;
} embed_progress;

/* items/s and ETA on a terminal; nothing otherwise */
static int on_progress(void *user, size_t done, size_t total) {
    embed_progress *p = user;
    if (!p->tty) return 0;
    double el = now_s() - p->t0, rate = (double)done / (el > 1e-9 ? el : 1e-9);
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    fprintf(stderr, "\rembed %zu/%zu  %.0f items/s  ETA %dm%02ds   ", done, total, rate, (int)(eta / 60),
            (int)fmod(eta, 60));
    if (done == total) fputc('\n', stderr);
    fflush(stderr);
    return 0;
}

/* "FEATS.npy" -> "FEATS<suffix>" */
static void beside(char *buf, size_t cap, const char *out, const char *suffix) {
    size_t l = strlen(out);
    int keep = (int)(l > 4 && strcmp(out + l - 4, ".npy") == 0 ? l - 4 : l);
    snprintf(buf, cap, "%.*s%s", keep, out, suffix);
}

static bool ends_with(const char *s, const char *t) {
    size_t a = strlen(s), b = strlen(t);
    return a >= b && strcmp(s + a - b, t) == 0;
}

/* A safetensors checkpoint by name into the --spec model: --prefix P strips P
 * ("backbone.", "module."); --non-strict ignores tensors the model lacks (an
 * SSL checkpoint's projector) but a tensor the file lacks is always refused:
 * its weights would be random. */
static int load_safetensors(const char *cmd, sslk_ctx *ctx, sslk_model *m, const char *path, int argc, char **argv) {
    sslk_safetensors_options o;
    sslk_status s = sslk_safetensors_options_init(&o);
    o.prefix = cli_opt(argc, argv, "--prefix");
    if (cli_flag(argc, argv, "--non-strict")) o.flags |= SSLK_SAFETENSORS_NON_STRICT;
    sslk_load_report *rep = NULL;
    if (s == SSLK_OK) s = sslk_load_report_create(ctx, &rep);
    if (s == SSLK_OK) s = sslk_model_load_safetensors_ex(m, path, &o, rep);
    size_t miss = 0, extra = 0, loaded = 0;
    sslk_load_report_count(rep, SSLK_LOAD_MISSING, &miss);
    sslk_load_report_count(rep, SSLK_LOAD_UNEXPECTED, &extra);
    sslk_load_report_count(rep, SSLK_LOAD_LOADED, &loaded);
    int rc = 0;
    if (s != SSLK_OK) {
        rc = cli_fail(cmd, path, s);
    } else if (miss) {
        const char *first = "?";
        sslk_load_report_name(rep, SSLK_LOAD_MISSING, 0, &first);
        fprintf(stderr, "sslkit %s: '%s' lacks %zu of the model's tensors (first: '%s'%s%s%s)\n", cmd, path, miss,
                first, o.prefix ? ", after stripping '" : "", o.prefix ? o.prefix : "", o.prefix ? "'" : "");
        rc = 1;
    } else if (extra) {
        fprintf(stderr, "sslkit %s: %zu tensors loaded, %zu in the file not in the model ignored (--non-strict)\n",
                cmd, loaded, extra);
    }
    sslk_load_report_destroy(rep);
    return rc;
}

static int load_model(const char *cmd, sslk_ctx *ctx, int argc, char **argv, sslk_model **out) {
    const char *path = cli_opt(argc, argv, "--model"), *spec = cli_opt(argc, argv, "--spec");
    if (!ends_with(path, ".safetensors")) {
        if (spec || cli_opt(argc, argv, "--prefix") || cli_flag(argc, argv, "--non-strict"))
            return cli_usage(cmd, "--spec, --prefix and --non-strict are for .safetensors models (a .sslk file "
                                  "holds its architecture)");
        sslk_status s = sslk_model_load(ctx, path, out);
        return s == SSLK_OK ? 0 : cli_fail(cmd, path, s);
    }
    if (!spec) return cli_usage(cmd, "a .safetensors model needs --spec SPEC (its architecture)");
    int64_t side = 224, ch = 3;
    int rc = cli_opt_i64(argc, argv, cmd, "--image-size", 1, 4096, 224, &side);
    if (!rc) rc = cli_opt_i64(argc, argv, cmd, "--channels", 1, 3, 3, &ch);
    if (rc) return rc;
    if (ch == 2) return cli_usage(cmd, "--channels is 1 or 3");
    size_t shape[3] = {(size_t)ch, (size_t)side, (size_t)side};
    sslk_status s = sslk_model_from_spec(ctx, spec, 3, shape, 0, out);
    if (s != SSLK_OK) return cli_fail(cmd, "--spec", s);
    rc = load_safetensors(cmd, ctx, *out, path, argc, argv);
    if (rc) {
        sslk_model_destroy(*out);
        *out = NULL;
    }
    return rc;
}

/* The recipe: one view, the model's input side and channels, normalisation. */
static int make_recipe(const char *cmd, int argc, char **argv, sslk_ctx *ctx, const sslk_dataset *ds, size_t c,
                       size_t side, sslk_augment **out) {
    const char *tf = cli_opt(argc, argv, "--transform");
    bool eval = !tf || strcmp(tf, "eval") == 0;
    if (tf && !eval && strcmp(tf, "resize") != 0) return cli_usage(cmd, "--transform is eval or resize");
    double frac = 0.875, mean[3] = {0, 0, 0}, std[3] = {1, 1, 1};
    int rc = cli_opt_f64(argc, argv, cmd, "--crop-fraction", 0.01, 1.0, 0.875, &frac);
    if (rc) return rc;
    double dm = 0, ds_ = 0;
    if (sslk_dataset_mean_std(ds, &dm, &ds_) == SSLK_OK) {
        for (int k = 0; k < 3; k++) {
            mean[k] = dm;
            std[k] = ds_;
        }
    } else if (c == 3) {
        const double im[3] = {0.485, 0.456, 0.406}, is[3] = {0.229, 0.224, 0.225};
        memcpy(mean, im, sizeof im);
        memcpy(std, is, sizeof is);
    }
    const char *names[2] = {"--mean", "--std"};
    double *dst[2] = {mean, std};
    for (int j = 0; j < 2; j++) {
        const char *v = cli_opt(argc, argv, names[j]);
        if (!v) continue;
        double vals[3];
        size_t nv = 0;
        rc = cli_parse_f64_list(cmd, names[j], v, ',', 1, 3, j ? 1e-6 : -1e6, 1e6, vals, &nv);
        if (rc) return rc;
        if (nv != 1 && nv != c) return cli_usage(cmd, "%s takes 1 or %zu values, got %zu", names[j], c, nv);
        for (size_t k = 0; k < 3; k++) dst[j][k] = vals[nv == 1 ? 0 : (k < nv ? k : 0)];
    }
    sslk_augment *a = NULL;
    sslk_status s = sslk_augment_create(ctx, 1, &a);
    if (s == SSLK_OK) s = sslk_augment_preset(a, 0, eval ? SSLK_AUG_PRESET_EVAL : SSLK_AUG_PRESET_PLAIN);
    if (s == SSLK_OK) s = sslk_augment_set_i64(a, 0, SSLK_AUG_SIZE, (int64_t)side);
    if (s == SSLK_OK) s = sslk_augment_set_f64(a, 0, SSLK_AUG_CENTER_FRACTION, frac);
    if (s == SSLK_OK) s = sslk_augment_set_i64(a, 0, SSLK_AUG_OUT_CHANNELS, (int64_t)c);
    for (int k = 0; k < 3 && s == SSLK_OK; k++) {
        s = sslk_augment_set_f64(a, 0, SSLK_AUG_MEAN0 + k, mean[k]);
        if (s == SSLK_OK) s = sslk_augment_set_f64(a, 0, SSLK_AUG_STD0 + k, std[k]);
    }
    if (s != SSLK_OK) {
        sslk_augment_destroy(a);
        return cli_fail(cmd, "the transform", s);
    }
    *out = a;
    return 0;
}

static int write_files(const char *cmd, const char *path, const sslk_dataset *ds, size_t n, const char *split) {
    cli_atomic at;
    FILE *f = cli_atomic_open(&at, path);
    if (!f) return cli_fail(cmd, path, SSLK_E_IO);
    char buf[8192];
    bool has_paths = n == 0 || sslk_dataset_item_path(ds, 0, buf, sizeof buf, NULL) == SSLK_OK;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!has_paths) {
            fprintf(f, "%s:%zu\n", split, i);
            continue;
        }
        sslk_status s = sslk_dataset_item_path(ds, i, buf, sizeof buf, NULL);
        if (s != SSLK_OK) rc = cli_fail(cmd, "item path", s);
        else if (strchr(buf, '\n')) rc = cli_usage(cmd, "item %zu's path holds a newline: cannot list it", i);
        else fprintf(f, "%s\n", buf);
    }
    if (cli_atomic_commit(&at, path, rc == 0) != 0 && !rc) rc = cli_fail(cmd, path, SSLK_E_IO);
    return rc;
}

int harness_embed_model(int argc, char **argv) {
    const char *cmd = "embed";
    if (cli_flag(argc, argv, "--help")) {
        fputs(help, stdout);
        return 0;
    }
    const char *out = cli_opt(argc, argv, "--out"), *data = cli_opt(argc, argv, "--data");
    if (!out) return cli_usage(cmd, "needs --out FEATS.npy");
    if (!data) return cli_usage(cmd, "needs --data FOLDER|NAME");
    if (cli_positionals(argc, argv, value_opts, NULL, 0) > 0) return cli_usage(cmd, "unexpected argument");
    const char *split = cli_opt(argc, argv, "--split");
    if (!split) split = "test";
    if (strcmp(split, "test") != 0 && strcmp(split, "train") != 0) return cli_usage(cmd, "--split is train or test");
    int64_t batch = 256;
    int threads = -1;
    int rc = cli_opt_i64(argc, argv, cmd, "--batch", 1, 65536, 256, &batch);
    if (!rc) rc = cli_opt_threads(argc, argv, cmd, &threads);
    if (rc) return rc;
    sslk_ctx *ctx = cli_ctx(threads);
    if (!ctx) return cli_fail(cmd, "context", SSLK_E_NOMEM);
    sslk_model *m = NULL;
    sslk_dataset *ds = NULL;
    sslk_augment *aug = NULL;
    float *z = NULL;
    int32_t *y = NULL;
    rc = load_model(cmd, ctx, argc, argv, &m);
    size_t nd = 0, shape[3] = {0, 0, 0}, n = 0, dim = 0;
    if (!rc) {
        sslk_model_input_shape(m, &nd, shape);
        sslk_model_io_size(m, NULL, &dim);
        if (nd != 3 || (shape[0] != 1 && shape[0] != 3) || shape[1] != shape[2])
            rc = cli_usage(cmd, "the model takes %zu-d inputs (%zu x %zu x %zu); embedding needs square 1- or "
                           "3-channel images", nd, shape[0], shape[1], shape[2]);
    }
    if (!rc) {
        int64_t side = 0;
        rc = cli_opt_i64(argc, argv, cmd, "--image-size", 1, 4096, (int64_t)shape[1], &side);
        if (!rc && (size_t)side != shape[1])
            rc = cli_usage(cmd, "--image-size %lld: the model takes %zu x %zu inputs", (long long)side, shape[1],
                           shape[2]);
    }
    if (!rc) {
        sslk_status s = sslk_dataset_open(ctx, data, strcmp(split, "test") == 0 ? SSLK_SPLIT_TEST : SSLK_SPLIT_TRAIN,
                                          &ds);
        if (s == SSLK_OK && !cli_flag(argc, argv, "--dct-scaling"))
            sslk_dataset_set_i64(ds, SSLK_DATASET_DCT_SCALING, 0); /* not every kind has it */
        rc = s == SSLK_OK ? sslk_dataset_count(ds, &n) != SSLK_OK : cli_fail(cmd, data, s);
    }
    if (!rc) rc = make_recipe(cmd, argc, argv, ctx, ds, shape[0], shape[1], &aug);
    if (!rc) {
        z = malloc((n ? n : 1) * dim * sizeof *z);
        y = malloc((n ? n : 1) * sizeof *y);
        if (!z || !y) rc = cli_fail(cmd, "features", SSLK_E_NOMEM);
    }
    if (!rc) {
        embed_progress pg = {now_s(), isatty(fileno(stderr)) != 0};
        sslk_status s = sslk_model_embed(m, ds, aug, (size_t)batch, z, n, dim, y, on_progress, &pg);
        size_t fshape[2] = {n, dim};
        if (s == SSLK_OK) s = sslk_npy_save(ctx, out, SSLK_DTYPE_F32, z, 2, fshape);
        if (s != SSLK_OK) rc = cli_fail(cmd, out, s);
    }
    char lp[4096], fp[4096];
    if (!rc) {
        const char *l = cli_opt(argc, argv, "--labels-out");
        if (l) snprintf(lp, sizeof lp, "%s", l);
        else beside(lp, sizeof lp, out, "_labels.npy");
        size_t ls[1] = {n};
        sslk_status s = sslk_npy_save(ctx, lp, SSLK_DTYPE_I32, y, 1, ls);
        if (s != SSLK_OK) rc = cli_fail(cmd, lp, s);
    }
    if (!rc) {
        const char *f = cli_opt(argc, argv, "--files-out");
        if (f) snprintf(fp, sizeof fp, "%s", f);
        else beside(fp, sizeof fp, out, "_files.txt");
        rc = write_files(cmd, fp, ds, n, split);
    }
    if (!rc) printf("%s: %zu x %zu float32; %s: labels; %s: item files\n", out, n, dim, lp, fp);
    free(z);
    free(y);
    sslk_augment_destroy(aug);
    sslk_dataset_destroy(ds);
    sslk_model_destroy(m);
    sslk_ctx_destroy(ctx);
    return rc;
}
