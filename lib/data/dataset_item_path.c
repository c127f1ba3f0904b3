/* The file an item of a folder dataset was read from (the evaluation
 * harness writes it beside the features so that annotations keyed by file
 * name, e.g. ImageNet-X, can be joined).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "data_internal.h"

sslk_status sslk_dataset_item_path(const sslk_dataset *ds, size_t i, char *buf, size_t cap, size_t *len) {
    static const char *fn = "sslk_dataset_item_path";
    SSLI_CHECK_PTR(ds, fn);
    if (i >= ds->n) return ssli_err(SSLK_E_RANGE, "%s: 'i' = %zu, the dataset has %zu items", fn, i, ds->n);
    if (ds->rd != &ssli_reader_jpeg)
        return ssli_err(SSLK_E_UNSUPPORTED, "%s: dataset '%s' is not a folder of image files (its items have no path)",
                        fn, ds->path ? ds->path : "?");
    if (!buf && cap) return ssli_err(SSLK_E_INVALID_ARG, "%s: 'buf' is NULL with cap = %zu", fn, cap);
    char tmp[8192];
    ssli_folder_path(ds, i, tmp, sizeof tmp);
    size_t n = strlen(tmp);
    if (len) *len = n;
    if (n + 1 > cap) return ssli_err(SSLK_E_RANGE, "%s: the path needs %zu bytes, cap = %zu", fn, n + 1, cap);
    memcpy(buf, tmp, n + 1);
    return SSLK_OK;
}
