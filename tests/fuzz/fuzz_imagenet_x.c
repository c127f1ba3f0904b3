/* libFuzzer target: ImageNet-X annotation files (JSON lines).  The first byte
 * picks the variant (multi / top), the rest is the file; a file that loads is
 * joined with predictions for a few names it may or may not hold.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>

#include "fuzz_common.h"
#include "metric/metric_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    sslk_imagenet_x *ax = NULL;
    if (ssli_imagenet_x_parse(fuzz_ctx(), data + 1, size - 1, "fuzz", data[0] & 1, &ax) != SSLK_OK) return 0;
    const char *files[3] = {"a.JPEG", "x/ILSVRC2012_val_00000001.JPEG", "b"};
    const int32_t pred[3] = {0, 1, 2};
    size_t counts[3], nm = 0;
    double acc, fa[16], fr[16];
    int64_t fc[16];
    sslk_imagenet_x_count(ax, NULL, &nm);
    double *ma = calloc(nm * 33 + 1, sizeof(double));
    int64_t *mc = calloc(nm * 17 + 1, sizeof(int64_t));
    if (ma && mc)
        sslk_imagenet_x_evaluate(ax, files, pred, 3, counts, &acc, fa, fr, fc, ma, mc, ma + nm, ma + 17 * nm,
                                 mc + nm);
    free(ma);
    free(mc);
    sslk_imagenet_x_destroy(ax);
    return 0;
}
