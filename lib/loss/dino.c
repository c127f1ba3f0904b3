/* DINO (Caron et al. 2021), conventions of the official code
 * (facebookresearch/dino, main_dino.py DINOLoss).  Views: S student views then
 * T teacher views, n x K each; student view v < T is the crop of teacher view v.
 *   q_t = softmax((y_t - c) / tau_t)             (constant: stop-gradient)
 *   l(t, v) = mean_i sum_k -q_t[i,k] log_softmax(x_v[i] / tau_s)_k
 *   L = mean over the P = T (S - 1) pairs (t, v != t) of l(t, v)
 * Per row, student view v sees w = sum_{t != v} q_t (weights summing to c_v;
 * the local crops v >= T all see the sum of every q_t, formed once per row):
 *   sum_k w_k (lse - x_k / tau_s) = sum_k w_k (m - x_k / tau_s) + log Z sum_k w_k
 * with m the row max and Z = sum exp(x / tau_s - m) (both parts >= 0: no
 * cancellation), and dL/dx_v = (sum(w) softmax - w) / (P N tau_s).
 * After the forward the centre moves to m c + (1 - m) mean of the T n teacher
 * rows (across ranks: the all-reduced sum over every rank's rows, as the
 * official update_center).  tau_t follows the official numpy schedule:
 * linspace(warmup_teacher_temp, teacher_temp, W)[epoch] for epoch < W, then
 * teacher_temp.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLI_IN_TEMPLATE
#include <omp.h>
#include <string.h>

#include "dist/dist_internal.h"
#include "loss_dist.h"

static const ssli_setting_def dino_defs[] = {
    {SSLK_DINO_STUDENT_TEMP, "student_temp", SSLK_SETTING_F64, 1e-3, 100, 0.1,
     "student temperature (official --student_temp 0.1)"},
    {SSLK_DINO_TEACHER_TEMP, "teacher_temp", SSLK_SETTING_F64, 1e-3, 100, 0.04,
     "teacher temperature after the warm-up (official 0.04; 0.04 - 0.07)"},
    {SSLK_DINO_WARMUP_TEACHER_TEMP, "warmup_teacher_temp", SSLK_SETTING_F64, 1e-3, 100, 0.04,
     "teacher temperature at epoch 0 of the warm-up (official 0.04)"},
    {SSLK_DINO_WARMUP_TEACHER_TEMP_EPOCHS, "warmup_teacher_temp_epochs", SSLK_SETTING_I64, 0, 1e6, 0,
     "epochs of the linear teacher-temperature warm-up (official default 0; the paper 30)"},
    {SSLK_DINO_CENTER_MOMENTUM, "center_momentum", SSLK_SETTING_F64, 0, 1, 0.9,
     "momentum m of the centre: c = m c + (1 - m) teacher batch mean (1 freezes it)"},
    {SSLK_DINO_EPOCH, "epoch", SSLK_SETTING_I64, 0, 1e9, 0,
     "current epoch, set by the caller: selects the warm-up teacher temperature"},
    {SSLK_DINO_TEACHER_VIEWS, "teacher_views", SSLK_SETTING_I64, 1, 64, 2,
     "teacher (global) views, the last views of the batch (official 2)"},
};
const ssli_setting_table ssli_settings_dino = {"dino", dino_defs, sizeof dino_defs / sizeof dino_defs[0], NULL};

static const char *const dino_terms[] = {"cross_entropy", "teacher_entropy", "kl_divergence"};

/* the official schedule: np.linspace(a, b, W)[epoch] (last point exactly b),
 * then b; W = 1 gives a at epoch 0 as linspace does */
static double dino_teacher_temp(const sslk_loss *L) {
    const double a = ssli_loss_setting(L, SSLK_DINO_WARMUP_TEACHER_TEMP), b = ssli_loss_setting(L, SSLK_DINO_TEACHER_TEMP);
    const double W = ssli_loss_setting(L, SSLK_DINO_WARMUP_TEACHER_TEMP_EPOCHS), e = ssli_loss_setting(L, SSLK_DINO_EPOCH);
    if (e >= W) return b;
    if (W == 1) return a;
    if (e == W - 1) return b;
    return a + e * ((b - a) / (W - 1));
}

#define SSLI_LOSS_TEMPLATE "dino.c"
#include "loss_template.h"

/* Column sums of the T teacher views (cs[K]), in double: column blocks, views
 * then rows in order, so the sums do not depend on the thread count. */
static void dino_colsum(const sslk_ctx *ctx, const float *const *tv, size_t T, size_t n, size_t K, double *cs) {
    long long nb = (long long)((K + 63) / 64);
#pragma omp parallel for schedule(static) num_threads(ssli_loss_nt(ctx, T * n * K))
    for (long long q = 0; q < nb; q++) {
        size_t j0 = (size_t)q * 64, j1 = j0 + 64 < K ? j0 + 64 : K;
        double acc[64] = {0};
        for (size_t t = 0; t < T; t++)
            for (size_t i = 0; i < n; i++) {
                const float *z = tv[t] + i * K;
                for (size_t j = j0; j < j1; j++) acc[j - j0] += (double)z[j];
            }
        for (size_t j = j0; j < j1; j++) cs[j] = acc[j - j0];
    }
}

/* Kind checks; S and T out.  The centre is made (zeros) on the first call. */
static sslk_status dino_check(sslk_loss *L, const ssli_loss_in *in, size_t *S, size_t *T, const char *fn) {
    const size_t t = (size_t)ssli_loss_setting(L, SSLK_DINO_TEACHER_VIEWS);
    if (in->indices || in->targets)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: takes no indices or targets (the teacher outputs are the last "
                        "%zu views)", fn, t);
    if (in->nviews < t + 2)
        return ssli_err(SSLK_E_SHAPE, "%s: got %zu views, DINO needs at least 2 student views then the %zu "
                        "teacher views (teacher_views = %zu)", fn, in->nviews, t, t);
    if (in->nviews - t < t)
        return ssli_err(SSLK_E_SHAPE, "%s: %zu student views but teacher_views = %zu: the first teacher_views "
                        "student views are the teachers' global crops", fn, in->nviews - t, t);
    if (L->dino_center && L->dino_k != in->d)
        return ssli_err(SSLK_E_SHAPE, "%s: the views have K = %zu columns but the centre has %zu entries "
                        "(sslk_loss_dino_set_center resizes it)", fn, in->d, L->dino_k);
    if (!L->dino_center) {
        L->dino_center = ssli_calloc(L->ctx, in->d, sizeof(double));
        if (!L->dino_center) return ssli_alloc_status();
        L->dino_k = in->d;
    }
    *S = in->nviews - t;
    *T = t;
    return SSLK_OK;
}

/* Local rows: acc[0] = sum of the pair cross-entropies over rows, acc[1] = sum of
 * the teacher entropies, cs = teacher column sums; gradients for a mean over
 * Ntot rows (all ranks') and P pairs; teacher gradients zero. */
static sslk_status dino_local(sslk_loss *L, const ssli_loss_in *in, size_t S, size_t T, size_t Ntot, double *acc,
                              double *cs) {
    const double tt = dino_teacher_temp(L);
    sslk_status s = ssli_loss_double(L) ? dino_rows_d(L, in, S, T, tt, Ntot, acc)
                                        : dino_rows_f(L, in, S, T, tt, Ntot, acc);
    if (s != SSLK_OK) return s;
    dino_colsum(L->ctx, in->views + S, T, in->n, in->d, cs);
    if (in->grads)
        for (size_t v = S; v < S + T; v++)
            if (in->grads[v]) memset(in->grads[v], 0, in->n * in->d * sizeof(float));
    return SSLK_OK;
}

/* Value, terms and the centre update from the (all-reduced) sums over N rows. */
static sslk_status dino_finish(sslk_loss *L, const double *acc, const double *cs, size_t S, size_t T, size_t N,
                               double *value, const char *fn) {
    const double P = (double)T * (double)(S - 1), ce = acc[0] / (P * (double)N), h = acc[1] / ((double)T * (double)N);
    if (!isfinite(ce) || !isfinite(h))
        return ssli_err(SSLK_E_NUMERIC, "%s: the cross-entropy is %g (teacher entropy %g): logits / temperature "
                        "overflow float32; rescale the outputs or use precision = double", fn, ce, h);
    L->terms[0] = ce;
    L->terms[1] = h;
    L->terms[2] = ce - h;
    *value = ce;
    const double m = ssli_loss_setting(L, SSLK_DINO_CENTER_MOMENTUM), inv = 1.0 / ((double)T * (double)N);
    for (size_t k = 0; k < L->dino_k; k++) L->dino_center[k] = L->dino_center[k] * m + cs[k] * inv * (1.0 - m);
    return SSLK_OK;
}

static sslk_status dino_compute(sslk_loss *L, const ssli_loss_in *in, double *value) {
    const char *fn = "sslk_loss_compute(dino)";
    size_t S = 0, T = 0;
    SSLI_TRY(dino_check(L, in, &S, &T, fn));
    double *buf = ssli_malloc(L->ctx, in->d + 2, sizeof(double));
    if (!buf) return ssli_alloc_status();
    sslk_status s = dino_local(L, in, S, T, in->n, buf, buf + 2);
    if (s == SSLK_OK) s = dino_finish(L, buf, buf + 2, S, T, in->n, value, fn);
    ssli_free(L->ctx, buf);
    return s;
}

sslk_status ssli_loss_dist_dino(sslk_loss *L, const sslk_dist *t, const ssli_loss_in *in, size_t N, double *value,
                                const char *fn) {
    /* every rank takes part in the one all-reduce (d and the view count are
     * agreed), also when its own DINO checks fail: slot 0 counts failures */
    size_t S = 0, T = 0;
    sslk_status local = dino_check(L, in, &S, &T, fn);
    double *buf = ssli_calloc(L->ctx, in->d + 3, sizeof(double));
    if (!buf) return ssli_alloc_status();
    if (local == SSLK_OK) local = dino_local(L, in, S, T, N, buf + 1, buf + 3);
    buf[0] = local != SSLK_OK;
    if (local != SSLK_OK) memset(buf + 1, 0, (in->d + 2) * sizeof(double));
    sslk_status s = ssli_dist_allreduce_f64(t, buf, in->d + 3, fn);
    if (s == SSLK_OK && local != SSLK_OK) s = local;
    if (s == SSLK_OK && buf[0] != 0)
        s = ssli_err(SSLK_E_DIST, "%s: dino loss: %g other rank(s) refused their inputs, so every rank stops", fn,
                     buf[0]);
    if (s == SSLK_OK) s = dino_finish(L, buf + 1, buf + 3, S, T, N, value, fn);
    ssli_free(L->ctx, buf);
    return s;
}

const ssli_loss_vt ssli_loss_dino_vt = {
    SSLK_LOSS_DINO, "dino", &ssli_settings_dino, dino_terms, 3, 0, dino_compute, NULL, NULL, NULL,
};

/* ---- the centre (state, not a gradient parameter) ----------------------------------- */

static sslk_status dino_only(const sslk_loss *L, const char *fn) {
    SSLI_CHECK_PTR(L, fn);
    if (L->vt->kind != SSLK_LOSS_DINO)
        return ssli_err(SSLK_E_UNSUPPORTED, "%s: only DINO losses have a centre (this one is '%s')", fn, L->vt->fn);
    return SSLK_OK;
}

sslk_status sslk_loss_dino_center_size(const sslk_loss *L, size_t *k) {
    const char *fn = "sslk_loss_dino_center_size";
    SSLI_CHECK_PTR(k, fn);
    SSLI_TRY(dino_only(L, fn));
    *k = L->dino_center ? L->dino_k : 0;
    return SSLK_OK;
}

sslk_status sslk_loss_dino_get_center(const sslk_loss *L, double *center, size_t k) {
    const char *fn = "sslk_loss_dino_get_center";
    SSLI_CHECK_PTR(center, fn);
    SSLI_TRY(dino_only(L, fn));
    if (!L->dino_center)
        return ssli_err(SSLK_E_STATE, "%s: no centre yet (it is made by the first compute or set_center)", fn);
    if (k != L->dino_k) return ssli_err(SSLK_E_SHAPE, "%s: 'k' = %zu but the centre has %zu entries", fn, k, L->dino_k);
    memcpy(center, L->dino_center, k * sizeof(double));
    return SSLK_OK;
}

sslk_status sslk_loss_dino_set_center(sslk_loss *L, const double *center, size_t k) {
    const char *fn = "sslk_loss_dino_set_center";
    SSLI_CHECK_PTR(center, fn);
    SSLI_TRY(dino_only(L, fn));
    if (k == 0 || k > ((size_t)1 << 32))
        return ssli_err(SSLK_E_SHAPE, "%s: 'k' = %zu (1 .. 2^32)", fn, k);
    for (size_t i = 0; i < k; i++)
        if (!isfinite(center[i]))
            return ssli_err(SSLK_E_NONFINITE, "%s: 'center[%zu]' = %g is not finite", fn, i, center[i]);
    if (!L->dino_center || L->dino_k != k) {
        double *c = ssli_malloc(L->ctx, k, sizeof(double));
        if (!c) return ssli_alloc_status();
        ssli_free(L->ctx, L->dino_center);
        L->dino_center = c;
        L->dino_k = k;
    }
    memcpy(L->dino_center, center, k * sizeof(double));
    return SSLK_OK;
}

#else /* ---- template: R = float or double ---------------------------------- */

/* One parallel region over rows; each thread keeps T + 3 rows of K in R: the
 * teacher distributions q_t, their sum qs (the weights of every local crop),
 * the weights w of a global crop when T > 2 (for T = 2 they are the other q),
 * and the scaled student row x (then its exponentials). */
static sslk_status F(dino_rows)(sslk_loss *L, const ssli_loss_in *in, size_t S, size_t T, double tt, size_t Ntot,
                                double *acc) {
    const sslk_ctx *ctx = L->ctx;
    const size_t n = in->n, K = in->d;
    const double ts = ssli_loss_setting(L, SSLK_DINO_STUDENT_TEMP);
    const double P = (double)T * (double)(S - 1), gs = 1.0 / (P * (double)Ntot * ts);
    const int nt = ssli_loss_nt(ctx, n * K * (S + T));
    size_t per, all;
    if (ssli_mul_overflow(T + 3, K * sizeof(R), &per) || ssli_mul_overflow(SSLI_RUP(per), (size_t)nt, &all))
        return ssli_err(SSLK_E_OVERFLOW, "sslk_loss_compute(dino): scratch of %zu x %zu overflows", T + 3, K);
    per = SSLI_RUP(per);
    size_t bytes = all + SSLI_RUP(K * sizeof(R)) + 2 * SSLI_RUP(n * sizeof(double));
    char *p = ssli_loss_workspace(L, bytes);
    if (!p) return ssli_alloc_status();
    R *cen = ssli_carve(&p, K * sizeof(R));
    double *rce = ssli_carve(&p, n * sizeof(double));
    double *rh = ssli_carve(&p, n * sizeof(double));
    char *thr = p;
    for (size_t k = 0; k < K; k++) cen[k] = (R)L->dino_center[k];
    const R its = (R)(1.0 / ts), itt = (R)(1.0 / tt);
#pragma omp parallel num_threads(nt)
    {
        R *q = (R *)(thr + (size_t)omp_get_thread_num() * per), *qs = q + T * K, *w = qs + K, *x = w + K;
#pragma omp for schedule(static)
        for (long long ii = 0; ii < (long long)n; ii++) {
            const size_t i = (size_t)ii;
            double h = 0, ce = 0;
            for (size_t t = 0; t < T; t++) {
                const float *y = in->views[S + t] + i * K;
                R *qt = q + t * K;
                for (size_t k = 0; k < K; k++) qt[k] = ((R)y[k] - cen[k]) * itt;
                const R m = F(ssli_row_max)(qt, K);
                double es, Z = F(ssli_row_expsum2)(qt, K, m, &es);
                h += log(Z) - es / Z; /* -sum q log q */
                F(ssli_row_scale)(qt, K, (R)(1.0 / Z));
                if (t == 0) memcpy(qs, qt, K * sizeof(R));
                else
                    for (size_t k = 0; k < K; k++) qs[k] += qt[k];
            }
            const double qsum = F(ssli_row_sum)(qs, K);
            for (size_t v = 0; v < S; v++) {
                /* w = sum of the teachers of the other crops */
                const R *wv = qs;
                if (v < T && T == 2) wv = q + (1 - v) * K;
                else if (v < T) {
                    memset(w, 0, K * sizeof(R));
                    for (size_t t = 0; t < T; t++)
                        if (t != v)
                            for (size_t k = 0; k < K; k++) w[k] += q[t * K + k];
                    wv = w;
                }
                const double wsum = wv == qs ? qsum : F(ssli_row_sum)(wv, K);
                const float *z = in->views[v] + i * K;
                for (size_t k = 0; k < K; k++) x[k] = (R)z[k] * its;
                const R m = F(ssli_row_max)(x, K);
                const double gap = F(ssli_row_dotgap)(wv, x, K, m);
                const double Z = F(ssli_row_expsum)(x, x, K, m);
                ce += gap + log(Z) * wsum;
                float *g = in->grads ? in->grads[v] : NULL;
                if (!g) continue;
                g += i * K;
                const R a = (R)(wsum / Z * gs), b = (R)gs;
                for (size_t k = 0; k < K; k++) g[k] = (float)(a * x[k] - b * wv[k]);
            }
            rce[i] = ce;
            rh[i] = h;
        }
    }
    acc[0] = acc[1] = 0;
    for (size_t i = 0; i < n; i++) acc[0] += rce[i], acc[1] += rh[i];
    return SSLK_OK;
}

#endif
