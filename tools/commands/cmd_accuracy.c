/* sslkit accuracy: per-class, per-group and worst-k accuracy of a classifier.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>

#include "metric_report.h"

static const char *help =
    "usage: sslkit accuracy --logits L.npy --labels Y.npy [--groups G.npy] [--worst-k K]\n"
    "                       [--classes C] [--json]\n"
    "  L.npy: n x C logits (argmax, ties to the lowest class) or n integer predictions\n"
    "  Y.npy: n integer labels in [0, C); G.npy: n integer group ids\n"
    "  --worst-k K: size of the worst/best class sets (default: min(10, classes present))\n"
    "  --classes C: number of classes when L.npy holds predictions (default: max id + 1);\n"
    "               ids must lie in [0, C).  The report lists every class and group, so C\n"
    "               and the group count are limited to 1048576\n";

/* The report has one row per class (and per group): a stray id such as
 * 2147483647 must not turn 3 samples into gigabytes of rows and counters. */
#define MAX_IDS (1 << 20)

/* Raise *count to the largest id + 1 over v[n] (negative ids are left for the
 * library to name); 1 after printing an error when that exceeds MAX_IDS. */
static int id_count(const char *cmd, const char *what, const int32_t *v, size_t n, size_t *count) {
    size_t c = *count;
    for (size_t i = 0; i < n; i++)
        if (v[i] >= 0 && (size_t)v[i] + 1 > c) c = (size_t)v[i] + 1;
    if (c > MAX_IDS) {
        for (size_t i = 0; i < n; i++)
            if (v[i] >= 0 && (size_t)v[i] + 1 == c) {
                fprintf(stderr,
                        "sslkit %s: %s[%zu] = %d: ids must lie in [0, %d) because the report lists every one "
                        "(%zu samples)\n",
                        cmd, what, i, (int)v[i], MAX_IDS, n);
                break;
            }
        return 1;
    }
    *count = c;
    return 0;
}

/* Number of axes of an NPY file, or -1 after printing an error. */
static int npy_ndim(const char *cmd, const char *what, const char *path) {
    sslk_npy *f;
    sslk_status s = sslk_npy_open(NULL, path, &f);
    if (s != SSLK_OK) {
        cli_fail(cmd, what, s);
        return -1;
    }
    int nd = (int)sslk_npy_ndim(f);
    sslk_npy_close(f);
    return nd;
}

int cmd_accuracy(int argc, char **argv) {
    const char *cmd = "accuracy";
    if (cli_flag(argc, argv, "--help")) {
        fputs(help, stdout);
        return 0;
    }
    const char *lpath = cli_opt(argc, argv, "--logits"), *ypath = cli_opt(argc, argv, "--labels");
    const char *gpath = cli_opt(argc, argv, "--groups");
    if (!lpath || !ypath) return cli_usage(cmd, "needs --logits L.npy and --labels Y.npy");
    int64_t k, classes;
    int urc;
    if ((urc = cli_opt_i64(argc, argv, cmd, "--worst-k", 0, INT32_MAX, -1, &k)) ||
        (urc = cli_opt_i64(argc, argv, cmd, "--classes", 1, MAX_IDS, 0, &classes)))
        return urc;
    int nd = npy_ndim(cmd, "logits", lpath);
    if (nd < 0) return 1;
    cli_array L = {0}, Y = {0}, G = {0};
    int32_t *pred = NULL;
    int rc = 1;
    size_t n = 0, C = (size_t)classes;
    if (nd == 2) {
        if (cli_load(cmd, "logits", lpath, SSLK_DTYPE_F32, 2, 2, &L)) goto done;
        n = L.shape[0];
        if (!C) C = L.shape[1];
        if (C != L.shape[1]) {
            cli_usage(cmd, "--classes %zu disagrees with the %zu logit columns", C, L.shape[1]);
            goto done;
        }
        pred = malloc((n ? n : 1) * sizeof *pred);
        sslk_status s = pred ? sslk_argmax(NULL, L.data, n, C, pred) : SSLK_E_NOMEM;
        if (s != SSLK_OK) {
            cli_fail(cmd, lpath, s);
            goto done;
        }
    } else {
        if (cli_load(cmd, "predictions", lpath, SSLK_DTYPE_I32, 1, 1, &L)) goto done;
        n = L.shape[0];
        pred = L.data;
        L.data = NULL;
    }
    if (cli_load(cmd, "labels", ypath, SSLK_DTYPE_I32, 1, 1, &Y)) goto done;
    if (Y.shape[0] != n) {
        fprintf(stderr, "sslkit %s: %zu labels for %zu predictions\n", cmd, Y.shape[0], n);
        goto done;
    }
    const int32_t *lab = Y.data;
    if (!C) { /* from the ids; with --classes the library refuses ids >= C by name */
        if (id_count(cmd, "labels", lab, n, &C) || id_count(cmd, "predictions", pred, n, &C)) goto done;
    }
    size_t ng = 0;
    if (gpath) {
        if (cli_load(cmd, "groups", gpath, SSLK_DTYPE_I32, 1, 1, &G)) goto done;
        if (G.shape[0] != n) {
            fprintf(stderr, "sslkit %s: %zu group ids for %zu samples\n", cmd, G.shape[0], n);
            goto done;
        }
        if (id_count(cmd, "groups", G.data, n, &ng)) goto done;
        if (!ng) ng = 1; /* all ids negative: let the library name the first */
    }
    cli_report r;
    sslk_status s = cli_report_compute(&r, pred, lab, n, C, G.data, ng, k < 0 ? SIZE_MAX : (size_t)k);
    if (s != SSLK_OK) {
        cli_fail(cmd, "report", s);
        goto done;
    }
    if (cli_flag(argc, argv, "--json")) cli_report_json(&r, stdout);
    else cli_report_print(&r, NULL);
    cli_report_free(&r);
    rc = 0;
done:
    free(pred);
    cli_array_free(&L);
    cli_array_free(&Y);
    cli_array_free(&G);
    return rc;
}
