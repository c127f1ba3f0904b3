/* sslkit model: inspect, create and convert model files (native .sslk and
 * safetensors with PyTorch state_dict names, optionally under a prefix).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model_cli.h"

static const char *help =
    "usage: sslkit model info FILE.sslk\n"
    "       sslkit model info FILE.safetensors --spec SPEC [--input SHAPE] [--prefix P] [--non-strict]\n"
    "       sslkit model new --spec SPEC --input SHAPE [--seed N] OUT\n"
    "       sslkit model convert IN OUT [--spec SPEC] [--input SHAPE] [--prefix P] [--non-strict]\n"
    "  SHAPE: D or C,H,W.  OUT ending in .safetensors is written as safetensors\n"
    "  (PyTorch state_dict names), anything else as a native .sslk file.\n"
    "  A safetensors input needs --spec (the file holds weights only); --input\n"
    "  defaults to 3,224,224 (a conv net's weights do not depend on it).\n"
    "  --prefix P: reading safetensors, P is stripped from the file's names\n"
    "  (module., backbone., encoder.) and a name without it is unexpected;\n"
    "  writing safetensors, P is prepended to every name.\n"
    "  --non-strict: load what matches by name and shape; missing and\n"
    "  unexpected tensors are listed on stderr (strict, the default, refuses\n"
    "  them, naming each).  --skip-mismatched (with --non-strict): skip\n"
    "  tensors whose shape differs instead of refusing the file.\n"
    "  info prints the layer table: output shape, parameters and FLOPs per image\n"
    "  (2 x multiply-adds for conv and linear) with totals.\n";

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* "784" or "3,32,32": 0, or 2 after a usage error naming --input. */
static int parse_shape(const char *cmd, const char *txt, size_t *ndim, size_t shape[3]) {
    int64_t v[3];
    size_t n;
    int rc = cli_parse_i64_list(cmd, "--input", txt, ',', 1, 3, 1, INT32_MAX, v, &n);
    if (rc) return rc;
    if (n == 2) return cli_usage(cmd, "--input '%s' is not D or C,H,W", txt);
    for (size_t i = 0; i < n; i++) shape[i] = (size_t)v[i];
    *ndim = n;
    return 0;
}

/* The non-strict load's lists on stderr (a strict load's error names them). */
static void print_report(const char *cmd, const char *path, sslk_load_report *rep) {
    static const char *label[4] = {"loaded", "missing (kept)", "unexpected (ignored)", "mis-shaped (skipped)"};
    size_t n[4];
    for (int k = 0; k < 4; k++) sslk_load_report_count(rep, k, &n[k]);
    fprintf(stderr, "sslkit %s: %s: %zu tensors loaded", cmd, path, n[0]);
    for (int k = 1; k < 4; k++) {
        if (!n[k]) continue;
        fprintf(stderr, "; %zu %s:", n[k], label[k]);
        for (size_t i = 0; i < n[k]; i++) {
            const char *s;
            sslk_load_report_name(rep, k, i, &s);
            fprintf(stderr, " %s", s);
        }
    }
    fputc('\n', stderr);
}

/* Load IN: native file, or safetensors into a model built from --spec/--input. */
static int load_any(const char *cmd, sslk_ctx *ctx, int argc, char **argv, const char *path, sslk_model **m) {
    sslk_status s;
    if (!ends_with(path, ".safetensors")) {
        s = sslk_model_load(ctx, path, m);
        return s ? cli_fail(cmd, path, s) : 0;
    }
    const char *spec = cli_opt(argc, argv, "--spec"), *in = cli_opt(argc, argv, "--input");
    size_t nd = 3, shape[3] = {3, 224, 224};
    if (!spec) return cli_usage(cmd, "a safetensors file needs --spec (and --input unless 3,224,224)");
    int rc = in ? parse_shape(cmd, in, &nd, shape) : 0;
    if (rc) return rc;
    bool non_strict = cli_flag(argc, argv, "--non-strict"), skip = cli_flag(argc, argv, "--skip-mismatched");
    if (skip && !non_strict) return cli_usage(cmd, "--skip-mismatched needs --non-strict");
    if ((s = sslk_model_from_spec(ctx, spec, nd, shape, 0, m))) return cli_fail(cmd, "--spec", s);
    sslk_safetensors_options o;
    sslk_safetensors_options_init(&o);
    o.prefix = cli_opt(argc, argv, "--prefix");
    o.flags = (non_strict ? SSLK_SAFETENSORS_NON_STRICT : 0u) | (skip ? SSLK_SAFETENSORS_SKIP_MISMATCHED : 0u);
    sslk_load_report *rep = NULL;
    if ((s = sslk_load_report_create(ctx, &rep))) return cli_fail(cmd, "report", s);
    s = sslk_model_load_safetensors_ex(*m, path, &o, rep);
    if (!s && non_strict) print_report(cmd, path, rep);
    sslk_load_report_destroy(rep);
    if (s) {
        sslk_model_destroy(*m);
        *m = NULL;
        return cli_fail(cmd, path, s);
    }
    return 0;
}

/* Write OUT; prefix (may be NULL) goes before every safetensors name. */
static int save_any(const char *cmd, const sslk_model *m, const char *path, const char *prefix) {
    sslk_status s;
    if (ends_with(path, ".safetensors")) {
        sslk_safetensors_options o;
        sslk_safetensors_options_init(&o);
        o.prefix = prefix;
        s = sslk_model_save_safetensors_ex(m, path, &o);
    } else {
        s = sslk_model_save(m, path);
    }
    return s ? cli_fail(cmd, path, s) : 0;
}

int cmd_model(int argc, char **argv) {
    const char *cmd = "model";
    if (argc < 2 || cli_flag(argc, argv, "--help")) {
        fputs(help, stdout);
        return argc < 2 ? 2 : 0;
    }
    static const char *const vopts[] = {"--spec", "--input", "--seed", "--threads", "--prefix", NULL};
    char *pos[4];
    int np = cli_positionals(argc, argv, vopts, pos, 4);
    const char *sub = argv[1];
    sslk_ctx *ctx = cli_ctx(1);
    if (!ctx) return cli_fail(cmd, "context", SSLK_E_NOMEM);
    sslk_model *m = NULL;
    int rc;
    if (!strcmp(sub, "info")) {
        if (np != 2) rc = cli_usage(cmd, "info expects one FILE");
        else if (!(rc = load_any(cmd, ctx, argc, argv, pos[1], &m))) rc = model_print_info(cmd, m);
    } else if (!strcmp(sub, "new")) {
        const char *spec = cli_opt(argc, argv, "--spec"), *in = cli_opt(argc, argv, "--input");
        const char *seed = cli_opt(argc, argv, "--seed");
        size_t nd = 0, shape[3] = {0, 0, 0};
        uint64_t seed_v = 0;
        sslk_status s;
        if (np != 2 || !spec || !in) rc = cli_usage(cmd, "new expects --spec, --input and OUT");
        else if ((rc = parse_shape(cmd, in, &nd, shape)) || (seed && (rc = cli_parse_u64(cmd, "--seed", seed, &seed_v))))
            ;
        else if ((s = sslk_model_from_spec(ctx, spec, nd, shape, seed_v, &m)))
            rc = cli_fail(cmd, "--spec", s);
        else rc = save_any(cmd, m, pos[1], cli_opt(argc, argv, "--prefix"));
    } else if (!strcmp(sub, "convert")) {
        /* --prefix applies to the safetensors side: stripped when reading one, prepended when writing one */
        const char *prefix = cli_opt(argc, argv, "--prefix");
        if (np != 3) rc = cli_usage(cmd, "convert expects IN and OUT");
        else if (prefix && ends_with(pos[1], ".safetensors") && ends_with(pos[2], ".safetensors"))
            rc = cli_usage(cmd, "--prefix is ambiguous between two safetensors files (convert through .sslk)");
        else if (!(rc = load_any(cmd, ctx, argc, argv, pos[1], &m)))
            rc = save_any(cmd, m, pos[2], ends_with(pos[1], ".safetensors") ? NULL : prefix);
    } else {
        rc = cli_usage(cmd, "unknown subcommand '%s' (info, new, convert)", sub);
    }
    sslk_model_destroy(m);
    sslk_ctx_destroy(ctx);
    return rc;
}
