/* `sslkit model info`: the layer table (name, kind, output shape, parameters,
 * FLOPs per image) with totals, then every tensor.
 * FLOPs: 2 x multiply-adds of conv and linear layers (bias adds not counted),
 * plus batch-norm (2 per value), activations and residual additions (1 per
 * value), pooling (1 per window element read): sslk_layer_info.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model_cli.h"

static void shape_txt(char *b, size_t cap, size_t nd, const size_t *s) {
    size_t at = 0;
    b[0] = 0;
    for (size_t i = 0; i < nd && at < cap; i++) at += (size_t)snprintf(b + at, cap - at, "%s%zu", i ? " x " : "", s[i]);
}

/* 1234567 -> "1.23 M" style, for the totals line. */
static void human(char *b, size_t cap, double v) {
    const char *u[] = {"", " K", " M", " G", " T"};
    int k = 0;
    while (v >= 1000 && k < 4) v /= 1000, k++;
    snprintf(b, cap, k ? "%.3g%s" : "%.0f%s", v, u[k]);
}

int model_print_info(const char *cmd, sslk_model *m) {
    size_t len, nd, sh[3], np, ns, nl;
    char buf[96];
    sslk_model_spec(m, NULL, 0, &len);
    char *spec = malloc(len + 1);
    if (!spec) return cli_fail(cmd, "spec", SSLK_E_NOMEM);
    sslk_model_spec(m, spec, len + 1, &len);
    printf("spec: %s\n", spec);
    free(spec);
    sslk_model_input_shape(m, &nd, sh);
    shape_txt(buf, sizeof buf, nd, sh);
    printf("input: %s\n", buf);
    sslk_model_output_shape(m, &nd, sh);
    shape_txt(buf, sizeof buf, nd, sh);
    printf("output: %s\n", buf);
    sslk_model_num_scalars(m, &ns);
    sslk_model_param_count(m, &np);
    sslk_model_layer_count(m, &nl);
    printf("\n%-28s %-10s %-16s %12s %14s\n", "layer", "kind", "output", "params", "FLOPs/image");
    uint64_t tp = 0, tf = 0, tmac = 0;
    for (size_t i = 0; i < nl; i++) {
        sslk_layer_info li = {.struct_size = sizeof li};
        sslk_status s = sslk_model_layer_info(m, i, &li);
        if (s) return cli_fail(cmd, "layer table", s);
        char name[64];
        snprintf(name, sizeof name, "%*s%s", (int)(2 * li.depth), "", li.name);
        shape_txt(buf, sizeof buf, li.out_ndim, li.out_shape);
        printf("%-28s %-10s %-16s %12llu %14llu\n", name, li.kind, buf, (unsigned long long)li.params,
               (unsigned long long)li.flops);
        tp += li.params;
        tf += li.flops;
        if (!strcmp(li.kind, "conv") || !strcmp(li.kind, "linear")) tmac += li.flops / 2;
    }
    char hp[32], hf[32], hm[32];
    human(hp, sizeof hp, (double)tp);
    human(hf, sizeof hf, (double)tf);
    human(hm, sizeof hm, (double)tmac);
    printf("%-28s %-10s %-16s %12llu %14llu\n", "total", "", "", (unsigned long long)tp, (unsigned long long)tf);
    printf("parameters: %s; FLOPs per image: %s (conv + linear multiply-adds: %s, counted x2 above; "
           "batch-norm, activations, pooling and additions included)\n\n", hp, hf, hm);
    printf("trainable scalars: %zu\ntensors: %zu\n", ns, np);
    for (size_t i = 0; i < np; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        sslk_model_param(m, i, &v);
        double sq = 0;
        for (size_t k = 0; k < v.count; k++) sq += (double)v.data[k] * v.data[k];
        printf("  %-28s", v.name);
        for (int d = 0; d < v.ndim; d++) printf("%s%zu", d ? " x " : " ", v.shape[d]);
        printf("   rms %.4g%s\n", v.count ? sqrt(sq / (double)v.count) : 0.0,
               (v.flags & SSLK_PARAM_FROZEN) ? "  (buffer)" : "");
    }
    return 0;
}
