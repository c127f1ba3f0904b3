/* libsslkit — plots a person would rather look at than read: training curves
 * and per-class accuracy bars, drawn with cairo as PNG or SVG (chosen by the
 * file name's extension) and written atomically.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_PLOT_H
#define SSLKIT_PLOT_H

#include "sslkit/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Flags of sslk_plot_curves (bit set, values frozen). */
typedef enum sslk_plot_flags {
    SSLK_PLOT_LOG_Y = 1u << 0,     /**< logarithmic y axis (non-positive points skipped) */
    SSLK_PLOT_NORMALIZE = 1u << 1  /**< divide each series by its first finite value */
} sslk_plot_flags;

/** Line plot of nseries series sharing the x values x[npoints] (NULL: 1..npoints).
 *  y is nseries x npoints row-major; non-finite points break the line.
 *  names[nseries] label the legend (may be NULL).  path must end in ".png"
 *  or ".svg" (SSLK_E_INVALID_ARG otherwise); SSLK_E_IO when it cannot be written. */
SSLK_API sslk_status sslk_plot_curves(const char *path, const char *title, const char *xlabel,
                                      const char *ylabel, const double *x, const double *y,
                                      size_t nseries, size_t npoints, const char *const *names,
                                      unsigned flags);

/** Bar chart of n values in [0, 1] (e.g. per-class accuracy), one bar per
 *  label (labels may be NULL: indices), with a dashed line at the mean of the
 *  finite values; NaN bars are drawn as "n/a".  Same path rules as above. */
SSLK_API sslk_status sslk_plot_bars(const char *path, const char *title, const char *ylabel,
                                    const double *values, const char *const *labels, size_t n);

#ifdef __cplusplus
}
#endif
#endif
