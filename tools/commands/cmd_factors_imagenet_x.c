/* sslkit factors --annotations A.jsonl --predictions P.npy --files F.txt:
 * ImageNet-X as published, joined with a model's predictions by file name.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metric_cli.h"

#define NF SSLK_IMAGENET_X_NUM_FACTORS

/* Lines of path (trailing \r stripped, empty lines refused): *lines points
 * into *buf. */
static int read_lines(const char *cmd, const char *path, char **buf, char ***lines, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "sslkit %s: cannot open '%s'\n", cmd, path);
        return 1;
    }
    size_t cap = 1 << 16, len = 0;
    char *b = malloc(cap + 1);
    for (size_t r; b && (r = fread(b + len, 1, cap - len, f)) > 0;) {
        len += r;
        if (len == cap) {
            char *nb = cap > ((size_t)1 << 32) ? NULL : realloc(b, 2 * cap + 1);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!b) return cli_fail(cmd, path, SSLK_E_NOMEM);
    b[len] = 0;
    size_t cnt = 0;
    for (size_t i = 0; i < len; i++) cnt += b[i] == '\n';
    char **L = malloc((cnt + 1) * sizeof *L);
    if (!L) {
        free(b);
        return cli_fail(cmd, path, SSLK_E_NOMEM);
    }
    size_t k = 0, line = 0;
    for (char *p = b; p < b + len;) {
        char *e = memchr(p, '\n', (size_t)(b + len - p));
        if (!e) e = b + len;
        *e = 0;
        line++;
        if (e > p && e[-1] == '\r') e[-1] = 0;
        if (!*p) {
            fprintf(stderr, "sslkit %s: '%s' line %zu is empty (one file per line)\n", cmd, path, line);
            free(L);
            free(b);
            return 1;
        }
        L[k++] = p;
        p = e + 1;
    }
    *buf = b;
    *lines = L;
    *n = k;
    return 0;
}

static void json_factors(FILE *o, const double *acc, const double *ratio, const int64_t *cnt) {
    fputs("[", o);
    for (size_t f = 0; f < NF; f++) {
        const char *nm = NULL;
        sslk_imagenet_x_factor_name(f, &nm);
        fprintf(o, "%s{\"name\": ", f ? ", " : "");
        cli_json_str(o, nm);
        fprintf(o, ", \"count\": %lld, \"accuracy\": ", (long long)cnt[f]);
        cli_json_num(o, acc[f]);
        fputs(", \"error_ratio\": ", o);
        cli_json_num(o, ratio[f]);
        fputs("}", o);
    }
    fputs("]", o);
}

int factors_imagenet_x(int argc, char **argv) {
    const char *cmd = "factors";
    const char *apath = cli_opt(argc, argv, "--annotations"), *ppath = cli_opt(argc, argv, "--predictions"),
               *fpath = cli_opt(argc, argv, "--files"), *variant = cli_opt(argc, argv, "--variant");
    if (!ppath || !fpath) return cli_usage(cmd, "--annotations needs --predictions P.npy and --files F.txt");
    int var = SSLK_IMAGENET_X_MULTI;
    if (variant && strcmp(variant, "top") == 0) var = SSLK_IMAGENET_X_TOP;
    else if (variant && strcmp(variant, "multi") != 0) return cli_usage(cmd, "--variant is multi or top");
    cli_array P = {0};
    char *fbuf = NULL, **files = NULL;
    size_t nf = 0, nmeta = 0;
    sslk_imagenet_x *ax = NULL;
    double *facc = NULL;
    int64_t *fcnt = NULL;
    int rc = 1;
    if (cli_load(cmd, "predictions", ppath, SSLK_DTYPE_I32, 1, 2, &P)) goto done;
    if (P.ndim == 2) { /* logits: argmax per row */
        fprintf(stderr, "sslkit %s: --predictions holds %zu x %zu values; give the predicted class per file (n)\n",
                cmd, P.shape[0], P.shape[1]);
        goto done;
    }
    if (read_lines(cmd, fpath, &fbuf, &files, &nf)) goto done;
    if (nf != P.shape[0]) {
        fprintf(stderr, "sslkit %s: %zu files in '%s' for %zu predictions\n", cmd, nf, fpath, P.shape[0]);
        goto done;
    }
    sslk_status s = sslk_imagenet_x_load(NULL, apath, var, &ax);
    if (s == SSLK_OK) s = sslk_imagenet_x_count(ax, NULL, &nmeta);
    if (s != SSLK_OK) {
        cli_fail(cmd, apath, s);
        goto done;
    }
    size_t M = nmeta ? nmeta : 1;
    facc = malloc((3 * NF + 2 * M + 2 * M * NF) * sizeof *facc);
    fcnt = malloc((NF + M + M * NF) * sizeof *fcnt);
    if (!facc || !fcnt) {
        cli_fail(cmd, "report", SSLK_E_NOMEM);
        goto done;
    }
    double *ratio = facc + NF, *macc = ratio + NF, *mfacc = macc + M, *mratio = mfacc + M * NF;
    int64_t *mcnt = fcnt + NF, *mfcnt = mcnt + M;
    size_t counts[3];
    double acc;
    s = sslk_imagenet_x_evaluate(ax, (const char *const *)files, P.data, nf, counts, &acc, facc, ratio, fcnt, macc,
                                 mcnt, mfacc, mratio, mfcnt);
    if (s != SSLK_OK) {
        cli_fail(cmd, "ImageNet-X report", s);
        goto done;
    }
    if (cli_flag(argc, argv, "--json")) {
        printf("{\"variant\": \"%s\", \"matched\": %zu, \"annotated_without_prediction\": %zu, "
               "\"predictions_without_annotation\": %zu, \"accuracy\": ",
               var == SSLK_IMAGENET_X_TOP ? "top" : "multi", counts[0], counts[1], counts[2]);
        cli_json_num(stdout, acc);
        fputs(", \"factors\": ", stdout);
        json_factors(stdout, facc, ratio, fcnt);
        fputs(", \"metaclasses\": [", stdout);
        for (size_t m = 0; m < nmeta; m++) {
            const char *nm = NULL;
            sslk_imagenet_x_metaclass(ax, m, &nm);
            printf("%s{\"name\": ", m ? ", " : "");
            cli_json_str(stdout, nm);
            printf(", \"count\": %lld, \"accuracy\": ", (long long)mcnt[m]);
            cli_json_num(stdout, macc[m]);
            fputs(", \"factors\": ", stdout);
            json_factors(stdout, mfacc + m * NF, mratio + m * NF, mfcnt + m * NF);
            fputs("}", stdout);
        }
        fputs("]}\n", stdout);
    } else {
        printf("ImageNet-X (%s-factor annotations): %zu images matched, %zu annotated without a prediction, "
               "%zu predictions without an annotation; accuracy %.4f\n\n%-18s %7s  %8s  %11s\n",
               var == SSLK_IMAGENET_X_TOP ? "top" : "multi", counts[0], counts[1], counts[2], acc, "factor", "count",
               "accuracy", "error ratio");
        for (size_t f = 0; f < NF; f++) {
            const char *nm = NULL;
            sslk_imagenet_x_factor_name(f, &nm);
            printf("%-18s %7lld  ", nm, (long long)fcnt[f]);
            if (fcnt[f]) printf("%8.4f  ", facc[f]);
            else printf("%8s  ", "-");
            if (isfinite(ratio[f])) printf("%11.4f\n", ratio[f]);
            else printf("%11s\n", "-");
        }
        printf("\n%-18s %7s  %8s  %s\n", "metaclass", "count", "accuracy", "highest error ratio");
        for (size_t m = 0; m < nmeta; m++) {
            const char *nm = NULL;
            sslk_imagenet_x_metaclass(ax, m, &nm);
            int best = -1;
            for (size_t f = 0; f < NF; f++)
                if (isfinite(mratio[m * NF + f]) && (best < 0 || mratio[m * NF + f] > mratio[m * NF + (size_t)best]))
                    best = (int)f;
            printf("%-18s %7lld  ", nm[0] ? nm : "(none)", (long long)mcnt[m]);
            if (mcnt[m]) printf("%8.4f  ", macc[m]);
            else printf("%8s  ", "-");
            const char *fn_ = NULL;
            if (best >= 0 && sslk_imagenet_x_factor_name((size_t)best, &fn_) == SSLK_OK)
                printf("%s %.4f\n", fn_, mratio[m * NF + (size_t)best]);
            else
                printf("-\n");
        }
    }
    rc = 0;
done:
    sslk_imagenet_x_destroy(ax);
    free(facc);
    free(fcnt);
    free(files);
    free(fbuf);
    cli_array_free(&P);
    return rc;
}
