/* libFuzzer target: the enum-keyed settings setters with random key/value
 * pairs.  Each 12-byte record is one call:
 *   byte 0      object (context, model, optimizers, losses, augment, loader,
 *               dataset, k-NN, probe, RankMe)
 *   byte 1      bit 0: the _i64 setter (else _f64); bits 1-3: value mode
 *               (raw, or the key's bounds, default and their neighbours);
 *               bit 4: a raw 16-bit key (else one of the registered keys, any
 *               domain); bits 5-6: the augment view (-1 = all, 0, 1, 2)
 *   bytes 2-3   key selector;  bytes 4-11  raw value
 * A call that succeeds must read back exactly (the value stored is the value
 * passed); one that fails must leave an error message and the setting as it
 * was.  The objects live for the whole process on a 16 MiB-budget context.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sslkit/sslkit.h"

enum { O_CTX, O_MODEL, O_SGD, O_LARS, O_ADAMW, O_LOSS1, O_LOSS7 = O_LOSS1 + 6, O_AUG, O_LOADER, O_DATASET, O_KNN,
       O_PROBE, O_RANKME, NOBJ };

static struct {
    sslk_ctx *ctx, *lim; /* objects' context; the one whose limits are fuzzed */
    sslk_model *model;
    sslk_optim *opt[3];
    sslk_loss *loss[7];
    sslk_augment *aug;
    sslk_loader *ld;
    sslk_dataset *ds;
    sslk_knn *knn;
    sslk_probe *probe;
    sslk_rankme_acc *rk;
    int keys[1024];
    size_t nkeys;
} S;

static int setup(void) {
    static int done;
    if (done) return done > 0;
    done = -1;
    static const char *domains[] = {"ctx", "rankme", "loss", "vicreg", "vicreg_logdet", "vicreg_pairdist",
                                    "infonce", "diet", "msn", "model", "sgd", "lars", "adamw", "schedule",
                                    "augment", "loader", "dataset", "knn", "probe", "train", "splinecam",
                                    "police"};
    for (size_t d = 0; d < sizeof domains / sizeof *domains; d++) {
        size_t n = 0;
        if (sslk_setting_list(domains[d], S.keys + S.nkeys, 1024 - S.nkeys, &n) != SSLK_OK) return 0;
        S.nkeys += n;
    }
    static uint8_t px[4 * 4 * 4];
    if (sslk_ctx_create(&S.ctx) || sslk_ctx_create(&S.lim)) return 0;
    sslk_ctx_set_threads(S.ctx, 1);
    sslk_ctx_set_i64(S.ctx, SSLK_CTX_MAX_ALLOC_BYTES, (int64_t)16 << 20);
    if (sslk_model_from_spec(S.ctx, "linear:2,bn", 1, (const size_t[]){3}, 1, &S.model)) return 0;
    for (int k = 0; k < 3; k++)
        if (sslk_optim_create(S.ctx, (sslk_optim_kind)(SSLK_OPTIM_SGD + k), &S.opt[k])) return 0;
    for (int k = 0; k < 7; k++)
        if (sslk_loss_create(S.ctx, (sslk_loss_kind)(SSLK_LOSS_VICREG + k), &S.loss[k])) return 0;
    if (sslk_augment_create(S.ctx, 2, &S.aug) || sslk_dataset_from_memory(S.ctx, px, 4, 4, 4, 1, NULL, &S.ds) ||
        sslk_loader_create(S.ctx, S.ds, S.aug, 2, &S.ld) || sslk_knn_create(S.ctx, &S.knn) ||
        sslk_probe_create(S.ctx, &S.probe) || sslk_rankme_create(S.ctx, 4, &S.rk))
        return 0;
    done = 1;
    return 1;
}

static int view; /* augment view of the current record */

static sslk_status set_f(int o, int key, double v) {
    switch (o) {
    case O_CTX: return sslk_ctx_set_i64(S.lim, key, (int64_t)v); /* integer-only: v is in range (see below) */
    case O_MODEL: return sslk_model_set_f64(S.model, key, v);
    case O_SGD: case O_LARS: case O_ADAMW: return sslk_optim_set_f64(S.opt[o - O_SGD], key, v);
    case O_AUG: return sslk_augment_set_f64(S.aug, view, key, v);
    case O_KNN: return sslk_knn_set_f64(S.knn, key, v);
    case O_PROBE: return sslk_probe_set_f64(S.probe, key, v);
    case O_RANKME: return sslk_rankme_set_f64(S.rk, key, v);
    default: return sslk_loss_set_f64(S.loss[o - O_LOSS1], key, v);
    }
}

static sslk_status set_i(int o, int key, int64_t v) {
    switch (o) {
    case O_CTX: return sslk_ctx_set_i64(S.lim, key, v);
    case O_AUG: return sslk_augment_set_i64(S.aug, view, key, v);
    case O_LOADER: return sslk_loader_set_i64(S.ld, key, v);
    case O_DATASET: return sslk_dataset_set_i64(S.ds, key, v);
    case O_KNN: return sslk_knn_set_i64(S.knn, key, v);
    case O_PROBE: return sslk_probe_set_i64(S.probe, key, v);
    case O_RANKME: return sslk_rankme_set_i64(S.rk, key, v);
    default: return sslk_loss_set_i64(S.loss[o - O_LOSS1], key, v);
    }
}

/* Read back as a double (integers converted exactly below 2^53); status. */
static sslk_status get(int o, int key, int v_view, double *v) {
    int64_t i = 0;
    sslk_status st;
    switch (o) {
    case O_CTX: st = sslk_ctx_get_i64(S.lim, key, &i); break;
    case O_LOADER: st = sslk_loader_get_i64(S.ld, key, &i); break;
    case O_DATASET: st = sslk_dataset_get_i64(S.ds, key, &i); break;
    case O_MODEL: return sslk_model_get_f64(S.model, key, v);
    case O_SGD: case O_LARS: case O_ADAMW: return sslk_optim_get_f64(S.opt[o - O_SGD], SIZE_MAX, key, v);
    case O_AUG: return sslk_augment_get_f64(S.aug, v_view, key, v);
    case O_KNN: return sslk_knn_get_f64(S.knn, key, v);
    case O_PROBE: return sslk_probe_get_f64(S.probe, key, v);
    case O_RANKME: return sslk_rankme_get_f64(S.rk, key, v);
    default: return sslk_loss_get_f64(S.loss[o - O_LOSS1], key, v);
    }
    *v = (double)i;
    return st;
}

/* The i64 getters, where the object has one, must agree with the value set. */
static sslk_status get_i(int o, int key, int64_t *v) {
    switch (o) {
    case O_CTX: return sslk_ctx_get_i64(S.lim, key, v);
    case O_LOADER: return sslk_loader_get_i64(S.ld, key, v);
    case O_DATASET: return sslk_dataset_get_i64(S.ds, key, v);
    case O_LOSS1: case O_LOSS1 + 1: case O_LOSS1 + 2: case O_LOSS1 + 3: case O_LOSS1 + 4: case O_LOSS1 + 5:
    case O_LOSS7: return sslk_loss_get_i64(S.loss[o - O_LOSS1], key, v);
    default: return SSLK_E_INVALID_ARG;
    }
}

/* double -> int64 without undefined behaviour (saturating, NaN -> 0). */
static int64_t to_i64(double d) {
    if (!(d == d)) return 0;
    if (d >= 9223372036854775807.0) return INT64_MAX;
    if (d <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)d;
}

/* Report the failing call, then crash so libFuzzer keeps the input. */
static void fail(const char *what, int o, int key, int as_int, double v, int64_t iv, double got) {
    fprintf(stderr, "fuzz_settings: %s: object %d key %d %s value %.17g / %lld, read back %.17g (%s)\n", what, o,
            key, as_int ? "i64" : "f64", v, (long long)iv, got, sslk_last_error());
    abort();
}

static void one(const uint8_t *r) {
    int o = r[0] % NOBJ, as_int = r[1] & 1, mode = (r[1] >> 1) & 7;
    if (as_int && (o == O_MODEL || (o >= O_SGD && o <= O_ADAMW))) as_int = 0; /* no _i64 setter */
    if (!as_int && (o == O_LOADER || o == O_DATASET)) as_int = 1;              /* no _f64 setter */
    view = ((r[1] >> 5) & 3) - 1;
    int key = r[1] & 16 ? (int)(int16_t)(r[2] | r[3] << 8) : S.keys[(size_t)(r[2] | r[3] << 8) % S.nkeys];
    uint64_t raw = 0;
    for (int i = 0; i < 8; i++) raw |= (uint64_t)r[4 + i] << (8 * i);
    double lo = 0, hi = 1, def = 0, rawd;
    memcpy(&rawd, &raw, 8);
    sslk_setting_info(key, NULL, NULL, NULL, &lo, &hi, &def);
    double dv[8] = {rawd, lo, hi, nextafter(lo, -INFINITY), nextafter(hi, INFINITY), def, floor(rawd) + 0.5,
                    (double)(int64_t)raw};
    int64_t iv[8] = {(int64_t)raw, to_i64(lo), to_i64(hi), to_i64(lo) - 1, to_i64(hi) < INT64_MAX ? to_i64(hi) + 1 : 0,
                     to_i64(def), ((int64_t)1 << 53) + 1, raw >> 63 ? INT64_MIN : INT64_MAX};
    double before = NAN;
    int check_view = view < 0 ? 0 : view;
    sslk_status had = get(o, key, check_view, &before);
    double v = dv[mode];
    if (o == O_CTX && !as_int) { /* the context has no _f64 setter: keep the conversion defined */
        v = (double)to_i64(v);
        if (fabs(v) >= 9.2e18) v = 0;
    }
    sslk_status st = as_int ? set_i(o, key, iv[mode]) : set_f(o, key, v);
    double after = NAN;
    sslk_status now = get(o, key, check_view, &after);
    if (st == SSLK_OK) {
        /* the setting holds exactly what was passed */
        if (now != SSLK_OK) fail("set but not readable", o, key, as_int, v, iv[mode], after);
        if (as_int) {
            int64_t back = 0;
            if (get_i(o, key, &back) == SSLK_OK && back != iv[mode])
                fail("i64 read back differs", o, key, as_int, v, iv[mode], (double)back);
            if (to_i64(after) != iv[mode] || after != (double)iv[mode])
                fail("stored value differs", o, key, as_int, v, iv[mode], after);
        } else if (after != v) {
            fail("stored value differs", o, key, as_int, v, iv[mode], after);
        } else {
            int64_t back = 0; /* any double it holds must read back as an integer without UB */
            if (get_i(o, key, &back) == SSLK_OK && after == floor(after) && fabs(after) < 9e15 &&
                back != (int64_t)after)
                fail("i64 read back of an f64 differs", o, key, as_int, v, iv[mode], (double)back);
        }
    } else {
        const char *msg = sslk_last_error();
        if (!msg || !*msg) fail("refused without a message", o, key, as_int, v, iv[mode], after);
        /* and leaves the setting as it was (NaN compares unequal: compare bits) */
        if (had == SSLK_OK && (now != SSLK_OK || memcmp(&before, &after, sizeof before) != 0))
            fail("refused but changed", o, key, as_int, v, iv[mode], after);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!setup()) return 0; /* at most 16 calls an input: longer ones add little but time */
    for (size_t at = 0; at + 12 <= size && at < 12 * 16; at += 12) one(data + at);
    return 0;
}
