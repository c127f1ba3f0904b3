/* The encoder input's normalisation: one mean/std for every channel, given
 * per channel, or measured once per channel on a seeded sample of the
 * training data and then kept in the settings (and so in checkpoints), so
 * resume and embed use the very same values.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdlib.h>

#include "train/trainer_internal.h"

static void put(sslk_trainer *tr, int key, double v) { tr->set[ssli_setting_index(&ssli_settings_train, key)] = v; }

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* Mean and std of each channel of the images as the encoder sees them before
 * normalisation (whole image resized to at most 64 px, converted to in_c
 * channels, values in [0, 1]), over m items drawn without replacement with
 * INIT_SEED.  Unreadable items are skipped here whatever the policy: the
 * training loader reports them. */
static sslk_status measure(sslk_trainer *tr, double mean[3], double std[3]) {
    sslk_dataset *ds = ssli_train_data(tr);
    size_t n = 0;
    SSLI_TRY(sslk_dataset_count(ds, &n));
    size_t m = (size_t)ssli_train_get(tr, SSLK_TRAIN_NORM_SAMPLE);
    if (m > n) m = n;
    size_t *perm = ssli_malloc(tr->ctx, n, sizeof *perm);
    if (!perm) return ssli_alloc_status();
    for (size_t i = 0; i < n; i++) perm[i] = i;
    uint64_t key = ssli_rng_key((uint64_t)ssli_train_get(tr, SSLK_TRAIN_INIT_SEED), 5, 0);
    for (size_t i = 0; i < m; i++) {
        size_t j = i + (size_t)ssli_rng_below(key, i, n - i);
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    qsort(perm, m, sizeof *perm, cmp_size);
    const size_t S = tr->in_s < 64 ? tr->in_s : 64, C = tr->in_c, B = 64, hw = S * S;
    sslk_dataset *sub = NULL;
    sslk_augment *aug = NULL;
    sslk_loader *ld = NULL;
    float *x = ssli_malloc(tr->ctx, B * C, hw * sizeof(float));
    sslk_status st = x ? sslk_dataset_subset(ds, perm, m, &sub) : ssli_alloc_status();
    ssli_free(tr->ctx, perm);
    if (st == SSLK_OK) st = sslk_augment_create(tr->ctx, 1, &aug);
    if (st == SSLK_OK) st = sslk_augment_preset(aug, 0, SSLK_AUG_PRESET_PLAIN);
    if (st == SSLK_OK) st = sslk_augment_set_i64(aug, 0, SSLK_AUG_SIZE, (int64_t)S);
    if (st == SSLK_OK && tr->in_c != tr->img_c) st = sslk_augment_set_i64(aug, 0, SSLK_AUG_OUT_CHANNELS, (int64_t)C);
    if (st == SSLK_OK) st = sslk_loader_create(tr->ctx, sub, aug, B, &ld);
    if (st == SSLK_OK) st = sslk_loader_set_i64(ld, SSLK_LOADER_SHUFFLE, 0);
    if (st == SSLK_OK) st = sslk_loader_set_i64(ld, SSLK_LOADER_DROP_LAST, 0);
    if (st == SSLK_OK) st = sslk_loader_set_i64(ld, SSLK_LOADER_ON_CORRUPT, SSLK_CORRUPT_SKIP);
    if (st == SSLK_OK) st = sslk_loader_set_i64(ld, SSLK_LOADER_WORKERS, (int64_t)ssli_train_get(tr, SSLK_TRAIN_WORKERS));
    if (st == SSLK_OK) st = sslk_loader_begin_epoch(ld, 0);
    double s1[3] = {0}, s2[3] = {0};
    size_t cnt = 0;
    while (st == SSLK_OK) {
        size_t rows = 0;
        float *views[1] = {x};
        st = sslk_loader_next(ld, views, NULL, NULL, &rows);
        if (st != SSLK_OK || rows == 0) break;
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < C; c++) {
                const float *p = x + (r * C + c) * hw;
                double a = 0, b = 0;
                for (size_t i = 0; i < hw; i++) {
                    a += p[i];
                    b += (double)p[i] * p[i];
                }
                s1[c] += a;
                s2[c] += b;
            }
        cnt += rows;
    }
    sslk_loader_destroy(ld);
    sslk_augment_destroy(aug);
    sslk_dataset_destroy(sub);
    ssli_free(tr->ctx, x);
    SSLI_TRY(st);
    if (cnt == 0)
        return ssli_err(SSLK_E_FORMAT, "sslk_trainer_fit: none of the %zu images sampled to measure the normalisation "
                        "could be read", m);
    for (size_t c = 0; c < 3; c++) {
        size_t k = c < C ? c : 0; /* a gray input: one channel measured, replicated */
        double N = (double)cnt * (double)hw, mu = s1[k] / N, var = s2[k] / N - mu * mu;
        mean[c] = mu;
        std[c] = sqrt(var > 0 ? var : 0);
        if (!(std[c] >= 1e-3)) std[c] = 1e-3; /* a constant channel: keep the division finite */
    }
    return SSLK_OK;
}

sslk_status ssli_train_norm(sslk_trainer *tr, double mean[3], double std[3]) {
    int mode = (int)ssli_train_get(tr, SSLK_TRAIN_NORM_MODE);
    if (mode == 2) {
        SSLI_TRY(measure(tr, mean, std));
        for (int c = 0; c < 3; c++) {
            put(tr, SSLK_TRAIN_NORM_MEAN0 + c, mean[c]);
            put(tr, SSLK_TRAIN_NORM_STD0 + c, std[c]);
        }
        put(tr, SSLK_TRAIN_NORM_MODE, 1);
        return SSLK_OK;
    }
    for (int c = 0; c < 3; c++) {
        mean[c] = mode == 1 ? ssli_train_get(tr, SSLK_TRAIN_NORM_MEAN0 + c) : ssli_train_get(tr, SSLK_TRAIN_NORM_MEAN);
        std[c] = mode == 1 ? ssli_train_get(tr, SSLK_TRAIN_NORM_STD0 + c) : ssli_train_get(tr, SSLK_TRAIN_NORM_STD);
    }
    return SSLK_OK;
}
