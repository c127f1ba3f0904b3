/* The dataset handle: queries, settings, in-memory datasets and full-size reads.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "data_internal.h"

#include <string.h>

static const ssli_setting_def dataset_defs[SSLI_DS_NSET] = {
    {SSLK_DATASET_DCT_SCALING, "dct_scaling", SSLK_SETTING_I64, 0, 1, 1,
     "decode JPEGs at the smallest DCT scale that still covers the requested crop"},
    {SSLK_DATASET_JPEG_FAST_DCT, "jpeg_fast_dct", SSLK_SETTING_I64, 0, 1, 0,
     "use TurboJPEG's fast integer IDCT (slightly less exact)"},
    {SSLK_DATASET_MAX_IMAGE_SIDE, "max_image_side", SSLK_SETTING_I64, 1, SSLI_DATA_MAX_SIDE, 16384,
     "JPEGs with a larger width or height are refused as hostile"},
    {SSLK_DATASET_MAX_FILE_MB, "max_file_mb", SSLK_SETTING_I64, 1, 65536, 256,
     "image files larger than this many MiB are refused"},
    {SSLK_DATASET_JPEG_LENIENT, "jpeg_lenient", SSLK_SETTING_I64, 0, 1, 0,
     "accept JPEGs that decode completely despite libjpeg warnings (never truncated or unreadable ones)"},
};
const ssli_setting_table ssli_settings_dataset = {"dataset", dataset_defs, SSLI_DS_NSET, NULL};

int64_t ssli_dataset_setting(const sslk_dataset *ds, int key) {
    int i = ssli_setting_index(&ssli_settings_dataset, key);
    return i < 0 ? 0 : (int64_t)ds->set[i];
}

/* ---- in-memory reader ------------------------------------------------------ */
static sslk_status mem_header(const sslk_dataset *ds, ssli_scratch *sc, size_t i, size_t *h, size_t *w,
                              size_t *c) {
    (void)sc;
    (void)i;
    *h = ds->h;
    *w = ds->w;
    *c = ds->c;
    return SSLK_OK;
}

static sslk_status mem_decode(const sslk_dataset *ds, ssli_scratch *sc, size_t i, size_t need_w,
                              size_t need_h, ssli_image *img) {
    (void)sc;
    (void)need_w;
    (void)need_h;
    size_t per = ds->h * ds->w * ds->c;
    img->data = ds->pixels + i * per;
    img->h = ds->h;
    img->w = ds->w;
    img->c = ds->c;
    return SSLK_OK;
}

const ssli_reader ssli_reader_memory = {mem_header, mem_decode, NULL};

sslk_status ssli_dataset_alloc_mem(sslk_ctx *ctx, sslk_dataset_kind kind, size_t n, size_t h, size_t w,
                                   size_t c, const char *path, sslk_dataset **out, const char *fn) {
    size_t per, total;
    if (ssli_mul3_overflow(h, w, c, &per) || ssli_mul_overflow(per, n, &total) ||
        total > SSLI_DATA_MAX_BYTES)
        return ssli_err(SSLK_E_OVERFLOW, "%s: %zu images of %zu x %zu x %zu exceed the %zu-byte limit", fn, n,
                        h, w, c, SSLI_DATA_MAX_BYTES);
    sslk_dataset *ds = ssli_calloc(ctx, 1, sizeof *ds);
    if (!ds) return ssli_err(ssli_alloc_status(), "%s: cannot allocate the dataset", fn);
    ds->ctx = ctx;
    ds->kind = kind;
    ds->rd = &ssli_reader_memory;
    ds->n = n;
    ds->h = h;
    ds->w = w;
    ds->c = c;
    ssli_setting_defaults(&ssli_settings_dataset, ds->set);
    ds->path = ssli_strdup(ctx, path ? path : "(memory)");
    ds->pixels = ssli_malloc(ctx, total ? total : 1, 1);
    if (!ds->path || !ds->pixels) {
        sslk_status s = ssli_alloc_status();
        sslk_dataset_destroy(ds);
        return ssli_err(s, "%s: cannot allocate %zu bytes of pixels", fn, total);
    }
    *out = ds;
    return SSLK_OK;
}

sslk_status ssli_dataset_set_labels(sslk_dataset *ds, int32_t *labels, int32_t max_classes,
                                    const char *fn) {
    int32_t mx = -1;
    for (size_t i = 0; i < ds->n; i++) {
        if (labels[i] < 0 || labels[i] >= max_classes) {
            int32_t bad = labels[i];
            ssli_free(ds->ctx, labels);
            return ssli_err(SSLK_E_RANGE, "%s: label %d of item %zu in '%s' is outside [0, %d)", fn, bad, i,
                            ds->path, max_classes);
        }
        if (labels[i] > mx) mx = labels[i];
    }
    ssli_free(ds->ctx, ds->labels);
    ds->labels = labels;
    ds->nclasses = (size_t)(mx + 1);
    return SSLK_OK;
}

sslk_status sslk_dataset_from_memory(sslk_ctx *ctx, const uint8_t *pixels, size_t n, size_t h, size_t w,
                                     size_t c, const int32_t *labels, sslk_dataset **out) {
    static const char *fn = "sslk_dataset_from_memory";
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    SSLI_CHECK_PTR(pixels, fn);
    if (n == 0 || h == 0 || w == 0 || h > SSLI_DATA_MAX_SIDE || w > SSLI_DATA_MAX_SIDE)
        return ssli_err(SSLK_E_SHAPE, "%s: n = %zu, h = %zu, w = %zu must be positive (sides <= %d)", fn, n,
                        h, w, SSLI_DATA_MAX_SIDE);
    if (c != 1 && c != 3) return ssli_err(SSLK_E_SHAPE, "%s: c = %zu must be 1 or 3", fn, c);
    sslk_dataset *ds;
    SSLI_TRY(ssli_dataset_alloc_mem(ctx, SSLK_DATASET_MEMORY, n, h, w, c, NULL, &ds, fn));
    memcpy(ds->pixels, pixels, n * h * w * c);
    if (labels) {
        int32_t *l = ssli_malloc(ctx, n, sizeof *l);
        if (!l) {
            sslk_dataset_destroy(ds);
            return ssli_err(ssli_alloc_status(), "%s: cannot allocate labels", fn);
        }
        memcpy(l, labels, n * sizeof *l);
        sslk_status s = ssli_dataset_set_labels(ds, l, INT32_MAX, fn);
        if (s != SSLK_OK) {
            sslk_dataset_destroy(ds);
            return s;
        }
    }
    *out = ds;
    return SSLK_OK;
}

void sslk_dataset_destroy(sslk_dataset *ds) {
    if (!ds) return;
    if (ds->rd && ds->rd->close) ds->rd->close(ds);
    ssli_free(ds->ctx, ds->pixels);
    ssli_free(ds->ctx, ds->labels);
    ssli_free(ds->ctx, ds->path);
    ssli_free(ds->ctx, ds);
}

/* ---- queries ---------------------------------------------------------------- */
sslk_status sslk_dataset_get_kind(const sslk_dataset *ds, sslk_dataset_kind *kind) {
    SSLI_CHECK_PTR(ds, "sslk_dataset_get_kind");
    SSLI_CHECK_PTR(kind, "sslk_dataset_get_kind");
    *kind = ds->kind;
    return SSLK_OK;
}

sslk_status sslk_dataset_count(const sslk_dataset *ds, size_t *n) {
    SSLI_CHECK_PTR(ds, "sslk_dataset_count");
    SSLI_CHECK_PTR(n, "sslk_dataset_count");
    *n = ds->n;
    return SSLK_OK;
}

sslk_status sslk_dataset_shape(const sslk_dataset *ds, size_t *h, size_t *w, size_t *c) {
    SSLI_CHECK_PTR(ds, "sslk_dataset_shape");
    if (h) *h = ds->h;
    if (w) *w = ds->w;
    if (c) *c = ds->c;
    return SSLK_OK;
}

sslk_status sslk_dataset_num_classes(const sslk_dataset *ds, size_t *k) {
    SSLI_CHECK_PTR(ds, "sslk_dataset_num_classes");
    SSLI_CHECK_PTR(k, "sslk_dataset_num_classes");
    *k = ds->labels ? ds->nclasses : 0;
    return SSLK_OK;
}

sslk_status sslk_dataset_label(const sslk_dataset *ds, size_t i, int32_t *label) {
    SSLI_CHECK_PTR(ds, "sslk_dataset_label");
    SSLI_CHECK_PTR(label, "sslk_dataset_label");
    if (i >= ds->n) return ssli_err(SSLK_E_RANGE, "sslk_dataset_label: index %zu >= count %zu", i, ds->n);
    *label = ds->labels ? ds->labels[i] : -1;
    return SSLK_OK;
}

sslk_status sslk_dataset_labels(const sslk_dataset *ds, int32_t *labels, size_t n) {
    SSLI_CHECK_PTR(ds, "sslk_dataset_labels");
    SSLI_CHECK_PTR(labels, "sslk_dataset_labels");
    if (n != ds->n) return ssli_err(SSLK_E_SHAPE, "sslk_dataset_labels: n = %zu but the dataset has %zu items", n, ds->n);
    for (size_t i = 0; i < n; i++) labels[i] = ds->labels ? ds->labels[i] : -1;
    return SSLK_OK;
}

sslk_status sslk_dataset_image_shape(const sslk_dataset *ds, size_t i, size_t *h, size_t *w, size_t *c) {
    static const char *fn = "sslk_dataset_image_shape";
    SSLI_CHECK_PTR(ds, fn);
    if (i >= ds->n) return ssli_err(SSLK_E_RANGE, "%s: index %zu >= count %zu", fn, i, ds->n);
    ssli_scratch sc;
    ssli_scratch_init(&sc, ds->ctx);
    size_t hh = 0, ww = 0, cc = 0;
    sslk_status s = ds->rd->header(ds, &sc, i, &hh, &ww, &cc);
    ssli_scratch_free(&sc);
    if (s != SSLK_OK) return s;
    if (h) *h = hh;
    if (w) *w = ww;
    if (c) *c = cc;
    return SSLK_OK;
}

sslk_status sslk_dataset_read(const sslk_dataset *ds, size_t i, uint8_t *out, size_t cap, size_t *h,
                              size_t *w, size_t *c) {
    static const char *fn = "sslk_dataset_read";
    SSLI_CHECK_PTR(ds, fn);
    SSLI_CHECK_PTR(out, fn);
    if (i >= ds->n) return ssli_err(SSLK_E_RANGE, "%s: index %zu >= count %zu", fn, i, ds->n);
    ssli_scratch sc;
    ssli_scratch_init(&sc, ds->ctx);
    size_t hh, ww, cc;
    ssli_image img;
    sslk_status s = ds->rd->header(ds, &sc, i, &hh, &ww, &cc);
    if (s == SSLK_OK) s = ds->rd->decode(ds, &sc, i, ww, hh, &img);
    if (s == SSLK_OK) {
        size_t bytes = img.h * img.w * img.c;
        if (bytes > cap)
            s = ssli_err(SSLK_E_SHAPE, "%s: item %zu needs %zu bytes (%zu x %zu x %zu), cap is %zu", fn, i,
                         bytes, img.h, img.w, img.c, cap);
        else {
            memcpy(out, img.data, bytes);
            if (h) *h = img.h;
            if (w) *w = img.w;
            if (c) *c = img.c;
        }
    }
    ssli_scratch_free(&sc);
    return s;
}

/* sslk_dataset_{set,get}_{f64,i64} */
SSLI_SETTINGS_TABLE_ACCESSORS(sslk_dataset, sslk_dataset, ssli_settings_dataset, set)
