/* The standard evaluation transform (torchvision's Resize(round(size/f)) +
 * CenterCrop(size), f = 0.875 for the ImageNet protocol) expressed as one
 * crop rectangle of the source, so the antialiased crop-resize kernel
 * computes exactly the pixels of the resized image that the centre crop
 * keeps: output pixel o of an axis resized from n to m pixels samples the
 * source around (left + o + 0.5) * n / m with filter support n / m, which is
 * the kernel's (x0 + (o + 0.5) * cw / size) with x0 = left * n / m and
 * cw = size * n / m.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "data_internal.h"

/* Shorter side after the resize: round(size / fraction), at least size. */
size_t ssli_eval_resize_side(size_t size, double fraction) {
    double s = round((double)size / fraction);
    return s < (double)size ? size : (size_t)s;
}

void ssli_eval_crop(double H, double W, size_t size, double fraction, ssli_aug_plan *p) {
    double S = (double)ssli_eval_resize_side(size, fraction);
    /* torchvision: the longer side is int(S * long / short), truncated */
    double nh, nw;
    if (W <= H) {
        nw = S;
        nh = floor(S * H / W);
    } else {
        nh = S;
        nw = floor(S * W / H);
    }
    if (nh < (double)size) nh = (double)size;
    if (nw < (double)size) nw = (double)size;
    /* CenterCrop: int(round((n - size) / 2)), Python's round (ties to even) */
    double top = nearbyint((nh - (double)size) / 2.0), left = nearbyint((nw - (double)size) / 2.0);
    double sy = H / nh, sx = W / nw;
    p->cy0 = top * sy;
    p->cx0 = left * sx;
    p->ch = (double)size * sy;
    p->cw = (double)size * sx;
}
