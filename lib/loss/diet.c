/* DIET (Balestriero 2023): a bias-free linear head W (N x K) on the
 * representation, cross-entropy to the datum index with label smoothing
 * (torch convention: q = (1 - alpha) e_y + alpha / N).  The N dimension is
 * processed in chunks with an online log-sum-exp, so the B x N logits are kept
 * whole only when they fit the logit cache; otherwise each chunk is recomputed
 * in the backward pass.  dH and dW come from GEMMs; dW is accumulated into the
 * head's gradient.  Every loss term is per-sample (no batch statistics).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLI_IN_TEMPLATE
#include <string.h>

#include "loss_internal.h"

static const ssli_setting_def diet_defs[] = {
    {SSLK_DIET_NUM_SAMPLES, "num_samples", SSLK_SETTING_I64, 0, 2147483647.0, 0,
     "N: number of training samples = classes (required)"},
    {SSLK_DIET_DIM, "dim", SSLK_SETTING_I64, 0, 1048576, 0, "K: width of the representation (required)"},
    {SSLK_DIET_LABEL_SMOOTHING, "label_smoothing", SSLK_SETTING_F64, 0, 1, 0.8,
     "alpha: uniform mass spread over all N classes (torch convention)"},
    {SSLK_DIET_CHUNK, "chunk", SSLK_SETTING_I64, 0, 2147483647.0, 0,
     "classes per chunk when the logits are not cached (0 = auto)"},
    {SSLK_DIET_LOGIT_CACHE_MB, "logit_cache_mb", SSLK_SETTING_F64, 0, 1048576, 256,
     "keep the whole B x N logits between passes when they need at most this many MiB"},
};
const ssli_setting_table ssli_settings_diet = {"diet", diet_defs,
                                               sizeof diet_defs / sizeof diet_defs[0], NULL};

static const char *const diet_terms[] = {"cross_entropy", "accuracy"};
static const int diet_size_keys[] = {SSLK_DIET_NUM_SAMPLES, SSLK_DIET_DIM, -1};

static sslk_status diet_shape(const sslk_loss *L, size_t *rows, size_t *cols, const char **name) {
    size_t N = (size_t)ssli_loss_setting(L, SSLK_DIET_NUM_SAMPLES), K = (size_t)ssli_loss_setting(L, SSLK_DIET_DIM);
    if (N < 2 || K < 1)
        return ssli_err(SSLK_E_STATE, "sslk_loss(diet): set num_samples (>= 2, got %zu) and dim (>= 1, got %zu) "
                        "before using the head", N, K);
    *rows = N;
    *cols = K;
    *name = "head.weight";
    return SSLK_OK;
}

/* torch.nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
static double diet_init(const sslk_loss *L, uint64_t key, size_t e, size_t rows, size_t cols) {
    (void)L;
    (void)rows;
    double b = 1.0 / sqrt((double)cols);
    return (2.0 * ssli_rng_uniform(key, e) - 1.0) * b;
}

typedef struct {
    double m, s, suml, tl, best;
    size_t arg;
    size_t bad; /* 1 + class of the first non-finite logit, 0 when all are finite */
} diet_row;

/* Index of the first entry equal to m, bounded by the row (the row max of a
 * finite row is one of its entries; anything else returns 0, never past w). */
#define DIET_ARGMAX(l, w, m, out)                                                                \
    do {                                                                                         \
        size_t k_ = 0;                                                                           \
        while (k_ < (w) && (l)[k_] != (m)) k_++;                                                 \
        (out) = k_ < (w) ? k_ : 0;                                                               \
    } while (0)

#define SSLI_LOSS_TEMPLATE "diet.c"
#include "loss_template.h"

static sslk_status diet_compute(sslk_loss *L, const ssli_loss_in *in, double *value) {
    const char *fn = "sslk_loss_compute(diet)";
    if (!in->indices) return ssli_err(SSLK_E_INVALID_ARG, "%s: 'indices' (datum index per row) is NULL", fn);
    if (in->targets) return ssli_err(SSLK_E_INVALID_ARG, "%s: DIET takes no targets", fn);
    SSLI_TRY(ssli_loss_param_ready(L, fn));
    size_t N = L->prows, K = L->pcols;
    if (in->d != K) return ssli_err(SSLK_E_SHAPE, "%s: inputs have d = %zu columns, the head expects dim = %zu", fn, in->d, K);
    /* the head is caller-writable (sslk_loss_param): a NaN / Inf there would turn
     * every logit of a row into NaN */
    SSLI_TRY(ssli_loss_check_param(L, fn));
    if (in->nviews * in->n > ((size_t)1 << 40))
        return ssli_err(SSLK_E_OVERFLOW, "%s: %zu x %zu input rows are too many", fn, in->nviews, in->n);
    for (size_t i = 0; i < in->n; i++)
        if (in->indices[i] < 0 || (uint64_t)in->indices[i] >= N)
            return ssli_err(SSLK_E_RANGE, "%s: 'indices[%zu]' = %lld is outside [0, %zu)", fn, i,
                            (long long)in->indices[i], N);
    return ssli_loss_double(L) ? diet_run_d(L, in, value) : diet_run_f(L, in, value);
}

const ssli_loss_vt ssli_loss_diet_vt = {
    SSLK_LOSS_DIET, "diet", &ssli_settings_diet, diet_terms, 2, 1, diet_compute, diet_shape, diet_init, diet_size_keys,
};

#else /* ---- template ---------------------------------------------------- */

static void F(diet_convert)(const float *src, R *dst, size_t cnt, int nt) {
#pragma omp parallel for schedule(static) num_threads(nt)
    for (long long e = 0; e < (long long)cnt; e++) dst[e] = (R)src[e];
}

static sslk_status F(diet_run)(sslk_loss *L, const ssli_loss_in *in, double *value) {
    const sslk_ctx *ctx = L->ctx;
    const size_t N = L->prows, K = L->pcols, n = in->n, T = in->nviews * n;
    const double alpha = ssli_loss_setting(L, SSLK_DIET_LABEL_SMOOTHING);
    const bool want = in->grads != NULL;
    const bool dbl = sizeof(R) == sizeof(double);
    /* chunk of the N dimension: everything when the logits fit the cache */
    double cache = ssli_loss_setting(L, SSLK_DIET_LOGIT_CACHE_MB) * 1048576.0;
    size_t Nc = (size_t)ssli_loss_setting(L, SSLK_DIET_CHUNK);
    if ((double)T * (double)N * sizeof(R) <= cache)
        Nc = N;
    else if (Nc == 0) {
        Nc = (size_t)(cache / ((double)T * sizeof(R)));
        if (Nc > 8192) Nc = 8192;
        if (Nc < 256) Nc = 256;
    }
    if (Nc > N) Nc = N;
    const size_t nchunks = (N + Nc - 1) / Nc;
    size_t bytes = 2 * SSLI_RUP(T * K * sizeof(R)) + SSLI_RUP(T * Nc * sizeof(R)) + SSLI_RUP(T * sizeof(diet_row));
    if (dbl) bytes += 2 * SSLI_RUP(Nc * K * sizeof(R));
    char *p = ssli_loss_workspace(L, bytes);
    if (!p) return ssli_alloc_status();
    R *H = ssli_carve(&p, T * K * sizeof(R));
    R *dH = ssli_carve(&p, T * K * sizeof(R));
    R *Lg = ssli_carve(&p, T * Nc * sizeof(R));
    diet_row *st = ssli_carve(&p, T * sizeof(diet_row));
    R *Wd = dbl ? ssli_carve(&p, Nc * K * sizeof(R)) : NULL;
    R *dWd = dbl ? ssli_carve(&p, Nc * K * sizeof(R)) : NULL;
    const int nt = ssli_threads(ctx);

    for (size_t v = 0; v < in->nviews; v++) {
        const float *z = in->views[v];
        R *h = H + v * n * K;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long e = 0; e < (long long)(n * K); e++) h[e] = (R)z[e];
    }
    for (size_t a = 0; a < T; a++) st[a] = (diet_row){-INFINITY, 0, 0, 0, -INFINITY, 0, 0};

    /* the head chunk [c0, c1) as R (float: the parameter itself) */
#define DIET_W(c0, c1)                                                                           \
    (dbl ? (F(diet_convert)(L->param.data + (c0) * K, Wd, ((c1) - (c0)) * K, nt), Wd)            \
         : (R *)(void *)(L->param.data + (c0) * K))

    /* pass 1: logits and online log-sum-exp statistics per row */
    for (size_t ch = 0; ch < nchunks; ch++) {
        size_t c0 = ch * Nc, c1 = c0 + Nc < N ? c0 + Nc : N, w = c1 - c0;
        const R *Wc = DIET_W(c0, c1);
        GEMM(ctx, false, true, T, w, K, (R)1, H, K, Wc, K, (R)0, Lg, w);
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
        for (long long ai = 0; ai < (long long)T; ai++) {
            size_t a = (size_t)ai;
            const R *l = Lg + a * w;
            diet_row *s = st + a;
            if (s->bad) continue;
            /* a non-finite logit (float overflow of finite inputs x head) makes the
             * row sum non-finite: then find and record its class, skip the row */
            double rs = F(ssli_row_sum)(l, w);
            if (!isfinite(rs)) {
                size_t k = 0;
                while (k < w && isfinite((double)l[k])) k++;
                if (k < w) {
                    s->bad = c0 + k + 1;
                    continue;
                }
            }
            R cm = (R)F(ssli_row_max)(l, w);
            size_t am;
            DIET_ARGMAX(l, w, cm, am);
            s->suml += rs;
            if ((double)cm > s->best) s->best = (double)cm, s->arg = c0 + am;
            size_t y = (size_t)in->indices[a % n];
            if (y >= c0 && y < c1) s->tl = (double)l[y - c0];
            double m = (double)cm > s->m ? (double)cm : s->m;
            double acc = F(ssli_row_expsum)(l, NULL, w, (R)m);
            s->s = s->s * exp(s->m - m) + acc;
            s->m = m;
        }
    }
    for (size_t a = 0; a < T; a++)
        if (st[a].bad)
            return ssli_err(SSLK_E_NONFINITE,
                            "sslk_loss_compute(diet): the logits (inputs x head.weight^T) overflow to a "
                            "non-finite value at row %zu, column %zu (view %zu, sample %zu): rescale the "
                            "inputs or the head, or set precision = double",
                            a, st[a].bad - 1, a / n, a % n);
    double ce = 0, hits = 0;
    for (size_t a = 0; a < T; a++) {
        diet_row *s = st + a;
        s->m = s->m + log(s->s); /* now the row's log-sum-exp */
        ce += s->m - (1.0 - alpha) * s->tl - alpha / (double)N * s->suml;
        hits += s->arg == (size_t)in->indices[a % n];
    }
    L->terms[0] = ce / (double)T;
    L->terms[1] = hits / (double)T;
    *value = L->terms[0];
    if (!want) return SSLK_OK;

    /* pass 2: G = (softmax - q) / T per chunk; dH += G W_c, dW_c += G^T H */
    const double u = alpha / (double)N / (double)T, hit = (1.0 - alpha) / (double)T, invT = 1.0 / (double)T;
    for (size_t ch = 0; ch < nchunks; ch++) {
        size_t c0 = ch * Nc, c1 = c0 + Nc < N ? c0 + Nc : N, w = c1 - c0;
        const R *Wc = DIET_W(c0, c1);
        if (nchunks > 1) GEMM(ctx, false, true, T, w, K, (R)1, H, K, Wc, K, (R)0, Lg, w);
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
        for (long long ai = 0; ai < (long long)T; ai++) {
            size_t a = (size_t)ai;
            R *l = Lg + a * w;
            /* exp(l - max) exp(max - lse): the max is a logit (exact in R) while lse
             * rounded to float lost up to 3e-5 of every probability at logits ~300 */
            F(ssli_row_expaffine)(l, w, (R)st[a].best, (R)(invT * exp(st[a].best - st[a].m)), (R)u);
            size_t y = (size_t)in->indices[a % n];
            if (y >= c0 && y < c1) l[y - c0] -= (R)hit;
        }
        GEMM(ctx, false, false, T, K, w, (R)1, Lg, w, Wc, K, (R)(ch ? 1 : 0), dH, K);
        if (dbl) {
            GEMM(ctx, true, false, w, K, T, (R)1, Lg, w, H, K, (R)0, dWd, K);
            float *g = L->param.grad + c0 * K;
#pragma omp parallel for schedule(static) num_threads(nt)
            for (long long e = 0; e < (long long)(w * K); e++) g[e] += (float)dWd[e];
        } else {
            GEMM(ctx, true, false, w, K, T, (R)1, Lg, w, H, K, (R)1, (R *)(void *)(L->param.grad + c0 * K), K);
        }
    }
#undef DIET_W
    for (size_t v = 0; v < in->nviews; v++) {
        float *g = in->grads[v];
        if (!g) continue;
        const R *src = dH + v * n * K;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long e = 0; e < (long long)(n * K); e++) g[e] = (float)src[e];
    }
    return SSLK_OK;
}

#endif
