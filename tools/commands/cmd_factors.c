/* sslkit factors: per-factor accuracy and error ratios (ImageNet-X).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metric_cli.h"

int factors_imagenet_x(int argc, char **argv); /* cmd_factors_imagenet_x.c */

static const char *help =
    "usage: sslkit factors --correct C.npy --factors F.npy [--names a,b,...] [--json]\n"
    "   or: sslkit factors --annotations A.jsonl --predictions P.npy --files F.txt [--variant multi|top] [--json]\n"
    "  A.jsonl: ImageNet-X annotations as the toolkit publishes them (JSON lines); P.npy: n predicted\n"
    "  classes; F.txt: the n image files (one per line, joined on the name after the last '/')\n"
    "  C.npy: n values 0/1 (or bool), 1 = correctly classified\n"
    "  F.npy: n x F values 0/1, 1 = the sample shows factor f\n"
    "  error ratio = (1 - accuracy on the factor) / (1 - overall accuracy); > 1: harder than average\n";

int cmd_factors(int argc, char **argv) {
    const char *cmd = "factors";
    if (cli_flag(argc, argv, "--help")) {
        fputs(help, stdout);
        return 0;
    }
    if (cli_opt(argc, argv, "--annotations")) return factors_imagenet_x(argc, argv);
    const char *cpath = cli_opt(argc, argv, "--correct"), *fpath = cli_opt(argc, argv, "--factors");
    const char *names_opt = cli_opt(argc, argv, "--names");
    if (!cpath || !fpath) return cli_usage(cmd, "needs --correct C.npy and --factors F.npy");
    cli_array Cr = {0}, Fa = {0};
    int rc = 1;
    char *names_buf = NULL;
    char **names = NULL;
    double *out = NULL;
    int64_t *cnt = NULL;
    if (cli_load(cmd, "correct", cpath, SSLK_DTYPE_U8, 1, 1, &Cr)) goto done;
    if (cli_load(cmd, "factors", fpath, SSLK_DTYPE_U8, 2, 2, &Fa)) goto done;
    size_t n = Cr.shape[0], F = Fa.shape[1];
    if (Fa.shape[0] != n) {
        fprintf(stderr, "sslkit %s: %zu factor rows for %zu samples\n", cmd, Fa.shape[0], n);
        goto done;
    }
    names = calloc(F + 1, sizeof *names);
    out = malloc((2 * F + 1) * sizeof *out);
    cnt = malloc((F + 1) * sizeof *cnt);
    if (!names || !out || !cnt) goto done;
    if (names_opt) {
        names_buf = strdup(names_opt);
        size_t i = 0;
        for (char *save = NULL, *t = strtok_r(names_buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (i < F) names[i] = t;
            i++;
        }
        if (i != F) {
            cli_usage(cmd, "--names lists %zu names for %zu factors", i, F);
            rc = 2;
            goto done;
        }
    }
    double acc;
    int64_t worst;
    sslk_status s = sslk_factor_error_ratios(NULL, Cr.data, n, Fa.data, F, &acc, out, out + F, cnt, &worst);
    if (s != SSLK_OK) {
        cli_fail(cmd, "factor error ratios", s);
        goto done;
    }
    char fallback[32];
    if (cli_flag(argc, argv, "--json")) {
        printf("{\"samples\": %zu, \"accuracy\": ", n);
        cli_json_num(stdout, acc);
        printf(", \"worst_factor\": ");
        if (worst < 0) printf("null");
        else if (names[worst]) cli_json_str(stdout, names[worst]);
        else printf("\"factor%lld\"", (long long)worst);
        printf(", \"factors\": [");
        for (size_t f = 0; f < F; f++) {
            snprintf(fallback, sizeof fallback, "factor%zu", f);
            printf("%s{\"name\": ", f ? ", " : "");
            cli_json_str(stdout, names[f] ? names[f] : fallback);
            printf(", \"count\": %lld, \"accuracy\": ", (long long)cnt[f]);
            cli_json_num(stdout, out[f]);
            printf(", \"error_ratio\": ");
            cli_json_num(stdout, out[F + f]);
            printf("}");
        }
        printf("]}\n");
    } else {
        printf("samples %zu, accuracy %.4f\n\n%-18s %7s  %8s  %11s\n", n, acc, "factor", "count", "accuracy",
               "error ratio");
        for (size_t f = 0; f < F; f++) {
            snprintf(fallback, sizeof fallback, "factor%zu", f);
            printf("%-18s %7lld  ", names[f] ? names[f] : fallback, (long long)cnt[f]);
            if (cnt[f]) printf("%8.4f  ", out[f]);
            else printf("%8s  ", "-");
            if (isfinite(out[F + f])) printf("%11.4f\n", out[F + f]);
            else printf("%11s\n", "-");
        }
        if (worst >= 0) {
            snprintf(fallback, sizeof fallback, "factor%lld", (long long)worst);
            printf("\nworst factor: %s (accuracy %.4f)\n", names[worst] ? names[worst] : fallback, out[worst]);
        }
    }
    rc = 0;
done:
    free(names_buf);
    free(names);
    free(out);
    free(cnt);
    cli_array_free(&Cr);
    cli_array_free(&Fa);
    return rc;
}
