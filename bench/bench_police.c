/* POLICE cost: forward + backward (train mode, no input gradient) of a
 * leaky-ReLU MLP with and without the constraint, for the configurations of
 * the method's timing table (batch N = 1024, simplex region {0, e_i/sqrt(D)},
 * C = D + 1 vertices riding along with the batch), 2 threads.  Prints the
 * measured slow-down next to the inherent (N + C) / N, and the time against
 * the plain model on N + C rows (the cost of the hook itself).  The three
 * variants are interleaved in every repetition (the constraint is detached
 * and re-attached in between) so that machine load hits them alike.
 * Usage: bench_police [reps] [--full] [--row 0|1|2]   (--full: D=3072 row at width 4096)
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "geometry/police_internal.h"
#include "sslkit/sslkit.h"

typedef struct cfg {
    size_t D, width, depth, N;
} cfg;

typedef struct job {
    sslk_model *m;
    const float *x, *g;
    size_t n;
    float *y;
} job;

static void step(void *arg) {
    job *j = arg;
    if (sslk_model_forward(j->m, j->x, j->n, j->y, SSLK_MODE_TRAIN) != SSLK_OK ||
        sslk_model_backward(j->m, j->g, NULL) != SSLK_OK) {
        fprintf(stderr, "bench_police: %s\n", sslk_last_error());
        exit(1);
    }
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Minimum of column j of a reps x 3 table: on a shared, loaded machine the
 * fastest repetition is the one least disturbed by other processes. */
static double min3(const double *t, int reps, int j) {
    double v[256];
    int n = reps < 256 ? reps : 256;
    for (int i = 0; i < n; i++) v[i] = t[3 * i + j];
    qsort(v, (size_t)n, sizeof(double), cmpd);
    return v[0];
}

static char *spec_of(const cfg *c) {
    size_t cap = 32 * (c->depth + 1);
    char *s = malloc(cap), *p = s;
    for (size_t i = 0; i < c->depth; i++)
        p += snprintf(p, cap - (size_t)(p - s), "linear:%zu,leaky_relu:0.01,", c->width);
    snprintf(p, cap - (size_t)(p - s), "linear:10");
    return s;
}

int main(int argc, char **argv) {
    int reps = argc > 1 && argv[1][0] != '-' ? atoi(argv[1]) : 3;
    int full = 0, only = -1;
    for (int i = 1; i < argc; i++) {
        full |= !strcmp(argv[i], "--full");
        if (!strcmp(argv[i], "--row") && i + 1 < argc) only = atoi(argv[i + 1]);
    }
    if (reps < 1) reps = 1;
    cfg rows[3] = {{784, 128, 4, 1024}, {2, 512, 16, 1024}, {3072, full ? 4096 : 1024, 2, 1024}};
    sslk_ctx *ctx = NULL;
    if (sslk_ctx_create(&ctx) != SSLK_OK || sslk_ctx_set_threads(ctx, 2) != SSLK_OK) return 1;
    printf("POLICE forward+backward, train mode, leaky-ReLU MLP, batch N, simplex C = D + 1, 2 threads, "
           "min of %d\n",
           reps);
    printf("%-6s %-6s %-6s %-6s %-6s %-4s %10s %10s %10s %9s %9s %8s %8s\n", "D", "width", "depth", "N", "C",
           "time", "plain ms", "N+C ms", "police ms", "measured", "inherent", "meas/inh", "pol/N+C");
    for (int r = 0; r < 3; r++) {
        if (only >= 0 && r != only) continue;
        const cfg *c = &rows[r];
        const size_t C = c->D + 1;
        char *spec = spec_of(c);
        sslk_model *m = NULL;
        if (sslk_model_from_spec(ctx, spec, 1, &c->D, 1, &m) != SSLK_OK) {
            fprintf(stderr, "bench_police: %s\n", sslk_last_error());
            return 1;
        }
        float *x = malloc(c->N * c->D * sizeof(float)), *y = malloc(c->N * 10 * sizeof(float));
        float *g = malloc(c->N * 10 * sizeof(float)), *V = malloc(C * c->D * sizeof(float));
        for (size_t i = 0; i < c->N * c->D; i++) x[i] = (float)sin(0.37 * (double)i);
        for (size_t i = 0; i < c->N * 10; i++) g[i] = (float)cos(0.11 * (double)i) / (float)c->N;
        if (sslk_police_simplex_vertices(NULL, c->D, 1.0 / sqrt((double)c->D), V) != SSLK_OK) return 1;
        float *xc = malloc((c->N + C) * c->D * sizeof(float));
        float *yc = malloc((c->N + C) * 10 * sizeof(float)), *gc = malloc((c->N + C) * 10 * sizeof(float));
        memcpy(xc, x, c->N * c->D * sizeof(float));
        memcpy(xc + c->N * c->D, V, C * c->D * sizeof(float));
        memcpy(gc, g, c->N * 10 * sizeof(float));
        memset(gc + c->N * 10, 0, C * 10 * sizeof(float));
        sslk_police *p = NULL;
        if (sslk_police_create(m, V, C, c->D, &p) != SSLK_OK) {
            fprintf(stderr, "bench_police: %s\n", sslk_last_error());
            return 1;
        }
        job jp = {m, x, g, c->N, y}, jc = {m, xc, gc, c->N + C, yc};
        double *t = malloc(6 * (size_t)(reps + 1) * sizeof(double)), *u = t + 3 * (reps + 1);
        for (int k = 0; k <= reps; k++) { /* k = 0 warms up */
            ssli_model_set_hook(m, NULL);
            double a = bench_now(), ca = bench_cpu_now();
            step(&jp);
            double b = bench_now(), cb = bench_cpu_now();
            step(&jc);
            double e = bench_now(), ce = bench_cpu_now();
            ssli_model_set_hook(m, &p->hook);
            step(&jp);
            double f = bench_now(), cf = bench_cpu_now();
            t[3 * k] = b - a, t[3 * k + 1] = e - b, t[3 * k + 2] = f - e;
            u[3 * k] = cb - ca, u[3 * k + 1] = ce - cb, u[3 * k + 2] = cf - ce;
        }
        double t0 = min3(t + 3, reps, 0), tc = min3(t + 3, reps, 1), t1 = min3(t + 3, reps, 2);
        double c0 = min3(u + 3, reps, 0), cc = min3(u + 3, reps, 1), c1 = min3(u + 3, reps, 2);
        free(t), free(xc), free(yc), free(gc);
        size_t sh = 0, un = 0;
        sslk_police_info(p, NULL, NULL, NULL, NULL, &sh, &un);
        double inh = (double)(c->N + C) / (double)c->N;
        printf("%-6zu %-6zu %-6zu %-6zu %-6zu %-4s %10.1f %10.1f %10.1f %8.2fx %8.2fx %8.3f %8.3f  (%zu/%zu shifted)\n",
               c->D, c->width, c->depth, c->N, C, "wall", 1e3 * t0, 1e3 * tc, 1e3 * t1, t1 / t0, inh,
               t1 / t0 / inh, t1 / tc, sh, un);
        printf("%-34s %-4s %10.1f %10.1f %10.1f %8.2fx %8.2fx %8.3f %8.3f\n", "", "cpu", 1e3 * c0, 1e3 * cc,
               1e3 * c1, c1 / c0, inh, c1 / c0 / inh, c1 / cc);
        fflush(stdout);
        sslk_police_destroy(p);
        sslk_model_destroy(m);
        free(spec), free(x), free(y), free(g), free(V);
    }
    sslk_ctx_destroy(ctx);
    return 0;
}
