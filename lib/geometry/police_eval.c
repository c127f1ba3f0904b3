/* Double-precision evaluation of a model (evaluation mode) with a callback
 * at every pre-activation point: the reference for verification, the double
 * shifts of a constraint, and freezing.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <float.h>
#include <math.h>
#include <string.h>

#include "geometry/police_internal.h"
#include "linalg/linalg.h"

typedef struct evalctx {
    const sslk_model *m;
    ssli_police_dcb cb;
    void *user;
    size_t point;
} evalctx;

static double *dalloc(const sslk_ctx *ctx, size_t rows, size_t cols) {
    size_t n;
    if (ssli_mul_overflow(rows, cols, &n)) return NULL;
    return ssli_malloc(ctx, n ? n : 1, sizeof(double));
}

static sslk_status linear_d(const sslk_model *m, const ssli_layer *L, const double *x, size_t rows,
                            double *y) {
    const size_t in = ssli_shape_numel(L->in), out = ssli_shape_numel(L->out);
    double *W = dalloc(m->ctx, out, in);
    if (!W) return ssli_alloc_status();
    for (size_t i = 0; i < out * in; i++) W[i] = L->weight[i];
    ssli_dgemm(m->ctx, false, true, rows, out, in, 1.0, x, in, W, in, 0.0, y, out);
    ssli_free(m->ctx, W);
    if (L->bias)
        for (size_t r = 0; r < rows; r++)
            for (size_t o = 0; o < out; o++) y[r * out + o] += L->bias[o];
    return SSLK_OK;
}

static void conv_d(const ssli_layer *L, const double *x, size_t rows, double *y) {
    const size_t C = L->in.c, H = L->in.h, Wd = L->in.w, K = L->kernel, st = L->stride, pd = L->pad;
    const size_t OC = L->out.c, OH = L->out.h, OW = L->out.w;
    const size_t in = C * H * Wd, out = OC * OH * OW;
    for (size_t r = 0; r < rows; r++)
        for (size_t o = 0; o < OC; o++)
            for (size_t oy = 0; oy < OH; oy++)
                for (size_t ox = 0; ox < OW; ox++) {
                    double s = 0.0;
                    for (size_t c = 0; c < C; c++)
                        for (size_t ky = 0; ky < K; ky++) {
                            size_t iy = oy * st + ky;
                            if (iy < pd || iy - pd >= H) continue;
                            for (size_t kx = 0; kx < K; kx++) {
                                size_t ix = ox * st + kx;
                                if (ix < pd || ix - pd >= Wd) continue;
                                s += (double)L->weight[((o * C + c) * K + ky) * K + kx] *
                                     x[r * in + (c * H + iy - pd) * Wd + ix - pd];
                            }
                        }
                    if (L->bias) s += L->bias[o];
                    y[r * out + (o * OH + oy) * OW + ox] = s;
                }
}

/* Batch-norm in evaluation mode as y = sc x + sh (the SplineCam form). */
static void bn_d(const sslk_model *m, const ssli_layer *L, const double *x, size_t rows, double *y) {
    const size_t C = L->in.c, S = L->in.h * L->in.w;
    const double eps = ssli_model_bn_eps(m);
    for (size_t c = 0; c < C; c++) {
        double g = L->weight ? L->weight[c] : 1.0, b = L->bias ? L->bias[c] : 0.0;
        double sc = g / sqrt((double)L->running_var[c] + eps);
        double sh = b - (double)L->running_mean[c] * sc;
        for (size_t r = 0; r < rows; r++)
            for (size_t q = 0; q < S; q++) {
                size_t i = r * C * S + c * S + q;
                y[i] = sc * x[i] + sh;
            }
    }
}

static void pool_d(const ssli_layer *L, const double *x, size_t rows, double *y) {
    const size_t C = L->in.c, H = L->in.h, W = L->in.w;
    if (L->kind == SSLI_LAYER_GAP) {
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < C; c++) {
                double s = 0.0;
                for (size_t q = 0; q < H * W; q++) s += x[r * C * H * W + c * H * W + q];
                y[r * C + c] = s / (double)(H * W);
            }
        return;
    }
    const size_t K = L->kernel, st = L->stride, OH = L->out.h, OW = L->out.w;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < C; c++)
            for (size_t oy = 0; oy < OH; oy++)
                for (size_t ox = 0; ox < OW; ox++) {
                    double s = 0.0;
                    for (size_t ky = 0; ky < K; ky++)
                        for (size_t kx = 0; kx < K; kx++)
                            s += x[r * C * H * W + (c * H + oy * st + ky) * W + ox * st + kx];
                    y[r * C * OH * OW + (c * OH + oy) * OW + ox] = s / (double)(K * K);
                }
}

/* Evaluate s on x (rows); *y is a new buffer owned by the caller. */
static sslk_status seq_d(evalctx *E, const ssli_seq *s, const double *x, size_t rows, double **y) {
    const sslk_ctx *ctx = E->m->ctx;
    double *cur = dalloc(ctx, rows, ssli_shape_numel(s->in));
    if (!cur) return ssli_alloc_status();
    memcpy(cur, x, rows * ssli_shape_numel(s->in) * sizeof(double));
    sslk_status st = SSLK_OK;
    for (size_t i = 0; i < s->n && st == SSLK_OK; i++) {
        const ssli_layer *L = &s->layers[i];
        const size_t in = ssli_shape_numel(L->in), out = ssli_shape_numel(L->out);
        double *nxt = NULL;
        switch (L->kind) {
        case SSLI_LAYER_FLATTEN: break;
        case SSLI_LAYER_RELU:
        case SSLI_LAYER_LEAKY_RELU:
        case SSLI_LAYER_ABS: {
            double neg = L->kind == SSLI_LAYER_RELU ? 0.0
                         : L->kind == SSLI_LAYER_ABS ? -1.0 : (double)L->slope;
            for (size_t j = 0; j < rows * in; j++)
                if (!(cur[j] > 0.0)) cur[j] *= neg;
            break;
        }
        case SSLI_LAYER_BATCHNORM: bn_d(E->m, L, cur, rows, cur); break;
        case SSLI_LAYER_RESIDUAL: {
            double *yb = NULL, *ys = NULL;
            st = L->body ? seq_d(E, L->body, cur, rows, &yb) : SSLK_E_INTERNAL;
            if (st == SSLK_OK && L->shortcut) st = seq_d(E, L->shortcut, cur, rows, &ys);
            if (st == SSLK_OK) {
                const double *sc = ys ? ys : cur;
                for (size_t j = 0; j < rows * out; j++) yb[j] += sc[j];
                nxt = yb;
                yb = NULL;
            }
            ssli_free(ctx, yb);
            ssli_free(ctx, ys);
            break;
        }
        case SSLI_LAYER_LINEAR:
        case SSLI_LAYER_CONV2D:
        case SSLI_LAYER_AVGPOOL:
        case SSLI_LAYER_GAP:
            nxt = dalloc(ctx, rows, out);
            if (!nxt) {
                st = ssli_alloc_status();
                break;
            }
            if (L->kind == SSLI_LAYER_LINEAR) st = linear_d(E->m, L, cur, rows, nxt);
            else if (L->kind == SSLI_LAYER_CONV2D) conv_d(L, cur, rows, nxt);
            else pool_d(L, cur, rows, nxt);
            break;
        default:
            st = ssli_err(SSLK_E_UNSUPPORTED, "police: layer '%s' (kind %d) is not supported", L->name,
                          (int)L->kind);
        }
        if (nxt) {
            ssli_free(ctx, cur);
            cur = nxt;
        }
        if (st == SSLK_OK && ssli_seq_is_preact(s, i)) {
            if (E->cb) st = E->cb(E->user, E->point, L, cur, rows, out);
            E->point++;
        }
    }
    if (st != SSLK_OK) {
        ssli_free(ctx, cur);
        return st;
    }
    *y = cur;
    return SSLK_OK;
}

sslk_status ssli_police_eval_d(const sslk_model *m, const double *x, size_t rows, double *y,
                               ssli_police_dcb cb, void *user) {
    evalctx E = {m, cb, user, 0};
    double *out = NULL;
    SSLI_TRY(seq_d(&E, ssli_model_top(m), x, rows, &out));
    memcpy(y, out, rows * ssli_shape_numel(ssli_model_top(m)->out) * sizeof(double));
    ssli_free(m->ctx, out);
    return SSLK_OK;
}

/* ---- double shifts ---------------------------------------------------------- */

typedef struct shiftctx {
    sslk_police *p;
    double **shifts;
} shiftctx;

/* Vertex rows are the last p->c rows of h. */
static sslk_status shift_cb(void *user, size_t point, const ssli_layer *L, double *h, size_t rows,
                            size_t width) {
    shiftctx *S = user;
    sslk_police *p = S->p;
    (void)L;
    if (point >= p->npts) return ssli_err(SSLK_E_INTERNAL, "police: point %zu out of range", point);
    if (!ssli_police_active(p, point)) return SSLK_OK;
    const ssli_police_point *P = &p->pts[point];
    double *dl = S->shifts[point];
    const double *V = h + (rows - p->c) * width;
    for (size_t u = 0; u < P->units; u++) {
        size_t arg;
        ssli_police_rule_d(V, p->c, width, u, P->spatial, &dl[u], &arg);
    }
    for (size_t r = 0; r < rows; r++)
        for (size_t u = 0; u < P->units; u++)
            for (size_t q = 0; q < P->spatial; q++) h[r * width + u * P->spatial + q] -= dl[u];
    return SSLK_OK;
}

void ssli_police_free_shifts(const sslk_police *p, double **shifts) {
    if (!shifts) return;
    for (size_t i = 0; i < p->npts; i++) ssli_free(p->ctx, shifts[i]);
    ssli_free(p->ctx, shifts);
}

static sslk_status alloc_shifts(const sslk_police *p, double ***out) {
    double **s = ssli_calloc(p->ctx, p->npts ? p->npts : 1, sizeof(double *));
    if (!s) return ssli_alloc_status();
    for (size_t i = 0; i < p->npts; i++) {
        s[i] = ssli_calloc(p->ctx, p->pts[i].units, sizeof(double));
        if (!s[i]) {
            ssli_police_free_shifts(p, s);
            return ssli_alloc_status();
        }
    }
    *out = s;
    return SSLK_OK;
}

/* Evaluate rows x (the last p->c of which must be p's vertices) with the
 * double shifts; y may be NULL. */
static sslk_status run_shifts(sslk_police *p, const double *x, size_t rows, double *y,
                              double **shifts) {
    shiftctx S = {p, shifts};
    double *out = y;
    if (!out) {
        out = dalloc(p->ctx, rows, ssli_shape_numel(ssli_model_top(p->model)->out));
        if (!out) return ssli_alloc_status();
    }
    sslk_status st = ssli_police_eval_d(p->model, x, rows, out, shift_cb, &S);
    if (out != y) ssli_free(p->ctx, out);
    return st;
}

sslk_status ssli_police_shifts_d(sslk_police *p, double ***shifts) {
    *shifts = NULL;
    SSLI_TRY(ssli_police_check(p, "police"));
    double **s = NULL;
    SSLI_TRY(alloc_shifts(p, &s));
    double *x = dalloc(p->ctx, p->c, p->d);
    sslk_status st = x ? SSLK_OK : ssli_alloc_status();
    if (st == SSLK_OK) {
        for (size_t i = 0; i < p->c * p->d; i++) x[i] = p->V[i];
        st = run_shifts(p, x, p->c, NULL, s);
    }
    ssli_free(p->ctx, x);
    if (st != SSLK_OK) {
        ssli_police_free_shifts(p, s);
        return st;
    }
    *shifts = s;
    return SSLK_OK;
}

sslk_status ssli_police_eval_constrained(sslk_police *p, const double *x, size_t rows, double *y) {
    SSLI_TRY(ssli_police_check(p, "sslk_police_verify"));
    double **s = NULL;
    SSLI_TRY(alloc_shifts(p, &s));
    sslk_status st = run_shifts(p, x, rows, y, s);
    ssli_police_free_shifts(p, s);
    return st;
}

/* ---- freeze ---------------------------------------------------------------- */

typedef struct freezectx {
    sslk_police *p;
    float **bias; /* per point: staged new biases (NULL when unchanged) */
} freezectx;

static sslk_status freeze_cb(void *user, size_t point, const ssli_layer *L, double *h, size_t rows,
                             size_t width) {
    freezectx *F = user;
    sslk_police *p = F->p;
    if (!ssli_police_active(p, point)) return SSLK_OK;
    const ssli_police_point *P = &p->pts[point];
    const size_t S = P->spatial;
    for (size_t u = 0; u < P->units; u++) {
        double delta;
        size_t arg;
        int s = ssli_police_rule_d(h, rows, width, u, S, &delta, &arg);
        if (s == 0) continue;
        if (!L->bias)
            return ssli_err(SSLK_E_UNSUPPORTED,
                            "sslk_police_freeze: layer '%s' has no bias to fold its shift into "
                            "(add a bias or a batch-norm after it)",
                            L->name);
        if (!F->bias[point]) {
            F->bias[point] = ssli_malloc(p->ctx, P->units, sizeof(float));
            if (!F->bias[point]) return ssli_alloc_status();
            memcpy(F->bias[point], L->bias, P->units * sizeof(float));
        }
        /* round the folded bias toward the majority side, with a margin far
         * above the rounding differences of other double evaluations */
        const double b0 = L->bias[u], t = b0 - delta;
        const double margin = 1e-12 * (fabs(t) + fabs(b0) + fabs(delta)) + 1e-300;
        float bf = (float)t;
        for (int it = 0; it < 64; it++) {
            bool ok = s > 0 ? (double)bf >= t + margin : (double)bf <= t - margin;
            if (ok) break;
            bf = nextafterf(bf, s > 0 ? INFINITY : -INFINITY);
        }
        F->bias[point][u] = bf;
        const double add = (double)bf - b0;
        for (size_t r = 0; r < rows; r++)
            for (size_t q = 0; q < S; q++) h[r * width + u * S + q] += add;
    }
    return SSLK_OK;
}

sslk_status sslk_police_freeze(sslk_police *p) {
    static const char fn[] = "sslk_police_freeze";
    SSLI_CHECK_PTR(p, fn);
    if (!p->attached) return ssli_err(SSLK_E_STATE, "%s: the constraint is already frozen", fn);
    SSLI_TRY(ssli_police_check(p, fn));
    freezectx F = {p, ssli_calloc(p->ctx, p->npts ? p->npts : 1, sizeof(float *))};
    if (!F.bias) return ssli_alloc_status();
    double *x = dalloc(p->ctx, p->c, p->d);
    double *y = dalloc(p->ctx, p->c, ssli_shape_numel(ssli_model_top(p->model)->out));
    sslk_status st = x && y ? SSLK_OK : ssli_alloc_status();
    if (st == SSLK_OK) {
        for (size_t i = 0; i < p->c * p->d; i++) x[i] = p->V[i];
        st = ssli_police_eval_d(p->model, x, p->c, y, freeze_cb, &F);
    }
    if (st == SSLK_OK) { /* commit only when every point could be folded */
        for (size_t i = 0; i < p->npts; i++)
            if (F.bias[i]) {
                ssli_layer *L = (ssli_layer *)p->pts[i].L;
                memcpy(L->bias, F.bias[i], p->pts[i].units * sizeof(float));
            }
        ssli_model_set_hook(p->model, NULL);
        p->attached = false;
    }
    for (size_t i = 0; i < p->npts; i++) ssli_free(p->ctx, F.bias[i]);
    ssli_free(p->ctx, F.bias);
    ssli_free(p->ctx, x);
    ssli_free(p->ctx, y);
    return st;
}

/* ---- CPWL net with shifts ---------------------------------------------------- */

typedef struct bindctx {
    const sslk_model *m;
    const sslk_police *p;
    double **shifts;
    size_t point;
} bindctx;

static const double *shift_of(const bindctx *B, size_t point) {
    if (!B->p || !B->shifts || point >= B->p->npts) return NULL;
    return B->shifts[point];
}

static sslk_status bind_seq(bindctx *B, const ssli_seq *s, ssli_cpwl *net) {
    for (size_t i = 0; i < s->n; i++) {
        const ssli_layer *L = &s->layers[i];
        const size_t c = L->in.c, h = L->in.h, w = L->in.w;
        const bool pre = ssli_seq_is_preact(s, i);
        const double *sh = pre ? shift_of(B, B->point) : NULL;
        const size_t units = L->out.c;
        double *b = NULL;
        if (L->kind == SSLI_LAYER_LINEAR || L->kind == SSLI_LAYER_CONV2D) {
            b = ssli_malloc(net->ctx, units ? units : 1, sizeof(double));
            if (!b) return ssli_alloc_status();
            for (size_t u = 0; u < units; u++)
                b[u] = (L->bias ? (double)L->bias[u] : 0.0) - (sh ? sh[u] : 0.0);
        }
        sslk_status st = SSLK_OK;
        switch (L->kind) {
        case SSLI_LAYER_LINEAR:
            st = ssli_cpwl_dense(net, ssli_shape_numel(L->out), L->weight, NULL, NULL, b);
            break;
        case SSLI_LAYER_CONV2D:
            st = ssli_cpwl_conv(net, c, h, w, L->out.c, L->kernel, L->stride, L->pad, L->weight,
                                NULL, NULL, b);
            break;
        case SSLI_LAYER_BATCHNORM: {
            double *sc = ssli_malloc(net->ctx, 2 * c, sizeof(double));
            if (!sc) return ssli_alloc_status();
            double *t = sc + c, eps = ssli_model_bn_eps(B->m);
            for (size_t j = 0; j < c; j++) {
                double g = L->weight ? L->weight[j] : 1.0, bb = L->bias ? L->bias[j] : 0.0;
                sc[j] = g / sqrt((double)L->running_var[j] + eps);
                t[j] = bb - (double)L->running_mean[j] * sc[j] - (sh ? sh[j] : 0.0);
            }
            st = ssli_cpwl_scale(net, c, h * w, sc, t);
            ssli_free(net->ctx, sc);
            break;
        }
        case SSLI_LAYER_RELU: st = ssli_cpwl_unit(net, 0.0, 1.0); break;
        case SSLI_LAYER_LEAKY_RELU: st = ssli_cpwl_unit(net, (double)L->slope, 1.0); break;
        case SSLI_LAYER_ABS: st = ssli_cpwl_unit(net, -1.0, 1.0); break;
        case SSLI_LAYER_MAXPOOL: st = ssli_cpwl_maxpool(net, c, h, w, L->kernel, L->stride); break;
        case SSLI_LAYER_AVGPOOL: st = ssli_cpwl_avgpool(net, c, h, w, L->kernel, L->stride); break;
        case SSLI_LAYER_GAP: st = ssli_cpwl_gap(net, c, h, w); break;
        case SSLI_LAYER_FLATTEN: break;
        case SSLI_LAYER_RESIDUAL:
            st = ssli_cpwl_push(net);
            if (st == SSLK_OK && L->body) st = bind_seq(B, L->body, net);
            if (st == SSLK_OK && L->shortcut) {
                st = ssli_cpwl_swap(net);
                if (st == SSLK_OK) st = bind_seq(B, L->shortcut, net);
            }
            if (st == SSLK_OK) st = ssli_cpwl_add(net);
            break;
        default:
            st = ssli_err(SSLK_E_UNSUPPORTED, "police: layer '%s' (kind %d) is not supported", L->name,
                          (int)L->kind);
        }
        ssli_free(net->ctx, b);
        SSLI_TRY(st);
        if (pre) B->point++;
    }
    return SSLK_OK;
}

sslk_status ssli_police_cpwl(const sslk_model *m, const sslk_police *p, double **shifts,
                             ssli_cpwl *net) {
    bindctx B = {m, p, shifts, 0};
    ssli_cpwl_init(net, m->ctx, ssli_shape_numel(ssli_model_top(m)->in));
    sslk_status st = bind_seq(&B, ssli_model_top(m), net);
    if (st == SSLK_OK) st = ssli_cpwl_finish(net);
    if (st != SSLK_OK) ssli_cpwl_free(net);
    return st;
}
