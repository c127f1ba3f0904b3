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
    "  --classes C: number of classes when L.npy holds predictions (default: max id + 1)\n";

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
    long long k = cli_opt_uint(argc, argv, cmd, "--worst-k", -2);
    long long classes = cli_opt_uint(argc, argv, cmd, "--classes", 0);
    if (k == -1 || classes == -1) return 2;
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
    if (!C)
        for (size_t i = 0; i < n; i++) {
            if (lab[i] >= 0 && (size_t)lab[i] + 1 > C) C = (size_t)lab[i] + 1;
            if (pred[i] >= 0 && (size_t)pred[i] + 1 > C) C = (size_t)pred[i] + 1;
        }
    size_t ng = 0;
    if (gpath) {
        if (cli_load(cmd, "groups", gpath, SSLK_DTYPE_I32, 1, 1, &G)) goto done;
        if (G.shape[0] != n) {
            fprintf(stderr, "sslkit %s: %zu group ids for %zu samples\n", cmd, G.shape[0], n);
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            int32_t g = ((int32_t *)G.data)[i];
            if (g >= 0 && (size_t)g + 1 > ng) ng = (size_t)g + 1;
        }
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
