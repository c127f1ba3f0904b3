/* Named standard recipes (sslk_augment_recipe): the augmentation parameters
 * of the papers, as their released code sets them, one row per view kind.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "data_internal.h"

#include <string.h>

/* One view's parameters; blur_min_size: no blur on views smaller than this. */
typedef struct view_recipe {
    double smin, smax, flip, jp, b, c, s, h, gray, blur, blur_min_size, kernel, sol;
} view_recipe;

/* SimCLR (Chen et al. 2020, appendix A): jitter strength 0.5, blur on
 * ImageNet-size views only, kernel 10% of the side. */
static const view_recipe simclr = {0.08, 1, 0.5, 0.8, 0.4, 0.4, 0.4, 0.1, 0.2, 0.5, 96, 0.1, 0};
/* BYOL (Grill et al. 2020, table 6), also VICReg's: asymmetric blur and solarisation. */
static const view_recipe byol_a = {0.08, 1, 0.5, 0.8, 0.4, 0.4, 0.2, 0.1, 0.2, 1.0, 0, 0.1, 0};
static const view_recipe byol_b = {0.08, 1, 0.5, 0.8, 0.4, 0.4, 0.2, 0.1, 0.2, 0.1, 0, 0.1, 0.2};
/* MSN (Assran et al. 2022): global "random" views and local "focal" views. */
static const view_recipe msn_global = {0.3, 1, 0.5, 0.8, 0.4, 0.4, 0.4, 0.1, 0.2, 0.5, 0, 0.1, 0};
static const view_recipe msn_local = {0.05, 0.3, 0.5, 0.8, 0.4, 0.4, 0.4, 0.1, 0.2, 0.5, 0, 0.1, 0};
static const view_recipe plain = {0.08, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

static void put(sslk_augment *aug, size_t v, int key, double x) {
    aug->set[v][ssli_setting_index(&ssli_settings_augment, key)] = x;
}

static void apply_view(sslk_augment *aug, size_t v, const view_recipe *r, bool whole) {
    double size = ssli_aug_get(aug, v, SSLK_AUG_SIZE);
    put(aug, v, SSLK_AUG_CROP, whole ? SSLK_AUG_CROP_RESIZE : SSLK_AUG_CROP_RANDOM_RESIZED);
    put(aug, v, SSLK_AUG_SCALE_MIN, r->smin);
    put(aug, v, SSLK_AUG_SCALE_MAX, r->smax);
    put(aug, v, SSLK_AUG_RATIO_MIN, 3.0 / 4.0);
    put(aug, v, SSLK_AUG_RATIO_MAX, 4.0 / 3.0);
    put(aug, v, SSLK_AUG_FLIP_P, r->flip);
    put(aug, v, SSLK_AUG_JITTER_P, r->jp);
    put(aug, v, SSLK_AUG_BRIGHTNESS, r->b);
    put(aug, v, SSLK_AUG_CONTRAST, r->c);
    put(aug, v, SSLK_AUG_SATURATION, r->s);
    put(aug, v, SSLK_AUG_HUE, r->h);
    put(aug, v, SSLK_AUG_GRAY_P, r->gray);
    put(aug, v, SSLK_AUG_BLUR_P, size >= r->blur_min_size ? r->blur : 0.0);
    put(aug, v, SSLK_AUG_BLUR_SIGMA_MIN, 0.1);
    put(aug, v, SSLK_AUG_BLUR_SIGMA_MAX, 2.0);
    put(aug, v, SSLK_AUG_BLUR_KERNEL_FRACTION, r->kernel);
    put(aug, v, SSLK_AUG_SOLARIZE_P, r->sol);
    put(aug, v, SSLK_AUG_SOLARIZE_THRESHOLD, 128);
}

sslk_status sslk_augment_recipe(sslk_augment *aug, const char *name) {
    static const char *fn = "sslk_augment_recipe";
    SSLI_CHECK_PTR(aug, fn);
    SSLI_CHECK_PTR(name, fn);
    for (size_t v = 0; v < aug->nviews; v++) {
        if (strcmp(name, "simclr") == 0) apply_view(aug, v, &simclr, false);
        else if (strcmp(name, "vicreg") == 0 || strcmp(name, "byol") == 0)
            apply_view(aug, v, v % 2 ? &byol_b : &byol_a, false);
        else if (strcmp(name, "msn") == 0) apply_view(aug, v, v < 2 ? &msn_global : &msn_local, false);
        else if (strcmp(name, "plain") == 0) apply_view(aug, v, &plain, true);
        else
            return ssli_err(SSLK_E_NOT_FOUND, "%s: unknown recipe '%s' (simclr, vicreg, byol, msn, plain)", fn, name);
    }
    return SSLK_OK;
}
