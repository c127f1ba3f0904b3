/* libFuzzer target: trainer checkpoints, the CRC appended by the harness
 * (fuzz_crc.h), loaded against a fixed dataset of 8 images 8x8x1 in 4 classes
 * on a context with a 64 MiB allocation budget.  A checkpoint that loads must
 * report the epoch and history it holds consistently.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>

#include "fuzz_common.h"
#include "fuzz_crc.h"
#include "train/trainer_internal.h"

#define NIMG 8
#define SIDE 8

static sslk_ctx *ck_ctx(sslk_dataset **ds) {
    static sslk_ctx *c;
    static sslk_dataset *d;
    if (!c) {
        static uint8_t px[NIMG * SIDE * SIDE];
        static int32_t lab[NIMG];
        for (int i = 0; i < NIMG * SIDE * SIDE; i++) px[i] = (uint8_t)((i * 29) % 251);
        for (int i = 0; i < NIMG; i++) lab[i] = i % 4;
        if (sslk_ctx_create(&c) != SSLK_OK) return NULL;
        sslk_ctx_set_threads(c, 1);
        sslk_ctx_set_i64(c, SSLK_CTX_MAX_ALLOC_BYTES, (int64_t)64 << 20);
        if (sslk_dataset_from_memory(c, px, NIMG, SIDE, SIDE, 1, lab, &d) != SSLK_OK) return NULL;
    }
    *ds = d;
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sslk_dataset *ds = NULL;
    sslk_ctx *c = ck_ctx(&ds);
    size_t n;
    unsigned char *buf = c ? fuzz_with_crc(data, size, &n) : NULL;
    if (!buf) return 0;
    sslk_trainer *tr = NULL;
    if (ssli_trainer_load_buffer(c, buf, n, "fuzz.ckpt", ds, "fuzz", &tr) == SSLK_OK) {
        if (tr->nhist != tr->epoch) abort(); /* one history row per finished epoch */
        for (size_t i = 0; i < tr->nhist; i++)
            if (tr->hist[i].num_terms > 8) abort();
    }
    sslk_trainer_destroy(tr);
    free(buf);
    return 0;
}
