/* Regenerates the seed corpora of the file and settings fuzz targets:
 *   meson compile -C BUILD fuzz_make_corpus && BUILD/tests/fuzz/fuzz_make_corpus tests/fuzz/corpus
 * .sslk models and trainer checkpoints are stored without their trailing
 * CRC32 (the harnesses append it, see fuzz_crc.h); safetensors files get the
 * model-selector byte of fuzz_safetensors.c in front.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sslkit/sslkit.h"

static const char *root;

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)sz + 1);
    *n = b ? fread(b, 1, (size_t)sz, f) : 0;
    fclose(f);
    return b;
}

/* Write head (may be NULL) + the file at tmp without its last `cut` bytes. */
static int put(const char *dir, const char *name, const char *tmp, size_t cut, const unsigned char *head,
               size_t nhead) {
    size_t n;
    unsigned char *b = slurp(tmp, &n);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", root, dir, name);
    FILE *f = fopen(path, "wb");
    if (!b || n < cut || !f) {
        fprintf(stderr, "cannot write %s\n", path);
        free(b);
        if (f) fclose(f);
        return 1;
    }
    fwrite(head, 1, nhead, f);
    fwrite(b, 1, n - cut, f);
    fclose(f);
    free(b);
    remove(tmp);
    return 0;
}

#define OK(x)                                                              \
    do {                                                                   \
        if ((x) != SSLK_OK) {                                              \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, sslk_last_error()); \
            return 1;                                                      \
        }                                                                  \
    } while (0)

static int models(sslk_ctx *c, const char *tmp) {
    static const struct {
        const char *name, *spec;
        size_t ndim, shape[3];
    } M[] = {
        {"conv_bn_res.bin", "conv:3:3:1:1,bn,relu,res(conv:3:3:1:1,bn|),maxpool:2,flatten,linear:4,bn,linear:2", 3,
         {2, 6, 6}},
        {"linear.bin", "linear:3", 1, {2, 0, 0}},
        {"mlp_bn.bin", "linear:4,bn,relu,linear:2", 1, {3, 0, 0}},
        {"pool_flatten.bin", "conv:2:1:1:0,avgpool:2,flatten,linear:2", 3, {1, 4, 4}},
    };
    for (size_t i = 0; i < sizeof M / sizeof *M; i++) {
        sslk_model *m;
        OK(sslk_model_from_spec(c, M[i].spec, M[i].ndim, M[i].shape, 7, &m));
        OK(sslk_model_save(m, tmp));
        sslk_model_destroy(m);
        if (put("model_file", M[i].name, tmp, 4, NULL, 0)) return 1;
    }
    /* the two models of fuzz_safetensors.c, selector byte first */
    static const struct {
        const char *name, *spec;
        size_t ndim, shape[3];
    } S[] = {
        {"conv.st", "conv:2:3:1:1,bn,relu,maxpool:2,flatten,linear:3,bn,linear:2", 3, {2, 4, 4}},
        {"linear_bn.st", "linear:2,bn", 1, {3, 0, 0}},
    };
    for (unsigned char k = 0; k < 2; k++) {
        sslk_model *m;
        OK(sslk_model_from_spec(c, S[k].spec, S[k].ndim, S[k].shape, 5, &m));
        OK(sslk_model_save_safetensors(m, tmp));
        sslk_model_destroy(m);
        if (put("safetensors", S[k].name, tmp, 0, &k, 1)) return 1;
    }
    return 0;
}

/* The dataset of fuzz_ckpt.c: 8 images 8x8x1, 4 classes. */
static int checkpoints(sslk_ctx *c, const char *tmp) {
    static uint8_t px[8 * 8 * 8];
    static int32_t lab[8];
    for (int i = 0; i < 8 * 8 * 8; i++) px[i] = (uint8_t)((i * 29) % 251);
    for (int i = 0; i < 8; i++) lab[i] = i % 4;
    sslk_dataset *ds;
    OK(sslk_dataset_from_memory(c, px, 8, 8, 8, 1, lab, &ds));
    static const struct {
        const char *name;
        sslk_method m;
        const char *proj;
        int epochs;
    } T[] = {
        {"vicreg_e1.ckpt", SSLK_METHOD_VICREG, "linear:8", 1},
        {"simclr_e0.ckpt", SSLK_METHOD_SIMCLR, "linear:8", 0},
        {"diet_e1.ckpt", SSLK_METHOD_DIET, "", 1},
        {"msn_e1.ckpt", SSLK_METHOD_MSN, "linear:8", 1},
        {"supervised_e0.ckpt", SSLK_METHOD_SUPERVISED, NULL, 0},
    };
    for (size_t i = 0; i < sizeof T / sizeof *T; i++) {
        sslk_trainer *tr;
        OK(sslk_trainer_create(c, T[i].m, ds, "flatten,linear:8,bn,relu", T[i].proj, &tr));
        OK(sslk_trainer_set_i64(tr, SSLK_TRAIN_BATCH, 4));
        OK(sslk_trainer_set_i64(tr, SSLK_TRAIN_EPOCHS, 1));
        OK(sslk_trainer_set_i64(tr, SSLK_TRAIN_WORKERS, 0));
        if (T[i].m == SSLK_METHOD_MSN) OK(sslk_trainer_set_i64(tr, SSLK_TRAIN_PROTOTYPES, 16));
        if (T[i].epochs) OK(sslk_trainer_fit(tr, (uint64_t)T[i].epochs));
        OK(sslk_trainer_save(tr, tmp));
        sslk_trainer_destroy(tr);
        if (put("ckpt", T[i].name, tmp, 4, NULL, 0)) return 1;
    }
    sslk_dataset_destroy(ds);
    return 0;
}

/* Settings records (layout in fuzz_settings.c): a fixed pseudo-random mix. */
static int settings(void) {
    unsigned s = 2024;
    for (int f = 0; f < 4; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/settings/mix%d.bin", root, f);
        FILE *o = fopen(path, "wb");
        if (!o) return 1;
        for (int r = 0; r < 24; r++) {
            unsigned char rec[12];
            for (int k = 0; k < 12; k++) {
                s = s * 1103515245u + 12345u;
                rec[k] = (unsigned char)(s >> 16);
            }
            rec[1] &= (unsigned char)(f == 0 ? 0x0E : 0xEF); /* file 0: registered keys, f64, each mode */
            fwrite(rec, 1, 12, o);
        }
        fclose(o);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    root = argv[1];
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/.make_corpus.tmp", root);
    sslk_ctx *c;
    OK(sslk_ctx_create(&c));
    sslk_ctx_set_threads(c, 1);
    int bad = models(c, tmp) || checkpoints(c, tmp) || settings();
    sslk_ctx_destroy(c);
    return bad;
}
