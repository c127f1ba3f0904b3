/* The optimizer step and zero_grad, parallel over fixed chunks of every
 * tensor at once (issue 16).  Before, each tensor had its own parallel loop
 * and tensors under 2^18 values (biases, batch-norm weights, the projector's
 * layers) ran on one thread: half of the AdamW step stayed serial.  Now one
 * parallel region checks every gradient (the NaN/Inf gate), one updates
 * every tensor, with the work cut into chunks of at most CHUNK values whose
 * boundaries depend on the tensor sizes only.  SGD and AdamW are elementwise,
 * so their results are those of the one-thread loop bit for bit; LARS's
 * norms are summed per chunk and the chunk sums added in chunk order, which
 * is the same at every thread count.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <string.h>

#include "nn/optim_internal.h"

#define IDX(key) ssli_setting_index(opt->table, key)
/* 64 KB of each array per chunk: AdamW streams four arrays, 256 KB in L2 */
#define CHUNK ((size_t)1 << 14)
/* below this many values in all, one thread (a parallel region is a barrier) */
#define PAR_MIN ((size_t)1 << 15)

void ssli_optim_free_chunks(sslk_optim *opt) {
    ssli_free(opt->ctx, opt->chunks);
    ssli_free(opt->ctx, opt->part);
    ssli_free(opt->ctx, opt->coef);
    opt->chunks = NULL, opt->part = NULL, opt->coef = NULL;
    opt->nchunks = 0;
}

sslk_status ssli_optim_build_chunks(sslk_optim *opt) {
    size_t n = 0;
    for (size_t i = 0; i < opt->np; i++) n += (opt->p[i].v.count + CHUNK - 1) / CHUNK;
    ssli_optim_chunk *ch = ssli_malloc(opt->ctx, n ? n : 1, sizeof *ch);
    double *part = ssli_malloc(opt->ctx, n ? 2 * n : 1, sizeof *part);
    ssli_optim_coef *coef = ssli_calloc(opt->ctx, opt->np ? opt->np : 1, sizeof *coef);
    if (!ch || !part || !coef) {
        ssli_free(opt->ctx, ch), ssli_free(opt->ctx, part), ssli_free(opt->ctx, coef);
        return ssli_alloc_status();
    }
    size_t k = 0;
    for (size_t i = 0; i < opt->np; i++)
        for (size_t lo = 0; lo < opt->p[i].v.count; lo += CHUNK) {
            ch[k].param = i, ch[k].lo = lo;
            ch[k].hi = lo + CHUNK < opt->p[i].v.count ? lo + CHUNK : opt->p[i].v.count;
            k++;
        }
    ssli_optim_free_chunks(opt);
    opt->chunks = ch, opt->part = part, opt->coef = coef;
    opt->nchunks = n;
    return SSLK_OK;
}

static int step_threads(const sslk_optim *opt) {
    size_t total = 0;
    for (size_t i = 0; i < opt->np; i++) total += opt->p[i].v.count;
    return total >= PAR_MIN && opt->nchunks > 1 ? ssli_threads(opt->ctx) : 1;
}

/* First non-finite value of g[0..n) (exponent bits all ones), or SIZE_MAX;
 * the integer OR over the block vectorises, the exact scan runs on a hit only. */
static size_t first_bad(const float *g, size_t n) {
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, g + i, sizeof u);
        bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
    }
    if (!bad) return SIZE_MAX;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(g[i])) return i;
    return SIZE_MAX;
}

/* LARS: |p|^2 and |g + wd p|^2 of one chunk, four double lanes */
static void lars_sums(const float *p, const float *g, float wd, size_t n, double out[2]) {
    double a[4] = {0, 0, 0, 0}, b[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) {
            float d = g[i + k] + wd * p[i + k];
            a[k] += (double)p[i + k] * p[i + k];
            b[k] += (double)d * d;
        }
    for (; i < n; i++) {
        float d = g[i] + wd * p[i];
        a[0] += (double)p[i] * p[i];
        b[0] += (double)d * d;
    }
    out[0] = (a[0] + a[1]) + (a[2] + a[3]);
    out[1] = (b[0] + b[1]) + (b[2] + b[3]);
}

/* Per-tensor constants of this step (LARS's trust ratio from the chunk sums). */
static void coefficients(sslk_optim *opt) {
    for (size_t i = 0, k = 0; i < opt->np; i++) {
        const ssli_optim_param *q = &opt->p[i];
        const double *s = opt->groups[q->group];
        ssli_optim_coef *c = &opt->coef[i];
        const bool nd = (q->v.flags & SSLK_PARAM_NO_DECAY) != 0;
        switch (opt->kind) {
        case SSLK_OPTIM_SGD:
            c->lr = (float)(s[IDX(SSLK_SGD_LR)] * opt->lr_scale);
            c->mom = (float)s[IDX(SSLK_SGD_MOMENTUM)];
            c->damp = (float)s[IDX(SSLK_SGD_DAMPENING)];
            c->nesterov = s[IDX(SSLK_SGD_NESTEROV)] != 0.0;
            c->wd = s[IDX(SSLK_SGD_EXCLUDE_NO_DECAY)] != 0.0 && nd ? 0.0f : (float)s[IDX(SSLK_SGD_WEIGHT_DECAY)];
            c->first = !q->has_buf;
            break;
        case SSLK_OPTIM_LARS: {
            const bool excluded = s[IDX(SSLK_LARS_EXCLUDE_NO_DECAY)] != 0.0 && nd;
            c->lr = (float)(s[IDX(SSLK_LARS_LR)] * opt->lr_scale);
            c->mom = (float)s[IDX(SSLK_LARS_MOMENTUM)];
            c->wd = excluded ? 0.0f : (float)s[IDX(SSLK_LARS_WEIGHT_DECAY)];
            c->scale = 1.0f;
            double pn = 0, un = 0;
            for (; k < opt->nchunks && opt->chunks[k].param == i; k++) pn += opt->part[2 * k], un += opt->part[2 * k + 1];
            pn = sqrt(pn), un = sqrt(un);
            if (!excluded && pn > 0.0 && un > 0.0) c->scale = (float)(s[IDX(SSLK_LARS_ETA)] * pn / un);
            break;
        }
        case SSLK_OPTIM_ADAMW: {
            const double lr = s[IDX(SSLK_ADAMW_LR)] * opt->lr_scale;
            const double b1 = s[IDX(SSLK_ADAMW_BETA1)], b2 = s[IDX(SSLK_ADAMW_BETA2)];
            double wd = s[IDX(SSLK_ADAMW_WEIGHT_DECAY)];
            if (s[IDX(SSLK_ADAMW_EXCLUDE_NO_DECAY)] != 0.0 && nd) wd = 0.0;
            const double t = (double)(q->t + 1);
            const double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
            c->step = (float)(lr / bc1), c->isb2 = (float)(1.0 / sqrt(bc2));
            c->decay = (float)(1.0 - lr * wd), c->b1 = (float)b1, c->b2 = (float)b2;
            c->c1 = (float)(1.0 - b1), c->c2 = (float)(1.0 - b2); /* in double: 1 - 0.999f loses 5 digits */
            c->eps = (float)s[IDX(SSLK_ADAMW_EPS)];
            break;
        }
        }
    }
}

/* The update of values [lo, hi) of tensor q (PyTorch's formulas, as before). */
static void update(sslk_optim_kind kind, const ssli_optim_coef *c, ssli_optim_param *q, size_t lo, size_t hi) {
    float *p = q->v.data;
    const float *g = q->v.grad;
    switch (kind) {
    case SSLK_OPTIM_SGD: {
        float *buf = q->s1;
        for (size_t i = lo; i < hi; i++) {
            float d = g[i] + c->wd * p[i];
            if (c->mom != 0.0f) {
                buf[i] = c->first ? d : c->mom * buf[i] + (1.0f - c->damp) * d;
                d = c->nesterov ? d + c->mom * buf[i] : buf[i];
            }
            p[i] -= c->lr * d;
        }
        break;
    }
    case SSLK_OPTIM_LARS: {
        float *mu = q->s1;
        for (size_t i = lo; i < hi; i++) {
            float d = (g[i] + c->wd * p[i]) * c->scale;
            mu[i] = c->mom * mu[i] + d;
            p[i] -= c->lr * mu[i];
        }
        break;
    }
    case SSLK_OPTIM_ADAMW: {
        float *m1 = q->s1, *m2 = q->s2;
        for (size_t i = lo; i < hi; i++) {
            p[i] *= c->decay;
            m1[i] = c->b1 * m1[i] + c->c1 * g[i];
            m2[i] = c->b2 * m2[i] + c->c2 * g[i] * g[i];
            p[i] -= c->step * m1[i] / (sqrtf(m2[i]) * c->isb2 + c->eps);
        }
        break;
    }
    }
}

sslk_status sslk_optim_step(sslk_optim *opt) {
    static const char fn[] = "sslk_optim_step";
    SSLI_CHECK_PTR(opt, fn);
    const long long nch = (long long)opt->nchunks;
    const ssli_optim_chunk *ch = opt->chunks;
    const bool lars = opt->kind == SSLK_OPTIM_LARS;
    const int nt = step_threads(opt);
    /* the gate: the first bad value in (tensor, element) order, i.e. the lowest chunk */
    long long bad_chunk = nch;
    size_t bad_at = 0;
#pragma omp parallel for schedule(static) num_threads(nt) reduction(min : bad_chunk)
    for (long long k = 0; k < nch; k++) {
        const ssli_optim_param *q = &opt->p[ch[k].param];
        if (first_bad(q->v.grad + ch[k].lo, ch[k].hi - ch[k].lo) != SIZE_MAX) {
            if (k < bad_chunk) bad_chunk = k;
        } else if (lars) {
            float wd = (float)opt->groups[q->group][IDX(SSLK_LARS_WEIGHT_DECAY)];
            if (opt->groups[q->group][IDX(SSLK_LARS_EXCLUDE_NO_DECAY)] != 0.0 && (q->v.flags & SSLK_PARAM_NO_DECAY))
                wd = 0.0f;
            lars_sums(q->v.data + ch[k].lo, q->v.grad + ch[k].lo, wd, ch[k].hi - ch[k].lo, opt->part + 2 * k);
        }
    }
    if (bad_chunk < nch) {
        const ssli_optim_param *q = &opt->p[ch[bad_chunk].param];
        bad_at = ch[bad_chunk].lo + first_bad(q->v.grad + ch[bad_chunk].lo, ch[bad_chunk].hi - ch[bad_chunk].lo);
        return ssli_err(SSLK_E_NONFINITE, "%s: gradient of '%s' holds %g at element %zu: no parameter was updated", fn,
                        q->v.name ? q->v.name : "?", (double)q->v.grad[bad_at], bad_at);
    }
    coefficients(opt);
    const sslk_optim_kind kind = opt->kind;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (long long k = 0; k < nch; k++)
        update(kind, &opt->coef[ch[k].param], &opt->p[ch[k].param], ch[k].lo, ch[k].hi);
    for (size_t i = 0; i < opt->np; i++) {
        ssli_optim_param *q = &opt->p[i];
        if (kind == SSLK_OPTIM_SGD && opt->coef[i].mom != 0.0f) q->has_buf = 1;
        q->t++;
    }
    opt->steps++;
    return SSLK_OK;
}

sslk_status sslk_optim_zero_grad(sslk_optim *opt) {
    SSLI_CHECK_PTR(opt, "sslk_optim_zero_grad");
    const long long nch = (long long)opt->nchunks;
    const ssli_optim_chunk *ch = opt->chunks;
#pragma omp parallel for schedule(static) num_threads(step_threads(opt))
    for (long long k = 0; k < nch; k++)
        memset(opt->p[ch[k].param].v.grad + ch[k].lo, 0, (ch[k].hi - ch[k].lo) * sizeof(float));
    return SSLK_OK;
}
