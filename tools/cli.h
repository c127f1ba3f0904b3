/* The sslkit command-line program: shared declarations.  Each command lives
 * in its own cmd_<name>.c and registers in the table in sslkit.c.  The CLI
 * uses only the public API.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_CLI_H
#define SSLKIT_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <sslkit/sslkit.h>

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
} cli_command;

/* Atomic output file: cli_atomic_open creates a temporary file next to path
 * (NULL with errno on failure); cli_atomic_commit flushes, syncs and renames
 * it over path when ok, else removes it; 0 on success, -1 with errno. */
typedef struct cli_atomic {
    FILE *f;
    char tmp[4112];
} cli_atomic;
FILE *cli_atomic_open(cli_atomic *a, const char *path);
int cli_atomic_commit(cli_atomic *a, const char *path, bool ok);

/* Print "sslkit <cmd>: <what>: <status>: <last error>" to stderr and return 1. */
int cli_fail(const char *cmd, const char *what, sslk_status s);
/* Print a usage error and return 2. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Create a context with threads threads (0 or -1 = all processors); take the
 * count from cli_opt_threads. */
sslk_ctx *cli_ctx(int threads);

/* Strict numbers for every option value (never atoi/strtod directly): the
 * whole text must be one base-10 number in [lo, hi] (reals: finite, no
 * nan/inf/hex).  Each returns 0, or prints "sslkit CMD: OPT expects ... in
 * [lo, hi], got 'V'" and returns 2 (the usage status) for the caller to
 * return.  The cli_opt_* forms store def when the option is absent and
 * refuse an option given without a value. */
#define CLI_MAX_LIST 16
int cli_parse_i64(const char *cmd, const char *opt, const char *v, int64_t lo, int64_t hi, int64_t *out);
int cli_parse_u64(const char *cmd, const char *opt, const char *v, uint64_t *out);
int cli_parse_f64(const char *cmd, const char *opt, const char *v, double lo, double hi, double *out);
/* min_n..max_n (at most CLI_MAX_LIST) values separated by sep; *n gets the count. */
int cli_parse_i64_list(const char *cmd, const char *opt, const char *v, char sep, size_t min_n, size_t max_n,
                       int64_t lo, int64_t hi, int64_t *out, size_t *n);
int cli_parse_f64_list(const char *cmd, const char *opt, const char *v, char sep, size_t min_n, size_t max_n,
                       double lo, double hi, double *out, size_t *n);
int cli_opt_i64(int argc, char **argv, const char *cmd, const char *name, int64_t lo, int64_t hi, int64_t def,
                int64_t *out);
int cli_opt_u64(int argc, char **argv, const char *cmd, const char *name, uint64_t def, uint64_t *out);
int cli_opt_f64(int argc, char **argv, const char *cmd, const char *name, double lo, double hi, double def,
                double *out);
/* --threads N, else SSLKIT_THREADS, both in [0, SSLK_MAX_THREADS]; -1 when neither is set. */
int cli_opt_threads(int argc, char **argv, const char *cmd, int *out);
/* Find "--name value" or "--name=value" in argv; returns NULL if absent. */
const char *cli_opt(int argc, char **argv, const char *name);
bool cli_flag(int argc, char **argv, const char *name);
/* Positional arguments (those not starting with "--" and not an option's value);
 * value_opts lists options that take a value (NULL-terminated). */
int cli_positionals(int argc, char **argv, const char *const *value_opts, char **out, int cap);
/* JSON string escaping onto f. */
void cli_json_str(FILE *f, const char *s);
/* A JSON number (10 significant digits), or null for NaN/Inf. */
void cli_json_num(FILE *f, double v);

int cmd_version(int argc, char **argv);
/* more commands are declared here, one line each */
/* @metric */
int cmd_rankme(int argc, char **argv);
int cmd_accuracy(int argc, char **argv);
int cmd_ensemble(int argc, char **argv);
int cmd_factors(int argc, char **argv);
int cmd_demo(int argc, char **argv);
/* @loss */
/* @nn */
int cmd_model(int argc, char **argv);
/* @data */
int cmd_data(int argc, char **argv);
/* @train */
int cmd_train(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_main(int argc, char **argv);
int cmd_train_ensemble(int argc, char **argv);
/* @geometry */
int cmd_splinecam(int argc, char **argv);
/* spectral */
int cmd_spectral(int argc, char **argv);
/* police */
int cmd_police(int argc, char **argv);
/* theory (issue 18) */
int cmd_lidar(int argc, char **argv);

#endif
