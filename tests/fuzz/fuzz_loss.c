/* libFuzzer target: every loss kind on hostile inputs.  The bytes choose the
 * kind, n and d (small, with the edge values 0 and 1), the number of views,
 * precision, every setting of the kind within its bounds, indices, a user
 * prior, the owned parameter's values, and the float inputs (NaN, +-Inf,
 * +-3e38, 1e20, denormals, zeros or raw bits among ordinary values).  Each
 * input is computed with and without gradients; the result must be an error
 * with a message, or a finite value with finite terms and gradients.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sslkit/sslkit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    const uint8_t *p;
    size_t n;
} rd;

static uint8_t byte(rd *r) {
    if (!r->n) return 0;
    r->n--;
    return *r->p++;
}

static float fval(rd *r) {
    static const float special[] = {NAN, INFINITY, -INFINITY, 3e38f, -3e38f, 1e-40f, 0.0f, -0.0f, 1e20f, -1e20f,
                                    1e-30f, 65504.0f};
    uint8_t b = byte(r);
    if (b < sizeof special / sizeof special[0]) return special[b];
    if (b == 255) { /* raw bits */
        uint32_t u = (uint32_t)byte(r) | (uint32_t)byte(r) << 8 | (uint32_t)byte(r) << 16 | (uint32_t)byte(r) << 24;
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
    }
    return ((float)b - 133.0f) / 16.0f; /* about [-7.6, 7.6] in steps of 1/16 */
}

static void fail(const char *what, int kind, size_t n, size_t d, double v) {
    fprintf(stderr, "fuzz_loss: %s (kind %d, n %zu, d %zu, value %g, last error '%s')\n", what, kind, n, d, v,
            sslk_last_error());
    abort();
}

/* Setting value from one byte (and maybe two more): bounds, default, or inside. */
static double pick(rd *r, double lo, double hi, double def, bool integer) {
    uint8_t b = byte(r);
    double v;
    switch (b % 5) {
    case 0: v = lo; break;
    case 1: v = hi; break;
    case 2: v = def; break;
    case 3: v = lo + (hi - lo) * (double)byte(r) / 255.0; break;
    default: /* log-uniform near the low end: where the interesting small values are */
        v = lo > 0 ? lo * pow(hi / lo, (double)byte(r) / 255.0 * 0.5) : (double)byte(r) / 16.0;
        v = v > hi ? hi : v;
    }
    return integer ? floor(v) : v;
}

static sslk_ctx *ctx_once(void) {
    static sslk_ctx *c;
    if (!c) {
        if (sslk_ctx_create(&c) != SSLK_OK) abort();
        sslk_ctx_set_threads(c, 1);
        /* hostile sizes must be refused, not allocated */
        sslk_ctx_set_i64(c, SSLK_CTX_MAX_ALLOC_BYTES, (int64_t)64 << 20);
    }
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const sslk_loss_kind kinds[] = {SSLK_LOSS_VICREG, SSLK_LOSS_VICREG_LOGDET, SSLK_LOSS_VICREG_PAIRDIST,
                                           SSLK_LOSS_INFONCE, SSLK_LOSS_INFONCE_SYMMETRIC, SSLK_LOSS_DIET,
                                           SSLK_LOSS_MSN, SSLK_LOSS_BARLOW_TWINS, SSLK_LOSS_NEGCOS,
                                           SSLK_LOSS_DINO,
                                           SSLK_LOSS_SWAV /* issue 21b */, SSLK_LOSS_MOCO};
    static const size_t sizes[] = {0, 1, 2, 3, 4, 5, 7, 12};
    rd r = {data, size};
    sslk_ctx *c = ctx_once();
    const sslk_loss_kind kind = kinds[byte(&r) % (sizeof kinds / sizeof kinds[0])];
    const size_t n = sizes[byte(&r) % 8], d = sizes[byte(&r) % 8];
    const uint8_t flags = byte(&r);
    const size_t V = 1 + flags % 3;
    sslk_loss *L = NULL;
    if (sslk_loss_create(c, kind, &L) != SSLK_OK) abort();
    sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, (flags >> 2) & 1);

    /* every setting of the kind's domain, keys base .. base + 15 */
    const char *dom;
    sslk_loss_kind_domain(kind, &dom);
    int base = 0;
    const char *first[] = {"sim_coeff", "temperature", "num_samples", "num_prototypes", "student_temp"};
    for (size_t i = 0; i < 5 && !base; i++)
        if (sslk_setting_find(dom, first[i], &base) != SSLK_OK) base = 0;
    size_t K = 0; /* DIET classes / MSN prototypes */
    for (int key = base; base && key < base + 16; key++) {
        const char *name, *kd;
        sslk_setting_type t;
        double lo, hi, def;
        if (sslk_setting_info(key, &name, &kd, &t, &lo, &hi, &def) != SSLK_OK || strcmp(kd, dom) != 0) continue;
        double v;
        if (strcmp(name, "num_samples") == 0 || strcmp(name, "num_prototypes") == 0)
            v = (double)(K = (size_t)(byte(&r) % 24)); /* 0 and 1 are edge cases (DIET needs >= 2) */
        else if (strcmp(name, "dim") == 0)
            v = (double)(byte(&r) < 240 ? d : d + 1); /* rarely a mismatch */
        else if (strcmp(name, "chunk") == 0)
            v = (double)(byte(&r) % 8);
        else
            v = pick(&r, lo, hi, def, t == SSLK_SETTING_I64);
        if (t == SSLK_SETTING_I64)
            sslk_loss_set_i64(L, key, (int64_t)v);
        else
            sslk_loss_set_f64(L, key, v);
    }
    /* MSN: maybe a user prior (validated: may be refused) */
    if (kind == SSLK_LOSS_MSN && K > 0 && K <= 64 && (flags & 8)) {
        float pr[64];
        for (size_t k = 0; k < K; k++) pr[k] = fval(&r);
        sslk_loss_set_prior(L, pr, K);
    }
    /* the owned parameter: overwrite some entries with fuzz values */
    size_t np = 0;
    sslk_loss_param_count(L, &np);
    if (np && (flags & 16)) {
        sslk_param_view pv = {.struct_size = sizeof pv};
        if (sslk_loss_param(L, 0, &pv) == SSLK_OK) {
            size_t m = byte(&r);
            for (size_t i = 0; i < m && pv.count; i++) pv.data[(size_t)byte(&r) % pv.count] = fval(&r);
        }
    }

    const size_t nd = n * d;
    float *buf = malloc((2 * V + 1) * (nd ? nd : 1) * sizeof(float));
    int64_t *idx = malloc((n ? n : 1) * sizeof(int64_t));
    if (!buf || !idx) abort();
    const float *views[3];
    float *grads[3];
    for (size_t v = 0; v < V; v++) {
        views[v] = buf + v * nd;
        grads[v] = (flags & 32) && v == 1 ? NULL : buf + (V + v) * nd; /* sometimes one gradient skipped */
    }
    float *targets = buf + 2 * V * nd;
    for (size_t e = 0; e < V * nd; e++) buf[e] = fval(&r);
    for (size_t e = 0; e < nd; e++) targets[e] = fval(&r);
    const bool use_idx = kind == SSLK_LOSS_DIET || (kind == SSLK_LOSS_INFONCE && (flags & 64));
    for (size_t i = 0; i < n; i++) {
        uint8_t b = byte(&r);
        idx[i] = kind == SSLK_LOSS_DIET ? (int64_t)(b % (K + 2)) - 1 : (int64_t)(b % (n + 1));
    }
    sslk_loss_batch b = {sizeof b, views, V, n, d, use_idx ? idx : NULL, kind == SSLK_LOSS_MSN ? targets : NULL};

    for (int with_grads = 0; with_grads < 2; with_grads++) {
        double v = NAN;
        sslk_loss_zero_grad(L);
        /* SwAV: sometimes a queue of n rows per assigned crop (the fuzz targets) */
        const float *queues[3] = {targets, targets, targets};
        sslk_status st = kind == SSLK_LOSS_SWAV && (flags & 64)
                             ? sslk_loss_compute_swav_queue(L, &b, queues, n, &v, with_grads ? grads : NULL)
                             : sslk_loss_compute(L, &b, &v, with_grads ? grads : NULL);
        if (st != SSLK_OK) {
            if (sslk_last_error()[0] == '\0') fail("error without a message", (int)kind, n, d, v);
            continue;
        }
        if (!isfinite(v)) fail("non-finite value with SSLK_OK", (int)kind, n, d, v);
        size_t nt = 0;
        sslk_loss_num_terms(L, &nt);
        for (size_t i = 0; i < nt; i++) {
            double tv;
            if (sslk_loss_term_value(L, i, &tv) != SSLK_OK || !isfinite(tv))
                fail("non-finite term with SSLK_OK", (int)kind, n, d, tv);
        }
        if (!with_grads) continue;
        for (size_t w = 0; w < V; w++)
            for (size_t e = 0; grads[w] && e < nd; e++)
                if (!isfinite(grads[w][e])) fail("non-finite input gradient with SSLK_OK", (int)kind, n, d, v);
        if (np) {
            sslk_param_view pv = {.struct_size = sizeof pv};
            if (sslk_loss_param(L, 0, &pv) == SSLK_OK)
                for (size_t e = 0; e < pv.count; e++)
                    if (!isfinite(pv.grad[e])) fail("non-finite parameter gradient with SSLK_OK", (int)kind, n, d, v);
        }
    }
    /* MoCo v2: the queue path (sslk_loss_compute_negatives), the targets as n queued keys */
    if (kind == SSLK_LOSS_MOCO && V >= 2 && (flags & 64)) {
        double v = NAN;
        if (sslk_loss_compute_negatives(L, views[0], views[1], n, d, targets, n, &v, grads[0], grads[1]) == SSLK_OK) {
            if (!isfinite(v)) fail("non-finite moco v2 value with SSLK_OK", (int)kind, n, d, v);
            for (size_t e = 0; grads[0] && e < nd; e++)
                if (!isfinite(grads[0][e])) fail("non-finite moco v2 gradient with SSLK_OK", (int)kind, n, d, v);
        } else if (sslk_last_error()[0] == '\0') {
            fail("error without a message", (int)kind, n, d, v);
        }
    }
    free(buf);
    free(idx);
    sslk_loss_destroy(L);
    return 0;
}
