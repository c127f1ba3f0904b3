/* SplineCam: splitting one region by one nonlinear op (ReLU-like units
 * along their zero lines, max-pool windows into their argmax cells) by
 * depth-first sequential convex clipping.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <string.h>

#include "geometry/engine.h"

/* ---- piece lists -------------------------------------------------------------- */

static sslk_status pl_reset(const sslk_ctx *ctx, piece_list *l) {
    l->n = 0;
    SSLI_TRY(ssli_grow(ctx, (void **)&l->voff, &l->cap, 1, sizeof(size_t)));
    l->voff[0] = 0;
    return SSLK_OK;
}

/* Append a piece with nv vertices and the choices ch (nh) of a parent piece. */
static sslk_status pl_add(const sslk_ctx *ctx, piece_list *l, const ssli_pt *p, size_t nv,
                          const uint16_t *ch, size_t nh, size_t set_j, uint16_t set_v) {
    SSLI_TRY(ssli_grow(ctx, (void **)&l->voff, &l->cap, l->n + 2, sizeof(size_t)));
    size_t v0 = l->voff[l->n];
    SSLI_TRY(ssli_grow(ctx, (void **)&l->pts, &l->pcap, v0 + nv, sizeof(ssli_pt)));
    SSLI_TRY(ssli_grow(ctx, (void **)&l->ch, &l->ccap, (l->n + 1) * (nh ? nh : 1), sizeof(uint16_t)));
    if (nv) memcpy(l->pts + v0, p, nv * sizeof(ssli_pt)); /* l->pts may be NULL when nv = 0 */
    if (nh) {
        memcpy(l->ch + l->n * nh, ch, nh * sizeof(uint16_t));
        if (set_j < nh) l->ch[l->n * nh + set_j] = set_v;
    }
    l->voff[++l->n] = v0 + nv;
    return SSLK_OK;
}

static sslk_status tls_scratch(const sslk_ctx *ctx, tls *t, size_t nv) {
    size_t cap0 = t->tcap;
    SSLI_TRY(ssli_grow(ctx, (void **)&t->vals, &t->vcap, nv, sizeof(double)));
    SSLI_TRY(ssli_grow(ctx, (void **)&t->tmp[0], &t->tcap, nv + 2, sizeof(ssli_pt)));
    size_t c1 = cap0;
    SSLI_TRY(ssli_grow(ctx, (void **)&t->tmp[1], &c1, t->tcap, sizeof(ssli_pt)));
    return SSLK_OK;
}

/* ---- splitting one region by one nonlinear op ------------------------------- */


/* Unit h of a UNIT op: its line on the map. */
static inline void unit_line(const double *Z, size_t F, size_t h, double *a, double *b, double *c) {
    *a = Z[h];
    *b = Z[F + h];
    *c = Z[2 * F + h];
}

/* Side of a polygon that does not cross the line: 1 positive, 0 negative,
 * -1 crossing.  Band polygons go by the sign of their vertex mean. */
static int side_of(const double *v, size_t n, double tol) {
    int f = ssli_poly_classify(v, n, tol);
    if (f == SSLI_SIDE_BOTH) return -1;
    if (f == SSLI_SIDE_POS) return 1;
    if (f == SSLI_SIDE_NEG) return 0;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    return s > 0;
}

/* Is window entry j the (tolerant) maximum of the window at every vertex? */
static bool window_winner(const double *Z, size_t F, const uint32_t *wn, size_t m, size_t j,
                          const ssli_pt *p, size_t nv, double sx, double sy, double rtol) {
    size_t ej = wn[j];
    for (size_t q = 0; q < m; q++) {
        if (q == j) continue;
        size_t eq = wn[q];
        double a = Z[ej] - Z[eq], b = Z[F + ej] - Z[F + eq], c = Z[2 * F + ej] - Z[2 * F + eq];
        double tol = rtol * ((fabs(Z[ej]) + fabs(Z[eq])) * sx + (fabs(Z[F + ej]) + fabs(Z[F + eq])) * sy +
                             fabs(Z[2 * F + ej]) + fabs(Z[2 * F + eq]));
        for (size_t i = 0; i < nv; i++) {
            double v = a * p[i].x + b * p[i].y + c;
            /* ties between identical entries go to the first one */
            if (v < -tol || (q < j && v <= tol && v >= -tol && fabs(a) * sx + fabs(b) * sy + fabs(c) <= tol))
                return false;
        }
    }
    return true;
}

/* The window entry that is the maximum at every vertex (first on ties), or
 * -1 when the argmax changes inside the polygon.  Same test as
 * window_winner, with the entries' values at the vertices computed once. */
static int window_choice(const double *Z, size_t F, const uint32_t *wn, size_t m, const ssli_pt *p,
                         size_t nv, double sx, double sy, double rtol) {
    double vals[1024], sc[64];
    if (m > 64 || m * nv > 1024) {
        for (size_t j = 0; j < m; j++)
            if (window_winner(Z, F, wn, m, j, p, nv, sx, sy, rtol)) return (int)j;
        return -1;
    }
    for (size_t e = 0; e < m; e++) {
        size_t ee = wn[e];
        double a = Z[ee], b = Z[F + ee], c = Z[2 * F + ee];
        sc[e] = fabs(a) * sx + fabs(b) * sy + fabs(c);
        for (size_t i = 0; i < nv; i++) vals[e * nv + i] = a * p[i].x + b * p[i].y + c;
    }
    for (size_t j = 0; j < m; j++) {
        bool ok = true;
        for (size_t q = 0; q < m && ok; q++) {
            if (q == j) continue;
            double tol = rtol * (sc[j] + sc[q]);
            for (size_t i = 0; i < nv; i++)
                if (vals[j * nv + i] - vals[q * nv + i] < -tol) {
                    ok = false;
                    break;
                }
            if (ok && q < j) {
                /* identical entries: the first one wins */
                size_t ej = wn[j], eq = wn[q];
                double dl = fabs(Z[ej] - Z[eq]) * sx + fabs(Z[F + ej] - Z[F + eq]) * sy + fabs(Z[2 * F + ej] - Z[2 * F + eq]);
                if (dl <= tol) ok = false;
            }
        }
        if (ok) return (int)j;
    }
    return -1;
}

/* min, max and sum over the polygon's vertices of every unit's line (the
 * hottest loop: compiled for AVX2 too on x86-64, picked at load time). */
#if defined(__x86_64__)
#define SSLI_SPLIT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SSLI_SPLIT_CLONES
#endif
SSLI_SPLIT_CLONES static void unit_ranges(const double *restrict Z0, const double *restrict Z1, const double *restrict Z2, size_t U,
                        const ssli_pt *restrict poly, size_t npoly, double *restrict vmin, double *restrict vmax,
                        double *restrict vsum) {
    double x = poly[0].x, y = poly[0].y;
    for (size_t k = 0; k < U; k++) {
        double v = Z0[k] * x + Z1[k] * y + Z2[k];
        vmin[k] = v;
        vmax[k] = v;
        vsum[k] = v;
    }
    for (size_t i = 1; i < npoly; i++) {
        x = poly[i].x;
        y = poly[i].y;
        for (size_t k = 0; k < U; k++) {
            double v = Z0[k] * x + Z1[k] * y + Z2[k];
            double lo = vmin[k], hi = vmax[k];
            vmin[k] = v < lo ? v : lo;
            vmax[k] = v > hi ? v : hi;
            vsum[k] += v;
        }
    }
}

sslk_status ssli_sc_split_region(const engine *E, const ssli_cpwl_op *op, const double *Z,
                                const ssli_pt *poly, size_t npoly, tls *t, split_res *R) {
    const sslk_ctx *ctx = E->ctx;
    size_t F = op->in, U = op->out;
    double sx, sy, rtol = E->rtol;
    ssli_poly_extent(poly, npoly, &sx, &sy);
    memset(R, 0, sizeof *R);
    R->base = ssli_arena_alloc(&t->arena, U, sizeof(uint16_t));
    if (!R->base) return ssli_alloc_status();
    SSLI_TRY(tls_scratch(ctx, t, npoly + U + 8));
    size_t nh = 0;
    if (op->kind == SSLI_COP_UNIT) {
        /* all units at once: min, max and sum of each line over the vertices */
        SSLI_TRY(tls_scratch(ctx, t, 3 * U + npoly + 8));
        double *vmin = t->vals, *vmax = vmin + U, *vsum = vmax + U;
        const double *Z0 = Z, *Z1 = Z + F, *Z2 = Z + 2 * F;
        unit_ranges(Z0, Z1, Z2, U, poly, npoly, vmin, vmax, vsum);
        for (size_t k = 0; k < U; k++) {
            double tol = rtol * (fabs(Z0[k]) * sx + fabs(Z1[k]) * sy + fabs(Z2[k]));
            bool pos = vmax[k] > tol, neg = vmin[k] < -tol;
            if (pos && neg) {
                nh++;
                R->base[k] = 0xFFFF;
            } else {
                R->base[k] = (uint16_t)(pos ? 1 : neg ? 0 : vsum[k] > 0);
            }
        }
    } else {
        /* value ranges of every input over the polygon first: a window whose
         * entry j is above all others by more than the tolerance everywhere is
         * settled without the exact test */
        SSLI_TRY(tls_scratch(ctx, t, 4 * F + npoly + 8));
        double *vmin = t->vals, *vmax = vmin + F, *vsum = vmax + F, *sc = vsum + F;
        unit_ranges(Z, Z + F, Z + 2 * F, F, poly, npoly, vmin, vmax, vsum);
        for (size_t e = 0; e < F; e++) sc[e] = fabs(Z[e]) * sx + fabs(Z[F + e]) * sy + fabs(Z[2 * F + e]);
        for (size_t k = 0; k < U; k++) {
            const uint32_t *wn = op->win + k * op->m;
            size_t jb = 0;
            for (size_t e = 1; e < op->m; e++)
                if (vmin[wn[e]] > vmin[wn[jb]]) jb = e;
            bool dom = true;
            for (size_t e = 0; e < op->m && dom; e++)
                if (e != jb && !(vmin[wn[jb]] - vmax[wn[e]] > rtol * (sc[wn[jb]] + sc[wn[e]]))) dom = false;
            if (dom) {
                R->base[k] = (uint16_t)jb;
                continue;
            }
            int j = window_choice(Z, F, wn, op->m, poly, npoly, sx, sy, rtol);
            if (j < 0) {
                nh++;
                R->base[k] = 0xFFFF;
            } else {
                R->base[k] = (uint16_t)j;
            }
        }
    }
    R->nh = nh;
    R->H = ssli_arena_alloc(&t->arena, nh ? nh : 1, sizeof(uint32_t));
    if (!R->H) return ssli_alloc_status();
    for (size_t k = 0, j = 0; k < U; k++)
        if (R->base[k] == 0xFFFF) {
            R->H[j++] = (uint32_t)k;
            R->base[k] = 0;
        }

    /* Sequential clipping by the crossing units, depth-first: a piece is
     * copied only when a unit splits it.  B is the stack of pending pieces
     * (with the index of the next unit to test), A collects the leaves. */
    piece_list *A = &t->pl[0], *B = &t->pl[1];
    SSLI_TRY(pl_reset(ctx, A));
    SSLI_TRY(pl_reset(ctx, B));
    SSLI_TRY(ssli_grow(ctx, (void **)&t->jstack, &t->jcap, 1, sizeof(size_t)));
    SSLI_TRY(ssli_grow(ctx, (void **)&t->chw, &t->chwcap, nh ? nh : 1, sizeof(uint16_t)));
    memset(t->chw, 0, (nh ? nh : 1) * sizeof(uint16_t));
    SSLI_TRY(pl_add(ctx, B, poly, npoly, t->chw, nh, SIZE_MAX, 0));
    t->jstack[0] = 0;
    double dedup_eps = 8 * 2.220446049250313e-16 * (sx > sy ? sx : sy);
    while (B->n > 0) {
        /* pop into the work polygon tmp[2] and choices chw */
        size_t top = B->n - 1, nv = B->voff[top + 1] - B->voff[top], j = t->jstack[top];
        SSLI_TRY(tls_scratch(ctx, t, nv + op->m + 8));
        SSLI_TRY(ssli_grow(ctx, (void **)&t->work, &t->wcap, nv + 2, sizeof(ssli_pt)));
        ssli_pt *p = t->work;
        if (nv) memcpy(p, B->pts + B->voff[top], nv * sizeof(ssli_pt));
        if (nh) memcpy(t->chw, B->ch + top * nh, nh * sizeof(uint16_t));
        B->n--;
        bool split = false;
        for (; j < nh && !split; j++) {
            size_t h = R->H[j];
            if (op->kind == SSLI_COP_UNIT) {
                double a, b, c;
                unit_line(Z, F, h, &a, &b, &c);
                double tol = ssli_line_tol(a, b, c, sx, sy, rtol);
                ssli_poly_eval(p, nv, a, b, c, t->vals);
                int sd = side_of(t->vals, nv, tol);
                if (sd >= 0) {
                    t->chw[j] = (uint16_t)sd;
                    continue;
                }
                split = true;
                /* push the positive half first so the negative one is processed first */
                for (int side = 1; side >= -1; side -= 2) {
                    size_t m = ssli_poly_clip(p, t->vals, nv, tol, side, t->tmp[0]);
                    m = ssli_poly_dedup(t->tmp[0], m, dedup_eps);
                    if (m < 3) continue;
                    SSLI_TRY(ssli_grow(ctx, (void **)&t->jstack, &t->jcap, B->n + 1, sizeof(size_t)));
                    t->jstack[B->n] = j + 1;
                    SSLI_TRY(pl_add(ctx, B, t->tmp[0], m, t->chw, nh, j, side > 0));
                }
            } else {
                const uint32_t *wn = op->win + h * op->m;
                int w = window_choice(Z, F, wn, op->m, p, nv, sx, sy, rtol);
                if (w >= 0) {
                    t->chw[j] = (uint16_t)w;
                    continue;
                }
                split = true;
                for (size_t e = op->m; e-- > 0;) {
                    /* cell of entry e: clip by z_e - z_q >= 0 for every other q */
                    size_t cn = nv;
                    if (nv) memcpy(t->tmp[0], p, nv * sizeof(ssli_pt));
                    size_t ej = wn[e];
                    for (size_t qq = 0; qq < op->m && cn >= 3; qq++) {
                        if (qq == e) continue;
                        size_t eq = wn[qq];
                        double a = Z[ej] - Z[eq], b = Z[F + ej] - Z[F + eq], c = Z[2 * F + ej] - Z[2 * F + eq];
                        double tol = rtol * ((fabs(Z[ej]) + fabs(Z[eq])) * sx + (fabs(Z[F + ej]) + fabs(Z[F + eq])) * sy +
                                             fabs(Z[2 * F + ej]) + fabs(Z[2 * F + eq]));
                        ssli_poly_eval(t->tmp[0], cn, a, b, c, t->vals);
                        int f = ssli_poly_classify(t->vals, cn, tol);
                        if (f == 0) {
                            if (e > qq) cn = 0; /* identical entries: the first wins */
                            continue;
                        }
                        if (f == SSLI_SIDE_POS) continue;
                        if (f == SSLI_SIDE_NEG) {
                            cn = 0;
                            continue;
                        }
                        size_t m = ssli_poly_clip(t->tmp[0], t->vals, cn, tol, 1, t->tmp[1]);
                        cn = ssli_poly_dedup(t->tmp[1], m, dedup_eps);
                        ssli_pt *sw = t->tmp[0];
                        t->tmp[0] = t->tmp[1];
                        t->tmp[1] = sw;
                    }
                    if (cn < 3) continue;
                    SSLI_TRY(ssli_grow(ctx, (void **)&t->jstack, &t->jcap, B->n + 1, sizeof(size_t)));
                    t->jstack[B->n] = j + 1;
                    SSLI_TRY(pl_add(ctx, B, t->tmp[0], cn, t->chw, nh, j, (uint16_t)e));
                }
            }
        }
        if (!split) SSLI_TRY(pl_add(ctx, A, p, nv, t->chw, nh, SIZE_MAX, 0));
    }
    /* Copy the leaves into the arena. */
    R->nleaves = A->n;
    R->voff = ssli_arena_alloc(&t->arena, A->n + 1, sizeof(size_t));
    R->pts = ssli_arena_alloc(&t->arena, A->voff[A->n] ? A->voff[A->n] : 1, sizeof(ssli_pt));
    R->ch = ssli_arena_alloc(&t->arena, A->n * (nh ? nh : 1), sizeof(uint16_t));
    if (!R->voff || !R->pts || !R->ch) return ssli_alloc_status();
    memcpy(R->voff, A->voff, (A->n + 1) * sizeof(size_t));
    /* no leaves: A's arrays may never have been allocated (memcpy from NULL is undefined) */
    if (A->voff[A->n]) memcpy(R->pts, A->pts, A->voff[A->n] * sizeof(ssli_pt));
    if (nh && A->n) memcpy(R->ch, A->ch, A->n * nh * sizeof(uint16_t));
    return SSLK_OK;
}

