/* sslkit splinecam MODEL: the exact linear regions and decision boundary of
 * a native model file on a 2-D slice of its input space.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../cli.h"

static const char *const sc_value_opts[] = {"--anchors", "--dataset", "--indices", "--split", "--box", "--pad",
                                            "--out", "--json", "--csv", "--size", "--threads", "--seed",
                                            "--tol", "--max-regions", NULL};

static void sc_help(FILE *f) {
    fprintf(f,
            "usage: sslkit splinecam MODEL (--anchors A.npy | --indices i[,j[,k]] [--dataset NAME] [--split test])\n"
            "              [--pad P] [--box u0,u1,v0,v1] [--out picture.png|.svg|.pdf] [--json regions.json]\n"
            "              [--csv regions.csv] [--size WxH] [--random-colors] [--seed N] [--threads N]\n"
            "              [--tol T] [--max-regions N]\n\n"
            "Splits the slice through 1-3 anchor points (rows of A.npy, or images of a dataset\n"
            "scaled to [0,1]) into the model's exact linear regions (SplineCam) and prints the\n"
            "region count, the decision-boundary length and the time.\n"
            "  --pad P       margin around the anchors in input units (default 1)\n"
            "  --box ...     replace the domain by this box in the slice's coordinates; without\n"
            "                anchors, the box spans the first two input coordinates around 0\n"
            "  --out         picture: regions coloured by predicted class, boundary in bold\n"
            "  --json/--csv  regions and boundary segments (CSV: boundary in <name>.boundary.csv)\n"
            "  --seed N      seed of the random directions of a one-anchor slice\n"
            "  --tol T       relative tolerance of the side tests (default 1e-10, 1e-15..1e-3)\n"
            "  --max-regions N  stop with an error beyond N regions (default 1e7)\n");
}

/* Anchors from an NPY file (n x ... rows, n in 1..3), as float rows of width d. */
static int load_anchors(const char *cmd, sslk_ctx *ctx, const char *path, size_t d, float **out, size_t *n) {
    sslk_npy *f = NULL;
    sslk_status s = sslk_npy_open(ctx, path, &f);
    if (s != SSLK_OK) return cli_fail(cmd, path, s);
    size_t nd = sslk_npy_ndim(f), rows = nd ? sslk_npy_dim(f, 0) : 0, cnt = sslk_npy_count(f);
    if (nd < 1 || rows < 1 || rows > 3 || cnt != rows * d) {
        sslk_npy_close(f);
        fprintf(stderr, "sslkit %s: %s: expected 1-3 rows of %zu values (the model input), got %zu values in %zu rows\n",
                cmd, path, d, cnt, rows);
        return 1;
    }
    *out = malloc(cnt * sizeof **out);
    s = *out ? sslk_npy_read(f, SSLK_DTYPE_F32, *out, cnt) : SSLK_E_NOMEM;
    sslk_npy_close(f);
    if (s != SSLK_OK) return cli_fail(cmd, path, s);
    *n = rows;
    return 0;
}

/* Anchors from dataset images (HWC uint8 -> CHW float in [0,1]). */
static int dataset_anchors(const char *cmd, sslk_ctx *ctx, const char *name, const char *split,
                           const char *indices, size_t d, float **out, size_t *n) {
    sslk_dataset *ds = NULL;
    sslk_status s = sslk_dataset_open(ctx, name, split && strcmp(split, "train") == 0 ? SSLK_SPLIT_TRAIN : SSLK_SPLIT_TEST, &ds);
    if (s != SSLK_OK) return cli_fail(cmd, name, s);
    *out = malloc(3 * d * sizeof **out);
    uint8_t *img = malloc(d);
    int64_t idx[3];
    size_t k = 0, nidx = 0;
    int rc = cli_parse_i64_list(cmd, "--indices", indices, ',', 1, 3, 0, INT64_MAX, idx, &nidx);
    if (!rc && (!*out || !img)) rc = cli_fail(cmd, "anchors", SSLK_E_NOMEM);
    for (size_t j = 0; j < nidx && rc == 0; j++) {
        unsigned long long i = (unsigned long long)idx[j];
        size_t h, w, c;
        s = sslk_dataset_read(ds, (size_t)i, img, d, &h, &w, &c);
        if (s == SSLK_OK && h * w * c != d) {
            fprintf(stderr, "sslkit %s: image %llu has %zu values, the model takes %zu\n", cmd, i, h * w * c, d);
            rc = 1;
            break;
        }
        if (s != SSLK_OK) {
            rc = cli_fail(cmd, "reading the dataset", s);
            break;
        }
        for (size_t ch = 0; ch < c; ch++)
            for (size_t q = 0; q < h * w; q++) (*out)[k * d + ch * h * w + q] = img[q * c + ch] / 255.0f;
        k++;
    }
    free(img);
    sslk_dataset_destroy(ds);
    *n = k;
    return rc;
}

int cmd_splinecam(int argc, char **argv) {
    const char *cmd = "splinecam";
    if (cli_flag(argc, argv, "--help") || cli_flag(argc, argv, "-h")) {
        sc_help(stdout);
        return 0;
    }
    char *pos[2];
    if (cli_positionals(argc, argv, sc_value_opts, pos, 2) != 1) return cli_usage(cmd, "expects one MODEL file");
    const char *anchors = cli_opt(argc, argv, "--anchors"), *indices = cli_opt(argc, argv, "--indices");
    const char *box = cli_opt(argc, argv, "--box"), *out = cli_opt(argc, argv, "--out");
    const char *json = cli_opt(argc, argv, "--json"), *csv = cli_opt(argc, argv, "--csv");
    const char *ps = cli_opt(argc, argv, "--pad"), *size = cli_opt(argc, argv, "--size");
    const char *seed = cli_opt(argc, argv, "--seed"), *tol = cli_opt(argc, argv, "--tol");
    const char *maxr = cli_opt(argc, argv, "--max-regions");
    sslk_splinecam_options opt;
    sslk_splinecam_options_init(&opt);
    if (anchors && indices) return cli_usage(cmd, "--anchors and --indices exclude each other");
    if (!anchors && !indices && !box) return cli_usage(cmd, "needs --anchors, --indices or --box");
    double pad = 1.0, ext[4] = {0, 0, 0, 0};
    int64_t wh[2] = {800, 800};
    uint64_t seed_v = 0;
    size_t cnt;
    int threads, urc;
    if ((ps && (urc = cli_parse_f64(cmd, "--pad", ps, 1e-12, 1e12, &pad))) ||
        (box && (urc = cli_parse_f64_list(cmd, "--box", box, ',', 4, 4, -1e12, 1e12, ext, &cnt))) ||
        (size && (urc = cli_parse_i64_list(cmd, "--size", size, 'x', 2, 2, 16, 16384, wh, &cnt))) ||
        (seed && (urc = cli_parse_u64(cmd, "--seed", seed, &seed_v))) ||
        (tol && (urc = cli_parse_f64(cmd, "--tol", tol, 1e-15, 1e-3, &opt.tol))) ||
        (maxr && (urc = cli_parse_u64(cmd, "--max-regions", maxr, &opt.max_regions))) ||
        (urc = cli_opt_threads(argc, argv, cmd, &threads)))
        return urc;
    int W = (int)wh[0], H = (int)wh[1];
    sslk_ctx *ctx = cli_ctx(threads);
    if (!ctx) return cli_fail(cmd, "context", SSLK_E_NOMEM);
    if (seed) sslk_ctx_set_seed(ctx, seed_v);
    sslk_model *m = NULL;
    sslk_slice *sl = NULL;
    sslk_partition *p = NULL;
    float *a = NULL;
    int rc = 0;
    sslk_status s = sslk_model_load(ctx, pos[0], &m);
    if (s != SSLK_OK) {
        rc = cli_fail(cmd, pos[0], s);
        goto end;
    }
    size_t d = 0, n = 0;
    sslk_model_io_size(m, &d, NULL);
    if (anchors) rc = load_anchors(cmd, ctx, anchors, d, &a, &n);
    else if (indices) {
        const char *dsname = cli_opt(argc, argv, "--dataset");
        rc = dataset_anchors(cmd, ctx, dsname ? dsname : "fashion-mnist", cli_opt(argc, argv, "--split"), indices, d, &a, &n);
    }
    if (rc) goto end;
    if (n) {
        s = sslk_slice_from_anchors(ctx, a, n, d, pad, &sl);
        if (s == SSLK_OK && box) {
            /* same frame, the requested box as domain */
            double *o = malloc(d * sizeof *o), *dir = malloc(2 * d * sizeof *dir);
            float *of = malloc(d * sizeof *of), *df = malloc(2 * d * sizeof *df);
            sslk_slice_frame(sl, o, dir);
            for (size_t i = 0; i < d; i++) of[i] = (float)o[i], df[i] = (float)dir[i], df[d + i] = (float)dir[d + i];
            sslk_slice *b = NULL;
            s = sslk_slice_from_box(ctx, of, df, d, ext, &b);
            if (s == SSLK_OK) {
                sslk_slice_destroy(sl);
                sl = b;
            }
            free(o), free(dir), free(of), free(df);
        }
    } else {
        float *o = calloc(d, sizeof *o), *dir = calloc(2 * d, sizeof *dir);
        if (d >= 2) dir[0] = 1, dir[d + 1] = 1;
        s = sslk_slice_from_box(ctx, o, dir, d, ext, &sl);
        free(o), free(dir);
    }
    if (s != SSLK_OK) {
        rc = cli_fail(cmd, "slice", s);
        goto end;
    }
    s = sslk_splinecam_ex(ctx, m, sl, &opt, &p);
    if (s != SSLK_OK) {
        rc = cli_fail(cmd, "splinecam", s);
        goto end;
    }
    sslk_partition_stats st;
    st.struct_size = sizeof st;
    sslk_partition_stats_get(p, &st);
    printf("regions          %zu\n", st.regions);
    printf("boundary length  %.6g (%zu segments)\n", st.boundary_length, st.boundary_segments);
    printf("slice area       %.6g (mean region area %.4g, median %.4g)\n", st.area_total, st.area_mean, st.area_median);
    printf("time             %.3f s (%.4g regions/s, %d threads)\n", st.seconds,
           st.seconds > 0 ? (double)st.regions / st.seconds : 0.0, sslk_ctx_get_threads(ctx));
    unsigned pf = cli_flag(argc, argv, "--random-colors") ? SSLK_PARTITION_PLOT_RANDOM_COLORS : 0;
    if (out && (s = sslk_partition_plot(p, out, W, H, pf)) != SSLK_OK) rc = cli_fail(cmd, out, s);
    if (!rc && json && (s = sslk_partition_write_json(p, json)) != SSLK_OK) rc = cli_fail(cmd, json, s);
    if (!rc && csv) {
        size_t L = strlen(csv);
        char *bp = malloc(L + 16);
        memcpy(bp, csv, L + 1);
        if (L > 4 && strcmp(bp + L - 4, ".csv") == 0) bp[L - 4] = '\0';
        strcat(bp, ".boundary.csv");
        if ((s = sslk_partition_write_csv(p, csv, bp)) != SSLK_OK) rc = cli_fail(cmd, csv, s);
        free(bp);
    }
end:
    free(a);
    sslk_partition_destroy(p);
    sslk_slice_destroy(sl);
    sslk_model_destroy(m);
    sslk_ctx_destroy(ctx);
    return rc;
}
