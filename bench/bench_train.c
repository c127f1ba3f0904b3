/* Images/s of a full training step (load, augment, forward, loss, backward,
 * update) through sslk_trainer on Fashion-MNIST with VICReg and the default
 * encoder (or argv[2]), at 1 and 2 threads; the ratio against the same loop
 * in PyTorch + torchvision (bench/train_ref.py through /usr/bin/python3)
 * when torch imports.
 * Usage: bench_train [steps] [encoder-spec]
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "sslkit/sslkit.h"

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

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 10;
    const char *spec = argc > 2 ? argv[2] : NULL;
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
    printf("%-8s %16s %16s %8s\n", "threads", "sslkit img/s", "pytorch img/s", "ratio");
    for (int th = 1; th <= 2; th++) {
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
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
    return 0;
}
