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

sslk_status ssli_region_boundary(const double *map, size_t k, const ssli_pt *p, size_t nv,
                                 double rtol, int32_t region, ssli_segsink *sink) {
    double sx, sy;
    ssli_poly_extent(p, nv, &sx, &sy);
    if (k == 1) {
        ssli_pt e0, e1;
        double tol = ssli_line_tol(map[0], map[1], map[2], sx, sy, rtol);
        if (chord(p, nv, map[0], map[1], map[2], tol, &e0, &e1))
            return add_seg(sink, e0, e1, region, 0, 1);
        return SSLK_OK;
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
    if (cand != cand_small) ssli_free(sink->ctx, cand);
    return st;
}
