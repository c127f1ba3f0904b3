/* RankMe (one-shot and streaming) and alpha-ReQ on data matrices.
 *
 * Accuracy policy: singular values from the Gram matrix are exact to about
 * sqrt(machine eps) * sigma_max ~ 1e-8 sigma_max, which is near RankMe's eps
 * for rank-deficient inputs.  Small inputs therefore always take the exact SVD
 * (dgesdd), and so do ill-conditioned ones (sigma_min < 1e-4 sigma_max) while
 * the SVD stays affordable.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <string.h>

#include "dist/dist_internal.h"
#include "gram.h"
#include "linalg/linalg.h"
#include "metric_internal.h"

#define EXACT_WORK_SMALL ((double)(1u << 28))   /* n*d*min(n,d): always exact below */
#define EXACT_WORK_ILLCOND 4294967296.0         /* 2^32: exact when ill-conditioned */
#define EXACT_MAX_ELEMS ((size_t)1 << 25)       /* and at most 256 MB of doubles */
#define ILLCOND_RATIO 1e-4

static const ssli_setting_def rankme_defs[] = {
    {SSLK_RANKME_EPS, "eps", SSLK_SETTING_F64, 0.0, 0.1, 1e-7,
     "constant added to each normalised singular value (paper: 1e-7)"},
    {SSLK_RANKME_VARIANT, "variant", SSLK_SETTING_I64, 0, 1, 0,
     "0 = singular values of raw Z (paper), 1 = centred covariance eigenvalues"},
    {SSLK_RANKME_METHOD, "method", SSLK_SETTING_I64, 0, 2, 0,
     "0 = auto, 1 = Gram eigenvalues, 2 = exact SVD of the buffered rows"},
};
static const ssli_setting_choices rankme_choices[] = {
    {SSLK_RANKME_VARIANT, (const char *const[]){"singular", "covariance", NULL}},
    {SSLK_RANKME_METHOD, (const char *const[]){"auto", "gram", "exact", NULL}},
    {0, NULL},
};
const ssli_setting_table ssli_settings_rankme = {"rankme", rankme_defs,
                                                 sizeof rankme_defs / sizeof rankme_defs[0], rankme_choices};
enum { V_EPS, V_VARIANT, V_METHOD };

static sslk_status check_matrix(const float *z, size_t n, size_t d, const char *fn) {
    SSLI_CHECK_PTR(z, fn);
    if (n < 2) return ssli_err(SSLK_E_SHAPE, "%s: 'n' = %zu rows; at least 2 are needed", fn, n);
    if (d < 1) return ssli_err(SSLK_E_SHAPE, "%s: 'd' = 0 columns", fn);
    size_t nd;
    if (ssli_mul_overflow(n, d, &nd) || ssli_mul_overflow(nd, sizeof(double), &nd))
        return ssli_err(SSLK_E_OVERFLOW, "%s: n x d = %zu x %zu overflows", fn, n, d);
    return ssli_check_finite_f32(z, n, d, fn, "z");
}

/* Singular values s[min(n, d)] (descending) of z - shift (shift may be NULL). */
static sslk_status data_singular(const sslk_ctx *ctx, const float *z, size_t n, size_t d, const double *shift,
                                 double *s) {
    size_t q = n < d ? n : d;
    double work = (double)n * (double)d * (double)q;
    bool fits = n * d <= EXACT_MAX_ELEMS;
    if (work <= EXACT_WORK_SMALL && fits) return ssli_exact_singular_f(ctx, z, n, d, shift, s);
    size_t m = n < d ? n : d; /* Gram side */
    double *G = ssli_calloc(ctx, m * m, sizeof(double));
    if (!G) return ssli_alloc_status();
    size_t br = n >= d ? ssli_gram_block_rows(d) : ssli_gram_block_rows(n);
    if (n < d && br > d) br = d;
    double *block = ssli_malloc(ctx, br * (n >= d ? d : n), sizeof(double));
    if (!block) {
        ssli_free(ctx, G);
        return ssli_alloc_status();
    }
    if (n >= d)
        ssli_gram_add_rows(ctx, G, d, z, n, shift, block, br);
    else
        ssli_gram_add_cols(ctx, G, z, n, d, shift, block, br);
    ssli_free(ctx, block);
    sslk_status st = ssli_sym_spectrum(ctx, G, m, s);
    ssli_free(ctx, G);
    if (st != SSLK_OK) return st;
    for (size_t i = 0; i < q; i++) s[i] = sqrt(s[i]);
    if (s[q - 1] < ILLCOND_RATIO * s[0] && work <= EXACT_WORK_ILLCOND && fits)
        return ssli_exact_singular_f(ctx, z, n, d, shift, s);
    return SSLK_OK;
}

static sslk_status oneshot(sslk_ctx *ctx, const float *z, size_t n, size_t d, bool covariance, double *value,
                           const char *fn) {
    SSLI_CHECK_PTR(value, fn);
    SSLI_TRY(check_matrix(z, n, d, fn));
    size_t q = n < d ? n : d;
    double *s = ssli_malloc(ctx, q + (covariance ? d : 0), sizeof(double));
    if (!s) return ssli_alloc_status();
    double *mean = NULL;
    if (covariance) {
        mean = s + q;
        memset(mean, 0, d * sizeof(double));
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) mean[j] += z[i * d + j];
        for (size_t j = 0; j < d; j++) mean[j] /= (double)n;
    }
    sslk_status st = data_singular(ctx, z, n, d, mean, s);
    if (st == SSLK_OK && covariance)
        for (size_t i = 0; i < q; i++) s[i] = s[i] * s[i] / (double)(n - 1);
    if (st == SSLK_OK) {
        st = sslk_rankme_spectrum(s, q, 1e-7, value);
        if (st == SSLK_E_DEGENERATE)
            st = ssli_err(SSLK_E_DEGENERATE, "%s: 'z' (%zu x %zu) is %s: RankMe is undefined", fn, n, d,
                          covariance ? "constant along every column" : "all zeros");
    }
    ssli_free(ctx, s);
    return st;
}

sslk_status sslk_rankme(sslk_ctx *ctx, const float *z, size_t n, size_t d, double *value) {
    return oneshot(ctx, z, n, d, false, value, "sslk_rankme");
}

sslk_status sslk_rankme_covariance(sslk_ctx *ctx, const float *z, size_t n, size_t d, double *value) {
    return oneshot(ctx, z, n, d, true, value, "sslk_rankme_covariance");
}

sslk_status sslk_alpha_req(sslk_ctx *ctx, const float *z, size_t n, size_t d, double *alpha, double *r2) {
    static const char *fn = "sslk_alpha_req";
    SSLI_CHECK_PTR(alpha, fn);
    SSLI_TRY(check_matrix(z, n, d, fn));
    if (d < 7) return ssli_err(SSLK_E_SHAPE, "%s: 'd' = %zu; the fit starts at rank 6 and needs d >= 7", fn, d);
    size_t q = n < d ? n : d;
    double *s = ssli_malloc(ctx, q + d, sizeof(double));
    if (!s) return ssli_alloc_status();
    double *mean = s + q;
    memset(mean, 0, d * sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) mean[j] += z[i * d + j];
    for (size_t j = 0; j < d; j++) mean[j] /= (double)n;
    sslk_status st = data_singular(ctx, z, n, d, mean, s);
    if (st == SSLK_OK) {
        for (size_t i = 0; i < q; i++) s[i] = s[i] * s[i] / (double)(n - 1);
        st = sslk_alpha_req_spectrum(s, q, alpha, r2);
    }
    ssli_free(ctx, s);
    return st;
}

/* ---- streaming accumulator ---------------------------------------------- */
struct sslk_rankme_acc {
    const sslk_ctx *ctx;
    size_t d, cap; /* cap: rows kept raw before folding into the Gram matrix */
    uint64_t n;
    double vals[3];
    double *buf;    /* cap x d: raw rows, later the widening block */
    size_t nbuf;
    double *gram;   /* d x d once folded */
    double *colsum; /* d */
};

sslk_status sslk_rankme_create(sslk_ctx *ctx, size_t d, sslk_rankme_acc **out) {
    static const char *fn = "sslk_rankme_create";
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    if (d == 0) return ssli_err(SSLK_E_SHAPE, "%s: 'd' = 0", fn);
    size_t cap = d > 256 ? d : 256, tmp;
    if (ssli_mul3_overflow(cap, d, sizeof(double), &tmp) || ssli_mul3_overflow(d, d, sizeof(double), &tmp))
        return ssli_err(SSLK_E_OVERFLOW, "%s: 'd' = %zu is too large (d^2 doubles overflow)", fn, d);
    sslk_rankme_acc *r = ssli_calloc(ctx, 1, sizeof *r);
    if (!r) return ssli_alloc_status();
    r->ctx = ctx;
    r->d = d;
    r->cap = cap;
    ssli_setting_defaults(&ssli_settings_rankme, r->vals);
    r->buf = ssli_malloc(ctx, cap * d, sizeof(double));
    r->colsum = ssli_calloc(ctx, d, sizeof(double));
    if (!r->buf || !r->colsum) {
        sslk_status s = ssli_alloc_status();
        sslk_rankme_destroy(r);
        return s;
    }
    *out = r;
    return SSLK_OK;
}

void sslk_rankme_destroy(sslk_rankme_acc *r) {
    if (!r) return;
    ssli_free(r->ctx, r->buf);
    ssli_free(r->ctx, r->gram);
    ssli_free(r->ctx, r->colsum);
    ssli_free(r->ctx, r);
}

/* sslk_rankme_{set,get}_{f64,i64} */
SSLI_SETTINGS_TABLE_ACCESSORS(sslk_rankme_acc, sslk_rankme, ssli_settings_rankme, vals)

uint64_t sslk_rankme_count(const sslk_rankme_acc *r) { return r ? r->n : 0; }

sslk_status sslk_rankme_reset(sslk_rankme_acc *r) {
    SSLI_CHECK_PTR(r, "sslk_rankme_reset");
    r->n = 0;
    r->nbuf = 0;
    ssli_free(r->ctx, r->gram);
    r->gram = NULL;
    memset(r->colsum, 0, r->d * sizeof(double));
    return SSLK_OK;
}

/* Move the buffered rows into a (new) Gram matrix; buf becomes scratch. */
static sslk_status fold(sslk_rankme_acc *r) {
    if (r->gram) return SSLK_OK;
    r->gram = ssli_calloc(r->ctx, r->d * r->d, sizeof(double));
    if (!r->gram) return ssli_alloc_status();
    ssli_gram_add_rows_d(r->ctx, r->gram, r->d, r->buf, r->nbuf);
    r->nbuf = 0;
    return SSLK_OK;
}

sslk_status sslk_rankme_update(sslk_rankme_acc *r, const float *z, size_t n) {
    static const char *fn = "sslk_rankme_update";
    SSLI_CHECK_PTR(r, fn);
    if (n == 0) return SSLK_OK;
    SSLI_CHECK_PTR(z, fn);
    size_t d = r->d, tmp;
    if (ssli_mul_overflow(n, d, &tmp)) return ssli_err(SSLK_E_OVERFLOW, "%s: n x d = %zu x %zu overflows", fn, n, d);
    SSLI_TRY(ssli_check_finite_f32(z, n, d, fn, "z"));
    if (!r->gram && r->nbuf + n <= r->cap) {
        double *dst = r->buf + r->nbuf * d;
        for (size_t i = 0; i < n * d; i++) dst[i] = z[i];
        r->nbuf += n;
    } else {
        SSLI_TRY(fold(r));
        ssli_gram_add_rows(r->ctx, r->gram, d, z, n, NULL, r->buf, r->cap);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) r->colsum[j] += z[i * d + j];
    r->n += n;
    return SSLK_OK;
}

sslk_status sslk_rankme_merge(sslk_rankme_acc *r, const sslk_rankme_acc *o) {
    static const char *fn = "sslk_rankme_merge";
    SSLI_CHECK_PTR(r, fn);
    SSLI_CHECK_PTR(o, fn);
    if (o->d != r->d)
        return ssli_err(SSLK_E_SHAPE, "%s: 'other' has d = %zu but the accumulator has d = %zu", fn, o->d, r->d);
    if (o->n == 0) return SSLK_OK;
    size_t d = r->d;
    if (o == r) { /* merging with itself doubles every statistic */
        if (r->gram)
            for (size_t i = 0; i < d * d; i++) r->gram[i] *= 2;
        else if (2 * r->nbuf <= r->cap) {
            memcpy(r->buf + r->nbuf * d, r->buf, r->nbuf * d * sizeof(double));
            r->nbuf *= 2;
        } else {
            SSLI_TRY(fold(r));
            for (size_t i = 0; i < d * d; i++) r->gram[i] *= 2;
        }
    } else if (!r->gram && !o->gram && r->nbuf + o->nbuf <= r->cap) {
        memcpy(r->buf + r->nbuf * d, o->buf, o->nbuf * d * sizeof(double));
        r->nbuf += o->nbuf;
    } else {
        SSLI_TRY(fold(r));
        if (o->gram)
            for (size_t i = 0; i < d * d; i++) r->gram[i] += o->gram[i];
        else
            ssli_gram_add_rows_d(r->ctx, r->gram, d, o->buf, o->nbuf);
    }
    for (size_t j = 0; j < d; j++) r->colsum[j] += o->colsum[j];
    r->n += o->n;
    return SSLK_OK;
}

/* Across ranks (issue 17): fold to the Gram form and all-reduce Gram, column
 * sums and count in one collective, d^2 + d + 1 doubles; afterwards every
 * rank's accumulator holds the statistics of all ranks' rows. */
sslk_status sslk_rankme_allreduce(sslk_rankme_acc *r) {
    static const char *fn = "sslk_rankme_allreduce";
    SSLI_CHECK_PTR(r, fn);
    const sslk_dist *t = ssli_dist(r->ctx);
    if (!t) return SSLK_OK;
    size_t d = r->d;
    SSLI_TRY(fold(r));
    double *buf = ssli_malloc(r->ctx, d * d + d + 1, sizeof(double));
    if (!buf) return ssli_alloc_status();
    memcpy(buf, r->gram, d * d * sizeof(double));
    memcpy(buf + d * d, r->colsum, d * sizeof(double));
    buf[d * d + d] = (double)r->n;
    sslk_status st = ssli_dist_allreduce_f64(t, buf, d * d + d + 1, fn);
    if (st == SSLK_OK) {
        memcpy(r->gram, buf, d * d * sizeof(double));
        memcpy(r->colsum, buf + d * d, d * sizeof(double));
        r->n = (uint64_t)buf[d * d + d];
    }
    ssli_free(r->ctx, buf);
    return st;
}

sslk_status sslk_rankme_compute(sslk_rankme_acc *r, double *value, double *spectrum) {
    static const char *fn = "sslk_rankme_compute";
    SSLI_CHECK_PTR(r, fn);
    SSLI_CHECK_PTR(value, fn);
    if (r->n < 2) return ssli_err(SSLK_E_SHAPE, "%s: %llu rows accumulated; at least 2 are needed", fn,
                                  (unsigned long long)r->n);
    size_t d = r->d, n = (size_t)r->n, q = n < d ? n : d;
    bool cov = r->vals[V_VARIANT] == SSLK_RANKME_COVARIANCE;
    int method = (int)r->vals[V_METHOD];
    if (method == SSLK_RANKME_EXACT && r->gram)
        return ssli_err(SSLK_E_STATE,
                        "%s: method EXACT needs the raw rows, but %zu rows exceed the %zu kept before folding", fn,
                        n, r->cap);
    double *w = ssli_calloc(r->ctx, d, sizeof(double));
    double *a = ssli_malloc(r->ctx, r->gram ? d * d : (r->nbuf > d ? r->nbuf : d) * d, sizeof(double));
    if (!w || !a) {
        ssli_free(r->ctx, w);
        ssli_free(r->ctx, a);
        return ssli_alloc_status();
    }
    sslk_status st;
    if (!r->gram && method != SSLK_RANKME_GRAM) {
        memcpy(a, r->buf, n * d * sizeof(double));
        if (cov)
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < d; j++) a[i * d + j] -= r->colsum[j] / (double)n;
        st = ssli_dsvd_values(n, d, a, d, w);
        if (cov)
            for (size_t i = 0; i < q; i++) w[i] = w[i] * w[i] / (double)(n - 1);
    } else {
        if (r->gram)
            memcpy(a, r->gram, d * d * sizeof(double));
        else {
            memset(a, 0, d * d * sizeof(double));
            ssli_gram_add_rows_d(r->ctx, a, d, r->buf, r->nbuf);
        }
        if (cov)
            for (size_t i = 0; i < d; i++)
                for (size_t j = 0; j < d; j++) a[i * d + j] -= r->colsum[i] * r->colsum[j] / (double)n;
        st = ssli_sym_spectrum(r->ctx, a, d, w);
        for (size_t i = 0; i < q; i++) w[i] = cov ? w[i] / (double)(n - 1) : sqrt(w[i]);
    }
    for (size_t i = q; i < d; i++) w[i] = 0; /* rank <= min(n, d): the rest is rounding */
    if (st == SSLK_OK) {
        st = sslk_rankme_spectrum(w, q, r->vals[V_EPS], value);
        if (st == SSLK_E_DEGENERATE)
            st = ssli_err(SSLK_E_DEGENERATE, "%s: the %zu accumulated rows are %s: RankMe is undefined", fn, n,
                          cov ? "all equal" : "all zero");
    }
    if (st == SSLK_OK && spectrum) memcpy(spectrum, w, d * sizeof(double));
    ssli_free(r->ctx, w);
    ssli_free(r->ctx, a);
    return st;
}
