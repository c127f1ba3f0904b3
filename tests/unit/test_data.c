/* Data layer: readers on files the tests write (valid, corrupt, truncated,
 * hostile), augmentations on hand-checkable images, loader determinism.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>
#include <zlib.h>

#include "data/data_internal.h"
#include "testutil.h"

static char tmpdir[256];

static void mk_tmp(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sslk_data_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tmp(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *tpath(const char *name) {
    static _Thread_local char buf[4][512];
    static _Thread_local int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void write_gz(const char *path, const void *data, size_t n) {
    gzFile g = gzopen(path, "wb");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(gzwrite(g, data, (unsigned)n), (int)n);
    gzclose(g);
}

/* IDX buffer: header for ndim dims + data (fill: value = (i * 7) % 256). */
static size_t make_idx(uint8_t *buf, int type, int nd, const uint32_t *dims, size_t ndata) {
    buf[0] = buf[1] = 0;
    buf[2] = (uint8_t)type;
    buf[3] = (uint8_t)nd;
    for (int k = 0; k < nd; k++) {
        buf[4 + 4 * k] = (uint8_t)(dims[k] >> 24);
        buf[5 + 4 * k] = (uint8_t)(dims[k] >> 16);
        buf[6 + 4 * k] = (uint8_t)(dims[k] >> 8);
        buf[7 + 4 * k] = (uint8_t)dims[k];
    }
    size_t off = 4 + 4 * (size_t)nd;
    for (size_t i = 0; i < ndata; i++) buf[off + i] = (uint8_t)((i * 7) % 256);
    return off + ndata;
}

static sslk_ctx *new_ctx(void) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    return c;
}

/* ======================================================================== IDX */
START_TEST(idx_plain_and_gzip) {
    mk_tmp();
    sslk_ctx *c = new_ctx();
    uint8_t img[4 + 12 + 3 * 4 * 5], lab[4 + 4 + 3];
    uint32_t d[] = {3, 4, 5}, dl[] = {3};
    size_t ni = make_idx(img, 8, 3, d, 60), nl = make_idx(lab, 8, 1, dl, 3);
    lab[8] = 2, lab[9] = 0, lab[10] = 7;
    write_gz(tpath("train-images-idx3-ubyte.gz"), img, ni);
    write_gz(tpath("train-labels-idx1-ubyte.gz"), lab, nl);
    write_file(tpath("t10k-images-idx3-ubyte"), img, ni); /* plain */
    sslk_dataset *ds;
    ck_ok(sslk_dataset_open(c, tmpdir, SSLK_SPLIT_TRAIN, &ds));
    size_t n, h, w, ch, k;
    ck_ok(sslk_dataset_count(ds, &n));
    ck_ok(sslk_dataset_shape(ds, &h, &w, &ch));
    ck_ok(sslk_dataset_num_classes(ds, &k));
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(h, 4);
    ck_assert_uint_eq(w, 5);
    ck_assert_uint_eq(ch, 1);
    ck_assert_uint_eq(k, 8);
    int32_t l[3];
    ck_ok(sslk_dataset_labels(ds, l, 3));
    ck_assert_int_eq(l[0], 2);
    ck_assert_int_eq(l[2], 7);
    uint8_t px[20];
    ck_ok(sslk_dataset_read(ds, 2, px, sizeof px, &h, &w, &ch));
    for (size_t i = 0; i < 20; i++) ck_assert_uint_eq(px[i], ((40 + i) * 7) % 256);
    ck_status(sslk_dataset_read(ds, 3, px, sizeof px, NULL, NULL, NULL), SSLK_E_RANGE);
    ck_status(sslk_dataset_read(ds, 0, px, 19, NULL, NULL, NULL), SSLK_E_SHAPE);
    sslk_dataset_kind kind;
    ck_ok(sslk_dataset_get_kind(ds, &kind));
    ck_assert_int_eq(kind, SSLK_DATASET_IDX);
    sslk_dataset_destroy(ds);
    /* test split: plain file, no labels */
    ck_ok(sslk_dataset_open(c, tmpdir, SSLK_SPLIT_TEST, &ds));
    ck_ok(sslk_dataset_num_classes(ds, &k));
    ck_assert_uint_eq(k, 0);
    int32_t one;
    ck_ok(sslk_dataset_label(ds, 1, &one));
    ck_assert_int_eq(one, -1);
    sslk_dataset_destroy(ds);
    /* a file path finds its labels by name */
    ck_ok(sslk_dataset_open(c, tpath("train-images-idx3-ubyte.gz"), SSLK_SPLIT_TRAIN, &ds));
    ck_ok(sslk_dataset_label(ds, 2, &one));
    ck_assert_int_eq(one, 7);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
    rm_tmp();
}
END_TEST

START_TEST(idx_corrupt_files) {
    mk_tmp();
    sslk_ctx *c = new_ctx();
    sslk_dataset *ds = NULL;
    uint8_t img[4 + 12 + 60];
    uint32_t d[] = {3, 4, 5};
    size_t ni = make_idx(img, 8, 3, d, 60);
    /* truncated data */
    write_file(tpath("a-images-idx3-ubyte"), img, ni - 1);
    ck_status(sslk_dataset_open(c, tpath("a-images-idx3-ubyte"), SSLK_SPLIT_TRAIN, &ds), SSLK_E_FORMAT);
    ck_assert_ptr_null(ds);
    ck_assert(strstr(sslk_last_error(), "truncated") != NULL);
    ck_assert(strstr(sslk_last_error(), "a-images-idx3-ubyte") != NULL);
    /* trailing bytes */
    uint8_t big[sizeof img + 1];
    memcpy(big, img, ni);
    big[ni] = 1;
    write_file(tpath("b-images-idx3-ubyte"), big, ni + 1);
    ck_status(sslk_dataset_open(c, tpath("b-images-idx3-ubyte"), SSLK_SPLIT_TRAIN, &ds), SSLK_E_FORMAT);
    /* bad magic */
    uint8_t bad[sizeof img];
    memcpy(bad, img, ni);
    bad[0] = 0x1f;
    write_file(tpath("c-images-idx3-ubyte"), bad, ni);
    ck_status(sslk_dataset_open(c, tpath("c-images-idx3-ubyte"), SSLK_SPLIT_TRAIN, &ds), SSLK_E_FORMAT);
    /* float element type: refused as unsupported */
    memcpy(bad, img, ni);
    bad[2] = 0x0D;
    write_file(tpath("d-images-idx3-ubyte"), bad, ni);
    ck_status(sslk_dataset_open(c, tpath("d-images-idx3-ubyte"), SSLK_SPLIT_TRAIN, &ds), SSLK_E_UNSUPPORTED);
    /* hostile header: 2^32-1 cubed would need exabytes; refused before any allocation */
    uint32_t hd[] = {0xffffffffu, 0xffffffffu, 0xffffffffu};
    uint8_t hb[16];
    make_idx(hb, 8, 3, hd, 0);
    write_file(tpath("e-images-idx3-ubyte"), hb, 16);
    sslk_status s = sslk_dataset_open(c, tpath("e-images-idx3-ubyte"), SSLK_SPLIT_TRAIN, &ds);
    ck_assert_msg(s == SSLK_E_FORMAT || s == SSLK_E_OVERFLOW, "%s", sslk_last_error());
    /* gzip stream cut in the middle */
    write_gz(tpath("f.gz"), img, ni);
    FILE *f = fopen(tpath("f.gz"), "rb");
    uint8_t gz[256];
    size_t gn = fread(gz, 1, sizeof gz, f);
    fclose(f);
    write_file(tpath("g-images-idx3-ubyte.gz"), gz, gn / 2);
    ck_status(sslk_dataset_open(c, tpath("g-images-idx3-ubyte.gz"), SSLK_SPLIT_TRAIN, &ds), SSLK_E_FORMAT);
    /* labels disagree with images */
    write_file(tpath("h-images-idx3-ubyte"), img, ni);
    uint8_t lab[4 + 4 + 2];
    uint32_t dl[] = {2};
    make_idx(lab, 8, 1, dl, 2);
    write_file(tpath("h-labels-idx1-ubyte"), lab, sizeof lab);
    ck_status(sslk_dataset_open(c, tpath("h-images-idx3-ubyte"), SSLK_SPLIT_TRAIN, &ds), SSLK_E_SHAPE);
    /* missing paths */
    ck_status(sslk_dataset_open(c, tpath("nope"), SSLK_SPLIT_TRAIN, &ds), SSLK_E_NOT_FOUND);
    ck_status(sslk_dataset_open(c, "no-such-dataset", SSLK_SPLIT_TRAIN, &ds), SSLK_E_NOT_FOUND);
    ck_assert(strstr(sslk_last_error(), "fashion-mnist") != NULL);
    ck_status(sslk_dataset_open(c, tmpdir, (sslk_split)7, &ds), SSLK_E_INVALID_ARG);
    ck_status(sslk_dataset_open(NULL, tmpdir, SSLK_SPLIT_TRAIN, &ds), SSLK_E_INVALID_ARG);
    sslk_ctx_destroy(c);
    rm_tmp();
}
END_TEST

START_TEST(fashion_mnist_default) {
    sslk_ctx *c = new_ctx();
    sslk_dataset *ds;
    /* The package's missing-data message names the Debian package. */
    setenv("SSLKIT_DATASETS_DIR", "/nonexistent-sslkit", 1);
    ck_status(sslk_dataset_open(c, "fashion-mnist", SSLK_SPLIT_TRAIN, &ds), SSLK_E_NOT_FOUND);
    ck_assert(strstr(sslk_last_error(), "dataset-fashion-mnist") != NULL);
    unsetenv("SSLKIT_DATASETS_DIR");
    ck_ok(sslk_dataset_open(c, "fashion-mnist", SSLK_SPLIT_TEST, &ds));
    size_t n, h, w, ch, k;
    ck_ok(sslk_dataset_count(ds, &n));
    ck_ok(sslk_dataset_shape(ds, &h, &w, &ch));
    ck_ok(sslk_dataset_num_classes(ds, &k));
    ck_assert_uint_eq(n, 10000);
    ck_assert_uint_eq(h * w * ch, 784);
    ck_assert_uint_eq(k, 10);
    int32_t *l = malloc(n * sizeof *l);
    ck_ok(sslk_dataset_labels(ds, l, n));
    size_t per[10] = {0};
    for (size_t i = 0; i < n; i++) per[l[i]]++;
    for (int j = 0; j < 10; j++) ck_assert_uint_eq(per[j], 1000); /* the test split is balanced */
    free(l);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
}
END_TEST

/* ====================================================================== CIFAR */
static void cifar_record(uint8_t *r, int lb, int label, int seed) {
    if (lb == 2) r[0] = (uint8_t)(label % 20);
    r[lb - 1] = (uint8_t)label;
    for (int p = 0; p < 3072; p++) r[lb + p] = (uint8_t)(p * 3 + seed);
}

START_TEST(cifar10_and_100) {
    mk_tmp();
    sslk_ctx *c = new_ctx();
    uint8_t *buf = malloc(3 * 3074);
    for (int i = 0; i < 3; i++) cifar_record(buf + i * 3073, 1, i * 3, i);
    for (int k = 1; k <= 5; k++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", k);
        write_file(tpath(name), buf, 3073 * (k == 5 ? 3 : 1));
    }
    write_file(tpath("test_batch.bin"), buf, 2 * 3073);
    sslk_dataset *ds;
    ck_ok(sslk_dataset_open(c, tmpdir, SSLK_SPLIT_TRAIN, &ds));
    size_t n, h, w, ch;
    ck_ok(sslk_dataset_count(ds, &n));
    ck_ok(sslk_dataset_shape(ds, &h, &w, &ch));
    ck_assert_uint_eq(n, 7);
    ck_assert_uint_eq(h, 32);
    ck_assert_uint_eq(ch, 3);
    /* item 6 is record 2 of batch 5: planes R, G, B -> HWC */
    uint8_t px[3072];
    ck_ok(sslk_dataset_read(ds, 6, px, sizeof px, NULL, NULL, NULL));
    size_t r = 5, col = 7, p = r * 32 + col;
    ck_assert_uint_eq(px[3 * p + 0], (uint8_t)(p * 3 + 2));
    ck_assert_uint_eq(px[3 * p + 1], (uint8_t)((1024 + p) * 3 + 2));
    ck_assert_uint_eq(px[3 * p + 2], (uint8_t)((2048 + p) * 3 + 2));
    int32_t l;
    ck_ok(sslk_dataset_label(ds, 6, &l));
    ck_assert_int_eq(l, 6);
    sslk_dataset_destroy(ds);
    ck_ok(sslk_dataset_open(c, tmpdir, SSLK_SPLIT_TEST, &ds));
    ck_ok(sslk_dataset_count(ds, &n));
    ck_assert_uint_eq(n, 2);
    sslk_dataset_destroy(ds);

    /* CIFAR-100: fine label is the second byte */
    for (int i = 0; i < 3; i++) cifar_record(buf + i * 3074, 2, 90 + i, i);
    write_file(tpath("c100.bin"), buf, 3 * 3074);
    ck_ok(sslk_dataset_open_kind(c, SSLK_DATASET_CIFAR100, tpath("c100.bin"), NULL, SSLK_SPLIT_TRAIN, &ds));
    ck_ok(sslk_dataset_label(ds, 2, &l));
    ck_assert_int_eq(l, 92);
    sslk_dataset_destroy(ds);
    /* corrupt: bad label, partial record */
    buf[3074 + 1] = 100;
    write_file(tpath("bad100.bin"), buf, 3 * 3074);
    ck_status(sslk_dataset_open_kind(c, SSLK_DATASET_CIFAR100, tpath("bad100.bin"), NULL, SSLK_SPLIT_TRAIN, &ds),
              SSLK_E_FORMAT);
    ck_assert(strstr(sslk_last_error(), "record 1") != NULL);
    write_file(tpath("short.bin"), buf, 3073 + 100);
    ck_status(sslk_dataset_open_kind(c, SSLK_DATASET_CIFAR10, tpath("short.bin"), NULL, SSLK_SPLIT_TRAIN, &ds),
              SSLK_E_FORMAT);
    ck_assert(strstr(sslk_last_error(), "short.bin") != NULL);
    free(buf);
    sslk_ctx_destroy(c);
    rm_tmp();
}
END_TEST

/* ======================================================================== NPY */
static size_t npy_bytes(uint8_t *out, const char *descr, const char *shape, const void *data, size_t n) {
    char dict[256];
    int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    size_t hl = (size_t)k + 1;
    while ((10 + hl) % 64) hl++;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (uint8_t)(hl & 0xff);
    out[9] = (uint8_t)(hl >> 8);
    memcpy(out + 10, dict, (size_t)k);
    memset(out + 10 + k, ' ', hl - (size_t)k - 1);
    out[10 + hl - 1] = '\n';
    memcpy(out + 10 + hl, data, n);
    return 10 + hl + n;
}

START_TEST(npy_images_and_labels) {
    mk_tmp();
    sslk_ctx *c = new_ctx();
    uint8_t px[2 * 3 * 4 * 3], buf[1024];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 5);
    size_t n = npy_bytes(buf, "|u1", "(2, 3, 4, 3)", px, sizeof px);
    write_file(tpath("train_images.npy"), buf, n);
    int64_t lab[2] = {4, 1};
    n = npy_bytes(buf, "<i8", "(2,)", lab, sizeof lab);
    write_file(tpath("train_labels.npy"), buf, n);
    sslk_dataset *ds;
    ck_ok(sslk_dataset_open(c, tmpdir, SSLK_SPLIT_TRAIN, &ds));
    size_t h, w, ch, k;
    ck_ok(sslk_dataset_shape(ds, &h, &w, &ch));
    ck_assert_uint_eq(h, 3);
    ck_assert_uint_eq(w, 4);
    ck_assert_uint_eq(ch, 3);
    ck_ok(sslk_dataset_num_classes(ds, &k));
    ck_assert_uint_eq(k, 5);
    uint8_t got[36];
    ck_ok(sslk_dataset_read(ds, 1, got, sizeof got, NULL, NULL, NULL));
    ck_assert_mem_eq(got, px + 36, 36);
    sslk_dataset_destroy(ds);

    /* float32 gray in [0,1] -> uint8, file path with <stem>_labels.npy */
    float fx[2 * 2 * 2];
    for (int i = 0; i < 8; i++) fx[i] = (float)(i * 30) / 255.0f;
    n = npy_bytes(buf, "<f4", "(2, 2, 2)", fx, sizeof fx);
    write_file(tpath("f.npy"), buf, n);
    uint8_t l8[2] = {3, 0};
    n = npy_bytes(buf, "|u1", "(2,)", l8, 2);
    write_file(tpath("f_labels.npy"), buf, n);
    ck_ok(sslk_dataset_open(c, tpath("f.npy"), SSLK_SPLIT_TRAIN, &ds));
    ck_ok(sslk_dataset_read(ds, 1, got, sizeof got, &h, &w, &ch));
    ck_assert_uint_eq(ch, 1);
    for (int i = 0; i < 4; i++) ck_assert_uint_eq(got[i], (4 + i) * 30);
    int32_t l;
    ck_ok(sslk_dataset_label(ds, 0, &l));
    ck_assert_int_eq(l, 3);
    sslk_dataset_destroy(ds);

    /* hostile and corrupt */
    fx[3] = 1.5f;
    n = npy_bytes(buf, "<f4", "(2, 2, 2)", fx, sizeof fx);
    write_file(tpath("r.npy"), buf, n);
    ck_status(sslk_dataset_open(c, tpath("r.npy"), SSLK_SPLIT_TRAIN, &ds), SSLK_E_RANGE);
    fx[3] = NAN;
    n = npy_bytes(buf, "<f4", "(2, 2, 2)", fx, sizeof fx);
    write_file(tpath("nan.npy"), buf, n);
    ck_status(sslk_dataset_open(c, tpath("nan.npy"), SSLK_SPLIT_TRAIN, &ds), SSLK_E_NONFINITE);
    n = npy_bytes(buf, "|u1", "(2, 3, 4, 3)", px, sizeof px);
    write_file(tpath("trunc.npy"), buf, n - 5);
    ck_status(sslk_dataset_open(c, tpath("trunc.npy"), SSLK_SPLIT_TRAIN, &ds), SSLK_E_FORMAT);
    ck_assert(strstr(sslk_last_error(), "truncated") != NULL);
    n = npy_bytes(buf, "|u1", "(99999999999, 99999999999, 99999999999)", px, 0);
    write_file(tpath("huge.npy"), buf, n);
    ck_status(sslk_dataset_open(c, tpath("huge.npy"), SSLK_SPLIT_TRAIN, &ds), SSLK_E_OVERFLOW);
    n = npy_bytes(buf, "|u1", "(2, 3, 4, 2)", px, 48);
    write_file(tpath("c2.npy"), buf, n);
    ck_status(sslk_dataset_open(c, tpath("c2.npy"), SSLK_SPLIT_TRAIN, &ds), SSLK_E_SHAPE);
    n = npy_bytes(buf, "<c8", "(1, 1, 1)", px, 8);
    write_file(tpath("cplx.npy"), buf, n);
    ck_status(sslk_dataset_open(c, tpath("cplx.npy"), SSLK_SPLIT_TRAIN, &ds), SSLK_E_DTYPE);
    n = npy_bytes(buf, "|u1", "(2, 3, 4, 3)", px, sizeof px);
    buf[8] = 0xff, buf[9] = 0xff; /* header length past the end */
    write_file(tpath("hl.npy"), buf, n);
    ck_status(sslk_dataset_open(c, tpath("hl.npy"), SSLK_SPLIT_TRAIN, &ds), SSLK_E_FORMAT);
    sslk_ctx_destroy(c);
    rm_tmp();
}
END_TEST

/* ======================================================================= JPEG */
/* Write a w x h RGB JPEG filled with one colour (or a gradient when grad). */
static void write_jpeg(const char *path, int w, int h, const uint8_t rgb[3], int grad) {
    uint8_t *px = malloc((size_t)w * (size_t)h * 3);
    for (int i = 0; i < w * h; i++)
        for (int k = 0; k < 3; k++) px[3 * i + k] = grad ? (uint8_t)((i % w) * 255 / (w - 1)) : rgb[k];
    tjhandle t = tjInitCompress();
    unsigned char *jb = NULL;
    unsigned long jn = 0;
    ck_assert_int_eq(tjCompress2(t, px, w, 0, h, TJPF_RGB, &jb, &jn, TJSAMP_444, 95, 0), 0);
    write_file(path, jb, jn);
    tjFree(jb);
    tjDestroy(t);
    free(px);
}

START_TEST(jpeg_folder_and_cache) {
    mk_tmp();
    sslk_ctx *c = new_ctx();
    char root[512];
    snprintf(root, sizeof root, "%s/img", tmpdir);
    mkdir(root, 0755);
    mkdir(tpath("img/cat"), 0755);
    mkdir(tpath("img/dog"), 0755);
    const uint8_t red[3] = {200, 30, 40}, blue[3] = {20, 60, 210};
    write_jpeg(tpath("img/cat/b.jpg"), 40, 24, red, 0);
    write_jpeg(tpath("img/cat/a.JPEG"), 16, 16, red, 0);
    write_jpeg(tpath("img/dog/x.jpg"), 33, 17, blue, 0);
    write_file(tpath("img/dog/notes.txt"), "hi", 2);
    mkdir(tpath("img/x1"), 0755); /* empty class folders keep their label slots */
    mkdir(tpath("img/x2"), 0755);
    sslk_dataset *ds;
    ck_ok(sslk_dataset_open_folder(c, root, tpath("list.txt"), &ds));
    size_t n, h, w, ch, k;
    ck_ok(sslk_dataset_count(ds, &n));
    ck_ok(sslk_dataset_shape(ds, &h, &w, &ch));
    ck_ok(sslk_dataset_num_classes(ds, &k));
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(h, 0); /* sizes vary */
    ck_assert_uint_eq(ch, 3);
    ck_assert_uint_eq(k, 4);
    int32_t l[3];
    ck_ok(sslk_dataset_labels(ds, l, 3));
    ck_assert_int_eq(l[0], 0);
    ck_assert_int_eq(l[1], 0);
    ck_assert_int_eq(l[2], 1);
    /* sorted: a.JPEG (16x16) before b.jpg (40x24) */
    ck_ok(sslk_dataset_image_shape(ds, 1, &h, &w, &ch));
    ck_assert_uint_eq(h, 24);
    ck_assert_uint_eq(w, 40);
    uint8_t px[33 * 17 * 3];
    ck_ok(sslk_dataset_read(ds, 2, px, sizeof px, &h, &w, &ch));
    ck_assert_uint_eq(w, 33);
    for (size_t i = 0; i < h * w; i++)
        for (int q = 0; q < 3; q++) ck_assert_int_le(abs((int)px[3 * i + q] - blue[q]), 4);
    /* a subset of a JPEG folder reads through the parent's decoder: variable
     * sizes, labels, and a loader that crops views from the decoded files */
    const size_t pick[2] = {2, 1};
    sslk_dataset *sub;
    ck_ok(sslk_dataset_subset(ds, pick, 2, &sub));
    ck_ok(sslk_dataset_shape(sub, &h, &w, &ch));
    ck_assert(h == 0 && w == 0 && ch == 3);
    ck_ok(sslk_dataset_image_shape(sub, 1, &h, &w, &ch));
    ck_assert(h == 24 && w == 40);
    int32_t sl[2];
    ck_ok(sslk_dataset_labels(sub, sl, 2));
    ck_assert(sl[0] == 1 && sl[1] == 0);
    uint8_t px2[33 * 17 * 3];
    ck_ok(sslk_dataset_read(sub, 0, px2, sizeof px2, &h, &w, &ch));
    ck_assert(h == 17 && w == 33 && memcmp(px, px2, sizeof px) == 0);
    sslk_augment *aug;
    ck_ok(sslk_augment_create(c, 1, &aug));
    ck_ok(sslk_augment_preset(aug, -1, SSLK_AUG_PRESET_PLAIN));
    ck_ok(sslk_augment_set_i64(aug, -1, SSLK_AUG_SIZE, 8));
    sslk_loader *ld;
    ck_ok(sslk_loader_create(c, sub, aug, 2, &ld));
    float v[2 * 3 * 8 * 8];
    float *views[1] = {v};
    int64_t idx[2];
    size_t r;
    ck_ok(sslk_loader_begin_epoch(ld, 0));
    ck_ok(sslk_loader_next(ld, views, sl, idx, &r));
    ck_assert_uint_eq(r, 2);
    for (size_t b = 0; b < 2; b++) { /* subset item 0 is the blue dog, item 1 the red cat */
        double red = 0, bl = 0;
        for (size_t p = 0; p < 64; p++) {
            red += v[b * 192 + p];
            bl += v[b * 192 + 128 + p];
        }
        ck_assert_msg(idx[b] == 0 ? bl > red + 20 : red > bl + 20, "row %zu (item %lld) has the wrong colours", b,
                      (long long)idx[b]);
        ck_assert_int_eq(sl[b], idx[b] == 0 ? 1 : 0);
    }
    sslk_loader_destroy(ld);
    sslk_augment_destroy(aug);
    sslk_dataset_destroy(sub);
    sslk_dataset_destroy(ds);
    /* The cache is used: a file added after it was written stays invisible. */
    write_jpeg(tpath("img/dog/y.jpg"), 8, 8, blue, 0);
    ck_ok(sslk_dataset_open_folder(c, root, tpath("list.txt"), &ds));
    ck_ok(sslk_dataset_count(ds, &n));
    ck_assert_uint_eq(n, 3);
    ck_ok(sslk_dataset_num_classes(ds, &k));
    ck_assert_uint_eq(k, 4); /* more classes than images: still a valid cache */
    sslk_dataset_destroy(ds);
    ck_ok(sslk_dataset_open_folder(c, root, NULL, &ds));
    ck_ok(sslk_dataset_count(ds, &n));
    ck_assert_uint_eq(n, 4);
    sslk_dataset_destroy(ds);
    /* hostile cache: escaping path, bad label */
    const char *evil = "sslkit-filelist 1\nroot %s\ncount 1 classes 2\n0\t../../etc/passwd\n";
    char txt[1024];
    int tn = snprintf(txt, sizeof txt, evil, root);
    write_file(tpath("evil.txt"), txt, (size_t)tn);
    ck_status(sslk_dataset_open_folder(c, root, tpath("evil.txt"), &ds), SSLK_E_FORMAT);
    tn = snprintf(txt, sizeof txt, "sslkit-filelist 1\nroot %s\ncount 1 classes 2\n5\tcat/a.JPEG\n", root);
    write_file(tpath("evil2.txt"), txt, (size_t)tn);
    ck_status(sslk_dataset_open_folder(c, root, tpath("evil2.txt"), &ds), SSLK_E_FORMAT);
    /* a cache for another root is replaced by a fresh scan */
    tn = snprintf(txt, sizeof txt, "sslkit-filelist 1\nroot /elsewhere\ncount 1 classes 0\n-1\tz.jpg\n");
    write_file(tpath("other.txt"), txt, (size_t)tn);
    ck_ok(sslk_dataset_open_folder(c, root, tpath("other.txt"), &ds));
    ck_ok(sslk_dataset_count(ds, &n));
    ck_assert_uint_eq(n, 4);
    sslk_dataset_destroy(ds);
    /* root/train + root/val select the split through sslk_dataset_open */
    mkdir(tpath("sp"), 0755);
    mkdir(tpath("sp/train"), 0755);
    mkdir(tpath("sp/val"), 0755);
    write_jpeg(tpath("sp/train/1.jpg"), 8, 8, red, 0);
    write_jpeg(tpath("sp/train/2.jpg"), 8, 8, red, 0);
    write_jpeg(tpath("sp/val/3.jpg"), 8, 8, red, 0);
    ck_ok(sslk_dataset_open(c, tpath("sp"), SSLK_SPLIT_TEST, &ds));
    ck_ok(sslk_dataset_count(ds, &n));
    ck_assert_uint_eq(n, 1);
    ck_ok(sslk_dataset_num_classes(ds, &k));
    ck_assert_uint_eq(k, 0); /* flat folder: unlabeled */
    sslk_dataset_destroy(ds);
    ck_status(sslk_dataset_open_folder(c, tpath("img/cat/a.JPEG"), NULL, &ds), SSLK_E_NOT_FOUND);
    sslk_ctx_destroy(c);
    rm_tmp();
}
END_TEST

START_TEST(jpeg_dct_scaling_and_corrupt) {
    mk_tmp();
    sslk_ctx *c = new_ctx();
    const uint8_t g[3] = {128, 128, 128};
    write_jpeg(tpath("big.jpg"), 256, 192, g, 1);
    FILE *f = fopen(tpath("big.jpg"), "rb");
    uint8_t *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    ssli_scratch sc;
    ssli_scratch_init(&sc, c);
    ssli_image img;
    size_t fw, fh;
    /* need 60 x 40: 1/4 gives 64 x 48 (1/8 gives 32 x 24, too small) */
    ck_ok(ssli_jpeg_decode_mem(&sc, buf, n, 60, 40, 16384, 0, 1, 0, &img, &fw, &fh, "big.jpg"));
    ck_assert_uint_eq(fw, 256);
    ck_assert_uint_eq(img.w, 64);
    ck_assert_uint_eq(img.h, 48);
    /* the gradient survives: left dark, right bright */
    ck_assert_int_lt(img.data[3 * (20 * 64 + 1)], 30);
    ck_assert_int_gt(img.data[3 * (20 * 64 + 62)], 225);
    /* need 65 wide: 1/2 -> 128 x 96 (the slower 3/8 path is never chosen) */
    ck_ok(ssli_jpeg_decode_mem(&sc, buf, n, 65, 1, 16384, 0, 1, 0, &img, NULL, NULL, "big.jpg"));
    ck_assert_uint_eq(img.w, 128);
    ck_assert_uint_eq(img.h, 96);
    /* need 129: full size */
    ck_ok(ssli_jpeg_decode_mem(&sc, buf, n, 129, 1, 16384, 0, 1, 0, &img, NULL, NULL, "big.jpg"));
    ck_assert_uint_eq(img.w, 256);
    /* scaling off -> full size */
    ck_ok(ssli_jpeg_decode_mem(&sc, buf, n, 1, 1, 16384, 0, 0, 0, &img, NULL, NULL, "big.jpg"));
    ck_assert_uint_eq(img.w, 256);
    /* side limit */
    ck_status(ssli_jpeg_decode_mem(&sc, buf, n, 1, 1, 100, 0, 1, 0, &img, NULL, NULL, "big.jpg"), SSLK_E_FORMAT);
    /* truncated stream: premature end is corrupt */
    ck_status(ssli_jpeg_decode_mem(&sc, buf, n / 2, 256, 192, 16384, 0, 1, 0, &img, NULL, NULL, "cut.jpg"),
              SSLK_E_FORMAT);
    ck_assert(strstr(sslk_last_error(), "cut.jpg") != NULL);
    /* decompression bomb: a small file whose SOF claims 10000 x 10000 */
    for (size_t k = 0; k + 8 < n; k++)
        if (buf[k] == 0xFF && buf[k + 1] == 0xC0) {
            buf[k + 5] = 0x27, buf[k + 6] = 0x10, buf[k + 7] = 0x27, buf[k + 8] = 0x10;
            break;
        }
    ck_status(ssli_jpeg_decode_mem(&sc, buf, n, 10000, 10000, 16384, 0, 1, 0, &img, &fw, &fh, "bomb.jpg"), SSLK_E_LIMIT);
    ck_assert(strstr(sslk_last_error(), "max_image_pixels") != NULL);
    /* garbage */
    memset(buf, 0x41, 100);
    ck_status(ssli_jpeg_decode_mem(&sc, buf, 100, 1, 1, 16384, 0, 1, 0, &img, NULL, NULL, "junk.jpg"), SSLK_E_FORMAT);
    ssli_scratch_free(&sc);
    free(buf);
    sslk_ctx_destroy(c);
    rm_tmp();
}
END_TEST

/* ---- issue 12: hostile JPEGs ------------------------------------------------ */
/* A w x h gradient JPEG in memory (caller tjFree()s it). */
static unsigned char *encode_jpeg(int w, int h, int flags, unsigned long *n) {
    uint8_t *px = malloc((size_t)w * (size_t)h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = px + 3 * ((size_t)y * (size_t)w + (size_t)x);
            p[0] = (uint8_t)(x * 255 / (w - 1));
            p[1] = (uint8_t)(y * 255 / (h - 1));
            p[2] = (uint8_t)((x * y) & 255);
        }
    tjhandle t = tjInitCompress();
    unsigned char *jb = NULL;
    *n = 0;
    ck_assert_int_eq(tjCompress2(t, px, w, 0, h, TJPF_RGB, &jb, n, TJSAMP_420, 90, flags), 0);
    tjDestroy(t);
    free(px);
    return jb;
}

/* Offset of the k-th (0-based) marker 0xFF m at or after from, or 0. */
static size_t find_marker(const unsigned char *b, size_t n, unsigned m, size_t from, int k) {
    for (size_t i = from; i + 1 < n; i++)
        if (b[i] == 0xFF && b[i + 1] == m && k-- == 0) return i;
    return 0;
}

/* Every cut of a progressive JPEG is refused: before the fix a fatal error that
 * followed libjpeg's "premature end" warning was reported by TurboJPEG 2.1 as a
 * warning, and the pixels came back as whatever the allocator left there. */
START_TEST(jpeg_truncated_progressive_refused) {
    sslk_ctx *c = new_ctx();
    unsigned long n;
    unsigned char *jb = encode_jpeg(96, 64, TJFLAG_PROGRESSIVE, &n);
    ck_assert_uint_gt(find_marker(jb, n, 0xC2, 0, 0), 0); /* really progressive (SOF2) */
    ssli_image img;
    size_t sos = find_marker(jb, n, 0xDA, 0, 0), accepted = 0, first_bad = 0;
    for (size_t cut = sos + 2; cut < n; cut++) {
        ssli_scratch sc; /* a fresh decoder each time: see jpeg_decoder_survives_errors */
        ssli_scratch_init(&sc, c);
        sslk_status s = ssli_jpeg_decode_mem(&sc, jb, cut, 96, 64, 16384, 0, 0, 0, &img, NULL, NULL, "cut.jpg");
        if (s == SSLK_OK) {
            if (!accepted) first_bad = cut;
            accepted++;
        } else {
            ck_assert_int_eq(s, SSLK_E_FORMAT);
            ck_assert_msg(strstr(sslk_last_error(), "cut.jpg") != NULL, "%s", sslk_last_error());
        }
        ssli_scratch_free(&sc);
    }
    ck_assert_msg(accepted == 0, "%zu of %zu cuts accepted (first at %zu of %lu bytes)", accepted,
                  n - sos - 2, first_bad, n);
    tjFree(jb);
    sslk_ctx_destroy(c);
}
END_TEST

/* TurboJPEG 2.1 leaves its handle mid-header after a fatal error in
 * tjDecompressHeader3, and every later header on it fails: one bad file must
 * not poison the worker's decoder for the good files after it. */
START_TEST(jpeg_decoder_survives_errors) {
    sslk_ctx *c = new_ctx();
    unsigned long n;
    unsigned char *jb = encode_jpeg(96, 64, TJFLAG_PROGRESSIVE, &n);
    size_t sos = find_marker(jb, n, 0xDA, 0, 0);
    ssli_scratch sc;
    ssli_scratch_init(&sc, c);
    ssli_image img;
    for (size_t cut = sos - 20; cut < n; cut += 7) {
        ck_assert_int_ne(ssli_jpeg_decode_mem(&sc, jb, cut, 96, 64, 16384, 0, 0, 0, &img, NULL, NULL, "cut.jpg"),
                         SSLK_OK);
        ck_ok(ssli_jpeg_decode_mem(&sc, jb, n, 96, 64, 16384, 0, 0, 0, &img, NULL, NULL, "whole.jpg"));
        ck_assert_uint_eq(img.w, 96);
    }
    ssli_scratch_free(&sc);
    tjFree(jb);
    sslk_ctx_destroy(c);
}
END_TEST

/* libjpeg keeps Huffman tables in its handle between images: a file whose
 * scan uses a table it never defines (here a grey baseline JPEG switched to
 * table 1) must decode the same after another file defined that table. */
START_TEST(jpeg_decode_independent_of_previous_file) {
    sslk_ctx *c = new_ctx();
    unsigned long na, nb;
    unsigned char *a = encode_jpeg(96, 64, TJFLAG_PROGRESSIVE, &na);
    uint8_t *px = malloc(40 * 32);
    for (int i = 0; i < 40 * 32; i++) px[i] = (uint8_t)((i * 37) & 255);
    tjhandle t = tjInitCompress();
    unsigned char *b = NULL;
    nb = 0;
    ck_assert_int_eq(tjCompress2(t, px, 40, 0, 32, TJPF_GRAY, &b, &nb, TJSAMP_GRAY, 90, 0), 0);
    tjDestroy(t);
    size_t sos = find_marker(b, nb, 0xDA, 0, 0);
    ck_assert_int_eq(b[sos + 4], 1); /* one component */
    b[sos + 6] = 0x11;               /* DC and AC table 1, never defined in b */
    ssli_image img;
    ssli_scratch sc;
    ssli_scratch_init(&sc, c);
    for (int lenient = 0; lenient <= 1; lenient++) {
        sslk_status s1 = ssli_jpeg_decode_mem(&sc, b, nb, 40, 32, 16384, 0, 0, lenient, &img, NULL, NULL, "b.jpg");
        uint8_t *first = malloc(40 * 32 * 3);
        if (s1 == SSLK_OK) memcpy(first, img.data, 40 * 32 * 3);
        ck_ok(ssli_jpeg_decode_mem(&sc, a, na, 96, 64, 16384, 0, 0, lenient, &img, NULL, NULL, "a.jpg"));
        sslk_status s2 = ssli_jpeg_decode_mem(&sc, b, nb, 40, 32, 16384, 0, 0, lenient, &img, NULL, NULL, "b.jpg");
        ck_assert_msg(s1 == s2, "lenient %d: b.jpg alone -> %s, after a.jpg -> %s", lenient, sslk_status_str(s1),
                      sslk_status_str(s2));
        if (s1 == SSLK_OK) ck_assert_int_eq(memcmp(first, img.data, 40 * 32 * 3), 0);
        free(first);
    }
    ssli_scratch_free(&sc);
    free(px);
    tjFree(a);
    tjFree(b);
    sslk_ctx_destroy(c);
}
END_TEST

/* A warning then a fatal error: junk before the second scan's marker (warning
 * "extraneous bytes"), then a scan naming a component that does not exist
 * (fatal).  Refused, never pixels. */
START_TEST(jpeg_fatal_after_warning_refused) {
    sslk_ctx *c = new_ctx();
    unsigned long n;
    unsigned char *jb = encode_jpeg(64, 48, TJFLAG_PROGRESSIVE, &n);
    size_t sos2 = find_marker(jb, n, 0xDA, 0, 1), sos3 = find_marker(jb, n, 0xDA, 0, 2);
    ck_assert_uint_gt(sos3, sos2);
    /* the SOS component selector of scan 3 becomes id 9 (not in the frame) */
    unsigned char *m = malloc(n + 2);
    memcpy(m, jb, sos2);
    m[sos2] = 0x12, m[sos2 + 1] = 0x34; /* two extraneous bytes before a marker */
    memcpy(m + sos2 + 2, jb + sos2, n - sos2);
    m[sos3 + 2 + 5] = 9;
    ssli_scratch sc;
    ssli_scratch_init(&sc, c);
    ssli_image img;
    ck_status(ssli_jpeg_decode_mem(&sc, m, n + 2, 64, 48, 16384, 0, 0, 0, &img, NULL, NULL, "warnfatal.jpg"),
              SSLK_E_FORMAT);
    ck_assert_msg(strstr(sslk_last_error(), "warnfatal.jpg") != NULL, "%s", sslk_last_error());
    ssli_scratch_free(&sc);
    free(m);
    tjFree(jb);
    sslk_ctx_destroy(c);
}
END_TEST

/* Entropy data cut short but the EOI kept: libjpeg warns "Corrupt JPEG data:
 * premature end of data segment" and fills the rest with grey; the old check
 * matched only "Premature end" (capital P) and accepted it. */
START_TEST(jpeg_premature_end_of_segment_refused) {
    sslk_ctx *c = new_ctx();
    unsigned long n;
    unsigned char *jb = encode_jpeg(96, 64, 0, &n);
    size_t sos = find_marker(jb, n, 0xDA, 0, 0);
    size_t keep = sos + (n - sos) / 3;
    unsigned char *m = malloc(keep + 2);
    memcpy(m, jb, keep);
    m[keep] = 0xFF, m[keep + 1] = 0xD9;
    ssli_scratch sc;
    ssli_scratch_init(&sc, c);
    ssli_image img;
    ck_status(ssli_jpeg_decode_mem(&sc, m, keep + 2, 96, 64, 16384, 0, 0, 0, &img, NULL, NULL, "seg.jpg"),
              SSLK_E_FORMAT);
    ck_assert_msg(strstr(sslk_last_error(), "premature end of data segment") != NULL, "%s", sslk_last_error());
    ck_assert_msg(strstr(sslk_last_error(), "seg.jpg") != NULL, "%s", sslk_last_error());
    ssli_scratch_free(&sc);
    free(m);
    tjFree(jb);
    sslk_ctx_destroy(c);
}
END_TEST

/* A few hundred bytes claiming 16384 x 16384: refused from the header against
 * SSLK_CTX_MAX_IMAGE_PIXELS before libjpeg allocates its 1.5 GiB of coefficients. */
START_TEST(jpeg_pixel_limit_from_header) {
    sslk_ctx *c = new_ctx();
    unsigned long n;
    unsigned char *jb = encode_jpeg(16, 16, TJFLAG_PROGRESSIVE, &n);
    ck_assert_uint_lt(n, 2000);
    size_t sof = find_marker(jb, n, 0xC2, 0, 0);
    jb[sof + 5] = 0x40, jb[sof + 6] = 0x00, jb[sof + 7] = 0x40, jb[sof + 8] = 0x00;
    ssli_scratch sc;
    ssli_scratch_init(&sc, c);
    ssli_image img;
    size_t fw = 0, fh = 0;
    ck_status(ssli_jpeg_decode_mem(&sc, jb, n, 1, 1, 16384, 0, 1, 0, &img, &fw, &fh, "tiny-bomb.jpg"), SSLK_E_LIMIT);
    ck_assert_msg(strstr(sslk_last_error(), "max_image_pixels") != NULL, "%s", sslk_last_error());
    ck_assert_msg(strstr(sslk_last_error(), "tiny-bomb.jpg") != NULL, "%s", sslk_last_error());
    ck_assert_msg(strstr(sslk_last_error(), "268435456") != NULL, "%s", sslk_last_error());
    tjFree(jb);
    /* the limit is the context's: 96 x 64 = 6144 pixels against 6000, then 6144 */
    jb = encode_jpeg(96, 64, 0, &n);
    ck_ok(sslk_ctx_set_i64(c, SSLK_CTX_MAX_IMAGE_PIXELS, 6000));
    ck_status(ssli_jpeg_decode_mem(&sc, jb, n, 1, 1, 16384, 0, 1, 0, &img, NULL, NULL, "small.jpg"), SSLK_E_LIMIT);
    ck_ok(sslk_ctx_set_i64(c, SSLK_CTX_MAX_IMAGE_PIXELS, 6144));
    ck_ok(ssli_jpeg_decode_mem(&sc, jb, n, 96, 64, 16384, 0, 1, 0, &img, NULL, NULL, "small.jpg"));
    ck_assert_uint_eq(img.w * img.h, 6144);
    ssli_scratch_free(&sc);
    tjFree(jb);
    sslk_ctx_destroy(c);
}
END_TEST

/* SSLK_DATASET_JPEG_LENIENT: a JPEG that decodes completely with a warning
 * (two stray bytes before its first SOS marker) is refused by default and
 * accepted with the same pixels as the clean file when lenient; truncation and
 * fatal errors stay refused in both modes. */
static void stray_bytes(const unsigned char *jb, size_t n, unsigned char *m) {
    size_t at = find_marker(jb, n, 0xDA, 0, 0);
    memcpy(m, jb, at);
    m[at] = 0x12, m[at + 1] = 0x34;
    memcpy(m + at + 2, jb + at, n - at);
}

START_TEST(jpeg_lenient_mode) {
    mk_tmp();
    sslk_ctx *c = new_ctx();
    unsigned long n;
    unsigned char *jb = encode_jpeg(96, 64, TJFLAG_PROGRESSIVE, &n);
    unsigned char *m = malloc(n + 2);
    stray_bytes(jb, n, m);
    ssli_scratch sc;
    ssli_scratch_init(&sc, c);
    ssli_image img;
    ck_ok(ssli_jpeg_decode_mem(&sc, jb, n, 96, 64, 16384, 0, 0, 0, &img, NULL, NULL, "clean.jpg"));
    uint8_t *clean = malloc(96 * 64 * 3);
    memcpy(clean, img.data, 96 * 64 * 3);
    ck_status(ssli_jpeg_decode_mem(&sc, m, n + 2, 96, 64, 16384, 0, 0, 0, &img, NULL, NULL, "stray.jpg"),
              SSLK_E_FORMAT);
    ck_assert_msg(strstr(sslk_last_error(), "extraneous bytes") != NULL, "%s", sslk_last_error());
    memset(sc.pix, 0xAA, sc.pix_cap);
    ck_ok(ssli_jpeg_decode_mem(&sc, m, n + 2, 96, 64, 16384, 0, 0, 1, &img, NULL, NULL, "stray.jpg"));
    ck_assert_int_eq(memcmp(img.data, clean, 96 * 64 * 3), 0);
    /* lenient still refuses a cut file and a fatal error after a warning */
    ck_status(ssli_jpeg_decode_mem(&sc, jb, n / 2, 96, 64, 16384, 0, 0, 1, &img, NULL, NULL, "cut.jpg"),
              SSLK_E_FORMAT);
    ck_assert_msg(strstr(sslk_last_error(), "Premature end") != NULL, "%s", sslk_last_error());
    size_t accepted = 0;
    for (size_t cut = find_marker(jb, n, 0xDA, 0, 0) + 2; cut < n; cut++)
        accepted += ssli_jpeg_decode_mem(&sc, jb, cut, 96, 64, 16384, 0, 0, 1, &img, NULL, NULL, "cut.jpg") == SSLK_OK;
    ck_assert_uint_eq(accepted, 0);
    /* the warning then a fatal error (jpeg_fatal_after_warning_refused's file) */
    size_t sos2 = find_marker(jb, n, 0xDA, 0, 1), sos3 = find_marker(jb, n, 0xDA, 0, 2);
    memcpy(m, jb, sos2);
    m[sos2] = 0x12, m[sos2 + 1] = 0x34;
    memcpy(m + sos2 + 2, jb + sos2, n - sos2);
    m[sos3 + 2 + 5] = 9;
    ck_status(ssli_jpeg_decode_mem(&sc, m, n + 2, 96, 64, 16384, 0, 0, 1, &img, NULL, NULL, "warnfatal.jpg"),
              SSLK_E_FORMAT);
    ck_assert_msg(strstr(sslk_last_error(), "component ID") != NULL, "%s", sslk_last_error());
    /* through a folder dataset: the setting is read per decode */
    ck_assert_int_eq(mkdir(tpath("len"), 0755), 0);
    stray_bytes(jb, n, m);
    write_file(tpath("len/a.jpg"), m, n + 2);
    sslk_dataset *ds;
    ck_ok(sslk_dataset_open_folder(c, tpath("len"), NULL, &ds));
    int64_t v = -1;
    ck_ok(sslk_dataset_get_i64(ds, SSLK_DATASET_JPEG_LENIENT, &v));
    ck_assert_int_eq(v, 0);
    uint8_t *px = malloc(96 * 64 * 3);
    ck_status(sslk_dataset_read(ds, 0, px, 96 * 64 * 3, NULL, NULL, NULL), SSLK_E_FORMAT);
    ck_ok(sslk_dataset_set_i64(ds, SSLK_DATASET_JPEG_LENIENT, 1));
    ck_ok(sslk_dataset_read(ds, 0, px, 96 * 64 * 3, NULL, NULL, NULL));
    ck_assert_int_eq(memcmp(px, clean, 96 * 64 * 3), 0);
    int key;
    ck_ok(sslk_setting_find("dataset", "jpeg_lenient", &key));
    ck_assert_int_eq(key, SSLK_DATASET_JPEG_LENIENT);
    sslk_dataset_destroy(ds);
    free(px);
    free(clean);
    free(m);
    ssli_scratch_free(&sc);
    tjFree(jb);
    sslk_ctx_destroy(c);
    rm_tmp();
}
END_TEST

/* ---- issue 12: a FIFO named *.jpg must not block a read --------------------- */
START_TEST(fifo_named_jpg_never_blocks) {
    mk_tmp();
    sslk_ctx *c = new_ctx();
    const uint8_t red[3] = {200, 10, 10};
    ck_assert_int_eq(mkdir(tpath("ff"), 0755), 0);
    ck_assert_int_eq(mkfifo(tpath("ff/a.jpg"), 0644), 0);
    write_jpeg(tpath("ff/b.jpg"), 8, 8, red, 0);
    /* a direct read of the FIFO is refused as not a regular file */
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    ck_status(ssli_read_file_into(c, tpath("ff/a.jpg"), 1 << 20, &buf, &cap, &len, "t"), SSLK_E_IO);
    ck_assert_msg(strstr(sslk_last_error(), "not a regular file") != NULL, "%s", sslk_last_error());
    ck_status(ssli_read_file(c, tpath("ff/a.jpg"), 1 << 20, 1, &buf, &len, "t"), SSLK_E_IO);
    ssli_free(c, buf);
    /* listing skips it */
    sslk_dataset *ds;
    size_t cnt = 0;
    ck_ok(sslk_dataset_open_folder(c, tpath("ff"), NULL, &ds));
    ck_ok(sslk_dataset_count(ds, &cnt));
    ck_assert_uint_eq(cnt, 1);
    size_t h, w, ch;
    ck_ok(sslk_dataset_image_shape(ds, 0, &h, &w, &ch));
    ck_assert_uint_eq(w, 8);
    sslk_dataset_destroy(ds);
    /* a file-list cache naming the FIFO: the item read fails instead of blocking */
    char txt[1024];
    int tn = snprintf(txt, sizeof txt, "sslkit-filelist 1\nroot %s\ncount 2 classes 0\n-1\ta.jpg\n-1\tb.jpg\n",
                      tpath("ff"));
    write_file(tpath("list.txt"), txt, (size_t)tn);
    ck_ok(sslk_dataset_open_folder(c, tpath("ff"), tpath("list.txt"), &ds));
    ck_status(sslk_dataset_image_shape(ds, 0, &h, &w, &ch), SSLK_E_IO);
    ck_assert_msg(strstr(sslk_last_error(), "a.jpg") != NULL, "%s", sslk_last_error());
    ck_ok(sslk_dataset_image_shape(ds, 1, &h, &w, &ch));
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
    rm_tmp();
}
END_TEST

/* ---- issue 12: sizes from headers against SSLK_CTX_MAX_FILE_BYTES ----------- */
START_TEST(idx_and_cifar_file_limit) {
    mk_tmp();
    sslk_ctx *c = new_ctx();
    sslk_dataset *ds = NULL;
    /* 100 images of 100 x 100 = 1,000,016 bytes; gzip makes it small */
    size_t nd = 100 * 100 * 100;
    uint8_t *img = malloc(16 + nd);
    uint32_t d[] = {100, 100, 100};
    size_t ni = make_idx(img, 8, 3, d, nd);
    write_gz(tpath("z-images-idx3-ubyte.gz"), img, ni);
    ck_ok(sslk_ctx_set_i64(c, SSLK_CTX_MAX_FILE_BYTES, 500000));
    ck_status(sslk_dataset_open(c, tpath("z-images-idx3-ubyte.gz"), SSLK_SPLIT_TRAIN, &ds), SSLK_E_LIMIT);
    ck_assert_ptr_null(ds);
    ck_assert_msg(strstr(sslk_last_error(), "max_file_bytes") != NULL, "%s", sslk_last_error());
    ck_assert_msg(strstr(sslk_last_error(), "1000016") != NULL, "%s", sslk_last_error());
    /* the same plain file is refused too, before reading it */
    write_file(tpath("p-images-idx3-ubyte"), img, ni);
    ck_status(sslk_dataset_open(c, tpath("p-images-idx3-ubyte"), SSLK_SPLIT_TRAIN, &ds), SSLK_E_LIMIT);
    ck_ok(sslk_ctx_set_i64(c, SSLK_CTX_MAX_FILE_BYTES, 1000016));
    ck_ok(sslk_dataset_open(c, tpath("z-images-idx3-ubyte.gz"), SSLK_SPLIT_TRAIN, &ds));
    sslk_dataset_destroy(ds);
    /* NPY images read whole: 10 x 100 x 100 uint8 plus a 128-byte header */
    {
        static const char hdr[] = "{'descr': '|u1', 'fortran_order': False, 'shape': (10, 100, 100), }";
        uint8_t *np = calloc(1, 128 + 100000);
        memcpy(np, "\x93NUMPY\x01\x00\x76\x00", 10);
        memset(np + 10, ' ', 118);
        memcpy(np + 10, hdr, sizeof hdr - 1);
        np[127] = '\n';
        write_file(tpath("x.npy"), np, 128 + 100000);
        free(np);
        ck_ok(sslk_ctx_set_i64(c, SSLK_CTX_MAX_FILE_BYTES, 100127));
        ck_status(sslk_dataset_open(c, tpath("x.npy"), SSLK_SPLIT_TRAIN, &ds), SSLK_E_LIMIT);
        ck_assert_msg(strstr(sslk_last_error(), "x.npy") != NULL, "%s", sslk_last_error());
        ck_ok(sslk_ctx_set_i64(c, SSLK_CTX_MAX_FILE_BYTES, 100128));
        ck_ok(sslk_dataset_open(c, tpath("x.npy"), SSLK_SPLIT_TRAIN, &ds));
        sslk_dataset_destroy(ds);
    }
    /* CIFAR-10: 200 records of 3073 bytes */
    uint8_t *cf = calloc(200, 3073);
    write_file(tpath("batch.bin"), cf, 200 * 3073);
    ck_ok(sslk_ctx_set_i64(c, SSLK_CTX_MAX_FILE_BYTES, 600000));
    ck_status(sslk_dataset_open_kind(c, SSLK_DATASET_CIFAR10, tpath("batch.bin"), NULL, SSLK_SPLIT_TRAIN, &ds), SSLK_E_LIMIT);
    ck_ok(sslk_ctx_set_i64(c, SSLK_CTX_MAX_FILE_BYTES, 0)); /* 0 = no limit */
    ck_ok(sslk_dataset_open_kind(c, SSLK_DATASET_CIFAR10, tpath("batch.bin"), NULL, SSLK_SPLIT_TRAIN, &ds));
    sslk_dataset_destroy(ds);
    free(cf);
    free(img);
    sslk_ctx_destroy(c);
    rm_tmp();
}
END_TEST

/* gzip: a second member is read on (as gzip -d does), anything else after the
 * member is refused with its offset. */
START_TEST(gzip_trailing_garbage_refused) {
    mk_tmp();
    sslk_ctx *c = new_ctx();
    sslk_dataset *ds = NULL;
    uint8_t img[4 + 12 + 60];
    uint32_t d[] = {3, 4, 5};
    size_t ni = make_idx(img, 8, 3, d, 60);
    write_gz(tpath("a.gz"), img, ni);
    FILE *f = fopen(tpath("a.gz"), "rb");
    uint8_t gz[512];
    size_t gn = fread(gz, 1, sizeof gz, f);
    fclose(f);
    memcpy(gz + gn, "JUNK", 4);
    write_file(tpath("t-images-idx3-ubyte.gz"), gz, gn + 4);
    ck_status(sslk_dataset_open(c, tpath("t-images-idx3-ubyte.gz"), SSLK_SPLIT_TRAIN, &ds), SSLK_E_FORMAT);
    ck_assert_ptr_null(ds);
    char want[64];
    snprintf(want, sizeof want, "offset %zu", gn);
    ck_assert_msg(strstr(sslk_last_error(), want) != NULL, "'%s' lacks '%s'", sslk_last_error(), want);
    /* two members: the header in the first, the data in the second */
    gzFile g = gzopen(tpath("m-images-idx3-ubyte.gz"), "wb");
    ck_assert_int_eq(gzwrite(g, img, 16), 16);
    gzclose(g);
    g = gzopen(tpath("m2.gz"), "wb");
    ck_assert_int_eq(gzwrite(g, img + 16, 60), 60);
    gzclose(g);
    f = fopen(tpath("m2.gz"), "rb");
    gn = fread(gz, 1, sizeof gz, f);
    fclose(f);
    f = fopen(tpath("m-images-idx3-ubyte.gz"), "ab");
    ck_assert_uint_eq(fwrite(gz, 1, gn, f), gn);
    fclose(f);
    ck_ok(sslk_dataset_open(c, tpath("m-images-idx3-ubyte.gz"), SSLK_SPLIT_TRAIN, &ds));
    size_t cnt;
    ck_ok(sslk_dataset_count(ds, &cnt));
    ck_assert_uint_eq(cnt, 3);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
    rm_tmp();
}
END_TEST

/* ============================================================= augmentations */
static sslk_augment *plain_aug(sslk_ctx *c, size_t size) {
    sslk_augment *a;
    ck_ok(sslk_augment_create(c, 1, &a));
    ck_ok(sslk_augment_preset(a, -1, SSLK_AUG_PRESET_PLAIN));
    ck_ok(sslk_augment_set_i64(a, 0, SSLK_AUG_SIZE, (int64_t)size));
    return a;
}

START_TEST(aug_identity_and_flip) {
    sslk_ctx *c = new_ctx();
    sslk_augment *a = plain_aug(c, 4);
    uint8_t img[16];
    for (int i = 0; i < 16; i++) img[i] = (uint8_t)(i * 16 + 3);
    float out[16];
    ck_ok(sslk_augment_apply(a, 0, img, 4, 4, 1, 1, 0, 0, out));
    for (int i = 0; i < 16; i++) ck_close(out[i], img[i] / 255.0, 1e-6, 1e-7);
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_FLIP_P, 1.0));
    ck_ok(sslk_augment_apply(a, 0, img, 4, 4, 1, 1, 0, 0, out));
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) ck_close(out[y * 4 + x], img[y * 4 + 3 - x] / 255.0, 1e-6, 1e-7);
    /* normalisation (x - m) / s per channel */
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_MEAN0, 0.5));
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_STD0, 0.25));
    ck_ok(sslk_augment_apply(a, 0, img, 4, 4, 1, 1, 0, 0, out));
    ck_close(out[0], (img[3] / 255.0 - 0.5) / 0.25, 1e-5, 1e-6);
    /* gray input replicated to 3 output channels */
    ck_ok(sslk_augment_set_i64(a, 0, SSLK_AUG_OUT_CHANNELS, 3));
    float out3[48];
    size_t oc, oh, ow;
    ck_ok(sslk_augment_out_shape(a, 0, 1, &oc, &oh, &ow));
    ck_assert_uint_eq(oc, 3);
    ck_ok(sslk_augment_apply(a, 0, img, 4, 4, 1, 1, 0, 0, out3));
    ck_close(out3[32 + 5], out3[16 + 5], 0, 0);       /* channels 1, 2: default mean 0, std 1 */
    ck_close(out3[5], (out3[16 + 5] - 0.5) / 0.25, 1e-5, 1e-6);
    ck_status(sslk_augment_set_i64(a, 0, SSLK_AUG_OUT_CHANNELS, 2), SSLK_E_SETTING);
    ck_status(sslk_augment_set_f64(a, 0, SSLK_AUG_FLIP_P, 1.5), SSLK_E_SETTING);
    ck_status(sslk_augment_set_f64(a, 3, SSLK_AUG_FLIP_P, 0.5), SSLK_E_RANGE);
    ck_status(sslk_augment_apply(a, 0, img, 4, 4, 2, 1, 0, 0, out), SSLK_E_SHAPE);
    sslk_augment *none;
    ck_status(sslk_augment_create(c, 0, &none), SSLK_E_INVALID_ARG);
    ck_assert_ptr_null(none);
    sslk_augment_destroy(a);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(aug_gray_and_solarize) {
    sslk_ctx *c = new_ctx();
    sslk_augment *a = plain_aug(c, 2);
    uint8_t img[12] = {200, 100, 50, 10, 20, 30, 255, 0, 0, 127, 128, 200};
    float out[12];
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_GRAY_P, 1.0));
    ck_ok(sslk_augment_apply(a, 0, img, 2, 2, 3, 5, 0, 0, out));
    for (int p = 0; p < 4; p++) {
        double g = (0.299 * img[3 * p] + 0.587 * img[3 * p + 1] + 0.114 * img[3 * p + 2]) / 255.0;
        for (int ch = 0; ch < 3; ch++) ck_close(out[ch * 4 + p], g, 1e-5, 1e-6);
    }
    /* one output channel: the same weights */
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_GRAY_P, 0.0));
    ck_ok(sslk_augment_set_i64(a, 0, SSLK_AUG_OUT_CHANNELS, 1));
    ck_ok(sslk_augment_apply(a, 0, img, 2, 2, 3, 5, 0, 0, out));
    ck_close(out[0], (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255.0, 1e-5, 1e-6);
    /* solarise: v*255 >= 128 -> 1 - v */
    ck_ok(sslk_augment_set_i64(a, 0, SSLK_AUG_OUT_CHANNELS, 0));
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_SOLARIZE_P, 1.0));
    ck_ok(sslk_augment_apply(a, 0, img, 2, 2, 3, 5, 0, 0, out));
    ck_close(out[0 * 4 + 3], 127 / 255.0, 1e-6, 1e-7);       /* 127 stays */
    ck_close(out[1 * 4 + 3], 1 - 128 / 255.0, 1e-6, 1e-7);   /* 128 flips */
    ck_close(out[2 * 4 + 3], 55 / 255.0, 1e-6, 1e-7);        /* 200 -> 55 */
    ck_close(out[0 * 4 + 2], 0.0, 0, 1e-7);                  /* 255 -> 0 */
    ck_close(out[1 * 4 + 2], 0.0, 0, 1e-7);                  /* 0 stays */
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_SOLARIZE_THRESHOLD, 201));
    ck_ok(sslk_augment_apply(a, 0, img, 2, 2, 3, 5, 0, 0, out));
    ck_close(out[2 * 4 + 3], 200 / 255.0, 1e-6, 1e-7);
    sslk_augment_destroy(a);
    sslk_ctx_destroy(c);
}
END_TEST

/* 40 x 40 x 3 image: R = 6x, G = 6y, B = 0. */
static void coord_image(uint8_t *img) {
    for (int y = 0; y < 40; y++)
        for (int x = 0; x < 40; x++) {
            img[3 * (y * 40 + x)] = (uint8_t)(6 * x);
            img[3 * (y * 40 + x) + 1] = (uint8_t)(6 * y);
            img[3 * (y * 40 + x) + 2] = 0;
        }
}

START_TEST(aug_crop_geometry) {
    sslk_ctx *c = new_ctx();
    uint8_t img[40 * 40 * 3];
    coord_image(img);
    float out[3 * 20 * 20];
    sslk_augment *a = plain_aug(c, 20);
    /* center crop: side 0.5 * 40 = 20 at (10, 10), output 20: identity resample */
    ck_ok(sslk_augment_set_i64(a, 0, SSLK_AUG_CROP, SSLK_AUG_CROP_CENTER));
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_CENTER_FRACTION, 0.5));
    ck_ok(sslk_augment_apply(a, 0, img, 40, 40, 3, 0, 0, 0, out));
    for (int j = 0; j < 20; j++) {
        ck_close(out[j], 6 * (10 + j) / 255.0, 1e-5, 1e-6);
        ck_close(out[400 + j * 20], 6 * (10 + j) / 255.0, 1e-5, 1e-6);
    }
    /* random resized crop with a fixed area 1/4 and square ratio: a 20 x 20
     * window at an integer offset in [0, 20], resampled 1:1 */
    ck_ok(sslk_augment_set_i64(a, 0, SSLK_AUG_CROP, SSLK_AUG_CROP_RANDOM_RESIZED));
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_SCALE_MIN, 0.25));
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_SCALE_MAX, 0.25));
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_RATIO_MIN, 1.0));
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_RATIO_MAX, 1.0));
    int seen_x[21] = {0};
    for (uint64_t idx = 0; idx < 40; idx++) {
        ck_ok(sslk_augment_apply(a, 0, img, 40, 40, 3, 9, 0, idx, out));
        double x0 = out[0] * 255.0 / 6.0, y0 = out[400] * 255.0 / 6.0;
        ck_assert(fabs(x0 - round(x0)) < 1e-3 && round(x0) >= 0 && round(x0) <= 20);
        ck_assert(fabs(y0 - round(y0)) < 1e-3 && round(y0) >= 0 && round(y0) <= 20);
        for (int j = 0; j < 20; j++) {
            ck_close(out[j], 6 * (x0 + j) / 255.0, 1e-5, 1e-5);
            ck_close(out[400 + j * 20], 6 * (y0 + j) / 255.0, 1e-5, 1e-5);
        }
        seen_x[(int)round(x0)] = 1;
    }
    int distinct = 0;
    for (int k = 0; k <= 20; k++) distinct += seen_x[k];
    ck_assert_int_ge(distinct, 8); /* offsets are drawn, not fixed */
    /* impossible ratio (4 at full area): torchvision's fallback, a central
     * 40 x 10 band at rows 15..24; rows are resampled 1:1 */
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_SCALE_MIN, 1.0));
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_SCALE_MAX, 1.0));
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_RATIO_MIN, 4.0));
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_RATIO_MAX, 4.0));
    ck_ok(sslk_augment_set_i64(a, 0, SSLK_AUG_SIZE, 10));
    ck_ok(sslk_augment_apply(a, 0, img, 40, 40, 3, 9, 0, 0, out));
    for (int i = 0; i < 10; i++)
        for (int j = 0; j < 10; j++) ck_close(out[100 + i * 10 + j], 6 * (15 + i) / 255.0, 1e-5, 1e-6);
    /* min > max is refused when used */
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_SCALE_MIN, 0.9));
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_SCALE_MAX, 0.5));
    ck_status(sslk_augment_apply(a, 0, img, 40, 40, 3, 9, 0, 0, out), SSLK_E_SETTING);
    sslk_augment_destroy(a);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(aug_kernels) {
    /* downscale 2x of a column checker: interior outputs average to 1/2 */
    uint8_t chk[8 * 8];
    for (int i = 0; i < 64; i++) chk[i] = (i % 2) ? 255 : 0;
    ssli_image im = {chk, 8, 8, 1};
    float out[16], tmp[4096];
    ssli_resize_crop(&im, 0, 0, 8, 8, 4, 4, 0, 1, out, tmp);
    for (int y = 0; y < 4; y++)
        for (int x = 1; x < 3; x++) ck_close(out[y * 4 + x], 0.5, 1e-6, 1e-6);
    /* saturation 0 -> gray; hue +1/3 turns red into green, -1/3 into blue */
    float px[3] = {1.0f, 0.0f, 0.0f};
    ssli_adjust_hue(px, 3, 1, 1.0 / 3.0);
    ck_close(px[0], 0.0, 0, 1e-5);
    ck_close(px[1], 1.0, 0, 1e-5);
    ck_close(px[2], 0.0, 0, 1e-5);
    px[0] = 1, px[1] = 0, px[2] = 0;
    ssli_adjust_hue(px, 3, 1, -1.0 / 3.0);
    ck_close(px[2], 1.0, 0, 1e-5);
    ck_close(px[0], 0.0, 0, 1e-5);
    /* random pixels against a textbook double-precision HSV round trip */
    enum { NP = 64 };
    float hp[3 * NP];
    tu_fill_uniform(hp, 3 * NP, 7, 0.0f, 1.0f);
    hp[0] = hp[NP] = hp[2 * NP] = 0.5f; /* a gray pixel stays gray */
    for (int t = 0; t < 3; t++) {
        const double shift = t == 0 ? 0.13 : (t == 1 ? -0.41 : 0.5);
        float in[3 * NP];
        memcpy(in, hp, sizeof in);
        ssli_adjust_hue(hp, 3, NP, shift);
        for (int i = 0; i < NP; i++) {
            double r = in[i], g = in[NP + i], b = in[2 * NP + i];
            double mx = fmax(r, fmax(g, b)), mn = fmin(r, fmin(g, b)), d = mx - mn, h = 0;
            if (d > 0) h = mx == r ? fmod((g - b) / d + 6.0, 6.0) : (mx == g ? (b - r) / d + 2 : (r - g) / d + 4);
            h = h / 6 + shift;
            h -= floor(h);
            double s = mx > 0 ? d / mx : 0, v = mx, f = h * 6 - floor(h * 6);
            double p = v * (1 - s), q = v * (1 - s * f), tt = v * (1 - s * (1 - f)), o[3];
            switch ((int)floor(h * 6) % 6) {
            case 0: o[0] = v, o[1] = tt, o[2] = p; break;
            case 1: o[0] = q, o[1] = v, o[2] = p; break;
            case 2: o[0] = p, o[1] = v, o[2] = tt; break;
            case 3: o[0] = p, o[1] = q, o[2] = v; break;
            case 4: o[0] = tt, o[1] = p, o[2] = v; break;
            default: o[0] = v, o[1] = p, o[2] = q; break;
            }
            for (int k = 0; k < 3; k++) ck_close(hp[k * NP + i], o[k], 0, 2e-5);
        }
    }
    float q[6] = {0.2f, 0.8f, 0.4f, 0.6f, 0.1f, 0.3f}; /* 2 pixels, planar */
    ssli_adjust_saturation(q, 3, 2, 0.0);
    ck_close(q[0], 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.1, 1e-5, 1e-6);
    ck_close(q[4], q[0], 1e-6, 0);
    /* contrast 0 -> the mean gray everywhere; brightness clamps at 1 */
    float r[2] = {0.2f, 0.6f};
    ssli_adjust_contrast(r, 1, 2, 0.0);
    ck_close(r[0], 0.4, 1e-5, 0);
    ck_close(r[1], 0.4, 1e-5, 0);
    ssli_adjust_brightness(r, 1, 2, 3.0);
    ck_close(r[0], 1.0, 0, 0);
    /* blur of an impulse: a separable, normalised Gaussian of radius 3 */
    float b[15 * 15] = {0}, bt[4096];
    b[7 * 15 + 7] = 1.0f;
    ssli_gaussian_blur(b, 1, 15, 15, 1.0, 0, bt);
    double s = 0, k0 = 0, k1 = 0;
    for (int j = -3; j <= 3; j++) s += exp(-0.5 * j * j);
    k0 = 1.0 / s;
    k1 = exp(-0.5) / s;
    ck_close(b[7 * 15 + 7], k0 * k0, 1e-5, 0);
    ck_close(b[7 * 15 + 8], k0 * k1, 1e-5, 0);
    ck_close(b[6 * 15 + 8], k1 * k1, 1e-5, 0);
    ck_close(b[7 * 15 + 11], 0.0, 0, 1e-9); /* outside the radius */
    double tot = 0;
    for (int i = 0; i < 225; i++) tot += b[i];
    ck_close(tot, 1.0, 1e-5, 0);
}
END_TEST

START_TEST(aug_draw_depends_on_seed_epoch_index_view) {
    sslk_ctx *c = new_ctx();
    sslk_augment *a;
    ck_ok(sslk_augment_create(c, 2, &a));
    ck_ok(sslk_augment_preset(a, -1, SSLK_AUG_PRESET_VICREG));
    ck_ok(sslk_augment_set_i64(a, -1, SSLK_AUG_SIZE, 16));
    double v;
    ck_ok(sslk_augment_get_f64(a, 1, SSLK_AUG_SOLARIZE_P, &v));
    ck_close(v, 0.2, 0, 0);
    ck_ok(sslk_augment_get_f64(a, 0, SSLK_AUG_BLUR_P, &v));
    ck_close(v, 1.0, 0, 0);
    uint8_t img[24 * 20 * 3];
    for (size_t i = 0; i < sizeof img; i++) img[i] = (uint8_t)((i * 37) % 251);
    float o1[768], o2[768];
    ck_ok(sslk_augment_apply(a, 0, img, 24, 20, 3, 1, 2, 3, o1));
    ck_ok(sslk_augment_apply(a, 0, img, 24, 20, 3, 1, 2, 3, o2));
    ck_assert_mem_eq(o1, o2, sizeof o1);
    const uint64_t alt[4][3] = {{2, 2, 3}, {1, 3, 3}, {1, 2, 4}, {1, 2, 3}};
    for (int k = 0; k < 4; k++) {
        ck_ok(sslk_augment_apply(a, k == 3 ? 1 : 0, img, 24, 20, 3, alt[k][0], alt[k][1], alt[k][2], o2));
        ck_assert_msg(memcmp(o1, o2, sizeof o1) != 0, "change %d left the draw unchanged", k);
    }
    sslk_augment_destroy(a);
    sslk_ctx_destroy(c);
}
END_TEST

/* ===================================================================== loader */
static sslk_dataset *mem_dataset(sslk_ctx *c, size_t n, size_t h, size_t w, size_t ch) {
    uint8_t *px = malloc(n * h * w * ch);
    int32_t *lab = malloc(n * sizeof *lab);
    for (size_t i = 0; i < n * h * w * ch; i++) px[i] = (uint8_t)((i * 2654435761u) >> 24);
    for (size_t i = 0; i < n; i++) lab[i] = (int32_t)(i % 7);
    sslk_dataset *ds;
    ck_ok(sslk_dataset_from_memory(c, px, n, h, w, ch, lab, &ds));
    free(px);
    free(lab);
    return ds;
}

typedef struct epoch_out {
    float *v[2];
    int32_t *lab;
    int64_t *idx;
    size_t rows;
} epoch_out;

/* One epoch of a loader with the given order and augmentation seeds. */
static epoch_out run_epoch_seeded(sslk_ctx *c, sslk_dataset *ds, const sslk_augment *a, size_t batch, int workers,
                                  uint64_t epoch, int64_t seed, int64_t aug_seed) {
    sslk_loader *ld;
    ck_ok(sslk_loader_create(c, ds, a, batch, &ld));
    ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_WORKERS, workers));
    ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_SEED, seed));
    ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_AUG_SEED, aug_seed));
    ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_PREFETCH, 2));
    size_t nv, cc, hh, ww, n;
    ck_ok(sslk_loader_num_views(ld, &nv));
    ck_ok(sslk_loader_view_shape(ld, 0, &cc, &hh, &ww));
    ck_ok(sslk_dataset_count(ds, &n));
    size_t per = cc * hh * ww;
    epoch_out e = {{NULL, NULL}, NULL, NULL, 0};
    for (size_t v = 0; v < nv; v++) e.v[v] = calloc(n * per, sizeof(float));
    e.lab = calloc(n, sizeof(int32_t));
    e.idx = calloc(n, sizeof(int64_t));
    ck_ok(sslk_loader_begin_epoch(ld, epoch));
    for (;;) {
        float *views[2] = {e.v[0] + e.rows * per, nv > 1 ? e.v[1] + e.rows * per : NULL};
        size_t r;
        ck_ok(sslk_loader_next(ld, views, e.lab + e.rows, e.idx + e.rows, &r));
        if (r == 0) break;
        e.rows += r;
    }
    sslk_loader_stats st = {.struct_size = sizeof st};
    ck_ok(sslk_loader_stats_get(ld, &st));
    ck_assert_uint_eq(st.images, e.rows);
    ck_assert_uint_eq(st.failures, 0);
    sslk_loader_destroy(ld);
    return e;
}

static void free_epoch(epoch_out *e) {
    free(e->v[0]);
    free(e->v[1]);
    free(e->lab);
    free(e->idx);
}

static epoch_out run_epoch(sslk_ctx *c, sslk_dataset *ds, sslk_augment *a, size_t batch, int workers,
                           uint64_t epoch) {
    return run_epoch_seeded(c, ds, a, batch, workers, epoch, 1234, -1);
}

START_TEST(loader_deterministic_across_threads) {
    sslk_ctx *c = new_ctx();
    sslk_dataset *ds = mem_dataset(c, 45, 20, 18, 3);
    sslk_augment *a;
    ck_ok(sslk_augment_create(c, 2, &a));
    ck_ok(sslk_augment_preset(a, -1, SSLK_AUG_PRESET_VICREG));
    ck_ok(sslk_augment_set_i64(a, -1, SSLK_AUG_SIZE, 12));
    epoch_out e1 = run_epoch(c, ds, a, 8, 1, 3), e2 = run_epoch(c, ds, a, 8, 2, 3), e3 = run_epoch(c, ds, a, 8, 3, 3);
    ck_assert_uint_eq(e1.rows, 40); /* drop_last: 5 full batches of 8 */
    size_t bytes = e1.rows * 3 * 144 * sizeof(float);
    ck_assert_mem_eq(e1.v[0], e2.v[0], bytes);
    ck_assert_mem_eq(e1.v[1], e2.v[1], bytes);
    ck_assert_mem_eq(e1.v[0], e3.v[0], bytes);
    ck_assert_mem_eq(e1.v[1], e3.v[1], bytes);
    ck_assert_mem_eq(e1.idx, e2.idx, e1.rows * sizeof(int64_t));
    ck_assert_mem_eq(e1.lab, e3.lab, e1.rows * sizeof(int32_t));
    /* distinct indices, labels of those indices, a real shuffle */
    int seen[45] = {0}, moved = 0;
    for (size_t r = 0; r < e1.rows; r++) {
        ck_assert_int_lt(e1.idx[r], 45);
        ck_assert_int_eq(seen[e1.idx[r]]++, 0);
        ck_assert_int_eq(e1.lab[r], (int32_t)(e1.idx[r] % 7));
        moved += e1.idx[r] != (int64_t)r;
    }
    ck_assert_int_gt(moved, 20);
    /* each row is exactly sslk_augment_apply(seed, epoch, datum index, view) */
    uint8_t img[20 * 18 * 3];
    float one[3 * 144];
    for (size_t r = 0; r < e1.rows; r += 7) {
        ck_ok(sslk_dataset_read(ds, (size_t)e1.idx[r], img, sizeof img, NULL, NULL, NULL));
        ck_ok(sslk_augment_apply(a, 1, img, 20, 18, 3, 1234, 3, (uint64_t)e1.idx[r], one));
        ck_assert_mem_eq(one, e1.v[1] + r * 432, sizeof one);
    }
    /* another epoch: another order */
    epoch_out e4 = run_epoch(c, ds, a, 8, 2, 4);
    ck_assert(memcmp(e1.idx, e4.idx, e1.rows * sizeof(int64_t)) != 0);
    free_epoch(&e1);
    free_epoch(&e2);
    free_epoch(&e3);
    free_epoch(&e4);
    sslk_augment_destroy(a);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(loader_multi_crop) {
    /* 2 global views at 12 px + 2 local views at 6 px (MSN / DINO style) */
    sslk_ctx *c = new_ctx();
    sslk_dataset *ds = mem_dataset(c, 9, 16, 16, 3);
    sslk_augment *a;
    ck_ok(sslk_augment_create(c, 4, &a));
    ck_ok(sslk_augment_preset(a, -1, SSLK_AUG_PRESET_VICREG));
    ck_ok(sslk_augment_set_i64(a, -1, SSLK_AUG_SIZE, 12));
    for (int v = 2; v < 4; v++) {
        ck_ok(sslk_augment_preset(a, v, SSLK_AUG_PRESET_LOCAL));
        ck_ok(sslk_augment_set_i64(a, v, SSLK_AUG_SIZE, 6));
    }
    sslk_loader *ld;
    ck_ok(sslk_loader_create(c, ds, a, 4, &ld));
    sslk_augment_destroy(a); /* the loader holds its own copy */
    size_t nv, cc, hh, ww;
    ck_ok(sslk_loader_num_views(ld, &nv));
    ck_assert_uint_eq(nv, 4);
    ck_ok(sslk_loader_view_shape(ld, 3, &cc, &hh, &ww));
    ck_assert_uint_eq(hh, 6);
    ck_ok(sslk_loader_view_shape(ld, 1, &cc, &hh, &ww));
    ck_assert_uint_eq(hh, 12);
    ck_status(sslk_loader_view_shape(ld, 4, &cc, &hh, &ww), SSLK_E_RANGE);
    /* sentinels after each buffer: a view must write exactly 4 x 3 x s x s floats */
    float g0[4 * 432 + 1], g1[4 * 432 + 1], l0[4 * 108 + 1], l1[4 * 108 + 1];
    g0[4 * 432] = g1[4 * 432] = l0[4 * 108] = l1[4 * 108] = -7.0f;
    float *views[4] = {g0, g1, l0, l1};
    size_t r, total = 0;
    ck_ok(sslk_loader_begin_epoch(ld, 0));
    do {
        ck_ok(sslk_loader_next(ld, views, NULL, NULL, &r));
        total += r;
    } while (r);
    ck_assert_uint_eq(total, 8);
    ck_assert(g0[4 * 432] == -7.0f && g1[4 * 432] == -7.0f && l0[4 * 108] == -7.0f && l1[4 * 108] == -7.0f);
    for (int i = 0; i < 4 * 108; i++) ck_assert(l1[i] >= 0.0f && l1[i] <= 1.0f);
    sslk_loader_destroy(ld);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
}
END_TEST

/* A subset reads the parent's items through its index map (repeats allowed),
 * maps labels, keeps the parent's class count, and a loader over it yields
 * exactly those parent items. */
START_TEST(dataset_subset_maps_items) {
    sslk_ctx *c = new_ctx();
    sslk_dataset *ds = mem_dataset(c, 10, 3, 2, 3), *sub = NULL;
    const size_t pick[4] = {9, 0, 4, 9};
    ck_ok(sslk_dataset_subset(ds, pick, 4, &sub));
    size_t n = 0, k = 0, h, w, ch;
    ck_ok(sslk_dataset_count(sub, &n));
    ck_assert_uint_eq(n, 4);
    ck_ok(sslk_dataset_num_classes(sub, &k));
    ck_assert_uint_eq(k, 7); /* labels 9%7, 0, 4, 9%7: max 4, but the parent has 7 */
    ck_ok(sslk_dataset_shape(sub, &h, &w, &ch));
    ck_assert(h == 3 && w == 2 && ch == 3);
    sslk_dataset_kind kind;
    ck_ok(sslk_dataset_get_kind(sub, &kind));
    ck_assert_int_eq(kind, SSLK_DATASET_MEMORY);
    uint8_t a[18], b[18];
    for (size_t i = 0; i < 4; i++) {
        int32_t ls, lp;
        ck_ok(sslk_dataset_label(sub, i, &ls));
        ck_ok(sslk_dataset_label(ds, pick[i], &lp));
        ck_assert_int_eq(ls, (int32_t)(pick[i] % 7));
        ck_assert_int_eq(ls, lp);
        ck_ok(sslk_dataset_read(sub, i, a, sizeof a, NULL, NULL, NULL));
        ck_ok(sslk_dataset_read(ds, pick[i], b, sizeof b, NULL, NULL, NULL));
        ck_assert(memcmp(a, b, sizeof a) == 0);
    }
    ck_status(sslk_dataset_label(sub, 4, &(int32_t){0}), SSLK_E_RANGE);
    sslk_loader *ld;
    ck_ok(sslk_loader_create(c, sub, NULL, 4, &ld));
    ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_SHUFFLE, 0));
    float v[4 * 18];
    float *views[1] = {v};
    int32_t lab[4];
    size_t r;
    ck_ok(sslk_loader_begin_epoch(ld, 0));
    ck_ok(sslk_loader_next(ld, views, lab, NULL, &r));
    ck_assert_uint_eq(r, 4);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(lab[i], (int32_t)(pick[i] % 7));
        ck_ok(sslk_dataset_read(ds, pick[i], b, sizeof b, NULL, NULL, NULL));
        for (size_t q = 0; q < 3; q++)
            for (size_t p = 0; p < 6; p++) ck_close(v[i * 18 + q * 6 + p], b[p * 3 + q] / 255.0, 1e-6, 0);
    }
    sslk_loader_destroy(ld);
    sslk_dataset_destroy(sub);
    /* bad input */
    const size_t bad[2] = {3, 10};
    sub = (sslk_dataset *)1;
    ck_status(sslk_dataset_subset(ds, bad, 2, &sub), SSLK_E_RANGE);
    ck_assert_ptr_null(sub);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "indices[1] = 10"));
    ck_status(sslk_dataset_subset(ds, pick, 0, &sub), SSLK_E_SHAPE);
    ck_status(sslk_dataset_subset(NULL, pick, 2, &sub), SSLK_E_INVALID_ARG);
    ck_status(sslk_dataset_subset(ds, NULL, 2, &sub), SSLK_E_INVALID_ARG);
    ck_status(sslk_dataset_subset(ds, pick, 2, NULL), SSLK_E_INVALID_ARG);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
}
END_TEST

/* SSLK_LOADER_AUG_SEED separates the augmentation draws from the epoch order:
 * another order seed with the same augmentation seed gives every index the
 * same views in another order; another augmentation seed keeps the order. */
START_TEST(loader_aug_seed_separates_order_and_draws) {
    sslk_ctx *c = new_ctx();
    sslk_dataset *ds = mem_dataset(c, 12, 10, 10, 3);
    sslk_augment *a;
    ck_ok(sslk_augment_create(c, 2, &a));
    ck_ok(sslk_augment_preset(a, -1, SSLK_AUG_PRESET_VICREG));
    ck_ok(sslk_augment_set_i64(a, -1, SSLK_AUG_SIZE, 8));
    enum { PER = 3 * 8 * 8 };
    epoch_out A = run_epoch_seeded(c, ds, a, 12, 1, 3, 1, 5);
    epoch_out B = run_epoch_seeded(c, ds, a, 12, 1, 3, 2, 5);  /* other order, same draws */
    epoch_out C = run_epoch_seeded(c, ds, a, 12, 1, 3, 1, 6);  /* same order, other draws */
    epoch_out D = run_epoch_seeded(c, ds, a, 12, 1, 3, 1, -1); /* -1: the order seed draws both */
    epoch_out E = run_epoch_seeded(c, ds, a, 12, 1, 3, 1, 1);
    ck_assert_uint_eq(A.rows, 12);
    ck_assert(memcmp(A.idx, B.idx, 12 * sizeof(int64_t)) != 0);
    ck_assert(memcmp(A.idx, C.idx, 12 * sizeof(int64_t)) == 0);
    size_t same_c = 0;
    for (size_t i = 0; i < 12; i++) {
        size_t j = 0;
        while (B.idx[j] != A.idx[i]) j++;
        for (int v = 0; v < 2; v++)
            ck_assert_msg(memcmp(A.v[v] + i * PER, B.v[v] + j * PER, PER * sizeof(float)) == 0,
                          "index %lld view %d differs", (long long)A.idx[i], v);
        same_c += memcmp(A.v[0] + i * PER, C.v[0] + i * PER, PER * sizeof(float)) == 0;
    }
    ck_assert_uint_lt(same_c, 3);
    ck_assert(memcmp(D.idx, E.idx, 12 * sizeof(int64_t)) == 0);
    ck_assert(memcmp(D.v[0], E.v[0], 12 * PER * sizeof(float)) == 0 &&
              memcmp(D.v[1], E.v[1], 12 * PER * sizeof(float)) == 0);
    epoch_out *all[5] = {&A, &B, &C, &D, &E};
    for (int k = 0; k < 5; k++) free_epoch(all[k]);
    int64_t v = 0;
    sslk_loader *ld;
    ck_ok(sslk_loader_create(c, ds, a, 4, &ld));
    ck_ok(sslk_loader_get_i64(ld, SSLK_LOADER_AUG_SEED, &v));
    ck_assert_int_eq(v, -1);
    ck_status(sslk_loader_set_i64(ld, SSLK_LOADER_AUG_SEED, -2), SSLK_E_SETTING);
    sslk_loader_destroy(ld);
    sslk_augment_destroy(a);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(loader_plain_sequential) {
    sslk_ctx *c = new_ctx();
    sslk_dataset *ds = mem_dataset(c, 10, 3, 2, 3);
    sslk_loader *ld;
    ck_ok(sslk_loader_create(c, ds, NULL, 4, &ld));
    ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_SHUFFLE, 0));
    ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_DROP_LAST, 0));
    size_t nb;
    ck_ok(sslk_loader_num_batches(ld, &nb));
    ck_assert_uint_eq(nb, 3);
    float v[4 * 18];
    float *views[1] = {v};
    int64_t idx[4];
    size_t r, total = 0;
    ck_status(sslk_loader_next(ld, views, NULL, idx, &r), SSLK_E_STATE);
    ck_ok(sslk_loader_begin_epoch(ld, 0));
    ck_status(sslk_loader_set_i64(ld, SSLK_LOADER_SHUFFLE, 1), SSLK_E_STATE);
    uint8_t img[18];
    for (int b = 0; b < 3; b++) {
        ck_ok(sslk_loader_next(ld, views, NULL, idx, &r));
        ck_assert_uint_eq(r, b < 2 ? 4 : 2);
        for (size_t k = 0; k < r; k++) {
            ck_assert_int_eq(idx[k], (int64_t)(total + k));
            ck_ok(sslk_dataset_read(ds, total + k, img, sizeof img, NULL, NULL, NULL));
            for (size_t ch = 0; ch < 3; ch++)
                for (size_t p = 0; p < 6; p++) ck_close(v[k * 18 + ch * 6 + p], img[p * 3 + ch] / 255.0, 1e-6, 0);
        }
        total += r;
    }
    ck_ok(sslk_loader_next(ld, views, NULL, idx, &r));
    ck_assert_uint_eq(r, 0);
    /* restart mid-epoch, then destroy with workers waiting on a full queue */
    ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_PREFETCH, 1));
    ck_ok(sslk_loader_begin_epoch(ld, 1));
    ck_ok(sslk_loader_next(ld, views, NULL, idx, &r));
    ck_ok(sslk_loader_begin_epoch(ld, 2));
    sslk_loader_destroy(ld);
    ck_status(sslk_loader_create(c, ds, NULL, 0, &ld), SSLK_E_INVALID_ARG);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(loader_corrupt_policy) {
    mk_tmp();
    sslk_ctx *c = new_ctx();
    const uint8_t col[3] = {90, 160, 30};
    char name[64];
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof name, "%d.jpg", i);
        write_jpeg(tpath(name), 30, 20, col, 0);
    }
    write_file(tpath("3.jpg"), "\xff\xd8\xff\xe0 not really", 16); /* corrupt */
    sslk_dataset *ds;
    ck_ok(sslk_dataset_open_folder(c, tmpdir, NULL, &ds));
    sslk_augment *a = plain_aug(c, 8);
    sslk_loader *ld;
    ck_status(sslk_loader_create(c, ds, NULL, 2, &ld), SSLK_E_SHAPE); /* sizes vary: needs a recipe */
    ck_ok(sslk_loader_create(c, ds, a, 6, &ld));
    ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_SHUFFLE, 0));
    ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_WORKERS, 2));
    float v[6 * 3 * 64];
    float *views[1] = {v};
    int64_t idx[6];
    size_t r;
    ck_ok(sslk_loader_begin_epoch(ld, 0));
    ck_status(sslk_loader_next(ld, views, NULL, idx, &r), SSLK_E_FORMAT);
    ck_assert(strstr(sslk_last_error(), "3.jpg") != NULL);
    ck_status(sslk_loader_next(ld, views, NULL, idx, &r), SSLK_E_STATE);
    ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_ON_CORRUPT, SSLK_CORRUPT_SKIP));
    ck_ok(sslk_loader_begin_epoch(ld, 0));
    ck_ok(sslk_loader_next(ld, views, NULL, idx, &r));
    ck_assert_uint_eq(r, 5);
    const int64_t want[5] = {0, 1, 2, 4, 5};
    for (int k = 0; k < 5; k++) ck_assert_int_eq(idx[k], want[k]);
    for (int p = 0; p < 64; p++) ck_close(v[4 * 192 + 64 + p], 160 / 255.0, 0, 4 / 255.0);
    sslk_loader_stats st = {.struct_size = sizeof st};
    ck_ok(sslk_loader_stats_get(ld, &st));
    ck_assert_uint_eq(st.skipped, 1);
    ck_assert_uint_eq(st.failures, 1);
    ck_assert_uint_eq(st.images, 5);
    ck_assert_uint_eq(st.batches, 1);
    sslk_loader_destroy(ld);
    /* batch 1: the corrupt item's batch is empty and passed over */
    ck_ok(sslk_loader_create(c, ds, a, 1, &ld));
    ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_SHUFFLE, 0));
    ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_ON_CORRUPT, SSLK_CORRUPT_SKIP));
    ck_ok(sslk_loader_begin_epoch(ld, 0));
    for (int k = 0; k < 5; k++) {
        ck_ok(sslk_loader_next(ld, views, NULL, idx, &r));
        ck_assert_uint_eq(r, 1);
        ck_assert_int_eq(idx[0], want[k]);
    }
    ck_ok(sslk_loader_next(ld, views, NULL, idx, &r));
    ck_assert_uint_eq(r, 0);
    sslk_loader_destroy(ld);
    sslk_augment_destroy(a);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
    rm_tmp();
}
END_TEST

START_TEST(settings_introspection) {
    int key;
    ck_ok(sslk_setting_find("augment", "solarize_threshold", &key));
    ck_assert_int_eq(key, SSLK_AUG_SOLARIZE_THRESHOLD);
    ck_ok(sslk_setting_find("loader", "on_corrupt", &key));
    ck_assert_int_eq(key, SSLK_LOADER_ON_CORRUPT);
    ck_ok(sslk_setting_find("dataset", "dct_scaling", &key));
    ck_assert_int_eq(key, SSLK_DATASET_DCT_SCALING);
    size_t n;
    ck_ok(sslk_setting_list("augment", NULL, 0, &n));
    ck_assert_uint_eq(n, SSLI_AUG_NSET);
}
END_TEST

int main(void) {
    Suite *s = suite_create("data");
    TCase *r = tcase_create("readers");
    tcase_add_test(r, idx_plain_and_gzip);
    tcase_add_test(r, idx_corrupt_files);
    tcase_add_test(r, fashion_mnist_default);
    tcase_add_test(r, cifar10_and_100);
    tcase_add_test(r, npy_images_and_labels);
    tcase_add_test(r, jpeg_folder_and_cache);
    tcase_add_test(r, jpeg_dct_scaling_and_corrupt);
    tcase_add_test(r, jpeg_truncated_progressive_refused);
    tcase_add_test(r, jpeg_decoder_survives_errors);
    tcase_add_test(r, jpeg_decode_independent_of_previous_file);
    tcase_add_test(r, jpeg_fatal_after_warning_refused);
    tcase_add_test(r, jpeg_premature_end_of_segment_refused);
    tcase_add_test(r, jpeg_pixel_limit_from_header);
    tcase_add_test(r, jpeg_lenient_mode);
    tcase_add_test(r, fifo_named_jpg_never_blocks);
    tcase_add_test(r, idx_and_cifar_file_limit);
    tcase_add_test(r, gzip_trailing_garbage_refused);
    suite_add_tcase(s, r);
    TCase *a = tcase_create("augment");
    tcase_add_test(a, aug_identity_and_flip);
    tcase_add_test(a, aug_gray_and_solarize);
    tcase_add_test(a, aug_crop_geometry);
    tcase_add_test(a, aug_kernels);
    tcase_add_test(a, aug_draw_depends_on_seed_epoch_index_view);
    suite_add_tcase(s, a);
    TCase *l = tcase_create("loader");
    tcase_add_test(l, loader_deterministic_across_threads);
    tcase_add_test(l, loader_multi_crop);
    tcase_add_test(l, loader_plain_sequential);
    tcase_add_test(l, dataset_subset_maps_items);
    tcase_add_test(l, loader_aug_seed_separates_order_and_draws);
    tcase_add_test(l, loader_corrupt_policy);
    tcase_add_test(l, settings_introspection);
    suite_add_tcase(s, l);
    return tu_run(s);
}
