/* SplineCam engine: exact linear regions of a CPWL network on a 2-D slice.
 *
 * Regions travel through the network as (convex polygon, map, residual
 * stack, code).  At each nonlinear op the units whose zero line (or, for a
 * max-pool window, whose argmax) changes inside a region split it by
 * sequential convex clipping; every leaf then gets the map of the next
 * nonlinear op's input.  When the affine chain up to that op is a single
 * dense (conv) layer, a leaf's map is its parent's base map plus the weight
 * columns (scattered kernels) of the units whose choice differs from the
 * base, so one product per parent serves all its children.
 *
 * Traversal is depth-first over batches of regions (memory bounded by the
 * batch budget times the depth, not by the region count); inside a batch the
 * per-region and per-leaf work runs on the context's threads, each result
 * written to its own slot, so the output order and values do not depend on
 * scheduling or thread count.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "geometry/engine.h"
#include "linalg/linalg.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define PARENTS_PER_SPLIT 64        /* parents split together (phase A) */
#define LEAF_BUDGET_DOUBLES (1u << 20) /* leaf maps per batch: 8 MiB */
#define GEMM_BLOCK 16               /* parents per base GEMM (fixed: results independent of threads) */
#define CHAIN_BLOCK 8               /* leaves per explicit chain block */

/* Record the first failure of a parallel loop with its message (the
 * message lives in the failing thread's error buffer). */
static void keep_err(sslk_status *dst, sslk_status s, char *msg, size_t cap) {
#pragma omp critical(sslk_splinecam_err)
    if (*dst == SSLK_OK) {
        *dst = s;
        snprintf(msg, cap, "%s", sslk_last_error());
    }
}

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
    size_t mapn, stn, cwn;
    if (ssli_mul3_overflow(n, 3, F ? F : 1, &mapn) || ssli_mul_overflow(n, E->maxst ? E->maxst : 1, &stn) ||
        ssli_mul_overflow(n, E->cw ? E->cw : 1, &cwn))
        return ssli_err(SSLK_E_OVERFLOW, "sslk_splinecam: a batch of %zu regions overflows", n);
    g->maps = ssli_malloc(E->ctx, mapn, sizeof(double));
    g->stacks = ssli_malloc(E->ctx, stn, sizeof(double));
    g->codes = ssli_calloc(E->ctx, cwn, sizeof(uint64_t));
    if (!g->voff || !g->pts || !g->maps || !g->stacks || !g->codes) return ssli_alloc_status();
    return SSLK_OK;
}

/* ---- output ------------------------------------------------------------------- */

static sslk_status emit(engine *E, const group *G) {
    sslk_partition *P = E->P;
    const sslk_ctx *ctx = E->ctx;
    size_t K = E->net->out;
    size_t n0 = P->n, n1 = n0 + G->n, before;
#pragma omp atomic capture
    {
        before = *E->emitted;
        *E->emitted += G->n;
    }
    if (before + G->n > E->max_regions)
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
    /* empty copies skipped: the arrays may still be NULL, and memcpy(NULL, ., 0) is undefined */
    if (nv) memcpy(P->pts + vb, G->pts, nv * sizeof(ssli_pt));
    if (E->cw && G->n) memcpy(P->codes + n0 * E->cw, G->codes, G->n * E->cw * sizeof(uint64_t));
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

static inline tls *my_tls(engine *E) { return E->nthreads > 1 ? &E->t[tid()] : &E->t[0]; }

/* Base maps of nmaps parents through a dense op: B = Y W^T + b.  Units that
 * are zero in every parent of the block (ReLUs off in all of them: nearby
 * regions share most of their pattern) are dropped from the product. */
static sslk_status dense_base(engine *E, const ssli_cpwl_op *d, const double *Y, size_t nmaps, double *B) {
    size_t in = d->in, out = d->out, rows = 3 * nmaps;
    tls *T = my_tls(E);
    SSLI_TRY(ssli_grow(E->ctx, (void **)&T->act, &T->actcap, in, sizeof(uint32_t)));
    size_t na = 0;
    for (size_t u = 0; u < in; u++) {
        bool nz = false;
        for (size_t r = 0; r < rows && !nz; r++) nz = Y[r * in + u] != 0.0;
        if (nz) T->act[na++] = (uint32_t)u;
    }
    if (4 * na > 3 * in) return ssli_cpwl_apply_affine(E->net, d, Y, nmaps, B);
    SSLI_TRY(ssli_grow(E->ctx, (void **)&T->yc, &T->yccap, rows * (na ? na : 1), sizeof(double)));
    SSLI_TRY(ssli_grow(E->ctx, (void **)&T->wc, &T->wccap, (na ? na : 1) * out, sizeof(double)));
    for (size_t r = 0; r < rows; r++)
        for (size_t a = 0; a < na; a++) T->yc[r * na + a] = Y[r * in + T->act[a]];
    for (size_t a = 0; a < na; a++) memcpy(T->wc + a * out, d->wt + (size_t)T->act[a] * out, out * sizeof(double));
    if (na) ssli_dgemm(NULL, false, false, rows, out, na, 1.0, T->yc, na, T->wc, out, 0.0, B, out);
    else if (rows && out) memset(B, 0, rows * out * sizeof(double));
    for (size_t r = 2; r < rows; r += 3)
        for (size_t o = 0; o < out; o++) B[r * out + o] += d->b[o];
    return SSLK_OK;
}

/* Leaves [l0, l1) of the concatenated leaves of parents R[0..np) (parents
 * p0.. of G; cum = prefix sums of their leaf counts): compute their maps at
 * the next nonlinear op, then recurse (or emit at the last stage, or hand
 * the leaves to `collect`). */
static sslk_status run_batch(engine *E, size_t s, const group *G, size_t p0, const split_res *R,
                             size_t np, const size_t *cum, size_t l0, size_t l1, group *collect) {
    const ssli_cpwl *net = E->net;
    size_t o = E->stages[s];
    const ssli_cpwl_op *op = &net->ops[o];
    size_t next = s + 1 < E->nst ? E->stages[s + 1] : net->nops;
    size_t Fz = op->in, Fy = op->out;
    size_t Fn = next < net->nops ? net->ops[next].in : net->out;
    /* How a leaf's map at the next nonlinear op is formed:
     * DENSE / CONV: the chain is that one op: base map of the parent plus
     *   the changed units' weight columns (GEMM) or kernels (scatter);
     * DIRECT: no op in between: the parent's y0 with the changed rows patched;
     * EXPLICIT: anything else (pools, residual stack ops, several ops). */
    enum { DENSE, CONV, DIRECT, EXPLICIT } mode = EXPLICIT;
    if (next == o + 1) mode = DIRECT;
    else if (next == o + 2 && net->ops[o + 1].kind == SSLI_COP_DENSE) mode = DENSE;
    else if (next == o + 2 && net->ops[o + 1].kind == SSLI_COP_CONV) mode = CONV;
    bool fast = mode == DENSE || mode == CONV;
    size_t ST = E->maxst, cw = E->cw;
    int nt = E->nthreads;
    sslk_status st = SSLK_OK;
    char emsg[256] = "";

    /* parents touched by the range: ia .. ib-1 */
    size_t ia = 0;
    while (ia < np && cum[ia + 1] <= l0) ia++;
    size_t ib = ia;
    while (ib < np && cum[ib] < l1) ib++;
    size_t nj = ib - ia, nl = l1 - l0;
    size_t *qa = ssli_malloc(E->ctx, 3 * nj + 1, sizeof(size_t));
    if (!qa) return ssli_alloc_status();
    size_t *qb = qa + nj, *loff = qa + 2 * nj; /* loff: nj + 1 */
    size_t nverts = 0;
    loff[0] = 0;
    for (size_t j = 0; j < nj; j++) {
        size_t i = ia + j;
        qa[j] = (l0 > cum[i] ? l0 : cum[i]) - cum[i];
        qb[j] = (l1 < cum[i + 1] ? l1 : cum[i + 1]) - cum[i];
        loff[j + 1] = loff[j] + qb[j] - qa[j];
        nverts += R[i].voff[qb[j]] - R[i].voff[qa[j]];
    }
    group L;
    double *Y0 = NULL, *Base = NULL, *Yl = NULL;
    uint64_t *pcode = NULL;
    st = group_alloc(E, &L, nl, nverts, Fn);
    if (st == SSLK_OK) {
        Y0 = ssli_malloc(E->ctx, nj * 3 * Fy, sizeof(double));
        pcode = ssli_calloc(E->ctx, nj * (cw ? cw : 1), sizeof(uint64_t));
        if (fast) Base = ssli_malloc(E->ctx, nj * 3 * Fn, sizeof(double));
        else if (mode == EXPLICIT) Yl = ssli_malloc(E->ctx, nl * 3 * Fy, sizeof(double));
        if (!Y0 || !pcode || (fast && !Base) || (mode == EXPLICIT && !Yl)) st = ssli_alloc_status();
    }
    if (st != SSLK_OK) goto done;

    L.voff[0] = 0;
    for (size_t j = 0, l = 0; j < nj; j++) {
        const split_res *r = &R[ia + j];
        for (size_t q = qa[j]; q < qb[j]; q++, l++) L.voff[l + 1] = L.voff[l] + (r->voff[q + 1] - r->voff[q]);
    }

    /* parents: base outputs y0, base codes */
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(dynamic, 4)
    for (size_t j = 0; j < nj; j++) {
        size_t i = ia + j;
        const double *Z = G->maps + (p0 + i) * 3 * Fz;
        ssli_sc_apply_choice(op, Z, R[i].base, Y0 + j * 3 * Fy);
        uint64_t *pc = pcode + j * cw;
        if (cw) memcpy(pc, G->codes + (p0 + i) * cw, cw * sizeof(uint64_t));
        ssli_sc_set_codes(pc, op->code_off, op->code_bits, R[i].base, Fy);
    }
    if (fast) {
        const ssli_cpwl_op *d = &net->ops[o + 1];
        size_t nb = (nj + GEMM_BLOCK - 1) / GEMM_BLOCK;
        sslk_status bst = SSLK_OK;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(dynamic, 1)
        for (size_t b = 0; b < nb; b++) {
            size_t j0 = b * GEMM_BLOCK, j1 = j0 + GEMM_BLOCK < nj ? j0 + GEMM_BLOCK : nj;
            sslk_status s2 = mode == DENSE ? dense_base(E, d, Y0 + j0 * 3 * Fy, j1 - j0, Base + j0 * 3 * Fn)
                                           : ssli_cpwl_apply_affine(net, d, Y0 + j0 * 3 * Fy, j1 - j0, Base + j0 * 3 * Fn);
            if (s2 != SSLK_OK) keep_err(&bst, s2, emsg, sizeof emsg);
        }
        if (bst != SSLK_OK) {
            st = ssli_err(bst, "%s", emsg);
            goto done;
        }
    }
    /* leaves: polygon, code, map */
    {
        const ssli_cpwl_op *d = fast ? &net->ops[o + 1] : NULL;
        sslk_status lst = SSLK_OK;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(dynamic, 8)
        for (size_t j = 0; j < nj; j++) {
            size_t i = ia + j;
            const split_res *r = &R[i];
            const double *Z = G->maps + (p0 + i) * 3 * Fz;
            for (size_t q = qa[j]; q < qb[j]; q++) {
                size_t l = loff[j] + q - qa[j];
                if (r->voff[q + 1] > r->voff[q])
                    memcpy(L.pts + L.voff[l], r->pts + r->voff[q], (r->voff[q + 1] - r->voff[q]) * sizeof(ssli_pt));
                uint64_t *lc = L.codes + l * cw;
                if (cw) memcpy(lc, pcode + j * cw, cw * sizeof(uint64_t));
                const uint16_t *ch = r->ch + q * r->nh;
                for (size_t h = 0; h < r->nh; h++)
                    ssli_code_set(lc, op->code_off + r->H[h] * op->code_bits, op->code_bits, ch[h]);
                if (ST) memcpy(L.stacks + l * ST, G->stacks + (p0 + i) * ST, ST * sizeof(double));
                if (mode == CONV) {
                    double *M = L.maps + l * 3 * Fn;
                    memcpy(M, Base + j * 3 * Fn, 3 * Fn * sizeof(double));
                    for (size_t h = 0; h < r->nh; h++) {
                        size_t u = r->H[h];
                        if (ch[h] == r->base[u]) continue;
                        double dd[3];
                        ssli_sc_choice_delta(op, Z, u, r->base[u], ch[h], dd);
                        ssli_sc_conv_scatter(d, u, dd, M);
                    }
                } else if (fast) {
                    memcpy(L.maps + l * 3 * Fn, Base + j * 3 * Fn, 3 * Fn * sizeof(double));
                } else {
                    double *y = mode == DIRECT ? L.maps + l * 3 * Fn : Yl + l * 3 * Fy;
                    memcpy(y, Y0 + j * 3 * Fy, 3 * Fy * sizeof(double));
                    for (size_t h = 0; h < r->nh; h++) {
                        size_t u = r->H[h];
                        if (ch[h] == r->base[u]) continue;
                        double dd[3];
                        ssli_sc_choice_delta(op, Z, u, r->base[u], ch[h], dd);
                        for (int rr = 0; rr < 3; rr++) y[rr * Fy + u] += dd[rr];
                    }
                }
            }
            if (mode == DENSE && r->nh && qb[j] > qa[j]) {
                /* leaf maps = base + C (3q x nh) * W^T rows of the crossing units (nh x Fn) */
                tls *T = my_tls(E);
                size_t nh = r->nh, nq = qb[j] - qa[j];
                if (ssli_grow(E->ctx, (void **)&T->wh, &T->whcap, nh * Fn, sizeof(double)) != SSLK_OK ||
                    ssli_grow(E->ctx, (void **)&T->cm, &T->cmcap, 3 * nq * nh, sizeof(double)) != SSLK_OK) {
                    keep_err(&lst, ssli_alloc_status(), emsg, sizeof emsg);
                    continue;
                }
                for (size_t h = 0; h < nh; h++) memcpy(T->wh + h * Fn, d->wt + r->H[h] * Fn, Fn * sizeof(double));
                memset(T->cm, 0, 3 * nq * nh * sizeof(double));
                for (size_t q = qa[j]; q < qb[j]; q++) {
                    const uint16_t *ch = r->ch + q * nh;
                    double *crow = T->cm + 3 * (q - qa[j]) * nh;
                    for (size_t h = 0; h < nh; h++) {
                        size_t u = r->H[h];
                        if (ch[h] == r->base[u]) continue;
                        double dd[3];
                        ssli_sc_choice_delta(op, Z, u, r->base[u], ch[h], dd);
                        crow[h] = dd[0];
                        crow[nh + h] = dd[1];
                        crow[2 * nh + h] = dd[2];
                    }
                }
                ssli_dgemm(NULL, false, false, 3 * nq, Fn, nh, 1.0, T->cm, nh, T->wh, Fn, 1.0,
                           L.maps + loff[j] * 3 * Fn, Fn);
            }
        }
        if (lst != SSLK_OK) {
            st = ssli_err(lst, "%s", emsg);
            goto done;
        }
    }
    if (mode == EXPLICIT) {
        size_t nb = (nl + CHAIN_BLOCK - 1) / CHAIN_BLOCK;
        sslk_status bst = SSLK_OK;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(dynamic, 1)
        for (size_t b = 0; b < nb; b++) {
            size_t a0 = b * CHAIN_BLOCK, a1 = a0 + CHAIN_BLOCK < nl ? a0 + CHAIN_BLOCK : nl;
            sslk_status s2 = ssli_sc_run_chain(E, my_tls(E), o + 1, next, Yl + a0 * 3 * Fy, a1 - a0,
                                       L.stacks + a0 * ST, L.maps + a0 * 3 * Fn);
            if (s2 != SSLK_OK) keep_err(&bst, s2, emsg, sizeof emsg);
        }
        if (bst != SSLK_OK) {
            st = ssli_err(bst, "%s", emsg);
            goto done;
        }
    }
    ssli_free(E->ctx, Y0);
    ssli_free(E->ctx, Base);
    ssli_free(E->ctx, Yl);
    ssli_free(E->ctx, pcode);
    ssli_free(E->ctx, qa);
    Y0 = Base = Yl = NULL;
    pcode = NULL;
    qa = NULL;
    if (collect) {
        *collect = L;
        memset(&L, 0, sizeof L);
    } else if (s + 1 == E->nst) {
        st = emit(E, &L);
    } else {
        st = run_stage(E, s + 1, &L);
    }
done:
    ssli_free(E->ctx, Y0);
    ssli_free(E->ctx, Base);
    ssli_free(E->ctx, Yl);
    ssli_free(E->ctx, pcode);
    ssli_free(E->ctx, qa);
    group_free(E->ctx, &L);
    return st;
}

static size_t leaf_budget(const engine *E, size_t s) {
    const ssli_cpwl *net = E->net;
    const ssli_cpwl_op *op = &net->ops[E->stages[s]];
    size_t next = s + 1 < E->nst ? E->stages[s + 1] : net->nops;
    size_t Fn = next < net->nops ? net->ops[next].in : net->out;
    size_t per_leaf = 3 * (Fn > op->out ? Fn : op->out) + E->maxst;
    size_t b = LEAF_BUDGET_DOUBLES / per_leaf;
    return b < 16 ? 16 : b;
}

/* Split parents [c0, c1) of G (parallel over parents) into R[0..c1-c0). */
static sslk_status split_parents(engine *E, size_t s, const group *G, size_t c0, size_t c1, split_res *R) {
    const ssli_cpwl_op *op = &E->net->ops[E->stages[s]];
    int nt = E->nthreads;
    sslk_status sst = SSLK_OK;
    char emsg[256] = "";
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(dynamic, 1)
    for (size_t i = c0; i < c1; i++) {
        sslk_status s2 = ssli_sc_split_region(E, op, G->maps + i * 3 * op->in, G->pts + G->voff[i],
                                      G->voff[i + 1] - G->voff[i], my_tls(E), &R[i - c0]);
        if (s2 != SSLK_OK) keep_err(&sst, s2, emsg, sizeof emsg);
    }
    return sst == SSLK_OK ? SSLK_OK : ssli_err(sst, "%s", emsg);
}

/* Depth-first over G at stage s, in chunks of parents and leaf batches. */
static sslk_status run_stage(engine *E, size_t s, const group *G) {
    size_t budget = leaf_budget(E, s);
    int nt = E->nthreads;
    split_res *R = ssli_malloc(E->ctx, PARENTS_PER_SPLIT, sizeof(split_res));
    size_t *cum = ssli_malloc(E->ctx, PARENTS_PER_SPLIT + 1, sizeof(size_t));
    ssli_arena_mark *marks = ssli_malloc(E->ctx, (size_t)nt, sizeof(ssli_arena_mark));
    sslk_status st = (!R || !cum || !marks) ? ssli_alloc_status() : SSLK_OK;
    for (size_t c0 = 0; c0 < G->n && st == SSLK_OK; c0 += PARENTS_PER_SPLIT) {
        size_t c1 = c0 + PARENTS_PER_SPLIT < G->n ? c0 + PARENTS_PER_SPLIT : G->n;
        for (int i = 0; i < nt; i++) marks[i] = ssli_arena_save(&E->t[i].arena);
        st = split_parents(E, s, G, c0, c1, R);
        cum[0] = 0;
        for (size_t i = c0; i < c1; i++) cum[i - c0 + 1] = cum[i - c0] + R[i - c0].nleaves;
        for (size_t l0 = 0; l0 < cum[c1 - c0] && st == SSLK_OK; l0 += budget) {
            size_t l1 = l0 + budget < cum[c1 - c0] ? l0 + budget : cum[c1 - c0];
            st = run_batch(E, s, G, c0, R, c1 - c0, cum, l0, l1, NULL);
        }
        for (int i = 0; i < nt; i++) ssli_arena_release(&E->t[i].arena, marks[i]);
    }
    ssli_free(E->ctx, R);
    ssli_free(E->ctx, cum);
    ssli_free(E->ctx, marks);
    return st;
}

/* ---- entry ---------------------------------------------------------------------- */

#define FRONTIER 64 /* leaves at which the depth-first phase starts in parallel */
#define ITEMS 256   /* about this many work items in the parallel phase */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct item_out {
    sslk_partition P;
    ssli_segsink seg;
    sslk_status st;
    char msg[256];
} item_out;

static void sink_free(const sslk_ctx *ctx, sslk_partition *P, ssli_segsink *g) {
    ssli_free(ctx, P->voff);
    ssli_free(ctx, P->pts);
    ssli_free(ctx, P->codes);
    ssli_free(ctx, P->area);
    ssli_free(ctx, P->cls);
    ssli_free(ctx, P->maps);
    ssli_free(ctx, g->segs);
    ssli_free(ctx, g->info);
    ssli_free(ctx, g->cpts);
    ssli_free(ctx, g->coff);
    ssli_free(ctx, g->cinfo);
}

/* Grow *p to exactly `need` elements when smaller. */
static sslk_status grow_exact(const sslk_ctx *ctx, void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return SSLK_OK;
    void *q = ssli_malloc(ctx, need, elem);
    if (!q) return ssli_alloc_status();
    if (*p && *cap) memcpy(q, *p, *cap * elem);
    ssli_free(ctx, *p);
    *p = q;
    *cap = need;
    return SSLK_OK;
}

static sslk_status reserve(engine *E, size_t n, size_t nv, size_t nseg, size_t ncell, size_t ncellv) {
    sslk_partition *P = E->P;
    const sslk_ctx *ctx = E->ctx;
    size_t *c = P->caps, K = E->net->out;
    ssli_segsink *g = &E->seg;
    SSLI_TRY(grow_exact(ctx, (void **)&P->voff, &c[0], n + 1, sizeof(size_t)));
    SSLI_TRY(grow_exact(ctx, (void **)&P->pts, &c[1], nv, sizeof(ssli_pt)));
    SSLI_TRY(grow_exact(ctx, (void **)&P->codes, &c[2], n * (E->cw ? E->cw : 1), sizeof(uint64_t)));
    SSLI_TRY(grow_exact(ctx, (void **)&P->area, &c[3], n, sizeof(double)));
    SSLI_TRY(grow_exact(ctx, (void **)&P->cls, &c[4], n, sizeof(int32_t)));
    if (E->flags & SSLK_SPLINECAM_MAPS) SSLI_TRY(grow_exact(ctx, (void **)&P->maps, &c[5], n * 3 * K, sizeof(double)));
    SSLI_TRY(grow_exact(ctx, (void **)&g->segs, &g->cap_s, 4 * nseg, sizeof(double)));
    SSLI_TRY(grow_exact(ctx, (void **)&g->info, &g->cap_i, 3 * nseg, sizeof(int32_t)));
    if (ncell) {
        SSLI_TRY(grow_exact(ctx, (void **)&g->coff, &g->cap_co, ncell + 1, sizeof(size_t)));
        SSLI_TRY(grow_exact(ctx, (void **)&g->cpts, &g->cap_cp, ncellv, sizeof(ssli_pt)));
        SSLI_TRY(grow_exact(ctx, (void **)&g->cinfo, &g->cap_ci, 2 * ncell, sizeof(int32_t)));
    }
    return SSLK_OK;
}

/* Append an item's output to the partition (in item order). */
static sslk_status merge(engine *E, item_out *it) {
    sslk_partition *P = E->P, *Q = &it->P;
    if (Q->n == 0 && it->seg.n == 0) return SSLK_OK;
    const sslk_ctx *ctx = E->ctx;
    size_t K = E->net->out, n0 = P->n, n1 = n0 + Q->n, v0 = P->voff[n0], nv = Q->voff[Q->n];
    size_t *c = P->caps;
    SSLI_TRY(ssli_grow(ctx, (void **)&P->voff, &c[0], n1 + 1, sizeof(size_t)));
    SSLI_TRY(ssli_grow(ctx, (void **)&P->pts, &c[1], v0 + nv, sizeof(ssli_pt)));
    SSLI_TRY(ssli_grow(ctx, (void **)&P->codes, &c[2], n1 * (E->cw ? E->cw : 1), sizeof(uint64_t)));
    SSLI_TRY(ssli_grow(ctx, (void **)&P->area, &c[3], n1, sizeof(double)));
    SSLI_TRY(ssli_grow(ctx, (void **)&P->cls, &c[4], n1, sizeof(int32_t)));
    /* an item may have segments but no regions or the reverse: its empty arrays
     * (and ours) can be NULL, so zero-length copies are skipped (UBSan) */
    if (E->flags & SSLK_SPLINECAM_MAPS) {
        SSLI_TRY(ssli_grow(ctx, (void **)&P->maps, &c[5], n1 * 3 * K, sizeof(double)));
        if (Q->n) memcpy(P->maps + n0 * 3 * K, Q->maps, Q->n * 3 * K * sizeof(double));
    }
    for (size_t i = 0; i < Q->n; i++) P->voff[n0 + i + 1] = v0 + Q->voff[i + 1];
    if (nv) memcpy(P->pts + v0, Q->pts, nv * sizeof(ssli_pt));
    if (Q->n) {
        if (E->cw) memcpy(P->codes + n0 * E->cw, Q->codes, Q->n * E->cw * sizeof(uint64_t));
        memcpy(P->area + n0, Q->area, Q->n * sizeof(double));
        memcpy(P->cls + n0, Q->cls, Q->n * sizeof(int32_t));
    }
    ssli_segsink *g = &E->seg;
    size_t m0 = g->n, m1 = m0 + it->seg.n;
    SSLI_TRY(ssli_grow(ctx, (void **)&g->segs, &g->cap_s, 4 * m1, sizeof(double)));
    SSLI_TRY(ssli_grow(ctx, (void **)&g->info, &g->cap_i, 3 * m1, sizeof(int32_t)));
    if (it->seg.n) memcpy(g->segs + 4 * m0, it->seg.segs, 4 * it->seg.n * sizeof(double));
    for (size_t i = 0; i < it->seg.n; i++) {
        g->info[3 * (m0 + i)] = it->seg.info[3 * i] + (int32_t)n0;
        g->info[3 * (m0 + i) + 1] = it->seg.info[3 * i + 1];
        g->info[3 * (m0 + i) + 2] = it->seg.info[3 * i + 2];
    }
    g->n = m1;
    for (size_t i = 0; i < it->seg.ncell; i++) {
        const ssli_segsink *q = &it->seg;
        SSLI_TRY(ssli_segsink_add_cell(g, q->cpts + q->coff[i], q->coff[i + 1] - q->coff[i],
                                       q->cinfo[2 * i] + (int32_t)n0, q->cinfo[2 * i + 1]));
    }
    P->n = n1;
    return SSLK_OK;
}

/* The parallel phase: leaves [0, cum[np]) of the split parents R of G, in
 * fixed-size items (independent of the thread count), each run depth-first
 * on one thread into its own output, merged in item order. */
static sslk_status run_parallel(engine *E, size_t s, const group *G, const split_res *R, size_t np,
                                const size_t *cum) {
    size_t NL = cum[np];
    size_t CH = NL / ITEMS > 0 ? NL / ITEMS : 1;
    size_t nitems = (NL + CH - 1) / CH;
    item_out *items = ssli_calloc(E->ctx, nitems ? nitems : 1, sizeof(item_out));
    if (!items) return ssli_alloc_status();
    int nt = E->nthreads;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(dynamic, 1)
    for (size_t k = 0; k < nitems; k++) {
        item_out *it = &items[k];
        engine W = *E;
        W.nthreads = 1;
        W.t = nt > 1 ? &E->t[tid()] : &E->t[0];
        W.P = &it->P;
        W.seg.ctx = E->ctx;
        W.seg.segs = NULL;
        W.seg.info = NULL;
        W.seg.n = W.seg.cap_s = W.seg.cap_i = 0;
        W.seg.cpts = NULL;
        W.seg.coff = NULL;
        W.seg.cinfo = NULL;
        W.seg.ncell = W.seg.cap_cp = W.seg.cap_co = W.seg.cap_ci = 0;
        it->P.ctx = E->ctx;
        it->st = ssli_grow(E->ctx, (void **)&it->P.voff, &it->P.caps[0], 1, sizeof(size_t));
        if (it->st == SSLK_OK) {
            it->P.voff[0] = 0;
            ssli_arena_mark mk = ssli_arena_save(&W.t->arena);
            size_t l0 = k * CH, l1 = l0 + CH < NL ? l0 + CH : NL;
            it->st = run_batch(&W, s, G, 0, R, np, cum, l0, l1, NULL);
            ssli_arena_release(&W.t->arena, mk);
        }
        it->seg = W.seg;
        if (it->st != SSLK_OK) snprintf(it->msg, sizeof it->msg, "%s", sslk_last_error());
    }
    sslk_status st = SSLK_OK;
    /* reserve the exact output once (no doubling slack: memory ~ output) */
    size_t tn = E->P->n, tv = E->P->voff[E->P->n], ts = E->seg.n, tc = E->seg.ncell, tcv = tc ? E->seg.coff[tc] : 0;
    for (size_t k = 0; k < nitems; k++) {
        tn += items[k].P.n;
        tv += items[k].P.n ? items[k].P.voff[items[k].P.n] : 0;
        ts += items[k].seg.n;
        tc += items[k].seg.ncell;
        tcv += items[k].seg.ncell ? items[k].seg.coff[items[k].seg.ncell] : 0;
    }
    st = reserve(E, tn, tv, ts, tc, tcv);
    for (size_t k = 0; k < nitems; k++) {
        if (st == SSLK_OK && items[k].st != SSLK_OK) st = ssli_err(items[k].st, "%s", items[k].msg);
        if (st == SSLK_OK) st = merge(E, &items[k]);
        sink_free(E->ctx, &items[k].P, &items[k].seg);
    }
    ssli_free(E->ctx, items);
    if (st == SSLK_OK && E->P->n > E->max_regions)
        st = ssli_err(SSLK_E_OVERFLOW, "sslk_splinecam: more than %zu regions (setting max_regions)", E->max_regions);
    return st;
}

/* Breadth-first until the frontier is wide enough, then parallel depth-first. */
static sslk_status drive(engine *E, group *G) {
    sslk_status st = SSLK_OK;
    int nt = E->nthreads;
    for (size_t s = 0; st == SSLK_OK; s++) {
        size_t np = G->n;
        split_res *R = ssli_malloc(E->ctx, np ? np : 1, sizeof(split_res));
        size_t *cum = ssli_malloc(E->ctx, np + 1, sizeof(size_t));
        ssli_arena_mark *marks = ssli_malloc(E->ctx, (size_t)nt, sizeof(ssli_arena_mark));
        if (!R || !cum || !marks) {
            ssli_free(E->ctx, R);
            ssli_free(E->ctx, cum);
            ssli_free(E->ctx, marks);
            return ssli_alloc_status();
        }
        for (int i = 0; i < nt; i++) marks[i] = ssli_arena_save(&E->t[i].arena);
        st = split_parents(E, s, G, 0, np, R);
        bool done = true;
        if (st == SSLK_OK) {
            cum[0] = 0;
            for (size_t i = 0; i < np; i++) cum[i + 1] = cum[i] + R[i].nleaves;
            if (s + 1 == E->nst || cum[np] >= FRONTIER || cum[np] > leaf_budget(E, s)) {
                st = run_parallel(E, s, G, R, np, cum);
            } else {
                group N;
                st = run_batch(E, s, G, 0, R, np, cum, 0, cum[np], &N);
                if (st == SSLK_OK) {
                    group_free(E->ctx, G);
                    *G = N;
                    done = false;
                }
            }
        }
        for (int i = 0; i < nt; i++) ssli_arena_release(&E->t[i].arena, marks[i]);
        ssli_free(E->ctx, R);
        ssli_free(E->ctx, cum);
        ssli_free(E->ctx, marks);
        if (done) break;
    }
    return st;
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
    size_t emitted = 0;
    E.emitted = &emitted;
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
            if (sl->npoly) memcpy(G.pts, sl->poly, sl->npoly * sizeof(ssli_pt));
            st = ssli_sc_run_chain(&E, &E.t[0], 0, first, T, 1, G.stacks, G.maps);
        }
        if (st == SSLK_OK) st = E.nst ? drive(&E, &G) : emit(&E, &G);
        ssli_free(ctx, T);
        group_free(ctx, &G);
        if (st != SSLK_OK) goto fail;
    }
    P->segs = E.seg.segs;
    P->seg_info = E.seg.info;
    P->nseg = E.seg.n;
    P->cell_pts = E.seg.cpts;
    P->cell_off = E.seg.coff;
    P->cell_info = E.seg.cinfo;
    P->ncell = E.seg.ncell;
    E.seg.segs = NULL;
    E.seg.info = NULL;
    E.seg.cpts = NULL;
    E.seg.coff = NULL;
    E.seg.cinfo = NULL;
    P->seconds = now_s() - t0;
    *out = P;
    goto cleanup;
fail:
    sslk_partition_destroy(P);
    sink_free(ctx, &(sslk_partition){0}, &E.seg);
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
            ssli_free(ctx, t->wh);
            ssli_free(ctx, t->cm);
            ssli_free(ctx, t->act);
            ssli_free(ctx, t->yc);
            ssli_free(ctx, t->wc);
            ssli_free(ctx, t->jstack);
            ssli_free(ctx, t->chw);
            ssli_free(ctx, t->work);
        }
    }
    ssli_free(ctx, E.t);
    ssli_free(ctx, E.stages);
    return st;
}
