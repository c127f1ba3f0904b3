/* SplineCam: the maps of a region's children at the next nonlinear op
 * (choices applied to the parent's map, changed-unit deltas, conv kernel
 * scatter, and explicit application of an affine chain with residual stack).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "geometry/engine.h"

/* ---- maps of the nonlinearity output ---------------------------------------- */

/* y (3 x U) = op applied to Z (3 x F) with choices ch (U). */
void ssli_sc_apply_choice(const ssli_cpwl_op *op, const double *Z, const uint16_t *ch, double *y) {
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

/* Write n choices of `bits` bits each from bit offset off. */
void ssli_sc_set_codes(uint64_t *code, size_t off, size_t bits, const uint16_t *ch, size_t n) {
    if (bits != 1) {
        for (size_t k = 0; k < n; k++) ssli_code_set(code, off + k * bits, bits, ch[k]);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        size_t b = off + k;
        uint64_t m = (uint64_t)1 << (b & 63);
        code[b >> 6] = ch[k] ? code[b >> 6] | m : code[b >> 6] & ~m;
    }
}

/* M (3 x out) += d (3) x conv(e_h): the response of a convolution to unit h
 * of its input, i.e. its kernel scattered around h's position. */
void ssli_sc_conv_scatter(const ssli_cpwl_op *cv, size_t h, const double d[3], double *M) {
    size_t hw = cv->h * cv->w, c = h / hw, y = (h % hw) / cv->w, x = h % cv->w, k = cv->k, out = cv->out;
    size_t ohw = cv->oh * cv->ow;
    for (size_t a = 0; a < k; a++) {
        long ty = (long)y + (long)cv->pad - (long)a;
        if (ty < 0 || ty % (long)cv->stride) continue;
        size_t i = (size_t)ty / cv->stride;
        if (i >= cv->oh) continue;
        for (size_t b = 0; b < k; b++) {
            long tx = (long)x + (long)cv->pad - (long)b;
            if (tx < 0 || tx % (long)cv->stride) continue;
            size_t jx = (size_t)tx / cv->stride;
            if (jx >= cv->ow) continue;
            for (size_t o = 0; o < cv->oc; o++) {
                double w = cv->wgt[((o * cv->c + c) * k + a) * k + b];
                size_t f = o * ohw + i * cv->ow + jx;
                M[f] += d[0] * w;
                M[out + f] += d[1] * w;
                M[2 * out + f] += d[2] * w;
            }
        }
    }
}

/* d (3) = change of output unit h's map when its choice goes from b to c. */
void ssli_sc_choice_delta(const ssli_cpwl_op *op, const double *Z, size_t h, uint16_t b, uint16_t c,
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
sslk_status ssli_sc_run_chain(const engine *E, tls *t, size_t o0, size_t o1, const double *in,
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

