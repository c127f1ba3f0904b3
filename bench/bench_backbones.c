/* ResNet backbones against PyTorch: inference images/s (eval forward) and
 * train-step images/s (train forward + backward to the parameters + SGD
 * momentum) for resnet18-cifar at 32x32 and resnet18 / resnet50 at 224x224,
 * headless (global average pool output), at 1 and 2 threads, with the ratio
 * against torchvision's same model (bench/backbones_ref.py through
 * /usr/bin/python3) and the peak RSS of both.  Every (row, threads) runs in a
 * fresh process on each side (this program re-runs itself with --child), so
 * ru_maxrss is that row's peak.  "cpu r" is the same ratio on process CPU time,
 * the steadier figure when other processes share the cores.  --shapes prints, per distinct convolution,
 * the forward and backward time against BLIS sgemm on the same m, n, k.
 * Usage: bench_backbones [--reps N] [--rows 0,1,2] [--threads 1,2] [--batch-div D]
 *                        [--no-torch] [--shapes]
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "linalg/linalg.h"
#include "nn/layers.h"
#include "sslkit/sslkit.h"

#ifndef SSLK_BENCH_SRC
#define SSLK_BENCH_SRC "bench"
#endif

typedef struct row {
    const char *name;
    size_t side, batch, feat;
} row;

static const row ROWS[] = {
    {"resnet18-cifar 32x32", 32, 256, 512},
    {"resnet18 224x224", 224, 32, 512},
    {"resnet50 224x224", 224, 32, 2048},
};
#define NROWS 3

/* torchvision's layouts by name (lib/nn/backbone_resnet.c), headless. */
static const char *const SPECS[NROWS] = {"resnet18-cifar-headless", "resnet18-headless", "resnet50-headless"};

typedef struct bench {
    sslk_model *m;
    sslk_optim *o;
    float *x, *y, *gy;
    size_t n;
} bench;

static void infer(void *p) {
    bench *b = p;
    sslk_model_forward(b->m, b->x, b->n, b->y, SSLK_MODE_EVAL);
}

static void train(void *p) {
    bench *b = p;
    sslk_model_forward(b->m, b->x, b->n, b->y, SSLK_MODE_TRAIN);
    sslk_model_zero_grad(b->m);
    sslk_model_backward(b->m, b->gy, NULL);
    sslk_optim_step(b->o);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median wall and process-CPU ms of reps calls after one warm-up. */
static void median_ms(void (*fn)(void *), void *arg, int reps, double *wall, double *cpu) {
    double w[64], c[64];
    if (reps > 64) reps = 64;
    if (reps < 1) reps = 1;
    fn(arg);
    for (int i = 0; i < reps; i++) {
        double c0 = bench_cpu_now(), t0 = bench_now();
        fn(arg);
        w[i] = 1e3 * (bench_now() - t0), c[i] = 1e3 * (bench_cpu_now() - c0);
    }
    qsort(w, (size_t)reps, sizeof *w, cmp_d);
    qsort(c, (size_t)reps, sizeof *c, cmp_d);
    *wall = w[reps / 2], *cpu = c[reps / 2];
}

static int setup(sslk_ctx *ctx, size_t r, size_t batch, bench *b) {
    const char *spec = SPECS[r];
    const size_t shape[3] = {3, ROWS[r].side, ROWS[r].side};
    if (sslk_model_from_spec(ctx, spec, 3, shape, 1, &b->m)) {
        fprintf(stderr, "%s: %s\n", ROWS[r].name, sslk_last_error());
        return 1;
    }
    sslk_optim_create(ctx, SSLK_OPTIM_SGD, &b->o);
    sslk_optim_set_f64(b->o, SSLK_SGD_MOMENTUM, 0.9);
    sslk_optim_set_f64(b->o, SSLK_SGD_LR, 1e-3);
    size_t np, in, out;
    sslk_model_param_count(b->m, &np);
    for (size_t i = 0; i < np; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        sslk_model_param(b->m, i, &v);
        sslk_optim_add_params(b->o, &v, 1, 0);
    }
    sslk_model_io_size(b->m, &in, &out);
    b->n = batch;
    b->x = malloc(batch * in * sizeof(float));
    b->y = malloc(batch * out * sizeof(float));
    b->gy = malloc(batch * out * sizeof(float));
    if (!b->x || !b->y || !b->gy) return 1;
    for (size_t i = 0; i < batch * in; i++) b->x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    for (size_t i = 0; i < batch * out; i++) b->gy[i] = (float)((i * 40503u) % 100) / 1e4f;
    return 0;
}

static void teardown(bench *b) {
    free(b->x), free(b->y), free(b->gy);
    sslk_optim_destroy(b->o);
    sslk_model_destroy(b->m);
}

/* --child ROW THREADS REPS BATCH: one row in this process; prints what
 * backbones_ref.py prints. */
static int child(size_t r, int threads, int reps, size_t batch) {
    sslk_ctx *ctx;
    sslk_ctx_create(&ctx);
    sslk_ctx_set_threads(ctx, threads);
    bench b;
    if (setup(ctx, r, batch, &b)) return 1;
    double iw, ic, tw, tc;
    median_ms(infer, &b, reps, &iw, &ic);
    median_ms(train, &b, reps, &tw, &tc);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%.2f %.2f %.2f %.1f %.2f\n", iw, tw, tc, (double)ru.ru_maxrss / 1024.0, ic);
    teardown(&b);
    sslk_ctx_destroy(ctx);
    return 0;
}

/* Run a command that prints "infer_ms train_ms train_cpu_ms rss_mib infer_cpu_ms". */
static bool run_line(const char *cmd, double v[5]) {
    FILE *f = popen(cmd, "r");
    if (!f) return false;
    char line[256];
    bool ok = false;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%lf %lf %lf %lf %lf", &v[0], &v[1], &v[2], &v[3], &v[4]) == 5) ok = true;
    pclose(f);
    return ok;
}

/* Per distinct convolution of row r: forward, and backward with input
 * gradient, against BLIS on the same GEMMs (forward: cout x B*HW x C*K*K;
 * backward: the weight and column gradients). */
static int shapes(size_t r, int threads, int reps, size_t batch) {
    sslk_ctx *ctx;
    sslk_ctx_create(&ctx);
    sslk_ctx_set_threads(ctx, threads);
    bench b;
    if (setup(ctx, r, batch, &b)) return 1;
    train(&b); /* sizes every buffer */
    size_t nl = ssli_model_collect_layers(b.m, NULL, 0);
    ssli_layer **all = malloc(nl * sizeof *all);
    ssli_model_collect_layers(b.m, all, nl);
    printf("# %s, batch %zu, %d thread(s): conv time vs BLIS sgemm on the same m x n x k\n", ROWS[r].name,
           batch, threads);
    printf("%-22s %5s %5s %7s %6s %8s %8s %7s %8s %8s %7s\n", "conv cin>cout k/s", "HWout", "m", "n", "k",
           "fwd ms", "gemm ms", "% gemm", "bwd ms", "gemm ms", "% gemm");
    double tot_f = 0, tot_g = 0, tot_b = 0, tot_bg = 0;
    for (size_t i = 0; i < nl; i++) {
        ssli_layer *L = all[i];
        if (L->kind != SSLI_LAYER_CONV2D) continue;
        size_t same = 0; /* count and skip repeats of an earlier shape */
        bool seen = false;
        for (size_t j = 0; j < nl; j++) {
            ssli_layer *J = all[j];
            if (J->kind != SSLI_LAYER_CONV2D || J->in.c != L->in.c || J->in.h != L->in.h ||
                J->out.c != L->out.c || J->kernel != L->kernel || J->stride != L->stride)
                continue;
            if (j < i) seen = true;
            same++;
        }
        if (seen) continue;
        const size_t hw = L->out.h * L->out.w, M = L->out.c, N = batch * hw;
        const size_t K = L->in.c * L->kernel * L->kernel, in_n = batch * L->in.c * L->in.h * L->in.w;
        float *xin = malloc(in_n * sizeof(float)), *gx = malloc(in_n * sizeof(float));
        float *gyl = malloc(batch * M * hw * sizeof(float));
        float *A = malloc(M * K * sizeof(float)), *Bm = malloc(K * N * sizeof(float)),
              *C = malloc(M * N * sizeof(float));
        for (size_t t = 0; t < in_n; t++) xin[t] = (float)(t % 13) * 0.1f - 0.6f;
        for (size_t t = 0; t < batch * M * hw; t++) gyl[t] = (float)(t % 7) * 0.01f;
        for (size_t t = 0; t < M * K; t++) A[t] = (float)(t % 5) * 0.1f;
        for (size_t t = 0; t < K * N; t++) Bm[t] = (float)(t % 3) * 0.1f;
        double tf[16], tg[16], tb[16], tbg[16];
        int n = reps < 16 ? reps : 16;
        for (int q = 0; q <= n; q++) {
            double t0 = bench_now();
            ssli_conv2d_forward(b.m, L, xin, batch);
            double t1 = bench_now();
            ssli_sgemm(ctx, false, false, M, N, K, 1.0f, A, K, Bm, N, 0.0f, C, N);
            double t2 = bench_now();
            ssli_conv2d_backward(b.m, L, xin, gyl, batch, gx);
            double t3 = bench_now();
            ssli_sgemm(ctx, false, true, M, K, N, 1.0f, C, N, Bm, N, 1.0f, A, K);
            ssli_sgemm(ctx, true, false, K, N, M, 1.0f, A, K, C, N, 0.0f, Bm, N);
            double t4 = bench_now();
            if (q > 0) tf[q - 1] = t1 - t0, tg[q - 1] = t2 - t1, tb[q - 1] = t3 - t2, tbg[q - 1] = t4 - t3;
        }
        qsort(tf, (size_t)n, sizeof(double), cmp_d);
        qsort(tg, (size_t)n, sizeof(double), cmp_d);
        qsort(tb, (size_t)n, sizeof(double), cmp_d);
        qsort(tbg, (size_t)n, sizeof(double), cmp_d);
        double f = tf[n / 2] * 1e3, g = tg[n / 2] * 1e3, bw = tb[n / 2] * 1e3, bg = tbg[n / 2] * 1e3;
        char lab[64];
        snprintf(lab, sizeof lab, "%zux%zu %zu>%zu %zu/%zu", same, L->in.h, L->in.c, M, L->kernel,
                 L->stride);
        printf("%-22s %5zu %5zu %7zu %6zu %8.2f %8.2f %6.0f%% %8.2f %8.2f %6.0f%%\n", lab, hw, M, N, K, f, g,
               100.0 * g / f, bw, bg, 100.0 * bg / bw);
        tot_f += f * (double)same, tot_g += g * (double)same, tot_b += bw * (double)same,
            tot_bg += bg * (double)same;
        free(xin), free(gx), free(gyl), free(A), free(Bm), free(C);
    }
    printf("%-22s %5s %5s %7s %6s %8.1f %8.1f %6.0f%% %8.1f %8.1f %6.0f%%\n", "all convs", "", "", "", "",
           tot_f, tot_g, 100.0 * tot_g / tot_f, tot_b, tot_bg, 100.0 * tot_bg / tot_b);
    free(all);
    teardown(&b);
    sslk_ctx_destroy(ctx);
    return 0;
}

int main(int argc, char **argv) {
    int reps = 3, div = 1;
    bool torch = true, do_shapes = false;
    bool rows_on[NROWS] = {true, true, true}, thr_on[3] = {false, true, true};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--child") && i + 4 < argc)
            return child((size_t)atoi(argv[i + 1]) % NROWS, atoi(argv[i + 2]), atoi(argv[i + 3]),
                         (size_t)atol(argv[i + 4]));
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--batch-div") && i + 1 < argc) {
            div = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--rows") && i + 1 < argc) {
            memset(rows_on, 0, sizeof rows_on);
            for (const char *p = argv[++i]; *p; p++)
                if (*p >= '0' && *p < '0' + NROWS) rows_on[*p - '0'] = true;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            memset(thr_on, 0, sizeof thr_on);
            for (const char *p = argv[++i]; *p; p++)
                if (*p == '1' || *p == '2') thr_on[*p - '0'] = true;
        } else if (!strcmp(argv[i], "--no-torch")) {
            torch = false;
        } else if (!strcmp(argv[i], "--shapes")) {
            do_shapes = true;
        } else {
            fprintf(stderr,
                    "usage: %s [--reps N] [--rows 0,1,2] [--threads 1,2] [--batch-div D] [--no-torch] "
                    "[--shapes]\n",
                    argv[0]);
            return 2;
        }
    }
    if (div < 1) div = 1;
    char self[512]; /* popen runs a shell: name this program by its path */
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) return 1;
    self[sl] = 0;
    if (do_shapes) {
        for (size_t r = 0; r < NROWS; r++)
            for (int t = 1; t <= 2; t++)
                if (rows_on[r] && thr_on[t]) {
                    size_t batch = ROWS[r].batch / (size_t)div;
                    if (shapes(r, t, reps, batch ? batch : 2)) return 1;
                }
        return 0;
    }
    printf("# bench_backbones: headless ResNets, images/s = batch / median of %d (wall); train = forward(train)"
           " + backward(params) + SGD momentum; RSS = peak of a fresh process per row\n",
           reps);
    printf("%-22s %3s %5s | %9s %9s %6s %6s | %9s %9s %6s %6s | %8s %8s\n", "model", "thr", "batch",
           "inf img/s", "torch", "ratio", "cpu r", "trn img/s", "torch", "ratio", "cpu r", "RSS MiB", "torch");
    for (int t = 1; t <= 2; t++)
        for (size_t r = 0; r < NROWS; r++) {
            if (!thr_on[t] || !rows_on[r]) continue;
            size_t batch = ROWS[r].batch / (size_t)div;
            if (batch < 2) batch = 2;
            char cmd[1024];
            double us[5] = {0}, th[5] = {0};
            bool have_torch = false;
            if (torch) { /* right before ours, so both see about the same load */
                snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/backbones_ref.py %d %d %zu %zu 2>/dev/null",
                         SSLK_BENCH_SRC, t, reps, r, batch);
                have_torch = run_line(cmd, th);
            }
            snprintf(cmd, sizeof cmd, "%s --child %zu %d %d %zu", self, r, t, reps, batch);
            if (!run_line(cmd, us)) {
                fprintf(stderr, "%s: child run failed\n", ROWS[r].name);
                return 1;
            }
            const double bs = (double)batch;
            printf("%-22s %3d %5zu | %9.1f ", ROWS[r].name, t, batch, bs / us[0] * 1e3);
            if (have_torch)
                printf("%9.1f %6.2f %6.2f | ", bs / th[0] * 1e3, th[0] / us[0], th[4] / us[4]);
            else
                printf("%9s %6s %6s | ", "-", "-", "-");
            printf("%9.1f ", bs / us[1] * 1e3);
            if (have_torch)
                printf("%9.1f %6.2f %6.2f | %8.0f %8.0f\n", bs / th[1] * 1e3, th[1] / us[1], th[2] / us[2],
                       us[3], th[3]);
            else
                printf("%9s %6s %6s | %8.0f %8s\n", "-", "-", "-", us[3], "-");
            fflush(stdout);
        }
    return 0;
}
