/* Trainer: method presets, settings, construction of encoder / projector /
 * loss / optimizer, accessors.  The loop is in trainer_fit.c, checkpoints in
 * trainer_ckpt.c, embeddings in trainer_embed.c.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/struct_sizes.h"
#include "train/trainer_internal.h"

static const ssli_setting_def train_defs[SSLI_NTRAIN] = {
    {SSLK_TRAIN_EPOCHS, "epochs", SSLK_SETTING_I64, 1, 1e6, 10, "length of the schedule in epochs"},
    {SSLK_TRAIN_BATCH, "batch", SSLK_SETTING_I64, 2, 65536, 256, "rows per view per step"},
    {SSLK_TRAIN_LR, "lr", SSLK_SETTING_F64, 0, 100, 2e-3, "base learning rate (method default applied at create)"},
    {SSLK_TRAIN_WEIGHT_DECAY, "weight_decay", SSLK_SETTING_F64, 0, 10, 1e-4, "weight decay"},
    {SSLK_TRAIN_WARMUP_EPOCHS, "warmup_epochs", SSLK_SETTING_F64, 0, 1e6, 1, "linear warm-up length in epochs"},
    {SSLK_TRAIN_OPTIMIZER, "optimizer", SSLK_SETTING_I64, 1, 3, 3, "1 = SGD, 2 = LARS, 3 = AdamW"},
    {SSLK_TRAIN_SEED, "seed", SSLK_SETTING_I64, 0, 9007199254740992.0, 0, "seed of data order and augmentations"},
    {SSLK_TRAIN_EMA, "ema", SSLK_SETTING_F64, 0, 1, 0.99, "EMA momentum of the MSN/PMSN target encoder"},
    {SSLK_TRAIN_FINAL_LR_RATIO, "final_lr_ratio", SSLK_SETTING_F64, 0, 1, 0.01, "final lr / base lr"},
    {SSLK_TRAIN_CHECKPOINT_EVERY, "checkpoint_every", SSLK_SETTING_I64, 0, 1e6, 1, "epochs between checkpoints (0: last only)"},
    {SSLK_TRAIN_MONITOR_EVERY, "monitor_every", SSLK_SETTING_I64, 0, 1e9, 25, "steps between collapse-monitor readings (0: off)"},
    {SSLK_TRAIN_IMAGE_SIZE, "image_size", SSLK_SETTING_I64, 0, 4096, 0, "side of the augmented views (0: dataset's)"},
    {SSLK_TRAIN_STEPS_PER_EPOCH, "steps_per_epoch", SSLK_SETTING_I64, 0, 1e12, 0, "cap on steps per epoch (0: full pass)"},
    {SSLK_TRAIN_AUG_SCALE_MIN, "aug_scale_min", SSLK_SETTING_F64, 0.01, 1, 0.25, "smallest random-resized-crop area"},
    {SSLK_TRAIN_AUG_JITTER, "aug_jitter", SSLK_SETTING_F64, 0, 1, 0.4, "brightness / contrast jitter strength"},
    {SSLK_TRAIN_AUG_FLIP_P, "aug_flip_p", SSLK_SETTING_F64, 0, 1, 0.5, "horizontal flip probability"},
    {SSLK_TRAIN_WORKERS, "workers", SSLK_SETTING_I64, 0, 256, 1, "loader worker threads (0: context's)"},
    {SSLK_TRAIN_INIT_SEED, "init_seed", SSLK_SETTING_I64, 0, 9007199254740992.0, 0, "seed of parameter initialisation"},
    {SSLK_TRAIN_NORM_MEAN, "norm_mean", SSLK_SETTING_F64, -1e3, 1e3, 0.286, "input normalisation mean"},
    {SSLK_TRAIN_NORM_STD, "norm_std", SSLK_SETTING_F64, 1e-6, 1e3, 0.353, "input normalisation std"},
    {SSLK_TRAIN_PROTOTYPES, "prototypes", SSLK_SETTING_I64, 2, 1 << 20, 512, "MSN/PMSN prototypes (swav: 300)"},
    {SSLK_TRAIN_SUBSET, "subset", SSLK_SETTING_I64, 0, 9007199254740992.0, 0,
     "pre-train on this many items drawn with init_seed (0: all; diet's default 4096)"},
    {SSLK_TRAIN_AUG_SEED, "aug_seed", SSLK_SETTING_I64, -1, 9007199254740992.0, -1,
     "seed of the augmentation draws alone (-1: seed draws order and augmentations)"},
    /* image folders (experimental, since 1.2) */
    {SSLK_TRAIN_RECIPE, "recipe", SSLK_SETTING_I64, 0, 5, 0,
     "0 = auto (the method's recipe for variable-size data, else light), 1 = light, 2 = simclr, 3 = vicreg, "
     "4 = byol, 5 = msn"},
    {SSLK_TRAIN_IMAGE_CHANNELS, "image_channels", SSLK_SETTING_I64, 0, 3, 0,
     "encoder input channels: 0 the dataset's, 1 gray (ITU-R 601 luma), 3 RGB (gray replicated)"},
    {SSLK_TRAIN_NORM_MODE, "norm_mode", SSLK_SETTING_I64, 0, 2, 0,
     "0 = scalar (norm_mean/std), 1 = per_channel (norm_meanK/stdK), 2 = measure (per channel, once, then 1)"},
    {SSLK_TRAIN_NORM_MEAN0, "norm_mean0", SSLK_SETTING_F64, -1e3, 1e3, 0.485, "per-channel normalisation mean, channel 0"},
    {SSLK_TRAIN_NORM_MEAN1, "norm_mean1", SSLK_SETTING_F64, -1e3, 1e3, 0.456, "per-channel normalisation mean, channel 1"},
    {SSLK_TRAIN_NORM_MEAN2, "norm_mean2", SSLK_SETTING_F64, -1e3, 1e3, 0.406, "per-channel normalisation mean, channel 2"},
    {SSLK_TRAIN_NORM_STD0, "norm_std0", SSLK_SETTING_F64, 1e-6, 1e3, 0.229, "per-channel normalisation std, channel 0"},
    {SSLK_TRAIN_NORM_STD1, "norm_std1", SSLK_SETTING_F64, 1e-6, 1e3, 0.224, "per-channel normalisation std, channel 1"},
    {SSLK_TRAIN_NORM_STD2, "norm_std2", SSLK_SETTING_F64, 1e-6, 1e3, 0.225, "per-channel normalisation std, channel 2"},
    {SSLK_TRAIN_NORM_SAMPLE, "norm_sample", SSLK_SETTING_I64, 1, 1e7, 500,
     "images (drawn with init_seed) measured under norm_mode = measure"},
    {SSLK_TRAIN_ON_CORRUPT, "on_corrupt", SSLK_SETTING_I64, 0, 1, 0,
     "0 = fail (stop, naming the file), 1 = skip (left out, counted) for unreadable or corrupt images"},
    /* issue 21 methods (experimental) */
    {SSLK_TRAIN_EMA_END, "ema_end", SSLK_SETTING_F64, -1, 1, -1,
     "EMA momentum at the end of a cosine schedule from ema (-1: constant; byol, moco_v3, dino: 1)"},
    {SSLK_TRAIN_QUEUE, "queue", SSLK_SETTING_I64, 1, 1 << 24, 4096, "rows of the MoCo v2 queue of keys"},
    /* issue 16: loader / compute split (experimental) */
    {SSLK_TRAIN_PIN_THREADS, "pin_threads", SSLK_SETTING_I64, 0, 1, 0,
     "1: during fit, compute thread t runs on the t-th CPU this process may use and loader worker w on the "
     "(threads + w)-th (Linux; needs threads + workers CPUs)"},
};
static const ssli_setting_choices train_choices[] = {
    {SSLK_TRAIN_OPTIMIZER, (const char *const[]){"sgd", "lars", "adamw", NULL}},
    {SSLK_TRAIN_RECIPE, (const char *const[]){"auto", "light", "simclr", "vicreg", "byol", "msn", NULL}},
    {SSLK_TRAIN_NORM_MODE, (const char *const[]){"scalar", "per_channel", "measure", NULL}},
    {SSLK_TRAIN_ON_CORRUPT, (const char *const[]){"fail", "skip", NULL}},
    {0, NULL},
};
const ssli_setting_table ssli_settings_train = {"train", train_defs, SSLI_NTRAIN, train_choices};

/* Default encoder for small grayscale images (Fashion-MNIST): two strided
 * convolutions and a 512-wide linear layer whose output is the
 * representation.  It costs about 3x an MLP of the same width per image but
 * reaches 88% linear-probe accuracy after 2 VICReg epochs where the MLP
 * "flatten,linear:1024,bn,relu,linear:512,bn,relu" reaches 86.5% after 3. */
#define DEFAULT_ENCODER "conv:32:5:2:2,bn,relu,conv:64:3:2:1,bn,relu,flatten,linear:512,bn,relu"
/* For images of any size (folders): the same start, one more strided stage
 * and global average pooling, so the parameter count does not grow with the
 * training size (the flatten above would need 100 M weights at 224). */
#define DEFAULT_ENCODER_POOLED \
    "conv:32:5:2:2,bn,relu,conv:64:3:2:1,bn,relu,conv:128:3:2:1,bn,relu,gap,linear:512,bn,relu"

/* The method table: everything a preset decides, one row per sslk_method
 * (index = enum value).  Specs: "" means none; projector NULL: a linear head
 * sized by the class count.  epochs / subset 0: the settings table's defaults.
 * DIET's head has one row per datum and each row learns only when its datum
 * is drawn, so DIET needs many epochs over few data (its paper's small-data
 * regime): 60 epochs over 4096 images take ~2 min on 2 cores where 8 epochs
 * over 60000 need ~15 min and stay at chance. */
#define PROJ_VICREG "linear:512,bn,relu,linear:512"
#define PROJ_SMALL "linear:256,bn,relu,linear:128"
/* issue 21: the papers' heads scaled to the 512-wide default encoder (the
 * papers' 2048-8192 widths over a ResNet-50's 2048 features; docs/training.md) */
#define PROJ_BYOL "linear:512,bn,relu,linear:128"      /* BYOL: 4096 -> 256 */
#define PRED_BYOL "linear:512,bn,relu"    /* BYOL / MoCo v3 predictor hidden layer (then linear:D) */
#define PROJ_SIMSIAM "linear:512,bn,relu,linear:512,bn" /* SimSiam: BN on the output too */
#define PRED_SIMSIAM "linear:128,bn,relu" /* SimSiam bottleneck (2048 -> 512 -> 2048), then linear:D */
#define PROJ_MOCO2 "linear:512,relu,linear:128"         /* MoCo v2: 2048 -> 128 MLP, no BN */
#define PROJ_MOCO3 "linear:512,bn,relu,linear:256"      /* MoCo v3: 4096 -> 256 with BN */
#define PROJ_DINO "linear:512,bn,relu,linear:256,linear:1024:nobias" /* DINO head: bottleneck 256, K 1024 */
#define PROJ_SWAV "linear:512,bn,relu,linear:128"       /* SwAV: 2048 -> 128, then the loss's prototypes */
static const ssli_method_def methods[] = {
    /* name, encoder, loss, step, views, lr, projector, EMA target, epochs, subset, MSN prior, then issue 21 */
    [SSLK_METHOD_VICREG] = {"vicreg", DEFAULT_ENCODER, SSLK_LOSS_VICREG, SSLI_STEP_PAIR, 2, 2e-3, PROJ_VICREG,
                            false, 0, 0, 0, NULL, 0, 0, 0, 0},
    [SSLK_METHOD_VICREG_LOGDET] = {"vicreg_logdet", DEFAULT_ENCODER, SSLK_LOSS_VICREG_LOGDET, SSLI_STEP_PAIR, 2,
                                   2e-3, PROJ_VICREG, false, 0, 0, 0, NULL, 0, 0, 0, 0},
    [SSLK_METHOD_VICREG_PAIRDIST] = {"vicreg_pairdist", DEFAULT_ENCODER, SSLK_LOSS_VICREG_PAIRDIST, SSLI_STEP_PAIR,
                                     2, 2e-3, PROJ_VICREG, false, 0, 0, 0, NULL, 0, 0, 0, 0},
    [SSLK_METHOD_SIMCLR] = {"simclr", DEFAULT_ENCODER, SSLK_LOSS_INFONCE, SSLI_STEP_PAIR, 2, 2e-3, PROJ_SMALL,
                            false, 0, 0, 0, NULL, 0, 0, 0, 0},
    [SSLK_METHOD_DIET] = {"diet", DEFAULT_ENCODER, SSLK_LOSS_DIET, SSLI_STEP_DATUM_INDEX, 1, 2e-3, "", false, 60,
                          4096, 0, NULL, 0, 0, 0, 0},
    [SSLK_METHOD_MSN] = {"msn", DEFAULT_ENCODER, SSLK_LOSS_MSN, SSLI_STEP_EMA_TARGET, 2, 2e-3, PROJ_SMALL, true, 0,
                         0, SSLK_MSN_PRIOR_UNIFORM, NULL, 0, 0, 0, 0},
    [SSLK_METHOD_PMSN] = {"pmsn", DEFAULT_ENCODER, SSLK_LOSS_MSN, SSLI_STEP_EMA_TARGET, 2, 2e-3, PROJ_SMALL, true, 0,
                          0, SSLK_MSN_PRIOR_POWER_LAW, NULL, 0, 0, 0, 0},
    [SSLK_METHOD_SUPERVISED] = {"supervised", DEFAULT_ENCODER, SSLK_LOSS_XENT, SSLI_STEP_LABEL, 1, 2e-3, NULL, false,
                                0, 0, 0, NULL, 0, 0, 0, 0},
    /* issue 21: ..., predictor, EMA, EMA end (cosine), MoCo temperature, prototypes */
    [SSLK_METHOD_BARLOW_TWINS] = {"barlow_twins", DEFAULT_ENCODER, SSLK_LOSS_BARLOW_TWINS, SSLI_STEP_PAIR, 2, 2e-3,
                                  PROJ_VICREG, false, 0, 0, 0, NULL, 0, 0, 0, 0},
    [SSLK_METHOD_BYOL] = {"byol", DEFAULT_ENCODER, SSLK_LOSS_NEGCOS, SSLI_STEP_PRED_EMA, 2, 2e-3, PROJ_BYOL, true, 0,
                          0, 0, PRED_BYOL, 0.99, 1.0, 0, 0},
    [SSLK_METHOD_SIMSIAM] = {"simsiam", DEFAULT_ENCODER, SSLK_LOSS_NEGCOS, SSLI_STEP_PRED_SG, 2, 2e-3, PROJ_SIMSIAM,
                             false, 0, 0, 0, PRED_SIMSIAM, 0, 0, 0, 0},
    [SSLK_METHOD_MOCO_V2] = {"moco_v2", DEFAULT_ENCODER, SSLK_LOSS_MOCO, SSLI_STEP_QUEUE, 2, 2e-3, PROJ_MOCO2, true, 0,
                             0, 0, NULL, 0.99, 0, 0.2, 0},
    [SSLK_METHOD_MOCO_V3] = {"moco_v3", DEFAULT_ENCODER, SSLK_LOSS_MOCO, SSLI_STEP_PRED_EMA, 2, 2e-3, PROJ_MOCO3, true,
                             0, 0, 0, PRED_BYOL, 0.99, 1.0, 0.2, 0},
    /* multi-crop: 2 global + 2 local crops, all at the training size */
    [SSLK_METHOD_DINO] = {"dino", DEFAULT_ENCODER, SSLK_LOSS_DINO, SSLI_STEP_DINO, 4, 2e-3, PROJ_DINO, true, 0, 0, 0,
                          NULL, 0.99, 1.0, 0, 0},
    [SSLK_METHOD_SWAV] = {"swav", DEFAULT_ENCODER, SSLK_LOSS_SWAV, SSLI_STEP_MULTI, 4, 2e-3, PROJ_SWAV, false, 0, 0, 0,
                          NULL, 0, 0, 0, 300},
};
#define NMETHODS (sizeof methods / sizeof methods[0])

const ssli_method_def *ssli_method_get(sslk_method m) {
    return (int)m >= 1 && (size_t)m < NMETHODS ? &methods[m] : NULL;
}

const char *sslk_method_name(sslk_method m) {
    const ssli_method_def *d = ssli_method_get(m);
    return d ? d->name : NULL;
}

sslk_status sslk_method_from_name(const char *name, sslk_method *m) {
    SSLI_CHECK_PTR(name, "sslk_method_from_name");
    SSLI_CHECK_PTR(m, "sslk_method_from_name");
    for (size_t i = 1; i < NMETHODS; i++)
        if (strcmp(name, methods[i].name) == 0) {
            *m = (sslk_method)i;
            return SSLK_OK;
        }
    return ssli_err(SSLK_E_NOT_FOUND,
                    "sslk_method_from_name: unknown method '%s' (vicreg, vicreg_logdet, vicreg_pairdist, "
                    "simclr, diet, msn, pmsn, supervised, barlow_twins, byol, simsiam, moco_v2, moco_v3, dino, swav)", name);
}

double ssli_train_get(const sslk_trainer *tr, int key) {
    return tr->set[ssli_setting_index(&ssli_settings_train, key)];
}

static char *dupstr(const sslk_ctx *ctx, const char *s) {
    size_t n = strlen(s) + 1;
    char *d = ssli_malloc(ctx, n, 1);
    if (d) memcpy(d, s, n);
    return d;
}

int ssli_train_recipe(const sslk_trainer *tr) {
    int r = (int)ssli_train_get(tr, SSLK_TRAIN_RECIPE);
    if (r != 0) return r;
    if (tr->img_h != 0) return 1; /* fixed-size data (Fashion-MNIST, CIFAR): the light recipe, as before 1.2 */
    /* Barlow Twins and BYOL use BYOL's augmentations (experimental values, outside the enum) */
    if (tr->method == SSLK_METHOD_BYOL || tr->method == SSLK_METHOD_BARLOW_TWINS) return 4;
    switch (tr->method) {
    case SSLK_METHOD_VICREG: case SSLK_METHOD_VICREG_LOGDET: case SSLK_METHOD_VICREG_PAIRDIST: return 3;
    case SSLK_METHOD_MSN: case SSLK_METHOD_PMSN: return 5;
    default: return 2; /* simclr; also diet and supervised */
    }
}

sslk_status ssli_train_make_augment(sslk_trainer *tr, bool eval, sslk_augment **out) {
    static const char *const names[] = {"", "light", "simclr", "vicreg", "byol", "msn"};
    double mean[3], std[3];
    SSLI_TRY(ssli_train_norm(tr, mean, std));
    sslk_augment *a = NULL;
    size_t nv = eval ? 1 : tr->nviews;
    SSLI_TRY(sslk_augment_create(tr->ctx, nv, &a));
    sslk_status st = sslk_augment_preset(a, -1, SSLK_AUG_PRESET_PLAIN);
    if (st == SSLK_OK) st = sslk_augment_set_i64(a, -1, SSLK_AUG_SIZE, (int64_t)tr->in_s);
    if (st == SSLK_OK && tr->in_c != tr->img_c) /* gray <-> RGB conversion, never a refusal */
        st = sslk_augment_set_i64(a, -1, SSLK_AUG_OUT_CHANNELS, (int64_t)tr->in_c);
    for (int c = 0; c < 3 && st == SSLK_OK; c++) {
        st = sslk_augment_set_f64(a, -1, SSLK_AUG_MEAN0 + c, mean[c]);
        if (st == SSLK_OK) st = sslk_augment_set_f64(a, -1, SSLK_AUG_STD0 + c, std[c]);
    }
    int recipe = ssli_train_recipe(tr);
    if (!eval && st == SSLK_OK && recipe > 1) {
        st = sslk_augment_recipe(a, names[recipe]);
    } else if (!eval && st == SSLK_OK) {
        /* a light recipe for small grayscale images: crop, flip, brightness/contrast */
        double j = ssli_train_get(tr, SSLK_TRAIN_AUG_JITTER);
        if (st == SSLK_OK) st = sslk_augment_set_i64(a, -1, SSLK_AUG_CROP, SSLK_AUG_CROP_RANDOM_RESIZED);
        if (st == SSLK_OK) st = sslk_augment_set_f64(a, -1, SSLK_AUG_SCALE_MIN, ssli_train_get(tr, SSLK_TRAIN_AUG_SCALE_MIN));
        if (st == SSLK_OK) st = sslk_augment_set_f64(a, -1, SSLK_AUG_SCALE_MAX, 1.0);
        if (st == SSLK_OK) st = sslk_augment_set_f64(a, -1, SSLK_AUG_FLIP_P, ssli_train_get(tr, SSLK_TRAIN_AUG_FLIP_P));
        if (st == SSLK_OK) st = sslk_augment_set_f64(a, -1, SSLK_AUG_JITTER_P, j > 0 ? 0.8 : 0.0);
        if (st == SSLK_OK) st = sslk_augment_set_f64(a, -1, SSLK_AUG_BRIGHTNESS, j);
        if (st == SSLK_OK) st = sslk_augment_set_f64(a, -1, SSLK_AUG_CONTRAST, j);
        if (st == SSLK_OK) st = sslk_augment_set_f64(a, -1, SSLK_AUG_SATURATION, 0.0);
        if (st == SSLK_OK) st = sslk_augment_set_f64(a, -1, SSLK_AUG_HUE, 0.0);
    }
    if (!eval && st == SSLK_OK && nv == 4) st = ssli_train_multicrop(tr, a); /* DINO, SwAV */
    if (st != SSLK_OK) {
        sslk_augment_destroy(a);
        return st;
    }
    *out = a;
    return SSLK_OK;
}

/* Register every trainable tensor of m in optimizer group g. */
static sslk_status add_model_params(sslk_optim *opt, sslk_model *m, size_t g) {
    size_t cnt = 0;
    SSLI_TRY(sslk_model_param_count(m, &cnt));
    for (size_t i = 0; i < cnt; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        SSLI_TRY(sslk_model_param(m, i, &v));
        if (v.flags & SSLK_PARAM_FROZEN) continue;
        SSLI_TRY(sslk_optim_add_params(opt, &v, 1, g));
    }
    return SSLK_OK;
}

static sslk_status lr_key(int kind, int *lr, int *wd) {
    switch (kind) {
    case SSLK_OPTIM_SGD: *lr = SSLK_SGD_LR; *wd = SSLK_SGD_WEIGHT_DECAY; return SSLK_OK;
    case SSLK_OPTIM_LARS: *lr = SSLK_LARS_LR; *wd = SSLK_LARS_WEIGHT_DECAY; return SSLK_OK;
    case SSLK_OPTIM_ADAMW: *lr = SSLK_ADAMW_LR; *wd = SSLK_ADAMW_WEIGHT_DECAY; return SSLK_OK;
    default: return ssli_err(SSLK_E_SETTING, "trainer: optimizer kind %d unknown", kind);
    }
}

/* (Re)build the optimizer from the settings (before the first step only). */
static sslk_status build_optim(sslk_trainer *tr) {
    sslk_optim_destroy(tr->opt);
    tr->opt = NULL;
    int kind = (int)ssli_train_get(tr, SSLK_TRAIN_OPTIMIZER), klr = 0, kwd = 0;
    SSLI_TRY(lr_key(kind, &klr, &kwd));
    SSLI_TRY(sslk_optim_create(tr->ctx, (sslk_optim_kind)kind, &tr->opt));
    SSLI_TRY(sslk_optim_set_f64(tr->opt, klr, ssli_train_get(tr, SSLK_TRAIN_LR)));
    SSLI_TRY(sslk_optim_set_f64(tr->opt, kwd, ssli_train_get(tr, SSLK_TRAIN_WEIGHT_DECAY)));
    if (kind == SSLK_OPTIM_SGD) SSLI_TRY(sslk_optim_set_f64(tr->opt, SSLK_SGD_MOMENTUM, 0.9));
    if (kind == SSLK_OPTIM_ADAMW) SSLI_TRY(sslk_optim_set_f64(tr->opt, SSLK_ADAMW_EXCLUDE_NO_DECAY, 1));
    SSLI_TRY(add_model_params(tr->opt, tr->enc, 0));
    SSLI_TRY(add_model_params(tr->opt, tr->proj, 0));
    if (tr->pred) SSLI_TRY(add_model_params(tr->opt, tr->pred, 0));
    if (tr->loss) {
        size_t cnt = 0;
        SSLI_TRY(sslk_loss_param_count(tr->loss, &cnt));
        for (size_t i = 0; i < cnt; i++) {
            sslk_param_view v = {.struct_size = sizeof v};
            SSLI_TRY(sslk_loss_param(tr->loss, i, &v));
            SSLI_TRY(sslk_optim_add_params(tr->opt, &v, 1, 1)); /* group 1: the loss's tensors */
        }
    }
    return SSLK_OK;
}

static sslk_status make_loss(sslk_trainer *tr) {
    const ssli_method_def *md = tr->md;
    SSLI_TRY(sslk_loss_create(tr->ctx, md->loss, &tr->loss));
    if (md->loss == SSLK_LOSS_DIET) {
        SSLI_TRY(sslk_loss_set_i64(tr->loss, SSLK_DIET_NUM_SAMPLES, (int64_t)tr->n));
        SSLI_TRY(sslk_loss_set_i64(tr->loss, SSLK_DIET_DIM, (int64_t)tr->dz));
    } else if (md->loss == SSLK_LOSS_MSN) {
        SSLI_TRY(sslk_loss_set_i64(tr->loss, SSLK_MSN_DIM, (int64_t)tr->dz));
        SSLI_TRY(sslk_loss_set_i64(tr->loss, SSLK_MSN_NUM_PROTOTYPES, (int64_t)ssli_train_get(tr, SSLK_TRAIN_PROTOTYPES)));
        if (md->msn_prior != SSLK_MSN_PRIOR_UNIFORM)
            SSLI_TRY(sslk_loss_set_i64(tr->loss, SSLK_MSN_PRIOR, md->msn_prior));
    } else if (md->loss == SSLK_LOSS_NEGCOS) { /* (p1, p2, z1, z2): SimSiam's mean of -cos, BYOL's sum of 2 - 2 cos */
        const bool byol = tr->method == SSLK_METHOD_BYOL;
        SSLI_TRY(sslk_loss_set_i64(tr->loss, SSLK_NEGCOS_SYMMETRIC, 1));
        SSLI_TRY(sslk_loss_set_i64(tr->loss, SSLK_NEGCOS_FORM, byol ? SSLK_NEGCOS_BYOL : SSLK_NEGCOS_SIMSIAM));
        SSLI_TRY(sslk_loss_set_i64(tr->loss, SSLK_NEGCOS_VIEW_REDUCTION, byol ? SSLK_REDUCE_SUM : SSLK_REDUCE_MEAN));
    } else if (md->loss == SSLK_LOSS_MOCO) {
        SSLI_TRY(sslk_loss_set_i64(tr->loss, SSLK_MOCO_VERSION, md->step == SSLI_STEP_QUEUE ? 2 : 3));
        if (md->temperature > 0) SSLI_TRY(sslk_loss_set_f64(tr->loss, SSLK_MOCO_TEMPERATURE, md->temperature));
    } else if (md->loss == SSLK_LOSS_SWAV) {
        SSLI_TRY(sslk_loss_set_i64(tr->loss, SSLK_SWAV_DIM, (int64_t)tr->dz));
        SSLI_TRY(sslk_loss_set_i64(tr->loss, SSLK_SWAV_NUM_PROTOTYPES, (int64_t)ssli_train_get(tr, SSLK_TRAIN_PROTOTYPES)));
    }
    return SSLK_OK;
}

/* The method's row applied on top of the table defaults; the dataset's own
 * normalisation replaces the table's when the dataset knows it. */
static void method_defaults(sslk_trainer *tr) {
    const ssli_method_def *md = tr->md;
    tr->set[ssli_setting_index(&ssli_settings_train, SSLK_TRAIN_LR)] = md->lr;
    if (md->epochs) tr->set[ssli_setting_index(&ssli_settings_train, SSLK_TRAIN_EPOCHS)] = (double)md->epochs;
    if (md->subset) tr->set[ssli_setting_index(&ssli_settings_train, SSLK_TRAIN_SUBSET)] = (double)md->subset;
    if (md->ema > 0) tr->set[ssli_setting_index(&ssli_settings_train, SSLK_TRAIN_EMA)] = md->ema;
    if (md->ema_end > 0) tr->set[ssli_setting_index(&ssli_settings_train, SSLK_TRAIN_EMA_END)] = md->ema_end;
    if (md->prototypes)
        tr->set[ssli_setting_index(&ssli_settings_train, SSLK_TRAIN_PROTOTYPES)] = (double)md->prototypes;
    tr->nviews = md->nviews;
    double mean = 0, std = 0;
    if (sslk_dataset_mean_std(tr->data, &mean, &std) == SSLK_OK) {
        tr->set[ssli_setting_index(&ssli_settings_train, SSLK_TRAIN_NORM_MEAN)] = mean;
        tr->set[ssli_setting_index(&ssli_settings_train, SSLK_TRAIN_NORM_STD)] = std;
    }
}

static sslk_status build(sslk_trainer *tr) {
    size_t shape[3] = {tr->in_c, tr->in_s, tr->in_s};
    uint64_t seed = (uint64_t)ssli_train_get(tr, SSLK_TRAIN_INIT_SEED);
    SSLI_TRY(sslk_model_from_spec(tr->ctx, tr->enc_spec, 3, shape, ssli_rng_key(seed, 1, 0), &tr->enc));
    size_t nd = 0, es[3] = {0};
    SSLI_TRY(sslk_model_output_shape(tr->enc, &nd, es));
    SSLI_TRY(sslk_model_io_size(tr->enc, NULL, &tr->de));
    size_t pshape[1] = {tr->de};
    SSLI_TRY(sslk_model_from_spec(tr->ctx, tr->proj_spec, 1, pshape, ssli_rng_key(seed, 2, 0), &tr->proj));
    SSLI_TRY(sslk_model_io_size(tr->proj, NULL, &tr->dz));
    if (tr->md->step == SSLI_STEP_LABEL && tr->dz != tr->nclasses)
        return ssli_err(SSLK_E_SHAPE, "sslk_trainer_create: supervised head outputs %zu values for %zu classes",
                        tr->dz, tr->nclasses);
    if (tr->md->ema_target) {
        SSLI_TRY(sslk_model_clone(tr->enc, &tr->tenc));
        SSLI_TRY(sslk_model_clone(tr->proj, &tr->tproj));
    }
    SSLI_TRY(make_loss(tr));
    SSLI_TRY(ssli_train_build_extra(tr)); /* predictor, MoCo queue (issue 21) */
    return build_optim(tr);
}


sslk_status sslk_trainer_create(sslk_ctx *ctx, sslk_method method, sslk_dataset *data,
                                const char *encoder_spec, const char *projector_spec, sslk_trainer **out) {
    static const char *fn = "sslk_trainer_create";
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(data, fn);
    if (!sslk_method_name(method)) return ssli_err(SSLK_E_INVALID_ARG, "%s: method %d unknown", fn, (int)method);
    sslk_trainer *tr = ssli_calloc(ctx, 1, sizeof *tr);
    if (!tr) return ssli_alloc_status();
    tr->ctx = ctx;
    tr->method = method;
    tr->md = ssli_method_get(method);
    tr->data = data;
    ssli_setting_defaults(&ssli_settings_train, tr->set);
    method_defaults(tr);
    sslk_status st = sslk_dataset_count(data, &tr->n_all);
    tr->n = tr->n_all;
    if (st == SSLK_OK) st = sslk_dataset_shape(data, &tr->img_h, &tr->img_w, &tr->img_c);
    if (st == SSLK_OK) st = sslk_dataset_num_classes(data, &tr->nclasses);
    if (st == SSLK_OK && tr->n < 2) st = ssli_err(SSLK_E_SHAPE, "%s: the dataset holds %zu items", fn, tr->n);
    bool varsize = tr->img_h == 0 || tr->img_w == 0;
    if (st == SSLK_OK && varsize) {
        /* images of any size: random resized crops to SSLK_TRAIN_IMAGE_SIZE,
         * per-channel statistics measured once unless the dataset knows its own */
        tr->img_h = tr->img_w = 0;
        tr->set[ssli_setting_index(&ssli_settings_train, SSLK_TRAIN_IMAGE_SIZE)] = 224;
        double m = 0, s = 0;
        if (sslk_dataset_mean_std(data, &m, &s) != SSLK_OK) {
            ssli_clear_error();
            tr->set[ssli_setting_index(&ssli_settings_train, SSLK_TRAIN_NORM_MODE)] = 2;
        }
    }
    if (st == SSLK_OK && tr->md->step == SSLI_STEP_LABEL && tr->nclasses < 2)
        st = ssli_err(SSLK_E_INVALID_ARG, "%s: supervised training needs a labelled dataset (%zu classes)", fn, tr->nclasses);
    char head[64];
    snprintf(head, sizeof head, "linear:%zu", tr->nclasses);
    const char *ps = projector_spec ? projector_spec : tr->md->projector;
    if (!ps) ps = head;
    if (st == SSLK_OK) {
        const char *es = encoder_spec ? encoder_spec : tr->md->encoder;
        if (!encoder_spec && varsize && strcmp(es, DEFAULT_ENCODER) == 0) es = DEFAULT_ENCODER_POOLED;
        tr->enc_spec = dupstr(ctx, es);
        tr->proj_spec = dupstr(ctx, ps);
        if (!tr->enc_spec || !tr->proj_spec) st = ssli_alloc_status();
    }
    if (st == SSLK_OK) st = ssli_train_rebuild(tr);
    if (st != SSLK_OK) {
        sslk_trainer_destroy(tr);
        return st;
    }
    *out = tr;
    return SSLK_OK;
}

static void free_buffers(sslk_trainer *tr) {
    sslk_loader_destroy(tr->ld);
    sslk_augment_destroy(tr->aug);
    tr->ld = NULL;
    tr->aug = NULL;
    ssli_free(tr->ctx, tr->ylab);
    tr->ylab = NULL;
    float **bufs[] = {&tr->x, &tr->h, &tr->z, &tr->gz, &tr->gh, &tr->tz, &tr->p, &tr->gp};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        ssli_free(tr->ctx, *bufs[i]);
        *bufs[i] = NULL;
    }
    ssli_free(tr->ctx, tr->labels);
    ssli_free(tr->ctx, tr->indices);
    tr->labels = NULL;
    tr->indices = NULL;
}

static void drop_networks(sslk_trainer *tr) {
    sslk_optim_destroy(tr->opt);
    sslk_loss_destroy(tr->loss);
    sslk_model_destroy(tr->enc);
    sslk_model_destroy(tr->proj);
    sslk_model_destroy(tr->tenc);
    sslk_model_destroy(tr->tproj);
    sslk_model_destroy(tr->pred);
    sslk_negqueue_destroy(tr->queue);
    tr->opt = NULL;
    tr->loss = NULL;
    tr->queue = NULL;
    tr->enc = tr->proj = tr->tenc = tr->tproj = tr->pred = NULL;
}

/* The training subset: a seeded partial Fisher-Yates draw of m of the n_all
 * items, kept in ascending order so that items keep their relative order. */
static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

static sslk_status pick_subset(sslk_trainer *tr) {
    sslk_dataset_destroy(tr->sub);
    tr->sub = NULL;
    tr->n = tr->n_all;
    size_t m = (size_t)ssli_train_get(tr, SSLK_TRAIN_SUBSET);
    if (m == 0 || m >= tr->n_all) return SSLK_OK;
    size_t *perm = ssli_malloc(tr->ctx, tr->n_all, sizeof *perm);
    if (!perm) return ssli_alloc_status();
    for (size_t i = 0; i < tr->n_all; i++) perm[i] = i;
    uint64_t key = ssli_rng_key((uint64_t)ssli_train_get(tr, SSLK_TRAIN_INIT_SEED), 3, 0);
    for (size_t i = 0; i < m; i++) {
        size_t j = i + (size_t)ssli_rng_below(key, i, tr->n_all - i);
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    qsort(perm, m, sizeof *perm, cmp_size);
    sslk_status st = sslk_dataset_subset(tr->data, perm, m, &tr->sub);
    ssli_free(tr->ctx, perm);
    if (st == SSLK_OK) tr->n = m;
    return st;
}

/* Networks, loss and optimizer from the current settings (before training). */
sslk_status ssli_train_rebuild(sslk_trainer *tr) {
    drop_networks(tr);
    SSLI_TRY(pick_subset(tr));
    size_t s = (size_t)ssli_train_get(tr, SSLK_TRAIN_IMAGE_SIZE);
    size_t ic = (size_t)ssli_train_get(tr, SSLK_TRAIN_IMAGE_CHANNELS);
    tr->in_c = ic ? ic : tr->img_c;
    if (s == 0 && tr->img_h == 0)
        return ssli_err(SSLK_E_SETTING, "trainer: images of different sizes need SSLK_TRAIN_IMAGE_SIZE >= 1");
    tr->in_s = s ? s : (tr->img_h < tr->img_w ? tr->img_h : tr->img_w);
    return build(tr);
}

void sslk_trainer_destroy(sslk_trainer *tr) {
    if (!tr) return;
    free_buffers(tr);
    drop_networks(tr);
    sslk_dataset_destroy(tr->sub);
    ssli_free(tr->ctx, tr->enc_spec);
    ssli_free(tr->ctx, tr->proj_spec);
    ssli_free(tr->ctx, tr->ckpt_dir);
    ssli_free(tr->ctx, tr->hist);
    ssli_free(tr->ctx, tr);
}

static sslk_status train_put(sslk_trainer *tr, int key, double v, sslk_setting_type as, const char *fn) {
    SSLI_CHECK_PTR(tr, fn);
    bool started = tr->global_step > 0 || tr->mid_epoch;
    if (key == SSLK_TRAIN_IMAGE_CHANNELS && v == 2.0)
        return ssli_err(SSLK_E_SETTING, "%s: setting 'image_channels' must be 0, 1 or 3, got 2", fn);
    if (started && (key == SSLK_TRAIN_BATCH || key == SSLK_TRAIN_IMAGE_SIZE || key == SSLK_TRAIN_OPTIMIZER ||
                    key == SSLK_TRAIN_IMAGE_CHANNELS ||
                    key == SSLK_TRAIN_INIT_SEED || key == SSLK_TRAIN_PROTOTYPES || key == SSLK_TRAIN_SUBSET ||
                    key == SSLK_TRAIN_QUEUE))
        return ssli_err(SSLK_E_STATE, "%s: setting %d cannot change once training started", fn, key);
    if (key == SSLK_TRAIN_SUBSET && v == 1)
        return ssli_err(SSLK_E_SHAPE, "%s: a subset of 1 item cannot be trained on (0 = all)", fn);
    SSLI_TRY(ssli_setting_set(&ssli_settings_train, tr->set, key, v, as, fn));
    if (key == SSLK_TRAIN_IMAGE_SIZE || key == SSLK_TRAIN_INIT_SEED || key == SSLK_TRAIN_PROTOTYPES ||
        key == SSLK_TRAIN_SUBSET || key == SSLK_TRAIN_IMAGE_CHANNELS || key == SSLK_TRAIN_QUEUE) {
        free_buffers(tr);
        return ssli_train_rebuild(tr);
    }
    if (key == SSLK_TRAIN_OPTIMIZER || key == SSLK_TRAIN_LR || key == SSLK_TRAIN_WEIGHT_DECAY) {
        if (!started) return build_optim(tr);
        int klr = 0, kwd = 0;
        SSLI_TRY(lr_key((int)ssli_train_get(tr, SSLK_TRAIN_OPTIMIZER), &klr, &kwd));
        SSLI_TRY(sslk_optim_set_f64(tr->opt, klr, ssli_train_get(tr, SSLK_TRAIN_LR)));
        SSLI_TRY(sslk_optim_set_f64(tr->opt, kwd, ssli_train_get(tr, SSLK_TRAIN_WEIGHT_DECAY)));
    }
    if (key == SSLK_TRAIN_AUG_SEED && tr->ld) /* deprecated alias of the loader's own key: forward it */
        return sslk_loader_set_i64(tr->ld, SSLK_LOADER_AUG_SEED, (int64_t)v);
    if (key == SSLK_TRAIN_BATCH || key == SSLK_TRAIN_SEED || key == SSLK_TRAIN_WORKERS ||
        key == SSLK_TRAIN_AUG_SCALE_MIN || key == SSLK_TRAIN_AUG_JITTER || key == SSLK_TRAIN_AUG_FLIP_P ||
        key == SSLK_TRAIN_NORM_MEAN || key == SSLK_TRAIN_NORM_STD || key == SSLK_TRAIN_RECIPE ||
        (key >= SSLK_TRAIN_NORM_MODE && key <= SSLK_TRAIN_ON_CORRUPT))
        free_buffers(tr); /* rebuilt by the next fit */
    return SSLK_OK;
}

static sslk_status train_read(const sslk_trainer *tr, int key, double *v, const char *fn) {
    SSLI_CHECK_PTR(tr, fn);
    return ssli_setting_get(&ssli_settings_train, tr->set, key, v, fn);
}

/* sslk_trainer_{set,get}_{f64,i64} */
SSLI_SETTINGS_ACCESSORS(sslk_trainer, sslk_trainer, train_put, train_read)

sslk_status sslk_trainer_method(const sslk_trainer *tr, sslk_method *m) {
    SSLI_CHECK_PTR(tr, "sslk_trainer_method");
    SSLI_CHECK_PTR(m, "sslk_trainer_method");
    *m = tr->method;
    return SSLK_OK;
}

sslk_status sslk_trainer_loss(sslk_trainer *tr, sslk_loss **loss) {
    SSLI_CHECK_PTR(tr, "sslk_trainer_loss");
    SSLI_CHECK_PTR(loss, "sslk_trainer_loss");
    /* 1.x contract: SUPERVISED reports no loss (its cross-entropy is internal) */
    *loss = tr->md->step == SSLI_STEP_LABEL ? NULL : tr->loss;
    return SSLK_OK;
}

sslk_status sslk_trainer_loader(sslk_trainer *tr, sslk_loader **ld) {
    static const char *fn = "sslk_trainer_loader";
    SSLI_CHECK_PTR(tr, fn);
    SSLI_CHECK_PTR(ld, fn);
    *ld = NULL;
    if (tr->mid_epoch) return ssli_err(SSLK_E_STATE, "%s: training stopped inside an epoch", fn);
    SSLI_TRY(ssli_train_make_loader(tr));
    *ld = tr->ld;
    return SSLK_OK;
}

sslk_status sslk_trainer_augment(sslk_trainer *tr, sslk_augment **aug) {
    static const char *fn = "sslk_trainer_augment";
    SSLI_CHECK_PTR(tr, fn);
    SSLI_CHECK_PTR(aug, fn);
    *aug = NULL;
    if (tr->mid_epoch) return ssli_err(SSLK_E_STATE, "%s: training stopped inside an epoch", fn);
    if (!tr->aug) SSLI_TRY(ssli_train_make_augment(tr, false, &tr->aug));
    /* the loader holds a copy of the recipe: drop it so that the next fit (or
     * sslk_trainer_loader) builds one from the recipe as edited; the draws
     * depend only on (seed, epoch, index, view), so a rebuild is invisible */
    sslk_loader_destroy(tr->ld);
    tr->ld = NULL;
    *aug = tr->aug;
    return SSLK_OK;
}

sslk_status sslk_trainer_encoder(sslk_trainer *tr, sslk_model **m) {
    SSLI_CHECK_PTR(tr, "sslk_trainer_encoder");
    SSLI_CHECK_PTR(m, "sslk_trainer_encoder");
    *m = tr->enc;
    return SSLK_OK;
}

sslk_status sslk_trainer_projector(sslk_trainer *tr, sslk_model **m) {
    SSLI_CHECK_PTR(tr, "sslk_trainer_projector");
    SSLI_CHECK_PTR(m, "sslk_trainer_projector");
    *m = tr->proj;
    return SSLK_OK;
}

sslk_status sslk_trainer_optim(sslk_trainer *tr, sslk_optim **o) {
    SSLI_CHECK_PTR(tr, "sslk_trainer_optim");
    SSLI_CHECK_PTR(o, "sslk_trainer_optim");
    *o = tr->opt;
    return SSLK_OK;
}

sslk_status sslk_trainer_set_callbacks(sslk_trainer *tr, sslk_train_callback on_step,
                                       sslk_train_callback on_epoch, void *user) {
    SSLI_CHECK_PTR(tr, "sslk_trainer_set_callbacks");
    tr->on_step = on_step;
    tr->on_epoch = on_epoch;
    tr->cb_user = user;
    return SSLK_OK;
}

sslk_status sslk_trainer_set_checkpoint_dir(sslk_trainer *tr, const char *dir) {
    SSLI_CHECK_PTR(tr, "sslk_trainer_set_checkpoint_dir");
    char *d = NULL;
    if (dir) {
        d = dupstr(tr->ctx, dir);
        if (!d) return ssli_alloc_status();
    }
    ssli_free(tr->ctx, tr->ckpt_dir);
    tr->ckpt_dir = d;
    return SSLK_OK;
}

sslk_status sslk_trainer_epochs_done(const sslk_trainer *tr, uint64_t *e) {
    SSLI_CHECK_PTR(tr, "sslk_trainer_epochs_done");
    SSLI_CHECK_PTR(e, "sslk_trainer_epochs_done");
    *e = tr->epoch;
    return SSLK_OK;
}

sslk_status sslk_trainer_history(const sslk_trainer *tr, uint64_t e, sslk_train_progress *out) {
    SSLI_CHECK_PTR(tr, "sslk_trainer_history");
    SSLI_CHECK_PTR(out, "sslk_trainer_history");
    if (e >= tr->nhist)
        return ssli_err(SSLK_E_RANGE, "sslk_trainer_history: epoch %llu not completed (%zu done)",
                        (unsigned long long)e, tr->nhist);
    SSLI_TRY(ssli_struct_check(out, SSLI_V10_TRAIN_PROGRESS, "sslk_trainer_history", "out"));
    ssli_struct_out(out, &tr->hist[e], sizeof tr->hist[e]);
    return SSLK_OK;
}

sslk_status sslk_trainer_embed_dim(const sslk_trainer *tr, size_t *dim) {
    SSLI_CHECK_PTR(tr, "sslk_trainer_embed_dim");
    SSLI_CHECK_PTR(dim, "sslk_trainer_embed_dim");
    *dim = tr->de;
    return SSLK_OK;
}
