/* Image folders as real collections hold them: CMYK JPEGs against
 * tjDecompress2 + the documented conversion, PNG headers and errors, the
 * named recipes and the draws behind a view, and the trainer on images of
 * different sizes (per-channel statistics measured once and kept in the run).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "data/data_internal.h"
#include "testutil.h"

static char tmpdir[256];

static void mk_tmp(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sslk_fold_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tmp(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static sslk_ctx *new_ctx(void) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    return c;
}

/* JPEG of w x h pixels in pixel format pf (3 or 4 samples), returned in *out. */
static unsigned long compress(const uint8_t *px, int w, int h, int pf, int sub, unsigned char **out) {
    tjhandle t = tjInitCompress();
    unsigned long n = 0;
    *out = NULL;
    ck_assert_int_eq(tjCompress2(t, px, w, 0, h, pf, out, &n, sub, 92, 0), 0);
    tjDestroy(t);
    return n;
}

START_TEST(cmyk_rule_by_hand) {
    /* ink C=255 (full cyan), K=0 -> (0, 255, 255); K=255 -> black; mixed, rounded */
    const uint8_t ink[12] = {255, 0, 0, 0, 0, 0, 0, 255, 128, 64, 0, 51};
    uint8_t rgb[9], inv[12], rgb2[9];
    ssli_cmyk_to_rgb(ink, 3, false, rgb);
    ck_assert_uint_eq(rgb[0], 0);
    ck_assert_uint_eq(rgb[1], 255);
    ck_assert_uint_eq(rgb[2], 255);
    for (int k = 3; k < 6; k++) ck_assert_uint_eq(rgb[k], 0);
    /* (255-128)(255-51)/255 = 101.6 -> 102; 191 * 204 / 255 = 152.8 -> 153; 255 * 204 / 255 = 204 */
    ck_assert_uint_eq(rgb[6], 102);
    ck_assert_uint_eq(rgb[7], 153);
    ck_assert_uint_eq(rgb[8], 204);
    /* Adobe polarity: the same inks stored inverted give the same colours */
    for (int k = 0; k < 12; k++) inv[k] = (uint8_t)(255 - ink[k]);
    ssli_cmyk_to_rgb(inv, 3, true, rgb2);
    ck_assert_int_eq(memcmp(rgb, rgb2, 9), 0);
}
END_TEST

START_TEST(cmyk_jpeg_equals_tjdecompress2) {
    mk_tmp();
    const int w = 29, h = 21;
    uint8_t *px = malloc((size_t)w * h * 4);
    for (int i = 0; i < w * h; i++)
        for (int k = 0; k < 4; k++) px[4 * i + k] = (uint8_t)((i * (k + 3) * 7 + k * 50) % 256);
    unsigned char *jb = NULL;
    unsigned long jn = compress(px, w, h, TJPF_CMYK, TJSAMP_444, &jb);
    char dir[300], path[400];
    snprintf(dir, sizeof dir, "%s/c", tmpdir);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/c/cmyk.jpg", tmpdir);
    write_file(path, jb, jn);
    /* the reference: libjpeg-turbo's own CMYK samples, converted by the rule */
    tjhandle t = tjInitDecompress();
    int ww, hh, sub, cs;
    ck_assert_int_eq(tjDecompressHeader3(t, jb, jn, &ww, &hh, &sub, &cs), 0);
    ck_assert(cs == TJCS_CMYK || cs == TJCS_YCCK);
    uint8_t *raw = malloc((size_t)w * h * 4), *ref = malloc((size_t)w * h * 3), *got = malloc((size_t)w * h * 3);
    ck_assert_int_eq(tjDecompress2(t, jb, jn, raw, w, 0, h, TJPF_CMYK, 0), 0);
    tjDestroy(t);
    bool adobe = false;
    for (unsigned long i = 0; i + 6 < jn && !adobe; i++) adobe = jb[i] == 0xFF && jb[i + 1] == 0xEE;
    ck_assert(adobe); /* libjpeg writes the Adobe marker with 4-component images */
    for (int i = 0; i < w * h; i++)
        for (int c = 0; c < 3; c++) ref[3 * i + c] = (uint8_t)((raw[4 * i + c] * raw[4 * i + 3] + 127) / 255);
    sslk_ctx *c = new_ctx();
    sslk_dataset *ds;
    ck_ok(sslk_dataset_open_folder(c, tmpdir, NULL, &ds));
    size_t H, W, C;
    ck_ok(sslk_dataset_read(ds, 0, got, (size_t)w * h * 3, &H, &W, &C));
    ck_assert_uint_eq(H, (size_t)h);
    ck_assert_uint_eq(W, (size_t)w);
    ck_assert_int_eq(memcmp(got, ref, (size_t)w * h * 3), 0);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
    tjFree(jb);
    free(px);
    free(raw);
    free(ref);
    free(got);
    rm_tmp();
}
END_TEST

START_TEST(png_header_and_errors) {
    sslk_ctx *c = new_ctx();
    ssli_scratch sc;
    ssli_scratch_init(&sc, c);
    /* 1 x 1 gray PNG (hand-assembled IHDR + IDAT + IEND) */
    static const uint8_t png[] = {
        0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0, 0, 13, 'I', 'H', 'D', 'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0,
        0, 0x3a, 0x7e, 0x9b, 0x55, 0, 0, 0, 10, 'I', 'D', 'A', 'T', 0x78, 0x9c, 0x63, 0x68, 0, 0, 0, 0x82, 0, 0x81,
        0x77, 0xcd, 0x72, 0xb6, 0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    ck_assert(ssli_is_png(png, sizeof png));
    ck_assert(!ssli_is_png(png, 7));
    size_t w = 0, h = 0;
    ck_ok(ssli_png_header(&sc, png, sizeof png, 16384, &w, &h, "one.png"));
    ck_assert_uint_eq(w, 1);
    ck_assert_uint_eq(h, 1);
    ssli_image img;
    ck_ok(ssli_png_decode(&sc, png, sizeof png, 16384, &img, "one.png"));
    ck_assert_uint_eq(img.c, 3);
    ck_assert_uint_eq(img.data[0], 0x80);
    ck_assert_uint_eq(img.data[2], 0x80);
    /* side limit, truncation and a corrupt CRC are FORMAT errors naming the file */
    ck_status(ssli_png_header(&sc, png, sizeof png, 0, &w, &h, "one.png"), SSLK_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "one.png"));
    ck_status(ssli_png_decode(&sc, png, 40, 16384, &img, "cut.png"), SSLK_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "cut.png"));
    uint8_t bad[sizeof png];
    memcpy(bad, png, sizeof png);
    bad[29] ^= 0xFF; /* IHDR CRC */
    ck_status(ssli_png_header(&sc, bad, sizeof bad, 16384, &w, &h, "crc.png"), SSLK_E_FORMAT);
    ssli_scratch_free(&sc);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(recipes_and_draws) {
    sslk_ctx *c = new_ctx();
    sslk_augment *a;
    ck_ok(sslk_augment_create(c, 2, &a));
    ck_ok(sslk_augment_set_i64(a, -1, SSLK_AUG_SIZE, 224));
    ck_ok(sslk_augment_recipe(a, "byol"));
    double v;
    ck_ok(sslk_augment_get_f64(a, 0, SSLK_AUG_BLUR_P, &v));
    ck_close(v, 1.0, 0, 0);
    ck_ok(sslk_augment_get_f64(a, 1, SSLK_AUG_BLUR_P, &v));
    ck_close(v, 0.1, 0, 1e-12);
    ck_ok(sslk_augment_get_f64(a, 1, SSLK_AUG_SOLARIZE_P, &v));
    ck_close(v, 0.2, 0, 1e-12);
    ck_ok(sslk_augment_get_f64(a, 0, SSLK_AUG_BLUR_KERNEL_FRACTION, &v));
    ck_close(v, 0.1, 0, 1e-12);
    ck_status(sslk_augment_recipe(a, "swav"), SSLK_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "'swav'"));
    /* view 0 always blurs: radius floor(0.1 * 224 / 2) = 11 (BYOL's 23-tap kernel) */
    double d[SSLK_AUG_DRAW_VALUES];
    for (uint64_t idx = 0; idx < 5; idx++) {
        ck_ok(sslk_augment_draw(a, 0, 300, 500, 3, 1, 0, idx, d, SSLK_AUG_DRAW_VALUES));
        ck_assert(d[15] >= 0.1 && d[15] <= 2.0);
        ck_close(d[16], 11, 0, 0);
        ck_assert(d[2] >= 1 && d[2] <= 500 && d[3] >= 1 && d[3] <= 300);
        ck_assert(d[0] + d[2] <= 500 && d[1] + d[3] <= 300);
    }
    ck_status(sslk_augment_draw(a, 0, 300, 500, 3, 1, 0, 0, d, 17), SSLK_E_SHAPE);
    ck_status(sslk_augment_draw(a, 2, 300, 500, 3, 1, 0, 0, d, 18), SSLK_E_RANGE);
    /* the draw is the one apply uses: no jitter/blur/... -> flip decides the picture */
    ck_ok(sslk_augment_recipe(a, "plain"));
    ck_ok(sslk_augment_draw(a, 1, 10, 10, 1, 1, 0, 0, d, 18));
    ck_close(d[2], 10, 0, 0);
    ck_close(d[4] + d[5] + d[14] + d[15] + d[17], 0, 0, 0);
    sslk_augment_destroy(a);
    sslk_ctx_destroy(c);
}
END_TEST

/* Solid-colour JPEGs of different sizes: every resized view of one has its
 * colour, so the measured statistics follow from the decoded pixels. */
START_TEST(trainer_on_mixed_sizes_measures_norm_once) {
    mk_tmp();
    char dir[300], path[400];
    snprintf(dir, sizeof dir, "%s/k", tmpdir);
    mkdir(dir, 0755);
    const int sizes[8][2] = {{20, 31}, {40, 17}, {64, 64}, {23, 90}, {50, 33}, {18, 18}, {77, 41}, {30, 60}};
    for (int i = 0; i < 8; i++) {
        int w = sizes[i][0], h = sizes[i][1];
        uint8_t *px = malloc((size_t)w * h * 3);
        for (int p = 0; p < w * h; p++) {
            px[3 * p] = (uint8_t)(30 * i + 10);
            px[3 * p + 1] = (uint8_t)(200 - 20 * i);
            px[3 * p + 2] = (uint8_t)(90 + (i % 3) * 40);
        }
        unsigned char *jb;
        unsigned long jn = compress(px, w, h, TJPF_RGB, TJSAMP_444, &jb);
        snprintf(path, sizeof path, "%s/k/i%d.jpg", tmpdir, i);
        write_file(path, jb, jn);
        tjFree(jb);
        free(px);
    }
    sslk_ctx *c = new_ctx();
    ck_ok(sslk_ctx_set_threads(c, 1));
    sslk_dataset *ds;
    ck_ok(sslk_dataset_open_folder(c, tmpdir, NULL, &ds));
    /* reference: per-channel mean / std over images of equal weight (each view
     * is the same number of pixels), from the decoded pixels */
    double s1[3] = {0}, s2[3] = {0};
    uint8_t *buf = malloc(90 * 90 * 3);
    for (size_t i = 0; i < 8; i++) {
        size_t H, W, C;
        ck_ok(sslk_dataset_read(ds, i, buf, 90 * 90 * 3, &H, &W, &C));
        for (int k = 0; k < 3; k++) {
            double m = 0;
            for (size_t p = 0; p < H * W; p++) m += buf[3 * p + (size_t)k] / 255.0;
            m /= (double)(H * W);
            s1[k] += m / 8;
            s2[k] += m * m / 8;
        }
    }
    free(buf);
    sslk_trainer *tr;
    ck_ok(sslk_trainer_create(c, SSLK_METHOD_SIMCLR, ds, "conv:8:3:2:1,bn,relu,gap,linear:16", "linear:8", &tr));
    double v;
    ck_ok(sslk_trainer_get_f64(tr, SSLK_TRAIN_IMAGE_SIZE, &v));
    ck_close(v, 224, 0, 0); /* the default for images of any size */
    ck_ok(sslk_trainer_get_f64(tr, SSLK_TRAIN_NORM_MODE, &v));
    ck_close(v, 2, 0, 0);
    ck_status(sslk_trainer_set_i64(tr, SSLK_TRAIN_IMAGE_CHANNELS, 2), SSLK_E_SETTING);
    ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_IMAGE_SIZE, 12));
    ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_BATCH, 4));
    ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_EPOCHS, 1));
    ck_ok(sslk_trainer_set_checkpoint_dir(tr, tmpdir));
    ck_ok(sslk_trainer_fit(tr, 0));
    ck_ok(sslk_trainer_get_f64(tr, SSLK_TRAIN_NORM_MODE, &v));
    ck_close(v, 1, 0, 0); /* measured, now stored */
    double mean[3], sd[3];
    for (int k = 0; k < 3; k++) {
        ck_ok(sslk_trainer_get_f64(tr, SSLK_TRAIN_NORM_MEAN0 + k, &mean[k]));
        ck_ok(sslk_trainer_get_f64(tr, SSLK_TRAIN_NORM_STD0 + k, &sd[k]));
        ck_close(mean[k], s1[k], 0, 2e-3);
        ck_close(sd[k], sqrt(s2[k] - s1[k] * s1[k]), 0, 3e-3);
    }
    /* the run keeps them: a loaded trainer does not measure again */
    char ck[400];
    snprintf(ck, sizeof ck, "%s/checkpoint.sslkt", tmpdir);
    sslk_trainer *t2;
    ck_ok(sslk_trainer_load(c, ck, ds, &t2));
    ck_ok(sslk_trainer_get_f64(t2, SSLK_TRAIN_NORM_MODE, &v));
    ck_close(v, 1, 0, 0);
    for (int k = 0; k < 3; k++) {
        ck_ok(sslk_trainer_get_f64(t2, SSLK_TRAIN_NORM_MEAN0 + k, &v));
        ck_close(v, mean[k], 0, 0);
    }
    ck_ok(sslk_trainer_get_f64(t2, SSLK_TRAIN_IMAGE_SIZE, &v));
    ck_close(v, 12, 0, 0);
    /* an RGB folder into a gray encoder: converted (luma), measured on one channel */
    sslk_trainer *t3;
    ck_ok(sslk_trainer_create(c, SSLK_METHOD_VICREG, ds, "conv:8:3:2:1,bn,relu,gap,linear:16", "linear:8", &t3));
    ck_ok(sslk_trainer_set_i64(t3, SSLK_TRAIN_IMAGE_SIZE, 12));
    ck_ok(sslk_trainer_set_i64(t3, SSLK_TRAIN_IMAGE_CHANNELS, 1));
    ck_ok(sslk_trainer_set_i64(t3, SSLK_TRAIN_BATCH, 4));
    ck_ok(sslk_trainer_set_i64(t3, SSLK_TRAIN_EPOCHS, 1));
    ck_ok(sslk_trainer_fit(t3, 0));
    double luma = 0.299 * s1[0] + 0.587 * s1[1] + 0.114 * s1[2];
    ck_ok(sslk_trainer_get_f64(t3, SSLK_TRAIN_NORM_MEAN0, &v));
    ck_close(v, luma, 0, 3e-3);
    float z[8 * 16];
    ck_ok(sslk_trainer_embed(t3, ds, z, 8, 16, NULL));
    for (int i = 0; i < 8 * 16; i++) ck_assert(isfinite(z[i]));
    sslk_trainer_destroy(t3);
    sslk_trainer_destroy(t2);
    sslk_trainer_destroy(tr);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
    rm_tmp();
}
END_TEST

int main(void) {
    Suite *s = suite_create("data_folders");
    TCase *t = tcase_create("folders");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, cmyk_rule_by_hand);
    tcase_add_test(t, cmyk_jpeg_equals_tjdecompress2);
    tcase_add_test(t, png_header_and_errors);
    tcase_add_test(t, recipes_and_draws);
    tcase_add_test(t, trainer_on_mixed_sizes_measures_norm_once);
    suite_add_tcase(s, t);
    return tu_run(s);
}
