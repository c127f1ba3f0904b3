/* sslkit train-ensemble: FAIR-Ensemble at small scale.  Trains M supervised
 * members where only the chosen sources of randomness differ (init: the
 * parameter seed; order: the epoch order; augment: the augmentation draws;
 * data = order + augment), then prints the ensemble-size curve (accuracy,
 * best-3 and worst-3 class accuracy for m = 1..M) and plots it.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "train_cli.h"

int cmd_train_ensemble(int argc, char **argv) {
    const char *cmd = "train-ensemble";
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: sslkit train-ensemble [--members M] [--vary init,order,augment] [--data D] [--out DIR]\n"
               "                             [--encoder SPEC] [--epochs E] [options]\n"
               "  Train M (default 4) supervised members differing only in the chosen randomness:\n"
               "  init (parameter seed), order (epoch order), augment (augmentation draws); data =\n"
               "  order,augment (default init,data).  Prints the ensemble-size curve (mean-probability\n"
               "  ensembles averaged over 10 member orders) and writes DIR/ensemble.{png,svg} (default\n"
               "  DIR 'ensemble').\n");
        return 0;
    }
    int64_t M64;
    int threads, urc;
    if ((urc = cli_opt_i64(argc, argv, cmd, "--members", 1, 64, 4, &M64)) ||
        (urc = cli_opt_threads(argc, argv, cmd, &threads)))
        return urc;
    int M = (int)M64;
    const char *vary = cli_opt(argc, argv, "--vary");
    if (!vary) vary = "init,data";
    bool v_init = false, v_order = false, v_aug = false;
    char vbuf[128];
    if (strlen(vary) >= sizeof vbuf) return cli_usage(cmd, "--vary is too long");
    strcpy(vbuf, vary);
    for (char *save = NULL, *tok = strtok_r(vbuf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "init") == 0) v_init = true;
        else if (strcmp(tok, "order") == 0) v_order = true;
        else if (strcmp(tok, "augment") == 0) v_aug = true;
        else if (strcmp(tok, "data") == 0) v_order = v_aug = true;
        else return cli_usage(cmd, "--vary: '%s' is not init, order, augment or data", tok);
    }
    if (!v_init && !v_order && !v_aug) return cli_usage(cmd, "--vary lists init, order and/or augment");
    const char *data = cli_opt(argc, argv, "--data");
    const char *dir = cli_opt(argc, argv, "--out");
    if (!data) data = "fashion-mnist";
    if (!dir) dir = "ensemble";
    const char *enc = cli_opt(argc, argv, "--encoder");
    if (!enc) enc = "flatten,linear:512,bn,relu,linear:256,bn,relu";
    sslk_ctx *ctx = cli_ctx(threads);
    if (!ctx) return 1;
    tc_data d;
    int rc = tc_open_data(ctx, cmd, data, &d);
    size_t n = d.ntest, c = d.nclasses;
    float *logits = rc ? NULL : malloc((size_t)M * n * c * sizeof(float));
    int32_t *labels = rc ? NULL : malloc(n * sizeof(int32_t));
    if (!rc && (!logits || !labels)) rc = cli_fail(cmd, "memory", SSLK_E_NOMEM);
    char label[64];
    for (int i = 0; i < M && !rc; i++) {
        sslk_trainer *tr = NULL;
        sslk_status s = sslk_trainer_create(ctx, SSLK_METHOD_SUPERVISED, d.train, enc, NULL, &tr);
        if (s == SSLK_OK) {
            sslk_trainer_set_i64(tr, SSLK_TRAIN_EPOCHS, 2);
            rc = tc_apply_options(cmd, tr, argc, argv);
            if (!rc && v_init) s = sslk_trainer_set_i64(tr, SSLK_TRAIN_INIT_SEED, 1000 + i);
            /* the augmentation seed is pinned to the base seed unless it varies,
             * so that varying the order leaves every draw unchanged */
            double base = 0, aug = -1;
            sslk_trainer_get_f64(tr, SSLK_TRAIN_SEED, &base);
            sslk_trainer_get_f64(tr, SSLK_TRAIN_AUG_SEED, &aug);
            if (aug < 0) aug = base;
            if (!rc && s == SSLK_OK)
                s = sslk_trainer_set_i64(tr, SSLK_TRAIN_AUG_SEED, (int64_t)aug + (v_aug ? 7919 * i : 0));
            if (!rc && s == SSLK_OK && v_order)
                s = sslk_trainer_set_i64(tr, SSLK_TRAIN_SEED, (int64_t)base + 7919 * i);
        }
        if (!rc && s == SSLK_OK) {
            snprintf(label, sizeof label, "member %d/%d", i + 1, M);
            tc_progress_attach(tr, label);
            s = sslk_trainer_fit(tr, 0);
        }
        size_t dim = 0;
        float *z = NULL;
        if (!rc && s == SSLK_OK) {
            sslk_trainer_embed_dim(tr, &dim);
            z = malloc(n * dim * sizeof(float));
            s = z ? sslk_trainer_embed(tr, d.test, z, n, dim, labels) : SSLK_E_NOMEM;
        }
        if (!rc && s == SSLK_OK) {
            sslk_model *head = NULL;
            sslk_trainer_projector(tr, &head);
            s = sslk_model_forward(head, z, n, logits + (size_t)i * n * c, SSLK_MODE_EVAL);
        }
        free(z);
        sslk_trainer_destroy(tr);
        if (!rc && s != SSLK_OK) rc = cli_fail(cmd, "training a member", s);
    }
    double *acc = NULL;
    if (!rc) {
        acc = calloc(4 * (size_t)M, sizeof(double));
        sslk_status s = acc ? sslk_ensemble_curve(ctx, logits, (size_t)M, n, c, labels, SSLK_ENSEMBLE_MEAN_PROB, 3, 10, 0,
                                                  acc, acc + M, acc + 2 * M, acc + 3 * M)
                            : SSLK_E_NOMEM;
        if (s != SSLK_OK) rc = cli_fail(cmd, "ensemble curve", s);
    }
    if (!rc) {
        char what[64] = "";
        const char *names[3] = {"init", "order", "augment"};
        bool on[3] = {v_init, v_order, v_aug};
        for (int k = 0; k < 3; k++)
            if (on[k]) {
                if (what[0]) strcat(what, "+");
                strcat(what, names[k]);
            }
        printf("ensemble-size curve: %d supervised members varying %s, mean-probability ensembles, "
               "10 member orders\n", M, what);
        printf("%-8s %10s %10s %10s %10s\n", "members", "accuracy", "balanced", "best-3", "worst-3");
        for (int i = 0; i < M; i++)
            printf("%-8d %9.2f%% %9.2f%% %9.2f%% %9.2f%%\n", i + 1, 100 * acc[i], 100 * acc[M + i],
                   100 * acc[3 * M + i], 100 * acc[2 * M + i]);
        if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
            /* rows: accuracy, best-3, worst-3 over m = 1..M */
            double *y = malloc(3 * (size_t)M * sizeof(double)), *x = malloc((size_t)M * sizeof(double));
            if (y && x) {
                for (int i = 0; i < M; i++) {
                    x[i] = i + 1;
                    y[i] = acc[i];
                    y[M + i] = acc[3 * M + i];
                    y[2 * M + i] = acc[2 * M + i];
                }
                const char *names[3] = {"accuracy", "best-3 classes", "worst-3 classes"};
                char path[4096];
                for (int f = 0; f < 2 && !rc; f++) {
                    snprintf(path, sizeof path, "%s/ensemble.%s", dir, f ? "svg" : "png");
                    sslk_status s = sslk_plot_curves(path, "FAIR-Ensemble: accuracy vs ensemble size", "members",
                                                     "accuracy", x, y, 3, (size_t)M, names, 0);
                    if (s != SSLK_OK) rc = cli_fail(cmd, path, s);
                }
                if (!rc) printf("plot: %s/ensemble.{png,svg}\n", dir);
            }
            free(x);
            free(y);
        }
    }
    free(acc);
    free(logits);
    free(labels);
    tc_close_data(&d);
    sslk_ctx_destroy(ctx);
    return rc;
}
