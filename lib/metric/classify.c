/* Classification reports: accuracy, per-class and per-group accuracy,
 * worst-k / best-k class accuracy (FAIR-Ensemble: unweighted mean of the k
 * per-class accuracies; ImageNet-X: pooled over the samples of those classes).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/struct_sizes.h"
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

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sort v[n] ascending and drop repeats; returns the distinct count. */
static size_t sort_unique(int32_t *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_i32);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || v[i] != v[m - 1]) v[m++] = v[i];
    return m;
}

/* Position of x in the sorted ids[m]; x is known to be there. */
static size_t index_of(const int32_t *ids, size_t m, int32_t x) {
    size_t lo = 0, hi = m;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids[mid] <= x) lo = mid;
        else hi = mid;
    }
    return lo;
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
    SSLI_TRY(ssli_struct_check(summary, SSLI_V10_ACCURACY_SUMMARY, fn, "summary"));
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
    size_t C = num_classes, G = num_groups, kf = fixed_worst ? 2 * k : 0;
    /* Counters for every class cost O(C) whatever n is: 3 samples with
     * C = 2^31 asked for 34 GB.  When C (or G) is large next to n, count over
     * the distinct ids that occur instead (sorted, so every tie still goes to
     * the lower id); the caller's optional [C] / [G] outputs are all it pays. */
    bool sparse_c = C > 2 * (n + kf) + 64, sparse_g = G > 2 * n + 64;
    int32_t *cid = sparse_c ? ssli_malloc(ctx, n + kf + 2 * k, sizeof(int32_t)) : NULL;
    int32_t *gid = sparse_g ? ssli_malloc(ctx, n, sizeof(int32_t)) : NULL;
    if ((sparse_c && !cid) || (sparse_g && !gid)) {
        ssli_free(ctx, cid);
        ssli_free(ctx, gid);
        return ssli_alloc_status();
    }
    size_t uc = C, ug = G;
    int32_t *fw = NULL, *fb = NULL; /* fixed sets as counter indices */
    if (sparse_c) {
        memcpy(cid, labels, n * sizeof *cid);
        if (kf) {
            memcpy(cid + n, fixed_worst, k * sizeof *cid);
            memcpy(cid + n + k, fixed_best, k * sizeof *cid);
        }
        uc = sort_unique(cid, n + kf);
        fw = cid + n + kf;
        fb = fw + k;
        for (size_t i = 0; i < k && kf; i++) {
            fw[i] = (int32_t)index_of(cid, uc, fixed_worst[i]);
            fb[i] = (int32_t)index_of(cid, uc, fixed_best[i]);
        }
    }
    if (sparse_g) {
        memcpy(gid, groups, n * sizeof *gid);
        ug = sort_unique(gid, n);
    }
    int64_t *cnt = ssli_calloc(ctx, 2 * uc + 2 * ug, sizeof(int64_t));
    ssli_class_acc *scratch = ssli_malloc(ctx, uc, sizeof *scratch);
    if (!cnt || !scratch) {
        ssli_free(ctx, cnt);
        ssli_free(ctx, scratch);
        ssli_free(ctx, cid);
        ssli_free(ctx, gid);
        return ssli_alloc_status();
    }
    int64_t *cor = cnt + uc, *gcnt = cnt + 2 * uc, *gcor = gcnt + ug, total = 0;
    for (size_t i = 0; i < n; i++) {
        int ok = pred[i] == labels[i];
        size_t c = sparse_c ? index_of(cid, uc, labels[i]) : (size_t)labels[i];
        cnt[c]++;
        cor[c] += ok;
        total += ok;
        if (groups) {
            size_t g = sparse_g ? index_of(gid, ug, groups[i]) : (size_t)groups[i];
            gcnt[g]++;
            gcor[g] += ok;
        }
    }
    size_t present = ssli_present_classes(cnt, uc);
    if (k > present && !fixed_worst) {
        ssli_free(ctx, cnt);
        ssli_free(ctx, scratch);
        ssli_free(ctx, cid);
        ssli_free(ctx, gid);
        return ssli_err(SSLK_E_RANGE, "%s: 'k' = %zu exceeds the %zu classes present in 'labels' (of %zu)", fn, k,
                        present, C);
    }
    ssli_class_stats st;
    ssli_class_stats_compute(cnt, cor, uc, k, sparse_c && kf ? fw : fixed_worst, sparse_c && kf ? fb : fixed_best,
                             worst_classes, best_classes, scratch, &st);
    for (size_t i = 0; sparse_c && i < k; i++) { /* counter indices back to class ids */
        if (worst_classes) worst_classes[i] = cid[worst_classes[i]];
        if (best_classes) best_classes[i] = cid[best_classes[i]];
    }
    sslk_accuracy_summary s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
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
    int32_t gmin = -1, gmax = -1; /* counter indices */
    for (size_t g = 0; g < ug; g++) {
        if (gcnt[g] == 0) continue;
        double a = (double)gcor[g] / (double)gcnt[g];
        if (isnan(s.worst_group) || a < s.worst_group) s.worst_group = a;
        if (gmin < 0 || gcnt[g] < gcnt[gmin]) gmin = (int32_t)g;
        if (gmax < 0 || gcnt[g] > gcnt[gmax]) gmax = (int32_t)g;
    }
    if (gmin >= 0) {
        s.minority_majority_gap =
            (double)gcor[gmax] / (double)gcnt[gmax] - (double)gcor[gmin] / (double)gcnt[gmin];
        s.minority_group = sparse_g ? gid[gmin] : gmin;
        s.majority_group = sparse_g ? gid[gmax] : gmax;
    } else {
        s.minority_group = s.majority_group = -1;
    }
    ssli_struct_out(summary, &s, sizeof s);
    if (sparse_c) { /* absent classes first, then the counted ones */
        for (size_t c = 0; c < C; c++) {
            if (class_acc) class_acc[c] = NAN;
            if (class_count) class_count[c] = 0;
        }
    }
    for (size_t j = 0; j < uc; j++) {
        size_t c = sparse_c ? (size_t)cid[j] : j;
        if (class_acc) class_acc[c] = cnt[j] ? (double)cor[j] / (double)cnt[j] : NAN;
        if (class_count) class_count[c] = cnt[j];
    }
    if (sparse_g) {
        for (size_t g = 0; g < G; g++) {
            if (group_acc) group_acc[g] = NAN;
            if (group_count) group_count[g] = 0;
        }
    }
    for (size_t j = 0; j < ug; j++) {
        size_t g = sparse_g ? (size_t)gid[j] : j;
        if (group_acc) group_acc[g] = gcnt[j] ? (double)gcor[j] / (double)gcnt[j] : NAN;
        if (group_count) group_count[g] = gcnt[j];
    }
    ssli_free(ctx, cid);
    ssli_free(ctx, gid);
    ssli_free(ctx, cnt);
    ssli_free(ctx, scratch);
    return SSLK_OK;
}

sslk_status sslk_worst_k_tie_mean(const int64_t *correct, const int64_t *count, size_t C, size_t k, double *worst_k,
                                  double *worst_k_pooled, size_t *num_tied) {
    static const char *fn = "sslk_worst_k_tie_mean";
    SSLI_CHECK_PTR(correct, fn);
    SSLI_CHECK_PTR(count, fn);
    if (C == 0 || C > INT32_MAX) return ssli_err(SSLK_E_SHAPE, "%s: 'num_classes' = %zu", fn, C);
    size_t q = 0;
    for (size_t c = 0; c < C; c++) {
        if (count[c] < 0 || correct[c] < 0 || correct[c] > count[c])
            return ssli_err(SSLK_E_RANGE, "%s: class %zu has correct = %lld of count = %lld", fn, c,
                            (long long)correct[c], (long long)count[c]);
        q += count[c] > 0;
    }
    if (k == 0 || k > q)
        return ssli_err(SSLK_E_RANGE, "%s: 'k' = %zu must be in [1, %zu] (the present classes)", fn, k, q);
    ssli_class_acc *sc = malloc(q * sizeof *sc);
    if (!sc) return ssli_err(SSLK_E_NOMEM, "%s: out of memory", fn);
    q = 0;
    for (size_t c = 0; c < C; c++)
        if (count[c] > 0) sc[q++] = (ssli_class_acc){(double)correct[c] / (double)count[c], (int32_t)c};
    qsort(sc, q, sizeof *sc, cmp_asc);
    const double edge = sc[k - 1].acc;
    size_t lo = k - 1, hi = k; /* [lo, hi): the classes tied with the k-th */
    while (lo > 0 && sc[lo - 1].acc == edge) lo--;
    while (hi < q && sc[hi].acc == edge) hi++;
    const double w = (double)(k - lo) / (double)(hi - lo);
    double s = 0, pc = 0, pn = 0;
    for (size_t i = 0; i < hi; i++) {
        double wi = i < lo ? 1.0 : w;
        s += wi * sc[i].acc;
        pc += wi * (double)correct[sc[i].id];
        pn += wi * (double)count[sc[i].id];
    }
    free(sc);
    if (worst_k) *worst_k = s / (double)k;
    if (worst_k_pooled) *worst_k_pooled = pc / pn;
    if (num_tied) *num_tied = hi - lo;
    return SSLK_OK;
}
