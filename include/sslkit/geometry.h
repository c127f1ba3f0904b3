/* libsslkit — geometry: SplineCam, the exact linear regions and decision
 * boundary of a model on a 2-D slice of its input space.
 *
 * A slice is the plane x = origin + u d1 + v d2 (d1, d2 orthonormal) with a
 * convex polygon domain in slice coordinates (u, v).  sslk_splinecam splits
 * the domain into the convex regions on which the model is affine, layer by
 * layer, in double precision, and returns an sslk_partition: each region's
 * vertices, activation code, area, predicted class and (on request) its
 * affine output map, plus the decision boundary as segments.
 *
 * Activation codes: one bit per ReLU / leaky-ReLU / abs unit (1 = input
 * strictly positive), then for each max-pool output the window position of
 * its argmax (row-major in the k x k window, first maximum on ties) in
 * ceil(log2(k*k)) bits; nonlinear layers in model order (residual body
 * before shortcut), bit i in word i / 64 at position i % 64.
 *
 * Regions come in a deterministic order (depth-first over the layers, each
 * region's children ordered by the units that split it), identical for any
 * thread count.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_GEOMETRY_H
#define SSLKIT_GEOMETRY_H

#include "sslkit/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sslk_model sslk_model;
/** A 2-D affine slice of input space with a convex domain.  Threads: the
 *  const queries may run concurrently; setters need exclusive use.
 *  sslk_splinecam reads the slice and the model (see model.h). */
typedef struct sslk_slice sslk_slice;
/** The linear regions and decision boundary of a model on a slice.  It holds
 *  copies (no pointer into the model or slice); every query is const and
 *  may run concurrently. */
typedef struct sslk_partition sslk_partition;

/** SplineCam settings (domain "splinecam"), set on the slice for
 *  sslk_splinecam; sslk_splinecam_ex (experimental) takes them on the call. */
typedef enum sslk_splinecam_setting {
    SSLK_SPLINECAM_TOL = 2500,        /**< relative tolerance of the side tests, default 1e-10 */
    SSLK_SPLINECAM_MAX_REGIONS = 2501 /**< stop with SSLK_E_OVERFLOW beyond this many regions, default 1e7 */
} sslk_splinecam_setting;

/** Flags of sslk_splinecam. */
typedef enum sslk_splinecam_flags {
    SSLK_SPLINECAM_MAPS = 1u << 0 /**< keep every region's affine output map */
} sslk_splinecam_flags;

/** Flags of sslk_partition_plot. */
typedef enum sslk_partition_plot_flags {
    SSLK_PARTITION_PLOT_RANDOM_COLORS = 1u << 0, /**< colour regions randomly instead of by class */
    SSLK_PARTITION_PLOT_NO_EDGES = 1u << 1,      /**< do not draw region edges */
    SSLK_PARTITION_PLOT_NO_BOUNDARY = 1u << 2,   /**< do not draw the decision boundary */
    SSLK_PARTITION_PLOT_NO_ANCHORS = 1u << 3     /**< do not mark the anchor points */
} sslk_partition_plot_flags;

/* ---- slices ---------------------------------------------------------------- */

/** Slice through n = 1, 2 or 3 anchor points (rows of anchors, n x d):
 *  1 anchor: a square [-pad, pad]^2 around it with random orthonormal
 *  directions (from the context seed); 2 anchors: origin at the midpoint, d1
 *  toward anchor 0, d2 random orthogonal, the square [-r-pad, r+pad]^2
 *  with r half their distance; 3 anchors: origin at the centroid, d1 toward
 *  anchor 0, d2 toward anchor 1 orthogonalised, the anchors' bounding box in
 *  slice coordinates grown by pad on each side.  pad > 0 (finite).
 *  SSLK_E_DEGENERATE for coincident or collinear anchors. */
SSLK_API sslk_status sslk_slice_from_anchors(sslk_ctx *ctx, const float *anchors, size_t n,
                                             size_t d, double pad, sslk_slice **out);
/** Slice origin + s d1 + t d2 for (s, t) in [extent[0], extent[1]] x
 *  [extent[2], extent[3]] (directions: 2 x d rows).  The plane's frame is
 *  orthonormalised (Gram-Schmidt); the box becomes a parallelogram in it
 *  when d1, d2 are not orthonormal.  SSLK_E_DEGENERATE for parallel directions. */
SSLK_API sslk_status sslk_slice_from_box(sslk_ctx *ctx, const float *origin,
                                         const float *directions, size_t d,
                                         const double extent[4], sslk_slice **out);
/** Slice whose domain is the convex hull of n >= 3 coplanar points (n x d).
 *  SSLK_E_DEGENERATE when they span less than a plane, SSLK_E_INVALID_ARG
 *  when they do not lie in one plane (relative residual > 1e-6). */
SSLK_API sslk_status sslk_slice_from_polygon(sslk_ctx *ctx, const float *points, size_t n,
                                             size_t d, sslk_slice **out);
/** Destroy a slice (NULL accepted). */
SSLK_API void sslk_slice_destroy(sslk_slice *s);
/** Input dimension. */
SSLK_API sslk_status sslk_slice_dim(const sslk_slice *s, size_t *d);
/** Frame: origin (d) and orthonormal directions (2 x d); either may be NULL. */
SSLK_API sslk_status sslk_slice_frame(const sslk_slice *s, double *origin, double *directions);
/** Domain polygon (CCW) in slice coordinates: up to cap vertices into uv
 *  (cap x 2, may be NULL when cap is 0); *n = vertex count (SSLK_E_RANGE when cap < *n). */
SSLK_API sslk_status sslk_slice_polygon(const sslk_slice *s, double *uv, size_t cap, size_t *n);
/** Map n slice points uv (n x 2) to input space x (n x d). */
SSLK_API sslk_status sslk_slice_to_input(const sslk_slice *s, const double *uv, size_t n,
                                         float *x);
/** Orthogonal projection of n input points x (n x d) to slice coordinates uv (n x 2). */
SSLK_API sslk_status sslk_slice_project(const sslk_slice *s, const float *x, size_t n,
                                        double *uv);
/** Set a SplineCam setting (sslk_splinecam_setting) on the slice (read by
 *  sslk_splinecam; sslk_splinecam_ex takes its options on the call). */
SSLK_API sslk_status sslk_slice_set_f64(sslk_slice *s, int key, double value);
/** Get a SplineCam setting. */
SSLK_API sslk_status sslk_slice_get_f64(const sslk_slice *s, int key, double *value);
#ifdef SSLK_EXPERIMENTAL
/** The other typed accessors of the same settings (one definition for every
 *  handle; an integer read of a real setting truncates toward zero).
 *  Experimental since 1.2. */
SSLK_API sslk_status sslk_slice_set_i64(sslk_slice *s, int key, int64_t value);
SSLK_API sslk_status sslk_slice_get_i64(const sslk_slice *s, int key, int64_t *value);
#endif

/* ---- region enumeration ------------------------------------------------------ */

/** Enumerate the linear regions of model (evaluation mode: batch-norm uses
 *  its running statistics) on the slice; flags from sslk_splinecam_flags.
 *  Layers: linear, conv2d, batch-norm, ReLU, leaky-ReLU, abs, max-pool,
 *  avg-pool, global average pool, flatten and residual blocks.  Runs on the
 *  context's threads.  SSLK_E_SHAPE when the slice dimension differs from
 *  the model's input size; SSLK_E_OVERFLOW beyond SSLK_SPLINECAM_MAX_REGIONS. */
SSLK_API sslk_status sslk_splinecam(sslk_ctx *ctx, sslk_model *model, const sslk_slice *slice,
                                    unsigned flags, sslk_partition **out);
#ifdef SSLK_EXPERIMENTAL
/* ---- SplineCam options on the call (experimental, since 1.2) ---------------
 * The enumeration's own settings belong to the call, not to the slice (a
 * geometric object): sslk_splinecam_ex takes them in an options struct and
 * ignores the slice's SSLK_SPLINECAM_* values, which sslk_splinecam keeps
 * reading for 1.x callers. */
typedef struct sslk_splinecam_options {
    size_t struct_size;   /**< sizeof(sslk_splinecam_options); set by _init */
    unsigned flags;       /**< sslk_splinecam_flags (0) */
    double tol;           /**< relative tolerance of the side tests, [1e-15, 1e-3] (1e-10) */
    uint64_t max_regions; /**< SSLK_E_OVERFLOW beyond this many regions, [1, 1e9] (1e7) */
} sslk_splinecam_options;
/** Fill opt with the defaults (and struct_size). */
SSLK_API sslk_status sslk_splinecam_options_init(sslk_splinecam_options *opt);
/** sslk_splinecam with the options of the call (opt NULL: the defaults).
 *  SSLK_E_SETTING names an option outside its bounds. */
SSLK_API sslk_status sslk_splinecam_ex(sslk_ctx *ctx, sslk_model *model, const sslk_slice *slice,
                                       const sslk_splinecam_options *opt, sslk_partition **out);
#endif /* SSLK_EXPERIMENTAL */

/** Destroy a partition (NULL accepted). */
SSLK_API void sslk_partition_destroy(sslk_partition *p);

/** Region count, input dimension, output dimension, code bits (any may be NULL). */
SSLK_API sslk_status sslk_partition_info(const sslk_partition *p, size_t *regions, size_t *d,
                                         size_t *k, size_t *code_bits);
/** Vertex offsets: offsets[0..n] (n + 1 values, offsets[n] = total vertices). */
SSLK_API sslk_status sslk_partition_vertex_offsets(const sslk_partition *p, size_t *offsets);
/** All vertices in slice coordinates, region after region, CCW (total x 2). */
SSLK_API sslk_status sslk_partition_vertices(const sslk_partition *p, double *uv);
/** Vertices of region i in input space: up to cap vertices into x (cap x d);
 *  *nv = vertex count (SSLK_E_RANGE when cap < *nv). */
SSLK_API sslk_status sslk_partition_region_input(const sslk_partition *p, size_t i, float *x,
                                                 size_t cap, size_t *nv);
/** Activation codes: n x words 64-bit words, words = ceil(code_bits / 64). */
SSLK_API sslk_status sslk_partition_codes(const sslk_partition *p, uint64_t *codes);
/** Region areas (n), in squared input units (the frame is orthonormal). */
SSLK_API sslk_status sslk_partition_areas(const sslk_partition *p, double *area);
/** Predicted class of each region at its centroid (n): the first argmax of
 *  the outputs, or (output > 0) for a scalar output. */
SSLK_API sslk_status sslk_partition_classes(const sslk_partition *p, int32_t *cls);
/** Affine output maps (n x 3 x k): rows d/du, d/dv and the value at u = v = 0,
 *  so output = A [u v]^T + b.  SSLK_E_STATE unless computed with SSLK_SPLINECAM_MAPS. */
SSLK_API sslk_status sslk_partition_maps(const sslk_partition *p, double *maps);
/** Index of the region containing each slice point uv (n x 2), -1 outside. */
SSLK_API sslk_status sslk_partition_locate(const sslk_partition *p, const double *uv, size_t n,
                                           int64_t *region);

/** Decision boundary: *m segments; segs (cap x 4: u0 v0 u1 v1) and info
 *  (cap x 3: region, class a, class b; may be NULL).  For k >= 2 outputs the
 *  segments are where the top class changes between a and b; for a scalar
 *  output the zero level set (a = 0 below, b = 1 above).  SSLK_E_RANGE when
 *  cap < *m (segs may be NULL with cap 0 to query *m). */
SSLK_API sslk_status sslk_partition_boundary(const sslk_partition *p, double *segs,
                                             int32_t *info, size_t cap, size_t *m);
/** Total decision-boundary length. */
SSLK_API sslk_status sslk_partition_boundary_length(const sslk_partition *p, double *length);
/** n points drawn uniformly (by length) on the decision boundary, seeded,
 *  in input space (x: n x d) and optionally slice coordinates (uv: n x 2 or NULL).
 *  SSLK_E_DEGENERATE when there is no boundary. */
SSLK_API sslk_status sslk_partition_boundary_sample(const sslk_partition *p, size_t n,
                                                    uint64_t seed, float *x, double *uv);

/** Summary statistics (public struct; set struct_size; fields are only appended). */
typedef struct sslk_partition_stats {
    size_t struct_size;
    size_t regions;
    size_t vertices;        /**< total vertex count */
    double vertices_mean, vertices_max;
    double area_total, area_mean, area_std, area_min, area_median, area_max;
    double boundary_length;
    size_t boundary_segments;
    double density;         /**< regions per unit area */
    double eccentricity_mean; /**< max / min vertex distance (per region), averaged */
    double seconds;         /**< enumeration wall time */
} sslk_partition_stats;
/** Fill the summary statistics. */
SSLK_API sslk_status sslk_partition_stats_get(const sslk_partition *p, sslk_partition_stats *st);
/** Local complexity along a polyline path (npts >= 2 slice points, npts x 2):
 *  *regions = number of regions the path passes through (inside length > 0),
 *  *per_length = that count divided by the path length inside the domain. */
SSLK_API sslk_status sslk_partition_path_complexity(const sslk_partition *p, const double *uv,
                                                    size_t npts, size_t *regions,
                                                    double *per_length);
/** Local complexity near points: count[i] = number of regions meeting the
 *  disc of the given radius around slice point uv[i] (n x 2). */
SSLK_API sslk_status sslk_partition_near_complexity(const sslk_partition *p, const double *uv,
                                                    size_t n, double radius, size_t *count);

/* ---- export ---------------------------------------------------------------- */

/** Write regions (vertices, area, class, code as hex) and boundary segments as
 *  JSON, atomically. */
SSLK_API sslk_status sslk_partition_write_json(const sslk_partition *p, const char *path);
/** Write CSV atomically: regions_path gets one row per vertex
 *  (region,vertex,u,v,area,class,code); boundary_path (may be NULL) one row
 *  per segment (segment,region,class_a,class_b,u0,v0,u1,v1). */
SSLK_API sslk_status sslk_partition_write_csv(const sslk_partition *p, const char *regions_path,
                                              const char *boundary_path);
/** Draw the partition (width x height pixels, format from the extension:
 *  .png, .svg or .pdf), atomically: regions filled by class (or random
 *  colours), edges, decision boundary in bold, anchors marked (sslk_partition_plot_flags). */
SSLK_API sslk_status sslk_partition_plot(const sslk_partition *p, const char *path, int width,
                                         int height, unsigned flags);

#ifdef __cplusplus
}
#endif
#endif
