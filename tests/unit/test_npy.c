/* NPY files: round trips of every dtype, conversions, the exact header bytes
 * numpy writes, hand-made version 2.0/3.0 files, and hostile or unsupported
 * files each with its own status.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static sslk_ctx *ctx;
static char dir[256];
static void setup(void) {
    ck_ok(sslk_ctx_create(&ctx));
    snprintf(dir, sizeof dir, "/tmp/sslk_npy_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}
static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    sslk_ctx_destroy(ctx);
}

static const char *path(const char *name) {
    static char p[300];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

/* Write raw bytes: a v1 preamble with the given dictionary, then data. */
static void write_v(const char *name, int major, const char *dict, const void *data, size_t nbytes) {
    FILE *f = fopen(path(name), "wb");
    ck_assert_ptr_nonnull(f);
    size_t dl = strlen(dict), pre = major == 1 ? 10 : 12;
    size_t hl = ((pre + dl + 1 + 63) / 64) * 64 - pre;
    unsigned char p[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)major, 0};
    for (size_t i = 0; i < pre - 8; i++) p[8 + i] = (unsigned char)(hl >> (8 * i));
    fwrite(p, 1, pre, f);
    fwrite(dict, 1, dl, f);
    for (size_t i = dl; i + 1 < hl; i++) fputc(' ', f);
    fputc('\n', f);
    if (nbytes) fwrite(data, 1, nbytes, f);
    fclose(f);
}

START_TEST(roundtrip_all_dtypes) {
    float f32[6] = {1.5f, -2, 3, 4, 5, 6e30f};
    double f64[6] = {1.25, -2, 3, 4, 5, 1e300};
    int32_t i32[6] = {-7, 0, 1, 2, 3, INT32_MAX};
    int64_t i64[6] = {-7, 0, 1, 2, 3, (int64_t)1 << 40};
    uint8_t u8[6] = {0, 1, 2, 128, 254, 255};
    uint8_t b[6] = {0, 1, 1, 0, 1, 0};
    const void *data[6] = {f32, f64, i32, i64, u8, b};
    size_t shape[2] = {2, 3};
    for (int t = SSLK_DTYPE_F32; t <= SSLK_DTYPE_BOOL; t++) {
        ck_ok(sslk_npy_save(ctx, path("a.npy"), (sslk_dtype)t, data[t - 1], 2, shape));
        sslk_npy *f;
        ck_ok(sslk_npy_open(ctx, path("a.npy"), &f));
        ck_assert_int_eq(sslk_npy_dtype(f), t);
        ck_assert_uint_eq(sslk_npy_ndim(f), 2);
        ck_assert_uint_eq(sslk_npy_dim(f, 0), 2);
        ck_assert_uint_eq(sslk_npy_dim(f, 1), 3);
        ck_assert_uint_eq(sslk_npy_dim(f, 2), 0);
        ck_assert_uint_eq(sslk_npy_count(f), 6);
        unsigned char back[48];
        ck_ok(sslk_npy_read(f, (sslk_dtype)t, back, 6));
        ck_assert(memcmp(back, data[t - 1], 6 * sslk_dtype_size((sslk_dtype)t)) == 0);
        double dv[6];
        ck_ok(sslk_npy_read(f, SSLK_DTYPE_F64, dv, 6)); /* every type converts to float64 */
        static const double first[6] = {1.5, 1.25, -7, -7, 0, 0};
        static const double last[6] = {(double)6e30f, 1e300, 2147483647.0, 1099511627776.0, 255, 0};
        ck_assert(dv[0] == first[t - 1]);
        ck_assert(dv[5] == last[t - 1]);
        sslk_npy_close(f);
    }
    sslk_npy_close(NULL);
}
END_TEST

START_TEST(exact_header_bytes) {
    /* numpy 1.24: np.save of a (3, 4) float32 array starts with these 128 bytes */
    float z[12] = {0};
    size_t shape[2] = {3, 4};
    ck_ok(sslk_npy_save(ctx, path("h.npy"), SSLK_DTYPE_F32, z, 2, shape));
    FILE *f = fopen(path("h.npy"), "rb");
    unsigned char buf[256];
    size_t got = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ck_assert_uint_eq(got, 128 + 48);
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
    ck_assert(memcmp(buf, "\x93NUMPY\x01\x00\x76\x00", 10) == 0);
    ck_assert(memcmp(buf + 10, dict, strlen(dict)) == 0);
    ck_assert_int_eq(buf[127], '\n');
    ck_assert_int_eq(buf[126], ' ');
    /* 1-D and 0-D shapes are spelled "(5,)" and "()" */
    ck_ok(sslk_npy_save(ctx, path("h1.npy"), SSLK_DTYPE_U8, z, 1, (size_t[]){5}));
    f = fopen(path("h1.npy"), "rb");
    got = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ck_assert(strstr((char *)buf + 10, "'shape': (5,), }") != NULL);
    ck_ok(sslk_npy_save(ctx, path("h0.npy"), SSLK_DTYPE_F64, z, 0, NULL));
    sslk_npy *h;
    ck_ok(sslk_npy_open(ctx, path("h0.npy"), &h));
    ck_assert_uint_eq(sslk_npy_ndim(h), 0);
    ck_assert_uint_eq(sslk_npy_count(h), 1);
    sslk_npy_close(h);
}
END_TEST

START_TEST(versions_and_conversions) {
    int64_t v[4] = {1, -2, 3, 4};
    write_v("v2.npy", 2, "{\"shape\": (4,), \"fortran_order\": False, \"descr\": \"<i8\"}", v, sizeof v);
    write_v("v3.npy", 3, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2,), }", v, sizeof v);
    write_v("py2.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (4L,), }", v, sizeof v);
    const char *names[3] = {"v2.npy", "v3.npy", "py2.npy"};
    for (int i = 0; i < 3; i++) {
        sslk_npy *f;
        ck_ok(sslk_npy_open(ctx, path(names[i]), &f));
        int32_t out[4];
        ck_ok(sslk_npy_read(f, SSLK_DTYPE_I32, out, 4));
        ck_assert_int_eq(out[1], -2);
        float fo[4];
        ck_ok(sslk_npy_read(f, SSLK_DTYPE_F32, fo, 4));
        ck_assert(fo[3] == 4.0f);
        uint8_t u[4];
        ck_status(sslk_npy_read(f, SSLK_DTYPE_U8, u, 4), SSLK_E_RANGE); /* -2 */
        ck_assert(strstr(sslk_last_error(), "element 1") != NULL);
        ck_status(sslk_npy_read(f, SSLK_DTYPE_I32, out, 3), SSLK_E_SHAPE);
        ck_status(sslk_npy_read(f, (sslk_dtype)99, out, 4), SSLK_E_DTYPE);
        sslk_npy_close(f);
    }
    int64_t big[1] = {(int64_t)1 << 33};
    write_v("big.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", big, 8);
    sslk_npy *f;
    ck_ok(sslk_npy_open(ctx, path("big.npy"), &f));
    int32_t o;
    ck_status(sslk_npy_read(f, SSLK_DTYPE_I32, &o, 1), SSLK_E_RANGE);
    sslk_npy_close(f);
    float fl[2] = {1, 2};
    write_v("f.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", fl, 8);
    ck_ok(sslk_npy_open(ctx, path("f.npy"), &f));
    int32_t io[2];
    ck_status(sslk_npy_read(f, SSLK_DTYPE_I32, io, 2), SSLK_E_DTYPE);
    sslk_npy_close(f);
    uint8_t bb[3] = {0, 1, 2};
    write_v("b.npy", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", bb, 3);
    ck_ok(sslk_npy_open(ctx, path("b.npy"), &f));
    ck_status(sslk_npy_read(f, SSLK_DTYPE_BOOL, io, 3), SSLK_E_RANGE);
    sslk_npy_close(f);
}
END_TEST

START_TEST(hostile_and_unsupported) {
    float d[8] = {0}; /* room for the trailing-bytes case */
    struct {
        const char *dict;
        size_t bytes;
        sslk_status want;
        const char *words;
    } cases[] = {
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16, SSLK_E_UNSUPPORTED, "Fortran"},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", 16, SSLK_E_UNSUPPORTED, "big-endian"},
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16, SSLK_E_DTYPE, "<c8"},
        {"{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", 12, SSLK_E_DTYPE, "<U3"},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", 16, SSLK_E_DTYPE, "structured"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", 16, SSLK_E_FORMAT, "truncated"},
        /* issue 12: data after the payload, and a parenthesised number that is no tuple */
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4), }", 16, SSLK_E_FORMAT, "(4,)"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': ( 4 ), }", 16, SSLK_E_FORMAT, "comma"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", 20, SSLK_E_FORMAT, "4 trailing bytes at offset 144"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", 16,
         SSLK_E_OVERFLOW, "overflow"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", 16, SSLK_E_OVERFLOW,
         "overflow"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", 16, SSLK_E_FORMAT, "negative"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4,)", 16, SSLK_E_FORMAT, "header"},
        {"{'descr': '<f4', 'fortran_order': False, }", 16, SSLK_E_FORMAT, "misses"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'extra': 1}", 16, SSLK_E_FORMAT, "unknown"},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (4,), }", 16, SSLK_E_FORMAT, "True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4 4), }", 16, SSLK_E_FORMAT, "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
         "1,1,1,1,1,1,1), }", 4, SSLK_E_FORMAT, "32"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_v("x.npy", 1, cases[i].dict, d, cases[i].bytes);
        sslk_npy *f = (sslk_npy *)1;
        ck_status(sslk_npy_open(ctx, path("x.npy"), &f), cases[i].want);
        ck_assert_msg(strstr(sslk_last_error(), cases[i].words) != NULL, "case %zu: '%s' lacks '%s'", i,
                      sslk_last_error(), cases[i].words);
        ck_assert_ptr_null(f);
    }
    /* preamble-level failures */
    FILE *fp = fopen(path("m.npy"), "wb");
    fwrite("\x93NUMPX\x01\x00\x10\x00", 1, 10, fp);
    fclose(fp);
    sslk_npy *f;
    ck_status(sslk_npy_open(ctx, path("m.npy"), &f), SSLK_E_FORMAT);
    fp = fopen(path("m.npy"), "wb");
    fwrite("\x93NUMPY\x04\x00\x10\x00", 1, 10, fp);
    fclose(fp);
    ck_status(sslk_npy_open(ctx, path("m.npy"), &f), SSLK_E_UNSUPPORTED);
    fp = fopen(path("m.npy"), "wb");
    fwrite("\x93NUMPY\x02\x00\xff\xff\xff\xff{", 1, 13, fp); /* 4 GiB header length */
    fclose(fp);
    ck_status(sslk_npy_open(ctx, path("m.npy"), &f), SSLK_E_FORMAT);
    fp = fopen(path("m.npy"), "wb");
    fwrite("\x93NUMPY\x01\x00\x40\x00{'descr'", 1, 18, fp); /* header cut short */
    fclose(fp);
    ck_status(sslk_npy_open(ctx, path("m.npy"), &f), SSLK_E_FORMAT);
    ck_status(sslk_npy_open(ctx, path("missing.npy"), &f), SSLK_E_NOT_FOUND);
    /* issue 12: a FIFO is refused at once instead of blocking in open() */
    ck_assert_int_eq(mkfifo(path("fifo.npy"), 0644), 0);
    ck_status(sslk_npy_open(ctx, path("fifo.npy"), &f), SSLK_E_IO);
    ck_assert_msg(strstr(sslk_last_error(), "not a regular file") != NULL, "%s", sslk_last_error());
    ck_status(sslk_npy_open(ctx, NULL, &f), SSLK_E_INVALID_ARG);
}
END_TEST

START_TEST(atomic_save_never_half_written) {
    float z[4] = {1, 2, 3, 4};
    size_t shape[1] = {4};
    ck_ok(sslk_npy_save(ctx, path("k.npy"), SSLK_DTYPE_F32, z, 1, shape));
    uint8_t bad[4] = {0, 1, 2, 1};
    ck_status(sslk_npy_save(ctx, path("k.npy"), SSLK_DTYPE_BOOL, bad, 1, shape), SSLK_E_RANGE);
    ck_status(sslk_npy_save(ctx, path("k.npy"), (sslk_dtype)0, z, 1, shape), SSLK_E_DTYPE);
    size_t huge[2] = {SIZE_MAX / 2, 4};
    ck_status(sslk_npy_save(ctx, path("k.npy"), SSLK_DTYPE_F32, z, 2, huge), SSLK_E_OVERFLOW);
    ck_status(sslk_npy_save(ctx, path("nodir/k.npy"), SSLK_DTYPE_F32, z, 1, shape), SSLK_E_IO);
    sslk_npy *f;
    ck_ok(sslk_npy_open(ctx, path("k.npy"), &f)); /* the old file survives intact */
    ck_assert_int_eq(sslk_npy_dtype(f), SSLK_DTYPE_F32);
    float back[4];
    ck_ok(sslk_npy_read(f, SSLK_DTYPE_F32, back, 4));
    ck_assert(back[3] == 4.0f);
    sslk_npy_close(f);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 1", dir); /* no temporary left behind */
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Random corruptions of a valid file (byte flips in the preamble and header,
 * truncations): every open/read returns a status, never crashes, and a
 * successful open never promises more data than the file holds. */
START_TEST(mutated_files_never_crash) {
    float z[24];
    for (int i = 0; i < 24; i++) z[i] = (float)i;
    size_t shape[3] = {2, 3, 4};
    ck_ok(sslk_npy_save(ctx, path("ok.npy"), SSLK_DTYPE_F32, z, 3, shape));
    FILE *fp = fopen(path("ok.npy"), "rb");
    unsigned char good[256];
    size_t len = fread(good, 1, sizeof good, fp);
    fclose(fp);
    ck_assert_uint_eq(len, 128 + 96);
    uint64_t s = 12345;
    int opened = 0;
    for (int trial = 0; trial < 600; trial++) {
        unsigned char buf[256];
        memcpy(buf, good, len);
        size_t n = len;
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        int flips = 1 + (int)((s >> 60) & 3);
        for (int f = 0; f < flips; f++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t at = (size_t)(s >> 33) % 128;
            buf[at] = (unsigned char)(s >> 20);
        }
        if (trial % 5 == 0) n = (size_t)(s >> 40) % len;
        fp = fopen(path("m.npy"), "wb");
        fwrite(buf, 1, n, fp);
        fclose(fp);
        sslk_npy *f = NULL;
        sslk_status st = sslk_npy_open(ctx, path("m.npy"), &f);
        if (st != SSLK_OK) {
            ck_assert_ptr_null(f);
            ck_assert(st == SSLK_E_FORMAT || st == SSLK_E_DTYPE || st == SSLK_E_UNSUPPORTED ||
                      st == SSLK_E_OVERFLOW);
            continue;
        }
        opened++;
        size_t cnt = sslk_npy_count(f), es = sslk_dtype_size(sslk_npy_dtype(f));
        ck_assert(cnt * es <= n);
        if (cnt <= 64) {
            double out[64];
            sslk_status r = sslk_npy_read(f, SSLK_DTYPE_F64, out, cnt);
            ck_assert(r == SSLK_OK || r == SSLK_E_DTYPE);
        }
        sslk_npy_close(f);
    }
    ck_assert(opened > 0); /* flips in the padding keep the file valid */
}
END_TEST

int main(void) {
    Suite *s = suite_create("npy");
    TCase *t = tcase_create("npy");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, roundtrip_all_dtypes);
    tcase_add_test(t, exact_header_bytes);
    tcase_add_test(t, versions_and_conversions);
    tcase_add_test(t, hostile_and_unsupported);
    tcase_add_test(t, atomic_save_never_half_written);
    tcase_add_test(t, mutated_files_never_crash);
    suite_add_tcase(s, t);
    return tu_run(s) ? 1 : 0;
}
