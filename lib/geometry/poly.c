/* Convex polygon kernels (see poly.h).
 * SPDX-License-Identifier: BSD-3-Clause */
#include "geometry/poly.h"

#include <math.h>
#include <stdlib.h>

double ssli_poly_area(const ssli_pt *p, size_t n) {
    if (n < 3) return 0.0;
    /* Shoelace relative to the first vertex: smaller cancellation far from the origin. */
    double s = 0.0;
    for (size_t i = 1; i + 1 < n; i++) {
        double ax = p[i].x - p[0].x, ay = p[i].y - p[0].y;
        double bx = p[i + 1].x - p[0].x, by = p[i + 1].y - p[0].y;
        s += ax * by - ay * bx;
    }
    return 0.5 * s;
}

ssli_pt ssli_poly_centroid(const ssli_pt *p, size_t n) {
    ssli_pt m = {0, 0};
    if (n == 0) return m;
    for (size_t i = 0; i < n; i++) {
        m.x += p[i].x;
        m.y += p[i].y;
    }
    m.x /= (double)n;
    m.y /= (double)n;
    double a = 0, cx = 0, cy = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        double ax = p[i].x - p[0].x, ay = p[i].y - p[0].y;
        double bx = p[i + 1].x - p[0].x, by = p[i + 1].y - p[0].y;
        double t = ax * by - ay * bx;
        a += t;
        cx += t * (ax + bx);
        cy += t * (ay + by);
    }
    if (!(fabs(a) > 0)) return m;
    ssli_pt c = {p[0].x + cx / (3.0 * a), p[0].y + cy / (3.0 * a)};
    return c;
}

void ssli_poly_extent(const ssli_pt *p, size_t n, double *sx, double *sy) {
    double x = 0, y = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(p[i].x) > x) x = fabs(p[i].x);
        if (fabs(p[i].y) > y) y = fabs(p[i].y);
    }
    *sx = x;
    *sy = y;
}

size_t ssli_poly_dedup(ssli_pt *p, size_t n, double eps) {
    if (n == 0) return 0;
    size_t m = 1;
    for (size_t i = 1; i < n; i++) {
        if (fabs(p[i].x - p[m - 1].x) <= eps && fabs(p[i].y - p[m - 1].y) <= eps) continue;
        p[m++] = p[i];
    }
    while (m > 1 && fabs(p[m - 1].x - p[0].x) <= eps && fabs(p[m - 1].y - p[0].y) <= eps) m--;
    return m;
}

void ssli_poly_eval(const ssli_pt *p, size_t n, double a, double b, double c, double *v) {
    for (size_t i = 0; i < n; i++) v[i] = a * p[i].x + b * p[i].y + c;
}

int ssli_poly_classify(const double *v, size_t n, double tol) {
    int f = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] > tol) f |= SSLI_SIDE_POS;
        else if (v[i] < -tol) f |= SSLI_SIDE_NEG;
    }
    return f;
}

static inline int cls(double v, double tol) { return v > tol ? 1 : (v < -tol ? -1 : 0); }

size_t ssli_poly_clip(const ssli_pt *p, const double *v, size_t n, double tol, int side,
                      ssli_pt *out) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = i + 1 == n ? 0 : i + 1;
        int ci = cls(v[i], tol), cj = cls(v[j], tol);
        if (ci * side >= 0) out[m++] = p[i];
        if (ci * cj < 0) {
            /* Both halves walk the edges in the same order, so they compute
             * bit-identical cut points: the partition stays watertight. */
            double t = v[i] / (v[i] - v[j]);
            ssli_pt q = {p[i].x + t * (p[j].x - p[i].x), p[i].y + t * (p[j].y - p[i].y)};
            out[m++] = q;
        }
    }
    return m;
}

static int pt_cmp(const void *a, const void *b) {
    const ssli_pt *p = a, *q = b;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    if (p->y != q->y) return p->y < q->y ? -1 : 1;
    return 0;
}

static double cross3(ssli_pt o, ssli_pt a, ssli_pt b) {
    return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

size_t ssli_convex_hull(ssli_pt *pts, size_t n, ssli_pt *out) {
    if (n < 3) {
        for (size_t i = 0; i < n; i++) out[i] = pts[i];
        return n;
    }
    qsort(pts, n, sizeof *pts, pt_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        while (k >= 2 && cross3(out[k - 2], out[k - 1], pts[i]) <= 0) k--;
        out[k++] = pts[i];
    }
    for (size_t i = n - 1, t = k + 1; i-- > 0;) {
        while (k >= t && cross3(out[k - 2], out[k - 1], pts[i]) <= 0) k--;
        out[k++] = pts[i];
    }
    return k - 1;
}

static double seg_dist(ssli_pt a, ssli_pt b, ssli_pt q) {
    double dx = b.x - a.x, dy = b.y - a.y, l2 = dx * dx + dy * dy;
    double t = l2 > 0 ? ((q.x - a.x) * dx + (q.y - a.y) * dy) / l2 : 0.0;
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    return hypot(a.x + t * dx - q.x, a.y + t * dy - q.y);
}

double ssli_poly_dist(const ssli_pt *p, size_t n, ssli_pt q) {
    int inside = 1;
    double d = INFINITY;
    for (size_t i = 0; i < n; i++) {
        size_t j = i + 1 == n ? 0 : i + 1;
        if (cross3(p[i], p[j], q) < 0) inside = 0;
        double e = seg_dist(p[i], p[j], q);
        if (e < d) d = e;
    }
    return inside ? 0.0 : d;
}

double ssli_poly_segment_inside(const ssli_pt *p, size_t n, ssli_pt a, ssli_pt b) {
    double t0 = 0, t1 = 1, dx = b.x - a.x, dy = b.y - a.y;
    for (size_t i = 0; i < n; i++) {
        size_t j = i + 1 == n ? 0 : i + 1;
        /* inside: cross(p_j - p_i, x - p_i) >= 0, affine in t */
        double ex = p[j].x - p[i].x, ey = p[j].y - p[i].y;
        double f0 = ex * (a.y - p[i].y) - ey * (a.x - p[i].x);
        double fd = ex * dy - ey * dx;
        if (fd == 0) {
            if (f0 < 0) return 0.0;
            continue;
        }
        double t = -f0 / fd;
        if (fd > 0) {
            if (t > t0) t0 = t;
        } else if (t < t1) {
            t1 = t;
        }
        if (t0 >= t1) return 0.0;
    }
    return (t1 - t0) * hypot(dx, dy);
}
