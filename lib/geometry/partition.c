/* sslk_splinecam entry and the partition's getters, statistics and local
 * complexity queries.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/struct_sizes.h"
#include "geometry/model_bind.h"
#include "geometry/partition.h"

static sslk_status copy_slice(sslk_partition *P, const sslk_slice *s) {
    P->origin = ssli_malloc(P->ctx, s->d, sizeof(double));
    P->dirs = ssli_malloc(P->ctx, 2 * s->d, sizeof(double));
    P->domain = ssli_malloc(P->ctx, s->npoly, sizeof(ssli_pt));
    if (!P->origin || !P->dirs || !P->domain) return ssli_alloc_status();
    memcpy(P->origin, s->origin, s->d * sizeof(double));
    memcpy(P->dirs, s->dirs, 2 * s->d * sizeof(double));
    memcpy(P->domain, s->poly, s->npoly * sizeof(ssli_pt));
    P->ndomain = s->npoly;
    memcpy(P->anchors, s->anchors, sizeof P->anchors);
    P->nanchors = s->nanchors;
    return SSLK_OK;
}

sslk_status ssli_splinecam_net(sslk_ctx *ctx, const ssli_cpwl *net, const sslk_slice *slice,
                               unsigned flags, sslk_partition **out) {
    sslk_partition *P = NULL;
    SSLI_TRY(ssli_splinecam_run(ctx, net, slice, flags, &P));
    sslk_status st = copy_slice(P, slice);
    if (st != SSLK_OK) {
        sslk_partition_destroy(P);
        return st;
    }
    *out = P;
    return SSLK_OK;
}

static sslk_status splinecam(sslk_ctx *ctx, sslk_model *model, const sslk_slice *slice, unsigned flags,
                             const char *fn, sslk_partition **out) {
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(model, fn);
    SSLI_CHECK_PTR(slice, fn);
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    if (flags & ~(unsigned)SSLK_SPLINECAM_MAPS)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: unknown 'flags' bits 0x%x", fn, flags);
    size_t in = ssli_shape_numel(ssli_model_in_shape(model));
    if (in != slice->d)
        return ssli_err(SSLK_E_SHAPE, "%s: slice dimension %zu differs from the model input size %zu", fn,
                        slice->d, in);
    const ssli_bind_opts o = {fn, true, NULL, 0};
    ssli_cpwl net;
    SSLI_TRY(ssli_cpwl_bind(model, &o, &net));
    sslk_status st = ssli_splinecam_net(ctx, &net, slice, flags, out);
    ssli_cpwl_free(&net);
    return st;
}

/* The 1.x call: tolerance and region cap are read from the slice. */
sslk_status sslk_splinecam(sslk_ctx *ctx, sslk_model *model, const sslk_slice *slice,
                           unsigned flags, sslk_partition **out) {
    return splinecam(ctx, model, slice, flags, "sslk_splinecam", out);
}

sslk_status sslk_splinecam_options_init(sslk_splinecam_options *opt) {
    SSLI_CHECK_PTR(opt, "sslk_splinecam_options_init");
    memset(opt, 0, sizeof *opt);
    opt->struct_size = sizeof *opt;
    opt->tol = ssli_settings_splinecam.defs[0].def;
    opt->max_regions = (uint64_t)ssli_settings_splinecam.defs[1].def;
    return SSLK_OK;
}

sslk_status sslk_splinecam_ex(sslk_ctx *ctx, sslk_model *model, const sslk_slice *slice,
                              const sslk_splinecam_options *opt, sslk_partition **out) {
    static const char *fn = "sslk_splinecam_ex";
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    SSLI_CHECK_PTR(slice, fn);
    sslk_splinecam_options o;
    sslk_splinecam_options_init(&o);
    if (opt) {
        if (opt->struct_size < sizeof o)
            return ssli_err(SSLK_E_INVALID_ARG, "%s: 'opt->struct_size' = %zu, expected >= %zu (call "
                            "sslk_splinecam_options_init)", fn, opt->struct_size, sizeof o);
        o = *opt;
    }
    /* the engine reads its settings from the slice: run on a shallow copy
     * carrying the call's options, so the caller's slice is left alone */
    sslk_slice sl = *slice;
    ssli_setting_defaults(&ssli_settings_splinecam, sl.settings);
    SSLI_TRY(ssli_setting_set(&ssli_settings_splinecam, sl.settings, SSLK_SPLINECAM_TOL, o.tol, SSLK_SETTING_F64, fn));
    SSLI_TRY(ssli_setting_set(&ssli_settings_splinecam, sl.settings, SSLK_SPLINECAM_MAX_REGIONS, (double)o.max_regions,
                              SSLK_SETTING_I64, fn));
    return splinecam(ctx, model, &sl, o.flags, fn, out);
}

void sslk_partition_destroy(sslk_partition *p) {
    if (!p) return;
    const sslk_ctx *c = p->ctx;
    ssli_free(c, p->voff);
    ssli_free(c, p->pts);
    ssli_free(c, p->codes);
    ssli_free(c, p->area);
    ssli_free(c, p->cls);
    ssli_free(c, p->maps);
    ssli_free(c, p->segs);
    ssli_free(c, p->seg_info);
    ssli_free(c, p->cell_pts);
    ssli_free(c, p->cell_off);
    ssli_free(c, p->cell_info);
    ssli_free(c, p->origin);
    ssli_free(c, p->dirs);
    ssli_free(c, p->domain);
    ssli_free(c, p);
}

#define CHECK_P(p, fn)                                                                         \
    do {                                                                                       \
        SSLI_CHECK_PTR(p, fn);                                                                 \
    } while (0)

sslk_status sslk_partition_info(const sslk_partition *p, size_t *regions, size_t *d, size_t *k,
                                size_t *code_bits) {
    CHECK_P(p, "sslk_partition_info");
    if (regions) *regions = p->n;
    if (d) *d = p->d;
    if (k) *k = p->k;
    if (code_bits) *code_bits = p->code_bits;
    return SSLK_OK;
}

sslk_status sslk_partition_vertex_offsets(const sslk_partition *p, size_t *offsets) {
    CHECK_P(p, "sslk_partition_vertex_offsets");
    SSLI_CHECK_PTR(offsets, "sslk_partition_vertex_offsets");
    memcpy(offsets, p->voff, (p->n + 1) * sizeof(size_t));
    return SSLK_OK;
}

sslk_status sslk_partition_vertices(const sslk_partition *p, double *uv) {
    CHECK_P(p, "sslk_partition_vertices");
    SSLI_CHECK_PTR(uv, "sslk_partition_vertices");
    for (size_t i = 0; i < p->voff[p->n]; i++) uv[2 * i] = p->pts[i].x, uv[2 * i + 1] = p->pts[i].y;
    return SSLK_OK;
}

sslk_status sslk_partition_region_input(const sslk_partition *p, size_t i, float *x, size_t cap,
                                        size_t *nv) {
    static const char *fn = "sslk_partition_region_input";
    CHECK_P(p, fn);
    SSLI_CHECK_PTR(nv, fn);
    if (i >= p->n) return ssli_err(SSLK_E_RANGE, "%s: region %zu >= %zu regions", fn, i, p->n);
    size_t m = p->voff[i + 1] - p->voff[i];
    *nv = m;
    if (cap < m) return ssli_err(SSLK_E_RANGE, "%s: 'cap' = %zu < %zu vertices", fn, cap, m);
    SSLI_CHECK_PTR(x, fn);
    for (size_t j = 0; j < m; j++) {
        ssli_pt q = p->pts[p->voff[i] + j];
        for (size_t t = 0; t < p->d; t++)
            x[j * p->d + t] = (float)(p->origin[t] + q.x * p->dirs[t] + q.y * p->dirs[p->d + t]);
    }
    return SSLK_OK;
}

sslk_status sslk_partition_codes(const sslk_partition *p, uint64_t *codes) {
    CHECK_P(p, "sslk_partition_codes");
    if (p->cw == 0) return SSLK_OK;
    SSLI_CHECK_PTR(codes, "sslk_partition_codes");
    memcpy(codes, p->codes, p->n * p->cw * sizeof(uint64_t));
    return SSLK_OK;
}

sslk_status sslk_partition_areas(const sslk_partition *p, double *area) {
    CHECK_P(p, "sslk_partition_areas");
    SSLI_CHECK_PTR(area, "sslk_partition_areas");
    memcpy(area, p->area, p->n * sizeof(double));
    return SSLK_OK;
}

sslk_status sslk_partition_classes(const sslk_partition *p, int32_t *cls) {
    CHECK_P(p, "sslk_partition_classes");
    SSLI_CHECK_PTR(cls, "sslk_partition_classes");
    memcpy(cls, p->cls, p->n * sizeof(int32_t));
    return SSLK_OK;
}

sslk_status sslk_partition_maps(const sslk_partition *p, double *maps) {
    CHECK_P(p, "sslk_partition_maps");
    SSLI_CHECK_PTR(maps, "sslk_partition_maps");
    if (!p->maps && p->n)
        return ssli_err(SSLK_E_STATE, "sslk_partition_maps: computed without SSLK_SPLINECAM_MAPS");
    memcpy(maps, p->maps, p->n * 3 * p->k * sizeof(double));
    return SSLK_OK;
}

static bool inside(const ssli_pt *q, size_t n, ssli_pt x, double eps) {
    for (size_t i = 0; i < n; i++) {
        size_t j = i + 1 == n ? 0 : i + 1;
        double c = (q[j].x - q[i].x) * (x.y - q[i].y) - (q[j].y - q[i].y) * (x.x - q[i].x);
        if (c < -eps * hypot(q[j].x - q[i].x, q[j].y - q[i].y)) return false;
    }
    return true;
}

sslk_status sslk_partition_locate(const sslk_partition *p, const double *uv, size_t n,
                                  int64_t *region) {
    static const char *fn = "sslk_partition_locate";
    CHECK_P(p, fn);
    if (n == 0) return SSLK_OK;
    SSLI_CHECK_PTR(uv, fn);
    SSLI_CHECK_PTR(region, fn);
    if (ssli_first_nonfinite_f64(uv, 2 * n) != SIZE_MAX) return ssli_err(SSLK_E_NONFINITE, "%s: 'uv' holds NaN/Inf", fn);
    double sx, sy;
    ssli_poly_extent(p->domain, p->ndomain, &sx, &sy);
    double eps = 1e-12 * (sx + sy);
    /* bounding boxes first: most regions are rejected by four comparisons */
    double *bb = ssli_malloc(p->ctx, 4 * (p->n ? p->n : 1), sizeof(double));
    if (!bb) return ssli_alloc_status();
    for (size_t i = 0; i < p->n; i++) {
        double *b = bb + 4 * i;
        b[0] = b[2] = INFINITY;
        b[1] = b[3] = -INFINITY;
        for (size_t v = p->voff[i]; v < p->voff[i + 1]; v++) {
            b[0] = fmin(b[0], p->pts[v].x), b[1] = fmax(b[1], p->pts[v].x);
            b[2] = fmin(b[2], p->pts[v].y), b[3] = fmax(b[3], p->pts[v].y);
        }
        b[0] -= eps, b[1] += eps, b[2] -= eps, b[3] += eps;
    }
    int nt = ssli_threads(p->ctx);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (size_t j = 0; j < n; j++) {
        ssli_pt x = {uv[2 * j], uv[2 * j + 1]};
        region[j] = -1;
        for (size_t i = 0; i < p->n; i++) {
            const double *b = bb + 4 * i;
            if (x.x < b[0] || x.x > b[1] || x.y < b[2] || x.y > b[3]) continue;
            if (inside(p->pts + p->voff[i], p->voff[i + 1] - p->voff[i], x, eps)) {
                region[j] = (int64_t)i;
                break;
            }
        }
    }
    ssli_free(p->ctx, bb);
    return SSLK_OK;
}

sslk_status sslk_partition_boundary(const sslk_partition *p, double *segs, int32_t *info,
                                    size_t cap, size_t *m) {
    static const char *fn = "sslk_partition_boundary";
    CHECK_P(p, fn);
    SSLI_CHECK_PTR(m, fn);
    *m = p->nseg;
    if (cap == 0 && !segs && !info) return SSLK_OK;
    if (cap < p->nseg) return ssli_err(SSLK_E_RANGE, "%s: 'cap' = %zu < %zu segments", fn, cap, p->nseg);
    if (segs) memcpy(segs, p->segs, 4 * p->nseg * sizeof(double));
    if (info) memcpy(info, p->seg_info, 3 * p->nseg * sizeof(int32_t));
    return SSLK_OK;
}

static double seg_len(const double *g) { return hypot(g[2] - g[0], g[3] - g[1]); }

sslk_status sslk_partition_boundary_length(const sslk_partition *p, double *length) {
    CHECK_P(p, "sslk_partition_boundary_length");
    SSLI_CHECK_PTR(length, "sslk_partition_boundary_length");
    double s = 0;
    for (size_t i = 0; i < p->nseg; i++) s += seg_len(p->segs + 4 * i);
    *length = s;
    return SSLK_OK;
}

sslk_status sslk_partition_boundary_sample(const sslk_partition *p, size_t n, uint64_t seed,
                                           float *x, double *uv) {
    static const char *fn = "sslk_partition_boundary_sample";
    CHECK_P(p, fn);
    if (n == 0) return SSLK_OK;
    SSLI_CHECK_PTR(x, fn);
    if (p->nseg == 0) return ssli_err(SSLK_E_DEGENERATE, "%s: the partition has no decision boundary", fn);
    double *cum = ssli_malloc(p->ctx, p->nseg, sizeof(double));
    if (!cum) return ssli_alloc_status();
    double s = 0;
    for (size_t i = 0; i < p->nseg; i++) cum[i] = (s += seg_len(p->segs + 4 * i));
    uint64_t key = ssli_rng_key(seed, 0xb0da, 7);
    for (size_t j = 0; j < n; j++) {
        double r = ssli_rng_uniform(key, j) * s;
        size_t lo = 0, hi = p->nseg - 1;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (cum[mid] > r) hi = mid;
            else lo = mid + 1;
        }
        const double *g = p->segs + 4 * lo;
        double l = seg_len(g), t = l > 0 ? (r - (cum[lo] - l)) / l : 0.5;
        if (t < 0) t = 0;
        if (t > 1) t = 1;
        double u = g[0] + t * (g[2] - g[0]), v = g[1] + t * (g[3] - g[1]);
        if (uv) uv[2 * j] = u, uv[2 * j + 1] = v;
        for (size_t i = 0; i < p->d; i++)
            x[j * p->d + i] = (float)(p->origin[i] + u * p->dirs[i] + v * p->dirs[p->d + i]);
    }
    ssli_free(p->ctx, cum);
    return SSLK_OK;
}

static int dcmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

sslk_status sslk_partition_stats_get(const sslk_partition *p, sslk_partition_stats *st) {
    static const char *fn = "sslk_partition_stats_get";
    CHECK_P(p, fn);
    SSLI_CHECK_PTR(st, fn);
    SSLI_TRY(ssli_struct_check(st, SSLI_V10_PARTITION_STATS, fn, "st"));
    sslk_partition_stats r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.regions = p->n;
    r.vertices = p->voff[p->n];
    double *a = ssli_malloc(p->ctx, p->n ? p->n : 1, sizeof(double));
    if (!a) return ssli_alloc_status();
    double s = 0, s2 = 0, ecc = 0;
    r.area_min = INFINITY;
    for (size_t i = 0; i < p->n; i++) {
        double v = p->area[i];
        a[i] = v;
        s += v;
        r.area_min = fmin(r.area_min, v);
        r.area_max = fmax(r.area_max, v);
        size_t nv = p->voff[i + 1] - p->voff[i];
        r.vertices_max = fmax(r.vertices_max, (double)nv);
        const ssli_pt *q = p->pts + p->voff[i];
        double dmax = 0, dmin = INFINITY;
        for (size_t x = 0; x < nv; x++)
            for (size_t y = x + 1; y < nv; y++) {
                double d = hypot(q[x].x - q[y].x, q[x].y - q[y].y);
                dmax = fmax(dmax, d);
                dmin = fmin(dmin, d);
            }
        ecc += dmax / (dmin + 1e-300);
    }
    if (p->n) {
        double m = s / (double)p->n;
        for (size_t i = 0; i < p->n; i++) s2 += (a[i] - m) * (a[i] - m);
        qsort(a, p->n, sizeof(double), dcmp);
        r.area_mean = m;
        r.area_std = sqrt(s2 / (double)p->n);
        r.area_median = p->n % 2 ? a[p->n / 2] : 0.5 * (a[p->n / 2 - 1] + a[p->n / 2]);
        r.vertices_mean = (double)r.vertices / (double)p->n;
        r.eccentricity_mean = ecc / (double)p->n;
    } else {
        r.area_min = 0;
    }
    ssli_free(p->ctx, a);
    r.area_total = s;
    sslk_partition_boundary_length(p, &r.boundary_length);
    r.boundary_segments = p->nseg;
    r.density = s > 0 ? (double)p->n / s : 0.0;
    r.seconds = p->seconds;
    ssli_struct_out(st, &r, sizeof r);
    return SSLK_OK;
}

sslk_status sslk_partition_path_complexity(const sslk_partition *p, const double *uv, size_t npts,
                                           size_t *regions, double *per_length) {
    static const char *fn = "sslk_partition_path_complexity";
    CHECK_P(p, fn);
    SSLI_CHECK_PTR(uv, fn);
    if (npts < 2) return ssli_err(SSLK_E_SHAPE, "%s: 'npts' = %zu, a path needs >= 2 points", fn, npts);
    if (ssli_first_nonfinite_f64(uv, 2 * npts) != SIZE_MAX) return ssli_err(SSLK_E_NONFINITE, "%s: 'uv' holds NaN/Inf", fn);
    double sx, sy;
    ssli_poly_extent(p->domain, p->ndomain, &sx, &sy);
    double eps = 1e-12 * (sx + sy);
    size_t count = 0;
    double len = 0;
    for (size_t j = 0; j + 1 < npts; j++) {
        ssli_pt a = {uv[2 * j], uv[2 * j + 1]}, b = {uv[2 * j + 2], uv[2 * j + 3]};
        len += ssli_poly_segment_inside(p->domain, p->ndomain, a, b);
    }
    for (size_t i = 0; i < p->n; i++) {
        const ssli_pt *q = p->pts + p->voff[i];
        size_t nv = p->voff[i + 1] - p->voff[i];
        for (size_t j = 0; j + 1 < npts; j++) {
            ssli_pt a = {uv[2 * j], uv[2 * j + 1]}, b = {uv[2 * j + 2], uv[2 * j + 3]};
            if (ssli_poly_segment_inside(q, nv, a, b) > eps) {
                count++;
                break;
            }
        }
    }
    if (regions) *regions = count;
    if (per_length) *per_length = len > 0 ? (double)count / len : 0.0;
    return SSLK_OK;
}

sslk_status sslk_partition_near_complexity(const sslk_partition *p, const double *uv, size_t n,
                                           double radius, size_t *count) {
    static const char *fn = "sslk_partition_near_complexity";
    CHECK_P(p, fn);
    if (!(radius >= 0) || !isfinite(radius))
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'radius' = %g must be finite and >= 0", fn, radius);
    if (n == 0) return SSLK_OK;
    SSLI_CHECK_PTR(uv, fn);
    SSLI_CHECK_PTR(count, fn);
    if (ssli_first_nonfinite_f64(uv, 2 * n) != SIZE_MAX) return ssli_err(SSLK_E_NONFINITE, "%s: 'uv' holds NaN/Inf", fn);
    int nt = ssli_threads(p->ctx);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t j = 0; j < n; j++) {
        ssli_pt x = {uv[2 * j], uv[2 * j + 1]};
        size_t c = 0;
        for (size_t i = 0; i < p->n; i++)
            c += ssli_poly_dist(p->pts + p->voff[i], p->voff[i + 1] - p->voff[i], x) <= radius;
        count[j] = c;
    }
    return SSLK_OK;
}
