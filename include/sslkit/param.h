/* libsslkit — trainable parameters: the one interface through which models,
 * projectors and losses that own parameters (DIET head, MSN prototypes) hand
 * their tensors to an optimizer.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_PARAM_H
#define SSLKIT_PARAM_H

#include "sslkit/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Flags of a parameter tensor. */
typedef enum sslk_param_flags {
    SSLK_PARAM_NO_DECAY = 1u << 0, /**< biases, batch-norm affine: no weight decay, no LARS adaptation */
    SSLK_PARAM_FROZEN = 1u << 1    /**< optimizers skip it */
} sslk_param_flags;

#define SSLK_PARAM_MAX_DIMS 4

/** A view of one parameter tensor and its gradient (float32, row-major).
 *  The owner (model, loss) keeps data and grad valid and at a fixed address
 *  for its lifetime; the view itself is a plain description filled by the
 *  owner's `*_param()` call.  Public struct: its first field is its size, and
 *  fields are only ever appended. */
typedef struct sslk_param_view {
    size_t struct_size;                 /**< set by the caller to sizeof(sslk_param_view) */
    const char *name;                   /**< e.g. "0.weight" (PyTorch nn.Sequential naming) */
    float *data;                        /**< count values */
    float *grad;                        /**< count values, accumulated by backward passes */
    size_t count;                       /**< product of shape */
    int ndim;                           /**< 1..SSLK_PARAM_MAX_DIMS */
    size_t shape[SSLK_PARAM_MAX_DIMS];  /**< PyTorch layout, e.g. (out, in) for linear weights */
    unsigned flags;                     /**< sslk_param_flags */
} sslk_param_view;

#ifdef __cplusplus
}
#endif
#endif
