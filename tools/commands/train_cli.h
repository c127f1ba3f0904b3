/* Shared helpers of the training commands (train, resume, eval, embed,
 * main, train-ensemble): data opening, settings on the command line,
 * progress display, the evaluation protocol, report and plots.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_TRAIN_CLI_H
#define SSLKIT_TRAIN_CLI_H

#include "cli.h"

/* One evaluated representation. */
typedef struct tc_result {
    char name[64];
    size_t dim;
    double knn_top1, knn_top5, probe_top1, probe_l2, rankme, worst3, balanced;
    double class_acc[256];
    const char *class_names[256]; /* the dataset's (static), or all NULL */
    size_t nclasses;
    double seconds;
} tc_result;

/* Train and test splits of a dataset name or path. */
typedef struct tc_data {
    sslk_dataset *train, *test;
    size_t ntrain, ntest, nclasses;
} tc_data;

int tc_open_data(sslk_ctx *ctx, const char *cmd, const char *name, tc_data *d);
void tc_close_data(tc_data *d);

/* Apply every "--set name=value" (trainer, loss, kNN, probe domains) and the
 * shortcuts --epochs --batch --lr --seed --steps-per-epoch. */
int tc_apply_options(const char *cmd, sslk_trainer *tr, int argc, char **argv);
/* --dist mpi|none (default: mpi when started by mpirun): attach the MPI
 * filler's table to ctx.  0, 2 after a usage error, 1 on failure. */
int tc_setup_dist(const char *cmd, int argc, char **argv, sslk_ctx *ctx);
/* This process's rank in ctx's collectives table (0 without one). */
int tc_rank(const sslk_ctx *ctx);
/* After a failed command on a rank of an MPI job: end every rank now. */
void tc_dist_fail(const sslk_ctx *ctx, int rc);

/* Progress display: a bar with ETA on a terminal, plain lines otherwise. */
void tc_progress_attach(sslk_trainer *tr, const char *label);

/* Evaluate features: kNN (k=20, T=0.07, cosine), linear probe (top-1,
 * per-class, worst-3) and RankMe of the test features. */
int tc_evaluate(sslk_ctx *ctx, const char *cmd, const char *name, const float *trz, const int32_t *try_, size_t n,
                const float *tez, const int32_t *tey, size_t m, size_t d, size_t nclasses, tc_result *r);
/* Embed both splits with the trainer's encoder and evaluate. */
int tc_evaluate_trainer(sslk_ctx *ctx, const char *cmd, const char *name, sslk_trainer *tr, const tc_data *d,
                        tc_result *r);
/* Raw pixels in [0, 1] as features. */
int tc_evaluate_pixels(sslk_ctx *ctx, const char *cmd, const tc_data *d, tc_result *r);

/* The table; protocol line first. */
void tc_print_table(FILE *f, const tc_result *rows, size_t n, const char *protocol);
/* report.json, history.csv, curves.{png,svg}, per_class.{png,svg} into dir. */
/* report.json and the per-class bars of rows[0] (atomic). */
int tc_write_report(const char *cmd, const char *dir, const tc_result *rows, size_t n, const char *protocol);
/* history.csv and the loss / RankMe curves of tr's epochs (atomic). */
int tc_write_history(const char *cmd, const char *dir, sslk_trainer *tr);
/* Both. */
int tc_write_outputs(const char *cmd, const char *dir, sslk_trainer *tr, const tc_result *rows, size_t n,
                     const char *protocol);

#endif
