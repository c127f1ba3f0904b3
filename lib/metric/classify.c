/* Classification reports: accuracy, per-class and per-group accuracy,
 * worst-k / best-k class accuracy (FAIR-Ensemble: unweighted mean of the k
 * per-class accuracies; ImageNet-X: pooled over the samples of those classes).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metric_internal.h"

sslk_status ssli_check_ids(const int32_t *v, size_t n, size_t hi, const char *fn, const char *arg) {
    for (size_t i = 0; i < n; i++)
        if (v[i] < 0 || (size_t)v[i] >= hi)
            return ssli_err(SSLK_E_RANGE, "%s: '%s[%zu]' = %d is outside [0, %zu)", fn, arg, i, (int)v[i], hi);
    return SSLK_OK;
}

sslk_status sslk_argmax(sslk_ctx *ctx, const float *logits, size_t n, size_t c, int32_t *pred) {
    static const char *fn = "sslk_argmax";
    (void)ctx;
    SSLI_CHECK_PTR(logits, fn);
    SSLI_CHECK_PTR(pred, fn);
    if (c == 0 || c > INT32_MAX) return ssli_err(SSLK_E_SHAPE, "%s: 'c' = %zu classes", fn, c);
    size_t tmp;
    if (ssli_mul_overflow(n, c, &tmp)) return ssli_err(SSLK_E_OVERFLOW, "%s: n x c overflows", fn);
    SSLI_TRY(ssli_check_finite_f32(logits, n, c, fn, "logits"));
    for (size_t i = 0; i < n; i++) pred[i] = ssli_argmax_f(logits + i * c, c);
    return SSLK_OK;
}

size_t ssli_present_classes(const int64_t *count, size_t C) {
    size_t p = 0;
    for (size_t c = 0; c < C; c++) p += count[c] > 0;
    return p;
}

static int cmp_asc(const void *a, const void *b) {
    const ssli_class_acc *x = a, *y = b;
    if (x->acc != y->acc) return x->acc < y->acc ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int cmp_desc(const void *a, const void *b) {
    const ssli_class_acc *x = a, *y = b;
    if (x->acc != y->acc) return x->acc > y->acc ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Rank present entries of acc (NaN = absent) into worst/best. */
static size_t rank_into(const double *acc, size_t C, size_t k, int32_t *worst, int32_t *best, ssli_class_acc *sc) {
    size_t p = 0;
    for (size_t c = 0; c < C; c++)
        if (!isnan(acc[c])) sc[p++] = (ssli_class_acc){acc[c], (int32_t)c};
    if (worst) {
        qsort(sc, p, sizeof *sc, cmp_asc);
        for (size_t i = 0; i < k && i < p; i++) worst[i] = sc[i].id;
    }
    if (best) {
        qsort(sc, p, sizeof *sc, cmp_desc);
        for (size_t i = 0; i < k && i < p; i++) best[i] = sc[i].id;
    }
    return p;
}

void ssli_class_stats_compute(const int64_t *count, const int64_t *correct, size_t C, size_t k,
                              const int32_t *fixed_worst, const int32_t *fixed_best, int32_t *worst_ids,
                              int32_t *best_ids, ssli_class_acc *scratch, ssli_class_stats *st) {
    double sum = 0;
    size_t q = 0;
    for (size_t c = 0; c < C; c++)
        if (count[c] > 0) {
            scratch[q] = (ssli_class_acc){(double)correct[c] / (double)count[c], (int32_t)c};
            sum += scratch[q++].acc;
        }
    st->balanced = q ? sum / (double)q : NAN;
    st->worst_k = st->best_k = st->worst_pooled = NAN;
    if (k == 0 || (!fixed_worst && k > q)) return;
    /* worst set: fixed ids, or the k lowest accuracies (ties: lower id) */
    double s = 0;
    int64_t pool_n = 0, pool_c = 0;
    bool absent = false;
    if (!fixed_worst) qsort(scratch, q, sizeof *scratch, cmp_asc);
    for (size_t i = 0; i < k; i++) {
        int32_t id = fixed_worst ? fixed_worst[i] : scratch[i].id;
        if (worst_ids) worst_ids[i] = id;
        if (count[id] == 0) absent = true;
        else s += (double)correct[id] / (double)count[id];
        pool_n += count[id];
        pool_c += correct[id];
    }
    st->worst_k = absent ? NAN : s / (double)k;
    st->worst_pooled = pool_n ? (double)pool_c / (double)pool_n : NAN;
    s = 0;
    absent = false;
    if (!fixed_best) qsort(scratch, q, sizeof *scratch, cmp_desc);
    for (size_t i = 0; i < k; i++) {
        int32_t id = fixed_best ? fixed_best[i] : scratch[i].id;
        if (best_ids) best_ids[i] = id;
        if (count[id] == 0) absent = true;
        else s += (double)correct[id] / (double)count[id];
    }
    st->best_k = absent ? NAN : s / (double)k;
}

sslk_status sslk_rank_classes(const double *acc, size_t num_classes, size_t k, int32_t *worst, int32_t *best) {
    static const char *fn = "sslk_rank_classes";
    SSLI_CHECK_PTR(acc, fn);
    if (num_classes == 0 || num_classes > INT32_MAX)
        return ssli_err(SSLK_E_SHAPE, "%s: 'num_classes' = %zu", fn, num_classes);
    size_t p = 0;
    for (size_t c = 0; c < num_classes; c++) p += !isnan(acc[c]);
    if (k > p)
        return ssli_err(SSLK_E_RANGE, "%s: 'k' = %zu exceeds the %zu classes with an accuracy", fn, k, p);
    ssli_class_acc *sc = malloc((p ? p : 1) * sizeof *sc);
    if (!sc) return ssli_err(SSLK_E_NOMEM, "%s: out of memory", fn);
    rank_into(acc, num_classes, k, worst, best, sc);
    free(sc);
    return SSLK_OK;
}

sslk_status sslk_accuracy_report(sslk_ctx *ctx, const int32_t *pred, const int32_t *labels, size_t n,
                                 size_t num_classes, const int32_t *groups, size_t num_groups, size_t k,
                                 const int32_t *fixed_worst, const int32_t *fixed_best,
                                 sslk_accuracy_summary *summary, double *class_acc, int64_t *class_count,
                                 int32_t *worst_classes, int32_t *best_classes, double *group_acc,
                                 int64_t *group_count) {
    static const char *fn = "sslk_accuracy_report";
    SSLI_CHECK_PTR(pred, fn);
    SSLI_CHECK_PTR(labels, fn);
    SSLI_CHECK_PTR(summary, fn);
    if (summary->struct_size < offsetof(sslk_accuracy_summary, accuracy))
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'summary->struct_size' = %zu; set it to sizeof(sslk_accuracy_summary)",
                        fn, summary->struct_size);
    if (n == 0) return ssli_err(SSLK_E_SHAPE, "%s: 'n' = 0 samples", fn);
    if (num_classes == 0 || num_classes > INT32_MAX)
        return ssli_err(SSLK_E_SHAPE, "%s: 'num_classes' = %zu", fn, num_classes);
    if (!groups && num_groups)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'groups' is NULL but 'num_groups' = %zu", fn, num_groups);
    if (groups && (num_groups == 0 || num_groups > INT32_MAX))
        return ssli_err(SSLK_E_SHAPE, "%s: 'num_groups' = %zu with a 'groups' array", fn, num_groups);
    if ((fixed_worst == NULL) != (fixed_best == NULL))
        return ssli_err(SSLK_E_INVALID_ARG, "%s: give both 'fixed_worst' and 'fixed_best' or neither", fn);
    if (k > num_classes)
        return ssli_err(SSLK_E_RANGE, "%s: 'k' = %zu exceeds 'num_classes' = %zu", fn, k, num_classes);
    SSLI_TRY(ssli_check_ids(labels, n, num_classes, fn, "labels"));
    SSLI_TRY(ssli_check_ids(pred, n, num_classes, fn, "pred"));
    if (groups) SSLI_TRY(ssli_check_ids(groups, n, num_groups, fn, "groups"));
    if (fixed_worst) {
        SSLI_TRY(ssli_check_ids(fixed_worst, k, num_classes, fn, "fixed_worst"));
        SSLI_TRY(ssli_check_ids(fixed_best, k, num_classes, fn, "fixed_best"));
    }
    size_t C = num_classes, G = num_groups;
    int64_t *cnt = ssli_calloc(ctx, 2 * C + 2 * G, sizeof(int64_t));
    ssli_class_acc *scratch = ssli_malloc(ctx, C, sizeof *scratch);
    if (!cnt || !scratch) {
        ssli_free(ctx, cnt);
        ssli_free(ctx, scratch);
        return ssli_alloc_status();
    }
    int64_t *cor = cnt + C, *gcnt = cnt + 2 * C, *gcor = gcnt + G, total = 0;
    for (size_t i = 0; i < n; i++) {
        int ok = pred[i] == labels[i];
        cnt[labels[i]]++;
        cor[labels[i]] += ok;
        total += ok;
        if (groups) {
            gcnt[groups[i]]++;
            gcor[groups[i]] += ok;
        }
    }
    size_t present = ssli_present_classes(cnt, C);
    if (k > present && !fixed_worst) {
        ssli_free(ctx, cnt);
        ssli_free(ctx, scratch);
        return ssli_err(SSLK_E_RANGE, "%s: 'k' = %zu exceeds the %zu classes present in 'labels' (of %zu)", fn, k,
                        present, C);
    }
    ssli_class_stats st;
    ssli_class_stats_compute(cnt, cor, C, k, fixed_worst, fixed_best, worst_classes, best_classes, scratch, &st);
    sslk_accuracy_summary s;
    memset(&s, 0, sizeof s);
    s.struct_size = summary->struct_size;
    s.num_samples = n;
    s.num_classes = C;
    s.num_present = present;
    s.num_absent = C - present;
    s.k = k;
    s.accuracy = (double)total / (double)n;
    s.balanced_accuracy = st.balanced;
    s.worst_k = st.worst_k;
    s.best_k = st.best_k;
    s.worst_k_pooled = st.worst_pooled;
    s.num_groups = G;
    s.worst_group = s.minority_majority_gap = NAN;
    s.minority_group = s.majority_group = -1;
    for (size_t g = 0; g < G; g++) {
        if (gcnt[g] == 0) continue;
        double a = (double)gcor[g] / (double)gcnt[g];
        if (isnan(s.worst_group) || a < s.worst_group) s.worst_group = a;
        if (s.minority_group < 0 || gcnt[g] < gcnt[s.minority_group]) s.minority_group = (int32_t)g;
        if (s.majority_group < 0 || gcnt[g] > gcnt[s.majority_group]) s.majority_group = (int32_t)g;
    }
    if (s.minority_group >= 0)
        s.minority_majority_gap = (double)gcor[s.majority_group] / (double)gcnt[s.majority_group] -
                                  (double)gcor[s.minority_group] / (double)gcnt[s.minority_group];
    size_t sz = summary->struct_size < sizeof s ? summary->struct_size : sizeof s;
    memcpy(summary, &s, sz);
    for (size_t c = 0; c < C; c++) {
        if (class_acc) class_acc[c] = cnt[c] ? (double)cor[c] / (double)cnt[c] : NAN;
        if (class_count) class_count[c] = cnt[c];
    }
    for (size_t g = 0; g < G; g++) {
        if (group_acc) group_acc[g] = gcnt[g] ? (double)gcor[g] / (double)gcnt[g] : NAN;
        if (group_count) group_count[g] = gcnt[g];
    }
    ssli_free(ctx, cnt);
    ssli_free(ctx, scratch);
    return SSLK_OK;
}
