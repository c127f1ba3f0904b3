/* sslkit ensemble: accuracy of an ensemble of classifiers and the
 * ensemble-size curve (FAIR-Ensemble).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <string.h>

#include "metric_report.h"

static const char *help =
    "usage: sslkit ensemble L1.npy L2.npy ... --labels Y.npy [--combine prob|logit|vote]\n"
    "                       [--worst-k K] [--orders N] [--seed S] [--json] [--threads N]\n"
    "  Li.npy: n x C logits of member i; Y.npy: n integer labels\n"
    "  --combine: mean of softmax probabilities (default), mean of logits, or majority vote\n"
    "  --orders N: random member orders averaged in the size curve (default 10), --seed S (0)\n"
    "\n"
    "   or: sslkit ensemble --members M --vary init,order,augment [...]\n"
    "  trains M supervised members first (same as 'sslkit train-ensemble'; see its help)\n";

int cmd_ensemble(int argc, char **argv) {
    const char *cmd = "ensemble";
    /* Issue 6's spelling: with --members the command trains the members itself. */
    if (cli_opt(argc, argv, "--members")) return cmd_train_ensemble(argc, argv);
    if (cli_flag(argc, argv, "--help")) {
        fputs(help, stdout);
        return 0;
    }
    static const char *const vopts[] = {"--labels", "--combine", "--worst-k", "--orders", "--seed", "--threads",
                                        NULL};
    int m = cli_positionals(argc, argv, vopts, NULL, 0);
    const char *ypath = cli_opt(argc, argv, "--labels");
    if (m < 1 || !ypath) return cli_usage(cmd, "needs at least one logits file and --labels Y.npy");
    char **files = calloc((size_t)m, sizeof *files);
    if (!files) return 1;
    cli_positionals(argc, argv, vopts, files, m);
    const char *comb = cli_opt(argc, argv, "--combine");
    sslk_ensemble_combine combine = SSLK_ENSEMBLE_MEAN_PROB;
    if (comb && strcmp(comb, "logit") == 0) combine = SSLK_ENSEMBLE_MEAN_LOGIT;
    else if (comb && strcmp(comb, "vote") == 0) combine = SSLK_ENSEMBLE_MAJORITY_VOTE;
    else if (comb && strcmp(comb, "prob") != 0) {
        free(files);
        return cli_usage(cmd, "--combine must be prob, logit or vote, not '%s'", comb);
    }
    int64_t k, orders;
    uint64_t seed;
    int threads, urc;
    if ((urc = cli_opt_i64(argc, argv, cmd, "--worst-k", 0, INT32_MAX, -1, &k)) ||
        (urc = cli_opt_i64(argc, argv, cmd, "--orders", 1, 1000000, 10, &orders)) ||
        (urc = cli_opt_u64(argc, argv, cmd, "--seed", 0, &seed)) || (urc = cli_opt_threads(argc, argv, cmd, &threads))) {
        free(files);
        return urc;
    }
    bool json = cli_flag(argc, argv, "--json");
    int rc = 1;
    float *all = NULL;
    int32_t *pred = NULL;
    double *curve = NULL;
    cli_array Y = {0}, L = {0};
    sslk_ctx *ctx = cli_ctx(threads);
    size_t n = 0, C = 0;
    for (int i = 0; i < m; i++) {
        if (cli_load(cmd, "logits", files[i], SSLK_DTYPE_F32, 2, 2, &L)) goto done;
        if (i == 0) {
            n = L.shape[0];
            C = L.shape[1];
            all = malloc((size_t)m * n * C * sizeof(float) + 1);
            if (!all) goto done;
        } else if (L.shape[0] != n || L.shape[1] != C) {
            fprintf(stderr, "sslkit %s: '%s' is %zu x %zu but '%s' is %zu x %zu\n", cmd, files[i], L.shape[0],
                    L.shape[1], files[0], n, C);
            goto done;
        }
        memcpy(all + (size_t)i * n * C, L.data, n * C * sizeof(float));
        cli_array_free(&L);
    }
    if (cli_load(cmd, "labels", ypath, SSLK_DTYPE_I32, 1, 1, &Y)) goto done;
    if (Y.shape[0] != n) {
        fprintf(stderr, "sslkit %s: %zu labels for %zu samples\n", cmd, Y.shape[0], n);
        goto done;
    }
    pred = malloc(n * sizeof *pred + 1);
    curve = malloc(4 * (size_t)m * sizeof *curve);
    if (!pred || !curve) goto done;
    sslk_status s = sslk_ensemble_predict(ctx, all, (size_t)m, n, C, combine, pred, NULL);
    if (s != SSLK_OK) {
        cli_fail(cmd, "combining members", s);
        goto done;
    }
    cli_report r;
    s = cli_report_compute(&r, pred, Y.data, n, C, NULL, 0, k < 0 ? SIZE_MAX : (size_t)k);
    if (s != SSLK_OK) {
        cli_fail(cmd, "report", s);
        goto done;
    }
    s = sslk_ensemble_curve(ctx, all, (size_t)m, n, C, Y.data, combine, r.k, (size_t)orders, (uint64_t)seed, curve,
                            curve + m, curve + 2 * m, curve + 3 * m);
    if (s != SSLK_OK) {
        cli_report_free(&r);
        cli_fail(cmd, "size curve", s);
        goto done;
    }
    static const char *names[] = {"prob", "logit", "vote"};
    if (json) {
        printf("{\"members\": %d, \"combine\": \"%s\", \"orders\": %lld, \"seed\": %llu, \"ensemble\": ", m,
               names[combine], (long long)orders, (unsigned long long)seed);
        cli_report_json(&r, stdout);
        printf(", \"curve\": {");
        static const char *keys[] = {"accuracy", "balanced_accuracy", "worst_k", "best_k"};
        for (int j = 0; j < 4; j++) {
            printf("%s\"%s\": [", j ? ", " : "", keys[j]);
            for (int i = 0; i < m; i++) {
                if (i) fputs(", ", stdout);
                cli_json_num(stdout, curve[j * m + i]);
            }
            printf("]");
        }
        printf("}}\n");
    } else {
        printf("ensemble of %d members (%s)\n", m, names[combine]);
        cli_report_print(&r, NULL);
        printf("\nensemble-size curve (mean over %lld random member orders, seed %llu)\n", (long long)orders,
               (unsigned long long)seed);
        printf("%7s  %8s  %8s  %8s  %8s\n", "members", "accuracy", "balanced", "worst-k", "best-k");
        for (int i = 0; i < m; i++)
            printf("%7d  %8.4f  %8.4f  %8.4f  %8.4f\n", i + 1, curve[i], curve[m + i], curve[2 * m + i],
                   curve[3 * m + i]);
    }
    cli_report_free(&r);
    rc = 0;
done:
    free(files);
    free(all);
    free(pred);
    free(curve);
    cli_array_free(&L);
    cli_array_free(&Y);
    sslk_ctx_destroy(ctx);
    return rc;
}
