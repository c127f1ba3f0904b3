/* The evaluation harness (issue 15): the eval transform's crop on hand-derived
 * images, sslk_model_embed against per-image forwards, and ImageNet-X files
 * (values by hand, every refusal).  numpy / torchvision / pure-Python
 * references for the general case: tests/python/test_harness.py.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static sslk_augment *eval_recipe(sslk_ctx *c, size_t size, double frac) {
    sslk_augment *a = NULL;
    ck_ok(sslk_augment_create(c, 1, &a));
    ck_ok(sslk_augment_preset(a, 0, SSLK_AUG_PRESET_EVAL));
    ck_ok(sslk_augment_set_i64(a, 0, SSLK_AUG_SIZE, (int64_t)size));
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_CENTER_FRACTION, frac));
    return a;
}

/* 4 x 8 image, size 2, fraction 0.5: the shorter side resizes to 4 (no
 * change), the crop keeps rows 1-2 and columns round((8-2)/2) = 3-4 exactly. */
START_TEST(eval_crop_identity_scale) {
    sslk_ctx *c = NULL;
    ck_ok(sslk_ctx_create(&c));
    sslk_augment *a = eval_recipe(c, 2, 0.5);
    uint8_t img[32];
    for (int i = 0; i < 32; i++) img[i] = (uint8_t)(5 * i);
    float out[4];
    ck_ok(sslk_augment_apply(a, 0, img, 4, 8, 1, 0, 0, 0, out));
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 2; x++) ck_close(out[y * 2 + x], 5.0 * ((y + 1) * 8 + x + 3) / 255.0, 0, 1e-6);
    int64_t crop = -1;
    ck_ok(sslk_augment_get_i64(a, 0, SSLK_AUG_CROP, &crop));
    ck_assert_int_eq(crop, SSLK_AUG_CROP_RESIZE_CENTER);
    sslk_augment_destroy(a);
    sslk_ctx_destroy(c);
}
END_TEST

/* 8 x 8 ramp v = 10 x + 20 y, size 2, fraction 0.5: resized to 4 x 4 (scale 2,
 * triangle taps 1/8, 3/8, 3/8, 1/8 around 2 o + 1), crop offset 1, so output
 * (y, x) samples the ramp at 2.5 + 2 x and 2.5 + 2 y. */
START_TEST(eval_crop_downscale) {
    sslk_ctx *c = NULL;
    ck_ok(sslk_ctx_create(&c));
    sslk_augment *a = eval_recipe(c, 2, 0.5);
    uint8_t img[64 * 3];
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++)
            for (int k = 0; k < 3; k++) img[(y * 8 + x) * 3 + k] = (uint8_t)(10 * x + 20 * y + k);
    float out[12];
    ck_ok(sslk_augment_apply(a, 0, img, 8, 8, 3, 7, 3, 11, out));
    for (int k = 0; k < 3; k++)
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 2; x++)
                ck_close(out[k * 4 + y * 2 + x], (10 * (2.5 + 2 * x) + 20 * (2.5 + 2 * y) + k) / 255.0, 0, 2e-6);
    sslk_augment_destroy(a);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(embed_matches_forward) {
    sslk_ctx *c = NULL;
    ck_ok(sslk_ctx_create(&c));
    ck_ok(sslk_ctx_set_threads(c, 2));
    enum { N = 5, H = 9, W = 13 };
    uint8_t px[N * H * W];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)((i * 37) % 251);
    int32_t lab[N] = {0, 1, 2, 1, 0};
    sslk_dataset *ds = NULL;
    ck_ok(sslk_dataset_from_memory(c, px, N, H, W, 1, lab, &ds));
    size_t shape[3] = {1, 6, 6};
    sslk_model *m = NULL;
    ck_ok(sslk_model_from_spec(c, "flatten,linear:3", 3, shape, 5, &m));
    sslk_augment *a = eval_recipe(c, 6, 0.875);
    ck_ok(sslk_augment_set_f64(a, 0, SSLK_AUG_MEAN0, 0.5));
    float z[N * 3], x[36], y[3];
    int32_t got[N];
    ck_ok(sslk_model_embed(m, ds, a, 2, z, N, 3, got, NULL, NULL));
    for (size_t i = 0; i < N; i++) {
        ck_ok(sslk_augment_apply(a, 0, px + i * H * W, H, W, 1, 0, 0, i, x));
        ck_ok(sslk_model_forward(m, x, 1, y, SSLK_MODE_EVAL));
        for (int j = 0; j < 3; j++) ck_close(z[i * 3 + j], y[j], 1e-6, 1e-6);
        ck_assert_int_eq(got[i], lab[i]);
    }
    ck_status(sslk_model_embed(m, ds, a, 2, z, N - 1, 3, got, NULL, NULL), SSLK_E_SHAPE);
    ck_status(sslk_model_embed(m, ds, a, 0, z, N, 3, got, NULL, NULL), SSLK_E_RANGE);
    ck_ok(sslk_augment_set_i64(a, 0, SSLK_AUG_SIZE, 7));
    ck_status(sslk_model_embed(m, ds, a, 2, z, N, 3, got, NULL, NULL), SSLK_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "the model takes 1 x 6 x 6"));
    char path[16];
    ck_status(sslk_dataset_item_path(ds, 0, path, sizeof path, NULL), SSLK_E_UNSUPPORTED);
    sslk_augment_destroy(a);
    sslk_model_destroy(m);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
}
END_TEST

static const char *const file_order[16] = {"multiple_objects", "background", "color", "brighter", "darker",
                                           "style", "larger", "smaller", "object_blocking", "person_blocking",
                                           "partial_view", "pattern", "pose", "shape", "subcategory", "texture"};

/* One annotation line with the named factors set (comma-separated). */
static void line(FILE *f, const char *name, int cls, const char *set, const char *meta) {
    fprintf(f, "{\"file_name\": \"%s\", \"class\": %d", name, cls);
    for (int k = 0; k < 16; k++) {
        char copy[128];
        snprintf(copy, sizeof copy, "%s", set);
        int on = 0;
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
            on |= strcmp(t, file_order[k]) == 0;
        fprintf(f, ", \"%s\": %d", file_order[k], on);
    }
    fprintf(f, ", \"justification\": \"j\", \"one_word\": \"w\", \"metaclass\": \"%s\"}\n", meta);
}

static char *write_tmp(const char *tag, void (*fill)(FILE *)) {
    static char path[8][64];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 64, "/tmp/sslk_imx_%d_%s.jsonl", (int)getpid(), tag);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fill(f);
    fclose(f);
    return p;
}

static void fill_ok(FILE *f) {
    line(f, "a.JPEG", 1, "pose", "dog");
    line(f, "b.JPEG", 2, "pose,texture", "dog");
    line(f, "c.JPEG", 3, "", "bird");
    line(f, "d.JPEG", 4, "texture", "bird");
    fputs("\n", f); /* blank lines are skipped */
}

static int factor_index(const char *name) {
    for (size_t f = 0; f < SSLK_IMAGENET_X_NUM_FACTORS; f++) {
        const char *n = NULL;
        ck_ok(sslk_imagenet_x_factor_name(f, &n));
        if (strcmp(n, name) == 0) return (int)f;
    }
    return -1;
}

/* Predictions for b (wrong), a, c (right), x (unannotated); d unpredicted:
 * accuracy 2/3; pose on a, b: 1/2, ratio (1/2) / (1/3) = 1.5; texture on b:
 * 0, ratio 3; metaclass dog: 1/2, bird: 1 (c only). */
START_TEST(imagenet_x_values) {
    sslk_imagenet_x *ax = NULL;
    ck_ok(sslk_imagenet_x_load(NULL, write_tmp("ok", fill_ok), SSLK_IMAGENET_X_TOP - 1, &ax));
    size_t n = 0, nm = 0;
    ck_ok(sslk_imagenet_x_count(ax, &n, &nm));
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(nm, 2);
    const char *mn = NULL;
    ck_ok(sslk_imagenet_x_metaclass(ax, 1, &mn));
    ck_assert_str_eq(mn, "bird");
    const char *files[4] = {"val/x/b.JPEG", "a.JPEG", "/abs/c.JPEG", "x.JPEG"};
    const int32_t pred[4] = {0, 1, 3, 7};
    size_t counts[3];
    double acc, fa[16], fr[16], ma[2], mfa[32], mfr[32];
    int64_t fc[16], mc[2], mfc[32];
    ck_ok(sslk_imagenet_x_evaluate(ax, files, pred, 4, counts, &acc, fa, fr, fc, ma, mc, mfa, mfr, mfc));
    ck_assert_uint_eq(counts[0], 3);
    ck_assert_uint_eq(counts[1], 1);
    ck_assert_uint_eq(counts[2], 1);
    ck_close(acc, 2.0 / 3.0, 0, 1e-12);
    int pose = factor_index("pose"), tex = factor_index("texture"), col = factor_index("color");
    ck_assert_int_eq(pose, 0);
    ck_assert_int_eq(fc[pose], 2);
    ck_close(fa[pose], 0.5, 0, 1e-12);
    ck_close(fr[pose], 1.5, 0, 1e-12);
    ck_assert_int_eq(fc[tex], 1);
    ck_close(fr[tex], 3.0, 0, 1e-12);
    ck_assert_int_eq(fc[col], 0);
    ck_assert(isnan(fa[col]) && isnan(fr[col]));
    ck_close(ma[0], 0.5, 0, 1e-12);
    ck_close(ma[1], 1.0, 0, 1e-12);
    ck_assert_int_eq(mc[1], 1);
    ck_close(mfr[pose], 1.0, 0, 1e-12); /* dog: pose 1/2 against dog's 1/2 */
    ck_assert(isnan(mfr[16 + tex]));    /* bird: texture only on d, unpredicted */
    const char *dup[2] = {"a.JPEG", "y/a.JPEG"};
    ck_status(sslk_imagenet_x_evaluate(ax, dup, pred, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
              SSLK_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "'a.JPEG' appears twice in the predictions"));
    const char *none[1] = {"zz.JPEG"};
    ck_status(sslk_imagenet_x_evaluate(ax, none, pred, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
              SSLK_E_INVALID_ARG);
    sslk_imagenet_x_destroy(ax);
}
END_TEST

static void fill_dup(FILE *f) {
    line(f, "a.JPEG", 1, "", "dog");
    line(f, "b.JPEG", 1, "", "dog");
    line(f, "a.JPEG", 2, "", "dog");
}
static void fill_value(FILE *f) {
    line(f, "a.JPEG", 1, "", "dog");
    fputs("{\"file_name\": \"q.JPEG\", \"class\": 1, \"multiple_objects\": 0, \"background\": 0, \"color\": 0, "
          "\"brighter\": 0, \"darker\": 0, \"style\": 0, \"larger\": 0, \"smaller\": 0, \"object_blocking\": 0, "
          "\"person_blocking\": 0, \"partial_view\": 0, \"pattern\": 0, \"pose\": 0, \"shape\": 0, "
          "\"subcategory\": 0, \"texture\": \"maybe\", \"metaclass\": \"dog\"}\n", f);
}
static void fill_missing(FILE *f) { fputs("{\"file_name\": \"a.JPEG\", \"class\": 1, \"pose\": 1}\n", f); }
static void fill_json(FILE *f) {
    line(f, "a.JPEG", 1, "", "dog");
    fputs("{\"file_name\": \"b.JPEG\",\n", f);
}
static void fill_two(FILE *f) { line(f, "a.JPEG", 1, "pose,style", "dog"); }

START_TEST(imagenet_x_refusals) {
    sslk_imagenet_x *ax = NULL;
    ck_status(sslk_imagenet_x_load(NULL, write_tmp("dup", fill_dup), SSLK_IMAGENET_X_MULTI, &ax), SSLK_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "file_name 'a.JPEG' appears twice (lines 1 and 3)"));
    ck_status(sslk_imagenet_x_load(NULL, write_tmp("val", fill_value), SSLK_IMAGENET_X_MULTI, &ax), SSLK_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "line 2 ('q.JPEG'): factor 'texture' = \"maybe\" is not 0 or 1"));
    ck_status(sslk_imagenet_x_load(NULL, write_tmp("mis", fill_missing), SSLK_IMAGENET_X_MULTI, &ax), SSLK_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "factor column 'background' is missing"));
    ck_status(sslk_imagenet_x_load(NULL, write_tmp("json", fill_json), SSLK_IMAGENET_X_MULTI, &ax), SSLK_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "line 2 is not valid JSON"));
    ck_status(sslk_imagenet_x_load(NULL, write_tmp("two", fill_two), SSLK_IMAGENET_X_TOP, &ax), SSLK_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "2 factors set in a top-factor file"));
    ck_ok(sslk_imagenet_x_load(NULL, write_tmp("two", fill_two), SSLK_IMAGENET_X_MULTI, &ax));
    sslk_imagenet_x_destroy(ax);
    ck_status(sslk_imagenet_x_load(NULL, "/nonexistent/imx.jsonl", 0, &ax), SSLK_E_IO);
    ck_status(sslk_imagenet_x_load(NULL, "x", 2, &ax), SSLK_E_INVALID_ARG);
    ck_assert_ptr_null(ax);
    const char *nm = NULL;
    ck_status(sslk_imagenet_x_factor_name(16, &nm), SSLK_E_RANGE);
    for (int k = 0; k < 8; k++) {
        char p[64];
        const char *tags[] = {"ok", "dup", "val", "mis", "json", "two"};
        if (k < 6) {
            snprintf(p, sizeof p, "/tmp/sslk_imx_%d_%s.jsonl", (int)getpid(), tags[k]);
            unlink(p);
        }
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("harness");
    TCase *tc = tcase_create("harness");
    tcase_add_test(tc, eval_crop_identity_scale);
    tcase_add_test(tc, eval_crop_downscale);
    tcase_add_test(tc, embed_matches_forward);
    tcase_add_test(tc, imagenet_x_values);
    tcase_add_test(tc, imagenet_x_refusals);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
