/* Model files: native format and safetensors round trips, corrupt,
 * truncated and hostile files (never a crash, always a clear status, the
 * target model unchanged).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "testutil.h"

static char dir[256];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/sslk_nnfiles_XXXXXX");
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

static unsigned char *slurp(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    ck_assert_uint_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void spit(const char *p, const void *b, size_t n) {
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

static const char *SPEC = "conv:3:3:1:1,bn,relu,res(conv:3:3:1:1,bn|),maxpool:2,flatten,linear:4,bn,linear:2";

static sslk_model *trained(sslk_ctx *c) {
    sslk_model *m;
    ck_ok(sslk_model_from_spec(c, SPEC, 3, (size_t[]){2, 6, 6}, 7, &m));
    float x[5 * 72], y[10];
    tu_fill_uniform(x, 5 * 72, 1, -1, 1);
    ck_ok(sslk_model_forward(m, x, 5, y, SSLK_MODE_TRAIN)); /* move running stats */
    ck_ok(sslk_model_forward(m, x, 5, y, SSLK_MODE_TRAIN));
    return m;
}

static void same_outputs(sslk_model *a, sslk_model *b) {
    float x[3 * 72], ya[6], yb[6];
    tu_fill_uniform(x, 3 * 72, 2, -1, 1);
    ck_ok(sslk_model_forward(a, x, 3, ya, SSLK_MODE_EVAL));
    ck_ok(sslk_model_forward(b, x, 3, yb, SSLK_MODE_EVAL));
    ck_assert_int_eq(memcmp(ya, yb, sizeof ya), 0);
}

START_TEST(native_round_trip) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    sslk_model *m = trained(c), *l;
    ck_ok(sslk_model_set_f64(m, SSLK_MODEL_BN_EPS, 1e-3));
    ck_ok(sslk_model_save(m, path_of("m.sslk")));
    ck_ok(sslk_model_load(c, path_of("m.sslk"), &l));
    same_outputs(m, l);
    char sa[256], sb[256];
    size_t n;
    ck_ok(sslk_model_spec(m, sa, sizeof sa, &n));
    ck_ok(sslk_model_spec(l, sb, sizeof sb, &n));
    ck_assert_str_eq(sa, sb);
    double eps;
    ck_ok(sslk_model_get_f64(l, SSLK_MODEL_BN_EPS, &eps));
    ck_close(eps, 1e-3, 0, 0);
    sslk_model_destroy(l);
    ck_status(sslk_model_load(c, path_of("missing.sslk"), &l), SSLK_E_IO);
    ck_assert_ptr_null(l);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(native_corrupt_and_truncated) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    sslk_model *m = trained(c), *l = NULL;
    ck_ok(sslk_model_save(m, path_of("m.sslk")));
    size_t n;
    unsigned char *b = slurp(path_of("m.sslk"), &n);
    for (size_t len = 0; len < n; len += (len < 200 ? 1 : 97)) {
        spit(path_of("t.sslk"), b, len);
        ck_status(sslk_model_load(c, path_of("t.sslk"), &l), SSLK_E_FORMAT);
        ck_assert_ptr_null(l);
    }
    for (size_t i = 0; i < n; i += 13) {
        b[i] ^= 0x5a;
        spit(path_of("t.sslk"), b, n);
        ck_status(sslk_model_load(c, path_of("t.sslk"), &l), SSLK_E_FORMAT);
        b[i] ^= 0x5a;
    }
    free(b);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

/* Hostile files with a valid checksum: sizes that lie. */
static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void load_with_crc(sslk_ctx *c, unsigned char *b, size_t n, sslk_status want) {
    put32(b + n - 4, (uint32_t)crc32(0L, b, (uInt)(n - 4)));
    spit(path_of("h.sslk"), b, n);
    sslk_model *l = NULL;
    ck_status(sslk_model_load(c, path_of("h.sslk"), &l), want);
    ck_assert_ptr_null(l);
}

START_TEST(native_hostile_sizes) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    sslk_model *m;
    ck_ok(sslk_model_from_spec(c, "linear:3", 1, (size_t[]){2}, 0, &m));
    ck_ok(sslk_model_save(m, path_of("m.sslk")));
    size_t n;
    unsigned char *b = slurp(path_of("m.sslk"), &n);
    unsigned char *w = malloc(n);
    /* offsets: magic 0, version 8, ndim 12, shape 16..40, mom 40, eps 48, seed 56, spec_len 64, spec 68 */
    memcpy(w, b, n);
    put32(w + 8, 99); /* version */
    load_with_crc(c, w, n, SSLK_E_FORMAT);
    memcpy(w, b, n);
    put32(w + 64, 0xffffffffu); /* spec length */
    load_with_crc(c, w, n, SSLK_E_FORMAT);
    memcpy(w, b, n);
    put64(w + 16, (uint64_t)1 << 62); /* absurd input shape */
    load_with_crc(c, w, n, SSLK_E_FORMAT);
    memcpy(w, b, n);
    w[68] = 'X'; /* "Xinear:3": unknown token */
    load_with_crc(c, w, n, SSLK_E_FORMAT);
    ck_assert(strstr(sslk_last_error(), "Xinear") != NULL);
    memcpy(w, b, n);
    w[68 + 7] = '9'; /* "linear:9": a bigger model than the file's data holds */
    load_with_crc(c, w, n, SSLK_E_FORMAT);
    ck_assert_msg(strstr(sslk_last_error(), "needs 27 values"), "%s", sslk_last_error());
    memcpy(w, b, n);
    put32(w + 68 + 8, 1000000); /* tensor count */
    load_with_crc(c, w, n, SSLK_E_FORMAT);
    memcpy(w, b, n);
    put64(w + 40, 0x7ff8000000000000ull); /* NaN momentum */
    load_with_crc(c, w, n, SSLK_E_FORMAT);
    free(w);
    free(b);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(safetensors_round_trip) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    sslk_model *m = trained(c), *l;
    ck_ok(sslk_model_save_safetensors(m, path_of("m.safetensors")));
    ck_ok(sslk_model_from_spec(c, SPEC, 3, (size_t[]){2, 6, 6}, 99, &l));
    ck_ok(sslk_model_load_safetensors(l, path_of("m.safetensors")));
    same_outputs(m, l);
    /* header is JSON with PyTorch names, 8-byte aligned */
    size_t n;
    unsigned char *b = slurp(path_of("m.safetensors"), &n);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)b[i] << (8 * i);
    ck_assert_uint_eq(hl % 8, 0);
    char *h = strndup((char *)b + 8, hl);
    ck_assert(strstr(h, "\"1.running_var\"") && strstr(h, "\"1.num_batches_tracked\""));
    ck_assert(strstr(h, "\"3.body.0.weight\"") && strstr(h, "\"7.weight\""));
    free(h);
    free(b);
    sslk_model_destroy(l);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

/* Write a safetensors file from a header string and data bytes. */
static void st_file(const char *hdr, const void *data, size_t dn) {
    size_t hl = strlen(hdr);
    unsigned char *b = malloc(8 + hl + dn);
    put64(b, hl);
    memcpy(b + 8, hdr, hl);
    if (dn) memcpy(b + 8 + hl, data, dn);
    spit(path_of("h.safetensors"), b, 8 + hl + dn);
    free(b);
}

START_TEST(safetensors_hostile) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    sslk_model *m;
    ck_ok(sslk_model_from_spec(c, "linear:2", 1, (size_t[]){1}, 0, &m));
    float before[2], after[2];
    ck_ok(sslk_model_get_param(m, "0.weight", before, 2));
    float d[4] = {1, 2, 3, 4};
    double dd[4] = {1, 2, 3, 4};
    const char *P = path_of("h.safetensors");
    struct {
        const char *hdr;
        const void *data;
        size_t dn;
        sslk_status want;
    } cases[] = {
        {"{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]}", d, 16, SSLK_E_FORMAT},
        {"[1,2]", d, 16, SSLK_E_FORMAT},
        {"{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
         "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,24]}}", d, 16, SSLK_E_FORMAT},
        {"{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
         "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,8]}}", d, 16, SSLK_E_FORMAT},
        {"{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]}}", d, 16, SSLK_E_NOT_FOUND},
        {"{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
         "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
         "\"5.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", d, 16, SSLK_E_NOT_FOUND},
        {"{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]},"
         "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", d, 16, SSLK_E_SHAPE},
        {"{\"0.weight\":{\"dtype\":\"F16\",\"shape\":[2,1],\"data_offsets\":[0,4]},"
         "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", d, 16, SSLK_E_DTYPE},
        {"{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]},"
         "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", d, 16, SSLK_E_FORMAT},
        {"{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
         "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,16]}}", d, 16, SSLK_E_FORMAT},
        {"{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1]},"
         "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", d, 16, SSLK_E_FORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        st_file(cases[i].hdr, cases[i].data, cases[i].dn);
        ck_status(sslk_model_load_safetensors(m, P), cases[i].want);
        ck_ok(sslk_model_get_param(m, "0.weight", after, 2));
        ck_assert_int_eq(memcmp(before, after, sizeof before), 0);
    }
    /* issue 12: data layouts the reference reader refuses (each loaded before) */
    struct {
        const char *hdr;
        size_t dn;
        const char *why;
    } layout[] = {
        {"{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
         "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlap"},
        {"{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
         "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "overlap"},
        {"{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
         "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 20, "trailing"},
        {"{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[4,12]},"
         "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20, "gap"},
        {"{\"0.weight\\u0000x\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
         "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, "NUL"},
        {"{\"0.weight\":{\"dtype\":\"F32\\u0000\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
         "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, "NUL"},
    };
    float d5[5] = {5, 6, 7, 8, 9};
    for (size_t i = 0; i < sizeof layout / sizeof layout[0]; i++) {
        st_file(layout[i].hdr, d5, layout[i].dn);
        ck_status(sslk_model_load_safetensors(m, P), SSLK_E_FORMAT);
        ck_assert_msg(strstr(sslk_last_error(), layout[i].why), "case %zu: %s", i, sslk_last_error());
        ck_ok(sslk_model_get_param(m, "0.weight", after, 2));
        ck_assert_int_eq(memcmp(before, after, sizeof before), 0);
    }
    /* an escaped backslash before "u0000" is no NUL: the key is unknown, not malformed */
    st_file("{\"0.weight\\\\u0000\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
            "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", d5, 16);
    ck_status(sslk_model_load_safetensors(m, P), SSLK_E_NOT_FOUND);
    /* NaN data is refused */
    float dn[4] = {1, NAN, 3, 4};
    st_file("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
            "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", dn, 16);
    ck_status(sslk_model_load_safetensors(m, P), SSLK_E_NONFINITE);
    /* header length larger than the file */
    unsigned char small[16] = {0};
    put64(small, 1000);
    spit(P, small, 16);
    ck_status(sslk_model_load_safetensors(m, P), SSLK_E_FORMAT);
    spit(P, small, 5);
    ck_status(sslk_model_load_safetensors(m, P), SSLK_E_FORMAT);
    /* a valid F64 file with metadata and padding loads, converted */
    st_file("{\"__metadata__\":{\"format\":\"pt\"},\"0.weight\":{\"dtype\":\"F64\",\"shape\":[2,1],"
            "\"data_offsets\":[0,16]},\"0.bias\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[16,32]}}   ",
            dd, 32);
    ck_ok(sslk_model_load_safetensors(m, P));
    ck_ok(sslk_model_get_param(m, "0.weight", after, 2));
    ck_close(after[0], 1, 0, 0);
    ck_close(after[1], 2, 0, 0);
    ck_ok(sslk_model_get_param(m, "0.bias", after, 2));
    ck_close(after[1], 4, 0, 0);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

/* Index of the 8 bytes of two floats a, b in a buffer (SIZE_MAX when absent). */
static size_t find_pair(const unsigned char *b, size_t n, float a, float c) {
    unsigned char pat[8];
    memcpy(pat, &a, 4);
    memcpy(pat + 4, &c, 4);
    for (size_t i = 0; i + 8 <= n; i++)
        if (!memcmp(b + i, pat, 8)) return i;
    return SIZE_MAX;
}

/* Issue 12: a negative batch-norm running variance (sqrt of a negative in
 * eval) is refused by both loaders, naming the tensor. */
START_TEST(negative_running_variance_refused) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    sslk_model *m, *l = NULL;
    ck_ok(sslk_model_from_spec(c, "linear:2,bn", 1, (size_t[]){3}, 0, &m));
    const float var[2] = {2.5f, 3.25f};
    ck_ok(sslk_model_set_param(m, "1.running_var", var, 2));
    ck_ok(sslk_model_save(m, path_of("m.sslk")));
    size_t n;
    unsigned char *b = slurp(path_of("m.sslk"), &n);
    size_t at = find_pair(b, n, 2.5f, 3.25f);
    ck_assert_uint_ne(at, SIZE_MAX);
    const float neg = -0.5f;
    memcpy(b + at + 4, &neg, 4);
    load_with_crc(c, b, n, SSLK_E_FORMAT);
    ck_assert_msg(strstr(sslk_last_error(), "'1.running_var'") && strstr(sslk_last_error(), "negative"), "%s",
                  sslk_last_error());
    free(b);
    /* the same through safetensors (refused before too: kept as a guard) */
    ck_ok(sslk_model_save_safetensors(m, path_of("m.safetensors")));
    b = slurp(path_of("m.safetensors"), &n);
    at = find_pair(b, n, 2.5f, 3.25f);
    ck_assert_uint_ne(at, SIZE_MAX);
    memcpy(b + at, &neg, 4);
    spit(path_of("n.safetensors"), b, n);
    ck_status(sslk_model_load_safetensors(m, path_of("n.safetensors")), SSLK_E_FORMAT);
    ck_assert_msg(strstr(sslk_last_error(), "1.running_var"), "%s", sslk_last_error());
    free(b);
    ck_assert_ptr_null(l);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("model_files");
    TCase *tc = tcase_create("files");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, native_round_trip);
    tcase_add_test(tc, native_corrupt_and_truncated);
    tcase_add_test(tc, native_hostile_sizes);
    tcase_add_test(tc, safetensors_round_trip);
    tcase_add_test(tc, safetensors_hostile);
    tcase_add_test(tc, negative_running_variance_refused);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
