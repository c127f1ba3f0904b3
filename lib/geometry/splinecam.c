/* SplineCam engine: exact linear regions of a CPWL network on a 2-D slice.
 *
 * Regions travel through the network as (convex polygon, map, residual
 * stack, code).  At each nonlinear op the units whose zero line (or, for a
 * max-pool window, whose argmax) changes inside a region split it by
 * sequential convex clipping; every leaf then gets the map of the next
 * nonlinear op's input.  When the affine chain up to that op is a single
 * dense layer, a leaf's map is its parent's base map plus rank-one updates
 * with the columns of W for the units that differ from the base choice, so
 * one GEMM per parent serves all its children.
 *
 * Traversal is depth-first over batches of regions (memory bounded by the
 * batch budget times the depth, not by the region count); inside a batch the
 * per-region and per-leaf work runs on the context's threads, each result
 * written to its own slot, so the output order and values do not depend on
 * scheduling or thread count.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <string.h>
#include <time.h>

#include "geometry/arena.h"
#include "geometry/partition.h"
#include "linalg/linalg.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define PARENTS_PER_SPLIT 64        /* parents split together (phase A) */
#define LEAF_BUDGET_DOUBLES (1u << 22) /* leaf maps per batch: 32 MiB */
#define GEMM_BLOCK 16               /* parents per base GEMM (fixed: results independent of threads) */
#define CHAIN_BLOCK 8               /* leaves per explicit chain block */

typedef struct piece_list {
    size_t n, cap, pcap, ccap;
    size_t *voff;   /* n + 1 */
    ssli_pt *pts;
    uint16_t *ch;   /* n x nh */
} piece_list;

typedef struct tls {
    ssli_arena arena;
    piece_list pl[2];
    double *vals;   /* scratch */
    size_t vcap;
    ssli_pt *tmp[2];
    size_t tcap;
    double *cb[2];  /* chain buffers */
    size_t cbcap;
    double *sb;     /* chain stack buffer */
    size_t sbcap;
} tls;

typedef struct split_res {
    size_t nleaves, nh;
    uint32_t *H;
    uint16_t *base;  /* U base choices */
    size_t *voff;
    ssli_pt *pts;
    uint16_t *ch;    /* nleaves x nh */
} split_res;

typedef struct group {
    size_t n;
    size_t *voff;
    ssli_pt *pts;
    double *maps;    /* n x 3 x F */
    double *stacks;  /* n x max_stack */
    uint64_t *codes; /* n x cw */
} group;

typedef struct engine {
    sslk_ctx *ctx;
    const ssli_cpwl *net;
    int nthreads;
    size_t *stages, nst;
    double rtol;
    size_t cw, maxst, max_regions;
    unsigned flags;
    tls *t;
    sslk_partition *P;
    ssli_segsink seg;
} engine;

static inline int tid(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static void group_free(const sslk_ctx *ctx, group *g) {
    ssli_free(ctx, g->voff);
    ssli_free(ctx, g->pts);
    ssli_free(ctx, g->maps);
    ssli_free(ctx, g->stacks);
    ssli_free(ctx, g->codes);
    memset(g, 0, sizeof *g);
}

static sslk_status group_alloc(const engine *E, group *g, size_t n, size_t nverts, size_t F) {
    memset(g, 0, sizeof *g);
    g->n = n;
    g->voff = ssli_malloc(E->ctx, n + 1, sizeof(size_t));
    g->pts = ssli_malloc(E->ctx, nverts ? nverts : 1, sizeof(ssli_pt));
    size_t mapn;
    if (ssli_mul3_overflow(n, 3, F ? F : 1, &mapn)) return ssli_err(SSLK_E_OVERFLOW, "splinecam: batch");
    g->maps = ssli_malloc(E->ctx, mapn, sizeof(double));
    g->stacks = ssli_malloc(E->ctx, n * (E->maxst ? E->maxst : 1), sizeof(double));
    g->codes = ssli_calloc(E->ctx, n * (E->cw ? E->cw : 1), sizeof(uint64_t));
    if (!g->voff || !g->pts || !g->maps || !g->stacks || !g->codes) return ssli_alloc_status();
    return SSLK_OK;
}

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
    memcpy(l->pts + v0, p, nv * sizeof(ssli_pt));
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

static inline double slope(const ssli_cpwl_op *op, uint16_t c) { return c ? op->pos : op->neg; }

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

static int window_choice(const double *Z, size_t F, const uint32_t *wn, size_t m, const ssli_pt *p,
                         size_t nv, double sx, double sy, double rtol) {
    for (size_t j = 0; j < m; j++)
        if (window_winner(Z, F, wn, m, j, p, nv, sx, sy, rtol)) return (int)j;
    return -1;
}

static sslk_status split_region(const engine *E, const ssli_cpwl_op *op, const double *Z,
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
        for (size_t k = 0; k < U; k++) {
            double a, b, c;
            unit_line(Z, F, k, &a, &b, &c);
            ssli_poly_eval(poly, npoly, a, b, c, t->vals);
            int s = side_of(t->vals, npoly, ssli_line_tol(a, b, c, sx, sy, rtol));
            if (s < 0) {
                R->base[k] = 0;
                nh++;
                R->base[k] = 0xFFFF;
            } else {
                R->base[k] = (uint16_t)s;
            }
        }
    } else {
        for (size_t k = 0; k < U; k++) {
            int j = window_choice(Z, F, op->win + k * op->m, op->m, poly, npoly, sx, sy, rtol);
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

    /* Sequential clipping by the crossing units. */
    piece_list *A = &t->pl[0], *B = &t->pl[1];
    SSLI_TRY(pl_reset(ctx, A));
    uint16_t zero_ch[1] = {0};
    (void)zero_ch;
    {
        SSLI_TRY(ssli_grow(ctx, (void **)&A->ch, &A->ccap, nh ? nh : 1, sizeof(uint16_t)));
        memset(A->ch, 0, (nh ? nh : 1) * sizeof(uint16_t));
        SSLI_TRY(ssli_grow(ctx, (void **)&A->voff, &A->cap, 2, sizeof(size_t)));
        SSLI_TRY(ssli_grow(ctx, (void **)&A->pts, &A->pcap, npoly, sizeof(ssli_pt)));
        memcpy(A->pts, poly, npoly * sizeof(ssli_pt));
        A->voff[0] = 0;
        A->voff[1] = npoly;
        A->n = 1;
    }
    double dedup_eps = 8 * 2.220446049250313e-16 * (sx > sy ? sx : sy);
    for (size_t j = 0; j < nh; j++) {
        size_t h = R->H[j];
        SSLI_TRY(pl_reset(ctx, B));
        for (size_t q = 0; q < A->n; q++) {
            const ssli_pt *p = A->pts + A->voff[q];
            size_t nv = A->voff[q + 1] - A->voff[q];
            const uint16_t *pch = A->ch + q * nh;
            SSLI_TRY(tls_scratch(ctx, t, nv + op->m + 4));
            if (op->kind == SSLI_COP_UNIT) {
                double a, b, c;
                unit_line(Z, F, h, &a, &b, &c);
                double tol = ssli_line_tol(a, b, c, sx, sy, rtol);
                ssli_poly_eval(p, nv, a, b, c, t->vals);
                int s = side_of(t->vals, nv, tol);
                if (s >= 0) {
                    SSLI_TRY(pl_add(ctx, B, p, nv, pch, nh, j, (uint16_t)s));
                    continue;
                }
                for (int side = -1; side <= 1; side += 2) {
                    size_t m = ssli_poly_clip(p, t->vals, nv, tol, side, t->tmp[0]);
                    m = ssli_poly_dedup(t->tmp[0], m, dedup_eps);
                    if (m >= 3) SSLI_TRY(pl_add(ctx, B, t->tmp[0], m, pch, nh, j, side > 0));
                }
            } else {
                const uint32_t *wn = op->win + h * op->m;
                int w = window_choice(Z, F, wn, op->m, p, nv, sx, sy, rtol);
                if (w >= 0) {
                    SSLI_TRY(pl_add(ctx, B, p, nv, pch, nh, j, (uint16_t)w));
                    continue;
                }
                for (size_t e = 0; e < op->m; e++) {
                    /* cell of entry e: clip by z_e - z_q >= 0 for every other q */
                    size_t cn = nv;
                    memcpy(t->tmp[0], p, nv * sizeof(ssli_pt));
                    size_t ej = wn[e];
                    for (size_t qq = 0; qq < op->m && cn >= 3; qq++) {
                        if (qq == e) continue;
                        size_t eq = wn[qq];
                        double a = Z[ej] - Z[eq], b = Z[F + ej] - Z[F + eq],
                               c = Z[2 * F + ej] - Z[2 * F + eq];
                        double tol = rtol * ((fabs(Z[ej]) + fabs(Z[eq])) * sx +
                                             (fabs(Z[F + ej]) + fabs(Z[F + eq])) * sy +
                                             fabs(Z[2 * F + ej]) + fabs(Z[2 * F + eq]));
                        SSLI_TRY(tls_scratch(ctx, t, cn + 2));
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
                    if (cn >= 3) SSLI_TRY(pl_add(ctx, B, t->tmp[0], cn, pch, nh, j, (uint16_t)e));
                }
            }
        }
        piece_list sw = *A;
        *A = *B;
        *B = sw;
    }
    /* Copy the leaves into the arena. */
    R->nleaves = A->n;
    R->voff = ssli_arena_alloc(&t->arena, A->n + 1, sizeof(size_t));
    R->pts = ssli_arena_alloc(&t->arena, A->voff[A->n] ? A->voff[A->n] : 1, sizeof(ssli_pt));
    R->ch = ssli_arena_alloc(&t->arena, A->n * (nh ? nh : 1), sizeof(uint16_t));
    if (!R->voff || !R->pts || !R->ch) return ssli_alloc_status();
    memcpy(R->voff, A->voff, (A->n + 1) * sizeof(size_t));
    memcpy(R->pts, A->pts, A->voff[A->n] * sizeof(ssli_pt));
    if (nh) memcpy(R->ch, A->ch, A->n * nh * sizeof(uint16_t));
    return SSLK_OK;
}

/* ---- maps of the nonlinearity output ---------------------------------------- */

/* y (3 x U) = op applied to Z (3 x F) with choices ch (U). */
static void apply_choice(const ssli_cpwl_op *op, const double *Z, const uint16_t *ch, double *y) {
    size_t F = op->in, U = op->out;
    if (op->kind == SSLI_COP_UNIT) {
        for (size_t r = 0; r < 3; r++)
            for (size_t k = 0; k < U; k++) y[r * U + k] = slope(op, ch[k]) * Z[r * F + k];
    } else {
        for (size_t k = 0; k < U; k++) {
            size_t e = op->win[k * op->m + ch[k]];
            for (size_t r = 0; r < 3; r++) y[r * U + k] = Z[r * F + e];
        }
    }
}

/* d (3) = change of output unit h's map when its choice goes from b to c. */
static void choice_delta(const ssli_cpwl_op *op, const double *Z, size_t h, uint16_t b, uint16_t c,
                         double d[3]) {
    size_t F = op->in;
    if (op->kind == SSLI_COP_UNIT) {
        double s = slope(op, c) - slope(op, b);
        for (int r = 0; r < 3; r++) d[r] = s * Z[r * F + h];
    } else {
        size_t ec = op->win[h * op->m + c], eb = op->win[h * op->m + b];
        for (int r = 0; r < 3; r++) d[r] = Z[r * F + ec] - Z[r * F + eb];
    }
}

/* Run ops [o0, o1) on nmaps maps (3 x op[o0].in each) with stacks (maxst
 * each), in place through the thread's chain buffers; result maps go to out. */
static sslk_status run_chain(const engine *E, tls *t, size_t o0, size_t o1, const double *in,
                             size_t nmaps, double *stacks, double *out) {
    const ssli_cpwl *net = E->net;
    size_t D = net->max_dim;
    size_t need = nmaps * 3 * D;
    size_t c0 = t->cbcap;
    SSLI_TRY(ssli_grow(E->ctx, (void **)&t->cb[0], &t->cbcap, need, sizeof(double)));
    SSLI_TRY(ssli_grow(E->ctx, (void **)&t->cb[1], &c0, t->cbcap, sizeof(double)));
    size_t F = o0 < net->nops ? net->ops[o0].in : net->out;
    if (o0 >= o1) {
        memcpy(out, in, nmaps * 3 * F * sizeof(double));
        return SSLK_OK;
    }
    double *cur = t->cb[0], *nxt = t->cb[1];
    memcpy(cur, in, nmaps * 3 * F * sizeof(double));
    size_t ST = E->maxst;
    for (size_t o = o0; o < o1; o++) {
        const ssli_cpwl_op *op = &net->ops[o];
        size_t sp = op->stack_before;
        switch (op->kind) {
        case SSLI_COP_PUSH:
            for (size_t i = 0; i < nmaps; i++)
                memcpy(stacks + i * ST + sp, cur + i * 3 * op->in, 3 * op->in * sizeof(double));
            break;
        case SSLI_COP_SWAP: {
            size_t td = op->top_dim;
            for (size_t i = 0; i < nmaps; i++) {
                double *st = stacks + i * ST + sp - 3 * td;
                memcpy(nxt + i * 3 * td, st, 3 * td * sizeof(double));
                memcpy(st, cur + i * 3 * op->in, 3 * op->in * sizeof(double));
            }
            double *sw = cur;
            cur = nxt;
            nxt = sw;
            break;
        }
        case SSLI_COP_ADD:
            for (size_t i = 0; i < nmaps; i++) {
                const double *st = stacks + i * ST + sp - 3 * op->in;
                double *c = cur + i * 3 * op->in;
                for (size_t f = 0; f < 3 * op->in; f++) c[f] += st[f];
            }
            break;
        default: {
            SSLI_TRY(ssli_cpwl_apply_affine(net, op, cur, nmaps, nxt));
            double *sw = cur;
            cur = nxt;
            nxt = sw;
        }
        }
        F = op->out;
    }
    memcpy(out, cur, nmaps * 3 * F * sizeof(double));
    return SSLK_OK;
}

/* ---- output ------------------------------------------------------------------- */

static sslk_status emit(engine *E, const group *G) {
    sslk_partition *P = E->P;
    const sslk_ctx *ctx = E->ctx;
    size_t K = E->net->out;
    size_t n0 = P->n, n1 = n0 + G->n;
    if (n1 > E->max_regions)
        return ssli_err(SSLK_E_OVERFLOW, "sslk_splinecam: more than %zu regions (setting max_regions)",
                        E->max_regions);
    size_t nv = G->voff[G->n];
    size_t *c = P->caps;
    SSLI_TRY(ssli_grow(ctx, (void **)&P->voff, &c[0], n1 + 1, sizeof(size_t)));
    SSLI_TRY(ssli_grow(ctx, (void **)&P->pts, &c[1], P->voff[n0] + nv, sizeof(ssli_pt)));
    SSLI_TRY(ssli_grow(ctx, (void **)&P->codes, &c[2], n1 * (E->cw ? E->cw : 1), sizeof(uint64_t)));
    SSLI_TRY(ssli_grow(ctx, (void **)&P->area, &c[3], n1, sizeof(double)));
    SSLI_TRY(ssli_grow(ctx, (void **)&P->cls, &c[4], n1, sizeof(int32_t)));
    if (E->flags & SSLK_SPLINECAM_MAPS)
        SSLI_TRY(ssli_grow(ctx, (void **)&P->maps, &c[5], n1 * 3 * K, sizeof(double)));
    size_t vb = P->voff[n0];
    memcpy(P->pts + vb, G->pts, nv * sizeof(ssli_pt));
    if (E->cw) memcpy(P->codes + n0 * E->cw, G->codes, G->n * E->cw * sizeof(uint64_t));
    for (size_t i = 0; i < G->n; i++) {
        const ssli_pt *p = G->pts + G->voff[i];
        size_t m = G->voff[i + 1] - G->voff[i];
        const double *map = G->maps + i * 3 * K;
        P->voff[n0 + i + 1] = vb + G->voff[i + 1];
        P->area[n0 + i] = ssli_poly_area(p, m);
        P->cls[n0 + i] = ssli_map_class(map, K, ssli_poly_centroid(p, m));
        if (P->maps) memcpy(P->maps + (n0 + i) * 3 * K, map, 3 * K * sizeof(double));
        SSLI_TRY(ssli_region_boundary(map, K, p, m, E->rtol, (int32_t)(n0 + i), &E->seg));
    }
    P->n = n1;
    return SSLK_OK;
}

/* ---- one stage over a group ------------------------------------------------------ */

static sslk_status run_stage(engine *E, size_t s, const group *G);

static sslk_status run_batch(engine *E, size_t s, const group *G, size_t p0, size_t p1,
                             const split_res *R) {
    const ssli_cpwl *net = E->net;
    size_t o = E->stages[s];
    const ssli_cpwl_op *op = &net->ops[o];
    size_t next = s + 1 < E->nst ? E->stages[s + 1] : net->nops;
    size_t Fz = op->in, Fy = op->out;
    size_t Fn = next < net->nops ? net->ops[next].in : net->out;
    bool fast = next == o + 2 && net->ops[o + 1].kind == SSLI_COP_DENSE;
    size_t np = p1 - p0, ST = E->maxst, cw = E->cw;
    sslk_status st = SSLK_OK;

    /* leaf offsets */
    size_t *loff = ssli_malloc(E->ctx, np + 1, sizeof(size_t));
    if (!loff) return ssli_alloc_status();
    loff[0] = 0;
    size_t nverts = 0;
    for (size_t i = 0; i < np; i++) {
        loff[i + 1] = loff[i] + R[i].nleaves;
        nverts += R[i].voff[R[i].nleaves];
    }
    size_t nl = loff[np];
    group L;
    double *Y0 = NULL, *Base = NULL, *Yl = NULL;
    uint64_t *pcode = NULL;
    st = group_alloc(E, &L, nl, nverts, Fn);
    if (st == SSLK_OK) {
        Y0 = ssli_malloc(E->ctx, np * 3 * Fy, sizeof(double));
        pcode = ssli_calloc(E->ctx, np * (cw ? cw : 1), sizeof(uint64_t));
        if (fast) Base = ssli_malloc(E->ctx, np * 3 * Fn, sizeof(double));
        else Yl = ssli_malloc(E->ctx, nl * 3 * Fy, sizeof(double));
        if (!Y0 || !pcode || (fast && !Base) || (!fast && !Yl)) st = ssli_alloc_status();
    }
    if (st != SSLK_OK) goto done;

    /* polygons of the leaves */
    L.voff[0] = 0;
    for (size_t i = 0, l = 0; i < np; i++)
        for (size_t q = 0; q < R[i].nleaves; q++, l++)
            L.voff[l + 1] = L.voff[l] + (R[i].voff[q + 1] - R[i].voff[q]);

    int nt = E->nthreads;
    /* parents: base outputs y0, base codes */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
    for (size_t i = 0; i < np; i++) {
        const double *Z = G->maps + (p0 + i) * 3 * Fz;
        apply_choice(op, Z, R[i].base, Y0 + i * 3 * Fy);
        uint64_t *pc = pcode + i * cw;
        if (cw) memcpy(pc, G->codes + (p0 + i) * cw, cw * sizeof(uint64_t));
        for (size_t k = 0; k < Fy; k++) ssli_code_set(pc, op->code_off + k * op->code_bits, op->code_bits, R[i].base[k]);
    }
    if (fast) {
        const ssli_cpwl_op *d = &net->ops[o + 1];
        size_t nb = (np + GEMM_BLOCK - 1) / GEMM_BLOCK;
        sslk_status bst = SSLK_OK;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (size_t b = 0; b < nb; b++) {
            size_t i0 = b * GEMM_BLOCK, i1 = i0 + GEMM_BLOCK < np ? i0 + GEMM_BLOCK : np;
            sslk_status s2 = ssli_cpwl_apply_affine(net, d, Y0 + i0 * 3 * Fy, i1 - i0, Base + i0 * 3 * Fn);
            if (s2 != SSLK_OK) {
#pragma omp critical(sslk_splinecam_err)
                bst = s2;
            }
        }
        if (bst != SSLK_OK) {
            st = bst;
            goto done;
        }
    }
    /* leaves: polygon, code, map */
    {
        const ssli_cpwl_op *d = fast ? &net->ops[o + 1] : NULL;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 8)
        for (size_t i = 0; i < np; i++) {
            const split_res *r = &R[i];
            const double *Z = G->maps + (p0 + i) * 3 * Fz;
            for (size_t q = 0; q < r->nleaves; q++) {
                size_t l = loff[i] + q;
                memcpy(L.pts + L.voff[l], r->pts + r->voff[q], (r->voff[q + 1] - r->voff[q]) * sizeof(ssli_pt));
                uint64_t *lc = L.codes + l * cw;
                if (cw) memcpy(lc, pcode + i * cw, cw * sizeof(uint64_t));
                const uint16_t *ch = r->ch + q * r->nh;
                for (size_t j = 0; j < r->nh; j++)
                    ssli_code_set(lc, op->code_off + r->H[j] * op->code_bits, op->code_bits, ch[j]);
                if (ST) memcpy(L.stacks + l * ST, G->stacks + (p0 + i) * ST, ST * sizeof(double));
                if (fast) {
                    double *M = L.maps + l * 3 * Fn;
                    memcpy(M, Base + i * 3 * Fn, 3 * Fn * sizeof(double));
                    for (size_t j = 0; j < r->nh; j++) {
                        size_t h = r->H[j];
                        if (ch[j] == r->base[h]) continue;
                        double dd[3];
                        choice_delta(op, Z, h, r->base[h], ch[j], dd);
                        const double *col = d->wt + h * Fn;
                        for (int rr = 0; rr < 3; rr++) {
                            double a = dd[rr];
                            if (a == 0.0) continue;
                            double *row = M + rr * Fn;
                            for (size_t f = 0; f < Fn; f++) row[f] += a * col[f];
                        }
                    }
                } else {
                    double *y = Yl + l * 3 * Fy;
                    memcpy(y, Y0 + i * 3 * Fy, 3 * Fy * sizeof(double));
                    for (size_t j = 0; j < r->nh; j++) {
                        size_t h = r->H[j];
                        if (ch[j] == r->base[h]) continue;
                        double dd[3];
                        choice_delta(op, Z, h, r->base[h], ch[j], dd);
                        for (int rr = 0; rr < 3; rr++) y[rr * Fy + h] += dd[rr];
                    }
                }
            }
        }
    }
    if (!fast) {
        size_t nb = (nl + CHAIN_BLOCK - 1) / CHAIN_BLOCK;
        sslk_status bst = SSLK_OK;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (size_t b = 0; b < nb; b++) {
            size_t l0 = b * CHAIN_BLOCK, l1 = l0 + CHAIN_BLOCK < nl ? l0 + CHAIN_BLOCK : nl;
            sslk_status s2 = run_chain(E, &E->t[tid()], o + 1, next, Yl + l0 * 3 * Fy, l1 - l0,
                                       L.stacks + l0 * ST, L.maps + l0 * 3 * Fn);
            if (s2 != SSLK_OK) {
#pragma omp critical(sslk_splinecam_err)
                bst = s2;
            }
        }
        if (bst != SSLK_OK) {
            st = bst;
            goto done;
        }
    }
    ssli_free(E->ctx, Y0);
    ssli_free(E->ctx, Base);
    ssli_free(E->ctx, Yl);
    ssli_free(E->ctx, pcode);
    ssli_free(E->ctx, loff);
    Y0 = Base = Yl = NULL;
    pcode = NULL;
    loff = NULL;
    if (s + 1 == E->nst) st = emit(E, &L);
    else st = run_stage(E, s + 1, &L);
done:
    ssli_free(E->ctx, Y0);
    ssli_free(E->ctx, Base);
    ssli_free(E->ctx, Yl);
    ssli_free(E->ctx, pcode);
    ssli_free(E->ctx, loff);
    group_free(E->ctx, &L);
    return st;
}

static sslk_status run_stage(engine *E, size_t s, const group *G) {
    const ssli_cpwl *net = E->net;
    const ssli_cpwl_op *op = &net->ops[E->stages[s]];
    size_t next = s + 1 < E->nst ? E->stages[s + 1] : net->nops;
    size_t Fn = next < net->nops ? net->ops[next].in : net->out;
    size_t per_leaf = 3 * (Fn > op->out ? Fn : op->out) + E->maxst;
    size_t leaf_budget = LEAF_BUDGET_DOUBLES / per_leaf;
    if (leaf_budget < 1) leaf_budget = 1;
    int nt = E->nthreads;
    split_res *R = ssli_malloc(E->ctx, PARENTS_PER_SPLIT, sizeof(split_res));
    ssli_arena_mark *marks = ssli_malloc(E->ctx, (size_t)nt, sizeof(ssli_arena_mark));
    if (!R || !marks) {
        ssli_free(E->ctx, R);
        ssli_free(E->ctx, marks);
        return ssli_alloc_status();
    }
    sslk_status st = SSLK_OK;
    for (size_t c0 = 0; c0 < G->n && st == SSLK_OK; c0 += PARENTS_PER_SPLIT) {
        size_t c1 = c0 + PARENTS_PER_SPLIT < G->n ? c0 + PARENTS_PER_SPLIT : G->n;
        for (int i = 0; i < nt; i++) marks[i] = ssli_arena_save(&E->t[i].arena);
        sslk_status sst = SSLK_OK;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (size_t i = c0; i < c1; i++) {
            sslk_status s2 = split_region(E, op, G->maps + i * 3 * op->in, G->pts + G->voff[i],
                                          G->voff[i + 1] - G->voff[i], &E->t[tid()], &R[i - c0]);
            if (s2 != SSLK_OK) {
#pragma omp critical(sslk_splinecam_err)
                sst = s2;
            }
        }
        st = sst;
        /* batches of parents whose leaves fit the budget */
        for (size_t b0 = c0; b0 < c1 && st == SSLK_OK;) {
            size_t b1 = b0, leaves = 0;
            while (b1 < c1 && (b1 == b0 || leaves + R[b1 - c0].nleaves <= leaf_budget))
                leaves += R[b1++ - c0].nleaves;
            st = run_batch(E, s, G, b0, b1, R + (b0 - c0));
            b0 = b1;
        }
        for (int i = 0; i < nt; i++) ssli_arena_release(&E->t[i].arena, marks[i]);
    }
    ssli_free(E->ctx, R);
    ssli_free(E->ctx, marks);
    return st;
}

/* ---- entry ---------------------------------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

sslk_status ssli_splinecam_run(sslk_ctx *ctx, const ssli_cpwl *net, const sslk_slice *sl,
                               unsigned flags, sslk_partition **out) {
    double t0 = now_s();
    engine E;
    memset(&E, 0, sizeof E);
    E.ctx = ctx;
    E.net = net;
    E.nthreads = ssli_threads(ctx);
    E.rtol = sl->settings[0];
    E.max_regions = (size_t)sl->settings[1];
    E.cw = ssli_code_words(net->code_bits);
    E.maxst = net->max_stack;
    E.flags = flags;
    E.seg.ctx = ctx;
    sslk_status st = SSLK_OK;
    sslk_partition *P = ssli_calloc(ctx, 1, sizeof *P);
    E.stages = ssli_malloc(ctx, net->nops + 1, sizeof(size_t));
    E.t = ssli_calloc(ctx, (size_t)E.nthreads, sizeof(tls));
    if (!P || !E.stages || !E.t) {
        st = ssli_alloc_status();
        goto fail;
    }
    for (int i = 0; i < E.nthreads; i++) E.t[i].arena.ctx = ctx;
    E.P = P;
    P->ctx = ctx;
    P->d = sl->d;
    P->k = net->out;
    P->code_bits = net->code_bits;
    P->cw = E.cw;
    for (size_t i = 0; i < net->nops; i++)
        if (ssli_cop_nonlinear(net->ops[i].kind)) E.stages[E.nst++] = i;
    st = ssli_grow(ctx, (void **)&P->voff, &P->caps[0], 1, sizeof(size_t));
    if (st != SSLK_OK) goto fail;
    P->voff[0] = 0;

    /* the slice region through the first affine chain */
    {
        group G;
        size_t first = E.nst ? E.stages[0] : net->nops;
        size_t F = first < net->nops ? net->ops[first].in : net->out;
        st = group_alloc(&E, &G, 1, sl->npoly, F);
        double *T = ssli_malloc(ctx, 3 * sl->d, sizeof(double));
        if (st == SSLK_OK && !T) st = ssli_alloc_status();
        if (st == SSLK_OK) {
            memcpy(T, sl->dirs, 2 * sl->d * sizeof(double));
            memcpy(T + 2 * sl->d, sl->origin, sl->d * sizeof(double));
            G.voff[0] = 0;
            G.voff[1] = sl->npoly;
            memcpy(G.pts, sl->poly, sl->npoly * sizeof(ssli_pt));
            st = run_chain(&E, &E.t[0], 0, first, T, 1, G.stacks, G.maps);
        }
        if (st == SSLK_OK) st = E.nst ? run_stage(&E, 0, &G) : emit(&E, &G);
        ssli_free(ctx, T);
        group_free(ctx, &G);
        if (st != SSLK_OK) goto fail;
    }
    P->segs = E.seg.segs;
    P->seg_info = E.seg.info;
    P->nseg = E.seg.n;
    E.seg.segs = NULL;
    E.seg.info = NULL;
    P->seconds = now_s() - t0;
    *out = P;
    goto cleanup;
fail:
    sslk_partition_destroy(P);
    ssli_free(ctx, E.seg.segs);
    ssli_free(ctx, E.seg.info);
cleanup:
    if (E.t) {
        for (int i = 0; i < E.nthreads; i++) {
            tls *t = &E.t[i];
            ssli_arena_free(&t->arena);
            for (int j = 0; j < 2; j++) {
                ssli_free(ctx, t->pl[j].voff);
                ssli_free(ctx, t->pl[j].pts);
                ssli_free(ctx, t->pl[j].ch);
                ssli_free(ctx, t->tmp[j]);
                ssli_free(ctx, t->cb[j]);
            }
            ssli_free(ctx, t->vals);
            ssli_free(ctx, t->sb);
        }
    }
    ssli_free(ctx, E.t);
    ssli_free(ctx, E.stages);
    return st;
}
