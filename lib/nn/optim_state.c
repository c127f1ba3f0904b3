/* Optimizer state blob for checkpoints: little-endian header, per-tensor
 * records, then the state arrays.  Restored only onto an optimizer of the
 * same kind over tensors of the same sizes, every size checked.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <string.h>

#include "nn/optim_internal.h"

static const char MAGIC[8] = {'S', 'S', 'L', 'K', 'O', 'P', 'T', '1'};

/* header: magic[8], u64 kind, u64 ntensors, u64 steps;
 * per tensor: u64 count, u64 t, u64 has_buf; then per tensor its arrays. */
static size_t arrays_of(const sslk_optim *o) { return o->kind == SSLK_OPTIM_ADAMW ? 2 : 1; }

sslk_status sslk_optim_state_size(const sslk_optim *opt, size_t *nbytes) {
    SSLI_CHECK_PTR(opt, "sslk_optim_state_size");
    SSLI_CHECK_PTR(nbytes, "sslk_optim_state_size");
    size_t n = 32 + 24 * opt->np;
    for (size_t i = 0; i < opt->np; i++) n += arrays_of(opt) * opt->p[i].v.count * sizeof(float);
    *nbytes = n;
    return SSLK_OK;
}

static void put64(unsigned char **w, uint64_t v) {
    for (int i = 0; i < 8; i++) (*w)[i] = (unsigned char)(v >> (8 * i));
    *w += 8;
}

static uint64_t get64(const unsigned char **r) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)(*r)[i] << (8 * i);
    *r += 8;
    return v;
}

sslk_status sslk_optim_state_get(const sslk_optim *opt, void *buf, size_t cap) {
    static const char fn[] = "sslk_optim_state_get";
    SSLI_CHECK_PTR(opt, fn);
    SSLI_CHECK_PTR(buf, fn);
    size_t need;
    SSLI_TRY(sslk_optim_state_size(opt, &need));
    if (cap < need) return ssli_err(SSLK_E_SHAPE, "%s: 'cap' = %zu, the state needs %zu bytes", fn, cap, need);
    unsigned char *w = buf;
    memcpy(w, MAGIC, 8);
    w += 8;
    put64(&w, (uint64_t)opt->kind);
    put64(&w, opt->np);
    put64(&w, opt->steps);
    for (size_t i = 0; i < opt->np; i++) {
        put64(&w, opt->p[i].v.count);
        put64(&w, opt->p[i].t);
        put64(&w, (uint64_t)opt->p[i].has_buf);
    }
    for (size_t i = 0; i < opt->np; i++) {
        size_t b = opt->p[i].v.count * sizeof(float);
        memcpy(w, opt->p[i].s1, b);
        w += b;
        if (opt->p[i].s2) {
            memcpy(w, opt->p[i].s2, b);
            w += b;
        }
    }
    return SSLK_OK;
}

sslk_status sslk_optim_state_set(sslk_optim *opt, const void *buf, size_t n) {
    static const char fn[] = "sslk_optim_state_set";
    SSLI_CHECK_PTR(opt, fn);
    SSLI_CHECK_PTR(buf, fn);
    size_t need;
    SSLI_TRY(sslk_optim_state_size(opt, &need));
    const unsigned char *r = buf;
    if (n < 32 || memcmp(r, MAGIC, 8) != 0)
        return ssli_err(SSLK_E_FORMAT, "%s: not an optimizer state blob (%zu bytes)", fn, n);
    r += 8;
    uint64_t kind = get64(&r), np = get64(&r), steps = get64(&r);
    if (kind != (uint64_t)opt->kind)
        return ssli_err(SSLK_E_FORMAT, "%s: state of optimizer kind %llu, this one is %d", fn,
                        (unsigned long long)kind, (int)opt->kind);
    if (np != opt->np)
        return ssli_err(SSLK_E_FORMAT, "%s: state for %llu tensors, the optimizer has %zu", fn,
                        (unsigned long long)np, opt->np);
    if (n != need)
        return ssli_err(SSLK_E_FORMAT, "%s: blob has %zu bytes, expected %zu", fn, n, need);
    for (size_t i = 0; i < opt->np; i++) {
        uint64_t c = get64(&r), t = get64(&r), hb = get64(&r);
        (void)t;
        if (c != opt->p[i].v.count || hb > 1)
            return ssli_err(SSLK_E_FORMAT, "%s: tensor %zu ('%s') has %zu values, the state %llu", fn,
                            i, opt->p[i].v.name ? opt->p[i].v.name : "?", opt->p[i].v.count,
                            (unsigned long long)c);
    }
    const unsigned char *arr = r;
    for (size_t i = 0; i < opt->np; i++) {
        size_t cnt = opt->p[i].v.count * arrays_of(opt);
        for (size_t k = 0; k < cnt; k++) {
            float f;
            memcpy(&f, r + 4 * k, 4);
            if (!isfinite(f))
                return ssli_err(SSLK_E_FORMAT, "%s: non-finite state value for tensor %zu", fn, i);
        }
        r += cnt * 4;
    }
    /* all checked: commit */
    r = (const unsigned char *)buf + 32;
    for (size_t i = 0; i < opt->np; i++) {
        get64(&r);
        opt->p[i].t = get64(&r);
        opt->p[i].has_buf = (int)get64(&r);
    }
    for (size_t i = 0; i < opt->np; i++) {
        size_t b = opt->p[i].v.count * sizeof(float);
        memcpy(opt->p[i].s1, arr, b);
        arr += b;
        if (opt->p[i].s2) {
            memcpy(opt->p[i].s2, arr, b);
            arr += b;
        }
    }
    opt->steps = steps;
    return SSLK_OK;
}
