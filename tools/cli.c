/* Helpers shared by the sslkit commands.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "cli.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(const char *cmd, const char *what, sslk_status s) {
    fprintf(stderr, "sslkit %s: %s: %s: %s\n", cmd, what, sslk_status_str(s), sslk_last_error());
    return 1;
}

int cli_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "sslkit %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'sslkit help %s')\n", cmd);
    return 2;
}

sslk_ctx *cli_ctx(int threads) {
    sslk_ctx *c = NULL;
    if (sslk_ctx_create(&c) != SSLK_OK) return NULL;
    const char *env = getenv("SSLKIT_THREADS");
    if (threads < 0 && env) threads = atoi(env);
    if (threads < 0) threads = 0;
    if (sslk_ctx_set_threads(c, threads) != SSLK_OK) sslk_ctx_set_threads(c, 1);
    return c;
}

const char *cli_opt(int argc, char **argv, const char *name) {
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], name, n) != 0) continue;
        if (argv[i][n] == '=') return argv[i] + n + 1;
        if (argv[i][n] == '\0' && i + 1 < argc) return argv[i + 1];
    }
    return NULL;
}

bool cli_flag(int argc, char **argv, const char *name) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0) return true;
    return false;
}

int cli_positionals(int argc, char **argv, const char *const *value_opts, char **out, int cap) {
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0) {
            if (strchr(argv[i], '=')) continue;
            for (const char *const *o = value_opts; o && *o; o++)
                if (strcmp(argv[i], *o) == 0) {
                    i++;
                    break;
                }
            continue;
        }
        if (n < cap) out[n] = argv[i];
        n++;
    }
    return n;
}

void cli_json_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.10g", v);
    else fputs("null", f);
}

void cli_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}
