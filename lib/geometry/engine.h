/* Internal structures of the SplineCam engine, shared by splinecam.c (the
 * traversal), split.c (splitting one region by one nonlinear op) and
 * leafmaps.c (the maps of a region's children).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_GEOMETRY_ENGINE_H
#define SSLKIT_GEOMETRY_ENGINE_H

#include "geometry/arena.h"
#include "geometry/partition.h"

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
    double *wh, *cm; /* fast path: gathered W^T rows, leaf coefficients */
    size_t whcap, cmcap;
    uint32_t *act;   /* dense base: units active in some parent of the block */
    double *yc, *wc; /* dense base: compacted inputs and W^T rows */
    size_t actcap, yccap, wccap;
    size_t *jstack;  /* split stack: next unit of each pending piece */
    size_t jcap;
    uint16_t *chw;   /* choices of the piece being split */
    size_t chwcap;
    ssli_pt *work;   /* the piece being split */
    size_t wcap;
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
    size_t *emitted; /* regions emitted by all threads (checked against max_regions) */
} engine;

/* Slope of a two-slope unit for choice c (0: negative side, 1: positive). */
static inline double slope(const ssli_cpwl_op *op, uint16_t c) { return c ? op->pos : op->neg; }

/* Split the region (poly, map Z = 3 x op->in) by the nonlinear op: base
 * choices of every unit, the crossing units H and the leaves with their
 * choices for H, allocated in the thread's arena. */
sslk_status ssli_sc_split_region(const engine *E, const ssli_cpwl_op *op, const double *Z,
                                 const ssli_pt *poly, size_t npoly, tls *t, split_res *R);
/* y (3 x op->out) = op applied to Z (3 x op->in) with choices ch. */
void ssli_sc_apply_choice(const ssli_cpwl_op *op, const double *Z, const uint16_t *ch, double *y);
/* Write n choices of `bits` bits each at bit offset off. */
void ssli_sc_set_codes(uint64_t *code, size_t off, size_t bits, const uint16_t *ch, size_t n);
/* M (3 x cv->out) += d x conv(e_h). */
void ssli_sc_conv_scatter(const ssli_cpwl_op *cv, size_t h, const double d[3], double *M);
/* d = change of output unit h's map when its choice goes from b to c. */
void ssli_sc_choice_delta(const ssli_cpwl_op *op, const double *Z, size_t h, uint16_t b, uint16_t c,
                          double d[3]);
/* Run ops [o0, o1) on nmaps maps with their stacks (see leafmaps.c). */
sslk_status ssli_sc_run_chain(const engine *E, tls *t, size_t o0, size_t o1, const double *in,
                              size_t nmaps, double *stacks, double *out);

#endif
