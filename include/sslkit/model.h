/* libsslkit — models: a sequence of layers (with residual blocks) with
 * forward, backward, named parameters, seeded init and model files.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_MODEL_H
#define SSLKIT_MODEL_H

#include "sslkit/core.h"
#include "sslkit/param.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque model handle: an ordered sequence of layers.  A handle runs any
 *  batch size; its workspaces grow to the largest batch seen and are reused.
 *  One thread at a time per handle, for every call: forward/backward write
 *  the workspaces and even the const queries (param_count, param, clone,
 *  save, ...) may build the cached parameter-view table on first use.
 *  Optimizers holding its views and a POLICE constraint use it too. */
typedef struct sslk_model sslk_model;

/** Model settings (domain "model"). */
typedef enum sslk_model_setting {
    SSLK_MODEL_BN_MOMENTUM = 1000, /**< running-stat update weight (PyTorch convention), default 0.1 */
    SSLK_MODEL_BN_EPS = 1001       /**< batch-norm epsilon, default 1e-5 */
} sslk_model_setting;

/** Forward mode. */
typedef enum sslk_mode {
    SSLK_MODE_EVAL = 0,  /**< batch-norm uses running statistics */
    SSLK_MODE_TRAIN = 1  /**< batch-norm uses batch statistics and updates running ones */
} sslk_mode;

/** Parameter initialisation schemes. */
typedef enum sslk_init {
    SSLK_INIT_PYTORCH = 0,          /**< PyTorch defaults: weights U(-1/sqrt(fan_in), +) (kaiming_uniform a=sqrt(5)),
                                         biases U(-1/sqrt(fan_in), +), batch-norm gamma 1, beta 0;
                                         a backbone's convs as torchvision's ResNet (N(0, 2/fan_out)) */
    SSLK_INIT_KAIMING_NORMAL = 1,   /**< weights N(0, 2/fan_in), biases 0 */
    SSLK_INIT_KAIMING_NORMAL_OUT = 2 /**< weights N(0, 2/fan_out) (torchvision ResNets), biases 0 */
} sslk_init;

/* ---- building ------------------------------------------------------------ */

/** Create an empty model taking inputs of shape `shape[0..ndim)`: ndim 1 for
 *  vectors (D) or 3 for images (C, H, W).  `seed` keys the deterministic
 *  initialisation of the layers added later (PyTorch-default scheme).
 *  An empty model is the identity. */
SSLK_API sslk_status sslk_model_create(sslk_ctx *ctx, size_t ndim, const size_t *shape,
                                       uint64_t seed, sslk_model **out);
/** Destroy a model (NULL accepted). */
SSLK_API void sslk_model_destroy(sslk_model *m);

/** Append a fully connected layer with `out_features` outputs (bias when
 *  `bias` != 0).  Image-shaped inputs are flattened implicitly (C*H*W). */
SSLK_API sslk_status sslk_model_add_linear(sslk_model *m, size_t out_features, int bias);
/** Append a 2-D convolution (NCHW, square kernel `k`, `stride`, zero `padding`). */
SSLK_API sslk_status sslk_model_add_conv2d(sslk_model *m, size_t out_channels, size_t k,
                                           size_t stride, size_t padding, int bias);
/** Append batch-norm: BatchNorm1d after vector layers, BatchNorm2d after image layers. */
SSLK_API sslk_status sslk_model_add_batchnorm(sslk_model *m);
/** Append max(x, 0). */
SSLK_API sslk_status sslk_model_add_relu(sslk_model *m);
/** Append x >= 0 ? x : slope * x (slope finite, in [-1e3, 1e3]). */
SSLK_API sslk_status sslk_model_add_leaky_relu(sslk_model *m, double slope);
/** Append |x|. */
SSLK_API sslk_status sslk_model_add_abs(sslk_model *m);
/** Append 2-D max pooling (window k, stride; 0 stride means k; no padding, floor). */
SSLK_API sslk_status sslk_model_add_maxpool(sslk_model *m, size_t k, size_t stride);
/** Append 2-D average pooling (window k, stride; 0 stride means k; no padding, floor). */
SSLK_API sslk_status sslk_model_add_avgpool(sslk_model *m, size_t k, size_t stride);
/** Append global average pooling: (C, H, W) -> (C). */
SSLK_API sslk_status sslk_model_add_gap(sslk_model *m);
/** Append flatten: (C, H, W) -> (C*H*W). */
SSLK_API sslk_status sslk_model_add_flatten(sslk_model *m);

/** Open a residual block y = body(x) + shortcut(x).  Layers added next go
 *  into the body until sslk_model_residual_shortcut() or
 *  sslk_model_residual_end().  Blocks nest. */
SSLK_API sslk_status sslk_model_residual_begin(sslk_model *m);
/** Switch the innermost open block to its shortcut branch (default: identity). */
SSLK_API sslk_status sslk_model_residual_shortcut(sslk_model *m);
/** Close the innermost open block.  SSLK_E_SHAPE when body and shortcut
 *  output shapes differ.  The activation after the addition is an ordinary
 *  layer appended next. */
SSLK_API sslk_status sslk_model_residual_end(sslk_model *m);

/** Append the layers of a text spec (grammar below) to m.
 *
 *  spec  := item ("," item)*
 *  item  := "linear:" N [":nobias"]
 *         | "conv:" C ":" K ":" S ":" P [":nobias"]
 *         | "bn" | "relu" | "leaky_relu:" SLOPE | "abs"
 *         | "maxpool:" K [":" S [":" P]] | "avgpool:" K [":" S] | "gap" | "flatten"
 *         | "adaptive_avgpool:" H [":" W]
 *         | "res(" spec ["|" spec] ")"        residual block: body | shortcut
 *         | backbone                          top level only, one per model
 *  backbone := ("resnet18" | "resnet34" | "resnet50") ("-" option)*
 *  option   := "w" K          every width times K (1..16; resnet50-w2 = SimCLR's x2)
 *            | "cifar"        3x3 stride-1 stem, padding 1, no max-pool
 *            | "pad2"         with cifar: stem padding 2
 *            | "headless"     no fc: the output is the pooled feature vector
 *            | "fc" N         fc with N outputs (default 1000)
 *            | "zeroinit"     last batch-norm gamma of every block starts at 0
 *
 *  e.g. "conv:16:3:1:1,bn,relu,res(conv:16:3:1:1,bn,relu,conv:16:3:1:1,bn),relu,gap,linear:10",
 *  "resnet50-headless", "resnet18-cifar,linear:2048,bn,relu,linear:2048".
 *  A backbone is torchvision's ResNet exactly (BasicBlock for 18 / 34,
 *  Bottleneck with the stride on the 3x3 conv for 50; 7x7/2 pad-3 stem
 *  without bias, bn, relu, 3x3/2 pad-1 max-pool; 1x1 conv + bn downsample;
 *  global average pool; fc); its layers carry torchvision's module paths
 *  as names ("conv1", "layer2.0.downsample.1", "fc") and their tensors
 *  are named as in its state_dict.  Layers after a backbone are named
 *  "head.<j>" (j counted from 0 after it).  The default initialisation of
 *  a backbone is torchvision's (convs kaiming normal, fan_out; bn 1, 0; fc
 *  the PyTorch Linear default).  sslk_model_spec prints the backbone token
 *  back (canonical option order w, cifar, pad2, headless / fc, zeroinit).
 *  Whitespace around items is ignored.  Errors (SSLK_E_INVALID_ARG, or the
 *  shape error of the layer) name the offending token and its 0-based byte
 *  offset.  On error m is left unchanged. */
SSLK_API sslk_status sslk_model_add_spec(sslk_model *m, const char *spec);
/** sslk_model_create + sslk_model_add_spec. */
SSLK_API sslk_status sslk_model_from_spec(sslk_ctx *ctx, const char *spec, size_t ndim,
                                          const size_t *shape, uint64_t seed, sslk_model **out);
/** Canonical spec of m into buf (NUL-terminated; *len = length without NUL,
 *  also when cap is too small, which returns SSLK_E_RANGE; buf may be NULL when cap is 0). */
SSLK_API sslk_status sslk_model_spec(const sslk_model *m, char *buf, size_t cap, size_t *len);
/** Deep copy (layers, parameters, buffers; gradients zero) sharing m's context. */
SSLK_API sslk_status sslk_model_clone(const sslk_model *m, sslk_model **out);
/** Re-initialise every parameter with a scheme and seed (batch-norm buffers reset). */
SSLK_API sslk_status sslk_model_init_params(sslk_model *m, sslk_init scheme, uint64_t seed);

/** Set a model setting (sslk_model_setting). */
SSLK_API sslk_status sslk_model_set_f64(sslk_model *m, int key, double value);
/** Get a model setting. */
SSLK_API sslk_status sslk_model_get_f64(const sslk_model *m, int key, double *value);
#ifdef SSLK_EXPERIMENTAL
/** The other typed accessors of the same settings (one definition for every
 *  handle; an integer read of a real setting truncates toward zero).
 *  Experimental since 1.2. */
SSLK_API sslk_status sslk_model_set_i64(sslk_model *m, int key, int64_t value);
SSLK_API sslk_status sslk_model_get_i64(const sslk_model *m, int key, int64_t *value);
/** Append 2-D max pooling with `padding` (at most k / 2) on each side,
 *  padding acting as -inf (never chosen), floor output size (PyTorch's
 *  nn.MaxPool2d(k, stride, padding), ceil_mode off); 0 stride means k;
 *  ties go to the first maximum in row-major window order.  Spec token
 *  "maxpool:K:S:P".  Experimental since 1.2. */
SSLK_API sslk_status sslk_model_add_maxpool_pad(sslk_model *m, size_t k, size_t stride, size_t padding);
/** Append adaptive average pooling (C, H, W) -> (C, out_h, out_w) with
 *  PyTorch's bins: output i of n over an input of length L averages
 *  [floor(i L / n), ceil((i + 1) L / n)) (nn.AdaptiveAvgPool2d).  1 x 1
 *  equals gap with an image-shaped output.  Spec token
 *  "adaptive_avgpool:H[:W]".  Experimental since 1.2. */
SSLK_API sslk_status sslk_model_add_adaptive_avgpool(sslk_model *m, size_t out_h, size_t out_w);
#endif

/* ---- shapes ------------------------------------------------------------- */

/** Input shape: *ndim (1 or 3) and shape[0..*ndim) (shape has room for 3). */
SSLK_API sslk_status sslk_model_input_shape(const sslk_model *m, size_t *ndim, size_t shape[3]);
/** Output shape of the whole model, same convention. */
SSLK_API sslk_status sslk_model_output_shape(const sslk_model *m, size_t *ndim, size_t shape[3]);
/** Elements per sample at input and output (either pointer may be NULL). */
SSLK_API sslk_status sslk_model_io_size(const sslk_model *m, size_t *in_numel, size_t *out_numel);

/* ---- running ------------------------------------------------------------ */

/** y[n x out_numel] = model(x[n x in_numel]).  Train mode uses batch
 *  statistics (n >= 2 with batch-norm) and updates running ones.  The
 *  activations are kept for one sslk_model_backward (in either mode).
 *  SSLK_E_NONFINITE when x holds NaN/Inf. */
SSLK_API sslk_status sslk_model_forward(sslk_model *m, const float *x, size_t n, float *y,
                                        sslk_mode mode);
/** Back-propagate grad_out[n x out_numel] of the last forward: parameter
 *  gradients are ADDED to the stored ones (call zero_grad between steps);
 *  grad_in[n x in_numel] receives d loss / d x unless NULL.
 *  SSLK_E_STATE without a preceding forward. */
SSLK_API sslk_status sslk_model_backward(sslk_model *m, const float *grad_out, float *grad_in);
/** Set every parameter gradient to zero. */
SSLK_API sslk_status sslk_model_zero_grad(sslk_model *m);

/* ---- parameters ------------------------------------------------------------
 * Tensors are listed in PyTorch nn.Sequential state_dict order and naming:
 * "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
 * "1.running_var", ..., residual blocks as "<i>.body.<j>.weight" and
 * "<i>.shortcut.<j>.weight"; a backbone's as torchvision's state_dict
 * ("conv1.weight", "layer1.0.bn1.running_mean", "fc.bias") and the layers
 * after it as "head.<j>.weight".  Batch-norm running statistics are included as
 * views flagged SSLK_PARAM_FROZEN with grad NULL (optimizers skip them). */

/** Number of tensors (parameters and batch-norm buffers). */
SSLK_API sslk_status sslk_model_param_count(const sslk_model *m, size_t *count);
/** Describe tensor i (view->struct_size must be set by the caller).  The
 *  pointers stay valid for the model's lifetime. */
SSLK_API sslk_status sslk_model_param(sslk_model *m, size_t i, sslk_param_view *view);
/** Number of trainable scalars (buffers excluded). */
SSLK_API sslk_status sslk_model_num_scalars(const sslk_model *m, size_t *count);
/** Copy a named tensor out (count must equal its size).  SSLK_E_NOT_FOUND for an unknown name. */
SSLK_API sslk_status sslk_model_get_param(const sslk_model *m, const char *name, float *buf,
                                          size_t count);
/** Copy values into a named tensor (finite values, count must equal its size). */
SSLK_API sslk_status sslk_model_set_param(sslk_model *m, const char *name, const float *buf,
                                          size_t count);

/* ---- files --------------------------------------------------------------- */

/** Write the native model file (spec, input shape, settings, every tensor,
 *  CRC32) atomically. */
SSLK_API sslk_status sslk_model_save(const sslk_model *m, const char *path);
/** Read a native model file into a new model.  Every size is checked before
 *  allocation; SSLK_E_FORMAT for malformed, truncated or corrupt files. */
SSLK_API sslk_status sslk_model_load(sslk_ctx *ctx, const char *path, sslk_model **out);
/** Write every tensor as safetensors (F32; num_batches_tracked as I64) with
 *  PyTorch state_dict names, atomically. */
SSLK_API sslk_status sslk_model_save_safetensors(const sslk_model *m, const char *path);
/** Load a safetensors file into m (whose spec must match the file): every
 *  model tensor must be present with its exact shape (F32 or F64, converted);
 *  "num_batches_tracked" is optional; any other unknown name is an error.
 *  On error m is unchanged. */
SSLK_API sslk_status sslk_model_load_safetensors(sslk_model *m, const char *path);

#ifdef __cplusplus
}
#endif
#endif
