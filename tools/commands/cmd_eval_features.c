/* sslkit eval --features: the evaluation protocol (kNN, linear probe,
 * RankMe, worst-3) from feature files alone, e.g. written by
 * `sslkit embed --model`; report.json and per-class plots into --out.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness_cli.h"
#include "metric_cli.h"
#include "train_cli.h"

static const char *help =
    "usage: sslkit eval --features TRAIN.npy --labels TRAIN_labels.npy --test-features TEST.npy\n"
    "                   --test-labels TEST_labels.npy [--out DIR] [--name NAME] [--threads N]\n"
    "  kNN top-1/top-5 (k=20, T=0.07, cosine), linear-probe top-1, RankMe of the test features and\n"
    "  worst-3 class accuracy of features (n x d, any numeric dtype) with integer labels in [0, 256);\n"
    "  writes DIR/report.json and DIR/per_class.{png,svg} (DIR default 'eval').\n";

static const char *const value_opts[] = {"--features", "--labels", "--test-features", "--test-labels", "--out",
                                         "--name", "--threads", NULL};

static int max_label(const char *cmd, const char *what, const int32_t *y, size_t n, int32_t *mx) {
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] > 255) {
            fprintf(stderr, "sslkit %s: %s[%zu] = %d: labels must lie in [0, 256)\n", cmd, what, i, y[i]);
            return 1;
        }
        if (y[i] > *mx) *mx = y[i];
    }
    return 0;
}

int harness_eval_features(int argc, char **argv) {
    const char *cmd = "eval";
    if (cli_flag(argc, argv, "--help")) {
        fputs(help, stdout);
        return 0;
    }
    const char *fa = cli_opt(argc, argv, "--features"), *la = cli_opt(argc, argv, "--labels");
    const char *fb = cli_opt(argc, argv, "--test-features"), *lb = cli_opt(argc, argv, "--test-labels");
    if (!fa || !la || !fb || !lb)
        return cli_usage(cmd, "needs --features, --labels, --test-features and --test-labels");
    if (cli_positionals(argc, argv, value_opts, NULL, 0) > 0) return cli_usage(cmd, "unexpected argument");
    const char *dir = cli_opt(argc, argv, "--out"), *name = cli_opt(argc, argv, "--name");
    if (!dir) dir = "eval";
    if (!name) name = "features";
    int threads = -1;
    int rc = cli_opt_threads(argc, argv, cmd, &threads);
    if (rc) return rc;
    cli_array A = {0}, B = {0}, YA = {0}, YB = {0};
    sslk_ctx *ctx = NULL;
    rc = 1;
    if (cli_load(cmd, "features", fa, SSLK_DTYPE_F32, 2, SSLK_NPY_MAX_NDIM, &A) ||
        cli_load(cmd, "test features", fb, SSLK_DTYPE_F32, 2, SSLK_NPY_MAX_NDIM, &B) ||
        cli_load(cmd, "labels", la, SSLK_DTYPE_I32, 1, 1, &YA) ||
        cli_load(cmd, "test labels", lb, SSLK_DTYPE_I32, 1, 1, &YB))
        goto done;
    size_t n = A.shape[0], m = B.shape[0], d = cli_row_width(&A);
    if (cli_row_width(&B) != d) {
        fprintf(stderr, "sslkit %s: features have %zu columns, test features %zu\n", cmd, d, cli_row_width(&B));
        goto done;
    }
    if (YA.shape[0] != n || YB.shape[0] != m) {
        fprintf(stderr, "sslkit %s: %zu labels for %zu features, %zu test labels for %zu test features\n", cmd,
                YA.shape[0], n, YB.shape[0], m);
        goto done;
    }
    int32_t mx = -1;
    if (max_label(cmd, "labels", YA.data, n, &mx) || max_label(cmd, "test labels", YB.data, m, &mx)) goto done;
    size_t nc = (size_t)mx + 1;
    if (nc < 2) {
        fprintf(stderr, "sslkit %s: the labels name %zu class; evaluation needs 2 or more\n", cmd, nc);
        goto done;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "sslkit %s: cannot create '%s': %s\n", cmd, dir, strerror(errno));
        goto done;
    }
    ctx = cli_ctx(threads);
    if (!ctx) {
        cli_fail(cmd, "context", SSLK_E_NOMEM);
        goto done;
    }
    bool tty = isatty(fileno(stderr)) != 0;
    if (tty) fprintf(stderr, "eval: kNN and linear probe on %zu + %zu features of %zu dims...", n, m, d);
    tc_result r;
    rc = tc_evaluate(ctx, cmd, name, A.data, YA.data, n, B.data, YB.data, m, d, nc, &r);
    if (tty) fprintf(stderr, rc ? "\n" : " %.1fs\n", r.seconds);
    if (rc) goto done;
    char proto[1024];
    snprintf(proto, sizeof proto,
             "protocol: features %s (%zu x %zu) / test %s (%zu), %zu classes, %d threads | kNN k=20 T=0.07 cosine "
             "exp-weights | linear probe: standardised, L2 from {1e-6..1e-2} on a 10%% held-out split, L-BFGS | "
             "RankMe of the test features | worst-3: mean of the 3 lowest per-class probe accuracies",
             fa, n, d, fb, m, nc, sslk_ctx_get_threads(ctx));
    tc_print_table(stdout, &r, 1, proto);
    rc = tc_write_report(cmd, dir, &r, 1, proto);
done:
    cli_array_free(&A);
    cli_array_free(&B);
    cli_array_free(&YA);
    cli_array_free(&YB);
    sslk_ctx_destroy(ctx);
    return rc;
}
