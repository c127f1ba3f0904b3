/* Native model file, little-endian:
 *   "SSLKMODL" | u32 version (1) | u32 ndim | u64 shape[3] | f64 bn_momentum
 *   | f64 bn_eps | u64 seed | u32 spec_len | spec | u32 ntensors
 *   | ntensors x (u16 name_len | name | u8 ndim | u64 shape[ndim] | f32 data[prod])
 *   | u32 nbn | nbn x i64 num_batches_tracked (batch-norm layers in build order)
 *   | u32 crc32 (zlib) of every preceding byte.
 * Written atomically; read whole, checksum first, then parsed with every size
 * checked against the bytes left before anything is allocated from it.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include "nn/layers.h"

static const char MAGIC[8] = {'S', 'S', 'L', 'K', 'M', 'O', 'D', 'L'};
#define FORMAT_VERSION 1u
#define MAX_SPEC (1u << 20)
#define MAX_TENSORS (1u << 20)

typedef struct writer {
    ssli_atomic_file f;
    uLong crc;
    sslk_status st;
} writer;

static void wr(writer *w, const void *p, size_t n) {
    if (w->st) return;
    w->st = ssli_atomic_write(&w->f, p, n, "sslk_model_save");
    /* zlib's crc32 takes uInt lengths: feed large buffers in pieces */
    const unsigned char *b = p;
    while (n) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        w->crc = crc32(w->crc, b, k);
        b += k, n -= k;
    }
}
static void wr_u8(writer *w, uint8_t v) { wr(w, &v, 1); }
static void wr_u16(writer *w, uint16_t v) {
    unsigned char b[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    wr(w, b, 2);
}
static void wr_u32(writer *w, uint32_t v) {
    unsigned char b[4];
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
    wr(w, b, 4);
}
static void wr_u64(writer *w, uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    wr(w, b, 8);
}
static void wr_f64(writer *w, double d) {
    uint64_t v;
    memcpy(&v, &d, 8);
    wr_u64(w, v);
}

sslk_status sslk_model_save(const sslk_model *mc, const char *path) {
    static const char fn[] = "sslk_model_save";
    SSLI_CHECK_PTR(mc, fn);
    SSLI_CHECK_PTR(path, fn);
    sslk_model *m = (sslk_model *)mc;
    if (m->nopen) return ssli_err(SSLK_E_STATE, "%s: residual block still open", fn);
    char *spec;
    SSLI_TRY(ssli_model_spec_alloc(m, &spec));
    const sslk_param_view *v;
    size_t nv;
    sslk_status st = ssli_model_views(m, &v, &nv);
    size_t nl = ssli_model_collect_layers(m, NULL, 0);
    ssli_layer **layers = st ? NULL : ssli_malloc(m->ctx, nl ? nl : 1, sizeof *layers);
    if (!st && !layers) st = ssli_alloc_status();
    writer w = {.crc = crc32(0L, Z_NULL, 0)};
    if (!st) st = ssli_atomic_open(&w.f, path, fn);
    if (st) {
        ssli_free(m->ctx, spec);
        ssli_free(m->ctx, layers);
        return st;
    }
    ssli_model_collect_layers(m, layers, nl);
    wr(&w, MAGIC, 8);
    wr_u32(&w, FORMAT_VERSION);
    wr_u32(&w, (uint32_t)m->top.in.ndim);
    wr_u64(&w, m->top.in.c);
    wr_u64(&w, m->top.in.h);
    wr_u64(&w, m->top.in.w);
    wr_f64(&w, m->settings[SSLI_MODEL_S_BN_MOMENTUM]);
    wr_f64(&w, m->settings[SSLI_MODEL_S_BN_EPS]);
    wr_u64(&w, m->seed);
    size_t sl = strlen(spec);
    wr_u32(&w, (uint32_t)sl);
    wr(&w, spec, sl);
    wr_u32(&w, (uint32_t)nv);
    for (size_t i = 0; i < nv; i++) {
        size_t len = strlen(v[i].name);
        wr_u16(&w, (uint16_t)len);
        wr(&w, v[i].name, len);
        wr_u8(&w, (uint8_t)v[i].ndim);
        for (int d = 0; d < v[i].ndim; d++) wr_u64(&w, v[i].shape[d]);
        /* floats are stored little-endian: this library targets LE hosts */
        wr(&w, v[i].data, v[i].count * sizeof(float));
    }
    uint32_t nbn = 0;
    for (size_t i = 0; i < nl; i++) nbn += layers[i]->kind == SSLI_LAYER_BATCHNORM;
    wr_u32(&w, nbn);
    for (size_t i = 0; i < nl; i++)
        if (layers[i]->kind == SSLI_LAYER_BATCHNORM) wr_u64(&w, (uint64_t)layers[i]->num_batches_tracked);
    uint32_t crc = (uint32_t)w.crc;
    wr_u32(&w, crc);
    ssli_free(m->ctx, spec);
    ssli_free(m->ctx, layers);
    if (w.st) {
        ssli_atomic_abort(&w.f);
        return w.st;
    }
    return ssli_atomic_commit(&w.f, fn);
}

/* ---- reading ------------------------------------------------------------- */

typedef struct reader {
    const unsigned char *p;
    size_t left;
    bool bad;
} reader;

static const unsigned char *take(reader *r, size_t n) {
    if (r->bad || n > r->left) {
        r->bad = true;
        return NULL;
    }
    const unsigned char *q = r->p;
    r->p += n, r->left -= n;
    return q;
}
static uint64_t rd_le(reader *r, int bytes) {
    const unsigned char *q = take(r, (size_t)bytes);
    uint64_t v = 0;
    if (q)
        for (int i = 0; i < bytes; i++) v |= (uint64_t)q[i] << (8 * i);
    return v;
}
static double rd_f64(reader *r) {
    uint64_t v = rd_le(r, 8);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

/* Read a whole file into memory (size checked first). */
sslk_status ssli_nn_read_file(const sslk_ctx *ctx, const char *path, const char *fn, unsigned char **out,
                           size_t *n);
sslk_status ssli_nn_read_file(const sslk_ctx *ctx, const char *path, const char *fn, unsigned char **out,
                           size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return ssli_err(SSLK_E_IO, "%s: cannot open '%s'", fn, path);
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return ssli_err(SSLK_E_IO, "%s: '%s' is not a regular file", fn, path);
    }
    size_t sz = (size_t)sb.st_size;
    unsigned char *buf = ssli_malloc(ctx, sz ? sz : 1, 1);
    if (!buf) {
        fclose(f);
        return ssli_alloc_status();
    }
    size_t got = sz ? fread(buf, 1, sz, f) : 0;
    fclose(f);
    if (got != sz) {
        ssli_free(ctx, buf);
        return ssli_err(SSLK_E_IO, "%s: short read on '%s' (%zu of %zu bytes)", fn, path, got, sz);
    }
    *out = buf;
    *n = sz;
    return SSLK_OK;
}

#define BAD(...) (st = ssli_err(SSLK_E_FORMAT, __VA_ARGS__), (void)0)

sslk_status sslk_model_load(sslk_ctx *ctx, const char *path, sslk_model **out) {
    static const char fn[] = "sslk_model_load";
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(path, fn);
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    unsigned char *buf;
    size_t sz;
    SSLI_TRY(ssli_nn_read_file(ctx, path, fn, &buf, &sz));
    sslk_status st = ssli_model_load_buffer(ctx, buf, sz, path, fn, out);
    ssli_free(ctx, buf);
    return st;
}

sslk_status ssli_model_load_buffer(sslk_ctx *ctx, const unsigned char *buf, size_t sz, const char *path,
                                   const char *fn, sslk_model **out) {
    *out = NULL;
    sslk_status st = SSLK_OK;
    sslk_model *m = NULL;
    char *spec = NULL;
    ssli_layer **layers = NULL;
    if (sz < 8 + 4 + 4 || memcmp(buf, MAGIC, 8) != 0) {
        BAD("%s: '%s' is not a libsslkit model file (bad magic or %zu bytes)", fn, path, sz);
        goto done;
    }
    {
        reader tr = {buf + sz - 4, 4, false};
        uint32_t want = (uint32_t)rd_le(&tr, 4);
        uLong crc = crc32(0L, Z_NULL, 0);
        for (size_t off = 0; off < sz - 4;) {
            uInt k = sz - 4 - off > (1u << 30) ? (1u << 30) : (uInt)(sz - 4 - off);
            crc = crc32(crc, buf + off, k);
            off += k;
        }
        if ((uint32_t)crc != want) {
            BAD("%s: '%s' is corrupt (checksum %08x, stored %08x)", fn, path, (unsigned)crc, want);
            goto done;
        }
    }
    reader r = {buf + 8, sz - 12, false};
    uint32_t ver = (uint32_t)rd_le(&r, 4);
    if (ver != FORMAT_VERSION) {
        BAD("%s: '%s' has format version %u, this library reads %u", fn, path, ver, FORMAT_VERSION);
        goto done;
    }
    uint32_t ndim = (uint32_t)rd_le(&r, 4);
    size_t shape[3] = {(size_t)rd_le(&r, 8), (size_t)rd_le(&r, 8), (size_t)rd_le(&r, 8)};
    double mom = rd_f64(&r), eps = rd_f64(&r);
    uint64_t seed = rd_le(&r, 8);
    uint32_t sl = (uint32_t)rd_le(&r, 4);
    if (r.bad || sl > MAX_SPEC || sl > r.left) {
        BAD("%s: '%s' is truncated or its spec length %u is invalid", fn, path, sl);
        goto done;
    }
    spec = ssli_malloc(ctx, (size_t)sl + 1, 1);
    if (!spec) {
        st = ssli_alloc_status();
        goto done;
    }
    memcpy(spec, take(&r, sl), sl);
    spec[sl] = '\0';
    if (strlen(spec) != sl) {
        BAD("%s: '%s' has a NUL byte inside its spec", fn, path);
        goto done;
    }
    /* the spec's tensors must fit in the bytes left before anything is allocated for them */
    size_t scalars = 0;
    st = ssli_spec_scalars(ctx, spec, ndim, shape, &scalars);
    if (st == SSLK_OK && (scalars > r.left / sizeof(float))) {
        BAD("%s: '%s': its spec needs %zu values, the file holds at most %zu", fn, path, scalars,
            r.left / sizeof(float));
        goto done;
    }
    if (st == SSLK_OK) st = sslk_model_from_spec(ctx, spec, ndim, shape, seed, &m);
    if (st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", sslk_last_error());
        if (st == SSLK_E_LIMIT || st == SSLK_E_NOMEM) /* a model above the budget is not malformed */
            st = ssli_err(st, "%s: '%s': %s", fn, path, msg);
        else
            BAD("%s: '%s' holds an invalid model: %s", fn, path, msg);
        goto done;
    }
    if ((st = sslk_model_set_f64(m, SSLK_MODEL_BN_MOMENTUM, mom)) ||
        (st = sslk_model_set_f64(m, SSLK_MODEL_BN_EPS, eps))) {
        BAD("%s: '%s' holds out-of-range batch-norm settings (%g, %g)", fn, path, mom, eps);
        goto done;
    }
    const sslk_param_view *v;
    size_t nv;
    if ((st = ssli_model_views(m, &v, &nv))) goto done;
    uint32_t nt = (uint32_t)rd_le(&r, 4);
    if (r.bad || nt != nv) {
        BAD("%s: '%s' lists %u tensors, its spec has %zu", fn, path, nt, nv);
        goto done;
    }
    for (size_t i = 0; i < nv; i++) {
        size_t len = (size_t)rd_le(&r, 2);
        const unsigned char *name = take(&r, len);
        if (!name || len != strlen(v[i].name) || memcmp(name, v[i].name, len) != 0) {
            BAD("%s: '%s': tensor %zu is not '%s' (truncated or mismatched)", fn, path, i, v[i].name);
            goto done;
        }
        int nd = (int)rd_le(&r, 1);
        if (nd != v[i].ndim) {
            BAD("%s: '%s': tensor '%s' has %d dims, expected %d", fn, path, v[i].name, nd, v[i].ndim);
            goto done;
        }
        for (int d = 0; d < nd; d++)
            if (rd_le(&r, 8) != v[i].shape[d]) {
                BAD("%s: '%s': tensor '%s' dim %d differs from the spec", fn, path, v[i].name, d);
                goto done;
            }
        const unsigned char *data = take(&r, v[i].count * sizeof(float));
        if (!data) {
            BAD("%s: '%s' is truncated inside tensor '%s'", fn, path, v[i].name);
            goto done;
        }
        memcpy(v[i].data, data, v[i].count * sizeof(float));
        size_t badi = ssli_first_nonfinite_f32(v[i].data, v[i].count);
        if (badi != SIZE_MAX) {
            BAD("%s: '%s': tensor '%s' holds a non-finite value at %zu", fn, path, v[i].name, badi);
            goto done;
        }
        badi = ssli_param_negative_var(&v[i]);
        if (badi != SIZE_MAX) {
            BAD("%s: '%s': tensor '%s' holds a negative variance %g at %zu", fn, path, v[i].name,
                (double)v[i].data[badi], badi);
            goto done;
        }
    }
    size_t nl = ssli_model_collect_layers(m, NULL, 0), nbn = 0;
    layers = ssli_malloc(ctx, nl ? nl : 1, sizeof *layers);
    if (!layers) {
        st = ssli_alloc_status();
        goto done;
    }
    ssli_model_collect_layers(m, layers, nl);
    for (size_t i = 0; i < nl; i++) nbn += layers[i]->kind == SSLI_LAYER_BATCHNORM;
    if (rd_le(&r, 4) != nbn || r.bad) {
        BAD("%s: '%s': batch-norm counter section does not match %zu layers", fn, path, nbn);
        goto done;
    }
    for (size_t i = 0; i < nl; i++)
        if (layers[i]->kind == SSLI_LAYER_BATCHNORM) layers[i]->num_batches_tracked = (int64_t)rd_le(&r, 8);
    if (r.bad || r.left != 0) {
        BAD("%s: '%s' has %zu unexpected trailing bytes or is truncated", fn, path, r.left);
        goto done;
    }
done:
    ssli_free(ctx, spec);
    ssli_free(ctx, layers);
    if (st) {
        sslk_model_destroy(m);
        return st;
    }
    *out = m;
    return SSLK_OK;
}
