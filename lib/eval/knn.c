/* Weighted kNN classifier on frozen features (DINO protocol by default).
 * Similarities are computed a block of queries at a time with one GEMM
 * against the stored training set, the block height chosen so the block
 * stays under the memory cap; each query's top-k is then selected in its
 * own OpenMP iteration (deterministic: no shared accumulators).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <float.h>
#include <string.h>

#include "core/internal.h"
#include "dist/dist_internal.h"
#include "linalg/linalg.h"
#include "sslkit/eval.h"
#include "eval/eval_internal.h"

static const ssli_setting_def knn_defs[] = {
    {SSLK_KNN_K, "k", SSLK_SETTING_I64, 1, 100000, 20, "number of neighbours that vote"},
    {SSLK_KNN_TEMPERATURE, "temperature", SSLK_SETTING_F64, 1e-6, 1e6, 0.07,
     "temperature T of the exp weights exp(s / T)"},
    {SSLK_KNN_WEIGHTING, "weighting", SSLK_SETTING_I64, 0, 2, 0,
     "0 = exp(s / T), 1 = 1 / (distance + eps), 2 = uniform"},
    {SSLK_KNN_DISTANCE, "distance", SSLK_SETTING_I64, 0, 1, 0, "0 = cosine, 1 = euclidean"},
    {SSLK_KNN_MEMORY_MB, "memory_mb", SSLK_SETTING_I64, 1, 1 << 20, 256,
     "cap on the query x train similarity block, MiB"},
    {SSLK_KNN_EPS, "eps", SSLK_SETTING_F64, 0, 1e6, 1e-6,
     "offset of the inverse-distance weights"},
    {SSLK_KNN_TOP5_RULE, "top5_rule", SSLK_SETTING_I64, 0, 1, 0,
     "0 = top-min(5, classes) of every class ranked; 1 = top-min(5, k) (DINO eval_knn)"},
};
static const ssli_setting_choices knn_choices[] = {
    {SSLK_KNN_WEIGHTING, (const char *const[]){"exp", "inverse", "uniform", NULL}},
    {SSLK_KNN_DISTANCE, (const char *const[]){"cosine", "euclidean", NULL}},
    {SSLK_KNN_TOP5_RULE, (const char *const[]){"all", "dino", NULL}},
    {0, NULL},
};
const ssli_setting_table ssli_settings_knn = {"knn", knn_defs,
                                              sizeof knn_defs / sizeof knn_defs[0], knn_choices};

#define NKNN (sizeof knn_defs / sizeof knn_defs[0])

struct sslk_knn {
    sslk_ctx *ctx;
    double set[NKNN];
    float *z;     /* n x d (normalised under cosine) */
    float *zsq;   /* n squared norms (euclidean) */
    int32_t *y;
    size_t n, d, nclasses;
    int fitted_distance; /* distance setting at fit time */
};

static double kget(const sslk_knn *k, int key) { return k->set[ssli_setting_index(&ssli_settings_knn, key)]; }

sslk_status sslk_knn_create(sslk_ctx *ctx, sslk_knn **out) {
    SSLI_CHECK_PTR(out, "sslk_knn_create");
    *out = NULL;
    SSLI_CHECK_PTR(ctx, "sslk_knn_create");
    sslk_knn *k = ssli_calloc(ctx, 1, sizeof *k);
    if (!k) return ssli_alloc_status();
    k->ctx = ctx;
    ssli_setting_defaults(&ssli_settings_knn, k->set);
    *out = k;
    return SSLK_OK;
}

static void knn_clear(sslk_knn *k) {
    ssli_free(k->ctx, k->z);
    ssli_free(k->ctx, k->zsq);
    ssli_free(k->ctx, k->y);
    k->z = k->zsq = NULL;
    k->y = NULL;
    k->n = k->d = k->nclasses = 0;
}

void sslk_knn_destroy(sslk_knn *k) {
    if (!k) return;
    knn_clear(k);
    ssli_free(k->ctx, k);
}

/* sslk_knn_{set,get}_{f64,i64} */
SSLI_SETTINGS_TABLE_ACCESSORS(sslk_knn, sslk_knn, ssli_settings_knn, set)

/* Shared label check used by the evaluation files. */
sslk_status ssli_check_labels(const int32_t *y, size_t n, size_t nclasses, const char *fn) {
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || (size_t)y[i] >= nclasses)
            return ssli_err(SSLK_E_RANGE, "%s: label y[%zu] = %d outside [0, %zu)", fn, i, (int)y[i],
                            nclasses);
    return SSLK_OK;
}

sslk_status sslk_knn_fit(sslk_knn *k, const float *z, const int32_t *y, size_t n, size_t d,
                         size_t nclasses) {
    static const char *fn = "sslk_knn_fit";
    SSLI_CHECK_PTR(k, fn);
    SSLI_CHECK_PTR(z, fn);
    SSLI_CHECK_PTR(y, fn);
    if (n < 1 || d < 1 || nclasses < 1)
        return ssli_err(SSLK_E_SHAPE, "%s: n = %zu, d = %zu, nclasses = %zu must all be >= 1", fn, n, d,
                        nclasses);
    if (nclasses > (1u << 24))
        return ssli_err(SSLK_E_SHAPE, "%s: nclasses = %zu is absurd (> 2^24)", fn, nclasses);
    size_t nd;
    if (ssli_mul_overflow(n, d, &nd)) return ssli_err(SSLK_E_OVERFLOW, "%s: n * d overflows (n = %zu, d = %zu)", fn, n, d);
    SSLI_TRY(ssli_check_finite_f32(z, n, d, fn, "z"));
    SSLI_TRY(ssli_check_labels(y, n, nclasses, fn));
    int dist = (int)kget(k, SSLK_KNN_DISTANCE);
    float *zc = ssli_malloc(k->ctx, nd, sizeof(float));
    float *zsq = ssli_malloc(k->ctx, n, sizeof(float));
    int32_t *yc = ssli_malloc(k->ctx, n, sizeof(int32_t));
    if (!zc || !zsq || !yc) {
        ssli_free(k->ctx, zc);
        ssli_free(k->ctx, zsq);
        ssli_free(k->ctx, yc);
        return ssli_alloc_status();
    }
    for (size_t i = 0; i < n; i++) {
        const float *r = z + i * d;
        double s = 0;
        for (size_t j = 0; j < d; j++) s += (double)r[j] * r[j];
        if (dist == SSLK_KNN_COSINE) {
            if (s <= 0) {
                ssli_free(k->ctx, zc);
                ssli_free(k->ctx, zsq);
                ssli_free(k->ctx, yc);
                return ssli_err(SSLK_E_DEGENERATE, "%s: row %zu of z has zero norm (cosine distance)", fn, i);
            }
            float inv = (float)(1.0 / sqrt(s));
            for (size_t j = 0; j < d; j++) zc[i * d + j] = r[j] * inv;
            zsq[i] = 1.0f;
        } else {
            memcpy(zc + i * d, r, d * sizeof(float));
            zsq[i] = (float)s;
        }
    }
    memcpy(yc, y, n * sizeof(int32_t));
    knn_clear(k);
    k->z = zc;
    k->zsq = zsq;
    k->y = yc;
    k->n = n;
    k->d = d;
    k->nclasses = nclasses;
    k->fitted_distance = dist;
    return SSLK_OK;
}

/* Insert (s, idx) into the descending list best[0..*cnt) capped at k.  Ties
 * keep the lower training index first, so results do not depend on blocking. */
static void topk_insert(float *bs, size_t *bi, size_t *cnt, size_t k, float s, size_t idx) {
    size_t c = *cnt;
    if (c == k && !(s > bs[c - 1])) return;
    size_t pos = c < k ? c : k - 1;
    while (pos > 0 && s > bs[pos - 1]) {
        bs[pos] = bs[pos - 1];
        bi[pos] = bi[pos - 1];
        pos--;
    }
    bs[pos] = s;
    bi[pos] = idx;
    if (c < k) *cnt = c + 1;
}

/* Rank classes by score, best first, ties to the lower class. */
static void rank_classes(const double *sc, size_t nc, int32_t *ranked, size_t ntop) {
    for (size_t t = 0; t < ntop; t++) {
        size_t best = SIZE_MAX;
        for (size_t c = 0; c < nc; c++) {
            bool used = false;
            for (size_t u = 0; u < t; u++)
                if ((size_t)ranked[u] == c) used = true;
            if (used) continue;
            if (best == SIZE_MAX || sc[c] > sc[best]) best = c;
        }
        ranked[t] = (int32_t)best;
    }
}

/* Class votes of one query's selected neighbours (keys ms, descending); the
 * label of neighbour t is y[mi[t]] (labels == NULL) or labels[mi[t]]. */
static void knn_votes(const sslk_knn *k, const float *ms, const size_t *mi, const int32_t *labels, size_t cnt,
                      double *v) {
    const double T = kget(k, SSLK_KNN_TEMPERATURE), eps = kget(k, SSLK_KNN_EPS);
    const int wmode = (int)kget(k, SSLK_KNN_WEIGHTING);
    const bool cosine = k->fitted_distance == SSLK_KNN_COSINE;
    for (size_t c = 0; c < k->nclasses; c++) v[c] = 0;
    for (size_t t = 0; t < cnt; t++) {
        double s = ms[t], w;
        double dist = cosine ? 1.0 - s : sqrt(s < 0 ? -s : 0.0);
        if (wmode == SSLK_KNN_WEIGHT_EXP)
            w = cosine ? exp(s / T) : exp(-dist / T);
        else if (wmode == SSLK_KNN_WEIGHT_INVERSE)
            w = 1.0 / (dist + eps);
        else
            w = 1.0;
        v[labels ? labels[mi[t]] : k->y[mi[t]]] += w;
    }
}

static sslk_status knn_run_dist(sslk_knn *k, const sslk_dist *t, sslk_status pre, const float *q, size_t m,
                                size_t d, int32_t *ranked, size_t ntop, float *scores, const char *fn);

/* Core: for each query, class votes into votes (m x nclasses, double) and the
 * ranked list into ranked (m x ntop). */
static sslk_status knn_check(sslk_knn *k, const float *q, size_t m, size_t d, int32_t *ranked, size_t ntop,
                             const char *fn) {
    SSLI_CHECK_PTR(q, fn);
    if (!k->z) return ssli_err(SSLK_E_STATE, "%s: call sslk_knn_fit first", fn);
    if (d != k->d) return ssli_err(SSLK_E_SHAPE, "%s: queries have d = %zu, training features d = %zu", fn, d, k->d);
    if (m < 1) return ssli_err(SSLK_E_SHAPE, "%s: m = 0 queries", fn);
    if (ranked && (ntop < 1 || ntop > k->nclasses))
        return ssli_err(SSLK_E_SHAPE, "%s: ntop = %zu outside [1, nclasses = %zu]", fn, ntop, k->nclasses);
    size_t md;
    if (ssli_mul_overflow(m, d, &md)) return ssli_err(SSLK_E_OVERFLOW, "%s: m * d overflows", fn);
    SSLI_TRY(ssli_check_finite_f32(q, m, d, fn, "q"));
    if ((int)kget(k, SSLK_KNN_DISTANCE) != k->fitted_distance)
        return ssli_err(SSLK_E_STATE, "%s: distance setting changed since sslk_knn_fit: fit again", fn);
    return SSLK_OK;
}

/* pre: the caller's own checks (a failure still takes part in the agreement
 * step across ranks). */
static sslk_status knn_run(sslk_knn *k, sslk_status pre, const float *q, size_t m, size_t d, int32_t *ranked,
                           size_t ntop, float *scores, const char *fn) {
    SSLI_CHECK_PTR(k, fn);
    sslk_status chk = pre ? pre : knn_check(k, q, m, d, ranked, ntop, fn);
    const sslk_dist *dt = ssli_dist(k->ctx);
    if (dt) return knn_run_dist(k, dt, chk, q, m, d, ranked, ntop, scores, fn);
    SSLI_TRY(chk);
    const size_t n = k->n, nc = k->nclasses;
    size_t kk = (size_t)kget(k, SSLK_KNN_K);
    if (kk > n) kk = n;
    const bool cosine = k->fitted_distance == SSLK_KNN_COSINE;
    size_t cap = (size_t)kget(k, SSLK_KNN_MEMORY_MB) * ((size_t)1 << 20) / sizeof(float);
    size_t bm = cap / n;
    if (bm < 1) bm = 1;
    if (bm > m) bm = m;
    const int nt = ssli_threads(k->ctx);

    float *sim = ssli_malloc(k->ctx, bm * n, sizeof(float));
    float *qn = ssli_malloc(k->ctx, bm * d, sizeof(float));
    float *qsq = ssli_malloc(k->ctx, bm, sizeof(float));
    float *bs = ssli_malloc(k->ctx, bm * kk, sizeof(float));
    size_t *bi = ssli_malloc(k->ctx, bm * kk, sizeof(size_t));
    double *votes = ssli_malloc(k->ctx, bm * nc, sizeof(double));
    if (!sim || !qn || !qsq || !bs || !bi || !votes) {
        ssli_free(k->ctx, sim);
        ssli_free(k->ctx, qn);
        ssli_free(k->ctx, qsq);
        ssli_free(k->ctx, bs);
        ssli_free(k->ctx, bi);
        ssli_free(k->ctx, votes);
        return ssli_alloc_status();
    }
    sslk_status st = SSLK_OK;
    for (size_t r0 = 0; r0 < m && st == SSLK_OK; r0 += bm) {
        size_t rb = m - r0 < bm ? m - r0 : bm;
        /* normalise (cosine) or copy queries, and their squared norms */
        for (size_t i = 0; i < rb; i++) {
            const float *r = q + (r0 + i) * d;
            double s = 0;
            for (size_t j = 0; j < d; j++) s += (double)r[j] * r[j];
            float scale = 1.0f;
            if (cosine) {
                if (s <= 0) {
                    st = ssli_err(SSLK_E_DEGENERATE, "%s: query row %zu has zero norm (cosine distance)", fn, r0 + i);
                    break;
                }
                scale = (float)(1.0 / sqrt(s));
                s = 1.0;
            }
            for (size_t j = 0; j < d; j++) qn[i * d + j] = r[j] * scale;
            qsq[i] = (float)s;
        }
        if (st != SSLK_OK) break;
        ssli_sgemm(k->ctx, false, true, rb, n, d, 1.0f, qn, d, k->z, d, 0.0f, sim, n);
#pragma omp parallel for num_threads(nt) schedule(static)
        for (size_t i = 0; i < rb; i++) {
            float *row = sim + i * n;
            float *ms = bs + i * kk;
            size_t *mi = bi + i * kk, cnt = 0;
            /* selection key: cosine -> similarity; euclidean -> -squared distance */
            for (size_t j = 0; j < n; j++) {
                float key = cosine ? row[j] : -(qsq[i] + k->zsq[j] - 2.0f * row[j]);
                topk_insert(ms, mi, &cnt, kk, key, j);
            }
            double *v = votes + i * nc;
            knn_votes(k, ms, mi, NULL, cnt, v);
            if (ranked) rank_classes(v, nc, ranked + (r0 + i) * ntop, ntop);
            if (scores)
                for (size_t c = 0; c < nc; c++) scores[(r0 + i) * nc + c] = (float)v[c];
        }
    }
    ssli_free(k->ctx, sim);
    ssli_free(k->ctx, qn);
    ssli_free(k->ctx, qsq);
    ssli_free(k->ctx, bs);
    ssli_free(k->ctx, bi);
    ssli_free(k->ctx, votes);
    return st;
}

sslk_status sslk_knn_predict(sslk_knn *k, const float *q, size_t m, size_t d, int32_t *ranked,
                             size_t ntop, float *scores) {
    return knn_run(k, SSLK_OK, q, m, d, ranked, ntop, scores, "sslk_knn_predict");
}

sslk_status sslk_knn_evaluate(sslk_knn *k, const float *q, const int32_t *y, size_t m, size_t d,
                              double *top1, double *top5) {
    static const char *fn = "sslk_knn_evaluate";
    SSLI_CHECK_PTR(k, fn);
    const sslk_dist *dt = ssli_dist(k->ctx);
    sslk_status pre = !y ? ssli_err(SSLK_E_INVALID_ARG, "%s: argument 'y' is NULL", fn)
                      : !k->z ? ssli_err(SSLK_E_STATE, "%s: call sslk_knn_fit first", fn)
                              : ssli_check_labels(y, m, k->nclasses, fn);
    if (pre && !dt) return pre;
    size_t ntop = !k->z ? 1 : k->nclasses < 5 ? k->nclasses : 5;
    int32_t *ranked = ssli_malloc(k->ctx, m ? m : 1, ntop * sizeof(int32_t));
    if (!ranked) return ssli_alloc_status();
    sslk_status st = knn_run(k, pre, q, m, d, ranked, ntop, NULL, fn);
    if (st == SSLK_OK) {
        double c[3] = {0, 0, (double)m}; /* top-1 hits, top-5 hits, queries; summed over ranks */
        size_t n5 = ntop, kk = (size_t)kget(k, SSLK_KNN_K);
        if (kget(k, SSLK_KNN_TOP5_RULE) == SSLK_KNN_TOP5_DINO && kk < n5) n5 = kk;
        for (size_t i = 0; i < m; i++) {
            if (ranked[i * ntop] == y[i]) c[0]++;
            for (size_t t = 0; t < n5; t++)
                if (ranked[i * ntop + t] == y[i]) c[1]++;
        }
        if (dt) st = ssli_dist_allreduce_f64(dt, c, 3, fn);
        if (st == SSLK_OK && top1) *top1 = c[0] / c[2];
        if (st == SSLK_OK && top5) *top5 = c[1] / c[2];
    }
    ssli_free(k->ctx, ranked);
    return st;
}

/* ---- across ranks (issue 17) ------------------------------------------------
 * Queries of all ranks gathered; each rank's top-k of every query in its
 * shard of the bank, sent as (key, global index, label) triples; each rank
 * merges the candidate lists of its own queries in rank order (ties keep the
 * lower global index, as one process with the concatenated bank). */
static sslk_status knn_run_dist(sslk_knn *k, const sslk_dist *t, sslk_status pre, const float *q, size_t m,
                                size_t d, int32_t *ranked, size_t ntop, float *scores, const char *fn) {
    const size_t W = (size_t)t->world_size, nc = k->nclasses;
    size_t *qc = ssli_malloc(k->ctx, 2 * W, sizeof(size_t)), M = 0, N = 0;
    if (!qc) return ssli_alloc_status();
    size_t *bc = qc + W;
    sslk_status st = ssli_dist_agree(k->ctx, t, pre, m, qc, &M, fn);
    if (st == SSLK_OK) { /* d and nclasses must agree: the gathers below assume it */
        size_t tot;
        for (int pass = 0; pass < 2 && st == SSLK_OK; pass++) {
            size_t mine = pass ? k->nclasses : d;
            st = ssli_dist_counts(k->ctx, t, mine, bc, &tot, fn);
            for (size_t r = 0; st == SSLK_OK && r < W; r++)
                if (bc[r] != mine)
                    st = ssli_err(SSLK_E_SHAPE, "%s: rank %zu has %s = %zu, this rank (%d) %zu", fn, r,
                                  pass ? "nclasses" : "d", bc[r], t->rank, mine);
        }
    }
    if (st == SSLK_OK) st = ssli_dist_counts(k->ctx, t, k->n, bc, &N, fn);
    size_t qoff = 0, boff = 0;
    for (int r = 0; r < t->rank; r++) {
        qoff += qc[r];
        boff += bc[r];
    }
    size_t kk = st ? 0 : (size_t)kget(k, SSLK_KNN_K);
    if (kk > N) kk = N;
    const size_t kl = kk < k->n ? kk : k->n, n = k->n;
    const bool cosine = k->fitted_distance == SSLK_KNN_COSINE;
    float *Q = NULL, *sim = NULL, *bs = NULL;
    double *cand = NULL, *all = NULL, *votes = NULL;
    size_t *bi = NULL, *cnts = NULL;
    if (st == SSLK_OK) {
        Q = ssli_malloc(k->ctx, M * d + 1, sizeof(float));
        sim = ssli_malloc(k->ctx, n + d + 1, sizeof(float));
        bs = ssli_malloc(k->ctx, kk + 1, sizeof(float));
        bi = ssli_malloc(k->ctx, kk + 1, sizeof(size_t));
        cand = ssli_malloc(k->ctx, 3 * M * kk + 1, sizeof(double));
        all = ssli_malloc(k->ctx, 3 * M * kk * W + 1, sizeof(double));
        cnts = ssli_malloc(k->ctx, W, sizeof(size_t));
        votes = ssli_malloc(k->ctx, nc, sizeof(double));
        if (!Q || !sim || !bs || !bi || !cand || !all || !cnts || !votes) st = ssli_alloc_status();
    }
    for (size_t r = 0; st == SSLK_OK && r < W; r++) cnts[r] = qc[r] * d;
    if (st == SSLK_OK) st = ssli_dist_allgatherv_f32(t, q, m * d, Q, cnts, fn);
    /* local top-kl of every query, one query at a time (GEMV-shaped GEMM) */
    for (size_t i = 0; st == SSLK_OK && i < M; i++) {
        float *qn = sim + n;
        const float *r = Q + i * d;
        double s = 0;
        for (size_t j = 0; j < d; j++) s += (double)r[j] * r[j];
        float scale = 1.0f;
        if (cosine) { /* zero-norm queries were refused by their rank's checks */
            scale = (float)(1.0 / sqrt(s));
            s = 1.0;
        }
        for (size_t j = 0; j < d; j++) qn[j] = r[j] * scale;
        float qsq = (float)s;
        ssli_sgemm(k->ctx, false, true, 1, n, d, 1.0f, qn, d, k->z, d, 0.0f, sim, n);
        size_t cnt = 0;
        for (size_t j = 0; j < n; j++) {
            float key = cosine ? sim[j] : -(qsq + k->zsq[j] - 2.0f * sim[j]);
            topk_insert(bs, bi, &cnt, kl ? kl : 1, key, j);
        }
        double *c = cand + 3 * i * kk;
        for (size_t u = 0; u < kk; u++) {
            bool have = u < cnt && kl > 0;
            c[3 * u] = have ? bs[u] : -HUGE_VAL;
            c[3 * u + 1] = have ? (double)(boff + bi[u]) : -1.0;
            c[3 * u + 2] = have ? (double)k->y[bi[u]] : -1.0;
        }
    }
    for (size_t r = 0; st == SSLK_OK && r < W; r++) cnts[r] = 3 * M * kk;
    if (st == SSLK_OK) st = ssli_dist_allgatherv_f64(t, cand, 3 * M * kk, all, cnts, fn);
    if (st == SSLK_OK) {
        int32_t *lab = ssli_malloc(k->ctx, W * kk + 1, sizeof(int32_t));
        if (!lab) st = ssli_alloc_status();
        for (size_t i = 0; st == SSLK_OK && i < m; i++) {
            size_t cnt = 0, pos = 0;
            for (size_t r = 0; r < W; r++)
                for (size_t u = 0; u < kk; u++, pos++) {
                    const double *c = all + 3 * ((r * M + qoff + i) * kk + u);
                    lab[pos] = (int32_t)c[2];
                    if (c[2] >= 0) topk_insert(bs, bi, &cnt, kk, (float)c[0], pos);
                }
            knn_votes(k, bs, bi, lab, cnt, votes);
            if (ranked) rank_classes(votes, nc, ranked + i * ntop, ntop);
            if (scores)
                for (size_t c = 0; c < nc; c++) scores[i * nc + c] = (float)votes[c];
        }
        ssli_free(k->ctx, lab);
    }
    ssli_free(k->ctx, Q);
    ssli_free(k->ctx, sim);
    ssli_free(k->ctx, bs);
    ssli_free(k->ctx, bi);
    ssli_free(k->ctx, cand);
    ssli_free(k->ctx, all);
    ssli_free(k->ctx, cnts);
    ssli_free(k->ctx, votes);
    ssli_free(k->ctx, qc);
    return st;
}
