/* Decision boundary inside one region: the exact argmax boundary of an
 * affine multi-class output, or the zero level set of a scalar output.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <string.h>

#include "geometry/arena.h"
#include "geometry/partition.h"

int32_t ssli_map_class(const double *map, size_t k, ssli_pt c) {
    if (k == 1) return map[0] * c.x + map[1] * c.y + map[2] > 0;
    int32_t best = 0;
    double bv = -INFINITY;
    for (size_t j = 0; j < k; j++) {
        double v = map[j] * c.x + map[k + j] * c.y + map[2 * k + j];
        if (v > bv) {
            bv = v;
            best = (int32_t)j;
        }
    }
    return best;
}

static sslk_status add_seg(ssli_segsink *s, ssli_pt a, ssli_pt b, int32_t r, int32_t ca, int32_t cb) {
    SSLI_TRY(ssli_grow(s->ctx, (void **)&s->segs, &s->cap_s, 4 * (s->n + 1), sizeof(double)));
    SSLI_TRY(ssli_grow(s->ctx, (void **)&s->info, &s->cap_i, 3 * (s->n + 1), sizeof(int32_t)));
    double *g = s->segs + 4 * s->n;
    g[0] = a.x, g[1] = a.y, g[2] = b.x, g[3] = b.y;
    int32_t *in = s->info + 3 * s->n;
    in[0] = r, in[1] = ca, in[2] = cb;
    s->n++;
    return SSLK_OK;
}

sslk_status ssli_segsink_add_cell(ssli_segsink *s, const ssli_pt *p, size_t nv, int32_t region, int32_t cls) {
    size_t v0 = s->ncell ? s->coff[s->ncell] : 0;
    SSLI_TRY(ssli_grow(s->ctx, (void **)&s->coff, &s->cap_co, s->ncell + 2, sizeof(size_t)));
    SSLI_TRY(ssli_grow(s->ctx, (void **)&s->cpts, &s->cap_cp, v0 + nv, sizeof(ssli_pt)));
    SSLI_TRY(ssli_grow(s->ctx, (void **)&s->cinfo, &s->cap_ci, 2 * (s->ncell + 1), sizeof(int32_t)));
    s->coff[0] = 0;
    memcpy(s->cpts + v0, p, nv * sizeof(ssli_pt));
    s->coff[s->ncell + 1] = v0 + nv;
    s->cinfo[2 * s->ncell] = region;
    s->cinfo[2 * s->ncell + 1] = cls;
    s->ncell++;
    return SSLK_OK;
}

/* The chord of the line a x + b y + c = 0 through the convex polygon, when
 * the line crosses it strictly.  Returns false otherwise. */
static bool chord(const ssli_pt *p, size_t n, double a, double b, double c, double tol, ssli_pt *e0,
                  ssli_pt *e1) {
    ssli_pt q[64];
    size_t m = 0;
    int pos = 0, neg = 0;
    for (size_t i = 0; i < n; i++) {
        double v = a * p[i].x + b * p[i].y + c;
        pos |= v > tol;
        neg |= v < -tol;
    }
    if (!(pos && neg)) return false;
    for (size_t i = 0; i < n && m < 64; i++) {
        size_t j = i + 1 == n ? 0 : i + 1;
        double vi = a * p[i].x + b * p[i].y + c, vj = a * p[j].x + b * p[j].y + c;
        if (fabs(vi) <= tol) q[m++] = p[i];
        else if ((vi > tol && vj < -tol) || (vi < -tol && vj > tol)) {
            double t = vi / (vi - vj);
            ssli_pt x = {p[i].x + t * (p[j].x - p[i].x), p[i].y + t * (p[j].y - p[i].y)};
            q[m++] = x;
        }
    }
    if (m < 2) return false;
    /* the two points farthest apart */
    double best = -1;
    for (size_t i = 0; i < m; i++)
        for (size_t j = i + 1; j < m; j++) {
            double d = hypot(q[i].x - q[j].x, q[i].y - q[j].y);
            if (d > best) {
                best = d;
                *e0 = q[i];
                *e1 = q[j];
            }
        }
    return best > 0;
}

#define ZV(map, k, j, p) ((map)[j] * (p).x + (map)[(k) + (j)] * (p).y + (map)[2 * (k) + (j)])

/* Argmax cells of the candidate classes inside a region (ties: first class). */
static sslk_status region_cells(const double *map, size_t k, const ssli_pt *p, size_t nv, double rtol,
                                double sx, double sy, const uint8_t *cand, int32_t region, ssli_segsink *sink) {
    ssli_pt *a = ssli_malloc(sink->ctx, 2 * (nv + k + 2), sizeof(ssli_pt));
    double *v = ssli_malloc(sink->ctx, nv + k + 2, sizeof(double));
    sslk_status st = a && v ? SSLK_OK : ssli_alloc_status();
    ssli_pt *b = a ? a + nv + k + 2 : NULL;
    for (size_t c = 0; c < k && st == SSLK_OK; c++) {
        if (!cand[c]) continue;
        memcpy(a, p, nv * sizeof(ssli_pt));
        size_t m = nv;
        for (size_t j = 0; j < k && m >= 3; j++) {
            if (j == c || !cand[j]) continue;
            double la = map[c] - map[j], lb = map[k + c] - map[k + j], lc = map[2 * k + c] - map[2 * k + j];
            double tol = rtol * ((fabs(map[c]) + fabs(map[j])) * sx + (fabs(map[k + c]) + fabs(map[k + j])) * sy +
                                 fabs(map[2 * k + c]) + fabs(map[2 * k + j]));
            ssli_poly_eval(a, m, la, lb, lc, v);
            int f = ssli_poly_classify(v, m, tol);
            if (f == 0) {
                if (c > j) m = 0;
                continue;
            }
            if (f == SSLI_SIDE_POS) continue;
            if (f == SSLI_SIDE_NEG) {
                m = 0;
                continue;
            }
            m = ssli_poly_clip(a, v, m, tol, 1, b);
            ssli_pt *t = a;
            a = b;
            b = t;
        }
        if (m >= 3) st = ssli_segsink_add_cell(sink, a, m, region, (int32_t)c);
    }
    ssli_free(sink->ctx, a < b ? a : b);
    ssli_free(sink->ctx, v);
    return st;
}
#undef ZV
#define ZV(map, k, j, p) ((map)[j] * (p).x + (map)[(k) + (j)] * (p).y + (map)[2 * (k) + (j)])

sslk_status ssli_region_boundary(const double *map, size_t k, const ssli_pt *p, size_t nv,
                                 double rtol, int32_t region, ssli_segsink *sink) {
    double sx, sy;
    ssli_poly_extent(p, nv, &sx, &sy);
    if (k == 1) {
        ssli_pt e0, e1;
        double tol = ssli_line_tol(map[0], map[1], map[2], sx, sy, rtol);
        if (!chord(p, nv, map[0], map[1], map[2], tol, &e0, &e1)) return SSLK_OK;
        SSLI_TRY(add_seg(sink, e0, e1, region, 0, 1));
        /* the two cells: below (class 0) and above (class 1) the zero line */
        double *v = ssli_malloc(sink->ctx, nv, sizeof(double));
        ssli_pt *c = ssli_malloc(sink->ctx, nv + 1, sizeof(ssli_pt));
        sslk_status st = v && c ? SSLK_OK : ssli_alloc_status();
        if (st == SSLK_OK) ssli_poly_eval(p, nv, map[0], map[1], map[2], v);
        for (int side = -1; side <= 1 && st == SSLK_OK; side += 2) {
            size_t m = ssli_poly_clip(p, v, nv, tol, side, c);
            if (m >= 3) st = ssli_segsink_add_cell(sink, c, m, region, side > 0);
        }
        ssli_free(sink->ctx, v);
        ssli_free(sink->ctx, c);
        return st;
    }
    if (k == 0) return SSLK_OK;
    /* candidates: classes not beaten everywhere by another class */
    uint8_t cand_small[256];
    uint8_t *cand = k <= 256 ? cand_small : NULL;
    if (!cand) {
        cand = ssli_malloc(sink->ctx, k, 1);
        if (!cand) return ssli_alloc_status();
    }
    size_t ncand = 0;
    for (size_t i = 0; i < k; i++) {
        cand[i] = 1;
        for (size_t j = 0; j < k && cand[i]; j++) {
            if (j == i) continue;
            double tol = rtol * ((fabs(map[i]) + fabs(map[j])) * sx + (fabs(map[k + i]) + fabs(map[k + j])) * sy +
                                 fabs(map[2 * k + i]) + fabs(map[2 * k + j]));
            bool beaten = true;
            for (size_t v = 0; v < nv && beaten; v++)
                if (ZV(map, k, j, p[v]) - ZV(map, k, i, p[v]) <= tol) beaten = false;
            if (beaten) cand[i] = 0;
        }
        ncand += cand[i];
    }
    sslk_status st = SSLK_OK;
    size_t nseg0 = sink->n;
    if (ncand >= 2) {
        for (size_t i = 0; i < k && st == SSLK_OK; i++) {
            if (!cand[i]) continue;
            for (size_t j = i + 1; j < k && st == SSLK_OK; j++) {
                if (!cand[j]) continue;
                double a = map[i] - map[j], b = map[k + i] - map[k + j], c = map[2 * k + i] - map[2 * k + j];
                double tol = rtol * ((fabs(map[i]) + fabs(map[j])) * sx + (fabs(map[k + i]) + fabs(map[k + j])) * sy +
                                     fabs(map[2 * k + i]) + fabs(map[2 * k + j]));
                ssli_pt e0, e1;
                if (!chord(p, nv, a, b, c, tol, &e0, &e1)) continue;
                /* keep the part where i (= j) beats every other candidate */
                double t0 = 0, t1 = 1;
                for (size_t m = 0; m < k && t0 < t1; m++) {
                    if (m == i || m == j || !cand[m]) continue;
                    double g0 = ZV(map, k, i, e0) - ZV(map, k, m, e0);
                    double g1 = ZV(map, k, i, e1) - ZV(map, k, m, e1);
                    if (g0 >= 0 && g1 >= 0) continue;
                    if (g0 < 0 && g1 < 0) {
                        t1 = t0;
                        break;
                    }
                    double t = g0 / (g0 - g1);
                    if (g0 < 0) {
                        if (t > t0) t0 = t;
                    } else if (t < t1) {
                        t1 = t;
                    }
                }
                double len = (t1 - t0) * hypot(e1.x - e0.x, e1.y - e0.y);
                if (t1 > t0 && len > rtol * (sx + sy)) {
                    ssli_pt a0 = {e0.x + t0 * (e1.x - e0.x), e0.y + t0 * (e1.y - e0.y)};
                    ssli_pt a1 = {e0.x + t1 * (e1.x - e0.x), e0.y + t1 * (e1.y - e0.y)};
                    st = add_seg(sink, a0, a1, region, (int32_t)i, (int32_t)j);
                }
            }
        }
    }
    if (st == SSLK_OK && sink->n > nseg0) st = region_cells(map, k, p, nv, rtol, sx, sy, cand, region, sink);
    if (cand != cand_small) ssli_free(sink->ctx, cand);
    return st;
}
