/* libsslkit — data: datasets (IDX, CIFAR binary, NPY, JPEG folders), two-view
 * and multi-crop SSL augmentations, and a prefetching batch loader.
 *
 * Flow: sslk_dataset_open() -> sslk_augment_create() + settings ->
 * sslk_loader_create() -> per epoch: sslk_loader_begin_epoch(), then
 * sslk_loader_next() until it reports 0 rows.
 *
 * Reproducibility: the random draw of every view of every sample depends only
 * on (seed, epoch, datum index, view), and the epoch order only on
 * (seed, epoch), so batches are identical at any worker count.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_DATA_H
#define SSLKIT_DATA_H

#include "sslkit/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * Datasets
 * ====================================================================== */

/** Opaque dataset: a fixed, indexable list of images with optional labels.
 *  Item i's "datum index" is i itself (DIET's target); the loader reports it.
 *  Threads: the const calls (count, shape, labels, image_shape, read, subset)
 *  use per-call scratch and may run concurrently, also with loaders, subsets
 *  and trainers reading it; sslk_dataset_set_i64 needs exclusive use of the
 *  dataset and of every handle reading it. */
typedef struct sslk_dataset sslk_dataset;

/** Dataset formats (frozen values). */
typedef enum sslk_dataset_kind {
    SSLK_DATASET_AUTO = 0,        /**< detect from the path (open_kind only) */
    SSLK_DATASET_IDX = 1,         /**< MNIST / Fashion-MNIST IDX files, plain or gzip */
    SSLK_DATASET_CIFAR10 = 2,     /**< CIFAR-10 binary batches (1 label byte + 3072) */
    SSLK_DATASET_CIFAR100 = 3,    /**< CIFAR-100 binary (coarse + fine label byte + 3072); label = fine */
    SSLK_DATASET_NPY = 4,         /**< .npy N x H x W [x C] uint8 or float32/64 in [0, 1] */
    SSLK_DATASET_JPEG_FOLDER = 5, /**< root/<class>/NAME.jpg (ImageFolder layout), or root/NAME.jpg unlabeled */
    SSLK_DATASET_MEMORY = 6       /**< copied from caller memory (sslk_dataset_from_memory) */
} sslk_dataset_kind;

/** Which half of a dataset with a train/test split to open (frozen values). */
typedef enum sslk_split {
    SSLK_SPLIT_TRAIN = 0,
    SSLK_SPLIT_TEST = 1
} sslk_split;

/* Dataset settings ("dataset" domain, keys 1800-1899). */
typedef enum sslk_dataset_setting {
    SSLK_DATASET_DCT_SCALING = 1800,    /**< I64 0/1, default 1: JPEG decode at the smallest DCT scale covering the crop */
    SSLK_DATASET_JPEG_FAST_DCT = 1801,  /**< I64 0/1, default 0: TurboJPEG's fast (less exact) IDCT */
    SSLK_DATASET_MAX_IMAGE_SIDE = 1802, /**< I64, default 16384: larger JPEG sides are refused as hostile */
    SSLK_DATASET_MAX_FILE_MB = 1803,    /**< I64, default 256: larger image files are refused */
    SSLK_DATASET_JPEG_LENIENT = 1804    /**< I64 0/1, default 0: accept JPEGs that decode completely with
                                             libjpeg warnings (e.g. extraneous bytes); since 1.2 */
} sslk_dataset_setting;

/** Open a dataset by name or path.
 *  - "fashion-mnist" (the project default) opens Debian's dataset-fashion-mnist
 *    files in /usr/share/datasets/fashion-mnist/ (SSLK_E_NOT_FOUND with a
 *    message naming the package when missing);
 *  - a directory holding {train,t10k}-images-idx3-ubyte[.gz] (IDX), CIFAR-10
 *    data_batch_N.bin / test_batch.bin, CIFAR-100 train.bin / test.bin,
 *    {train,test}_images.npy [+ _labels.npy] or x_{train,test}.npy [+ y_...],
 *    or a JPEG folder (root/<class>/NAME.jpg; root/train and root/val|test pick the split);
 *  - a file list (since 1.2): a text file in the file-list cache format of
 *    sslk_dataset_open_folder, read as given (both splits: the same list);
 *  - a file: *.idx?-ubyte[.gz], *.bin (CIFAR), *.npy (labels from
 *    <stem>_labels.npy or the name with "images" replaced by "labels").
 *  split picks train or test where the format has both. */
SSLK_API sslk_status sslk_dataset_open(sslk_ctx *ctx, const char *path_or_name, sslk_split split,
                                       sslk_dataset **out);

/** Open with an explicit format.  labels_path may be NULL (labels found as in
 *  sslk_dataset_open, or none).  For SSLK_DATASET_JPEG_FOLDER, path is the
 *  class root itself (no split folders). */
SSLK_API sslk_status sslk_dataset_open_kind(sslk_ctx *ctx, sslk_dataset_kind kind, const char *path,
                                            const char *labels_path, sslk_split split,
                                            sslk_dataset **out);

/** Open a JPEG folder (root/<class>/NAME.jpg, classes = sorted sub-folder names;
 *  or root/NAME.jpg, unlabeled) with a file-list cache: when cache_path names a
 *  valid list for this root it is used instead of scanning, otherwise the
 *  folder is scanned and the list written there atomically.  cache_path may
 *  be NULL (scan, no cache). */
SSLK_API sslk_status sslk_dataset_open_folder(sslk_ctx *ctx, const char *root, const char *cache_path,
                                              sslk_dataset **out);

/** A dataset copied from memory: n images of h x w x c uint8 (HWC, row-major),
 *  c = 1 or 3; labels (n int32 >= 0) may be NULL. */
SSLK_API sslk_status sslk_dataset_from_memory(sslk_ctx *ctx, const uint8_t *pixels, size_t n, size_t h,
                                              size_t w, size_t c, const int32_t *labels,
                                              sslk_dataset **out);

/** A dataset of chosen items of parent: item i of the subset is item
 *  indices[i] of parent (n >= 1 indices, each < parent's count; repeats allowed).
 *  Nothing is copied but the indices and labels: parent must outlive the
 *  subset, and the subset reads with parent's settings.  The kind, image shape
 *  and number of classes are parent's (a subset missing the top class still
 *  reports all classes).  SSLK_E_RANGE names the first bad index. */
SSLK_API sslk_status sslk_dataset_subset(const sslk_dataset *parent, const size_t *indices, size_t n,
                                         sslk_dataset **out);

/** Destroy a dataset (NULL accepted).  Destroy its loaders first. */
SSLK_API void sslk_dataset_destroy(sslk_dataset *ds);

/** The dataset's format. */
SSLK_API sslk_status sslk_dataset_get_kind(const sslk_dataset *ds, sslk_dataset_kind *kind);
/** Number of items. */
SSLK_API sslk_status sslk_dataset_count(const sslk_dataset *ds, size_t *n);
/** Common image shape; h = w = 0 when images differ in size (JPEG folders, c = 3). */
SSLK_API sslk_status sslk_dataset_shape(const sslk_dataset *ds, size_t *h, size_t *w, size_t *c);
/** Number of classes (max label + 1; 0 when unlabeled). */
SSLK_API sslk_status sslk_dataset_num_classes(const sslk_dataset *ds, size_t *k);
/** Label of item i (-1 when unlabeled).  SSLK_E_RANGE for i >= count. */
SSLK_API sslk_status sslk_dataset_label(const sslk_dataset *ds, size_t i, int32_t *label);
/** All labels into labels[0..n), n must equal the count (-1 when unlabeled). */
SSLK_API sslk_status sslk_dataset_labels(const sslk_dataset *ds, int32_t *labels, size_t n);
/** Full-resolution shape of item i (reads the JPEG header for folders). */
SSLK_API sslk_status sslk_dataset_image_shape(const sslk_dataset *ds, size_t i, size_t *h, size_t *w,
                                              size_t *c);
/** Read item i at full resolution into out (HWC uint8, cap bytes); writes its
 *  shape.  SSLK_E_SHAPE when cap is too small; SSLK_E_FORMAT naming the file
 *  for a corrupt image. */
SSLK_API sslk_status sslk_dataset_read(const sslk_dataset *ds, size_t i, uint8_t *out, size_t cap,
                                       size_t *h, size_t *w, size_t *c);
/** Set / get an integer dataset setting (SSLK_DATASET_*).  Not while a loader
 *  over this dataset is inside an epoch (its workers read the settings). */
SSLK_API sslk_status sslk_dataset_set_i64(sslk_dataset *ds, int key, int64_t value);
SSLK_API sslk_status sslk_dataset_get_i64(const sslk_dataset *ds, int key, int64_t *value);
#ifdef SSLK_EXPERIMENTAL
/** The other typed accessors of the same settings (one definition for every
 *  handle; an integer read of a real setting truncates toward zero).
 *  Experimental since 1.2. */
SSLK_API sslk_status sslk_dataset_set_f64(sslk_dataset *ds, int key, double value);
SSLK_API sslk_status sslk_dataset_get_f64(const sslk_dataset *ds, int key, double *value);
#endif

#ifdef SSLK_EXPERIMENTAL
/* ---- What a named dataset knows about itself (experimental, since 1.2) -----
 * Datasets opened by a known name ("fashion-mnist"), or from a folder named
 * like one, carry their per-channel pixel statistics and class names;
 * subsets inherit their parent's.  Other datasets report SSLK_E_NOT_FOUND. */

/** Mean and std of the pixels scaled to [0, 1], over the training split, all
 *  channels (the trainer's default input normalisation). */
SSLK_API sslk_status sslk_dataset_mean_std(const sslk_dataset *ds, double *mean, double *std);
/** Static name of class i (e.g. "Ankle boot").  SSLK_E_RANGE for i >= the
 *  class count. */
SSLK_API sslk_status sslk_dataset_class_name(const sslk_dataset *ds, size_t i, const char **name);
/** Path of the file item i of a folder dataset was read from (root joined
 *  with the relative path), NUL-terminated into buf; *len (may be NULL) gets
 *  its length also when cap is too small (SSLK_E_RANGE).  SSLK_E_UNSUPPORTED
 *  for datasets whose items are not files.  Experimental since 1.2 (issue 15). */
SSLK_API sslk_status sslk_dataset_item_path(const sslk_dataset *ds, size_t i, char *buf, size_t cap, size_t *len);
#endif /* SSLK_EXPERIMENTAL */

/* ======================================================================
 * Augmentations
 * ====================================================================== */

/** Opaque augmentation recipe with one group of settings per view
 *  (asymmetric two-view recipes, multi-crop with global + local views).
 *  Threads: apply and the getters are read-only and may run concurrently;
 *  setters and presets need exclusive use.  A loader copies the recipe. */
typedef struct sslk_augment sslk_augment;

/* Augmentation settings ("augment" domain, keys 1500-1599), set per view.
 * Order of operations: crop + resize (+ flip) -> colour jitter (the four ops in
 * a random order) -> grayscale -> Gaussian blur -> solarise -> normalise. */
typedef enum sslk_augment_setting {
    SSLK_AUG_SIZE = 1500,           /**< I64 output side in pixels, default 224 */
    SSLK_AUG_CROP = 1501,           /**< I64 sslk_aug_crop, default RANDOM_RESIZED */
    SSLK_AUG_SCALE_MIN = 1502,      /**< random resized crop area fraction, default 0.08 */
    SSLK_AUG_SCALE_MAX = 1503,      /**< default 1.0 */
    SSLK_AUG_RATIO_MIN = 1504,      /**< crop aspect ratio w/h range (log-uniform), default 3/4 */
    SSLK_AUG_RATIO_MAX = 1505,      /**< default 4/3 */
    SSLK_AUG_CENTER_FRACTION = 1506,/**< CENTER crop: side fraction of the shorter side, default 0.875 */
    SSLK_AUG_FLIP_P = 1510,         /**< horizontal flip probability, default 0.5 */
    SSLK_AUG_JITTER_P = 1520,       /**< colour jitter probability, default 0.8 */
    SSLK_AUG_BRIGHTNESS = 1521,     /**< factor drawn in [max(0,1-b), 1+b], default 0.4 */
    SSLK_AUG_CONTRAST = 1522,       /**< default 0.4 */
    SSLK_AUG_SATURATION = 1523,     /**< default 0.2 */
    SSLK_AUG_HUE = 1524,            /**< hue shift in [-h, h] turns, h <= 0.5, default 0.1 */
    SSLK_AUG_GRAY_P = 1530,         /**< grayscale probability (ITU-R 601 weights), default 0.2 */
    SSLK_AUG_BLUR_P = 1540,         /**< Gaussian blur probability, default 0.5 */
    SSLK_AUG_BLUR_SIGMA_MIN = 1541, /**< sigma in output pixels, default 0.1 */
    SSLK_AUG_BLUR_SIGMA_MAX = 1542, /**< default 2.0 */
    SSLK_AUG_SOLARIZE_P = 1550,     /**< solarise probability, default 0 */
    SSLK_AUG_SOLARIZE_THRESHOLD = 1551, /**< values v*255 >= threshold are inverted, default 128 */
    SSLK_AUG_MEAN0 = 1560,          /**< normalisation: out = (v - mean_c) / std_c, v in [0,1]; default 0 */
    SSLK_AUG_MEAN1 = 1561,
    SSLK_AUG_MEAN2 = 1562,
    SSLK_AUG_STD0 = 1563,           /**< default 1 */
    SSLK_AUG_STD1 = 1564,
    SSLK_AUG_STD2 = 1565,
    SSLK_AUG_OUT_CHANNELS = 1570,   /**< I64 0 = as input, 1 = gray, 3 = RGB (gray replicated); default 0 */
    SSLK_AUG_BLUR_KERNEL_FRACTION = 1543 /**< blur kernel side / view side: radius floor(f * size / 2),
                                              kernel 2 radius + 1 (SimCLR: 0.1); 0 = radius ceil(3 sigma),
                                              default 0; radius capped at 256.  Experimental, since 1.2 */
} sslk_augment_setting;

/** Crop modes for SSLK_AUG_CROP (frozen values). */
typedef enum sslk_aug_crop {
    SSLK_AUG_CROP_RANDOM_RESIZED = 0, /**< torchvision RandomResizedCrop (scale, ratio, 10 tries) */
    SSLK_AUG_CROP_RESIZE = 1,         /**< the whole image resized to size x size */
    SSLK_AUG_CROP_CENTER = 2          /**< central square of CENTER_FRACTION x shorter side */
} sslk_aug_crop;

/** Named recipes for sslk_augment_preset (frozen values).  A preset sets the
 *  crop, flip, jitter, grayscale, blur and solarise settings of a view and
 *  leaves size, normalisation and output channels alone. */
typedef enum sslk_aug_preset {
    SSLK_AUG_PRESET_PLAIN = 0,  /**< whole image resized, no random op (evaluation) */
    SSLK_AUG_PRESET_SIMCLR = 1, /**< scale 0.08-1, jitter 0.8,0.8,0.8,0.2 p 0.8, gray 0.2, blur 0.5 */
    SSLK_AUG_PRESET_VICREG = 2, /**< VICReg/BYOL asymmetric: blur 1.0 / 0.1, solarise 0 / 0.2 for even / odd views */
    SSLK_AUG_PRESET_LOCAL = 3   /**< multi-crop local view: scale 0.05-0.4, jitter 0.4,0.4,0.2,0.1 p 0.8, gray 0.2, blur 0.5 */
} sslk_aug_preset;

#ifdef SSLK_EXPERIMENTAL
/** The evaluation transform (experimental since 1.2; issue 15): crop mode
 *  SSLK_AUG_CROP_RESIZE_CENTER resizes the shorter side to
 *  round(SIZE / CENTER_FRACTION) (the longer side truncated as torchvision
 *  does) and keeps the central SIZE x SIZE square, i.e. torchvision's
 *  Resize(round(size / 0.875)) + CenterCrop(size) with the antialiased
 *  bilinear filter (docs/data.md "Evaluation transform" gives the measured
 *  difference to torchvision).  Preset SSLK_AUG_PRESET_EVAL is PLAIN with
 *  that crop. */
enum { SSLK_AUG_CROP_RESIZE_CENTER = 3 };
#define SSLK_AUG_PRESET_EVAL ((sslk_aug_preset)4)
#endif

/** Create a recipe with nviews views (1..64), every view at the defaults above. */
SSLK_API sslk_status sslk_augment_create(sslk_ctx *ctx, size_t nviews, sslk_augment **out);
/** Destroy a recipe (NULL accepted). */
SSLK_API void sslk_augment_destroy(sslk_augment *aug);
/** Number of views. */
SSLK_API sslk_status sslk_augment_num_views(const sslk_augment *aug, size_t *nviews);
/** Set a setting of one view, or of every view when view = -1. */
SSLK_API sslk_status sslk_augment_set_f64(sslk_augment *aug, int view, int key, double value);
SSLK_API sslk_status sslk_augment_set_i64(sslk_augment *aug, int view, int key, int64_t value);
/** Read a setting of one view. */
SSLK_API sslk_status sslk_augment_get_f64(const sslk_augment *aug, int view, int key, double *value);
#ifdef SSLK_EXPERIMENTAL
/** The other typed accessors of the same settings (one definition for every
 *  handle; an integer read of a real setting truncates toward zero).
 *  Experimental since 1.2. */
SSLK_API sslk_status sslk_augment_get_i64(const sslk_augment *aug, int view, int key, int64_t *value);
#endif
/** Apply a named recipe to one view or to every view (view = -1). */
SSLK_API sslk_status sslk_augment_preset(sslk_augment *aug, int view, sslk_aug_preset preset);
/** Output shape (c, h, w) of a view for input images with in_c channels. */
SSLK_API sslk_status sslk_augment_out_shape(const sslk_augment *aug, size_t view, size_t in_c,
                                            size_t *c, size_t *h, size_t *w);
/** Augment one h x w x c uint8 image (HWC) for one view into out (c' x s x s
 *  float32, CHW, c' and s from sslk_augment_out_shape).  The draw depends only
 *  on (seed, epoch, index, view). */
SSLK_API sslk_status sslk_augment_apply(const sslk_augment *aug, size_t view, const uint8_t *img,
                                        size_t h, size_t w, size_t c, uint64_t seed, uint64_t epoch,
                                        uint64_t index, float *out);

#ifdef SSLK_EXPERIMENTAL
/* ---- Named recipes and the draws behind a view (experimental, since 1.2) --- */

/** Apply a standard recipe by name to every view, with the papers' parameters
 *  (docs/data.md "Recipes"); size, normalisation and output channels stay
 *  as set, and any setting may be changed afterwards.
 *  - "simclr": random resized crop 0.08-1, ratio 3/4-4/3, flip 0.5, colour
 *    jitter 0.4/0.4/0.4/0.1 with p 0.8 in random order, grayscale 0.2,
 *    Gaussian blur p 0.5 with sigma 0.1-2 and a kernel of 10% of the view
 *    side for views of 96 px and more (none below: the paper's CIFAR recipe);
 *  - "vicreg", "byol": as BYOL: jitter 0.4/0.4/0.2/0.1 p 0.8, grayscale 0.2,
 *    blur (kernel 10%) p 1.0 / 0.1 and solarisation p 0 / 0.2 on even / odd views;
 *  - "msn": views 0 and 1 global (scale 0.3-1), further views local (0.05-0.3),
 *    jitter 0.4/0.4/0.4/0.1 p 0.8, grayscale 0.2, blur p 0.5 (kernel 10%);
 *  - "plain": the whole image resized, nothing random.
 *  SSLK_E_NOT_FOUND for another name. */
SSLK_API sslk_status sslk_augment_recipe(sslk_augment *aug, const char *name);

/** Number of values sslk_augment_draw writes. */
#define SSLK_AUG_DRAW_VALUES 18
/** The random draw of one view of one sample, exactly as sslk_augment_apply
 *  uses it, into out[0..18): crop x0, y0, width, height (full-resolution
 *  source pixels), flip, jitter applied, the jitter order (4 values: 0
 *  brightness, 1 contrast, 2 saturation, 3 hue), brightness, contrast and
 *  saturation factors, hue shift (turns), grayscale, blur sigma (0 = none),
 *  blur radius, solarise.  For checking a pipeline against another library
 *  on the same parameters.  n must be >= SSLK_AUG_DRAW_VALUES. */
SSLK_API sslk_status sslk_augment_draw(const sslk_augment *aug, size_t view, size_t h, size_t w, size_t c,
                                       uint64_t seed, uint64_t epoch, uint64_t index, double *out, size_t n);
#endif /* SSLK_EXPERIMENTAL */

/* ======================================================================
 * Loader
 * ====================================================================== */

/** Opaque batch loader: shuffled epochs, worker threads, bounded queue.
 *  Threads: begin_epoch, next and the setters need exclusive use (the
 *  loader's own workers are internal); the const queries may run together. */
typedef struct sslk_loader sslk_loader;

/* Loader settings ("loader" domain, keys 1700-1799); change them between epochs only. */
typedef enum sslk_loader_setting {
    SSLK_LOADER_SHUFFLE = 1700,    /**< I64 0/1, default 1: seeded permutation per epoch */
    SSLK_LOADER_DROP_LAST = 1701,  /**< I64 0/1, default 1: drop the last partial batch */
    SSLK_LOADER_WORKERS = 1702,    /**< I64 worker threads, 0 = the context's thread count (default) */
    SSLK_LOADER_PREFETCH = 1703,   /**< I64 batches prepared ahead (queue bound), default 2 */
    SSLK_LOADER_ON_CORRUPT = 1704, /**< I64 sslk_corrupt_policy, default FAIL */
    SSLK_LOADER_SEED = 1705,       /**< I64 0..2^53, default: the context's seed at creation */
    SSLK_LOADER_AUG_SEED = 1706    /**< I64 -1..2^53, default -1: seed of the augmentation draws
                                        alone (-1 = SSLK_LOADER_SEED, which then draws both); since 1.1 */
} sslk_loader_setting;

/** What the loader does with an unreadable or corrupt item (frozen values). */
typedef enum sslk_corrupt_policy {
    SSLK_CORRUPT_FAIL = 0, /**< sslk_loader_next fails with the item's status and file name */
    SSLK_CORRUPT_SKIP = 1  /**< the item is left out of its batch (fewer rows) and counted */
} sslk_corrupt_policy;

/** Per-epoch statistics; set struct_size = sizeof(sslk_loader_stats) before the call. */
typedef struct sslk_loader_stats {
    size_t struct_size;
    uint64_t epoch;
    uint64_t batches;    /**< batches delivered so far in this epoch */
    uint64_t images;     /**< rows delivered so far */
    uint64_t skipped;    /**< items left out under SSLK_CORRUPT_SKIP */
    uint64_t failures;   /**< items that failed to read or decode */
    double seconds;      /**< from begin_epoch to the last delivered batch */
    double images_per_s; /**< images / seconds */
    double wait_seconds; /**< time sslk_loader_next spent waiting for workers */
} sslk_loader_stats;

/** Create a loader over ds (borrowed: it must outlive the loader) with a copy of
 *  the recipe aug (NULL: one view, native size, values scaled to [0, 1]; needs
 *  a fixed-shape dataset) and batch rows per batch. */
SSLK_API sslk_status sslk_loader_create(sslk_ctx *ctx, sslk_dataset *ds, const sslk_augment *aug,
                                        size_t batch, sslk_loader **out);
/** Stop the workers and destroy the loader (NULL accepted). */
SSLK_API void sslk_loader_destroy(sslk_loader *ld);
/** Set / get an integer loader setting (SSLK_LOADER_*); SSLK_E_STATE during an epoch. */
SSLK_API sslk_status sslk_loader_set_i64(sslk_loader *ld, int key, int64_t value);
SSLK_API sslk_status sslk_loader_get_i64(const sslk_loader *ld, int key, int64_t *value);
#ifdef SSLK_EXPERIMENTAL
/** The other typed accessors of the same settings (one definition for every
 *  handle; an integer read of a real setting truncates toward zero).
 *  Experimental since 1.2. */
SSLK_API sslk_status sslk_loader_set_f64(sslk_loader *ld, int key, double value);
SSLK_API sslk_status sslk_loader_get_f64(const sslk_loader *ld, int key, double *value);
/** Shards of the global batch (data-parallel ranks; issue 17, experimental
 *  since 1.2).  With SHARD_COUNT P > 1 the loader keeps the global epoch
 *  order and batch boundaries (the batch given at creation is the GLOBAL
 *  batch B) but reads, decodes and augments only the rows
 *  [floor(n r / P), floor(n (r + 1) / P)) of each batch of n rows, r =
 *  SHARD_RANK, and delivers those (labels, indices with them); every row's
 *  augmentation draw is the one-process draw (it depends on the seed, the
 *  epoch, the item and the view only).  sslk_loader_next then returns every
 *  batch in turn, even one left with 0 rows on this rank (corrupt items
 *  skipped, or n < P), so the ranks stay in step; the stats count this
 *  rank's rows.  SHARD_RANK < SHARD_COUNT is checked at begin_epoch. */
enum {
    SSLK_LOADER_SHARD_RANK = 3100, /**< I64 0..65535, default 0: this rank */
    SSLK_LOADER_SHARD_COUNT = 3101 /**< I64 1..65536, default 1 (no sharding): number of ranks */
};
#endif
/** Number of views per sample. */
SSLK_API sslk_status sslk_loader_num_views(const sslk_loader *ld, size_t *nviews);
/** Shape (c, h, w) of one row of a view's batch buffer (batch x c x h x w floats). */
SSLK_API sslk_status sslk_loader_view_shape(const sslk_loader *ld, size_t view, size_t *c, size_t *h,
                                            size_t *w);
/** Batches per epoch under the current drop-last setting (before any skips). */
SSLK_API sslk_status sslk_loader_num_batches(const sslk_loader *ld, size_t *nbatches);
/** Start (or restart) an epoch: a running epoch is cancelled and its workers joined. */
SSLK_API sslk_status sslk_loader_begin_epoch(sslk_loader *ld, uint64_t epoch);
/** Next batch of the epoch, in order.  views[v] receives batch x c x h x w floats
 *  (NCHW) of view v; labels (int32, -1 unlabeled) and indices (datum indices)
 *  may be NULL.  *rows = 0 at the end of the epoch.  A corrupt item under
 *  SSLK_CORRUPT_FAIL returns its status with the file name and ends the epoch. */
SSLK_API sslk_status sslk_loader_next(sslk_loader *ld, float *const *views, int32_t *labels,
                                      int64_t *indices, size_t *rows);
/** Statistics of the current (or last) epoch. */
SSLK_API sslk_status sslk_loader_stats_get(const sslk_loader *ld, sslk_loader_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
