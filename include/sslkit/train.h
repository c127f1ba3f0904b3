/* libsslkit — the training driver: pre-trains an encoder (+ projector) on a
 * dataset with one of the method presets, with warm-up + cosine schedule,
 * collapse monitor, progress callbacks, atomic checkpoints and exact resume.
 *
 * Flow: sslk_dataset_open() -> sslk_trainer_create(method, data, specs) ->
 * settings -> sslk_trainer_set_checkpoint_dir() -> sslk_trainer_fit() ->
 * sslk_trainer_embed() -> evaluation (sslkit/eval.h).
 *
 * Reproducibility: for a fixed seed and thread count, a run interrupted at an
 * epoch boundary and resumed with sslk_trainer_load() ends with exactly the
 * same parameters as an uninterrupted run (model, optimizer state, loss
 * parameters, EMA target, step counter and history are all checkpointed;
 * the loader's draws depend only on (seed, epoch, index, view)).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_TRAIN_H
#define SSLKIT_TRAIN_H

#include "sslkit/core.h"
#include "sslkit/data.h"
#include "sslkit/loss.h"
#include "sslkit/model.h"
#include "sslkit/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Method presets (frozen values). */
typedef enum sslk_method {
    SSLK_METHOD_VICREG = 1,          /**< VICReg, two views */
    SSLK_METHOD_VICREG_LOGDET = 2,   /**< invariance + LogDet entropy, two views */
    SSLK_METHOD_VICREG_PAIRDIST = 3, /**< invariance + pairwise-distance entropy, two views */
    SSLK_METHOD_SIMCLR = 4,          /**< NT-Xent, two views */
    SSLK_METHOD_DIET = 5,            /**< datum index as class, one view, head owned by the loss */
    SSLK_METHOD_MSN = 6,             /**< MSN: anchor view vs EMA-target view, uniform prior */
    SSLK_METHOD_PMSN = 7,            /**< prior-MSN: power-law prior */
    SSLK_METHOD_SUPERVISED = 8       /**< cross-entropy on labels (baselines, ensembles) */
} sslk_method;

/** Trainer settings (domain "train", keys 2000-2099, frozen).  Defaults
 *  listed by sslk_setting_info(); sslk_trainer_create() then applies the
 *  method's own defaults (lr, weight decay) which the caller may override. */
typedef enum sslk_train_setting {
    SSLK_TRAIN_EPOCHS = 2000,          /**< i64: length of the schedule in epochs (10) */
    SSLK_TRAIN_BATCH = 2001,           /**< i64: rows per view per step (256) */
    SSLK_TRAIN_LR = 2002,              /**< f64: base learning rate (method default) */
    SSLK_TRAIN_WEIGHT_DECAY = 2003,    /**< f64: weight decay (method default) */
    SSLK_TRAIN_WARMUP_EPOCHS = 2004,   /**< f64: linear warm-up length in epochs (1) */
    SSLK_TRAIN_OPTIMIZER = 2005,       /**< i64: sslk_optim_kind (ADAMW) */
    SSLK_TRAIN_SEED = 2006,            /**< i64: seed of the data order and augmentations (0) */
    SSLK_TRAIN_EMA = 2007,             /**< f64: EMA momentum of the target encoder, MSN/PMSN (0.99) */
    SSLK_TRAIN_FINAL_LR_RATIO = 2008,  /**< f64: final lr / base lr of the cosine (0.01) */
    SSLK_TRAIN_CHECKPOINT_EVERY = 2009,/**< i64: epochs between checkpoints, 0 = only the last (1) */
    SSLK_TRAIN_MONITOR_EVERY = 2010,   /**< i64: steps between collapse-monitor readings, 0 = off (25) */
    SSLK_TRAIN_IMAGE_SIZE = 2011,      /**< i64: side of the augmented views, 0 = the dataset's (0) */
    SSLK_TRAIN_STEPS_PER_EPOCH = 2012, /**< i64: cap on steps per epoch, 0 = a full pass (0) */
    SSLK_TRAIN_AUG_SCALE_MIN = 2013,   /**< f64: smallest random-resized-crop area fraction (0.25) */
    SSLK_TRAIN_AUG_JITTER = 2014,      /**< f64: brightness and contrast jitter strength (0.4) */
    SSLK_TRAIN_AUG_FLIP_P = 2015,      /**< f64: horizontal flip probability (0.5) */
    SSLK_TRAIN_WORKERS = 2016,         /**< i64: loader worker threads, 0 = the context's (1) */
    SSLK_TRAIN_INIT_SEED = 2017,       /**< i64: seed of the parameter initialisation (0) */
    SSLK_TRAIN_NORM_MEAN = 2018,       /**< f64: input normalisation mean, all channels (the
                                            dataset's when it knows it, else 0.286) */
    SSLK_TRAIN_NORM_STD = 2019,        /**< f64: input normalisation std, all channels (the
                                            dataset's when it knows it, else 0.353) */
    SSLK_TRAIN_PROTOTYPES = 2020,      /**< i64: MSN/PMSN prototypes (512); rebuilds the loss */
    SSLK_TRAIN_SUBSET = 2021,          /**< i64: pre-train on this many items drawn (seeded by
                                            SSLK_TRAIN_INIT_SEED, without labels) from the dataset,
                                            0 = all; diet: 4096 (since 1.1) */
    SSLK_TRAIN_AUG_SEED = 2022         /**< i64: seed of the augmentation draws alone, -1 = SSLK_TRAIN_SEED
                                            (which then draws order and augmentations) (-1; since 1.1).
                                            Deprecated since 1.2: an alias forwarded to the loader's
                                            SSLK_LOADER_AUG_SEED (sslk_trainer_loader) */
} sslk_train_setting;

/** What a callback sees.  Public struct: fields are only ever appended;
 *  check struct_size before reading a later field. */
typedef struct sslk_train_progress {
    size_t struct_size;
    uint64_t epoch;           /**< 0-based epoch this refers to */
    uint64_t step;            /**< step within the epoch (epoch records: steps done) */
    uint64_t steps_per_epoch;
    uint64_t global_step;     /**< optimizer steps since the start of the run */
    double loss;              /**< this step's loss (epoch records: mean over the epoch) */
    size_t num_terms;         /**< named loss components (<= 8) */
    double terms[8];          /**< their unweighted values (epoch records: means) */
    const char *term_names[8];/**< static names, e.g. "invariance" */
    double lr;                /**< learning rate used by this step (epoch records: last) */
    double images_per_s;      /**< training images (samples, not views) per second */
    double rankme;            /**< RankMe of the encoder outputs of the batch; NaN when not measured */
    double embed_std;         /**< mean per-dimension std of the L2-normalised encoder outputs
                                   (collapse -> 0, isotropic -> 1/sqrt(d)); NaN when not measured */
    double seconds;           /**< since the epoch started */
} sslk_train_progress;

/** Progress callback: return 0 to continue, non-zero to stop (the fit call
 *  then returns SSLK_E_CANCELLED; resume from the last checkpoint). */
typedef int (*sslk_train_callback)(void *user, const sslk_train_progress *p);

/** Opaque trainer.  Threads: fit, embed, load and the setters need exclusive
 *  use of the trainer (it owns its models, loss and optimizer) and no writer
 *  of its dataset meanwhile; the const queries may run concurrently. */
typedef struct sslk_trainer sslk_trainer;

/** Create a trainer over data (borrowed: it must outlive the trainer).
 *  encoder_spec / projector_spec are model specs (sslkit/model.h grammar);
 *  NULL picks the method's default (see docs/training.md), "" means none
 *  (identity).  The encoder input is (channels, size, size) of the augmented
 *  views.  SSLK_E_INVALID_ARG for an unknown method; SUPERVISED needs labels. */
SSLK_API sslk_status sslk_trainer_create(sslk_ctx *ctx, sslk_method method, sslk_dataset *data,
                                         const char *encoder_spec, const char *projector_spec,
                                         sslk_trainer **out);
/** Destroy (NULL accepted). */
SSLK_API void sslk_trainer_destroy(sslk_trainer *tr);
/** Name of a method ("vicreg", ...), NULL when unknown. */
SSLK_API const char *sslk_method_name(sslk_method method);
/** Method from its name.  SSLK_E_NOT_FOUND when unknown. */
SSLK_API sslk_status sslk_method_from_name(const char *name, sslk_method *method);

/** The trainer's method. */
SSLK_API sslk_status sslk_trainer_method(const sslk_trainer *tr, sslk_method *method);

/** Settings: before the first fit for sizes (batch, image size, epochs may
 *  grow later); SSLK_E_STATE otherwise. */
SSLK_API sslk_status sslk_trainer_set_f64(sslk_trainer *tr, int key, double value);
SSLK_API sslk_status sslk_trainer_set_i64(sslk_trainer *tr, int key, int64_t value);
SSLK_API sslk_status sslk_trainer_get_f64(const sslk_trainer *tr, int key, double *value);
#ifdef SSLK_EXPERIMENTAL
/** The other typed accessors of the same settings (one definition for every
 *  handle; an integer read of a real setting truncates toward zero).
 *  Experimental since 1.2. */
SSLK_API sslk_status sslk_trainer_get_i64(const sslk_trainer *tr, int key, int64_t *value);
#endif

/** The trainer's loss (NULL for SUPERVISED, whose cross-entropy loss stays
 *  internal in 1.x), encoder, projector and optimizer,
 *  borrowed, for settings beyond the trainer's own. */
SSLK_API sslk_status sslk_trainer_loss(sslk_trainer *tr, sslk_loss **loss);
SSLK_API sslk_status sslk_trainer_encoder(sslk_trainer *tr, sslk_model **encoder);
SSLK_API sslk_status sslk_trainer_projector(sslk_trainer *tr, sslk_model **projector);
SSLK_API sslk_status sslk_trainer_optim(sslk_trainer *tr, sslk_optim **optim);

/** Per-step and per-epoch callbacks (either may be NULL). */
SSLK_API sslk_status sslk_trainer_set_callbacks(sslk_trainer *tr, sslk_train_callback on_step,
                                                sslk_train_callback on_epoch, void *user);
/** Write a checkpoint into dir/checkpoint.sslkt (and the encoder alone into
 *  dir/encoder.sslk, sslk_model_load format) every SSLK_TRAIN_CHECKPOINT_EVERY
 *  epochs and after the last one.  dir must exist.  NULL disables. */
SSLK_API sslk_status sslk_trainer_set_checkpoint_dir(sslk_trainer *tr, const char *dir);

/** Train until `until_epoch` epochs are complete (0 or more than
 *  SSLK_TRAIN_EPOCHS: until the schedule ends).  A non-finite loss or
 *  gradient stops training with SSLK_E_NUMERIC naming the epoch and step;
 *  the checkpoint on disk then still holds the last good epoch. */
SSLK_API sslk_status sslk_trainer_fit(sslk_trainer *tr, uint64_t until_epoch);
/** Epochs completed. */
SSLK_API sslk_status sslk_trainer_epochs_done(const sslk_trainer *tr, uint64_t *epochs);
/** Record of completed epoch e (0-based), means over its steps. */
SSLK_API sslk_status sslk_trainer_history(const sslk_trainer *tr, uint64_t epoch,
                                          sslk_train_progress *out);

/** Save the whole training state atomically (between epochs only).  With a
 *  collectives table (sslkit/dist.h) and DIET, whose head is sharded over the
 *  ranks, this is a collective: every rank calls it and rank 0 writes the
 *  whole head (the file is the same as one process's). */
SSLK_API sslk_status sslk_trainer_save(const sslk_trainer *tr, const char *path);
/** Recreate a trainer from a checkpoint over data (the same dataset: its size
 *  and class count are checked).  SSLK_E_FORMAT for a corrupt or truncated file. */
SSLK_API sslk_status sslk_trainer_load(sslk_ctx *ctx, const char *path, sslk_dataset *data,
                                       sslk_trainer **out);

/** Width of the encoder output (the representation that gets evaluated). */
SSLK_API sslk_status sslk_trainer_embed_dim(const sslk_trainer *tr, size_t *dim);
/** Encoder outputs (eval mode, whole images resized to the training size and
 *  normalised as in training) of every item of ds into out (n x dim, n = the
 *  dataset's count); labels[n] (may be NULL) receives its labels. */
SSLK_API sslk_status sslk_trainer_embed(sslk_trainer *tr, sslk_dataset *ds, float *out, size_t n,
                                        size_t dim, int32_t *labels);

#ifdef SSLK_EXPERIMENTAL
/* ---- Image folders (experimental, since 1.2) --------------------------------
 * More trainer settings (domain "train").  A dataset of images of different
 * sizes (a JPEG / PNG folder) trains at SSLK_TRAIN_IMAGE_SIZE (default 224
 * for such data; any size >= 1): each view is a random resized crop to that
 * side.  Their defaults there: the method's recipe, per-channel
 * normalisation measured on a seeded sample, and an encoder that ends in
 * global average pooling (docs/training.md "Image folders"). */
enum {
    SSLK_TRAIN_RECIPE = 2030,         /**< i64: 0 auto (the method's recipe for variable-size data, else
                                           light), 1 light (crop, flip, brightness/contrast: the
                                           aug_* settings), 2 simclr, 3 vicreg, 4 byol, 5 msn
                                           (sslk_augment_recipe) (0) */
    SSLK_TRAIN_IMAGE_CHANNELS = 2031, /**< i64: encoder input channels, 0 = the dataset's, 1 = gray
                                           (0.299 R + 0.587 G + 0.114 B), 3 = RGB (gray replicated) (0) */
    SSLK_TRAIN_NORM_MODE = 2032,      /**< i64: 0 scalar (NORM_MEAN / NORM_STD on every channel),
                                           1 per channel (NORM_MEAN0..2 / NORM_STD0..2), 2 measure: per
                                           channel on NORM_SAMPLE images drawn with INIT_SEED at the
                                           first fit or embed, then stored as 1 with the values (so a
                                           checkpoint carries them) (0; 2 for variable-size data) */
    SSLK_TRAIN_NORM_MEAN0 = 2033,     /**< f64: per-channel mean, pixels in [0, 1] (0.485) */
    SSLK_TRAIN_NORM_MEAN1 = 2034,     /**< f64 (0.456) */
    SSLK_TRAIN_NORM_MEAN2 = 2035,     /**< f64 (0.406) */
    SSLK_TRAIN_NORM_STD0 = 2036,      /**< f64: per-channel std (0.229) */
    SSLK_TRAIN_NORM_STD1 = 2037,      /**< f64 (0.224) */
    SSLK_TRAIN_NORM_STD2 = 2038,      /**< f64 (0.225) */
    SSLK_TRAIN_NORM_SAMPLE = 2039,    /**< i64: images measured under NORM_MODE 2 (500) */
    SSLK_TRAIN_ON_CORRUPT = 2040      /**< i64: sslk_corrupt_policy of the training loader (FAIL) */
};

/* ---- Borrowed loader and recipe (experimental, since 1.2) ------------------
 * The trainer's own loader and augmentation recipe, for the settings the
 * trainer does not mirror (SSLK_LOADER_*, SSLK_AUG_* per view).  Borrowed:
 * valid until the trainer is destroyed or a trainer setting that reshapes
 * the data path changes (batch, seed, workers, image size, subset, init
 * seed, prototypes, aug_*, norm_*), which rebuilds both from the trainer's
 * settings.  Not inside an interrupted epoch (SSLK_E_STATE).
 * SSLK_TRAIN_AUG_SEED is kept as a deprecated alias: set on the trainer, it
 * is forwarded to the loader (SSLK_LOADER_AUG_SEED). */

/** The training loader (built now when missing: SSLK_E_SHAPE when the batch
 *  exceeds the dataset).  Its settings may change between epochs. */
SSLK_API sslk_status sslk_trainer_loader(sslk_trainer *tr, sslk_loader **loader);
/** The training recipe (one view group per view).  The loader copies it, so
 *  this call drops the loader: edits apply from the next sslk_trainer_fit
 *  or sslk_trainer_loader (call this one first when using both). */
SSLK_API sslk_status sslk_trainer_augment(sslk_trainer *tr, sslk_augment **aug);
/* ---- More method presets (experimental, issue 21) ---------------------------
 * Values of sslk_method beyond the frozen enum (names "barlow_twins", "byol",
 * "simsiam", "moco_v2", "moco_v3", "dino", "swav"; docs/training.md "Method
 * presets" gives each recipe).  A predictor (BYOL, SimSiam, MoCo v3) is the
 * method's own network after the projector; its tensors, the MoCo v2 queue and
 * the EMA targets are in the checkpoint.  These methods train in one process
 * (no collectives table yet: SSLK_E_UNSUPPORTED). */
#define SSLK_METHOD_BARLOW_TWINS ((sslk_method)9)  /**< Barlow Twins, two views */
#define SSLK_METHOD_BYOL ((sslk_method)10)         /**< predictor + EMA target (cosine EMA to 1) */
#define SSLK_METHOD_SIMSIAM ((sslk_method)11)      /**< predictor + stop-gradient, no target network */
#define SSLK_METHOD_MOCO_V2 ((sslk_method)12)      /**< EMA key encoder + queue of negatives */
#define SSLK_METHOD_MOCO_V3 ((sslk_method)13)      /**< predictor + EMA keys, in-batch symmetric */
#define SSLK_METHOD_DINO ((sslk_method)14)         /**< teacher/student EMA, centring, multi-crop */
#define SSLK_METHOD_SWAV ((sslk_method)15)         /**< prototypes + Sinkhorn codes, multi-crop */
/** Trainer settings of these methods (domain "train", keys 2060-2079). */
enum {
    SSLK_TRAIN_EMA_END = 2060, /**< f64: EMA momentum at the end of a cosine schedule from SSLK_TRAIN_EMA
                                    (BYOL's tau schedule), -1 = constant (the method's: 1 for byol,
                                    moco_v3, dino; else -1) */
    SSLK_TRAIN_QUEUE = 2061    /**< i64: rows of the MoCo v2 queue of keys (4096) */
};
/* ---- Loader / compute split (experimental, issue 16; keys 3120-3129) -------
 * With SSLK_TRAIN_PIN_THREADS = 1, sslk_trainer_fit pins its compute threads
 * and the loader's workers to disjoint CPUs for the duration of the call:
 * of the CPUs the calling thread may run on (sched_getaffinity, in
 * increasing order), compute thread t (the caller is thread 0) takes the
 * t-th and loader worker w the (threads + w)-th.  The caller's and the
 * compute threads' affinity is restored when fit returns.  SSLK_E_RANGE at
 * fit when threads + workers exceeds those CPUs.  Linux only; elsewhere the
 * setting is accepted and does nothing.  docs/performance.md "Loader /
 * compute split" gives the measured split. */
enum {
    SSLK_TRAIN_PIN_THREADS = 3120 /**< i64 0/1: pin compute threads and loader workers to disjoint CPUs (0) */
};
#endif /* SSLK_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif
#endif
