/* MSN (Assran et al. 2022) and prior-MSN (PMSN, Assran et al. 2023).
 * Anchor predictions P = softmax(zhat Qhat^T / tau) against learnable
 * prototypes (L2-normalised inside), targets T = softmax(hhat Qhat^T /
 * (tau * sharpen)) computed directly (no T0^(1/sharpen) underflow), optional
 * Sinkhorn on T, cross-entropy over all anchors, plus lambda * KL(pbar || pi)
 * (forward; reverse optional) with pbar the mean anchor prediction and pi
 * uniform (= me-max), power law k^-tau, or user given; plus an optional mean
 * per-anchor entropy.  Targets and Sinkhorn are constants (stop-gradient).
 * Per-sample terms: cross-entropy, entropy.  Batch statistics: pbar, Sinkhorn.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLI_IN_TEMPLATE
#include <string.h>

#include "dist/dist_internal.h"
#include "loss_dist.h"
#include "loss_internal.h"

static const ssli_setting_def msn_defs[] = {
    {SSLK_MSN_NUM_PROTOTYPES, "num_prototypes", SSLK_SETTING_I64, 1, 16777216, 1024, "K: number of prototypes"},
    {SSLK_MSN_DIM, "dim", SSLK_SETTING_I64, 1, 1048576, 256, "d: embedding width of anchors, targets, prototypes"},
    {SSLK_MSN_TEMPERATURE, "temperature", SSLK_SETTING_F64, 1e-4, 1e4, 0.1, "anchor softmax temperature"},
    {SSLK_MSN_SHARPEN, "sharpen", SSLK_SETTING_F64, 1e-3, 1e3, 0.25,
     "target sharpening: target temperature = temperature * sharpen (0.025 by default)"},
    {SSLK_MSN_SINKHORN_ITERATIONS, "sinkhorn_iterations", SSLK_SETTING_I64, 0, 1000, 3,
     "Sinkhorn iterations on the targets (0 = off)"},
    {SSLK_MSN_PRIOR, "prior", SSLK_SETTING_I64, 0, 2, 0, "0 = uniform (me-max), 1 = power law k^-tau, 2 = user vector"},
    {SSLK_MSN_TAU, "tau", SSLK_SETTING_F64, 0, 100, 0.25, "power-law exponent of the prior (PMSN)"},
    {SSLK_MSN_PRIOR_WEIGHT, "prior_weight", SSLK_SETTING_F64, 0, 1e6, 1, "weight of the KL to the prior"},
    {SSLK_MSN_ENTROPY_WEIGHT, "entropy_weight", SSLK_SETTING_F64, 0, 1e6, 0,
     "weight of the mean per-anchor prediction entropy"},
    {SSLK_MSN_KL_DIRECTION, "kl_direction", SSLK_SETTING_I64, 0, 1, 0,
     "0 = KL(pbar || prior) (me-max generalisation); 1 = KL(prior || pbar) (lightly PMSNLoss)"},
    {SSLK_MSN_LABEL_SMOOTHING, "label_smoothing", SSLK_SETTING_F64, 0, 0.999, 0,
     "s: predictions become (1 - s) softmax + s / K (official MSN label_smoothing)"},
};
static const ssli_setting_choices msn_choices[] = {
    {SSLK_MSN_PRIOR, (const char *const[]){"uniform", "power_law", "user", NULL}},
    {SSLK_MSN_KL_DIRECTION, (const char *const[]){"forward", "reverse", NULL}},
    {0, NULL},
};
const ssli_setting_table ssli_settings_msn = {"msn", msn_defs,
                                              sizeof msn_defs / sizeof msn_defs[0], msn_choices};

static const char *const msn_terms[] = {"cross_entropy", "prior_kl", "entropy"};
static const int msn_size_keys[] = {SSLK_MSN_NUM_PROTOTYPES, SSLK_MSN_DIM, -1};

static sslk_status msn_shape(const sslk_loss *L, size_t *rows, size_t *cols, const char **name) {
    *rows = (size_t)ssli_loss_setting(L, SSLK_MSN_NUM_PROTOTYPES);
    *cols = (size_t)ssli_loss_setting(L, SSLK_MSN_DIM);
    *name = "prototypes";
    return SSLK_OK;
}

/* official MSN: U(-1/sqrt(d), 1/sqrt(d)) */
static double msn_init(const sslk_loss *L, uint64_t key, size_t e, size_t rows, size_t cols) {
    (void)L;
    (void)rows;
    return (2.0 * ssli_rng_uniform(key, e) - 1.0) / sqrt((double)cols);
}

/* log pi_k = -tau log(k) - log sum_j j^-tau, k = 1..K: in the log domain
 * because k^-tau underflows to 0 for steep priors (tau = 100, k > ~1200),
 * which made log pi = -inf and the KL infinite. */
void ssli_msn_log_power_law(size_t K, double tau, double *logpi) {
    double s = 0; /* sum_j (j^-tau / 1^-tau): the first term is the largest, no overflow */
    for (size_t k = 0; k < K; k++) s += exp(logpi[k] = -tau * log((double)(k + 1)));
    const double ls = log(s);
    for (size_t k = 0; k < K; k++) logpi[k] -= ls;
}

void ssli_msn_power_law(size_t K, double tau, double *pi) {
    ssli_msn_log_power_law(K, tau, pi);
    for (size_t k = 0; k < K; k++) pi[k] = exp(pi[k]);
}

/* MSN's distributed_sinkhorn on T (B x K, rows are probabilities), in place:
 * per iteration each prototype column is scaled to mass 1/K, then each sample
 * row to 1 (the official code scales rows to 1/B and multiplies by B at the
 * end; the global 1/sum(Q) is absorbed by the first column scaling).
 * cs: K doubles of scratch.  Across ranks (dist) the prototype masses are
 * all-reduced each iteration (the official distributed_sinkhorn), the rows
 * stay local. */
sslk_status ssli_msn_sinkhorn_dist(double *T, size_t B, size_t K, int iters, double *cs, int nt,
                                   const sslk_dist *dist, const char *fn) {
    const long long nb = (long long)((K + 63) / 64);
    for (int it = 0; it < iters; it++) {
        /* prototype masses: column blocks, rows in order (thread-count independent) */
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long q = 0; q < nb; q++) {
            size_t k0 = (size_t)q * 64, k1 = k0 + 64 < K ? k0 + 64 : K;
            for (size_t k = k0; k < k1; k++) cs[k] = 0;
            for (size_t b = 0; b < B; b++)
                for (size_t k = k0; k < k1; k++) cs[k] += T[b * K + k];
        }
        if (dist) SSLI_TRY(ssli_dist_allreduce_f64(dist, cs, K, fn));
        /* divisor, not reciprocal: 1 / (mass K) overflows for a denormal mass,
         * while t / (mass K) <= 1 / K since t is part of the mass */
        for (size_t k = 0; k < K; k++) cs[k] = cs[k] > 0 ? cs[k] * (double)K : 0.0;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long bi = 0; bi < (long long)B; bi++) {
            double *t = T + (size_t)bi * K, rs = 0;
            for (size_t k = 0; k < K; k++) rs += t[k] = cs[k] > 0 ? t[k] / cs[k] : 0.0;
            if (rs > 0)
                for (size_t k = 0; k < K; k++) t[k] /= rs; /* rows sum to 1 (= B x the 1/B mass) */
        }
    }
    return SSLK_OK;
}

void ssli_msn_sinkhorn(double *T, size_t B, size_t K, int iters, double *cs, int nt) {
    (void)ssli_msn_sinkhorn_dist(T, B, K, iters, cs, nt, NULL, NULL); /* no collective: cannot fail */
}

#define SSLI_LOSS_TEMPLATE "msn.c"
#include "loss_template.h"

/* The kind's checks; N: the rows of all ranks. */
sslk_status ssli_msn_check(sslk_loss *L, const ssli_loss_in *in, size_t N) {
    const char *fn = "sslk_loss_compute(msn)";
    if (!in->targets) return ssli_err(SSLK_E_INVALID_ARG, "%s: 'targets' is NULL (MSN needs n x d targets)", fn);
    if (in->indices) return ssli_err(SSLK_E_INVALID_ARG, "%s: MSN takes no indices", fn);
    SSLI_TRY(ssli_loss_param_ready(L, fn));
    if (in->d != L->pcols)
        return ssli_err(SSLK_E_SHAPE, "%s: inputs have d = %zu columns, the prototypes have dim = %zu", fn, in->d, L->pcols);
    if ((int)ssli_loss_setting(L, SSLK_MSN_PRIOR) == SSLK_MSN_PRIOR_USER && (!L->prior || L->prior_k != L->prows))
        return ssli_err(SSLK_E_STATE, "%s: prior = user but no prior vector of length %zu was set", fn, L->prows);
    if (N > ((size_t)1 << 28) || (size_t)in->nviews * N > ((size_t)1 << 28) || L->prows > ((size_t)1 << 24))
        return ssli_err(SSLK_E_OVERFLOW, "%s: too many anchors or prototypes", fn);
    /* caller-writable through sslk_loss_param: NaN / Inf would poison every logit */
    return ssli_loss_check_param(L, fn);
}

sslk_status ssli_msn_run(sslk_loss *L, const ssli_loss_in *in, const sslk_dist *t, size_t N, double *value,
                         const char *fn) {
    return ssli_loss_double(L) ? msn_run_d(L, in, t, N, value, fn) : msn_run_f(L, in, t, N, value, fn);
}

static sslk_status msn_compute(sslk_loss *L, const ssli_loss_in *in, double *value) {
    SSLI_TRY(ssli_msn_check(L, in, in->n));
    return ssli_msn_run(L, in, NULL, in->n, value, "sslk_loss_compute(msn)");
}

const ssli_loss_vt ssli_loss_msn_vt = {
    SSLK_LOSS_MSN, "msn", &ssli_settings_msn, msn_terms, 3, 1, msn_compute, msn_shape, msn_init, msn_size_keys,
};

#else /* ---- template ---------------------------------------------------- */

/* t: across ranks (NULL: one process), N the rows of all ranks. */
static sslk_status F(msn_run)(sslk_loss *L, const ssli_loss_in *in, const sslk_dist *t, size_t N, double *value,
                              const char *fn) {
    const sslk_ctx *ctx = L->ctx;
    const size_t n = in->n, d = in->d, K = L->prows, M = in->nviews * n, Mg = in->nviews * N;
    const double tau = ssli_loss_setting(L, SSLK_MSN_TEMPERATURE);
    const double ttau = tau * ssli_loss_setting(L, SSLK_MSN_SHARPEN);
    const int iters = (int)ssli_loss_setting(L, SSLK_MSN_SINKHORN_ITERATIONS);
    const double lam = ssli_loss_setting(L, SSLK_MSN_PRIOR_WEIGHT);
    const double lament = ssli_loss_setting(L, SSLK_MSN_ENTROPY_WEIGHT);
    const bool reverse = ssli_loss_setting(L, SSLK_MSN_KL_DIRECTION) == SSLK_KL_REVERSE;
    const int prior = (int)ssli_loss_setting(L, SSLK_MSN_PRIOR);
    const bool want = in->grads != NULL;
    const double ls = ssli_loss_setting(L, SSLK_MSN_LABEL_SMOOTHING), lsK = ls / (double)K;
    size_t bytes = 2 * SSLI_RUP(M * d * sizeof(R)) + SSLI_RUP(n * d * sizeof(R)) + 2 * SSLI_RUP(K * d * sizeof(R)) +
                   SSLI_RUP(M * K * sizeof(R)) + SSLI_RUP((n + 1) * K * sizeof(R)) + SSLI_RUP(n * K * sizeof(double)) +
                   3 * SSLI_RUP(M * sizeof(double)) + SSLI_RUP(n * sizeof(double)) + 4 * SSLI_RUP(K * sizeof(double)) +
                   SSLI_RUP((K + 2) * sizeof(double));
    char *p = ssli_loss_workspace(L, bytes);
    if (!p) return ssli_alloc_status();
    R *Zh = ssli_carve(&p, M * d * sizeof(R));
    R *dZ = ssli_carve(&p, M * d * sizeof(R));
    R *Hh = ssli_carve(&p, n * d * sizeof(R));
    R *Qh = ssli_carve(&p, K * d * sizeof(R));
    R *dQ = ssli_carve(&p, K * d * sizeof(R));
    R *P = ssli_carve(&p, M * K * sizeof(R));
    R *TL = ssli_carve(&p, (n + 1) * K * sizeof(R));
    double *Tt = ssli_carve(&p, n * K * sizeof(double));
    double *rz = ssli_carve(&p, M * sizeof(double));
    double *lse = ssli_carve(&p, M * sizeof(double));
    double *ent = ssli_carve(&p, M * sizeof(double));
    double *rh = ssli_carve(&p, n * sizeof(double));
    double *rq = ssli_carve(&p, K * sizeof(double));
    double *pbar = ssli_carve(&p, (K + 2) * sizeof(double)); /* + the cross-entropy and entropy sums */
    double *logpi = ssli_carve(&p, K * sizeof(double));
    double *g = ssli_carve(&p, K * sizeof(double));
    double *cs = ssli_carve(&p, K * sizeof(double));
    const int nt = ssli_threads(ctx);

    F(ssli_loss_normalize_views)(ctx, in->views, in->nviews, n, d, rz, Zh);
    F(ssli_loss_normalize)(ctx, in->targets, n, d, rh, Hh);
    F(ssli_loss_normalize)(ctx, L->param.data, K, d, rq, Qh);

    /* targets: softmax at the sharpened temperature, then Sinkhorn (batch statistic) */
    /* label smoothing: sharpen((1 - s) softmax(./tau) + s/K) as the official code, in
     * the log domain (log t = log(p') / sharpen, p' >= s/K > 0); without it
     * sharpen(softmax(./tau)) = softmax(./(tau sharpen)) directly */
    GEMM(ctx, false, true, n, K, d, (R)(1.0 / (ls > 0 ? tau : ttau)), Hh, d, Qh, d, (R)0, TL, K);
    if (ls > 0) {
        const double ish = 1.0 / ssli_loss_setting(L, SSLK_MSN_SHARPEN);
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long bi = 0; bi < (long long)n; bi++) {
            const R *t = TL + (size_t)bi * K;
            double *o = Tt + (size_t)bi * K;
            double m = -INFINITY, s = 0, mx = -INFINITY;
            for (size_t k = 0; k < K; k++) m = (double)t[k] > m ? (double)t[k] : m;
            for (size_t k = 0; k < K; k++) s += o[k] = exp((double)t[k] - m);
            for (size_t k = 0; k < K; k++) {
                o[k] = ish * log((1.0 - ls) * o[k] / s + lsK);
                mx = o[k] > mx ? o[k] : mx;
            }
            s = 0;
            for (size_t k = 0; k < K; k++) s += o[k] = exp(o[k] - mx);
            for (size_t k = 0; k < K; k++) o[k] /= s;
        }
    } else
#pragma omp parallel for schedule(static) num_threads(nt)
    for (long long bi = 0; bi < (long long)n; bi++) {
        const R *t = TL + (size_t)bi * K;
        double *o = Tt + (size_t)bi * K;
        double m = -INFINITY, s = 0;
        for (size_t k = 0; k < K; k++) m = (double)t[k] > m ? (double)t[k] : m;
        /* below -80 the float exp is clamped or denormal, and Sinkhorn rescales a
         * prototype column of such tiny entries back to mass 1/K: their ratios
         * matter, so they take the double exp (never reached at the default
         * target temperature 0.025, where logits span at most 80) */
        for (size_t k = 0; k < K; k++) {
            double x = (double)t[k] - m;
            s += o[k] = x > -80.0 ? (double)EXPR((R)x) : exp(x);
        }
        for (size_t k = 0; k < K; k++) o[k] /= s;
    }
    if (iters > 0) SSLI_TRY(ssli_msn_sinkhorn_dist(Tt, n, K, iters, cs, ssli_loss_nt(ctx, n * K * 4), t, fn));

    /* targets in the working type, and their row sums (1 up to rounding) */
#pragma omp parallel for schedule(static) num_threads(nt)
    for (long long e = 0; e < (long long)(n * K); e++) TL[e] = (R)Tt[e];

    /* anchor predictions and per-anchor cross-entropy / entropy */
    GEMM(ctx, false, true, M, K, d, (R)(1.0 / tau), Zh, d, Qh, d, (R)0, P, K);
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
    for (long long ii = 0; ii < (long long)M; ii++) {
        size_t i = (size_t)ii;
        R *s = P + i * K;
        const R *t = TL + (i % n) * K;
        const double tsm = F(ssli_row_sum)(t, K);
        R m = (R)F(ssli_row_max)(s, K);
        /* sum_k t_k (m - s_k) >= 0: the cross-entropy without the cancellation of
         * tsm (m + log sum) - t.s (10x the float32 reference's error near saturation) */
        const double tg = F(ssli_row_dotgap)(t, s, K, m);
        double es;
        double sum = F(ssli_row_expsum2)(s, K, m, &es);
        F(ssli_row_scale)(s, K, (R)(1.0 / sum));
        /* sum_k p log p = sum_k e (x - m) / sum - log(sum) */
        double ps = es / sum - log(sum);
        lse[i] = tsm * log(sum) + tg; /* cross-entropy of row i */
        ent[i] = -ps;
        if (ls > 0) { /* smoothed predictions p' = (1 - s) p + s/K */
            double ce = 0, h = 0;
            for (size_t k = 0; k < K; k++) {
                double q = (1.0 - ls) * (double)s[k] + lsK, lq = log(q);
                ce -= (double)t[k] * lq;
                h -= q * lq;
            }
            lse[i] = ce;
            ent[i] = h;
        }
    }
    /* pbar: column sums over anchors (batch statistic), thread-count independent */
    long long nb = (long long)((K + 63) / 64);
#pragma omp parallel for schedule(static) num_threads(nt)
    for (long long q = 0; q < nb; q++) {
        size_t k0 = (size_t)q * 64, k1 = k0 + 64 < K ? k0 + 64 : K;
        double acc[64] = {0};
        for (size_t i = 0; i < M; i++)
            for (size_t k = k0; k < k1; k++) acc[k - k0] += (double)P[i * K + k];
        for (size_t k = k0; k < k1; k++) pbar[k] = acc[k - k0];
    }
    double ce = 0, et = 0;
    for (size_t i = 0; i < M; i++) ce += lse[i], et += ent[i];
    pbar[K] = ce, pbar[K + 1] = et;
    if (t) SSLI_TRY(ssli_dist_allreduce_f64(t, pbar, K + 2, fn)); /* over all ranks' anchors */
    ce = pbar[K], et = pbar[K + 1];
    for (size_t k = 0; k < K; k++) pbar[k] = (1.0 - ls) * pbar[k] / (double)Mg + lsK;
    if (prior == SSLK_MSN_PRIOR_UNIFORM)
        for (size_t k = 0; k < K; k++) logpi[k] = -log((double)K);
    else {
        if (prior == SSLK_MSN_PRIOR_POWER_LAW)
            ssli_msn_log_power_law(K, ssli_loss_setting(L, SSLK_MSN_TAU), logpi);
        else
            for (size_t k = 0; k < K; k++) logpi[k] = log(L->prior[k]);
    }
    double kl = 0;
    for (size_t k = 0; k < K; k++) {
        double pb = pbar[k];
        if (reverse) {
            double pbc = pb > 1e-12 ? pb : 1e-12, pi = exp(logpi[k]);
            kl += pi * (logpi[k] - log(pbc));
            g[k] = -pi / pbc;
        } else {
            if (pb > 0) kl += pb * (log(pb) - logpi[k]);
            g[k] = log(pb > 1e-300 ? pb : 1e-300) - logpi[k];
        }
    }
    L->terms[0] = ce / (double)Mg;
    L->terms[1] = kl;
    L->terms[2] = et / (double)Mg;
    *value = L->terms[0] + lam * kl + lament * L->terms[2];
    if (!want) return SSLK_OK;

    /* dL/dlogits = [P - T + lam P (g - P.g) - lament P (log P + H)] / M, in place */
    const double invM = 1.0 / (double)Mg;
    R *gr = TL + n * K; /* g in the working type (spare row block after the targets) */
    for (size_t k = 0; k < K; k++) gr[k] = (R)g[k];
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
    for (long long ii = 0; ii < (long long)M; ii++) {
        size_t i = (size_t)ii;
        R *s = P + i * K;
        const R *t = TL + (i % n) * K;
        const R pg = (R)F(ssli_row_dot)(s, gr, K);
        const R a = (R)invM, lm = (R)lam;
        if (ls > 0) {
            /* w = dL/dp (through p' = (1 - s) p + s/K), then the softmax Jacobian */
            double pw = 0;
#define MSN_W(k, q) ((1.0 - ls) * invM * (-(double)t[k] / (q) + lam * g[k] - (lament > 0 ? lament * log(q) : 0.0)))
            for (size_t k = 0; k < K; k++) {
                double pk = (double)s[k];
                pw += pk * MSN_W(k, (1.0 - ls) * pk + lsK);
            }
            for (size_t k = 0; k < K; k++) {
                double pk = (double)s[k];
                s[k] = (R)(pk * (MSN_W(k, (1.0 - ls) * pk + lsK) - pw));
            }
#undef MSN_W
        } else if (lament == 0) {
            for (size_t k = 0; k < K; k++) s[k] = a * (s[k] - t[k] + lm * s[k] * (gr[k] - pg));
        } else {
            for (size_t k = 0; k < K; k++) {
                double pk = (double)s[k];
                double gk = pk - (double)t[k] + lam * pk * ((double)gr[k] - (double)pg);
                gk -= lament * pk * (log(pk > 0 ? pk : 1e-300) + ent[i]);
                s[k] = (R)(gk * invM);
            }
        }
    }
    GEMM(ctx, false, false, M, d, K, (R)(1.0 / tau), P, K, Qh, d, (R)0, dZ, d);
    GEMM(ctx, true, false, K, d, M, (R)(1.0 / tau), P, K, Zh, d, (R)0, dQ, d);
    if (t) /* the prototypes' gradient over all ranks' anchors, identical on every rank */
        SSLI_TRY(sizeof(R) == sizeof(float) ? ssli_dist_allreduce_f32(t, (float *)(void *)dQ, K * d, fn)
                                            : ssli_dist_allreduce_f64(t, (double *)(void *)dQ, K * d, fn));
    F(ssli_loss_normalize_back_views)(ctx, Zh, dZ, rz, in->nviews, n, d, in->grads);
    F(ssli_loss_normalize_back)(ctx, Qh, dQ, rq, K, d, L->param.grad, true);
    return SSLK_OK;
}

#endif
