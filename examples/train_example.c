/* Pre-train an encoder with VICReg from C, then evaluate it the library's way
 * (kNN and linear probe on frozen features).  Uses a synthetic dataset of
 * four 8x8 patterns held in memory, or a real one given as argv[1] (a name
 * such as "fashion-mnist" or a path, with argv[2] epochs).
 *
 *   cc -std=c11 train_example.c $(pkg-config --cflags --libs sslkit) -o train_example
 *
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>

#include <sslkit/sslkit.h>

#define CHECK(call)                                                                                 \
    do {                                                                                            \
        sslk_status st_ = (call);                                                                   \
        if (st_ != SSLK_OK) {                                                                       \
            fprintf(stderr, "%s failed: %s: %s\n", #call, sslk_status_str(st_), sslk_last_error()); \
            exit(1);                                                                                \
        }                                                                                           \
    } while (0)

/* n images of 8 x 8: bars, columns, a blob or a diagonal (label = pattern) with noise. */
static sslk_dataset *patterns(sslk_ctx *ctx, size_t n, unsigned seed) {
    uint8_t *px = malloc(n * 64);
    int32_t *lab = malloc(n * sizeof *lab);
    for (size_t i = 0; i < n; i++) {
        int k = (int)(i % 4);
        lab[i] = k;
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) {
                int on = k == 0 ? (y == 2 || y == 5) : k == 1 ? (x == 3 || x == 4)
                         : k == 2 ? (x >= 3 && x <= 4 && y >= 3 && y <= 4) : x == y;
                seed = seed * 1103515245u + 12345u;
                px[i * 64 + (size_t)(y * 8 + x)] = (uint8_t)((on ? 200 : 30) + (seed >> 16) % 40);
            }
    }
    sslk_dataset *ds;
    CHECK(sslk_dataset_from_memory(ctx, px, n, 8, 8, 1, lab, &ds));
    free(px);
    free(lab);
    return ds;
}

static int on_epoch(void *user, const sslk_train_progress *p) {
    (void)user;
    printf("epoch %llu: loss %.4f, RankMe %.1f\n", (unsigned long long)p->epoch + 1, p->loss, p->rankme);
    return 0; /* non-zero would stop training */
}

/* Encoder outputs of every item of ds (caller frees *z and *y). */
static size_t embed(sslk_trainer *tr, sslk_dataset *ds, float **z, int32_t **y, size_t *dim) {
    size_t n;
    CHECK(sslk_dataset_count(ds, &n));
    CHECK(sslk_trainer_embed_dim(tr, dim));
    *z = malloc(n * *dim * sizeof **z);
    *y = malloc(n * sizeof **y);
    CHECK(sslk_trainer_embed(tr, ds, *z, n, *dim, *y));
    return n;
}

int main(int argc, char **argv) {
    sslk_ctx *ctx;
    CHECK(sslk_ctx_create(&ctx));
    CHECK(sslk_ctx_set_threads(ctx, 2));
    sslk_dataset *train, *test;
    const char *enc = "flatten,linear:32,bn,relu";
    int epochs = 6;
    if (argc > 1) {
        CHECK(sslk_dataset_open(ctx, argv[1], SSLK_SPLIT_TRAIN, &train));
        CHECK(sslk_dataset_open(ctx, argv[1], SSLK_SPLIT_TEST, &test));
        enc = NULL; /* the default CNN */
        epochs = argc > 2 ? atoi(argv[2]) : 2;
    } else {
        train = patterns(ctx, 256, 1);
        test = patterns(ctx, 128, 2);
    }
    sslk_trainer *tr;
    CHECK(sslk_trainer_create(ctx, SSLK_METHOD_VICREG, train, enc, argc > 1 ? NULL : "linear:32,bn,relu,linear:32",
                              &tr));
    CHECK(sslk_trainer_set_i64(tr, SSLK_TRAIN_EPOCHS, epochs));
    if (argc == 1) CHECK(sslk_trainer_set_i64(tr, SSLK_TRAIN_BATCH, 32));
    CHECK(sslk_trainer_set_callbacks(tr, NULL, on_epoch, NULL));
    CHECK(sslk_trainer_fit(tr, 0));

    float *ztr, *zte;
    int32_t *ytr, *yte;
    size_t d, ntr = embed(tr, train, &ztr, &ytr, &d), nte = embed(tr, test, &zte, &yte, &d);
    size_t nc;
    CHECK(sslk_dataset_num_classes(train, &nc));
    sslk_knn *knn;
    double top1, top5, probe;
    CHECK(sslk_knn_create(ctx, &knn)); /* cosine, k = 20, T = 0.07 */
    CHECK(sslk_knn_fit(knn, ztr, ytr, ntr, d, nc));
    CHECK(sslk_knn_evaluate(knn, zte, yte, nte, d, &top1, &top5));
    sslk_probe *pr;
    CHECK(sslk_probe_create(ctx, &pr)); /* standardised, L2 chosen on a held-out split */
    CHECK(sslk_probe_fit(pr, ztr, ytr, ntr, d, nc));
    CHECK(sslk_probe_evaluate(pr, zte, yte, nte, d, &probe));
    double rank;
    CHECK(sslk_rankme(ctx, zte, nte, d, &rank));
    printf("kNN top-1 %.4f, linear probe top-1 %.4f, RankMe %.2f (%zu-dim features)\n", top1, probe, rank, d);
    sslk_probe_destroy(pr);
    sslk_knn_destroy(knn);
    free(ztr);
    free(zte);
    free(ytr);
    free(yte);
    sslk_trainer_destroy(tr);
    sslk_dataset_destroy(test);
    sslk_dataset_destroy(train);
    sslk_ctx_destroy(ctx);
    return top1 > 0.9 && probe > 0.9 ? 0 : 2; /* the patterns are easy: anything less is a failure */
}
