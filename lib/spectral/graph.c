/* Graph construction: exact kNN through GEMM distance blocks (memory O(n k)
 * plus one capped block), edge weights, symmetrisation into CSR; and the
 * dense rbf graph for small n.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <string.h>

#include "linalg/linalg.h"
#include "spectral/spectral_internal.h"

void ssli_spectral_sqnorms(const sslk_ctx *ctx, const float *x, size_t n, size_t d, float *sq) {
    int nt = ssli_threads(ctx);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t i = 0; i < n; i++) sq[i] = (float)ssli_sdot(d, x + i * d, x + i * d);
}

void ssli_spectral_dist_block(const sslk_ctx *ctx, const float *x, const float *sq, size_t n, size_t d,
                              size_t i0, size_t i1, float *out) {
    size_t b = i1 - i0;
    ssli_sgemm(ctx, false, true, b, n, d, -2.0f, x + i0 * d, d, x, d, 0.0f, out, n);
    int nt = ssli_threads(ctx);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t r = 0; r < b; r++) {
        float *o = out + r * n, si = sq[i0 + r];
        for (size_t j = 0; j < n; j++) {
            float v = o[j] + si + sq[j];
            o[j] = v > 0 ? v : 0; /* rounding can make it slightly negative */
        }
        o[i0 + r] = 0;
    }
}

/* Rows per distance block under the memory cap (at least 1). */
static size_t block_rows(const sslk_spectral *sp, size_t n) {
    double cap = ssli_spectral_get(sp, SSLK_SPECTRAL_MEMORY_MB) * 1048576.0;
    size_t b = (size_t)(cap / ((double)n * sizeof(float)));
    if (b < 1) b = 1;
    return b < n ? b : n;
}

/* Insert candidate (v, j) into the ascending list (bd, bi) of *cnt <= k
 * entries; a tie never displaces an earlier (lower-index) candidate. */
static inline void push(float *bd, int32_t *bi, size_t *cnt, size_t k, float v, size_t j) {
    if (*cnt == k && !(v < bd[k - 1])) return;
    size_t pos = *cnt < k ? (*cnt)++ : k - 1;
    while (pos > 0 && v < bd[pos - 1]) {
        bd[pos] = bd[pos - 1];
        bi[pos] = bi[pos - 1];
        pos--;
    }
    bd[pos] = v;
    bi[pos] = (int32_t)j;
}

/* The k nearest other rows of every row, ascending distance (ties: lower
 * index first): nbr[n x k], nd2[n x k] squared distances.  Each pair is
 * computed once: block I of rows against the columns j >= start of I (one
 * GEMM of half the full product on average), feeding both the rows of I and
 * the later rows j.  Every list therefore receives its candidates in
 * increasing index order, whatever the block height or thread count. */
static sslk_status knn_search(const sslk_spectral *sp, const float *x, size_t n, size_t d, size_t k, int32_t *nbr,
                              float *nd2) {
    const sslk_ctx *ctx = sp->ctx;
    size_t bh = block_rows(sp, n);
    float *sq = ssli_malloc(ctx, n, sizeof(float));
    float *blk = ssli_malloc(ctx, bh * n, sizeof(float));
    size_t *cnt = ssli_calloc(ctx, n, sizeof(size_t));
    if (!sq || !blk || !cnt) {
        ssli_free(ctx, sq);
        ssli_free(ctx, blk);
        ssli_free(ctx, cnt);
        return ssli_alloc_status();
    }
    ssli_spectral_sqnorms(ctx, x, n, d, sq);
    int nt = ssli_threads(ctx);
    for (size_t i0 = 0; i0 < n; i0 += bh) {
        size_t i1 = i0 + bh < n ? i0 + bh : n, b = i1 - i0, w = n - i0;
        ssli_sgemm(ctx, false, true, b, w, d, -2.0f, x + i0 * d, d, x + i0 * d, d, 0.0f, blk, w);
#pragma omp parallel for num_threads(nt) schedule(static)
        for (size_t r = 0; r < b; r++) {
            float *o = blk + r * w, si = sq[i0 + r];
            for (size_t c = 0; c < w; c++) {
                float v = o[c] + si + sq[i0 + c];
                o[c] = v > 0 ? v : 0; /* rounding can make it slightly negative */
            }
        }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 16)
        for (size_t i = i0; i < i1; i++) { /* rows of the block: columns from i0 on */
            const float *o = blk + (i - i0) * w;
            for (size_t c = 0; c < w; c++)
                if (i0 + c != i) push(nd2 + i * k, nbr + i * k, &cnt[i], k, o[c], i0 + c);
        }
        /* later rows j: the block's rows in order, by tiles of 64 columns so
         * the block is read row-contiguously and the 64 lists stay in cache */
        size_t ntiles = (n - i1 + 63) / 64;
#pragma omp parallel for num_threads(nt) schedule(static)
        for (size_t tile = 0; tile < ntiles; tile++) {
            size_t j0 = i1 + tile * 64, j1 = j0 + 64 < n ? j0 + 64 : n;
            for (size_t r = 0; r < b; r++) {
                const float *o = blk + r * w + (j0 - i0);
                for (size_t j = j0; j < j1; j++) push(nd2 + j * k, nbr + j * k, &cnt[j], k, o[j - j0], i0 + r);
            }
        }
    }
    ssli_free(ctx, sq);
    ssli_free(ctx, blk);
    ssli_free(ctx, cnt);
    return SSLK_OK;
}

typedef struct edge {
    int32_t j;
    float w;
} edge;

static int edge_cmp(const void *a, const void *b) {
    int32_t x = ((const edge *)a)->j, y = ((const edge *)b)->j;
    return (x > y) - (x < y);
}

/* Directed weights a_ij of the kNN lists, then the symmetric CSR. */
static sslk_status knn_graph(sslk_spectral *sp, const float *x, size_t n, size_t d, const char *fn) {
    const sslk_ctx *ctx = sp->ctx;
    size_t k = (size_t)ssli_spectral_get(sp, SSLK_SPECTRAL_NEIGHBORS);
    if (k >= n)
        return ssli_err(SSLK_E_SHAPE, "%s: neighbors = %zu must be below the number of points n = %zu", fn, k, n);
    size_t nk, n2k;
    if (ssli_mul_overflow(n, k, &nk) || ssli_mul_overflow(nk, 2, &n2k))
        return ssli_err(SSLK_E_OVERFLOW, "%s: n * neighbors overflows (n = %zu, k = %zu)", fn, n, k);
    int weights = (int)ssli_spectral_get(sp, SSLK_SPECTRAL_WEIGHTS);
    bool mutual = ssli_spectral_get(sp, SSLK_SPECTRAL_SYMMETRIZE) == SSLK_SPECTRAL_MUTUAL;
    double sigma = ssli_spectral_get(sp, SSLK_SPECTRAL_SIGMA);

    int32_t *nbr = ssli_malloc(ctx, nk, sizeof(int32_t));
    float *nd2 = ssli_malloc(ctx, nk, sizeof(float));
    int64_t *start = ssli_calloc(ctx, n + 1, sizeof(int64_t));
    int64_t *fill = ssli_malloc(ctx, n, sizeof(int64_t));
    edge *e = ssli_malloc(ctx, n2k, sizeof(edge));
    ssli_csr g = {0};
    sslk_status s = SSLK_OK;
    if (!nbr || !nd2 || !start || !fill || !e) {
        s = ssli_alloc_status();
        goto done;
    }
    s = knn_search(sp, x, n, d, k, nbr, nd2);
    if (s != SSLK_OK) goto done;

    /* every row holds its k own edges plus the reverse of the edges into it */
    for (size_t i = 0; i < n; i++) start[i + 1] = (int64_t)k;
    for (size_t t = 0; t < nk; t++) start[nbr[t] + 1]++;
    for (size_t i = 0; i < n; i++) start[i + 1] += start[i];
    for (size_t i = 0; i < n; i++) fill[i] = start[i];
    for (size_t i = 0; i < n; i++) {
        double si = sqrt((double)nd2[i * k + k - 1]);
        for (size_t c = 0; c < k; c++) {
            int32_t j = nbr[i * k + c];
            double d2 = nd2[i * k + c], a = 1.0;
            if (weights == SSLK_SPECTRAL_RBF) {
                a = exp(-d2 / (sigma * sigma));
            } else if (weights == SSLK_SPECTRAL_SELF_TUNING) {
                double ss = si * sqrt((double)nd2[(size_t)j * k + k - 1]);
                a = ss > 0 ? exp(-d2 / ss) : (d2 > 0 ? 0.0 : 1.0); /* duplicates: distance 0 */
            }
            e[fill[i]++] = (edge){j, (float)a};
            e[fill[j]++] = (edge){(int32_t)i, (float)a};
        }
    }
    /* sort each row by column and merge the (at most two) copies of a pair */
    int nt = ssli_threads(ctx);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 64)
    for (size_t i = 0; i < n; i++) {
        edge *r = e + start[i];
        size_t len = (size_t)(start[i + 1] - start[i]), m = 0;
        qsort(r, len, sizeof *r, edge_cmp);
        for (size_t a = 0; a < len;) {
            size_t b = a + 1;
            double w = r[a].w;
            while (b < len && r[b].j == r[a].j) w += r[b++].w;
            if (!mutual || b - a >= 2) r[m++] = (edge){r[a].j, (float)(0.5 * w)};
            a = b;
        }
        fill[i] = (int64_t)m;
    }
    g.n = n;
    g.indptr = ssli_malloc(ctx, n + 1, sizeof(int64_t));
    if (!g.indptr) {
        s = ssli_alloc_status();
        goto done;
    }
    g.indptr[0] = 0;
    for (size_t i = 0; i < n; i++) g.indptr[i + 1] = g.indptr[i] + fill[i];
    g.nnz = (size_t)g.indptr[n];
    g.col = ssli_malloc(ctx, g.nnz ? g.nnz : 1, sizeof(int32_t));
    g.w = ssli_malloc(ctx, g.nnz ? g.nnz : 1, sizeof(float));
    if (!g.col || !g.w) {
        s = ssli_alloc_status();
        goto done;
    }
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t i = 0; i < n; i++)
        for (int64_t t = 0; t < fill[i]; t++) {
            g.col[g.indptr[i] + t] = e[start[i] + t].j;
            g.w[g.indptr[i] + t] = e[start[i] + t].w;
        }
    ssli_csr_free(ctx, &sp->g);
    sp->g = g;
    memset(&g, 0, sizeof g);
done:
    ssli_csr_free(ctx, &g);
    ssli_free(ctx, nbr);
    ssli_free(ctx, nd2);
    ssli_free(ctx, start);
    ssli_free(ctx, fill);
    ssli_free(ctx, e);
    return s;
}

/* Every pair, w_ij = exp(-d_ij^2 / sigma^2), for n up to the dense cap. */
static sslk_status dense_graph(sslk_spectral *sp, const float *x, size_t n, size_t d, const char *fn) {
    const sslk_ctx *ctx = sp->ctx;
    size_t cap = (size_t)ssli_spectral_get(sp, SSLK_SPECTRAL_DENSE_MAX_N);
    if (n > cap)
        return ssli_err(SSLK_E_LIMIT,
                        "%s: a dense graph of n = %zu points is above dense_max_n = %zu (it needs n^2 weights); "
                        "use the kNN graph or raise SSLK_SPECTRAL_DENSE_MAX_N",
                        fn, n, cap);
    double sigma = ssli_spectral_get(sp, SSLK_SPECTRAL_SIGMA);
    size_t nnz = n * (n - 1), bh = block_rows(sp, n);
    ssli_csr g = {.n = n, .nnz = nnz};
    g.indptr = ssli_malloc(ctx, n + 1, sizeof(int64_t));
    g.col = ssli_malloc(ctx, nnz, sizeof(int32_t));
    g.w = ssli_malloc(ctx, nnz, sizeof(float));
    float *sq = ssli_malloc(ctx, n, sizeof(float));
    float *blk = ssli_malloc(ctx, bh * n, sizeof(float));
    sslk_status s = SSLK_OK;
    if (!g.indptr || !g.col || !g.w || !sq || !blk) {
        s = ssli_alloc_status();
        ssli_csr_free(ctx, &g);
        goto done;
    }
    ssli_spectral_sqnorms(ctx, x, n, d, sq);
    for (size_t i = 0; i <= n; i++) g.indptr[i] = (int64_t)(i * (n - 1));
    int nt = ssli_threads(ctx);
    for (size_t i0 = 0; i0 < n; i0 += bh) {
        size_t i1 = i0 + bh < n ? i0 + bh : n;
        ssli_spectral_dist_block(ctx, x, sq, n, d, i0, i1, blk);
#pragma omp parallel for num_threads(nt) schedule(static)
        for (size_t i = i0; i < i1; i++) {
            size_t at = (size_t)g.indptr[i];
            for (size_t j = 0; j < n; j++) {
                if (j == i) continue;
                g.col[at] = (int32_t)j;
                g.w[at++] = (float)exp(-(double)blk[(i - i0) * n + j] / (sigma * sigma));
            }
        }
    }
    /* the two GEMM roundings of d_ij and d_ji may differ: make W exactly symmetric */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 16)
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            float *a = g.w + g.indptr[i] + (j - 1), *b = g.w + g.indptr[j] + i;
            float m = (float)(0.5 * ((double)*a + (double)*b));
            *a = *b = m;
        }
    ssli_csr_free(ctx, &sp->g);
    sp->g = g;
done:
    ssli_free(ctx, sq);
    ssli_free(ctx, blk);
    return s;
}

sslk_status ssli_spectral_build_graph(sslk_spectral *sp, const float *x, size_t n, size_t d, const char *fn) {
    if (ssli_spectral_get(sp, SSLK_SPECTRAL_GRAPH) == SSLK_SPECTRAL_DENSE) return dense_graph(sp, x, n, d, fn);
    return knn_graph(sp, x, n, d, fn);
}
