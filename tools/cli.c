/* Helpers shared by the sslkit commands.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
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
    if (threads < 0) threads = 0; /* cli_opt_threads already folded in SSLKIT_THREADS */
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

/* ---- strict numbers ------------------------------------------------------
 * atoi/strtod accept "", "abc", "12x" and wrap or saturate silently; every
 * numeric option goes through these instead: the whole text must be one
 * base-10 number inside the stated range, else the option is named with the
 * accepted range and the command exits with status 2. */

/* Leading blanks and signs strtoll/strtoull would take are refused here so
 * that " 5", "+5" and (for unsigned values) "-1" never slip through. */
static bool plain_start(const char *v, bool allow_minus) {
    if (!v || !*v) return false;
    if (*v == '-') return allow_minus && (isdigit((unsigned char)v[1]) || v[1] == '.');
    return isdigit((unsigned char)*v) || *v == '.';
}

int cli_parse_i64(const char *cmd, const char *opt, const char *v, int64_t lo, int64_t hi, int64_t *out) {
    bool ok = plain_start(v, lo < 0) && v[strspn(v, "-0123456789")] == '\0';
    long long x = 0;
    if (ok) {
        char *end;
        errno = 0;
        x = strtoll(v, &end, 10);
        ok = *end == '\0' && errno == 0 && x >= lo && x <= hi;
    }
    if (!ok)
        return cli_usage(cmd, "%s expects an integer in [%" PRId64 ", %" PRId64 "], got '%s'", opt, lo, hi,
                         v ? v : "");
    *out = (int64_t)x;
    return 0;
}

int cli_parse_u64(const char *cmd, const char *opt, const char *v, uint64_t *out) {
    bool ok = plain_start(v, false) && v[strspn(v, "0123456789")] == '\0';
    unsigned long long x = 0;
    if (ok) {
        char *end;
        errno = 0;
        x = strtoull(v, &end, 10);
        ok = *end == '\0' && errno == 0;
    }
    if (!ok) return cli_usage(cmd, "%s expects an integer in [0, %" PRIu64 "], got '%s'", opt, UINT64_MAX, v ? v : "");
    *out = (uint64_t)x;
    return 0;
}

int cli_parse_f64(const char *cmd, const char *opt, const char *v, double lo, double hi, double *out) {
    /* decimal digits, point and exponent only: no hex floats, nan or inf */
    bool ok = plain_start(v, lo < 0) && v[strspn(v, "-+.eE0123456789")] == '\0';
    double x = 0;
    if (ok) {
        char *end;
        errno = 0;
        x = strtod(v, &end);
        ok = *end == '\0' && errno == 0 && isfinite(x) && x >= lo && x <= hi;
    }
    if (!ok) return cli_usage(cmd, "%s expects a finite number in [%g, %g], got '%s'", opt, lo, hi, v ? v : "");
    *out = x;
    return 0;
}

/* Split v at sep into between min_n and max_n fields, each copied out for
 * the strict parsers; *n gets the count. */
static int split_fields(const char *cmd, const char *opt, const char *v, char sep, size_t min_n, size_t max_n,
                        char fields[][64], size_t *n) {
    size_t k = 0;
    const char *p = v ? v : "";
    for (;;) {
        const char *q = strchr(p, sep);
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (k == max_n || len >= 64) {
            k = max_n + 1;
            break;
        }
        memcpy(fields[k], p, len);
        fields[k++][len] = '\0';
        if (!q) break;
        p = q + 1;
    }
    if (k < min_n || k > max_n) {
        if (min_n == max_n)
            return cli_usage(cmd, "%s expects %zu values separated by '%c', got '%s'", opt, min_n, sep, v ? v : "");
        return cli_usage(cmd, "%s expects %zu to %zu values separated by '%c', got '%s'", opt, min_n, max_n, sep,
                         v ? v : "");
    }
    *n = k;
    return 0;
}

int cli_parse_i64_list(const char *cmd, const char *opt, const char *v, char sep, size_t min_n, size_t max_n,
                       int64_t lo, int64_t hi, int64_t *out, size_t *n) {
    char f[CLI_MAX_LIST][64];
    if (max_n > CLI_MAX_LIST) max_n = CLI_MAX_LIST;
    int rc = split_fields(cmd, opt, v, sep, min_n, max_n, f, n);
    for (size_t i = 0; !rc && i < *n; i++) rc = cli_parse_i64(cmd, opt, f[i], lo, hi, &out[i]);
    return rc;
}

int cli_parse_f64_list(const char *cmd, const char *opt, const char *v, char sep, size_t min_n, size_t max_n,
                       double lo, double hi, double *out, size_t *n) {
    char f[CLI_MAX_LIST][64];
    if (max_n > CLI_MAX_LIST) max_n = CLI_MAX_LIST;
    int rc = split_fields(cmd, opt, v, sep, min_n, max_n, f, n);
    for (size_t i = 0; !rc && i < *n; i++) rc = cli_parse_f64(cmd, opt, f[i], lo, hi, &out[i]);
    return rc;
}

/* "--name" as the last argument has no value: an error, not the default. */
static int missing_value(int argc, char **argv, const char *cmd, const char *name) {
    return cli_flag(argc, argv, name) ? cli_usage(cmd, "%s needs a value", name) : 0;
}

int cli_opt_i64(int argc, char **argv, const char *cmd, const char *name, int64_t lo, int64_t hi, int64_t def,
                int64_t *out) {
    const char *v = cli_opt(argc, argv, name);
    *out = def;
    return v ? cli_parse_i64(cmd, name, v, lo, hi, out) : missing_value(argc, argv, cmd, name);
}

int cli_opt_u64(int argc, char **argv, const char *cmd, const char *name, uint64_t def, uint64_t *out) {
    const char *v = cli_opt(argc, argv, name);
    *out = def;
    return v ? cli_parse_u64(cmd, name, v, out) : missing_value(argc, argv, cmd, name);
}

int cli_opt_f64(int argc, char **argv, const char *cmd, const char *name, double lo, double hi, double def,
                double *out) {
    const char *v = cli_opt(argc, argv, name);
    *out = def;
    return v ? cli_parse_f64(cmd, name, v, lo, hi, out) : missing_value(argc, argv, cmd, name);
}

int cli_opt_threads(int argc, char **argv, const char *cmd, int *out) {
    int64_t t = -1;
    int rc = cli_opt_i64(argc, argv, cmd, "--threads", 0, SSLK_MAX_THREADS, -1, &t);
    const char *env = getenv("SSLKIT_THREADS");
    if (!rc && t < 0 && env && *env) rc = cli_parse_i64(cmd, "SSLKIT_THREADS", env, 0, SSLK_MAX_THREADS, &t);
    *out = (int)t;
    return rc;
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
