/* Data layer internals: the dataset handle and its reader table, decode
 * scratch per worker, the augmentation plan, and the image kernels.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_DATA_INTERNAL_H
#define SSLKIT_DATA_INTERNAL_H

#include "core/internal.h"
#include "sslkit/data.h"

#define SSLI_AUG_MAX_VIEWS 64
/* Fixed-shape datasets are held in memory; refuse absurd headers before reading. */
#define SSLI_DATA_MAX_BYTES ((size_t)1 << 36) /* 64 GiB */
#define SSLI_DATA_MAX_SIDE 65535

/* A decoded image (HWC uint8); data may point into the dataset or into scratch. */
typedef struct ssli_image {
    const uint8_t *data;
    size_t h, w, c;
} ssli_image;

/* Per-thread decode state (file buffer, pixel buffer, TurboJPEG handle). */
typedef struct ssli_scratch {
    const sslk_ctx *ctx;
    uint8_t *file;
    size_t file_cap, file_len;
    uint8_t *pix;
    size_t pix_cap;
    void *tj; /* tjhandle, created on first use */
    uint8_t *aux; /* CMYK samples before conversion to RGB */
    size_t aux_cap;
    int jpeg_cs;  /* TJCS_* of the last JPEG header read */
    bool adobe;   /* that JPEG carries an Adobe APP14 marker (inverted CMYK) */
} ssli_scratch;

void ssli_scratch_init(ssli_scratch *s, const sslk_ctx *ctx);
void ssli_scratch_free(ssli_scratch *s);
/* Grow a scratch buffer to at least n bytes (contents not kept). */
sslk_status ssli_scratch_reserve(const sslk_ctx *ctx, uint8_t **buf, size_t *cap, size_t n,
                                 const char *fn);

struct sslk_dataset;
typedef struct ssli_reader {
    /* Full-resolution size of item i; may load the file into sc. */
    sslk_status (*header)(const struct sslk_dataset *ds, ssli_scratch *sc, size_t i, size_t *h,
                          size_t *w, size_t *c);
    /* Decode item i so that its width >= need_w and height >= need_h where the
     * format can scale down (JPEG DCT scaling), otherwise full size.  Call after
     * header() on the same scratch. */
    sslk_status (*decode)(const struct sslk_dataset *ds, ssli_scratch *sc, size_t i, size_t need_w,
                          size_t need_h, ssli_image *img);
    void (*close)(struct sslk_dataset *ds);
} ssli_reader;

/* Dataset settings (dataset domain) */
#define SSLI_DS_NSET 5
extern const ssli_setting_table ssli_settings_dataset;
extern const ssli_setting_table ssli_settings_augment;
extern const ssli_setting_table ssli_settings_loader;
/* Pin the loader's workers from the next begin_epoch: worker t on CPU
 * cpus[t % n] (n = 0: not pinned).  The trainer's SSLK_TRAIN_PIN_THREADS. */
sslk_status ssli_loader_pin(sslk_loader *ld, const int *cpus, int n);

/* What a named dataset knows about itself (dataset_open.c). */
typedef struct ssli_dataset_info {
    double mean, std;               /* pixels in [0, 1], training split, all channels */
    size_t nclasses;
    const char *const *class_names; /* nclasses names */
} ssli_dataset_info;

struct sslk_dataset {
    sslk_ctx *ctx;
    sslk_dataset_kind kind;
    const ssli_reader *rd;
    size_t n, h, w, c;  /* h = w = 0 for variable-size images */
    uint8_t *pixels;    /* in-memory kinds: n x h x w x c */
    int32_t *labels;    /* n labels or NULL */
    size_t nclasses;
    double set[SSLI_DS_NSET];
    char *path;         /* source, for messages */
    void *priv;         /* reader-specific (JPEG file list) */
    const ssli_dataset_info *info; /* static, for known datasets; else NULL */
};

/* Allocate an in-memory dataset of n images of h x w x c (pixels uninitialised). */
sslk_status ssli_dataset_alloc_mem(sslk_ctx *ctx, sslk_dataset_kind kind, size_t n, size_t h, size_t w,
                                   size_t c, const char *path, sslk_dataset **out, const char *fn);
/* Set labels (takes ownership) and nclasses = max + 1; validates >= 0 and < max_classes. */
sslk_status ssli_dataset_set_labels(sslk_dataset *ds, int32_t *labels, int32_t max_classes,
                                    const char *fn);
extern const ssli_reader ssli_reader_memory;
int64_t ssli_dataset_setting(const sslk_dataset *ds, int key);

/* Readers (one file each).  path is a file or directory as documented in data.h. */
sslk_status ssli_open_idx(sslk_ctx *ctx, const char *path, const char *labels_path, sslk_split split,
                          sslk_dataset **out);
sslk_status ssli_open_cifar(sslk_ctx *ctx, sslk_dataset_kind kind, const char *path, sslk_split split,
                            sslk_dataset **out);
sslk_status ssli_open_npy(sslk_ctx *ctx, const char *path, const char *labels_path, sslk_split split,
                          sslk_dataset **out);
/* JPEG folder file list (reader_folder.c) and its reader table (reader_jpeg.c). */
const char *ssli_folder_path(const sslk_dataset *ds, size_t i, char *buf, size_t cap);
void ssli_folder_close(sslk_dataset *ds);
/* Parse a file-list cache held in memory for root (fuzz target and tests). */
sslk_status ssli_folder_cache_parse(const sslk_ctx *ctx, const char *root, const uint8_t *buf, size_t len,
                                    size_t *count);
extern const ssli_reader ssli_reader_jpeg;
/* PNG (reader_png.c): the folder reader sniffs the magic bytes, so a PNG
 * named .jpg decodes too.  Output: 8-bit RGB (see reader_png.c). */
bool ssli_is_png(const uint8_t *buf, size_t len);
sslk_status ssli_png_header(ssli_scratch *sc, const uint8_t *buf, size_t len, size_t max_side, size_t *w, size_t *h,
                            const char *what);
sslk_status ssli_png_decode(ssli_scratch *sc, const uint8_t *buf, size_t len, size_t max_side, ssli_image *img,
                            const char *what);
/* CMYK samples (4 per pixel, as stored) to RGB: inverted = Adobe polarity. */
void ssli_cmyk_to_rgb(const uint8_t *cmyk, size_t npix, bool inverted, uint8_t *rgb);
sslk_status ssli_open_jpeg_folder(sslk_ctx *ctx, const char *root, const char *cache_path,
                                  sslk_dataset **out);
/* A file list (the cache format: "sslkit-filelist 1", "root R", counts, then
 * "label<TAB>path relative to R" lines) given as the dataset path. */
bool ssli_is_file_list(const sslk_ctx *ctx, const char *path);
sslk_status ssli_open_file_list(sslk_ctx *ctx, const char *path, sslk_dataset **out);

/* Buffer parsers used by the readers and the fuzz targets.  Each validates all
 * sizes before allocating and never reads past len. */
sslk_status ssli_idx_parse(sslk_ctx *ctx, const uint8_t *buf, size_t len, int want_ndim_min,
                           int want_ndim_max, size_t dims[4], int *ndim, const uint8_t **data,
                           const char *what);
sslk_status ssli_cifar_parse(sslk_ctx *ctx, const uint8_t *buf, size_t len, int label_bytes,
                             const char *what, sslk_dataset **out);
typedef struct ssli_npy_info {
    char kind;   /* 'u' (uint), 'i' (int), 'f' (float), 'b' (bool) */
    int size;    /* bytes per element */
    int big;     /* 1 when big-endian */
    int ndim;
    size_t shape[8];
    size_t count;
    size_t data_off; /* offset of the data after the header */
} ssli_npy_info;
sslk_status ssli_npy_parse(const uint8_t *buf, size_t len, ssli_npy_info *info, const char *what);
sslk_status ssli_npy_images_from_buffer(sslk_ctx *ctx, const uint8_t *buf, size_t len, const char *what,
                                        sslk_dataset **out);
sslk_status ssli_npy_labels_from_buffer(sslk_dataset *ds, const uint8_t *buf, size_t len, const char *what);
/* Decode a JPEG held in memory (for the fuzz target and tests): header, then
 * decode at the smallest scale covering need_w x need_h. */
sslk_status ssli_jpeg_decode_mem(ssli_scratch *sc, const uint8_t *buf, size_t len, size_t need_w,
                                 size_t need_h, size_t max_side, int fast, int dct_scaling, int lenient,
                                 ssli_image *img, size_t *full_w, size_t *full_h, const char *what);

/* Read a whole regular file (gzip when gz and the file starts with the gzip
 * magic, raw otherwise) into a growing ssli_malloc'd buffer; max bounds the
 * result (SSLK_E_FORMAT above it) and SSLK_CTX_MAX_FILE_BYTES too
 * (SSLK_E_LIMIT).  Non-regular files (FIFOs, devices) are refused with
 * SSLK_E_IO without blocking; data after a gzip member is SSLK_E_FORMAT. */
sslk_status ssli_read_file(const sslk_ctx *ctx, const char *path, size_t max, int gz, uint8_t **buf,
                           size_t *len, const char *fn);
/* The first n bytes (fewer when the file is shorter), decompressed as above:
 * a header peek before sizes are known. */
sslk_status ssli_read_head(const sslk_ctx *ctx, const char *path, size_t n, int gz, uint8_t **out, size_t *len,
                           const char *fn);
/* Raw regular file into scratch buffer (no gzip), same checks. */
sslk_status ssli_read_file_into(const sslk_ctx *ctx, const char *path, size_t max, uint8_t **buf,
                                size_t *cap, size_t *len, const char *fn);
bool ssli_path_exists(const char *path);
bool ssli_is_dir(const char *path);
/* "<a>/<b>" into a new ssli_malloc'd string. */
char *ssli_path_join(const sslk_ctx *ctx, const char *a, const char *b);
char *ssli_strdup(const sslk_ctx *ctx, const char *s);

/* ---- augmentation --------------------------------------------------------- */
#define SSLI_AUG_NSET 27
struct sslk_augment {
    sslk_ctx *ctx;
    size_t nviews;
    double set[SSLI_AUG_MAX_VIEWS][SSLI_AUG_NSET];
};

/* One view's draw, fixed by (seed, epoch, index, view) and the source size. */
typedef struct ssli_aug_plan {
    size_t out_c, size;
    double cx0, cy0, cw, ch; /* crop rectangle in full-resolution source pixels */
    int flip;
    int jitter;              /* colour jitter applied */
    int order[4];            /* 0 brightness, 1 contrast, 2 saturation, 3 hue */
    double bright, contrast, sat, hue;
    int gray;
    double blur_sigma;       /* 0 = no blur */
    size_t blur_radius;      /* taps each side (kernel 2r + 1) */
    int solarize;
    double sol_thr;          /* threshold in [0,1] */
    double mean[3], std[3];
} ssli_aug_plan;

sslk_status ssli_aug_validate(const sslk_augment *aug, const char *fn);
double ssli_aug_get(const sslk_augment *aug, size_t view, int key);
size_t ssli_aug_out_channels(const sslk_augment *aug, size_t view, size_t in_c);
void ssli_aug_make_plan(const sslk_augment *aug, size_t view, size_t src_h, size_t src_w, size_t in_c,
                        uint64_t seed, uint64_t epoch, uint64_t index, ssli_aug_plan *p);
/* Source pixels needed so the decoded image still covers every crop at >= 1x. */
void ssli_aug_need(const ssli_aug_plan *p, size_t src_h, size_t src_w, size_t *need_h, size_t *need_w);
/* Run a plan on img (a possibly downscaled decode of a src_h x src_w image). tmp
 * must hold ssli_aug_tmp_floats(...) floats. */
size_t ssli_aug_tmp_floats(const ssli_aug_plan *p, const ssli_image *img);
void ssli_aug_run(const ssli_aug_plan *p, const ssli_image *img, size_t src_h, size_t src_w, float *out,
                  float *tmp);

/* The evaluation transform (transform_eval.c): the source rectangle that
 * resize-shorter-side-to-round(size/fraction) + centre crop of size samples. */
size_t ssli_eval_resize_side(size_t size, double fraction);
void ssli_eval_crop(double H, double W, size_t size, double fraction, ssli_aug_plan *p);

/* Kernels (augment_ops.c), all on planar float images in [0,1]. */
void ssli_resize_crop(const ssli_image *img, double x0, double y0, double cw, double chh, size_t out_w,
                      size_t out_h, int flip, size_t out_c, float *out, float *tmp);
void ssli_adjust_brightness(float *x, size_t c, size_t hw, double f);
void ssli_adjust_contrast(float *x, size_t c, size_t hw, double f);
void ssli_adjust_saturation(float *x, size_t c, size_t hw, double f);
void ssli_adjust_hue(float *x, size_t c, size_t hw, double shift);
void ssli_to_gray(float *x, size_t c, size_t hw);
/* radius: taps each side (0: ceil(3 sigma)); capped at min(h, w) - 1 and 256. */
void ssli_gaussian_blur(float *x, size_t c, size_t h, size_t w, double sigma, size_t radius, float *tmp);
void ssli_solarize(float *x, size_t n, double thr);
void ssli_normalize(float *x, size_t c, size_t hw, const double *mean, const double *std);

#endif
