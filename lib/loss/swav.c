/* SwAV (Caron et al. 2020), conventions of the official code
 * (facebookresearch/swav, main_swav.py): V crops z_v (n x D each, L2-normalised
 * here, as the official model's head does), prototypes C (K x D, owned),
 * scores S_v = z_v C^T.  For each assigned crop a (crops_for_assign) the codes
 * q_a = Sinkhorn(exp(S_a / epsilon)) over the batch rows, with an optional
 * queue of past embeddings of that crop prepended (their scores against the
 * current C; only the batch rows' codes are used), computed without gradient.
 *   L = 1/A sum_a 1/(V - 1) sum_{v != a} mean_b -sum_k q_ab,k log softmax(S_vb / T)_k
 * Backward (codes constant): dL/dS_vb = (|t_vb| p_vb - t_vb) / (n (V - 1) A T),
 * t_vb = sum of the codes q_ab over the assigned crops a != v; dZ = dS C,
 * dC = dS^T Z (C is a plain linear layer: no normalisation Jacobian), then the
 * normalisation backward on Z.
 * Sinkhorn as distributed_sinkhorn: per iteration each prototype column is
 * scaled by its (all-reduced) mass, then each sample row to 1.  The global
 * 1/sum and the 1/K, 1/B factors cancel, so only the per-prototype sums cross
 * ranks.  exp(S / eps) is taken after subtracting each prototype's maximum
 * score (a per-prototype factor the first column scaling removes exactly).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLI_IN_TEMPLATE
#include <stdio.h>
#include <string.h>

#include "dist/dist_internal.h"
#include "loss_internal.h"

static const ssli_setting_def swav_defs[] = {
    {SSLK_SWAV_NUM_PROTOTYPES, "num_prototypes", SSLK_SETTING_I64, 1, 16777216, 3000,
     "K: number of prototypes (official nmb_prototypes)"},
    {SSLK_SWAV_DIM, "dim", SSLK_SETTING_I64, 1, 1048576, 128,
     "D: embedding width of the crops, the queue rows and the prototypes (official feat_dim)"},
    {SSLK_SWAV_TEMPERATURE, "temperature", SSLK_SETTING_F64, 1e-4, 1e4, 0.1,
     "T: softmax temperature of the swapped prediction"},
    {SSLK_SWAV_EPSILON, "epsilon", SSLK_SETTING_F64, 5e-3, 1e4, 0.05,
     "Sinkhorn regularisation: codes start from exp(scores / epsilon)"},
    {SSLK_SWAV_SINKHORN_ITERATIONS, "sinkhorn_iterations", SSLK_SETTING_I64, 0, 1000, 3,
     "Sinkhorn-Knopp iterations (0: codes = softmax(scores / epsilon) per row)"},
    {SSLK_SWAV_CROPS_FOR_ASSIGN, "crops_for_assign", SSLK_SETTING_I64, 1, 4503599627370495.0, 3,
     "bit mask of the views whose codes are computed: bit v = view v (3 = views 0 and 1, the official [0, 1])"},
    {SSLK_SWAV_NORMALIZE_PROTOTYPES, "normalize_prototypes", SSLK_SETTING_I64, 0, 1, 1,
     "1: the loss L2-normalises the prototype rows in place at the start of every compute (the official "
     "step before each forward); 0: the caller does"},
};
const ssli_setting_table ssli_settings_swav = {"swav", swav_defs, sizeof swav_defs / sizeof swav_defs[0], NULL};

static const char *const swav_terms[] = {"swapped_prediction"};
static const int swav_size_keys[] = {SSLK_SWAV_NUM_PROTOTYPES, SSLK_SWAV_DIM, -1};

static sslk_status swav_shape(const sslk_loss *L, size_t *rows, size_t *cols, const char **name) {
    *rows = (size_t)ssli_loss_setting(L, SSLK_SWAV_NUM_PROTOTYPES);
    *cols = (size_t)ssli_loss_setting(L, SSLK_SWAV_DIM);
    *name = "prototypes";
    return SSLK_OK;
}

/* nn.Linear(D, K, bias=False) default: U(-1/sqrt(D), 1/sqrt(D)) */
static double swav_init(const sslk_loss *L, uint64_t key, size_t e, size_t rows, size_t cols) {
    (void)L;
    (void)rows;
    return (2.0 * ssli_rng_uniform(key, e) - 1.0) / sqrt((double)cols);
}

/* Sinkhorn on T (B x K, this rank's rows; entries >= 0), in place: per
 * iteration prototype masses (all-reduced across ranks when t), columns
 * divided by them, rows scaled to sum 1.  Column blocks with rows in order:
 * independent of the thread count.  cs: K doubles. */
static sslk_status swav_sinkhorn(const sslk_dist *t, double *T, size_t B, size_t K, int iters, double *cs, int nt,
                                 const char *fn) {
    const long long nb = (long long)((K + 63) / 64);
    for (int it = 0; it < iters; it++) {
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long q = 0; q < nb; q++) {
            size_t k0 = (size_t)q * 64, k1 = k0 + 64 < K ? k0 + 64 : K;
            for (size_t k = k0; k < k1; k++) cs[k] = 0;
            for (size_t b = 0; b < B; b++)
                for (size_t k = k0; k < k1; k++) cs[k] += T[b * K + k];
        }
        if (t) SSLI_TRY(ssli_dist_allreduce_f64(t, cs, K, fn));
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long bi = 0; bi < (long long)B; bi++) {
            double *r = T + (size_t)bi * K, rs = 0;
            for (size_t k = 0; k < K; k++) rs += r[k] = cs[k] > 0 ? r[k] / cs[k] : 0.0;
            if (rs > 0)
                for (size_t k = 0; k < K; k++) r[k] /= rs;
        }
    }
    return SSLK_OK;
}

/* highest set bit of a non-zero mask; index of view v among the assigned ones */
static int swav_top_bit(uint64_t mask) {
    int b = 0;
    while (mask >>= 1) b++;
    return b;
}
static size_t swav_rank_of(uint64_t mask, size_t v) {
    size_t r = 0;
    for (size_t u = 0; u < v; u++) r += (mask >> u) & 1;
    return r;
}

#define SSLI_LOSS_TEMPLATE "swav.c"
#include "loss_template.h"

/* L2-normalise the prototype rows in place (torch F.normalize: / max(|c|, 1e-12)). */
static void swav_normalize_prototypes(sslk_loss *L) {
    float *C = L->param.data;
    const size_t K = L->prows, D = L->pcols;
#pragma omp parallel for schedule(static) num_threads(ssli_loss_nt(L->ctx, K * D))
    for (long long k = 0; k < (long long)K; k++) {
        float *c = C + (size_t)k * D;
        double s = 0;
        for (size_t j = 0; j < D; j++) s += (double)c[j] * (double)c[j];
        s = sqrt(s);
        const double inv = 1.0 / (s > 1e-12 ? s : 1e-12);
        for (size_t j = 0; j < D; j++) c[j] = (float)((double)c[j] * inv);
    }
}

static sslk_status swav_compute(sslk_loss *L, const ssli_loss_in *in, double *value) {
    const char *fn = "sslk_loss_compute(swav)";
    const sslk_dist *t = ssli_dist(L->ctx);
    const size_t V = in->nviews, m = L->swav_queues ? L->swav_queue_rows : 0;
    const uint64_t mask = (uint64_t)ssli_loss_setting(L, SSLK_SWAV_CROPS_FOR_ASSIGN);
    sslk_status local = SSLK_OK;
    size_t A = 0;
    if (V < 2)
        local = ssli_err(SSLK_E_SHAPE, "%s: SwAV needs at least 2 views (crops), got %zu", fn, V);
    else if (in->indices || in->targets)
        local = ssli_err(SSLK_E_INVALID_ARG, "%s: SwAV takes no indices or targets (row i of each view is sample i)",
                         fn);
    else if (V < 64 && (mask >> V) != 0)
        local = ssli_err(SSLK_E_SETTING, "%s: crops_for_assign = %llu names view %d, but the batch has %zu views", fn,
                         (unsigned long long)mask, swav_top_bit(mask), V);
    if (!local) local = ssli_loss_param_ready(L, fn);
    if (!local && in->d != L->pcols)
        local = ssli_err(SSLK_E_SHAPE, "%s: inputs have d = %zu columns, the prototypes have dim = %zu", fn, in->d,
                         L->pcols);
    if (!local && (V * in->n > ((size_t)1 << 28) || m > ((size_t)1 << 28) || L->prows > ((size_t)1 << 24) ||
                   (V * in->n + m + in->n) * L->prows > ((size_t)1 << 40)))
        local = ssli_err(SSLK_E_OVERFLOW, "%s: %zu views x %zu rows, %zu queue rows and %zu prototypes are too large",
                         fn, V, in->n, m, L->prows);
    for (size_t v = 0; v < V && v < 64; v++) A += (mask >> v) & 1;
    /* the queues: one m x D block per assigned crop, constants */
    for (size_t a = 0; !local && m && a < A; a++) {
        char arg[32];
        snprintf(arg, sizeof arg, "queues[%zu]", a);
        if (!L->swav_queues[a]) local = ssli_err(SSLK_E_INVALID_ARG, "%s: '%s' is NULL", fn, arg);
        else local = ssli_check_finite_f32(L->swav_queues[a], m, in->d, fn, arg);
    }
    /* caller-writable through sslk_loss_param: NaN / Inf would poison every score */
    if (!local) local = ssli_loss_check_param(L, fn);
    if (t) {
        /* every rank runs the same collectives: agree on the shapes that fix them */
        size_t W = (size_t)t->world_size, tot, *cnt = ssli_malloc(L->ctx, W, sizeof(size_t));
        if (!cnt) return ssli_alloc_status();
        size_t sig = local ? 0 : (L->prows * 64 + A) * 1024 + (size_t)ssli_loss_setting(L, SSLK_SWAV_SINKHORN_ITERATIONS);
        sslk_status s = ssli_dist_agree(L->ctx, t, local, sig, cnt, &tot, fn);
        for (size_t r = 0; s == SSLK_OK && r < W; r++)
            if (cnt[r] != sig)
                s = ssli_err(SSLK_E_SHAPE, "%s: rank %zu has other prototypes, crops_for_assign or sinkhorn_iterations "
                             "than rank %d", fn, r, t->rank);
        ssli_free(L->ctx, cnt);
        SSLI_TRY(s);
    }
    SSLI_TRY(local);
    if (ssli_loss_setting(L, SSLK_SWAV_NORMALIZE_PROTOTYPES) != 0) swav_normalize_prototypes(L);
    return ssli_loss_double(L) ? swav_run_d(L, in, A, m, value) : swav_run_f(L, in, A, m, value);
}

const ssli_loss_vt ssli_loss_swav_vt = {
    SSLK_LOSS_SWAV, "swav", &ssli_settings_swav, swav_terms, 1, 1, swav_compute, swav_shape, swav_init,
    swav_size_keys,
};

sslk_status sslk_loss_compute_swav_queue(sslk_loss *L, const sslk_loss_batch *batch, const float *const *queues,
                                         size_t m, double *value, float *const *grads) {
    const char *fn = "sslk_loss_compute_swav_queue";
    SSLI_CHECK_PTR(L, fn);
    if (L->vt->kind != SSLK_LOSS_SWAV)
        return ssli_err(SSLK_E_UNSUPPORTED, "%s: a queue of past embeddings needs a swav loss, not %s", fn, L->vt->fn);
    if (m && !queues) return ssli_err(SSLK_E_INVALID_ARG, "%s: 'queues' is NULL with m = %zu rows", fn, m);
    L->swav_queues = m ? queues : NULL;
    L->swav_queue_rows = m;
    sslk_status s = sslk_loss_compute(L, batch, value, grads);
    L->swav_queues = NULL;
    L->swav_queue_rows = 0;
    return s;
}

#else /* ---- template: R = float or double ---------------------------------- */

static sslk_status F(swav_run)(sslk_loss *L, const ssli_loss_in *in, size_t A, size_t m, double *value) {
    const char *fn = "sslk_loss_compute(swav)";
    const sslk_ctx *ctx = L->ctx;
    const sslk_dist *t = ssli_dist(ctx);
    const size_t n = in->n, D = in->d, K = L->prows, V = in->nviews, Vn = V * n, B = m + n;
    const size_t W = t ? (size_t)t->world_size : 1;
    const double tau = ssli_loss_setting(L, SSLK_SWAV_TEMPERATURE), eps = ssli_loss_setting(L, SSLK_SWAV_EPSILON);
    const int iters = (int)ssli_loss_setting(L, SSLK_SWAV_SINKHORN_ITERATIONS);
    const uint64_t mask = (uint64_t)ssli_loss_setting(L, SSLK_SWAV_CROPS_FOR_ASSIGN);
    const bool want = in->grads != NULL;
    size_t bytes = (want ? 2 : 1) * SSLI_RUP(Vn * D * sizeof(R)) + (want ? 2 : 1) * SSLI_RUP(K * D * sizeof(R)) +
                   SSLI_RUP(Vn * K * sizeof(R)) + SSLI_RUP((A + 1) * n * K * sizeof(R)) +
                   SSLI_RUP(m * D * sizeof(R)) + SSLI_RUP(m * K * sizeof(R)) + SSLI_RUP(B * K * sizeof(double)) +
                   2 * SSLI_RUP(Vn * sizeof(double)) + SSLI_RUP(m * sizeof(double)) +
                   SSLI_RUP((W + 1) * K * sizeof(double)) + SSLI_RUP(W * sizeof(size_t));
    char *p = ssli_loss_workspace(L, bytes);
    if (!p) return ssli_alloc_status();
    R *Zh = ssli_carve(&p, Vn * D * sizeof(R));
    R *C = ssli_carve(&p, K * D * sizeof(R));
    R *S = ssli_carve(&p, Vn * K * sizeof(R));
    R *Tg = ssli_carve(&p, (A + 1) * n * K * sizeof(R)); /* targets: [a] = codes of the others, [A] = all */
    R *Qh = ssli_carve(&p, m * D * sizeof(R));
    R *Sq = ssli_carve(&p, m * K * sizeof(R));
    double *Tt = ssli_carve(&p, B * K * sizeof(double));
    double *rz = ssli_carve(&p, Vn * sizeof(double));
    double *ce = ssli_carve(&p, Vn * sizeof(double));
    double *rq = ssli_carve(&p, m * sizeof(double));
    double *cs = ssli_carve(&p, (W + 1) * K * sizeof(double)); /* K sums, then W x K maxima */
    size_t *cnt = ssli_carve(&p, W * sizeof(size_t));
    R *dZ = want ? ssli_carve(&p, Vn * D * sizeof(R)) : NULL;
    R *dC = want ? ssli_carve(&p, K * D * sizeof(R)) : NULL;
    const int nt = ssli_threads(ctx);

    F(ssli_loss_normalize_views)(ctx, in->views, V, n, D, rz, Zh);
    for (size_t e = 0; e < K * D; e++) C[e] = (R)L->param.data[e];
    GEMM(ctx, false, true, Vn, K, D, (R)1, Zh, D, C, D, (R)0, S, K);
    memset(Tg, 0, (A + 1) * n * K * sizeof(R));

    /* codes of each assigned crop (stop-gradient), accumulated into the targets */
    double bad = 0; /* code rows that underflowed to zero */
    size_t a = 0;
    for (size_t c = 0; c < V && c < 64; c++) {
        if (!((mask >> c) & 1)) continue;
        if (m) {
            const float *const qv[1] = {L->swav_queues[a]};
            F(ssli_loss_normalize_views)(ctx, qv, 1, m, D, rq, Qh);
            GEMM(ctx, false, true, m, K, D, (R)1, Qh, D, C, D, (R)0, Sq, K);
        }
        const R *Sc = S + c * n * K;
#define SWAV_SCORE(b, k) ((b) < m ? (double)Sq[(b) * K + (k)] : (double)Sc[((b) - m) * K + (k)])
        double *mx = cs + K;
        if (iters > 0) {
            /* per-prototype maximum over all rows (all ranks): removed exactly by the first column scaling */
            long long nb = (long long)((K + 63) / 64);
#pragma omp parallel for schedule(static) num_threads(nt)
            for (long long q = 0; q < nb; q++) {
                size_t k0 = (size_t)q * 64, k1 = k0 + 64 < K ? k0 + 64 : K;
                for (size_t k = k0; k < k1; k++) mx[k] = -INFINITY;
                for (size_t b = 0; b < B; b++)
                    for (size_t k = k0; k < k1; k++) mx[k] = SWAV_SCORE(b, k) > mx[k] ? SWAV_SCORE(b, k) : mx[k];
            }
            if (t) {
                for (size_t r = 0; r < W; r++) cnt[r] = K;
                memcpy(cs, mx, K * sizeof(double));
                SSLI_TRY(ssli_dist_allgatherv_f64(t, cs, K, mx, cnt, fn));
                for (size_t r = 1; r < W; r++)
                    for (size_t k = 0; k < K; k++) mx[k] = mx[r * K + k] > mx[k] ? mx[r * K + k] : mx[k];
            }
        }
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long bi = 0; bi < (long long)B; bi++) {
            size_t b = (size_t)bi;
            double *o = Tt + b * K, rmax = -INFINITY;
            if (iters == 0) /* plain softmax per row: its own maximum */
                for (size_t k = 0; k < K; k++) rmax = SWAV_SCORE(b, k) > rmax ? SWAV_SCORE(b, k) : rmax;
            for (size_t k = 0; k < K; k++) {
                double x = (SWAV_SCORE(b, k) - (iters ? mx[k] : rmax)) / eps;
                /* the float exp clamps below -87: ratios of tiny entries matter to Sinkhorn */
                o[k] = x > -80.0 ? (double)EXPR((R)x) : exp(x);
            }
            if (iters == 0) {
                double s = 0;
                for (size_t k = 0; k < K; k++) s += o[k];
                for (size_t k = 0; k < K; k++) o[k] /= s;
            }
        }
#undef SWAV_SCORE
        SSLI_TRY(swav_sinkhorn(t, Tt, B, K, iters, cs, ssli_loss_nt(ctx, B * K * 4), fn));
        /* the batch rows' codes go to the targets of every other view */
        const double *q = Tt + m * K;
        for (size_t b = 0; b < n; b++) {
            double rs = 0;
            for (size_t k = 0; k < K; k++) rs += q[b * K + k];
            bad += !(rs > 0.5);
        }
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long bi = 0; bi < (long long)n; bi++) {
            const double *qb = q + (size_t)bi * K;
            for (size_t x = 0; x <= A; x++) {
                if (x == a) continue;
                R *tg = Tg + (x * n + (size_t)bi) * K;
                for (size_t k = 0; k < K; k++) tg[k] = (R)((double)tg[k] + qb[k]);
            }
        }
        a++;
    }

    /* swapped prediction: cross-entropy of softmax(S_v / T) against the targets */
    const double scale = 1.0 / ((double)n * (double)(V - 1) * (double)A);
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
    for (long long ii = 0; ii < (long long)Vn; ii++) {
        size_t i = (size_t)ii, v = i / n, b = i % n, x = A;
        if (v < 64 && ((mask >> v) & 1)) x = swav_rank_of(mask, v);
        const R *tg = Tg + (x * n + b) * K;
        R *s = S + i * K;
        F(ssli_row_scale)(s, K, (R)(1.0 / tau));
        const double tsm = F(ssli_row_sum)(tg, K);
        const R mr = (R)F(ssli_row_max)(s, K);
        /* sum_k t_k (m - s_k) >= 0 avoids the cancellation of tsm (m + lse) - t.s */
        const double gap = F(ssli_row_dotgap)(tg, s, K, mr);
        double es;
        const double sum = F(ssli_row_expsum2)(s, K, mr, &es);
        ce[i] = tsm * log(sum) + gap;
        if (want) { /* s = exp(s - m): dX = scale (tsm softmax - t) */
            const R a1 = (R)(scale * tsm / sum), a2 = (R)scale;
            for (size_t k = 0; k < K; k++) s[k] = a1 * s[k] - a2 * tg[k];
        }
    }
    double tot = 0;
    for (size_t i = 0; i < Vn; i++) tot += ce[i];
    double loc = tot * scale, frac = 1.0;
    if (t) { /* value: mean over all ranks' rows; this rank's gradients scale by n / N */
        double st[3] = {(double)n, (double)n * loc, bad};
        SSLI_TRY(ssli_dist_allreduce_f64(t, st, 3, fn));
        frac = (double)n / st[0];
        loc = st[1] / st[0];
        bad = st[2];
    }
    if (bad > 0)
        return ssli_err(SSLK_E_NUMERIC, "%s: %g code rows underflowed to zero in exp(scores / epsilon): epsilon = %g is "
                        "too small for these scores (are the prototypes normalised?)", fn, bad, eps);
    L->terms[0] = loc;
    *value = loc;
    if (!want) return SSLK_OK;
    const R ag = (R)(frac / tau);
    GEMM(ctx, false, false, Vn, D, K, ag, S, K, C, D, (R)0, dZ, D);
    GEMM(ctx, true, false, K, D, Vn, ag, S, K, Zh, D, (R)0, dC, D);
    F(ssli_loss_normalize_back_views)(ctx, Zh, dZ, rz, V, n, D, in->grads);
    float *pg = L->param.grad;
    if (t) { /* the prototype gradient summed over ranks (what DDP's average of local means gives) */
        double *buf = ssli_malloc(L->ctx, K * D, sizeof(double));
        if (!buf) return ssli_alloc_status(); /* the other ranks fail when this process does */
        for (size_t e = 0; e < K * D; e++) buf[e] = (double)dC[e];
        sslk_status s = ssli_dist_allreduce_f64(t, buf, K * D, fn);
        if (s == SSLK_OK)
            for (size_t e = 0; e < K * D; e++) pg[e] = (float)((double)pg[e] + buf[e]);
        ssli_free(L->ctx, buf);
        return s;
    }
    for (size_t e = 0; e < K * D; e++) pg[e] = (float)((double)pg[e] + (double)dC[e]);
    return SSLK_OK;
}

#endif
