/* CPWL network builder, affine op application on slice maps, and a
 * reference point evaluation.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "geometry/cpwl.h"

#include <string.h>

#include "linalg/linalg.h"

void ssli_cpwl_init(ssli_cpwl *n, const sslk_ctx *ctx, size_t in) {
    memset(n, 0, sizeof *n);
    n->ctx = ctx;
    n->in = n->out = n->cur = n->max_dim = in;
}

void ssli_cpwl_free(ssli_cpwl *n) {
    if (!n) return;
    for (size_t i = 0; i < n->nops; i++) {
        ssli_free(n->ctx, n->ops[i].wgt);
        ssli_free(n->ctx, n->ops[i].b);
        ssli_free(n->ctx, n->ops[i].wt);
        ssli_free(n->ctx, n->ops[i].win);
    }
    ssli_free(n->ctx, n->ops);
    memset(n, 0, sizeof *n);
}

static sslk_status push_op(ssli_cpwl *n, ssli_cpwl_op **out) {
    if (n->nops == n->cap) {
        size_t cap = n->cap ? 2 * n->cap : 16;
        ssli_cpwl_op *o = ssli_calloc(n->ctx, cap, sizeof *o);
        if (!o) return ssli_alloc_status();
        if (n->nops) memcpy(o, n->ops, n->nops * sizeof *o);
        ssli_free(n->ctx, n->ops);
        n->ops = o;
        n->cap = cap;
    }
    ssli_cpwl_op *op = &n->ops[n->nops++];
    memset(op, 0, sizeof *op);
    op->in = n->cur;
    *out = op;
    return SSLK_OK;
}

static void set_out(ssli_cpwl *n, ssli_cpwl_op *op, size_t out) {
    op->out = out;
    n->cur = out;
    if (out > n->max_dim) n->max_dim = out;
}

static sslk_status copy_vals(const sslk_ctx *ctx, double **dst, size_t cnt, const float *f,
                             const double *d) {
    *dst = ssli_malloc(ctx, cnt ? cnt : 1, sizeof(double));
    if (!*dst) return ssli_alloc_status();
    for (size_t i = 0; i < cnt; i++) (*dst)[i] = f ? (double)f[i] : (d ? d[i] : 0.0);
    return SSLK_OK;
}

sslk_status ssli_cpwl_dense(ssli_cpwl *n, size_t out, const float *wf, const double *wd,
                            const float *bf, const double *bd) {
    ssli_cpwl_op *op = NULL;
    size_t cnt;
    if (ssli_mul_overflow(out, n->cur, &cnt)) return ssli_err(SSLK_E_OVERFLOW, "cpwl: dense size");
    SSLI_TRY(push_op(n, &op));
    op->kind = SSLI_COP_DENSE;
    SSLI_TRY(copy_vals(n->ctx, &op->wgt, cnt, wf, wd));
    SSLI_TRY(copy_vals(n->ctx, &op->b, out, bf, bd));
    set_out(n, op, out);
    return SSLK_OK;
}

sslk_status ssli_cpwl_conv(ssli_cpwl *n, size_t c, size_t h, size_t w, size_t oc, size_t k,
                           size_t stride, size_t pad, const float *wf, const double *wd,
                           const float *bf, const double *bd) {
    if (c * h * w != n->cur || k == 0 || stride == 0 || h + 2 * pad < k || w + 2 * pad < k)
        return ssli_err(SSLK_E_SHAPE, "cpwl: conv shape (%zu,%zu,%zu) k=%zu on %zu features", c,
                        h, w, k, n->cur);
    ssli_cpwl_op *op = NULL;
    SSLI_TRY(push_op(n, &op));
    op->kind = SSLI_COP_CONV;
    op->c = c, op->h = h, op->w = w, op->k = k, op->stride = stride, op->pad = pad;
    op->oc = oc;
    op->oh = (h + 2 * pad - k) / stride + 1;
    op->ow = (w + 2 * pad - k) / stride + 1;
    SSLI_TRY(copy_vals(n->ctx, &op->wgt, oc * c * k * k, wf, wd));
    SSLI_TRY(copy_vals(n->ctx, &op->b, oc, bf, bd));
    set_out(n, op, oc * op->oh * op->ow);
    return SSLK_OK;
}

sslk_status ssli_cpwl_scale(ssli_cpwl *n, size_t c, size_t spatial, const double *s,
                            const double *t) {
    if (c * spatial != n->cur) return ssli_err(SSLK_E_SHAPE, "cpwl: scale shape");
    ssli_cpwl_op *op = NULL;
    SSLI_TRY(push_op(n, &op));
    op->kind = SSLI_COP_SCALE;
    op->c = c;
    op->h = spatial;
    op->w = 1;
    SSLI_TRY(copy_vals(n->ctx, &op->wgt, c, NULL, s));
    SSLI_TRY(copy_vals(n->ctx, &op->b, c, NULL, t));
    set_out(n, op, n->cur);
    return SSLK_OK;
}

static sslk_status pool_op(ssli_cpwl *n, ssli_cop kind, size_t c, size_t h, size_t w, size_t k,
                           size_t stride, size_t pad, ssli_cpwl_op **out) {
    if (c * h * w != n->cur || k == 0 || stride == 0 || 2 * pad > k || k > h + 2 * pad || k > w + 2 * pad)
        return ssli_err(SSLK_E_SHAPE, "cpwl: pool shape (%zu,%zu,%zu) k=%zu pad=%zu", c, h, w, k, pad);
    ssli_cpwl_op *op = NULL;
    SSLI_TRY(push_op(n, &op));
    op->kind = kind;
    op->c = c, op->h = h, op->w = w, op->k = k, op->stride = stride, op->pad = pad;
    op->oc = c;
    op->oh = (h + 2 * pad - k) / stride + 1;
    op->ow = (w + 2 * pad - k) / stride + 1;
    set_out(n, op, c * op->oh * op->ow);
    *out = op;
    return SSLK_OK;
}

sslk_status ssli_cpwl_avgpool(ssli_cpwl *n, size_t c, size_t h, size_t w, size_t k, size_t stride) {
    ssli_cpwl_op *op = NULL;
    return pool_op(n, SSLI_COP_AVGPOOL, c, h, w, k, stride, 0, &op);
}

sslk_status ssli_cpwl_maxpool(ssli_cpwl *n, size_t c, size_t h, size_t w, size_t k, size_t stride,
                              size_t pad) {
    ssli_cpwl_op *op = NULL;
    if (k > 64) return ssli_err(SSLK_E_UNSUPPORTED, "cpwl: max-pool window %zu x %zu is larger than 64 x 64", k, k);
    SSLI_TRY(pool_op(n, SSLI_COP_MAXPOOL, c, h, w, k, stride, pad, &op));
    op->m = k * k;
    op->code_bits = 0;
    while (((size_t)1 << op->code_bits) < op->m) op->code_bits++;
    op->win = ssli_malloc(n->ctx, op->out * op->m, sizeof(uint32_t));
    if (!op->win) return ssli_alloc_status();
    for (size_t ch = 0; ch < c; ch++)
        for (size_t i = 0; i < op->oh; i++)
            for (size_t j = 0; j < op->ow; j++) {
                uint32_t *wn = op->win + ((ch * op->oh + i) * op->ow + j) * op->m;
                /* a padded entry (-inf) repeats the window's first real entry:
                 * identical entries resolve to the first, so it never changes
                 * the maximum or the pieces (pad <= k / 2 keeps one real entry) */
                size_t y0 = i * stride >= pad ? i * stride - pad : 0, x0 = j * stride >= pad ? j * stride - pad : 0;
                uint32_t first = (uint32_t)((ch * h + y0) * w + x0);
                for (size_t a = 0; a < k; a++)
                    for (size_t b = 0; b < k; b++) {
                        long yy = (long)(i * stride + a) - (long)pad, xx = (long)(j * stride + b) - (long)pad;
                        wn[a * k + b] = yy >= 0 && yy < (long)h && xx >= 0 && xx < (long)w
                                            ? (uint32_t)((ch * h + (size_t)yy) * w + (size_t)xx)
                                            : first;
                    }
            }
    return SSLK_OK;
}

sslk_status ssli_cpwl_gap(ssli_cpwl *n, size_t c, size_t h, size_t w) {
    if (c * h * w != n->cur) return ssli_err(SSLK_E_SHAPE, "cpwl: gap shape");
    ssli_cpwl_op *op = NULL;
    SSLI_TRY(push_op(n, &op));
    op->kind = SSLI_COP_GAP;
    op->c = c, op->h = h, op->w = w;
    set_out(n, op, c);
    return SSLK_OK;
}

sslk_status ssli_cpwl_unit(ssli_cpwl *n, double neg, double pos) {
    ssli_cpwl_op *op = NULL;
    SSLI_TRY(push_op(n, &op));
    op->kind = SSLI_COP_UNIT;
    op->neg = neg;
    op->pos = pos;
    op->code_bits = 1;
    set_out(n, op, n->cur);
    return SSLK_OK;
}

sslk_status ssli_cpwl_push(ssli_cpwl *n) {
    if (n->sdepth == sizeof n->sdims / sizeof n->sdims[0])
        return ssli_err(SSLK_E_UNSUPPORTED, "cpwl: residual blocks nested too deeply");
    ssli_cpwl_op *op = NULL;
    SSLI_TRY(push_op(n, &op));
    op->kind = SSLI_COP_PUSH;
    n->sdims[n->sdepth++] = n->cur;
    set_out(n, op, n->cur);
    return SSLK_OK;
}

sslk_status ssli_cpwl_swap(ssli_cpwl *n) {
    if (n->sdepth == 0) return ssli_err(SSLK_E_STATE, "cpwl: swap on an empty stack");
    ssli_cpwl_op *op = NULL;
    SSLI_TRY(push_op(n, &op));
    op->kind = SSLI_COP_SWAP;
    op->top_dim = n->sdims[n->sdepth - 1];
    n->sdims[n->sdepth - 1] = n->cur;
    set_out(n, op, op->top_dim);
    return SSLK_OK;
}

sslk_status ssli_cpwl_add(ssli_cpwl *n) {
    if (n->sdepth == 0 || n->sdims[n->sdepth - 1] != n->cur)
        return ssli_err(SSLK_E_SHAPE, "cpwl: residual add of mismatched maps");
    ssli_cpwl_op *op = NULL;
    SSLI_TRY(push_op(n, &op));
    op->kind = SSLI_COP_ADD;
    op->top_dim = n->cur;
    n->sdepth--;
    set_out(n, op, n->cur);
    return SSLK_OK;
}

bool ssli_cpwl_fold_scale(ssli_cpwl *n, const double *s, const double *t) {
    if (n->nops == 0) return false;
    ssli_cpwl_op *op = &n->ops[n->nops - 1];
    if (op->kind == SSLI_COP_DENSE) {
        for (size_t o = 0; o < op->out; o++) {
            for (size_t i = 0; i < op->in; i++) op->wgt[o * op->in + i] *= s[o];
            op->b[o] = s[o] * op->b[o] + t[o];
        }
        return true;
    }
    if (op->kind == SSLI_COP_CONV) {
        size_t per = op->c * op->k * op->k;
        for (size_t o = 0; o < op->oc; o++) {
            for (size_t i = 0; i < per; i++) op->wgt[o * per + i] *= s[o];
            op->b[o] = s[o] * op->b[o] + t[o];
        }
        return true;
    }
    return false;
}

sslk_status ssli_cpwl_finish(ssli_cpwl *n) {
    if (n->sdepth != 0) return ssli_err(SSLK_E_STATE, "cpwl: unclosed residual block");
    size_t bits = 0, stack = 0;
    n->max_stack = 0;
    for (size_t i = 0; i < n->nops; i++) {
        ssli_cpwl_op *op = &n->ops[i];
        op->stack_before = stack;
        if (op->kind == SSLI_COP_PUSH) stack += 3 * op->in;
        else if (op->kind == SSLI_COP_SWAP) stack = stack - 3 * op->top_dim + 3 * op->in;
        else if (op->kind == SSLI_COP_ADD) stack -= 3 * op->in;
        if (stack > n->max_stack) n->max_stack = stack;
        if (ssli_cop_nonlinear(op->kind)) {
            op->code_off = bits;
            bits += op->code_bits * op->out;
        }
        if (op->kind == SSLI_COP_DENSE && !op->wt) {
            op->wt = ssli_malloc(n->ctx, op->in * op->out, sizeof(double));
            if (!op->wt) return ssli_alloc_status();
            for (size_t o = 0; o < op->out; o++)
                for (size_t j = 0; j < op->in; j++) op->wt[j * op->out + o] = op->wgt[o * op->in + j];
        }
    }
    n->code_bits = bits;
    n->out = n->cur;
    n->finished = true;
    return SSLK_OK;
}

/* ---- affine ops on maps ---------------------------------------------------- */

static void conv_image(const ssli_cpwl_op *op, const double *x, double *col, double *y) {
    size_t k = op->k, ohw = op->oh * op->ow;
    for (size_t ch = 0; ch < op->c; ch++)
        for (size_t a = 0; a < k; a++)
            for (size_t b = 0; b < k; b++) {
                double *row = col + ((ch * k + a) * k + b) * ohw;
                for (size_t i = 0; i < op->oh; i++) {
                    long yy = (long)(i * op->stride + a) - (long)op->pad;
                    for (size_t j = 0; j < op->ow; j++) {
                        long xx = (long)(j * op->stride + b) - (long)op->pad;
                        row[i * op->ow + j] =
                            (yy >= 0 && yy < (long)op->h && xx >= 0 && xx < (long)op->w)
                                ? x[(ch * op->h + (size_t)yy) * op->w + (size_t)xx]
                                : 0.0;
                    }
                }
            }
    ssli_dgemm(NULL, false, false, op->oc, ohw, op->c * k * k, 1.0, op->wgt, op->c * k * k, col, ohw,
               0.0, y, ohw);
}

/* An affine op on `rows` rows of X; the bias goes to rows r with
 * r % period == period - 1 (maps: period 3, the value row; plain values: 1). */
static sslk_status affine_rows(const ssli_cpwl *n, const ssli_cpwl_op *op, const double *X,
                               size_t rows, size_t period, double *Y) {
    const size_t in = op->in, out = op->out, brow = period - 1;
    switch (op->kind) {
    case SSLI_COP_DENSE:
        /* plain value rows (the double evaluator) may be many: threaded GEMM */
        ssli_dgemm(period == 1 ? n->ctx : NULL, false, true, rows, out, in, 1.0, X, in, op->wgt, in, 0.0,
                   Y, out);
        for (size_t r = brow; r < rows; r += period)
            for (size_t o = 0; o < out; o++) Y[r * out + o] += op->b[o];
        return SSLK_OK;
    case SSLI_COP_CONV: {
        double *col = ssli_malloc(n->ctx, op->c * op->k * op->k * op->oh * op->ow, sizeof(double));
        if (!col) return ssli_alloc_status();
        size_t ohw = op->oh * op->ow;
        for (size_t r = 0; r < rows; r++) {
            double *y = Y + r * out;
            conv_image(op, X + r * in, col, y);
            if (r % period == brow)
                for (size_t o = 0; o < op->oc; o++)
                    for (size_t i = 0; i < ohw; i++) y[o * ohw + i] += op->b[o];
        }
        ssli_free(n->ctx, col);
        return SSLK_OK;
    }
    case SSLI_COP_SCALE:
        for (size_t r = 0; r < rows; r++)
            for (size_t ch = 0; ch < op->c; ch++)
                for (size_t i = 0; i < op->h; i++) {
                    size_t f = ch * op->h + i;
                    Y[r * out + f] = op->wgt[ch] * X[r * in + f] + (r % period == brow ? op->b[ch] : 0.0);
                }
        return SSLK_OK;
    case SSLI_COP_AVGPOOL: {
        double inv = 1.0 / (double)(op->k * op->k);
        for (size_t r = 0; r < rows; r++)
            for (size_t ch = 0; ch < op->c; ch++)
                for (size_t i = 0; i < op->oh; i++)
                    for (size_t j = 0; j < op->ow; j++) {
                        double s = 0;
                        for (size_t a = 0; a < op->k; a++)
                            for (size_t b = 0; b < op->k; b++)
                                s += X[r * in + (ch * op->h + i * op->stride + a) * op->w +
                                       j * op->stride + b];
                        Y[r * out + (ch * op->oh + i) * op->ow + j] = s * inv;
                    }
        return SSLK_OK;
    }
    case SSLI_COP_GAP: {
        size_t hw = op->h * op->w;
        for (size_t r = 0; r < rows; r++)
            for (size_t ch = 0; ch < op->c; ch++) {
                double s = 0;
                for (size_t i = 0; i < hw; i++) s += X[r * in + ch * hw + i];
                Y[r * out + ch] = s / (double)hw;
            }
        return SSLK_OK;
    }
    default:
        return ssli_err(SSLK_E_INTERNAL, "cpwl: op %d is not affine", (int)op->kind);
    }
}

sslk_status ssli_cpwl_apply_affine(const ssli_cpwl *n, const ssli_cpwl_op *op, const double *X,
                                   size_t nmaps, double *Y) {
    return affine_rows(n, op, X, 3 * nmaps, 3, Y);
}

/* ---- the double evaluator --------------------------------------------------
 * Plain value rows (rows x features), the residual stack holding whole
 * batches; the same ops as the map walk, so SplineCam's nets and the
 * reference agree op for op. */

sslk_status ssli_cpwl_eval_rows(const ssli_cpwl *n, const double *x, size_t rows, double *y,
                                uint64_t *code, ssli_cpwl_point_cb cb, void *user) {
    const size_t D = n->max_dim, words = ssli_code_words(n->code_bits);
    size_t per_row = 2 * D + n->max_stack / 3, cnt; /* max_stack counts 3-row maps */
    if (ssli_mul_overflow(rows, per_row, &cnt))
        return ssli_err(SSLK_E_OVERFLOW, "cpwl: evaluation of %zu rows x %zu doubles overflows", rows, per_row);
    double *buf = ssli_malloc(n->ctx, cnt ? cnt : 1, sizeof(double));
    if (!buf) return ssli_alloc_status();
    double *cur = buf, *nxt = buf + rows * D, *stack = nxt + rows * D, *t;
    size_t sp = 0;
    memcpy(cur, x, rows * n->in * sizeof(double));
    if (code) memset(code, 0, rows * words * sizeof(uint64_t));
    sslk_status st = SSLK_OK;
    for (size_t i = 0; i < n->nops && st == SSLK_OK; i++) {
        const ssli_cpwl_op *op = &n->ops[i];
        const size_t in = op->in, out = op->out;
        switch (op->kind) {
        case SSLI_COP_UNIT:
            for (size_t r = 0; r < rows; r++)
                for (size_t f = 0; f < in; f++) {
                    double *v = cur + r * in + f;
                    if (code) ssli_code_set(code + r * words, op->code_off + f, 1, *v > 0);
                    *v *= *v > 0 ? op->pos : op->neg;
                }
            break;
        case SSLI_COP_MAXPOOL:
            for (size_t r = 0; r < rows; r++)
                for (size_t f = 0; f < out; f++) {
                    const double *v = cur + r * in;
                    const uint32_t *wn = op->win + f * op->m;
                    size_t best = 0;
                    for (size_t j = 1; j < op->m; j++)
                        if (v[wn[j]] > v[wn[best]]) best = j;
                    nxt[r * out + f] = v[wn[best]];
                    if (code)
                        ssli_code_set(code + r * words, op->code_off + f * op->code_bits, op->code_bits, best);
                }
            t = cur, cur = nxt, nxt = t;
            break;
        case SSLI_COP_PUSH:
            memcpy(stack + sp, cur, rows * in * sizeof(double));
            sp += rows * in;
            break;
        case SSLI_COP_SWAP: {
            const size_t td = rows * op->top_dim;
            memcpy(nxt, stack + sp - td, td * sizeof(double));
            sp -= td;
            memcpy(stack + sp, cur, rows * in * sizeof(double));
            sp += rows * in;
            t = cur, cur = nxt, nxt = t;
            break;
        }
        case SSLI_COP_ADD:
            sp -= rows * in;
            for (size_t f = 0; f < rows * in; f++) cur[f] += stack[sp + f];
            break;
        default:
            st = affine_rows(n, op, cur, rows, 1, nxt);
            t = cur, cur = nxt, nxt = t;
        }
        if (st == SSLK_OK && op->point && cb) st = cb(user, op->point - 1, cur, rows, out);
    }
    if (st == SSLK_OK) memcpy(y, cur, rows * n->out * sizeof(double));
    ssli_free(n->ctx, buf);
    return st;
}

sslk_status ssli_cpwl_eval(const ssli_cpwl *n, const double *x, double *out, uint64_t *code) {
    return ssli_cpwl_eval_rows(n, x, 1, out, code, NULL, NULL);
}
