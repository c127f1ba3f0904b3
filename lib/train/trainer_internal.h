/* Internal structure of the trainer, shared by its files.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_TRAIN_TRAINER_INTERNAL_H
#define SSLKIT_TRAIN_TRAINER_INTERNAL_H

#include "core/internal.h"
#include "sslkit/train.h"

extern const ssli_setting_table ssli_settings_train;
#define SSLI_NTRAIN 37

/* How a training step feeds the loss. */
typedef enum ssli_step_kind {
    SSLI_STEP_PAIR = 1,        /* two views, compute_pair */
    SSLI_STEP_DATUM_INDEX = 2, /* one view, datum indices (DIET) */
    SSLI_STEP_EMA_TARGET = 3,  /* anchor view vs the EMA networks on view 1 (MSN) */
    SSLI_STEP_LABEL = 4,       /* one view, class labels as indices (cross-entropy) */
    /* issue 21 (trainer_methods.c) */
    SSLI_STEP_PRED_EMA = 5,    /* both views: online + predictor vs the EMA networks, 4-view loss (BYOL, MoCo v3) */
    SSLI_STEP_PRED_SG = 6,     /* both views: online + predictor vs the online projections, stop-gradient (SimSiam) */
    SSLI_STEP_QUEUE = 7,       /* online(view 0) vs EMA key(view 1) and a queue of past keys (MoCo v2) */
    SSLI_STEP_DINO = 8,        /* all crops through the student, the 2 global ones through the EMA teacher */
    SSLI_STEP_MULTI = 9        /* all crops through the online networks, one multi-view loss (SwAV) */
} ssli_step_kind;

/* One row of the method table (trainer.c): all a preset decides. */
typedef struct ssli_method_def {
    const char *name;
    const char *encoder;   /* default spec */
    sslk_loss_kind loss;
    ssli_step_kind step;
    size_t nviews;
    double lr;             /* default base learning rate */
    const char *projector; /* default spec; NULL: linear head sized by the class count */
    bool ema_target;       /* EMA copies of encoder and projector (SSLK_TRAIN_EMA) */
    uint64_t epochs;       /* default schedule length; 0: the settings table's */
    uint64_t subset;       /* default SSLK_TRAIN_SUBSET; 0: all */
    int msn_prior;         /* sslk_msn_prior of an MSN loss */
    /* issue 21 */
    const char *predictor; /* predictor spec before its last layer linear:D (D = projector width), NULL: none */
    double ema;            /* default SSLK_TRAIN_EMA; 0: the settings table's */
    double ema_end;        /* default SSLK_TRAIN_EMA_END (cosine from ema to it); 0: the table's (constant) */
    double temperature;    /* MoCo temperature; 0: the loss's default */
    size_t prototypes;     /* default SSLK_TRAIN_PROTOTYPES (SwAV); 0: the table's */
} ssli_method_def;

/* Row of method m, NULL when unknown. */
const ssli_method_def *ssli_method_get(sslk_method m);

struct sslk_trainer {
    sslk_ctx *ctx;
    sslk_method method;
    const ssli_method_def *md; /* its row of the method table */
    double set[SSLI_NTRAIN];
    sslk_dataset *data;       /* the caller's dataset */
    sslk_dataset *sub;        /* owned subset of data (SSLK_TRAIN_SUBSET), else NULL */
    size_t n_all;             /* items in data */
    size_t n, nclasses, img_h, img_w, img_c;
    char *enc_spec, *proj_spec;
    sslk_model *enc, *proj;   /* online networks */
    sslk_model *tenc, *tproj; /* EMA targets (MSN, PMSN, BYOL, MoCo), else NULL */
    sslk_model *pred;         /* predictor (BYOL, SimSiam, MoCo v3), else NULL */
    sslk_negqueue *queue;     /* MoCo v2's keys, else NULL */
    sslk_loss *loss;          /* the method's loss (cross-entropy for supervised) */
    sslk_optim *opt;
    size_t in_c, in_s;        /* encoder input: in_c x in_s x in_s */
    size_t de, dz;            /* encoder and projector output widths */
    size_t nviews;
    /* run state */
    uint64_t epoch, global_step;
    bool mid_epoch;           /* a fit stopped inside an epoch: no save */
    sslk_train_progress *hist;
    size_t nhist, hcap;
    sslk_train_callback on_step, on_epoch;
    void *cb_user;
    char *ckpt_dir;
    /* lazily built for fit */
    sslk_augment *aug;
    sslk_loader *ld;
    size_t ld_batch;
    float *x, *h, *z, *gz, *gh, *tz; /* step buffers (tz: nviews x batch rows) */
    float *p, *gp;            /* predictor outputs and their gradients (nviews x batch x dz) */
    int32_t *labels;
    int64_t *indices;
    int64_t *ylab;            /* labels as loss indices (SSLI_STEP_LABEL) */
};

double ssli_train_get(const sslk_trainer *tr, int key);
/* ---- issue 21 methods (trainer_methods.c) ---- */
/* Predictor and MoCo queue of the method (after the projector is built). */
sslk_status ssli_train_build_extra(sslk_trainer *tr);
/* The step kinds PRED_EMA, PRED_SG and QUEUE: forward, loss and backward of
 * the online networks from the views in tr->x (view 1 right after view 0). */
sslk_status ssli_train_step_extra(sslk_trainer *tr, size_t rows, double *value);
/* EMA momentum at global step k of total (cosine from SSLK_TRAIN_EMA to
 * SSLK_TRAIN_EMA_END when that is >= 0, else constant). */
double ssli_train_ema_at(const sslk_trainer *tr, uint64_t k, uint64_t total);
/* Multi-crop (DINO, SwAV): per-view crop scales on top of the recipe, views 0-1 global, 2-3 local. */
sslk_status ssli_train_multicrop(const sslk_trainer *tr, sslk_augment *a);
/* After the optimizer step: enqueue this step's normalised keys (MoCo v2). */
sslk_status ssli_train_after_step(sslk_trainer *tr, size_t rows);
/* The dataset training draws from: the subset when one is set. */
static inline sslk_dataset *ssli_train_data(const sslk_trainer *tr) { return tr->sub ? tr->sub : tr->data; }
/* The augment recipe of training (views) or of evaluation (one plain view). */
sslk_status ssli_train_make_augment(sslk_trainer *tr, bool eval, sslk_augment **out);
/* Build the training loader (and the recipe) when missing. */
sslk_status ssli_train_make_loader(sslk_trainer *tr);
/* Networks, loss and optimizer from the current settings (before training). */
sslk_status ssli_train_rebuild(sslk_trainer *tr);
/* Per-channel normalisation of the encoder input (trainer_norm.c): from the
 * settings, measuring it first under SSLK_TRAIN_NORM_MODE = measure. */
sslk_status ssli_train_norm(sslk_trainer *tr, double mean[3], double std[3]);
/* The augmentation recipe the trainer uses (SSLK_TRAIN_RECIPE, auto resolved). */
int ssli_train_recipe(const sslk_trainer *tr);
/* Write the checkpoint. */
sslk_status ssli_train_save(const sslk_trainer *tr, const char *path, const char *fn);
/* The one-process DIET head and optimizer state assembled from the ranks'
 * shards (trainer_shard.c), written instead of the trainer's own. */
typedef struct ssli_ckpt_full {
    float *head;
    size_t head_count;
    unsigned char *blob;
    size_t blob_len;
} ssli_ckpt_full;
sslk_status ssli_train_save_full(const sslk_trainer *tr, const ssli_ckpt_full *full, const char *path,
                                 const char *fn);
/* The checkpoint parser on a whole file in memory (CRC included; path and fn
 * only name it in messages); the fuzz target calls it directly. */
sslk_status ssli_trainer_load_buffer(sslk_ctx *ctx, const unsigned char *buf, size_t len, const char *path,
                                     sslk_dataset *data, const char *fn, sslk_trainer **out);
/* Test hook: when > 0, the next save fails after writing this many bytes
 * (the temp file is removed and the previous checkpoint stays). */
extern size_t ssli_train_fail_after_bytes;

#endif
