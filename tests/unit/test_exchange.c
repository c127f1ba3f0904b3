/* PyTorch exchange: safetensors loading by name with a prefix, strict and
 * non-strict, F16 / BF16 / F64 conversion, export with a prefix, and the
 * layer table.  Files are written here byte by byte, values hand-derived.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/model_internal.h"
#include "nn/layers.h"
#include "testutil.h"

static char dir[256];
static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/sslk_exchange_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}
static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) { /* best effort */
    }
}
static const char *path_of(const char *name) {
    static char p[320];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

/* A safetensors file being built: tensors appended one by one. */
typedef struct stw {
    char hdr[65536];
    unsigned char data[65536];
    size_t hl, dl;
} stw;

static void stw_init(stw *w) {
    w->hl = (size_t)snprintf(w->hdr, sizeof w->hdr, "{\"__metadata__\":{\"format\":\"pt\"}");
    w->dl = 0;
}
static void stw_add(stw *w, const char *name, const char *dtype, const size_t *shape, int nd, const void *bytes,
                    size_t nb) {
    w->hl += (size_t)snprintf(w->hdr + w->hl, sizeof w->hdr - w->hl, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", name,
                              dtype);
    for (int d = 0; d < nd; d++) w->hl += (size_t)snprintf(w->hdr + w->hl, sizeof w->hdr - w->hl, "%s%zu", d ? "," : "", shape[d]);
    w->hl += (size_t)snprintf(w->hdr + w->hl, sizeof w->hdr - w->hl, "],\"data_offsets\":[%zu,%zu]}", w->dl, w->dl + nb);
    ck_assert_uint_lt(w->dl + nb, sizeof w->data);
    memcpy(w->data + w->dl, bytes, nb);
    w->dl += nb;
}
/* Every tensor of m as F32 under prefix, except `skip`; num_batches_tracked too. */
static void stw_model(stw *w, sslk_model *m, const char *prefix, const char *skip) {
    size_t np;
    ck_ok(sslk_model_param_count(m, &np));
    char name[256];
    for (size_t i = 0; i < np; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        ck_ok(sslk_model_param(m, i, &v));
        if (skip && !strcmp(v.name, skip)) continue;
        snprintf(name, sizeof name, "%s%s", prefix, v.name);
        stw_add(w, name, "F32", v.shape, v.ndim, v.data, 4 * v.count);
    }
}
static void stw_write(stw *w, const char *path) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    w->hdr[w->hl++] = '}';
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)w->hl >> (8 * i));
    ck_assert_uint_eq(fwrite(len, 1, 8, f), 8);
    ck_assert_uint_eq(fwrite(w->hdr, 1, w->hl, f), w->hl);
    ck_assert_uint_eq(fwrite(w->data, 1, w->dl, f), w->dl);
    fclose(f);
}

static const char *SPEC = "conv:2:3:1:1,bn,relu,gap,linear:3";

static sslk_model *make(sslk_ctx *c, uint64_t seed) {
    sslk_model *m;
    ck_ok(sslk_model_from_spec(c, SPEC, 3, (size_t[]){1, 4, 4}, seed, &m));
    return m;
}

/* Sum of every value (parameters and buffers): detects any change. */
static double checksum(sslk_model *m) {
    size_t np;
    double s = 0;
    ck_ok(sslk_model_param_count(m, &np));
    for (size_t i = 0; i < np; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        ck_ok(sslk_model_param(m, i, &v));
        for (size_t k = 0; k < v.count; k++) s += (double)v.data[k] * (double)(k + 1 + 7 * i);
    }
    return s;
}

static size_t count(sslk_load_report *r, int list) {
    size_t n;
    ck_ok(sslk_load_report_count(r, list, &n));
    return n;
}
static const char *name(sslk_load_report *r, int list, size_t i) {
    const char *s;
    ck_ok(sslk_load_report_name(r, list, i, &s));
    return s;
}

static int64_t nbt(sslk_model *m) {
    ssli_layer *L[16];
    size_t n = ssli_model_collect_layers(m, L, 16);
    for (size_t i = 0; i < n; i++)
        if (L[i]->kind == SSLI_LAYER_BATCHNORM) return L[i]->num_batches_tracked;
    return -1;
}

START_TEST(prefix_round_trip) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    sslk_model *a = make(c, 1), *b = make(c, 2);
    float x[2 * 16], y[6];
    tu_fill_uniform(x, 32, 3, -1, 1);
    ck_ok(sslk_model_forward(a, x, 2, y, SSLK_MODE_TRAIN)); /* running stats and a counter of 1 */
    sslk_safetensors_options o;
    ck_ok(sslk_safetensors_options_init(&o));
    o.prefix = "module.";
    ck_ok(sslk_model_save_safetensors_ex(a, path_of("p.safetensors"), &o));
    sslk_load_report *r;
    ck_ok(sslk_load_report_create(c, &r));
    /* without the prefix: nothing matches, every name is listed */
    double before = checksum(b);
    ck_status(sslk_model_load_safetensors_ex(b, path_of("p.safetensors"), NULL, r), SSLK_E_NOT_FOUND);
    const char *msg = sslk_last_error();
    ck_assert_msg(strstr(msg, "8 missing: '0.weight', '0.bias', '1.weight'") && strstr(msg, "'4.bias'") &&
                      strstr(msg, "9 unexpected: ") && strstr(msg, "'module.1.num_batches_tracked'"),
                  "%s", msg);
    ck_assert_uint_eq(count(r, SSLK_LOAD_MISSING), 8);
    ck_assert_uint_eq(count(r, SSLK_LOAD_UNEXPECTED), 9);
    ck_assert_uint_eq(count(r, SSLK_LOAD_LOADED), 0);
    ck_assert_str_eq(name(r, SSLK_LOAD_UNEXPECTED, 0), "module.0.weight");
    ck_assert(checksum(b) == before);
    /* with it: everything, the counter included */
    ck_assert_int_eq(nbt(b), 0);
    ck_ok(sslk_model_load_safetensors_ex(b, path_of("p.safetensors"), &o, r));
    ck_assert(checksum(b) == checksum(a));
    ck_assert_int_eq(nbt(b), 1);
    ck_assert_uint_eq(count(r, SSLK_LOAD_LOADED), 8);
    ck_assert_uint_eq(count(r, SSLK_LOAD_MISSING) + count(r, SSLK_LOAD_UNEXPECTED) + count(r, SSLK_LOAD_MISMATCHED), 0);
    ck_assert_str_eq(name(r, SSLK_LOAD_LOADED, 5), "1.running_var");
    const char *s = (const char *)1;
    ck_status(sslk_load_report_name(r, SSLK_LOAD_LOADED, 8, &s), SSLK_E_RANGE);
    ck_assert_ptr_null(s);
    ck_status(sslk_load_report_count(r, 4, &(size_t){0}), SSLK_E_INVALID_ARG);
    /* the 1.x function knows no prefix */
    ck_status(sslk_model_load_safetensors(b, path_of("p.safetensors")), SSLK_E_NOT_FOUND);
    sslk_load_report_destroy(r);
    sslk_model_destroy(a);
    sslk_model_destroy(b);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(extra_missing_misshaped) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    sslk_model *a = make(c, 1), *b = make(c, 2);
    sslk_load_report *r;
    ck_ok(sslk_load_report_create(c, &r));
    sslk_safetensors_options ns;
    ck_ok(sslk_safetensors_options_init(&ns));
    ns.flags = SSLK_SAFETENSORS_NON_STRICT;
    ns.prefix = "backbone.";
    const char *P = path_of("x.safetensors");
    static stw w;
    /* an extra projector, under another prefix */
    float proj[6] = {1, 2, 3, 4, 5, 6};
    stw_init(&w);
    stw_model(&w, a, "backbone.", NULL);
    stw_add(&w, "projector.0.weight", "F32", (size_t[]){2, 3}, 2, proj, 24);
    stw_add(&w, "projector.0.bias", "BF16", (size_t[]){2}, 1, proj, 4);
    stw_write(&w, P);
    double before = checksum(b);
    ns.flags = 0;
    ck_status(sslk_model_load_safetensors_ex(b, P, &ns, r), SSLK_E_NOT_FOUND);
    ck_assert_msg(strstr(sslk_last_error(), "2 unexpected: 'projector.0.weight', 'projector.0.bias'") &&
                      !strstr(sslk_last_error(), "missing"), "%s", sslk_last_error());
    ck_assert(checksum(b) == before);
    ns.flags = SSLK_SAFETENSORS_NON_STRICT;
    ck_ok(sslk_model_load_safetensors_ex(b, P, &ns, r));
    ck_assert(checksum(b) == checksum(a));
    ck_assert_uint_eq(count(r, SSLK_LOAD_UNEXPECTED), 2);
    ck_assert_str_eq(name(r, SSLK_LOAD_UNEXPECTED, 1), "projector.0.bias");
    /* a missing tensor keeps its value in non-strict mode */
    sslk_model_destroy(b);
    b = make(c, 2);
    float bias_b[3], bias_now[3], w_a[6], w_now[6];
    ck_ok(sslk_model_get_param(b, "4.bias", bias_b, 3));
    stw_init(&w);
    stw_model(&w, a, "backbone.", "4.bias");
    stw_write(&w, P);
    before = checksum(b);
    ns.flags = 0;
    ck_status(sslk_model_load_safetensors_ex(b, P, &ns, r), SSLK_E_NOT_FOUND);
    ck_assert_msg(strstr(sslk_last_error(), "1 missing: '4.bias'"), "%s", sslk_last_error());
    ck_assert(checksum(b) == before);
    ns.flags = SSLK_SAFETENSORS_NON_STRICT;
    ck_ok(sslk_model_load_safetensors_ex(b, P, &ns, r));
    ck_ok(sslk_model_get_param(b, "4.bias", bias_now, 3));
    ck_assert_int_eq(memcmp(bias_b, bias_now, sizeof bias_b), 0);
    ck_ok(sslk_model_get_param(a, "4.weight", w_a, 6));
    ck_ok(sslk_model_get_param(b, "4.weight", w_now, 6));
    ck_assert_int_eq(memcmp(w_a, w_now, sizeof w_a), 0);
    ck_assert_uint_eq(count(r, SSLK_LOAD_MISSING), 1);
    ck_assert_str_eq(name(r, SSLK_LOAD_MISSING, 0), "4.bias");
    ck_assert_uint_eq(count(r, SSLK_LOAD_LOADED), 7);
    /* a wrong shape: refused in both modes unless skipped */
    sslk_model_destroy(b);
    b = make(c, 2);
    stw_init(&w);
    stw_model(&w, a, "backbone.", "4.weight");
    stw_add(&w, "backbone.4.weight", "F32", (size_t[]){3, 2, 1}, 3, proj, 24);
    stw_write(&w, P);
    before = checksum(b);
    ns.flags = 0;
    ck_status(sslk_model_load_safetensors_ex(b, P, &ns, r), SSLK_E_SHAPE);
    ck_assert_msg(strstr(sslk_last_error(), "1 mis-shaped: '4.weight'") &&
                      strstr(sslk_last_error(), "'4.weight' is 3 x 2 x 1 in the file, 3 x 2 in the model"),
                  "%s", sslk_last_error());
    ns.flags = SSLK_SAFETENSORS_NON_STRICT;
    ck_status(sslk_model_load_safetensors_ex(b, P, &ns, r), SSLK_E_SHAPE);
    ck_assert_msg(strstr(sslk_last_error(), "'4.weight'"), "%s", sslk_last_error());
    ck_assert(checksum(b) == before);
    ck_assert_uint_eq(count(r, SSLK_LOAD_MISMATCHED), 1);
    ns.flags = SSLK_SAFETENSORS_NON_STRICT | SSLK_SAFETENSORS_SKIP_MISMATCHED;
    ck_ok(sslk_model_get_param(b, "4.weight", w_now, 6));
    ck_ok(sslk_model_load_safetensors_ex(b, P, &ns, r));
    ck_ok(sslk_model_get_param(b, "4.weight", w_a, 6));
    ck_assert_int_eq(memcmp(w_a, w_now, sizeof w_a), 0); /* skipped: unchanged */
    ck_assert_str_eq(name(r, SSLK_LOAD_MISMATCHED, 0), "4.weight");
    ck_assert_uint_eq(count(r, SSLK_LOAD_LOADED), 7);
    /* everything at once, strict: all three lists named, the report filled */
    stw_init(&w);
    stw_model(&w, a, "backbone.", "4.weight");
    stw_add(&w, "backbone.4.weight", "F32", (size_t[]){2, 3}, 2, proj, 24);
    stw_add(&w, "head.weight", "F32", (size_t[]){1}, 1, proj, 4);
    stw_write(&w, P);
    ns.flags = 0;
    ns.prefix = NULL;
    ck_status(sslk_model_load_safetensors_ex(b, P, &ns, r), SSLK_E_NOT_FOUND); /* nothing under the bare names */
    ns.prefix = "backbone.";
    ck_status(sslk_model_load_safetensors_ex(b, P, &ns, r), SSLK_E_NOT_FOUND);
    ck_assert_msg(strstr(sslk_last_error(), "1 unexpected: 'head.weight'; 1 mis-shaped: '4.weight'") &&
                      strstr(sslk_last_error(), "is 2 x 3 in the file, 3 x 2 in the model"), "%s", sslk_last_error());
    ck_assert_uint_eq(count(r, SSLK_LOAD_LOADED) + count(r, SSLK_LOAD_MISMATCHED), 8);
    sslk_load_report_destroy(r);
    sslk_model_destroy(a);
    sslk_model_destroy(b);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(long_lists_truncated) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    sslk_model *m;
    ck_ok(sslk_model_from_spec(c, "linear:2", 1, (size_t[]){1}, 0, &m));
    static stw w;
    stw_init(&w);
    float z[2] = {0.5f, -0.5f};
    char nm[64];
    for (int i = 0; i < 100; i++) {
        snprintf(nm, sizeof nm, "projector.layer%d.weight", i);
        stw_add(&w, nm, "F32", (size_t[]){2}, 1, z, 8);
    }
    stw_write(&w, path_of("l.safetensors"));
    sslk_load_report *r;
    ck_ok(sslk_load_report_create(c, &r));
    ck_status(sslk_model_load_safetensors_ex(m, path_of("l.safetensors"), NULL, r), SSLK_E_NOT_FOUND);
    const char *msg = sslk_last_error();
    ck_assert_msg(strstr(msg, "2 missing: '0.weight', '0.bias'; 100 unexpected: 'projector.layer0.weight'") &&
                      strstr(msg, " more)"), "%s", msg);
    ck_assert_uint_lt(strlen(msg), 1000);
    ck_assert_uint_eq(count(r, SSLK_LOAD_UNEXPECTED), 100);
    ck_assert_str_eq(name(r, SSLK_LOAD_UNEXPECTED, 99), "projector.layer99.weight");
    sslk_load_report_destroy(r);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

/* Hand-derived conversions: F16 and BF16 bit patterns, F64 rounding. */
START_TEST(dtype_conversion) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    sslk_model *m;
    ck_ok(sslk_model_from_spec(c, "linear:4", 1, (size_t[]){2}, 0, &m));
    const char *P = path_of("d.safetensors");
    static stw w;
    sslk_load_report *rep;
    ck_ok(sslk_load_report_create(c, &rep));
    uint16_t h[8] = {0x0001, 0x03ff, 0x3c00, 0xc000, 0x7bff, 0x8001, 0x3555, 0x0400};
    float hw[8] = {ldexpf(1, -24), 1023 * ldexpf(1, -24), 1, -2, 65504, -ldexpf(1, -24), 0.333251953125f,
                   ldexpf(1, -14)};
    uint16_t bf[4] = {0x3f80, 0x0001, 0xc2f7, 0x7f7f};
    float bw[4] = {1, ldexpf(1, -133), -123.5f, 3.3895313892515355e38f};
    unsigned char hb[16], bb[8];
    for (int i = 0; i < 8; i++) hb[2 * i] = (unsigned char)(h[i] & 255), hb[2 * i + 1] = (unsigned char)(h[i] >> 8);
    for (int i = 0; i < 4; i++) bb[2 * i] = (unsigned char)(bf[i] & 255), bb[2 * i + 1] = (unsigned char)(bf[i] >> 8);
    stw_init(&w);
    stw_add(&w, "0.weight", "F16", (size_t[]){4, 2}, 2, hb, 16);
    stw_add(&w, "0.bias", "BF16", (size_t[]){4}, 1, bb, 8);
    stw_write(&w, P);
    ck_status(sslk_model_load_safetensors(m, P), SSLK_E_DTYPE); /* the 1.x function: F32 / F64 only */
    ck_ok(sslk_model_load_safetensors_ex(m, P, NULL, NULL));
    float got[8];
    ck_ok(sslk_model_get_param(m, "0.weight", got, 8));
    for (int i = 0; i < 8; i++) ck_assert_msg(got[i] == hw[i], "F16 %d: %.9g vs %.9g", i, got[i], hw[i]);
    ck_ok(sslk_model_get_param(m, "0.bias", got, 4));
    for (int i = 0; i < 4; i++) ck_assert_msg(got[i] == bw[i], "BF16 %d: %.9g vs %.9g", i, got[i], bw[i]);
    /* F64 rounds to nearest float */
    double d[4] = {0.1, 1.0 + 0x1p-24, 1.0 + 0x1.8p-24, -3.4028235e38};
    stw_init(&w);
    stw_add(&w, "0.weight", "F16", (size_t[]){4, 2}, 2, hb, 16);
    stw_add(&w, "0.bias", "F64", (size_t[]){4}, 1, d, 32);
    stw_write(&w, P);
    ck_ok(sslk_model_load_safetensors_ex(m, P, NULL, NULL));
    ck_ok(sslk_model_get_param(m, "0.bias", got, 4));
    ck_assert(got[0] == 0.1f && got[1] == 1.0f && got[2] == 1.0f + 0x1p-23f && got[3] == -3.4028235e38f);
    /* inf / nan in any dtype, and F64 beyond the float range: refused, model unchanged */
    struct {
        const char *dtype;
        uint64_t bits;
        size_t es;
    } bad[] = {{"F16", 0x7c00, 2}, {"F16", 0xfe00, 2}, {"BF16", 0x7fc0, 2}, {"BF16", 0xff80, 2},
               {"F64", 0x47f0000000000000ull /* 2^128 */, 8}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        unsigned char b4[32] = {0};
        for (int i = 0; i < 4; i++)
            for (size_t j = 0; j < bad[k].es; j++) b4[i * bad[k].es + j] = (unsigned char)(i == 2 ? bad[k].bits >> (8 * j) : 0);
        stw_init(&w);
        stw_add(&w, "0.weight", "F16", (size_t[]){4, 2}, 2, hb, 16);
        stw_add(&w, "0.bias", bad[k].dtype, (size_t[]){4}, 1, b4, 4 * bad[k].es);
        stw_write(&w, P);
        ck_status(sslk_model_load_safetensors_ex(m, P, NULL, rep), SSLK_E_NONFINITE);
        ck_assert_uint_eq(count(rep, SSLK_LOAD_LOADED), 0); /* nothing was loaded: no lists */
        ck_assert_msg(strstr(sslk_last_error(), "'0.bias'") && strstr(sslk_last_error(), "at 2"), "%s",
                      sslk_last_error());
        ck_ok(sslk_model_get_param(m, "0.bias", got, 4));
        ck_assert(got[0] == 0.1f && got[3] == -3.4028235e38f);
    }
    /* an integer tensor for a parameter, a bogus dtype anywhere */
    int32_t iv[4] = {1, 2, 3, 4};
    stw_init(&w);
    stw_add(&w, "0.weight", "F16", (size_t[]){4, 2}, 2, hb, 16);
    stw_add(&w, "0.bias", "I32", (size_t[]){4}, 1, iv, 16);
    stw_write(&w, P);
    ck_status(sslk_model_load_safetensors_ex(m, P, NULL, NULL), SSLK_E_DTYPE);
    ck_assert_msg(strstr(sslk_last_error(), "'0.bias' has dtype I32"), "%s", sslk_last_error());
    stw_init(&w);
    stw_add(&w, "0.weight", "F16", (size_t[]){4, 2}, 2, hb, 16);
    stw_add(&w, "0.bias", "F32", (size_t[]){4}, 1, iv, 16);
    stw_add(&w, "head.x", "Q4", (size_t[]){4}, 1, iv, 4);
    stw_write(&w, P);
    ck_status(sslk_model_load_safetensors_ex(m, P, &(sslk_safetensors_options){sizeof(sslk_safetensors_options),
                                                      SSLK_SAFETENSORS_NON_STRICT, NULL}, NULL),
              SSLK_E_DTYPE);
    /* an unexpected tensor of another dtype still counts for the data layout */
    stw_init(&w);
    stw_add(&w, "0.weight", "F16", (size_t[]){4, 2}, 2, hb, 16);
    stw_add(&w, "0.bias", "F32", (size_t[]){4}, 1, iv, 16);
    stw_add(&w, "step", "I32", NULL, 0, iv, 4); /* a 0-dim scalar, as torch writes them */
    stw_write(&w, P);
    sslk_safetensors_options ns = {sizeof ns, SSLK_SAFETENSORS_NON_STRICT, NULL};
    ck_ok(sslk_model_load_safetensors_ex(m, P, &ns, NULL));
    w.hl--;    /* reopen the header */
    w.dl += 4; /* 4 bytes nobody claims */
    stw_write(&w, P);
    ck_status(sslk_model_load_safetensors_ex(m, P, &ns, NULL), SSLK_E_FORMAT);
    ck_assert_msg(strstr(sslk_last_error(), "4 trailing data bytes"), "%s", sslk_last_error());
    sslk_load_report_destroy(rep);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(options_checked) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    sslk_model *m = make(c, 1);
    ck_ok(sslk_model_save_safetensors(m, path_of("o.safetensors")));
    sslk_safetensors_options o;
    ck_ok(sslk_safetensors_options_init(&o));
    ck_assert_uint_eq(o.struct_size, sizeof o);
    ck_assert(o.flags == 0 && o.prefix == NULL);
    ck_ok(sslk_model_load_safetensors_ex(m, path_of("o.safetensors"), &o, NULL));
    o.prefix = ""; /* the same as none */
    ck_ok(sslk_model_load_safetensors_ex(m, path_of("o.safetensors"), &o, NULL));
    o.flags = 8;
    ck_status(sslk_model_load_safetensors_ex(m, path_of("o.safetensors"), &o, NULL), SSLK_E_INVALID_ARG);
    o.flags = SSLK_SAFETENSORS_SKIP_MISMATCHED;
    ck_status(sslk_model_load_safetensors_ex(m, path_of("o.safetensors"), &o, NULL), SSLK_E_INVALID_ARG);
    o.flags = SSLK_SAFETENSORS_NON_STRICT;
    ck_status(sslk_model_save_safetensors_ex(m, path_of("o2.safetensors"), &o), SSLK_E_INVALID_ARG);
    o.flags = 0;
    char longp[300];
    memset(longp, 'a', 299);
    longp[299] = 0;
    o.prefix = longp;
    ck_status(sslk_model_save_safetensors_ex(m, path_of("o2.safetensors"), &o), SSLK_E_INVALID_ARG);
    ck_assert(access(path_of("o2.safetensors"), F_OK) != 0);
    o.struct_size = 4;
    ck_status(sslk_model_load_safetensors_ex(m, path_of("o.safetensors"), &o, NULL), SSLK_E_INVALID_ARG);
    ck_assert_msg(strstr(sslk_last_error(), "opt->struct_size"), "%s", sslk_last_error());
    ck_status(sslk_model_load_safetensors_ex(NULL, path_of("o.safetensors"), NULL, NULL), SSLK_E_INVALID_ARG);
    ck_status(sslk_load_report_create(c, NULL), SSLK_E_INVALID_ARG);
    sslk_load_report_destroy(NULL);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

/* conv:2:3:1:1 on 1x4x4: 2*1*9 + 2 = 20 params, 2 x 32 outputs x 9 MACs = 576 FLOPs. */
START_TEST(layer_table) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    sslk_model *m;
    ck_ok(sslk_model_from_spec(c, "conv:2:3:1:1,bn,relu,res(conv:2:3:1:1,bn),maxpool:2,gap,linear:3", 3,
                               (size_t[]){1, 4, 4}, 0, &m));
    size_t n;
    ck_ok(sslk_model_layer_count(m, &n));
    ck_assert_uint_eq(n, 9);
    struct {
        const char *name, *kind;
        size_t depth, c, h;
        uint64_t params, flops;
    } want[9] = {
        {"0", "conv", 0, 2, 4, 20, 576},         {"1", "bn", 0, 2, 4, 4, 64},
        {"2", "relu", 0, 2, 4, 0, 32},           {"3", "res", 0, 2, 4, 0, 32},
        {"3.body.0", "conv", 1, 2, 4, 38, 1152}, {"3.body.1", "bn", 1, 2, 4, 4, 64},
        {"4", "maxpool", 0, 2, 2, 0, 32},        {"5", "gap", 0, 2, 0, 0, 8},
        {"6", "linear", 0, 3, 0, 9, 12},
    };
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        sslk_layer_info li = {.struct_size = sizeof li};
        ck_ok(sslk_model_layer_info(m, i, &li));
        ck_assert_str_eq(li.name, want[i].name);
        ck_assert_str_eq(li.kind, want[i].kind);
        ck_assert_uint_eq(li.depth, want[i].depth);
        ck_assert_uint_eq(li.out_shape[0], want[i].c);
        ck_assert_uint_eq(li.out_shape[1], want[i].h);
        ck_assert_uint_eq(li.params, want[i].params);
        ck_assert_uint_eq(li.flops, want[i].flops);
        total += li.params;
    }
    size_t ns;
    ck_ok(sslk_model_num_scalars(m, &ns));
    ck_assert_uint_eq(total, ns);
    sslk_layer_info li = {.struct_size = sizeof li};
    ck_status(sslk_model_layer_info(m, 9, &li), SSLK_E_RANGE);
    li.struct_size = 8;
    ck_status(sslk_model_layer_info(m, 0, &li), SSLK_E_INVALID_ARG);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("exchange");
    TCase *tc = tcase_create("exchange");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, prefix_round_trip);
    tcase_add_test(tc, extra_missing_misshaped);
    tcase_add_test(tc, long_lists_truncated);
    tcase_add_test(tc, dtype_conversion);
    tcase_add_test(tc, options_checked);
    tcase_add_test(tc, layer_table);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
