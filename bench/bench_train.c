/* Images/s of a full training step (load, augment, forward, loss, backward,
 * update) through sslk_trainer on Fashion-MNIST with VICReg and the default
 * encoder (or argv[2]), at 1 and 2 threads; the ratio against the same loop
 * in PyTorch + torchvision (bench/train_ref.py through /usr/bin/python3)
 * when torch imports.  Then the same step taken apart (the trainer's own
 * loader, networks, loss and optimiser driven phase by phase, each phase
 * timed with the monotonic clock): median ms per phase at 1 and 2 threads,
 * the serial fraction Amdahl's law gives from the two, and its 16-core
 * estimate.
 * Usage: bench_train [steps] [encoder-spec|default] [phases|steps [threads...]]
 *   phases T...: the breakdown alone, at 1 and each thread count T (default 2)
 *   steps T...:  the full trainer step alone (img/s, speedup over 1 thread)
 * Environment (steps mode): SSLK_BENCH_PIN=1 turns on the trainer's thread
 * pinning (SSLK_TRAIN_PIN_THREADS); SSLK_BENCH_WORKERS=W sets its loader
 * workers (default 1).  bench/scale16.sh runs both modes at 1-16 threads.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "sslkit/sslkit.h"
#include "train/trainer_internal.h"

#ifndef SSLK_BENCH_SRC
#define SSLK_BENCH_SRC "bench"
#endif

typedef struct timer {
    double t_first, t_last;
    uint64_t rows_after_first, steps;
} timer;

/* The first step warms caches and workspaces: time from its end. */
static int on_step(void *user, const sslk_train_progress *p) {
    timer *t = user;
    double now = bench_now();
    if (t->steps == 0) t->t_first = now;
    else t->rows_after_first += 256;
    t->t_last = now;
    t->steps++;
    (void)p;
    return 0;
}

static double run(sslk_dataset *ds, const char *spec, int threads, int steps) {
    sslk_ctx *c = NULL;
    sslk_ctx_create(&c);
    sslk_ctx_set_threads(c, threads);
    sslk_trainer *tr = NULL;
    if (sslk_trainer_create(c, SSLK_METHOD_VICREG, ds, spec, NULL, &tr) != SSLK_OK) {
        fprintf(stderr, "bench_train: %s\n", sslk_last_error());
        exit(1);
    }
    sslk_trainer_set_i64(tr, SSLK_TRAIN_EPOCHS, 1);
    sslk_trainer_set_i64(tr, SSLK_TRAIN_STEPS_PER_EPOCH, steps + 1);
    sslk_trainer_set_i64(tr, SSLK_TRAIN_MONITOR_EVERY, 0);
    const char *wk = getenv("SSLK_BENCH_WORKERS");
    if (wk && *wk && sslk_trainer_set_i64(tr, SSLK_TRAIN_WORKERS, atoi(wk)) != SSLK_OK) {
        fprintf(stderr, "bench_train: %s\n", sslk_last_error());
        exit(1);
    }
    const char *pin = getenv("SSLK_BENCH_PIN");
    if (pin && strcmp(pin, "1") == 0 && sslk_trainer_set_i64(tr, SSLK_TRAIN_PIN_THREADS, 1) != SSLK_OK) {
        fprintf(stderr, "bench_train: %s\n", sslk_last_error());
        exit(1);
    }
    timer t = {0};
    sslk_trainer_set_callbacks(tr, on_step, NULL, &t);
    if (sslk_trainer_fit(tr, 0) != SSLK_OK) {
        fprintf(stderr, "bench_train: %s\n", sslk_last_error());
        exit(1);
    }
    sslk_trainer_destroy(tr);
    sslk_ctx_destroy(c);
    return (double)t.rows_after_first / (t.t_last - t.t_first);
}

/* ---- the step taken apart ------------------------------------------------- */
enum { P_LOAD, P_ENC_F, P_PROJ_F, P_LOSS, P_PROJ_B, P_ENC_B, P_OPT, NPHASE };
static const char *const PHASE[NPHASE] = {"load (wait for the loader)", "encoder forward", "projector forward",
                                          "loss + gradient", "projector backward", "encoder backward",
                                          "optimiser step"};

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double thread_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Per phase, medians over `steps` steps after one warm-up step: wall[k]
 * (monotonic clock) and cpu[k], the CPU time of the calling thread, which
 * a loaded machine does not inflate the way it does wall time (a thread
 * waiting for a core uses none).  wall/cpu[NPHASE]: the whole step, cpu as
 * process CPU time (compute threads and the loader's workers together). */
static void phases(sslk_dataset *ds, const char *spec, int threads, int steps, double wall[NPHASE + 1],
                   double cpu[NPHASE + 1]) {
    sslk_ctx *c = NULL;
    sslk_ctx_create(&c);
    sslk_ctx_set_threads(c, threads);
    sslk_trainer *tr = NULL;
    if (sslk_trainer_create(c, SSLK_METHOD_VICREG, ds, spec, NULL, &tr) != SSLK_OK ||
        ssli_train_make_loader(tr) != SSLK_OK || sslk_loader_begin_epoch(tr->ld, 0) != SSLK_OK) {
        fprintf(stderr, "bench_train: %s\n", sslk_last_error());
        exit(1);
    }
    const size_t B = tr->ld_batch, chw = tr->in_c * tr->in_s * tr->in_s, de = tr->de, dz = tr->dz;
    float *x = malloc(2 * B * chw * sizeof(float)), *h = malloc(2 * B * de * sizeof(float));
    float *gh = malloc(2 * B * de * sizeof(float)), *z = malloc(2 * B * dz * sizeof(float));
    float *gz = malloc(2 * B * dz * sizeof(float));
    float *views[2] = {x, x + B * chw};
    const size_t W = 2 * (NPHASE + 1); /* per step: wall then cpu of each phase and of the step */
    double *t = calloc((size_t)(steps + 1) * W, sizeof(double));
    for (int s = 0; s <= steps; s++) {
        double *tw = t + (size_t)s * W, *tc = tw + NPHASE + 1, w0 = bench_now(), c0 = bench_cpu_now(), v;
        size_t rows = 0;
#define PH(k, call)                                                                 \
    do {                                                                            \
        double t0_ = bench_now(), u0_ = thread_cpu_now();                           \
        if ((call) != SSLK_OK) {                                                    \
            fprintf(stderr, "bench_train: %s: %s\n", PHASE[k], sslk_last_error()); \
            exit(1);                                                                \
        }                                                                           \
        tw[k] += bench_now() - t0_;                                                 \
        tc[k] += thread_cpu_now() - u0_;                                            \
    } while (0)
        PH(P_LOAD, sslk_loader_next(tr->ld, views, NULL, NULL, &rows));
        PH(P_ENC_F, sslk_model_forward(tr->enc, x, 2 * rows, h, SSLK_MODE_TRAIN));
        PH(P_PROJ_F, sslk_model_forward(tr->proj, h, 2 * rows, z, SSLK_MODE_TRAIN));
        PH(P_LOSS, sslk_loss_compute_pair(tr->loss, z, z + rows * dz, rows, dz, &v, gz, gz + rows * dz));
        PH(P_PROJ_B, sslk_optim_zero_grad(tr->opt));
        PH(P_PROJ_B, sslk_model_backward(tr->proj, gz, gh));
        PH(P_ENC_B, sslk_model_backward(tr->enc, gh, NULL));
        PH(P_OPT, sslk_optim_step(tr->opt));
#undef PH
        tw[NPHASE] = bench_now() - w0;
        tc[NPHASE] = bench_cpu_now() - c0;
    }
    double col[64];
    for (size_t k = 0; k < W; k++) {
        int n = 0;
        for (int s = 1; s <= steps && n < 64; s++) col[n++] = t[(size_t)s * W + k];
        qsort(col, (size_t)n, sizeof(double), cmp_d);
        if (k <= NPHASE) wall[k] = col[n / 2];
        else cpu[k - NPHASE - 1] = col[n / 2];
    }
    free(t), free(x), free(h), free(gh), free(z), free(gz);
    sslk_trainer_destroy(tr);
    sslk_ctx_destroy(c);
}

/* Amdahl from 1 and N threads: T_N = T_1 (f + (1 - f) / N), so
 * f = (N T_N / T_1 - 1) / (N - 1) (clamped to [0, 1]).  Applied to the
 * calling thread's CPU time: the work left on it at N threads is the serial
 * part plus its 1/N of the rest (plus any spinning at barriers and any
 * imbalance, which count as serial here).  Applied to wall time (the "f
 * (wall)" column, for an otherwise idle machine) it also counts what slows
 * every thread when they run together (shared memory bandwidth, caches). */
static double serial_fraction(double t1, double tn, int n) {
    double f = ((double)n * tn / t1 - 1.0) / (double)(n - 1);
    return f < 0 ? 0 : f > 1 ? 1 : f;
}

static void print_phases(sslk_dataset *ds, const char *spec, int steps, const int *nts, int nn) {
    double w1[NPHASE + 1], c1[NPHASE + 1];
    phases(ds, spec, 1, steps, w1, c1);
    for (int q = 0; q < nn; q++) {
        const int N = nts[q];
        double w2[NPHASE + 1], c2[NPHASE + 1], s1 = 0, s2 = 0, v1 = 0, v2 = 0;
        if (N <= 1) continue;
        phases(ds, spec, N, steps, w2, c2);
        printf("\nthe step taken apart, median of %d steps: wall ms, and CPU ms of the thread that runs the step\n",
               steps);
        printf("%-28s %9s %8s%-2d %9s %8s%-2d %9s %9s\n", "phase", "wall 1thr", "wall ", N, "cpu 1thr", "cpu ", N,
               "f (cpu)", "f (wall)");
        for (int k = 0; k < NPHASE; k++) {
            printf("%-28s %9.2f %10.2f %9.2f %10.2f %9.2f %9.2f\n", PHASE[k], w1[k] * 1e3, w2[k] * 1e3, c1[k] * 1e3,
                   c2[k] * 1e3, k == P_LOAD ? 0.0 : serial_fraction(c1[k], c2[k], N),
                   k == P_LOAD ? 0.0 : serial_fraction(w1[k], w2[k], N));
            if (k != P_LOAD) s1 += c1[k], s2 += c2[k], v1 += w1[k], v2 += w2[k];
        }
        const double f = serial_fraction(s1, s2, N), fw = serial_fraction(v1, v2, N);
        printf("%-28s %9.2f %10.2f %9.2f %10.2f %9.2f %9.2f\n", "compute (all but load)", v1 * 1e3, v2 * 1e3,
               s1 * 1e3, s2 * 1e3, f, fw);
        printf("whole step: wall %.2f / %.2f ms (speedup %.2fx), process CPU %.2f / %.2f ms (1 / %d threads)\n",
               w1[NPHASE] * 1e3, w2[NPHASE] * 1e3, w1[NPHASE] / w2[NPHASE], c1[NPHASE] * 1e3, c2[NPHASE] * 1e3, N);
        printf("loader worker CPU per step at 1 thread (process - step thread): %.2f ms\n",
               (c1[NPHASE] - s1 - c1[P_LOAD]) * 1e3);
        printf("Amdahl estimate at 16 threads from the compute serial fraction: %.1fx (cpu f), %.1fx (wall f)\n",
               1.0 / (f + (1.0 - f) / 16.0), 1.0 / (fw + (1.0 - fw) / 16.0));
    }
}

/* The full trainer step at each thread count: img/s and the speedup over the first. */
static void print_steps(sslk_dataset *ds, const char *spec, int steps, const int *nts, int nn) {
    printf("%-8s %14s %9s\n", "threads", "sslkit img/s", "speedup");
    double base = 0;
    for (int q = 0; q < nn; q++) {
        double r = run(ds, spec, nts[q], steps);
        if (q == 0) base = r;
        printf("%-8d %14.1f %8.2fx\n", nts[q], r, r / base);
        fflush(stdout);
    }
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 10;
    const char *spec = argc > 2 && strcmp(argv[2], "default") != 0 ? argv[2] : NULL;
    const char *mode = argc > 3 ? argv[3] : "";
    int nts[16] = {2}, nn = 0;
    for (int i = 4; i < argc && nn < 16; i++) nts[nn++] = atoi(argv[i]);
    if (strcmp(mode, "steps") == 0 && nn == 0) nts[0] = 1, nts[1] = 2, nn = 2;
    if (nn == 0) nn = 1;
    for (int i = 0; i < nn; i++)
        if (nts[i] < 1 || nts[i] > 1024) {
            fprintf(stderr, "bench_train: thread count '%d' (1..1024)\n", nts[i]);
            return 2;
        }
    sslk_ctx *c = NULL;
    sslk_ctx_create(&c);
    sslk_dataset *ds = NULL;
    if (sslk_dataset_open(c, "fashion-mnist", SSLK_SPLIT_TRAIN, &ds) != SSLK_OK) {
        fprintf(stderr, "bench_train: %s\n", sslk_last_error());
        return 1;
    }
    sslk_trainer *probe = NULL;
    sslk_trainer_create(c, SSLK_METHOD_VICREG, ds, spec, NULL, &probe);
    sslk_model *enc = NULL;
    sslk_trainer_encoder(probe, &enc);
    char buf[512];
    size_t len = 0;
    sslk_model_spec(enc, buf, sizeof buf, &len);
    sslk_trainer_destroy(probe);
    printf("full VICReg training step on Fashion-MNIST, batch 256 x 2 views, AdamW, %d timed steps\n", steps);
    printf("encoder: %s\nprojector: linear:512,bn,relu,linear:512\n\n", buf);
    if (strcmp(mode, "steps") == 0) {
        print_steps(ds, buf, steps, nts, nn);
        sslk_dataset_destroy(ds);
        sslk_ctx_destroy(c);
        return 0;
    }
    if (strcmp(mode, "phases") != 0) printf("%-8s %16s %16s %8s\n", "threads", "sslkit img/s", "pytorch img/s", "ratio");
    for (int th = 1; th <= 2 && strcmp(mode, "phases") != 0; th++) {
        double ours = run(ds, buf, th, steps);
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/train_ref.py %d %d '%s' 2>/dev/null", SSLK_BENCH_SRC, th,
                 steps, buf);
        double ref = 0;
        FILE *p = popen(cmd, "r");
        if (p) {
            if (fscanf(p, "%lf", &ref) != 1) ref = 0;
            pclose(p);
        }
        if (ref > 0)
            printf("%-8d %16.1f %16.1f %7.2fx\n", th, ours, ref, ours / ref);
        else
            printf("%-8d %16.1f %16s %8s\n", th, ours, "n/a", "-");
    }
    printf("\n(images = samples, each seen as 2 augmented views; first step excluded)\n");
    print_phases(ds, buf, steps, nts, nn);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
    return 0;
}
