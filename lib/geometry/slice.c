/* Slices: a plane of input space (origin + orthonormal frame) and a convex
 * domain polygon in its coordinates.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <string.h>

#include "geometry/partition.h"

static const ssli_setting_def splinecam_defs[] = {
    {SSLK_SPLINECAM_TOL, "tol", SSLK_SETTING_F64, 1e-15, 1e-3, 1e-10,
     "relative tolerance of side tests (scaled by |a| |x| + |b|)"},
    {SSLK_SPLINECAM_MAX_REGIONS, "max_regions", SSLK_SETTING_I64, 1, 1e9, 1e7,
     "stop with SSLK_E_OVERFLOW when the partition exceeds this many regions"},
};
const ssli_setting_table ssli_settings_splinecam = {"splinecam", splinecam_defs,
                                                    sizeof splinecam_defs / sizeof splinecam_defs[0], NULL};

static sslk_status slice_new(sslk_ctx *ctx, size_t d, sslk_slice **out) {
    sslk_slice *s = ssli_calloc(ctx, 1, sizeof *s);
    if (!s) return ssli_alloc_status();
    s->ctx = ctx;
    s->d = d;
    s->origin = ssli_calloc(ctx, d, sizeof(double));
    s->dirs = ssli_calloc(ctx, 2 * d, sizeof(double));
    if (!s->origin || !s->dirs) {
        sslk_slice_destroy(s);
        return ssli_alloc_status();
    }
    ssli_setting_defaults(&ssli_settings_splinecam, s->settings);
    *out = s;
    return SSLK_OK;
}

void sslk_slice_destroy(sslk_slice *s) {
    if (!s) return;
    ssli_free(s->ctx, s->origin);
    ssli_free(s->ctx, s->dirs);
    ssli_free(s->ctx, s->poly);
    const sslk_ctx *c = s->ctx;
    ssli_free(c, s);
}

static double dot(const double *a, const double *b, size_t d) {
    double s = 0;
    for (size_t i = 0; i < d; i++) s += a[i] * b[i];
    return s;
}

/* Gram-Schmidt v against the unit vector e (twice, for accuracy), then
 * normalise; returns the norm before normalisation. */
static double orthonormalise(double *v, const double *e, size_t d) {
    for (int pass = 0; pass < 2 && e; pass++) {
        double p = dot(v, e, d);
        for (size_t i = 0; i < d; i++) v[i] -= p * e[i];
    }
    double n = sqrt(dot(v, v, d));
    if (n > 0)
        for (size_t i = 0; i < d; i++) v[i] /= n;
    return n;
}

static sslk_status set_poly(sslk_slice *s, const ssli_pt *p, size_t n) {
    s->poly = ssli_malloc(s->ctx, n, sizeof(ssli_pt));
    if (!s->poly) return ssli_alloc_status();
    memcpy(s->poly, p, n * sizeof(ssli_pt));
    s->npoly = n;
    return SSLK_OK;
}

static void project(const sslk_slice *s, const double *x, ssli_pt *uv) {
    double u = 0, v = 0;
    for (size_t i = 0; i < s->d; i++) {
        double r = x[i] - s->origin[i];
        u += r * s->dirs[i];
        v += r * s->dirs[s->d + i];
    }
    uv->x = u;
    uv->y = v;
}

static void random_unit(sslk_ctx *ctx, uint64_t stream, double *v, size_t d) {
    uint64_t key = ssli_rng_key(sslk_ctx_get_seed(ctx), 0x511ce, stream);
    for (size_t i = 0; i < d; i++) v[i] = ssli_rng_normal(key, i);
}

sslk_status sslk_slice_from_anchors(sslk_ctx *ctx, const float *anchors, size_t n, size_t d,
                                    double pad, sslk_slice **out) {
    static const char *fn = "sslk_slice_from_anchors";
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(anchors, fn);
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    if (n < 1 || n > 3) return ssli_err(SSLK_E_SHAPE, "%s: 'n' = %zu anchors, expected 1, 2 or 3", fn, n);
    if (d < 2) return ssli_err(SSLK_E_SHAPE, "%s: 'd' = %zu, a plane needs d >= 2", fn, d);
    if (!(pad > 0) || !isfinite(pad)) return ssli_err(SSLK_E_INVALID_ARG, "%s: 'pad' = %g must be finite and > 0", fn, pad);
    SSLI_TRY(ssli_check_finite_f32(anchors, n, d, fn, "anchors"));
    sslk_slice *s;
    SSLI_TRY(slice_new(ctx, d, &s));
    double *a = ssli_malloc(ctx, 3 * d, sizeof(double));
    if (!a) {
        sslk_slice_destroy(s);
        return ssli_alloc_status();
    }
    for (size_t i = 0; i < n * d; i++) a[i] = anchors[i];
    double *o = s->origin, *e1 = s->dirs, *e2 = s->dirs + d;
    for (size_t i = 0; i < d; i++) {
        double m = 0;
        for (size_t j = 0; j < n; j++) m += a[j * d + i];
        o[i] = m / (double)n;
    }
    double scale = 0;
    for (size_t i = 0; i < n * d; i++) scale = fmax(scale, fabs(a[i]));
    sslk_status st = SSLK_OK;
    if (n == 1) {
        random_unit(ctx, 1, e1, d);
        orthonormalise(e1, NULL, d);
    } else {
        for (size_t i = 0; i < d; i++) e1[i] = a[i] - o[i];
        if (orthonormalise(e1, NULL, d) <= 1e-12 * (scale + 1e-300))
            st = ssli_err(SSLK_E_DEGENERATE, "%s: anchors 0 and 1 coincide", fn);
    }
    if (st == SSLK_OK) {
        if (n == 3) {
            for (size_t i = 0; i < d; i++) e2[i] = a[d + i] - o[i];
            double nn = sqrt(dot(e2, e2, d));
            if (orthonormalise(e2, e1, d) <= 1e-9 * (nn + 1e-300))
                st = ssli_err(SSLK_E_DEGENERATE, "%s: the three anchors are collinear", fn);
        } else {
            /* a random direction orthogonal to e1; retry on the (improbable) parallel draw */
            for (uint64_t k = 2; k < 10; k++) {
                random_unit(ctx, k, e2, d);
                if (orthonormalise(e2, e1, d) > 1e-6) break;
            }
        }
    }
    if (st == SSLK_OK) {
        double u0 = INFINITY, u1 = -INFINITY, v0 = INFINITY, v1 = -INFINITY;
        for (size_t j = 0; j < n; j++) {
            project(s, a + j * d, &s->anchors[j]);
            u0 = fmin(u0, s->anchors[j].x), u1 = fmax(u1, s->anchors[j].x);
            v0 = fmin(v0, s->anchors[j].y), v1 = fmax(v1, s->anchors[j].y);
        }
        s->nanchors = n;
        if (n == 2) {
            /* square centred on the midpoint */
            double r = fmax(fabs(u0), fabs(u1));
            u0 = v0 = -r;
            u1 = v1 = r;
        }
        ssli_pt box[4] = {{u0 - pad, v0 - pad}, {u1 + pad, v0 - pad}, {u1 + pad, v1 + pad}, {u0 - pad, v1 + pad}};
        st = set_poly(s, box, 4);
    }
    ssli_free(ctx, a);
    if (st != SSLK_OK) {
        sslk_slice_destroy(s);
        return st;
    }
    *out = s;
    return SSLK_OK;
}

sslk_status sslk_slice_from_box(sslk_ctx *ctx, const float *origin, const float *directions,
                                size_t d, const double extent[4], sslk_slice **out) {
    static const char *fn = "sslk_slice_from_box";
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(origin, fn);
    SSLI_CHECK_PTR(directions, fn);
    SSLI_CHECK_PTR(extent, fn);
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    if (d < 2) return ssli_err(SSLK_E_SHAPE, "%s: 'd' = %zu, a plane needs d >= 2", fn, d);
    SSLI_TRY(ssli_check_finite_f32(origin, 1, d, fn, "origin"));
    SSLI_TRY(ssli_check_finite_f32(directions, 2, d, fn, "directions"));
    for (int i = 0; i < 4; i++)
        if (!isfinite(extent[i])) return ssli_err(SSLK_E_NONFINITE, "%s: 'extent[%d]' is not finite", fn, i);
    if (!(extent[1] > extent[0]) || !(extent[3] > extent[2]))
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'extent' = [%g, %g] x [%g, %g] is empty", fn,
                        extent[0], extent[1], extent[2], extent[3]);
    sslk_slice *s;
    SSLI_TRY(slice_new(ctx, d, &s));
    double *e1 = s->dirs, *e2 = s->dirs + d;
    for (size_t i = 0; i < d; i++) {
        s->origin[i] = origin[i];
        e1[i] = directions[i];
        e2[i] = directions[d + i];
    }
    double n1 = sqrt(dot(e1, e1, d)), n2 = sqrt(dot(e2, e2, d));
    sslk_status st = SSLK_OK;
    if (!(n1 > 0) || !(n2 > 0)) st = ssli_err(SSLK_E_DEGENERATE, "%s: a direction is zero", fn);
    double g11 = 0, g12 = 0, g21 = 0, g22 = 0;
    if (st == SSLK_OK) {
        orthonormalise(e1, NULL, d);
        if (orthonormalise(e2, e1, d) <= 1e-9 * n2)
            st = ssli_err(SSLK_E_DEGENERATE, "%s: the two directions are parallel", fn);
    }
    if (st == SSLK_OK) {
        /* coordinates of d1, d2 in the orthonormal frame */
        for (size_t i = 0; i < d; i++) {
            g11 += directions[i] * e1[i];
            g12 += directions[i] * e2[i];
            g21 += directions[d + i] * e1[i];
            g22 += directions[d + i] * e2[i];
        }
        double st_[4][2] = {{extent[0], extent[2]}, {extent[1], extent[2]}, {extent[1], extent[3]}, {extent[0], extent[3]}};
        ssli_pt box[4];
        for (int i = 0; i < 4; i++) {
            box[i].x = st_[i][0] * g11 + st_[i][1] * g21;
            box[i].y = st_[i][0] * g12 + st_[i][1] * g22;
        }
        if (ssli_poly_area(box, 4) < 0) {
            ssli_pt t = box[1];
            box[1] = box[3];
            box[3] = t;
        }
        st = set_poly(s, box, 4);
    }
    if (st != SSLK_OK) {
        sslk_slice_destroy(s);
        return st;
    }
    *out = s;
    return SSLK_OK;
}

sslk_status sslk_slice_from_polygon(sslk_ctx *ctx, const float *points, size_t n, size_t d,
                                    sslk_slice **out) {
    static const char *fn = "sslk_slice_from_polygon";
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(points, fn);
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    if (n < 3) return ssli_err(SSLK_E_SHAPE, "%s: 'n' = %zu points, a polygon needs >= 3", fn, n);
    if (d < 2) return ssli_err(SSLK_E_SHAPE, "%s: 'd' = %zu, a plane needs d >= 2", fn, d);
    if (n > ((size_t)1 << 26)) return ssli_err(SSLK_E_OVERFLOW, "%s: 'n' = %zu points is too many", fn, n);
    SSLI_TRY(ssli_check_finite_f32(points, n, d, fn, "points"));
    sslk_slice *s;
    SSLI_TRY(slice_new(ctx, d, &s));
    double *o = s->origin, *e1 = s->dirs, *e2 = s->dirs + d;
    for (size_t i = 0; i < d; i++) {
        double m = 0;
        for (size_t j = 0; j < n; j++) m += points[j * d + i];
        o[i] = m / (double)n;
    }
    /* e1 toward the farthest point, e2 toward the point farthest from span(e1) */
    double best = -1, scale = 0;
    size_t jb = 0;
    for (size_t j = 0; j < n; j++) {
        double r = 0;
        for (size_t i = 0; i < d; i++) {
            double t = points[j * d + i] - o[i];
            r += t * t;
        }
        if (r > best) best = r, jb = j;
    }
    scale = sqrt(best);
    sslk_status st = SSLK_OK;
    for (size_t i = 0; i < d; i++) e1[i] = points[jb * d + i] - o[i];
    if (orthonormalise(e1, NULL, d) <= 1e-12 * (scale + 1e-300) || !(scale > 0))
        st = ssli_err(SSLK_E_DEGENERATE, "%s: all points coincide", fn);
    if (st == SSLK_OK) {
        best = -1;
        for (size_t j = 0; j < n; j++) {
            double p = 0, r = 0;
            for (size_t i = 0; i < d; i++) p += (points[j * d + i] - o[i]) * e1[i];
            for (size_t i = 0; i < d; i++) {
                double t = points[j * d + i] - o[i] - p * e1[i];
                r += t * t;
            }
            if (r > best) best = r, jb = j;
        }
        for (size_t i = 0; i < d; i++) e2[i] = points[jb * d + i] - o[i];
        if (sqrt(best) <= 1e-9 * scale || orthonormalise(e2, e1, d) <= 1e-9 * scale)
            st = ssli_err(SSLK_E_DEGENERATE, "%s: the points are collinear", fn);
    }
    ssli_pt *uv = NULL, *hull = NULL;
    double *x = NULL;
    if (st == SSLK_OK) {
        uv = ssli_malloc(ctx, n, sizeof(ssli_pt));
        hull = ssli_malloc(ctx, n + 1, sizeof(ssli_pt));
        x = ssli_malloc(ctx, d, sizeof(double));
        if (!uv || !hull || !x) st = ssli_alloc_status();
    }
    if (st == SSLK_OK) {
        for (size_t j = 0; j < n && st == SSLK_OK; j++) {
            for (size_t i = 0; i < d; i++) x[i] = points[j * d + i];
            project(s, x, &uv[j]);
            double r = 0;
            for (size_t i = 0; i < d; i++) {
                double t = x[i] - o[i] - uv[j].x * e1[i] - uv[j].y * e2[i];
                r += t * t;
            }
            if (sqrt(r) > 1e-6 * scale)
                st = ssli_err(SSLK_E_INVALID_ARG, "%s: point %zu lies %g off the plane of the others (scale %g)",
                              fn, j, sqrt(r), scale);
        }
    }
    if (st == SSLK_OK) {
        size_t h = ssli_convex_hull(uv, n, hull);
        if (h < 3 || !(ssli_poly_area(hull, h) > 1e-12 * scale * scale))
            st = ssli_err(SSLK_E_DEGENERATE, "%s: the points enclose no area", fn);
        else st = set_poly(s, hull, h);
    }
    ssli_free(ctx, uv);
    ssli_free(ctx, hull);
    ssli_free(ctx, x);
    if (st != SSLK_OK) {
        sslk_slice_destroy(s);
        return st;
    }
    *out = s;
    return SSLK_OK;
}

sslk_status sslk_slice_dim(const sslk_slice *s, size_t *d) {
    SSLI_CHECK_PTR(s, "sslk_slice_dim");
    SSLI_CHECK_PTR(d, "sslk_slice_dim");
    *d = s->d;
    return SSLK_OK;
}

sslk_status sslk_slice_frame(const sslk_slice *s, double *origin, double *directions) {
    SSLI_CHECK_PTR(s, "sslk_slice_frame");
    if (origin) memcpy(origin, s->origin, s->d * sizeof(double));
    if (directions) memcpy(directions, s->dirs, 2 * s->d * sizeof(double));
    return SSLK_OK;
}

sslk_status sslk_slice_polygon(const sslk_slice *s, double *uv, size_t cap, size_t *n) {
    SSLI_CHECK_PTR(s, "sslk_slice_polygon");
    SSLI_CHECK_PTR(n, "sslk_slice_polygon");
    *n = s->npoly;
    if (cap < s->npoly)
        return cap == 0 && !uv ? SSLK_OK
                               : ssli_err(SSLK_E_RANGE, "sslk_slice_polygon: 'cap' = %zu < %zu vertices", cap, s->npoly);
    SSLI_CHECK_PTR(uv, "sslk_slice_polygon");
    for (size_t i = 0; i < s->npoly; i++) uv[2 * i] = s->poly[i].x, uv[2 * i + 1] = s->poly[i].y;
    return SSLK_OK;
}

sslk_status sslk_slice_to_input(const sslk_slice *s, const double *uv, size_t n, float *x) {
    static const char *fn = "sslk_slice_to_input";
    SSLI_CHECK_PTR(s, fn);
    if (n == 0) return SSLK_OK;
    SSLI_CHECK_PTR(uv, fn);
    SSLI_CHECK_PTR(x, fn);
    if (ssli_first_nonfinite_f64(uv, 2 * n) != SIZE_MAX) return ssli_err(SSLK_E_NONFINITE, "%s: 'uv' holds NaN/Inf", fn);
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < s->d; i++)
            x[j * s->d + i] = (float)(s->origin[i] + uv[2 * j] * s->dirs[i] + uv[2 * j + 1] * s->dirs[s->d + i]);
    return SSLK_OK;
}

sslk_status sslk_slice_project(const sslk_slice *s, const float *x, size_t n, double *uv) {
    static const char *fn = "sslk_slice_project";
    SSLI_CHECK_PTR(s, fn);
    if (n == 0) return SSLK_OK;
    SSLI_CHECK_PTR(x, fn);
    SSLI_CHECK_PTR(uv, fn);
    SSLI_TRY(ssli_check_finite_f32(x, n, s->d, fn, "x"));
    for (size_t j = 0; j < n; j++) {
        double u = 0, v = 0;
        for (size_t i = 0; i < s->d; i++) {
            double r = (double)x[j * s->d + i] - s->origin[i];
            u += r * s->dirs[i];
            v += r * s->dirs[s->d + i];
        }
        uv[2 * j] = u;
        uv[2 * j + 1] = v;
    }
    return SSLK_OK;
}

/* sslk_slice_{set,get}_{f64,i64} */
SSLI_SETTINGS_TABLE_ACCESSORS(sslk_slice, sslk_slice, ssli_settings_splinecam, settings)
