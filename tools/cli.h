/* The sslkit command-line program: shared declarations.  Each command lives
 * in its own cmd_<name>.c and registers in the table in sslkit.c.  The CLI
 * uses only the public API.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_CLI_H
#define SSLKIT_CLI_H

#include <stdbool.h>
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
/* Create a context honouring --threads (0 = all processors) and SSLKIT_THREADS. */
sslk_ctx *cli_ctx(int threads);
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
/* police */
int cmd_police(int argc, char **argv);

#endif
