/* ImageNet-X factor names, in the toolkit's order (imagenet_x FACTORS): the
 * order of every per-factor array of the ImageNet-X functions.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "metric_internal.h"

static const char *const factor_names[SSLK_IMAGENET_X_NUM_FACTORS] = {
    "pose",          "background",   "pattern",         "color",           "smaller", "shape",
    "partial_view",  "subcategory",  "texture",         "larger",          "darker",  "object_blocking",
    "person_blocking", "style",      "brighter",        "multiple_objects",
};

sslk_status sslk_imagenet_x_factor_name(size_t f, const char **name) {
    SSLI_CHECK_PTR(name, "sslk_imagenet_x_factor_name");
    if (f >= SSLK_IMAGENET_X_NUM_FACTORS)
        return ssli_err(SSLK_E_RANGE, "sslk_imagenet_x_factor_name: 'f' = %zu, there are %d factors", f,
                        SSLK_IMAGENET_X_NUM_FACTORS);
    *name = factor_names[f];
    return SSLK_OK;
}
