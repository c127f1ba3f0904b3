/* Ensembles of classifiers (FAIR-Ensemble): combination rules and the
 * ensemble-size curve over seeded random member orders.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <string.h>

#include "metric_internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static sslk_status check_logits(const float *logits, size_t m, size_t n, size_t c, int combine, const char *fn) {
    SSLI_CHECK_PTR(logits, fn);
    if (m == 0) return ssli_err(SSLK_E_SHAPE, "%s: 'm' = 0 members", fn);
    if (n == 0) return ssli_err(SSLK_E_SHAPE, "%s: 'n' = 0 samples", fn);
    if (c == 0 || c > INT32_MAX) return ssli_err(SSLK_E_SHAPE, "%s: 'c' = %zu classes", fn, c);
    if (combine < SSLK_ENSEMBLE_MEAN_PROB || combine > SSLK_ENSEMBLE_MAJORITY_VOTE)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'combine' = %d is not an sslk_ensemble_combine", fn, combine);
    size_t tot;
    if (ssli_mul3_overflow(m, n, c, &tot) || ssli_mul_overflow(tot, sizeof(double), &tot))
        return ssli_err(SSLK_E_OVERFLOW, "%s: m x n x c = %zu x %zu x %zu overflows", fn, m, n, c);
    for (size_t k = 0; k < m; k++) {
        size_t bad = ssli_first_nonfinite_f32(logits + k * n * c, n * c);
        if (bad != SIZE_MAX)
            return ssli_err(SSLK_E_NONFINITE, "%s: 'logits' of member %zu, sample %zu, class %zu is not finite", fn,
                            k, bad / c, bad % c);
    }
    return SSLK_OK;
}

/* Add one member's contribution for sample row x (c logits) into acc. */
static void add_member(const float *x, size_t c, int combine, double *acc) {
    if (combine == SSLK_ENSEMBLE_MEAN_LOGIT) {
        for (size_t j = 0; j < c; j++) acc[j] += x[j];
    } else if (combine == SSLK_ENSEMBLE_MAJORITY_VOTE) {
        acc[ssli_argmax_f(x, c)] += 1.0;
    } else {
        double mx = x[0], z = 0;
        for (size_t j = 1; j < c; j++) mx = x[j] > mx ? x[j] : mx;
        for (size_t j = 0; j < c; j++) z += exp((double)x[j] - mx);
        for (size_t j = 0; j < c; j++) acc[j] += exp((double)x[j] - mx) / z;
    }
}

sslk_status sslk_ensemble_predict(sslk_ctx *ctx, const float *logits, size_t m, size_t n, size_t c,
                                  sslk_ensemble_combine combine, int32_t *pred, float *scores) {
    static const char *fn = "sslk_ensemble_predict";
    SSLI_CHECK_PTR(pred, fn);
    SSLI_TRY(check_logits(logits, m, n, c, (int)combine, fn));
    int nt = ssli_threads(ctx);
    double *acc = ssli_malloc(ctx, (size_t)nt * c, sizeof(double));
    if (!acc) return ssli_alloc_status();
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t i = 0; i < n; i++) {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        double *a = acc + (size_t)t * c;
        memset(a, 0, c * sizeof(double));
        for (size_t k = 0; k < m; k++) add_member(logits + (k * n + i) * c, c, (int)combine, a);
        pred[i] = ssli_argmax_d(a, c);
        if (scores)
            for (size_t j = 0; j < c; j++) scores[i * c + j] = (float)(a[j] / (double)m);
    }
    ssli_free(ctx, acc);
    return SSLK_OK;
}

sslk_status sslk_ensemble_curve(sslk_ctx *ctx, const float *logits, size_t m, size_t n, size_t c,
                                const int32_t *labels, sslk_ensemble_combine combine, size_t k, size_t orders,
                                uint64_t seed, double *accuracy, double *balanced_accuracy, double *worst_k,
                                double *best_k) {
    static const char *fn = "sslk_ensemble_curve";
    SSLI_CHECK_PTR(labels, fn);
    SSLI_TRY(check_logits(logits, m, n, c, (int)combine, fn));
    if (orders == 0) return ssli_err(SSLK_E_INVALID_ARG, "%s: 'orders' = 0", fn);
    if (k > c) return ssli_err(SSLK_E_RANGE, "%s: 'k' = %zu exceeds the %zu classes", fn, k, c);
    SSLI_TRY(ssli_check_ids(labels, n, c, fn, "labels"));
    size_t tmp;
    if (ssli_mul3_overflow(orders, m, 4 * sizeof(double), &tmp))
        return ssli_err(SSLK_E_OVERFLOW, "%s: 'orders' x 'm' overflows", fn);
    int64_t *count = ssli_calloc(ctx, c, sizeof(int64_t));
    if (!count) return ssli_alloc_status();
    for (size_t i = 0; i < n; i++) count[labels[i]]++;
    size_t present = ssli_present_classes(count, c);
    if (k > present) {
        ssli_free(ctx, count);
        return ssli_err(SSLK_E_RANGE, "%s: 'k' = %zu exceeds the %zu classes present in 'labels'", fn, k, present);
    }
    /* Per-order results res[o][s][4], reduced in order afterwards: deterministic
     * whatever the thread count. */
    double *res = ssli_malloc(ctx, orders * m * 4, sizeof(double));
    int nt = ssli_threads(ctx);
    if ((size_t)nt > orders) nt = (int)orders;
    size_t per = n * c + c + m; /* doubles for acc, correct counts (as int64), order */
    void *work = ssli_malloc(ctx, (size_t)nt * per, sizeof(double));
    ssli_class_acc *scratch = ssli_malloc(ctx, (size_t)nt * c, sizeof(ssli_class_acc));
    if (!res || !work || !scratch) {
        ssli_free(ctx, count);
        ssli_free(ctx, res);
        ssli_free(ctx, work);
        ssli_free(ctx, scratch);
        return ssli_alloc_status();
    }
#pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (size_t o = 0; o < orders; o++) {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        double *acc = (double *)work + (size_t)t * per;
        int64_t *cor = (int64_t *)(void *)(acc + n * c);
        size_t *perm = (size_t *)(void *)(acc + n * c + c);
        ssli_rng rng;
        ssli_rng_init(&rng, seed, o);
        for (size_t s = 0; s < m; s++) perm[s] = s;
        ssli_rng_shuffle(&rng, perm, m);
        memset(acc, 0, n * c * sizeof(double));
        for (size_t s = 0; s < m; s++) {
            const float *L = logits + perm[s] * n * c;
            memset(cor, 0, c * sizeof(int64_t));
            int64_t total = 0;
            for (size_t i = 0; i < n; i++) {
                add_member(L + i * c, c, (int)combine, acc + i * c);
                int ok = ssli_argmax_d(acc + i * c, c) == labels[i];
                cor[labels[i]] += ok;
                total += ok;
            }
            ssli_class_stats st;
            ssli_class_stats_compute(count, cor, c, k, NULL, NULL, NULL, NULL, scratch + (size_t)t * c, &st);
            double *r = res + (o * m + s) * 4;
            r[0] = (double)total / (double)n;
            r[1] = st.balanced;
            r[2] = st.worst_k;
            r[3] = st.best_k;
        }
    }
    for (size_t s = 0; s < m; s++) {
        double sum[4] = {0, 0, 0, 0};
        for (size_t o = 0; o < orders; o++)
            for (int j = 0; j < 4; j++) sum[j] += res[(o * m + s) * 4 + j];
        if (accuracy) accuracy[s] = sum[0] / (double)orders;
        if (balanced_accuracy) balanced_accuracy[s] = sum[1] / (double)orders;
        if (worst_k) worst_k[s] = sum[2] / (double)orders;
        if (best_k) best_k[s] = sum[3] / (double)orders;
    }
    ssli_free(ctx, count);
    ssli_free(ctx, res);
    ssli_free(ctx, work);
    ssli_free(ctx, scratch);
    return SSLK_OK;
}
