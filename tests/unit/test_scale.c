/* Issue 16, scaling: the chunked optimizer step against a double reference
 * and bitwise equal at 1, 2 and 3 threads; its NaN/Inf gate; the threaded
 * input checks; the trainer's pin_threads setting (bad values, the CPUs
 * actually applied, read back with sched_getaffinity / pthread_getaffinity_np).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <omp.h>

#include "core/affinity.h"
#include "core/par.h"
#include "linalg/linalg.h"
#include "testutil.h"

static sslk_ctx *mkctx(int threads) {
    sslk_ctx *c = NULL;
    ck_ok(sslk_ctx_create(&c));
    ck_ok(sslk_ctx_set_threads(c, threads));
    sslk_ctx_set_seed(c, 7);
    return c;
}

/* ---- optimizer --------------------------------------------------------------- */

/* Tensor sizes around the 16384-value chunk, 82772 values in all (above the
 * 32768 below which the step stays on one thread). */
#define NT 4
static const size_t SIZES[NT] = {3, 16384, 16385, 50000};
static const char *const NAMES[NT] = {"a", "b", "c", "d"};

typedef struct bank {
    float *p[NT], *g[NT];
} bank;

static void bank_init(bank *b) {
    for (int t = 0; t < NT; t++) {
        b->p[t] = malloc(SIZES[t] * sizeof(float));
        b->g[t] = malloc(SIZES[t] * sizeof(float));
        tu_fill_uniform(b->p[t], SIZES[t], 11u + (unsigned)t, -1.0f, 1.0f);
        tu_fill_uniform(b->g[t], SIZES[t], 101u + (unsigned)t, -0.5f, 0.5f);
    }
}

static void bank_free(bank *b) {
    for (int t = 0; t < NT; t++) free(b->p[t]), free(b->g[t]);
}

static sslk_optim *make_optim(sslk_ctx *c, sslk_optim_kind kind, bank *b) {
    sslk_optim *o = NULL;
    ck_ok(sslk_optim_create(c, kind, &o));
    if (kind == SSLK_OPTIM_SGD) {
        ck_ok(sslk_optim_set_f64(o, SSLK_SGD_LR, 0.1));
        ck_ok(sslk_optim_set_f64(o, SSLK_SGD_MOMENTUM, 0.9));
        ck_ok(sslk_optim_set_f64(o, SSLK_SGD_WEIGHT_DECAY, 0.01));
    } else if (kind == SSLK_OPTIM_LARS) {
        ck_ok(sslk_optim_set_f64(o, SSLK_LARS_LR, 0.2));
        ck_ok(sslk_optim_set_f64(o, SSLK_LARS_MOMENTUM, 0.9));
        ck_ok(sslk_optim_set_f64(o, SSLK_LARS_WEIGHT_DECAY, 0.01));
        ck_ok(sslk_optim_set_f64(o, SSLK_LARS_ETA, 0.02));
    } else {
        ck_ok(sslk_optim_set_f64(o, SSLK_ADAMW_LR, 0.01));
        ck_ok(sslk_optim_set_f64(o, SSLK_ADAMW_WEIGHT_DECAY, 0.05));
    }
    sslk_param_view v[NT];
    for (int t = 0; t < NT; t++) {
        memset(&v[t], 0, sizeof v[t]);
        v[t].struct_size = sizeof v[t];
        v[t].name = NAMES[t], v[t].data = b->p[t], v[t].grad = b->g[t], v[t].count = SIZES[t];
        v[t].ndim = 1, v[t].shape[0] = SIZES[t];
    }
    ck_ok(sslk_optim_add_params(o, v, NT, 0));
    return o;
}

/* Three steps with constant gradients, in double: PyTorch's SGD (momentum,
 * weight decay), LARS (trust ratio eta |p| / |g + wd p| per tensor) and AdamW. */
static void reference(sslk_optim_kind kind, const bank *b0, int t, double *p) {
    const size_t n = SIZES[t];
    double *s1 = calloc(n, sizeof(double)), *s2 = calloc(n, sizeof(double));
    for (size_t i = 0; i < n; i++) p[i] = b0->p[t][i];
    for (int step = 1; step <= 3; step++) {
        if (kind == SSLK_OPTIM_SGD) {
            for (size_t i = 0; i < n; i++) {
                double d = b0->g[t][i] + 0.01 * p[i];
                s1[i] = step == 1 ? d : 0.9 * s1[i] + d;
                p[i] -= 0.1 * s1[i];
            }
        } else if (kind == SSLK_OPTIM_LARS) {
            double pn = 0, un = 0;
            for (size_t i = 0; i < n; i++) {
                double d = b0->g[t][i] + 0.01 * p[i];
                pn += p[i] * p[i], un += d * d;
            }
            double q = 0.02 * sqrt(pn) / sqrt(un);
            for (size_t i = 0; i < n; i++) {
                s1[i] = 0.9 * s1[i] + (b0->g[t][i] + 0.01 * p[i]) * q;
                p[i] -= 0.2 * s1[i];
            }
        } else {
            double bc1 = 1 - pow(0.9, step), bc2 = 1 - pow(0.999, step);
            for (size_t i = 0; i < n; i++) {
                double g = b0->g[t][i];
                p[i] *= 1 - 0.01 * 0.05;
                s1[i] = 0.9 * s1[i] + 0.1 * g;
                s2[i] = 0.999 * s2[i] + 0.001 * g * g;
                p[i] -= 0.01 / bc1 * s1[i] / (sqrt(s2[i]) / sqrt(bc2) + 1e-8);
            }
        }
    }
    free(s1), free(s2);
}

START_TEST(optim_chunks_match_reference_and_thread_counts) {
    const sslk_optim_kind kind = (sslk_optim_kind)_i; /* SGD, LARS, ADAMW */
    bank ref;
    bank_init(&ref);
    float *first[NT] = {NULL};
    for (int threads = 1; threads <= 3; threads++) {
        sslk_ctx *c = mkctx(threads);
        bank b;
        bank_init(&b);
        sslk_optim *o = make_optim(c, kind, &b);
        for (int s = 0; s < 3; s++) ck_ok(sslk_optim_step(o));
        for (int t = 0; t < NT; t++) {
            if (threads == 1) {
                first[t] = malloc(SIZES[t] * sizeof(float));
                memcpy(first[t], b.p[t], SIZES[t] * sizeof(float));
                double *p = malloc(SIZES[t] * sizeof(double));
                reference(kind, &ref, t, p);
                for (size_t i = 0; i < SIZES[t]; i++) ck_close(b.p[t][i], p[i], 1e-4, 1e-6);
                free(p);
            } else {
                ck_assert_msg(memcmp(first[t], b.p[t], SIZES[t] * sizeof(float)) == 0,
                              "kind %d tensor %s: %d threads differ from 1 thread", (int)kind, NAMES[t], threads);
            }
        }
        /* zero_grad clears every chunk */
        ck_ok(sslk_optim_zero_grad(o));
        for (int t = 0; t < NT; t++)
            for (size_t i = 0; i < SIZES[t]; i++) ck_assert(b.g[t][i] == 0.0f);
        sslk_optim_destroy(o);
        bank_free(&b);
        sslk_ctx_destroy(c);
    }
    for (int t = 0; t < NT; t++) free(first[t]);
    bank_free(&ref);
}
END_TEST

/* The gate names the first bad value in tensor order, not the first a thread
 * happens to find, and no tensor moves. */
START_TEST(optim_gate_names_first_bad_value) {
    sslk_ctx *c = mkctx(2);
    bank b;
    bank_init(&b);
    b.g[2][16384] = NAN;  /* tensor c, its second chunk (one value) */
    b.g[3][7] = INFINITY;    /* tensor d, earlier in its own chunk order but a later tensor */
    float *keep = malloc(SIZES[3] * sizeof(float));
    memcpy(keep, b.p[3], SIZES[3] * sizeof(float));
    const float p1 = b.p[1][100];
    sslk_optim *o = make_optim(c, SSLK_OPTIM_ADAMW, &b);
    ck_status(sslk_optim_step(o), SSLK_E_NONFINITE);
    ck_assert_msg(strstr(sslk_last_error(), "'c'") && strstr(sslk_last_error(), "element 16384"), "%s",
                  sslk_last_error());
    ck_assert(memcmp(keep, b.p[3], SIZES[3] * sizeof(float)) == 0);
    ck_assert(b.p[1][100] == p1);
    uint64_t steps = 9;
    ck_ok(sslk_optim_steps(o, &steps));
    ck_assert_uint_eq(steps, 0);
    sslk_optim_destroy(o);
    bank_free(&b);
    free(keep);
    sslk_ctx_destroy(c);
}
END_TEST

/* ---- threaded checks and copies ---------------------------------------------- */

START_TEST(par_check_finds_first_and_copies) {
    const size_t n = 100003;
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    tu_fill_uniform(x, n, 3, -1, 1);
    for (int threads = 1; threads <= 3; threads++) {
        sslk_ctx *c = mkctx(threads);
        memset(y, 0, n * sizeof(float));
        ck_assert_uint_eq(ssli_par_first_nonfinite(c, x, n, y), SIZE_MAX);
        ck_assert(memcmp(x, y, n * sizeof(float)) == 0);
        x[90000] = -INFINITY;
        x[70001] = NAN;
        ck_assert_uint_eq(ssli_par_first_nonfinite(c, x, n, NULL), 70001);
        ck_status(ssli_par_check_finite(c, x, 1000, 100, NULL, "f", "x"), SSLK_E_NONFINITE);
        ck_assert_msg(strstr(sslk_last_error(), "row 700, column 1"), "%s", sslk_last_error());
        x[90000] = 0.5f, x[70001] = 0.25f;
        memset(y, 0, n * sizeof(float));
        ssli_par_copy(c, y, x, n);
        ck_assert(memcmp(x, y, n * sizeof(float)) == 0);
        sslk_ctx_destroy(c);
    }
    free(x), free(y);
}
END_TEST

/* The model API's threaded input check keeps its message (row, column). */
START_TEST(model_forward_backward_checks_name_row_and_column) {
    sslk_ctx *c = mkctx(2);
    sslk_model *m = NULL;
    const size_t shape[1] = {784};
    ck_ok(sslk_model_create(c, 1, shape, 3, &m));
    ck_ok(sslk_model_add_linear(m, 64, 1));
    ck_ok(sslk_model_add_batchnorm(m));
    ck_ok(sslk_model_add_relu(m));
    const size_t n = 128;
    float *x = malloc(n * 784 * sizeof(float)), *y = malloc(n * 64 * sizeof(float));
    tu_fill_uniform(x, n * 784, 5, 0, 1);
    x[100 * 784 + 7] = NAN;
    ck_status(sslk_model_forward(m, x, n, y, SSLK_MODE_TRAIN), SSLK_E_NONFINITE);
    ck_assert_msg(strstr(sslk_last_error(), "row 100, column 7"), "%s", sslk_last_error());
    x[100 * 784 + 7] = 0.5f;
    ck_ok(sslk_model_forward(m, x, n, y, SSLK_MODE_TRAIN));
    y[3 * 64 + 60] = INFINITY;
    ck_status(sslk_model_backward(m, y, NULL), SSLK_E_NONFINITE);
    ck_assert_msg(strstr(sslk_last_error(), "row 3, column 60"), "%s", sslk_last_error());
    sslk_model_destroy(m);
    free(x), free(y);
    sslk_ctx_destroy(c);
}
END_TEST

/* ---- GEMM split ---------------------------------------------------------------- */

/* C = A B^T with C 512 x 512 (the default encoder's linear layer at batch 512):
 * at 16 threads the 64-row split alone gives 8 blocks; the 2-D grid must give
 * the same bits as 1 thread, and both the double reference. */
/* Both threading modes (blocks of single-thread calls; one BLIS call with the
 * threads) at 1, 2, 3, 8 and 16 threads: the same bits as one thread. */
START_TEST(gemm_2d_split_same_bits_at_any_thread_count) {
    const ssli_gemm_threading mode = _i ? SSLI_GEMM_THREADING_BLIS : SSLI_GEMM_THREADING_SPLIT;
    ck_ok(ssli_gemm_threading_force(mode));
    ck_assert_int_eq(ssli_gemm_threading_for(8), mode);
    const size_t M = 512, N = 512, K = 300;
    float *A = malloc(M * K * sizeof(float)), *B = malloc(N * K * sizeof(float));
    float *C1 = malloc(M * N * sizeof(float)), *C = malloc(M * N * sizeof(float));
    tu_fill_uniform(A, M * K, 21, -1, 1);
    tu_fill_uniform(B, N * K, 22, -1, 1);
    const int threads[] = {1, 2, 3, 8, 16};
    for (size_t q = 0; q < sizeof threads / sizeof threads[0]; q++) {
        sslk_ctx *c = mkctx(threads[q]);
        float *out = q == 0 ? C1 : C;
        for (size_t i = 0; i < M * N; i++) out[i] = 1.0f; /* beta = 0.5 reads it */
        ssli_sgemm(c, false, true, M, N, K, 1.0f, A, K, B, K, 0.5f, out, N);
        if (q == 0) {
            for (size_t i = 0; i < M; i += 37)
                for (size_t j = 0; j < N; j += 13) {
                    double r = 0.5;
                    for (size_t k = 0; k < K; k++) r += (double)A[i * K + k] * B[j * K + k];
                    ck_close(C1[i * N + j], r, 1e-5, 1e-4);
                }
        } else {
            ck_assert_msg(memcmp(C1, C, M * N * sizeof(float)) == 0, "%s: %d threads differ from 1",
                          ssli_gemm_threading_name(mode), threads[q]);
        }
        sslk_ctx_destroy(c);
    }
    /* transposed A, the other side longer */
    const size_t m2 = 200, n2 = 900;
    float *At = malloc(K * m2 * sizeof(float)), *B2 = malloc(K * n2 * sizeof(float));
    float *D1 = malloc(m2 * n2 * sizeof(float)), *D = malloc(m2 * n2 * sizeof(float));
    tu_fill_uniform(At, K * m2, 23, -1, 1);
    tu_fill_uniform(B2, K * n2, 24, -1, 1);
    for (size_t q = 0; q < sizeof threads / sizeof threads[0]; q++) {
        sslk_ctx *c = mkctx(threads[q]);
        ssli_sgemm(c, true, false, m2, n2, K, 1.0f, At, m2, B2, n2, 0.0f, q == 0 ? D1 : D, n2);
        if (q == 0) {
            for (size_t i = 0; i < m2; i += 19)
                for (size_t j = 0; j < n2; j += 31) {
                    double r = 0;
                    for (size_t k = 0; k < K; k++) r += (double)At[k * m2 + i] * B2[k * n2 + j];
                    ck_close(D1[i * n2 + j], r, 1e-5, 1e-4);
                }
        } else {
            ck_assert_msg(memcmp(D1, D, m2 * n2 * sizeof(float)) == 0, "%s, A^T: %d threads differ",
                          ssli_gemm_threading_name(mode), threads[q]);
        }
        sslk_ctx_destroy(c);
    }
    free(A), free(B), free(C1), free(C), free(At), free(B2), free(D1), free(D);
    ck_ok(ssli_gemm_threading_force(SSLI_GEMM_THREADING_AUTO));
}
END_TEST

START_TEST(gemm_threading_auto_rule_and_force) {
    ck_ok(ssli_gemm_threading_force(SSLI_GEMM_THREADING_AUTO));
    ck_assert_int_eq(ssli_gemm_threading_for(1), SSLI_GEMM_THREADING_SPLIT);
    ck_assert_int_eq(ssli_gemm_threading_for(3), SSLI_GEMM_THREADING_SPLIT);
    ck_assert_int_eq(ssli_gemm_threading_for(4), SSLI_GEMM_THREADING_BLIS);
    ck_assert_int_eq(ssli_gemm_threading_for(16), SSLI_GEMM_THREADING_BLIS);
    ck_status(ssli_gemm_threading_force(SSLI_GEMM_THREADING_COUNT), SSLK_E_INVALID_ARG);
    ck_assert_int_eq(ssli_gemm_threading_setting(), SSLI_GEMM_THREADING_AUTO);
    ck_assert_str_eq(ssli_gemm_threading_name(SSLI_GEMM_THREADING_BLIS), "blis");
    ck_ok(ssli_gemm_threading_force(SSLI_GEMM_THREADING_SPLIT));
    ck_assert_int_eq(ssli_gemm_threading_for(16), SSLI_GEMM_THREADING_SPLIT);
    ck_assert_ptr_nonnull(strstr(sslk_linalg_info(), "gemm_threading=split"));
    ck_ok(ssli_gemm_threading_force(SSLI_GEMM_THREADING_AUTO));
}
END_TEST

/* ---- pinning ----------------------------------------------------------------- */

static int mask_single(pid_t tid) { /* the one CPU of a thread's mask, -1 when several */
    cpu_set_t s;
    CPU_ZERO(&s);
    if (sched_getaffinity(tid, sizeof s, &s) != 0) return -2;
    if (CPU_COUNT(&s) != 1) return -1;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &s)) return c;
    return -1;
}

/* Pinning the team holds in the regions that follow, and unpinning restores. */
START_TEST(team_pinning_applies_and_restores) {
    int all[SSLI_MAX_CPUS];
    const int n = ssli_cpus_allowed(all, SSLI_MAX_CPUS);
    ck_assert_msg(n >= 1, "sched_getaffinity gave no CPU");
    if (n < 2) return; /* one CPU: nothing to split */
    const int cpus[2] = {all[1], all[0]}; /* swapped: not what the OS would pick anyway */
    ck_ok(ssli_pin_team(2, cpus, "test"));
    int seen[2] = {-3, -3};
#pragma omp parallel num_threads(2)
    {
        cpu_set_t s;
        CPU_ZERO(&s);
        pthread_getaffinity_np(pthread_self(), sizeof s, &s);
        int one = -1;
        for (int c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &s)) one = one == -1 ? c : -2;
        seen[omp_get_thread_num()] = one;
    }
    ck_assert_int_eq(seen[0], all[1]);
    ck_assert_int_eq(seen[1], all[0]);
    ssli_unpin_team(2, all, n);
    int back[SSLI_MAX_CPUS];
    ck_assert_int_eq(ssli_cpus_allowed(back, SSLI_MAX_CPUS), n);
    ck_assert(memcmp(back, all, (size_t)n * sizeof(int)) == 0);
}
END_TEST

#define SIDE 8
#define NIMG 64
static sslk_dataset *tiny_dataset(sslk_ctx *c) {
    static uint8_t px[NIMG * SIDE * SIDE];
    static int32_t lab[NIMG];
    unsigned r = 9;
    for (int i = 0; i < NIMG * SIDE * SIDE; i++) {
        r = r * 1103515245u + 12345u;
        px[i] = (uint8_t)(r >> 16);
    }
    for (int i = 0; i < NIMG; i++) lab[i] = i % 4;
    sslk_dataset *ds = NULL;
    ck_ok(sslk_dataset_from_memory(c, px, NIMG, SIDE, SIDE, 1, lab, &ds));
    return ds;
}

typedef struct seen_pins {
    int caller, worker_on_next, threads_seen, steps;
    int expect_caller, expect_worker;
} seen_pins;

/* During fit: the calling thread is on the first allowed CPU and some other
 * thread of the process (the loader's worker) on the second. */
static int on_step(void *user, const sslk_train_progress *p) {
    (void)p;
    seen_pins *s = user;
    s->steps++;
    const pid_t self = (pid_t)syscall(SYS_gettid);
    s->caller = mask_single(self);
    DIR *d = opendir("/proc/self/task");
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        pid_t tid = (pid_t)atoi(e->d_name);
        s->threads_seen++;
        if (tid != self && mask_single(tid) == s->expect_worker) s->worker_on_next++;
    }
    closedir(d);
    return 0;
}

START_TEST(trainer_pin_threads_setting) {
    int all[SSLI_MAX_CPUS];
    const int n = ssli_cpus_allowed(all, SSLI_MAX_CPUS);
    ck_assert_msg(n >= 1, "sched_getaffinity gave no CPU");
    sslk_ctx *c = mkctx(1);
    sslk_dataset *ds = tiny_dataset(c);
    sslk_trainer *tr = NULL;
    ck_ok(sslk_trainer_create(c, SSLK_METHOD_VICREG, ds, "flatten,linear:16,bn,relu", "linear:16", &tr));
    ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_BATCH, 16));
    ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_EPOCHS, 1));
    ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_MONITOR_EVERY, 0));
    /* bad values */
    ck_status(sslk_trainer_set_i64(tr, SSLK_TRAIN_PIN_THREADS, 2), SSLK_E_SETTING);
    ck_status(sslk_trainer_set_i64(tr, SSLK_TRAIN_PIN_THREADS, -1), SSLK_E_SETTING);
    int64_t v = -1;
    ck_ok(sslk_trainer_get_i64(tr, SSLK_TRAIN_PIN_THREADS, &v));
    ck_assert_int_eq(v, 0);
    ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_PIN_THREADS, 1));
    /* more threads + workers than CPUs: a clear refusal, nothing pinned */
    ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_WORKERS, n));
    ck_status(sslk_trainer_fit(tr, 0), SSLK_E_RANGE);
    ck_assert_msg(strstr(sslk_last_error(), "pin_threads needs") != NULL, "%s", sslk_last_error());
    int back[SSLI_MAX_CPUS];
    ck_assert_int_eq(ssli_cpus_allowed(back, SSLI_MAX_CPUS), n);
    if (n >= 2) {
        ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_WORKERS, 1));
        seen_pins s = {.caller = -3, .expect_caller = all[0], .expect_worker = all[1]};
        ck_ok(sslk_trainer_set_callbacks(tr, on_step, NULL, &s));
        ck_ok(sslk_trainer_fit(tr, 0));
        ck_assert_int_gt(s.steps, 0);
        ck_assert_int_eq(s.caller, all[0]);
        ck_assert_msg(s.worker_on_next >= 1, "no thread on CPU %d among %d", all[1], s.threads_seen);
        /* restored after fit */
        ck_assert_int_eq(ssli_cpus_allowed(back, SSLI_MAX_CPUS), n);
        ck_assert(memcmp(back, all, (size_t)n * sizeof(int)) == 0);
    }
    sslk_trainer_destroy(tr);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("scale");
    TCase *tc = tcase_create("scale");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, optim_chunks_match_reference_and_thread_counts, SSLK_OPTIM_SGD, SSLK_OPTIM_ADAMW + 1);
    tcase_add_test(tc, optim_gate_names_first_bad_value);
    tcase_add_test(tc, par_check_finds_first_and_copies);
    tcase_add_test(tc, model_forward_backward_checks_name_row_and_column);
    tcase_add_loop_test(tc, gemm_2d_split_same_bits_at_any_thread_count, 0, 2);
    tcase_add_test(tc, gemm_threading_auto_rule_and_force);
    tcase_add_test(tc, team_pinning_applies_and_restores);
    tcase_add_test(tc, trainer_pin_threads_setting);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
