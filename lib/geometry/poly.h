/* Convex polygon kernels in double precision (slice coordinates).
 * Polygons are CCW vertex lists, not closed (the last vertex is not repeated).
 * Tolerances are absolute values supplied by the caller, who scales them to
 * the magnitudes involved (see ssli_line_tol).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_GEOMETRY_POLY_H
#define SSLKIT_GEOMETRY_POLY_H

#include <stddef.h>
#include <stdint.h>

typedef struct ssli_pt {
    double x, y;
} ssli_pt;

/* Signed shoelace area (positive for CCW). */
double ssli_poly_area(const ssli_pt *p, size_t n);
/* Area centroid; falls back to the vertex mean for degenerate polygons. */
ssli_pt ssli_poly_centroid(const ssli_pt *p, size_t n);
/* Largest |x| and |y| over the vertices (the scale of rounding errors). */
void ssli_poly_extent(const ssli_pt *p, size_t n, double *sx, double *sy);
/* Remove consecutive (cyclic) vertices closer than eps in max-norm; returns
 * the new count. */
size_t ssli_poly_dedup(ssli_pt *p, size_t n, double eps);

/* Rounding scale of the line a x + b y + c on a polygon with extents sx, sy. */
static inline double ssli_line_tol(double a, double b, double c, double sx, double sy, double rtol) {
    return rtol * ((a < 0 ? -a : a) * sx + (b < 0 ? -b : b) * sy + (c < 0 ? -c : c));
}

/* Line values at the vertices: v[i] = a x_i + b y_i + c. */
void ssli_poly_eval(const ssli_pt *p, size_t n, double a, double b, double c, double *v);

/* Classification of a polygon against a line from its vertex values:
 * bit 1 = some vertex > tol, bit 2 = some vertex < -tol.  0 means every
 * vertex lies in the band |v| <= tol. */
enum { SSLI_SIDE_POS = 1, SSLI_SIDE_NEG = 2, SSLI_SIDE_BOTH = 3 };
int ssli_poly_classify(const double *v, size_t n, double tol);

/* Keep the part of p with side * v >= 0 (side = +1 or -1), given the vertex
 * values v and tolerance tol: vertices within the band are kept on both
 * sides and edges crossing strictly get one intersection point, computed
 * identically for both sides so the two halves share their cut exactly.
 * out has room for n + 1 vertices; returns the count (< 3: empty). */
size_t ssli_poly_clip(const ssli_pt *p, const double *v, size_t n, double tol, int side,
                      ssli_pt *out);

/* Convex hull (Andrew's monotone chain) of n points, CCW, collinear points
 * dropped.  out has room for n + 1 points; pts is sorted in place. */
size_t ssli_convex_hull(ssli_pt *pts, size_t n, ssli_pt *out);

/* Euclidean distance from q to the convex polygon (0 inside). */
double ssli_poly_dist(const ssli_pt *p, size_t n, ssli_pt q);
/* Length of segment a-b inside the convex CCW polygon (Cyrus-Beck). */
double ssli_poly_segment_inside(const ssli_pt *p, size_t n, ssli_pt a, ssli_pt b);

#endif
