/* libsslkit — POLICE: a model that is provably affine on a user-given convex
 * region, trained with ordinary optimizers (Balestriero & LeCun, ICASSP 2023).
 *
 * The region R is the convex hull of C vertices (C x D rows).  While a
 * constraint is attached to a model, every forward pass (train and eval)
 * runs the C vertex rows along with the caller's N rows and, at every
 * pre-activation point (the output of a linear / conv2d layer, or of the
 * batch-norm that directly follows it), shifts each unit by the minimal
 * amount that puts all vertices on the majority side of that unit:
 *
 *   npos = #{vertex values > 0}  (zero counts as non-positive)
 *   0 < npos < total:  s = +1 if 2 npos > total else -1   (ties -> -1)
 *                      delta = s * min(0, min_p s P_p); every row -= delta
 *   otherwise the unit is left alone.
 *
 * A "unit" is a feature of a vector layer and a CHANNEL of an image layer:
 * the shift is a bias, and an image layer has one bias per channel, so all
 * (vertex, position) values of a channel are put on one side (total = C x
 * H x W).  Then every unit keeps one activation state on R, so the model is
 * affine on R (induction over layers; residual blocks included).  The
 * backward pass differentiates delta through the arg-extreme vertex (the
 * side choice and the unit selection carry no gradient).  The last
 * pre-activation point is left unconstrained when no activation follows it
 * (the output layer; SSLK_POLICE_CONSTRAIN_OUTPUT changes that).
 * Supported layers: linear, conv2d, batch-norm, ReLU, leaky-ReLU, abs,
 * avg-pool, global average pool, flatten, residual blocks.  Refused
 * (SSLK_E_UNSUPPORTED): max-pool (its argmax may switch inside R), and an
 * activation applied to values that are not a pre-activation output (the
 * raw input, or a residual sum as in "res(...),relu": put a linear / conv
 * between the block and the activation).  A clone of a constrained model is
 * unconstrained.
 *
 * Regions of lower dimension are accepted (e.g. a polygon in a 2-D slice of
 * a D-dimensional input space): the guarantee holds on their convex hull.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_POLICE_H
#define SSLKIT_POLICE_H

#include "sslkit/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sslk_model sslk_model;
typedef struct sslk_slice sslk_slice;
typedef struct sslk_partition sslk_partition;

/** A POLICE constraint attached to one model.  It runs inside the model's
 *  forward and writes its tensors when frozen: use it under the model's
 *  one-thread-at-a-time rule, and destroy it before the model. */
typedef struct sslk_police sslk_police;

/** Largest dimension accepted by sslk_police_box_vertices (2^16 corners). */
#define SSLK_POLICE_BOX_MAX_DIM 16

/** POLICE settings (domain "police"). */
typedef enum sslk_police_setting {
    SSLK_POLICE_CONSTRAIN_OUTPUT = 2700 /**< 1: also shift the output layer; default 0 */
} sslk_police_setting;

/** Attach the region conv(vertices) (c x d, d = the model's input size) to
 *  model.  Vertices must be finite, c >= 2 and their affine rank >= 1
 *  (SSLK_E_DEGENERATE when they all coincide).  The model must hold only
 *  supported layers (SSLK_E_UNSUPPORTED otherwise) and have no constraint
 *  yet (SSLK_E_STATE).  Keep the model's architecture unchanged while it is
 *  attached, and destroy the constraint before the model. */
SSLK_API sslk_status sslk_police_create(sslk_model *model, const float *vertices, size_t c,
                                        size_t d, sslk_police **out);
/** Detach the constraint (if still attached) and free it (NULL accepted). */
SSLK_API void sslk_police_destroy(sslk_police *p);
/** Set a setting (sslk_police_setting). */
SSLK_API sslk_status sslk_police_set_f64(sslk_police *p, int key, double value);
/** Get a setting. */
SSLK_API sslk_status sslk_police_get_f64(const sslk_police *p, int key, double *value);
#ifdef SSLK_EXPERIMENTAL
/** The other typed accessors of the same settings (one definition for every
 *  handle; an integer read of a real setting truncates toward zero).
 *  Experimental since 1.2. */
SSLK_API sslk_status sslk_police_set_i64(sslk_police *p, int key, int64_t value);
SSLK_API sslk_status sslk_police_get_i64(const sslk_police *p, int key, int64_t *value);
#endif

/** Facts about the constraint (any pointer may be NULL): vertex count,
 *  dimension, affine rank of the vertices, number of constrained
 *  pre-activation points, and, from the last forward, the number of units
 *  that were shifted out of the units examined. */
SSLK_API sslk_status sslk_police_info(const sslk_police *p, size_t *c, size_t *d, size_t *rank,
                                      size_t *points, size_t *shifted_units, size_t *units);

/** Fold the shifts into the model's biases and detach the constraint: the
 *  model then computes the constrained function (evaluation mode) with no
 *  extra rows, and is saved as an ordinary model file with sslk_model_save.
 *  The shifts are computed in double from the running batch-norm
 *  statistics; each folded float bias is rounded toward the majority side
 *  so that, in exact arithmetic, every vertex stays on its side.
 *  SSLK_E_UNSUPPORTED when a shifted unit has no bias to fold into
 *  (linear/conv without bias and no batch-norm after it); the model is then
 *  unchanged.  SSLK_E_STATE when already frozen. */
SSLK_API sslk_status sslk_police_freeze(sslk_police *p);

/* ---- vertex helpers --------------------------------------------------------- */

/** Corners of the box [lo_i, hi_i] (lo_i < hi_i): 2^d rows of d into out
 *  (cap rows); corner j has coordinate i at hi when bit i of j is set.
 *  *c = 2^d (SSLK_E_RANGE when cap is smaller; out may be NULL with cap 0).
 *  SSLK_E_UNSUPPORTED above SSLK_POLICE_BOX_MAX_DIM (use a simplex). */
SSLK_API sslk_status sslk_police_box_vertices(const double *lo, const double *hi, size_t d,
                                              float *out, size_t cap, size_t *c);
/** Simplex {x0, x0 + r e_1, ..., x0 + r e_d}: (d + 1) x d rows into out.
 *  x0 may be NULL (origin); r finite and nonzero. */
SSLK_API sslk_status sslk_police_simplex_vertices(const float *x0, size_t d, double r,
                                                  float *out);
/** Polygon in a 2-D slice: out[i] = origin + uv[i][0] d1 + uv[i][1] d2 for
 *  n >= 3 slice points uv (n x 2); origin (d, NULL = 0) and directions
 *  (2 x d, linearly independent).  The region is the convex hull of the
 *  points (a non-convex list is replaced by its hull; interior points only
 *  cost time). */
SSLK_API sslk_status sslk_police_polygon_vertices(const float *origin, const float *directions,
                                                  size_t d, const double *uv, size_t n,
                                                  float *out);

/* ---- verification ------------------------------------------------------------ */

/** Verification report (set struct_size; fields are only appended). */
typedef struct sslk_police_report {
    size_t struct_size;
    size_t samples;          /**< random convex combinations evaluated */
    double affine_max_abs;   /**< max |f(sum l_i v_i) - sum l_i f(v_i)| over samples and outputs */
    double affine_max_rel;   /**< the same divided by max(1, max |f(v_i)|) */
    size_t rank;             /**< affine rank of the vertices */
    int slice_checked;       /**< 1 when rank == 2 and (b) below was computed */
    size_t regions_inside;   /**< (b) SplineCam regions inside conv(vertices): 1 when affine */
    size_t regions_around;   /**< SplineCam regions in the polygon scaled by 2 about its centroid */
} sslk_police_report;

/** Verify that model is affine on conv(vertices), in double precision and
 *  evaluation mode.  When a constraint is attached to model, the function
 *  checked is the constrained one (shifts recomputed in double from the
 *  constraint's vertices); otherwise the plain model (e.g. after freeze).
 *  (a) `samples` random convex combinations (Dirichlet(1) weights, seeded)
 *  compared with the combination of the vertex outputs; (b) when the
 *  vertices span a plane, the exact SplineCam region count inside their
 *  convex hull and in the hull scaled by 2 (ctx's threads).  Fails with
 *  the constraint's errors for unsupported layers. */
SSLK_API sslk_status sslk_police_verify(sslk_ctx *ctx, sslk_model *model, const float *vertices,
                                        size_t c, size_t d, size_t samples, uint64_t seed,
                                        sslk_police_report *report);
/** SplineCam partition of the model on a slice, with the constraint's
 *  shifts (double, evaluation mode) when one is attached.  Same arguments
 *  and errors as sslk_splinecam. */
SSLK_API sslk_status sslk_police_splinecam(sslk_ctx *ctx, sslk_model *model,
                                           const sslk_slice *slice, unsigned flags,
                                           sslk_partition **out);
/** Draw a partition (regions filled by class, edges, decision boundary in
 *  black), outline the convex hull of outline_uv (n x 2 slice coordinates,
 *  n >= 3, any order) in red, and optionally mark npoints data points
 *  (points_uv npoints x 2, labels npoints or NULL; both NULL when npoints is
 *  0); .png, .svg or .pdf by extension, written atomically. */
SSLK_API sslk_status sslk_police_plot(const sslk_partition *p, const double *outline_uv, size_t n,
                                      const double *points_uv, const int32_t *labels,
                                      size_t npoints, const char *path, int width, int height);

#ifdef __cplusplus
}
#endif
#endif
