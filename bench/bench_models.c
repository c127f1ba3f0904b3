/* Train-step time (forward in train mode, backward without input gradient,
 * SGD momentum step) of the models, 1 and 2 threads; the step's GEMM
 * flops as a fraction of the BLIS sgemm rate measured in the same run; the
 * same step with the ReLU after a batch-norm back-propagated on its own
 * ("unfused") and with the conv column cache on ("cache"), and
 * the ratio against the same step in PyTorch (bench/models_ref.py through
 * /usr/bin/python3) when torch imports.
 * Usage: bench_models [reps]
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "nn/model_internal.h"
#include "sslkit/sslkit.h"

#ifndef SSLK_BENCH_SRC
#define SSLK_BENCH_SRC "bench"
#endif

typedef struct row {
    const char *name, *spec;
    size_t ndim, shape[3], batch;
} row;

static const row ROWS[] = {
    {"mlp 784-1024x3-10", "linear:1024,relu,linear:1024,relu,linear:1024,relu,linear:10", 1, {784}, 256},
    {"projector 2048-2048-2048", "linear:2048,bn,relu,linear:2048", 1, {2048}, 256},
    {"conv4 28x28x1",
     "conv:32:3:1:1,bn,relu,maxpool:2,conv:64:3:1:1,bn,relu,maxpool:2,conv:64:3:1:1,bn,relu,"
     "conv:64:3:1:1,bn,relu,gap,linear:10",
     3, {1, 28, 28}, 256},
    {"conv4 32x32x3",
     "conv:32:3:1:1,bn,relu,maxpool:2,conv:64:3:1:1,bn,relu,maxpool:2,conv:64:3:1:1,bn,relu,"
     "conv:64:3:1:1,bn,relu,gap,linear:10",
     3, {3, 32, 32}, 256},
    {"default encoder 28x28x1", "conv:32:5:2:2,bn,relu,conv:64:3:2:1,bn,relu,flatten,linear:512,bn,relu", 3,
     {1, 28, 28}, 512},
};
#define NROWS (sizeof ROWS / sizeof ROWS[0])

/* GEMM flops of one step: forward, weight gradient, input gradient (not for
 * the first layer, whose input needs none). */
static double seq_flops(const ssli_seq *s, size_t n, bool *first) {
    double f = 0;
    for (size_t i = 0; i < s->n; i++) {
        const ssli_layer *L = &s->layers[i];
        double one = 0;
        if (L->kind == SSLI_LAYER_LINEAR) one = 2.0 * (double)n * (double)L->weight_count;
        if (L->kind == SSLI_LAYER_CONV2D)
            one = 2.0 * (double)n * (double)L->weight_count * (double)(L->out.h * L->out.w);
        if (one > 0) {
            f += one * (*first ? 2 : 3);
            *first = false;
        }
        if (L->body) f += seq_flops(L->body, n, first);
        if (L->shortcut) f += seq_flops(L->shortcut, n, first);
    }
    return f;
}

typedef struct step_arg {
    sslk_model *m;
    sslk_optim *o;
    float *x, *y, *gy;
    size_t n;
} step_arg;

static void step(void *p) {
    step_arg *a = p;
    sslk_model_forward(a->m, a->x, a->n, a->y, SSLK_MODE_TRAIN);
    sslk_model_zero_grad(a->m);
    sslk_model_backward(a->m, a->gy, NULL);
    sslk_optim_step(a->o);
}

static double torch_ms[NROWS][3], torch_cpu[NROWS][3];

/* A hook with no callbacks: the model then runs the ReLU after a batch-norm
 * as its own backward pass (seq.c fuses only without a hook); the forward is
 * unchanged. */
static const ssli_model_hook NO_FUSE = {0};

/* Median wall and process-CPU seconds of reps steps after one warm-up: on a
 * shared machine the CPU time of a 1-thread step is the steadier figure. */
static void time_steps(step_arg *a, int reps, double *wall, double *cpu) {
    double w[64], c[64];
    if (reps > 64) reps = 64;
    step(a);
    for (int i = 0; i < reps; i++) {
        struct timespec c0, c1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        double t0 = bench_now();
        step(a);
        w[i] = bench_now() - t0;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        c[i] = (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec);
    }
    for (int i = 1; i < reps; i++) /* insertion sort: reps is small */
        for (int j = i; j > 0 && w[j] < w[j - 1]; j--) {
            double t = w[j];
            w[j] = w[j - 1], w[j - 1] = t;
        }
    for (int i = 1; i < reps; i++)
        for (int j = i; j > 0 && c[j] < c[j - 1]; j--) {
            double t = c[j];
            c[j] = c[j - 1], c[j - 1] = t;
        }
    *wall = w[reps / 2];
    *cpu = c[reps / 2];
}

/* One row in PyTorch, run right before the same row here so both see
 * about the same machine load. */
static void run_torch(int threads, int reps, size_t row) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/models_ref.py %d %d %zu 2>/dev/null", SSLK_BENCH_SRC,
             threads, reps, row);
    FILE *f = popen(cmd, "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        unsigned r;
        double ms, cms;
        if (sscanf(line, "%u %lf %lf", &r, &ms, &cms) == 3 && r < NROWS) {
            torch_ms[r][threads] = ms;
            torch_cpu[r][threads] = cms;
        }
    }
    pclose(f);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    printf("# bench_models: train step = forward(train) + backward(params) + SGD momentum, median of %d\n",
           reps);
    printf("%-26s %3s %10s %8s %9s %9s %8s %10s %8s %8s %10s %8s %10s %8s\n", "model", "thr", "sslkit ms",
           "cpu ms", "GFLOP/s", "BLIS GF/s", "% BLIS", "torch ms", "torch/us", "cpu t/us", "unfused ms", "cpu ms",
           "cache ms", "cpu ms");
    for (int threads = 1; threads <= 2; threads++) {

        sslk_ctx *ctx;
        sslk_ctx_create(&ctx);
        sslk_ctx_set_threads(ctx, threads);
        for (size_t r = 0; r < NROWS; r++) {
            const row *R = &ROWS[r];
            run_torch(threads, reps, r);
            /* the BLIS rate right next to this row's timing: the machine may be shared */
            double blis = bench_sgemm_gflops(threads, 1024);
            sslk_model *m;
            if (sslk_model_from_spec(ctx, R->spec, R->ndim, R->shape, 1, &m)) {
                fprintf(stderr, "%s: %s\n", R->name, sslk_last_error());
                return 1;
            }
            sslk_optim *o;
            sslk_optim_create(ctx, SSLK_OPTIM_SGD, &o);
            sslk_optim_set_f64(o, SSLK_SGD_MOMENTUM, 0.9);
            sslk_optim_set_f64(o, SSLK_SGD_LR, 1e-3);
            size_t np, in, out;
            sslk_model_param_count(m, &np);
            for (size_t i = 0; i < np; i++) {
                sslk_param_view v = {.struct_size = sizeof v};
                sslk_model_param(m, i, &v);
                sslk_optim_add_params(o, &v, 1, 0);
            }
            sslk_model_io_size(m, &in, &out);
            step_arg a = {m, o, malloc(R->batch * in * 4), malloc(R->batch * out * 4),
                          malloc(R->batch * out * 4), R->batch};
            for (size_t i = 0; i < R->batch * in; i++) a.x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
            for (size_t i = 0; i < R->batch * out; i++) a.gy[i] = (float)((i * 40503u) % 100) / 1e4f - 0.005f;
            double t, tc, t0, tc0, t1, tc1;
            ssli_model_set_hook(m, &NO_FUSE);
            time_steps(&a, reps, &t0, &tc0);
            ssli_model_set_hook(m, NULL);
            time_steps(&a, reps, &t, &tc);
            m->cols_cache = true;
            time_steps(&a, reps, &t1, &tc1);
            m->cols_cache = false;
            bool first = true;
            double fl = seq_flops(&m->top, R->batch, &first);
            double gf = fl / t * 1e-9;
            double tm = torch_ms[r][threads], tcm = torch_cpu[r][threads];
            char tms[32] = "-", ratio[32] = "-", cratio[32] = "-";
            if (tm > 0) {
                snprintf(tms, sizeof tms, "%.1f", tm);
                snprintf(ratio, sizeof ratio, "%.2f", tm / (t * 1e3));
                snprintf(cratio, sizeof cratio, "%.2f", tcm / (tc * 1e3));
            }
            printf("%-26s %3d %10.1f %8.1f %9.1f %9.1f %7.0f%% %10s %8s %8s %10.1f %8.1f %10.1f %8.1f\n", R->name,
                   threads, t * 1e3, tc * 1e3, gf, blis, 100.0 * gf / blis, tms, ratio, cratio, t0 * 1e3, tc0 * 1e3,
                   t1 * 1e3, tc1 * 1e3);
            fflush(stdout);
            free(a.x), free(a.y), free(a.gy);
            sslk_optim_destroy(o);
            sslk_model_destroy(m);
        }
        sslk_ctx_destroy(ctx);
    }
    return 0;
}
