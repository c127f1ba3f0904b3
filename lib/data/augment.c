/* The augmentation recipe: per-view settings, presets, and the per-sample
 * plan whose every random draw is a fixed counter of a key derived from
 * (seed, epoch, index, view), so results never depend on scheduling.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "data_internal.h"

#include <string.h>

#define F SSLK_SETTING_F64
#define I SSLK_SETTING_I64
static const ssli_setting_def augment_defs[SSLI_AUG_NSET] = {
    {SSLK_AUG_SIZE, "size", I, 1, 4096, 224, "output side in pixels"},
    {SSLK_AUG_CROP, "crop", I, 0, 3, 0,
     "0 = random resized crop, 1 = resize the whole image, 2 = center crop, 3 = resize the shorter side to "
     "round(size / center_fraction) then center crop (evaluation)"},
    {SSLK_AUG_SCALE_MIN, "scale_min", F, 1e-4, 1, 0.08, "random resized crop: smallest area fraction"},
    {SSLK_AUG_SCALE_MAX, "scale_max", F, 1e-4, 1, 1.0, "random resized crop: largest area fraction"},
    {SSLK_AUG_RATIO_MIN, "ratio_min", F, 0.01, 100, 3.0 / 4.0, "random resized crop: smallest aspect w/h"},
    {SSLK_AUG_RATIO_MAX, "ratio_max", F, 0.01, 100, 4.0 / 3.0, "random resized crop: largest aspect w/h"},
    {SSLK_AUG_CENTER_FRACTION, "center_fraction", F, 0.01, 1, 0.875, "center crop: side / shorter image side"},
    {SSLK_AUG_FLIP_P, "flip_p", F, 0, 1, 0.5, "horizontal flip probability"},
    {SSLK_AUG_JITTER_P, "jitter_p", F, 0, 1, 0.8, "colour jitter probability"},
    {SSLK_AUG_BRIGHTNESS, "brightness", F, 0, 10, 0.4, "brightness factor in [max(0, 1-b), 1+b]"},
    {SSLK_AUG_CONTRAST, "contrast", F, 0, 10, 0.4, "contrast factor in [max(0, 1-c), 1+c]"},
    {SSLK_AUG_SATURATION, "saturation", F, 0, 10, 0.2, "saturation factor in [max(0, 1-s), 1+s]"},
    {SSLK_AUG_HUE, "hue", F, 0, 0.5, 0.1, "hue shift in [-h, h] (fraction of a turn)"},
    {SSLK_AUG_GRAY_P, "gray_p", F, 0, 1, 0.2, "grayscale probability (0.299 R + 0.587 G + 0.114 B)"},
    {SSLK_AUG_BLUR_P, "blur_p", F, 0, 1, 0.5, "Gaussian blur probability"},
    {SSLK_AUG_BLUR_SIGMA_MIN, "blur_sigma_min", F, 0.01, 100, 0.1, "smallest blur sigma (output pixels)"},
    {SSLK_AUG_BLUR_SIGMA_MAX, "blur_sigma_max", F, 0.01, 100, 2.0, "largest blur sigma (output pixels)"},
    {SSLK_AUG_SOLARIZE_P, "solarize_p", F, 0, 1, 0.0, "solarisation probability"},
    {SSLK_AUG_SOLARIZE_THRESHOLD, "solarize_threshold", F, 0, 256, 128, "values v*255 >= threshold are inverted"},
    {SSLK_AUG_MEAN0, "mean0", F, -1e6, 1e6, 0.0, "normalisation mean of channel 0 (values in [0,1])"},
    {SSLK_AUG_MEAN1, "mean1", F, -1e6, 1e6, 0.0, "normalisation mean of channel 1"},
    {SSLK_AUG_MEAN2, "mean2", F, -1e6, 1e6, 0.0, "normalisation mean of channel 2"},
    {SSLK_AUG_STD0, "std0", F, 1e-6, 1e6, 1.0, "normalisation std of channel 0"},
    {SSLK_AUG_STD1, "std1", F, 1e-6, 1e6, 1.0, "normalisation std of channel 1"},
    {SSLK_AUG_STD2, "std2", F, 1e-6, 1e6, 1.0, "normalisation std of channel 2"},
    {SSLK_AUG_OUT_CHANNELS, "out_channels", I, 0, 3, 0, "0 as input, 1 gray, 3 RGB (gray replicated)"},
    {SSLK_AUG_BLUR_KERNEL_FRACTION, "blur_kernel_fraction", F, 0, 1, 0,
     "blur kernel side / view side, radius floor(f * size / 2) (0: radius ceil(3 sigma))"},
};
#undef F
#undef I
static const ssli_setting_choices augment_choices[] = {
    {SSLK_AUG_CROP, (const char *const[]){"random_resized", "resize", "center", "resize_center", NULL}},
    {0, NULL},
};
const ssli_setting_table ssli_settings_augment = {"augment", augment_defs, SSLI_AUG_NSET, augment_choices};

double ssli_aug_get(const sslk_augment *aug, size_t view, int key) {
    int i = ssli_setting_index(&ssli_settings_augment, key);
    return i < 0 ? 0.0 : aug->set[view][i];
}

sslk_status sslk_augment_create(sslk_ctx *ctx, size_t nviews, sslk_augment **out) {
    static const char *fn = "sslk_augment_create";
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    if (nviews < 1 || nviews > SSLI_AUG_MAX_VIEWS)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: nviews = %zu must be in [1, %d]", fn, nviews, SSLI_AUG_MAX_VIEWS);
    sslk_augment *a = ssli_calloc(ctx, 1, sizeof *a);
    if (!a) return ssli_err(ssli_alloc_status(), "%s: out of memory", fn);
    a->ctx = ctx;
    a->nviews = nviews;
    for (size_t v = 0; v < nviews; v++) ssli_setting_defaults(&ssli_settings_augment, a->set[v]);
    *out = a;
    return SSLK_OK;
}

void sslk_augment_destroy(sslk_augment *aug) {
    if (aug) ssli_free(aug->ctx, aug);
}

sslk_status sslk_augment_num_views(const sslk_augment *aug, size_t *nviews) {
    SSLI_CHECK_PTR(aug, "sslk_augment_num_views");
    SSLI_CHECK_PTR(nviews, "sslk_augment_num_views");
    *nviews = aug->nviews;
    return SSLK_OK;
}

static sslk_status set_value(sslk_augment *aug, int view, int key, double v, sslk_setting_type as,
                             const char *fn) {
    SSLI_CHECK_PTR(aug, fn);
    if (view < -1 || view >= (int)aug->nviews)
        return ssli_err(SSLK_E_RANGE, "%s: view = %d outside [-1, %zu)", fn, view, aug->nviews);
    if (key == SSLK_AUG_OUT_CHANNELS && v == 2.0)
        return ssli_err(SSLK_E_SETTING, "%s: setting 'out_channels' must be 0, 1 or 3, got 2", fn);
    size_t v0 = view < 0 ? 0 : (size_t)view, v1 = view < 0 ? aug->nviews : (size_t)view + 1;
    for (size_t k = v0; k < v1; k++) SSLI_TRY(ssli_setting_set(&ssli_settings_augment, aug->set[k], key, v, as, fn));
    return SSLK_OK;
}

static sslk_status augment_read(const sslk_augment *aug, int view, int key, double *v, const char *fn) {
    SSLI_CHECK_PTR(aug, fn);
    if (view < 0 || view >= (int)aug->nviews)
        return ssli_err(SSLK_E_RANGE, "%s: view = %d outside [0, %zu)", fn, view, aug->nviews);
    return ssli_setting_get(&ssli_settings_augment, aug->set[view], key, v, fn);
}

/* sslk_augment_{set,get}_{f64,i64}: setters take view -1 for all views */
SSLI_SETTINGS_SETTERS_AT(sslk_augment, sslk_augment, int, set_value)
SSLI_SETTINGS_GETTERS_AT(sslk_augment, sslk_augment, int, augment_read)

typedef struct preset_vals {
    double crop, smin, smax, flip, jp, b, c, s, h, gray, blur, sol;
} preset_vals;

static void apply_preset(sslk_augment *aug, size_t v, const preset_vals *p) {
    const int keys[] = {SSLK_AUG_CROP, SSLK_AUG_SCALE_MIN, SSLK_AUG_SCALE_MAX, SSLK_AUG_FLIP_P, SSLK_AUG_JITTER_P,
                        SSLK_AUG_BRIGHTNESS, SSLK_AUG_CONTRAST, SSLK_AUG_SATURATION, SSLK_AUG_HUE, SSLK_AUG_GRAY_P,
                        SSLK_AUG_BLUR_P, SSLK_AUG_SOLARIZE_P};
    const double vals[] = {p->crop, p->smin, p->smax, p->flip, p->jp, p->b, p->c, p->s, p->h, p->gray, p->blur, p->sol};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        aug->set[v][ssli_setting_index(&ssli_settings_augment, keys[k])] = vals[k];
    aug->set[v][ssli_setting_index(&ssli_settings_augment, SSLK_AUG_RATIO_MIN)] = 3.0 / 4.0;
    aug->set[v][ssli_setting_index(&ssli_settings_augment, SSLK_AUG_RATIO_MAX)] = 4.0 / 3.0;
    aug->set[v][ssli_setting_index(&ssli_settings_augment, SSLK_AUG_BLUR_SIGMA_MIN)] = 0.1;
    aug->set[v][ssli_setting_index(&ssli_settings_augment, SSLK_AUG_BLUR_SIGMA_MAX)] = 2.0;
}

sslk_status sslk_augment_preset(sslk_augment *aug, int view, sslk_aug_preset preset) {
    static const char *fn = "sslk_augment_preset";
    SSLI_CHECK_PTR(aug, fn);
    if (view < -1 || view >= (int)aug->nviews)
        return ssli_err(SSLK_E_RANGE, "%s: view = %d outside [-1, %zu)", fn, view, aug->nviews);
    if ((int)preset < SSLK_AUG_PRESET_PLAIN || (int)preset > (int)SSLK_AUG_PRESET_EVAL)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: unknown preset %d", fn, (int)preset);
    size_t v0 = view < 0 ? 0 : (size_t)view, v1 = view < 0 ? aug->nviews : (size_t)view + 1;
    for (size_t v = v0; v < v1; v++) {
        preset_vals p;
        switch ((int)preset) {
        case SSLK_AUG_PRESET_PLAIN: p = (preset_vals){1, 0.08, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}; break;
        case (int)SSLK_AUG_PRESET_EVAL: p = (preset_vals){3, 0.08, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}; break;
        case SSLK_AUG_PRESET_SIMCLR: p = (preset_vals){0, 0.08, 1, 0.5, 0.8, 0.8, 0.8, 0.8, 0.2, 0.2, 0.5, 0}; break;
        case SSLK_AUG_PRESET_VICREG:
            p = (preset_vals){0, 0.08, 1, 0.5, 0.8, 0.4, 0.4, 0.2, 0.1, 0.2, v % 2 ? 0.1 : 1.0, v % 2 ? 0.2 : 0.0};
            break;
        default: p = (preset_vals){0, 0.05, 0.4, 0.5, 0.8, 0.4, 0.4, 0.2, 0.1, 0.2, 0.5, 0}; break;
        }
        apply_preset(aug, v, &p);
    }
    return SSLK_OK;
}

size_t ssli_aug_out_channels(const sslk_augment *aug, size_t view, size_t in_c) {
    int oc = (int)ssli_aug_get(aug, view, SSLK_AUG_OUT_CHANNELS);
    return oc == 0 ? in_c : (size_t)oc;
}

sslk_status sslk_augment_out_shape(const sslk_augment *aug, size_t view, size_t in_c, size_t *c, size_t *h,
                                   size_t *w) {
    static const char *fn = "sslk_augment_out_shape";
    SSLI_CHECK_PTR(aug, fn);
    if (view >= aug->nviews) return ssli_err(SSLK_E_RANGE, "%s: view = %zu >= nviews %zu", fn, view, aug->nviews);
    if (in_c != 1 && in_c != 3) return ssli_err(SSLK_E_SHAPE, "%s: in_c = %zu must be 1 or 3", fn, in_c);
    size_t s = (size_t)ssli_aug_get(aug, view, SSLK_AUG_SIZE);
    if (c) *c = ssli_aug_out_channels(aug, view, in_c);
    if (h) *h = s;
    if (w) *w = s;
    return SSLK_OK;
}

sslk_status ssli_aug_validate(const sslk_augment *aug, const char *fn) {
    for (size_t v = 0; v < aug->nviews; v++) {
        if (ssli_aug_get(aug, v, SSLK_AUG_SCALE_MIN) > ssli_aug_get(aug, v, SSLK_AUG_SCALE_MAX) ||
            ssli_aug_get(aug, v, SSLK_AUG_RATIO_MIN) > ssli_aug_get(aug, v, SSLK_AUG_RATIO_MAX) ||
            ssli_aug_get(aug, v, SSLK_AUG_BLUR_SIGMA_MIN) > ssli_aug_get(aug, v, SSLK_AUG_BLUR_SIGMA_MAX))
            return ssli_err(SSLK_E_SETTING, "%s: view %zu has a range with min > max (scale %g..%g, ratio %g..%g, "
                            "blur sigma %g..%g)", fn, v, ssli_aug_get(aug, v, SSLK_AUG_SCALE_MIN),
                            ssli_aug_get(aug, v, SSLK_AUG_SCALE_MAX), ssli_aug_get(aug, v, SSLK_AUG_RATIO_MIN),
                            ssli_aug_get(aug, v, SSLK_AUG_RATIO_MAX), ssli_aug_get(aug, v, SSLK_AUG_BLUR_SIGMA_MIN),
                            ssli_aug_get(aug, v, SSLK_AUG_BLUR_SIGMA_MAX));
    }
    return SSLK_OK;
}

/* ---- the plan ---------------------------------------------------------------- */
enum { C_CROP = 0, C_FLIP = 40, C_JIT = 41, C_JIT_F = 42, C_JIT_ORDER = 46, C_GRAY = 50, C_BLUR = 51,
       C_SIGMA = 52, C_SOL = 53 };

static double draw_range(uint64_t key, uint64_t ctr, double lo, double hi) {
    return lo + (hi - lo) * ssli_rng_uniform(key, ctr);
}

/* torchvision RandomResizedCrop.get_params on integer pixels, fixed counters. */
static void random_resized_crop(uint64_t key, double H, double W, double smin, double smax, double rmin,
                                double rmax, ssli_aug_plan *p) {
    double area = H * W, lr0 = log(rmin), lr1 = log(rmax);
    for (int t = 0; t < 10; t++) {
        double target = area * draw_range(key, C_CROP + 4 * t, smin, smax);
        double aspect = exp(draw_range(key, C_CROP + 4 * t + 1, lr0, lr1));
        double w = round(sqrt(target * aspect)), h = round(sqrt(target / aspect));
        if (w > 0 && w <= W && h > 0 && h <= H) {
            p->cy0 = (double)ssli_rng_below(key, C_CROP + 4 * t + 2, (uint64_t)(H - h + 1));
            p->cx0 = (double)ssli_rng_below(key, C_CROP + 4 * t + 3, (uint64_t)(W - w + 1));
            p->cw = w;
            p->ch = h;
            return;
        }
    }
    double in_ratio = W / H, w = W, h = H;
    if (in_ratio < rmin) h = round(w / rmin);
    else if (in_ratio > rmax) w = round(h * rmax);
    if (h < 1) h = 1;
    if (w < 1) w = 1;
    p->cw = w;
    p->ch = h;
    p->cy0 = floor((H - h) / 2);
    p->cx0 = floor((W - w) / 2);
}

void ssli_aug_make_plan(const sslk_augment *aug, size_t view, size_t src_h, size_t src_w, size_t in_c,
                        uint64_t seed, uint64_t epoch, uint64_t index, ssli_aug_plan *p) {
    memset(p, 0, sizeof *p);
    /* index < 2^58 keeps (index, view) injective with 64 views. */
    uint64_t key = ssli_rng_key(seed, epoch, (index << 6) | (uint64_t)view);
    double H = (double)src_h, W = (double)src_w;
#define G(k) ssli_aug_get(aug, view, (k))
    p->size = (size_t)G(SSLK_AUG_SIZE);
    p->out_c = ssli_aug_out_channels(aug, view, in_c);
    int crop = (int)G(SSLK_AUG_CROP);
    if (crop == SSLK_AUG_CROP_RANDOM_RESIZED) {
        random_resized_crop(key, H, W, G(SSLK_AUG_SCALE_MIN), G(SSLK_AUG_SCALE_MAX), G(SSLK_AUG_RATIO_MIN),
                            G(SSLK_AUG_RATIO_MAX), p);
    } else if (crop == SSLK_AUG_CROP_RESIZE_CENTER) {
        ssli_eval_crop(H, W, (size_t)G(SSLK_AUG_SIZE), G(SSLK_AUG_CENTER_FRACTION), p);
    } else if (crop == SSLK_AUG_CROP_CENTER) {
        double side = round(G(SSLK_AUG_CENTER_FRACTION) * (H < W ? H : W));
        if (side < 1) side = 1;
        p->cw = p->ch = side;
        p->cy0 = floor((H - side) / 2);
        p->cx0 = floor((W - side) / 2);
    } else {
        p->cx0 = p->cy0 = 0;
        p->cw = W;
        p->ch = H;
    }
    p->flip = ssli_rng_uniform(key, C_FLIP) < G(SSLK_AUG_FLIP_P);
    p->bright = p->contrast = p->sat = 1.0;
    p->hue = 0.0;
    p->jitter = ssli_rng_uniform(key, C_JIT) < G(SSLK_AUG_JITTER_P);
    if (p->jitter) {
        double b = G(SSLK_AUG_BRIGHTNESS), c = G(SSLK_AUG_CONTRAST), s = G(SSLK_AUG_SATURATION), h = G(SSLK_AUG_HUE);
        p->bright = draw_range(key, C_JIT_F + 0, fmax(0.0, 1 - b), 1 + b);
        p->contrast = draw_range(key, C_JIT_F + 1, fmax(0.0, 1 - c), 1 + c);
        p->sat = draw_range(key, C_JIT_F + 2, fmax(0.0, 1 - s), 1 + s);
        p->hue = draw_range(key, C_JIT_F + 3, -h, h);
        for (int k = 0; k < 4; k++) p->order[k] = k;
        for (int k = 3; k > 0; k--) { /* random order, as torchvision's ColorJitter */
            int j = (int)ssli_rng_below(key, C_JIT_ORDER + (uint64_t)k, (uint64_t)k + 1);
            int t = p->order[k];
            p->order[k] = p->order[j];
            p->order[j] = t;
        }
    }
    p->gray = ssli_rng_uniform(key, C_GRAY) < G(SSLK_AUG_GRAY_P);
    if (ssli_rng_uniform(key, C_BLUR) < G(SSLK_AUG_BLUR_P)) {
        p->blur_sigma = draw_range(key, C_SIGMA, G(SSLK_AUG_BLUR_SIGMA_MIN), G(SSLK_AUG_BLUR_SIGMA_MAX));
        double kf = G(SSLK_AUG_BLUR_KERNEL_FRACTION);
        p->blur_radius = kf > 0 ? (size_t)floor(kf * (double)p->size / 2.0) : (size_t)ceil(3.0 * p->blur_sigma);
        if (p->blur_radius == 0) p->blur_sigma = 0; /* a 1-tap kernel is the identity */
    }
    p->solarize = ssli_rng_uniform(key, C_SOL) < G(SSLK_AUG_SOLARIZE_P);
    p->sol_thr = G(SSLK_AUG_SOLARIZE_THRESHOLD) / 255.0;
    for (int k = 0; k < 3; k++) {
        p->mean[k] = G(SSLK_AUG_MEAN0 + k);
        p->std[k] = G(SSLK_AUG_STD0 + k);
    }
#undef G
}

void ssli_aug_need(const ssli_aug_plan *p, size_t src_h, size_t src_w, size_t *need_h, size_t *need_w) {
    double nw = ceil((double)src_w * (double)p->size / p->cw - 1e-9);
    double nh = ceil((double)src_h * (double)p->size / p->ch - 1e-9);
    size_t a = nw > (double)src_w ? src_w : (size_t)nw, b = nh > (double)src_h ? src_h : (size_t)nh;
    if (a > *need_w) *need_w = a;
    if (b > *need_h) *need_h = b;
}

sslk_status sslk_augment_apply(const sslk_augment *aug, size_t view, const uint8_t *img, size_t h, size_t w,
                               size_t c, uint64_t seed, uint64_t epoch, uint64_t index, float *out) {
    static const char *fn = "sslk_augment_apply";
    SSLI_CHECK_PTR(aug, fn);
    SSLI_CHECK_PTR(img, fn);
    SSLI_CHECK_PTR(out, fn);
    if (view >= aug->nviews) return ssli_err(SSLK_E_RANGE, "%s: view = %zu >= nviews %zu", fn, view, aug->nviews);
    if (h == 0 || w == 0 || h > SSLI_DATA_MAX_SIDE || w > SSLI_DATA_MAX_SIDE || (c != 1 && c != 3))
        return ssli_err(SSLK_E_SHAPE, "%s: image %zu x %zu x %zu (need sides in [1, %d], c = 1 or 3)", fn, h, w, c,
                        SSLI_DATA_MAX_SIDE);
    if (index >= ((uint64_t)1 << 58)) return ssli_err(SSLK_E_RANGE, "%s: index %llu >= 2^58", fn, (unsigned long long)index);
    SSLI_TRY(ssli_aug_validate(aug, fn));
    ssli_aug_plan p;
    ssli_aug_make_plan(aug, view, h, w, c, seed, epoch, index, &p);
    ssli_image im = {img, h, w, c};
    size_t nt = ssli_aug_tmp_floats(&p, &im);
    float *tmp = ssli_malloc(aug->ctx, nt, sizeof(float));
    if (!tmp) return ssli_err(ssli_alloc_status(), "%s: cannot allocate %zu floats of scratch", fn, nt);
    ssli_aug_run(&p, &im, h, w, out, tmp);
    ssli_free(aug->ctx, tmp);
    return SSLK_OK;
}

sslk_status sslk_augment_draw(const sslk_augment *aug, size_t view, size_t h, size_t w, size_t c, uint64_t seed,
                              uint64_t epoch, uint64_t index, double *out, size_t n) {
    static const char *fn = "sslk_augment_draw";
    SSLI_CHECK_PTR(aug, fn);
    SSLI_CHECK_PTR(out, fn);
    if (view >= aug->nviews) return ssli_err(SSLK_E_RANGE, "%s: view = %zu >= nviews %zu", fn, view, aug->nviews);
    if (n < SSLK_AUG_DRAW_VALUES)
        return ssli_err(SSLK_E_SHAPE, "%s: n = %zu, need %d values", fn, n, SSLK_AUG_DRAW_VALUES);
    if (h == 0 || w == 0 || h > SSLI_DATA_MAX_SIDE || w > SSLI_DATA_MAX_SIDE || (c != 1 && c != 3))
        return ssli_err(SSLK_E_SHAPE, "%s: image %zu x %zu x %zu (need sides in [1, %d], c = 1 or 3)", fn, h, w, c,
                        SSLI_DATA_MAX_SIDE);
    if (index >= ((uint64_t)1 << 58)) return ssli_err(SSLK_E_RANGE, "%s: index %llu >= 2^58", fn, (unsigned long long)index);
    SSLI_TRY(ssli_aug_validate(aug, fn));
    ssli_aug_plan p;
    ssli_aug_make_plan(aug, view, h, w, c, seed, epoch, index, &p);
    const double v[SSLK_AUG_DRAW_VALUES] = {
        p.cx0, p.cy0, p.cw, p.ch, p.flip, p.jitter, p.order[0], p.order[1], p.order[2], p.order[3],
        p.jitter ? p.bright : 1.0, p.jitter ? p.contrast : 1.0, p.jitter ? p.sat : 1.0, p.jitter ? p.hue : 0.0,
        p.gray, p.blur_sigma, p.blur_sigma > 0 ? (double)p.blur_radius : 0.0, p.solarize};
    memcpy(out, v, sizeof v);
    return SSLK_OK;
}
