/* Internal layout of sslk_loss: a vtable per kind, settings storage, owned
 * parameters, last terms; plus numeric helpers shared by the kinds.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_LOSS_INTERNAL_H
#define SSLKIT_LOSS_INTERNAL_H

#include "core/internal.h"
#include "linalg/linalg.h"
#include "sslkit/loss.h"

#define SSLI_LOSS_MAX_SETTINGS 16
#define SSLI_LOSS_MAX_TERMS 4

/* Normalised inputs handed to a kind (already checked for NULL/finite/shape
 * by the common layer; kind-specific checks happen in the kind). */
typedef struct ssli_loss_in {
    const float *const *views; /* nviews pointers, n x d */
    size_t nviews, n, d;
    const int64_t *indices;    /* n, or NULL */
    const float *targets;      /* n x d, or NULL */
    float *const *grads;       /* NULL or nviews pointers (entries may be NULL) */
} ssli_loss_in;

typedef struct ssli_loss_vt {
    sslk_loss_kind kind;
    const char *fn;                        /* kind name for messages */
    const ssli_setting_table *settings;
    const char *const *terms;
    size_t nterms;
    size_t nparams;                        /* 0 or 1 */
    /* value into *value, terms into L->terms; precision chosen by the kind */
    sslk_status (*compute)(sslk_loss *L, const ssli_loss_in *in, double *value);
    /* param i: shape and name (counts from settings); NULL when nparams == 0 */
    sslk_status (*param_shape)(const sslk_loss *L, size_t *rows, size_t *cols, const char **name);
    /* initial value of element e of a rows x cols parameter */
    double (*param_init)(const sslk_loss *L, uint64_t key, size_t e, size_t rows, size_t cols);
    /* keys that fix the parameter shape (frozen once allocated), -1 terminated */
    const int *size_keys;
} ssli_loss_vt;

struct sslk_loss {
    sslk_ctx *ctx;
    const ssli_loss_vt *vt;
    double set[SSLI_LOSS_MAX_SETTINGS]; /* this kind's settings, table order */
    double gen[2];                      /* generic ("loss") settings */
    double terms[SSLI_LOSS_MAX_TERMS];
    bool have_terms;
    uint64_t seed;
    /* owned parameter (at most one) */
    bool param_ready;
    sslk_param_view param;
    size_t prows, pcols;
    /* MSN user prior */
    double *prior;
    size_t prior_k;
    /* grow-only scratch reused across compute calls (avoids page faults) */
    void *ws;
    size_t ws_bytes;
    /* DINO centre (issue 21): dino_k doubles, NULL until the first compute or set */
    double *dino_center;
    size_t dino_k;
    /* SwAV: queues of past embeddings for the call in progress (sslk_loss_compute_swav_queue) */
    const float *const *swav_queues;
    size_t swav_queue_rows;
};

extern const ssli_setting_table ssli_settings_loss;
extern const ssli_setting_table ssli_settings_vicreg;
extern const ssli_setting_table ssli_settings_vicreg_logdet;
extern const ssli_setting_table ssli_settings_vicreg_pairdist;
extern const ssli_setting_table ssli_settings_infonce;
extern const ssli_setting_table ssli_settings_diet;
extern const ssli_setting_table ssli_settings_msn;
extern const ssli_setting_table ssli_settings_xent;
extern const ssli_setting_table ssli_settings_barlow, ssli_settings_negcos; /* issue 21 */
extern const ssli_setting_table ssli_settings_dino; /* issue 21, DINO */
extern const ssli_setting_table ssli_settings_swav; /* issue 21b */

extern const ssli_loss_vt ssli_loss_vicreg_vt, ssli_loss_logdet_vt, ssli_loss_pairdist_vt,
    ssli_loss_infonce_vt, ssli_loss_infonce_sym_vt, ssli_loss_diet_vt, ssli_loss_msn_vt,
    ssli_loss_xent_vt;
extern const ssli_loss_vt ssli_loss_barlow_vt, ssli_loss_negcos_vt; /* issue 21 */
extern const ssli_setting_table ssli_settings_moco;                  /* issue 21c */
extern const ssli_loss_vt ssli_loss_moco_vt;
/* Write pointer of a queue, and a queue's whole state put back (checkpoints):
 * count rows (count <= capacity), next write at ptr (negqueue.c). */
size_t ssli_negqueue_ptr(const sslk_negqueue *q);
sslk_status ssli_negqueue_restore(sslk_negqueue *q, const float *rows, size_t count, size_t ptr);
/* MoCo v2 through sslk_loss_compute_negatives (moco.c). */
sslk_status ssli_moco_negatives(sslk_loss *L, const float *q, const float *k, size_t n, size_t d,
                                const float *neg, size_t m, double *value, float *gq, float *gk);
extern const ssli_loss_vt ssli_loss_dino_vt; /* issue 21, DINO */
extern const ssli_loss_vt ssli_loss_swav_vt; /* issue 21b */

/* Setting value by key of the kind's own table (key must exist). */
double ssli_loss_setting(const sslk_loss *L, int key);
static inline bool ssli_loss_double(const sslk_loss *L) { return L->gen[0] != 0.0; }
/* Allocate + initialise the owned parameter if needed. */
sslk_status ssli_loss_param_ready(sslk_loss *L, const char *fn);

/* ---- numeric helpers ------------------------------------------------------- */

/* exp for float32, vectorisable (no libm call), relative error ~2 ulp.
 * Inputs below -87 return ~1e-38 (never 0 nor denormal): fine for softmax sums.
 * NaN returns NaN (selects, no branch) and never reaches the int conversion,
 * which would be undefined behaviour. */
static inline float ssli_fexp(float x) {
    const float x0 = x;
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    x = x == x ? x : 0.0f;
    const float shifter = 12582912.0f; /* 1.5 * 2^23: round to nearest */
    float t = x * 1.44269504088896341f + shifter;
    float k = t - shifter;
    float r = x - k * 0.693145751953125f;
    r = r - k * 1.428606765330187e-06f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union { float f; int32_t i; } s;
    s.i = ((int32_t)k + 127) << 23;
    return x0 == x0 ? p * s.f : x0;
}

/* Float row kernels (rowkern.c): vectorised, AVX2 clone chosen at run time,
 * partial sums in a fixed order.  The _d versions are plain double references. */
float ssli_row_max_f(const float *x, size_t n);
double ssli_row_sum_f(const float *x, size_t n);
double ssli_row_dot_f(const float *x, const float *y, size_t n);
/* sum_k t[k] (m - x[k]) with double accumulation (m >= max x: no cancellation) */
double ssli_row_dotgap_f(const float *t, const float *x, size_t n, float m);
/* y[k] = exp(x[k] - m) (y may equal x, or be NULL to only sum); returns the sum */
double ssli_row_expsum_f(const float *x, float *y, size_t n, float m);
/* x[k] = exp(x[k] - m) in place; returns the sum, *es = sum e * (x_old - m) */
double ssli_row_expsum2_f(float *x, size_t n, float m, double *es);
/* x[k] = a * exp(x[k] - m) - b */
void ssli_row_expaffine_f(float *x, size_t n, float m, float a, float b);
void ssli_row_scale_f(float *x, size_t n, float a);
/* x[k] = x[k] * (a + b * w[k]) */
void ssli_row_affine_f(float *x, size_t n, float a, float b, const float *w);
/* x[k] = c * (exp(x[k] - la) + exp(x[k] - lb[k])) */
void ssli_row_softmax2_f(float *x, size_t n, float la, const float *lb, float c);
/* Double logits, float exponentials corrected for the exponent's rounding (issue 20):
 * y[k] = exp(x[k] - m) (y may equal x or be NULL), returns the sum;
 * y[k] = c * (exp(x[k] - la) + exp(x[k] - lb[k])) */
double ssli_row_expsumd_f(const double *x, double *y, size_t n, double m);
void ssli_row_softmax2_dx(const double *x, float *y, size_t n, double la, const double *lb, float c);
/* InfoNCE (infonce.c): rows grouped by sample id; the float path below tau 0.025 (infonce_wide.c) */
sslk_status ssli_infonce_group_rows(const sslk_ctx *ctx, const ssli_loss_in *in, size_t T, size_t *perm,
                                    size_t *gstart, size_t *glen, size_t *ngroups);
sslk_status ssli_infonce_wide_f(sslk_loss *L, const ssli_loss_in *in, size_t T, double *value);

static inline double ssli_row_max_d(const double *x, size_t n) {
    double m = -INFINITY;
    for (size_t k = 0; k < n; k++) m = x[k] > m ? x[k] : m;
    return m;
}
static inline double ssli_row_sum_d(const double *x, size_t n) {
    double s = 0;
    for (size_t k = 0; k < n; k++) s += x[k];
    return s;
}
static inline double ssli_row_dot_d(const double *x, const double *y, size_t n) {
    double s = 0;
    for (size_t k = 0; k < n; k++) s += x[k] * y[k];
    return s;
}
static inline double ssli_row_dotgap_d(const double *t, const double *x, size_t n, double m) {
    double s = 0;
    for (size_t k = 0; k < n; k++) s += t[k] * (m - x[k]);
    return s;
}
static inline double ssli_row_expsum_d(const double *x, double *y, size_t n, double m) {
    double s = 0;
    for (size_t k = 0; k < n; k++) {
        double e = exp(x[k] - m);
        if (y) y[k] = e;
        s += e;
    }
    return s;
}
static inline double ssli_row_expsum2_d(double *x, size_t n, double m, double *es) {
    double s = 0, z = 0;
    for (size_t k = 0; k < n; k++) {
        double t = x[k] - m, e = exp(t);
        x[k] = e;
        s += e;
        z += e * t;
    }
    *es = z;
    return s;
}
static inline double ssli_row_expsumd_d(const double *x, double *y, size_t n, double m) {
    return ssli_row_expsum_d(x, y, n, m);
}
static inline void ssli_row_expaffine_d(double *x, size_t n, double m, double a, double b) {
    for (size_t k = 0; k < n; k++) x[k] = a * exp(x[k] - m) - b;
}
static inline void ssli_row_softmax2_d(double *x, size_t n, double la, const double *lb, double c) {
    for (size_t k = 0; k < n; k++) x[k] = c * (exp(x[k] - la) + exp(x[k] - lb[k]));
}
static inline void ssli_row_affine_d(double *x, size_t n, double a, double b, const double *w) {
    for (size_t k = 0; k < n; k++) x[k] = x[k] * (a + b * w[k]);
}
static inline void ssli_row_scale_d(double *x, size_t n, double a) {
    for (size_t k = 0; k < n; k++) x[k] *= a;
}

/* Mean of each column of a float n x d matrix in double (deterministic). */
void ssli_loss_colmean(const sslk_ctx *ctx, const float *Z, size_t n, size_t d, double *mu);
/* Row L2 norms clamped at 1e-12 (torch F.normalize), in double. */
void ssli_loss_rownorm(const sslk_ctx *ctx, const float *Z, size_t n, size_t d, double *r);
/* Scratch of at least bytes (64-aligned), owned by L; NULL + error on failure. */
void *ssli_loss_workspace(sslk_loss *L, size_t bytes);
/* Carve consecutive 64-aligned blocks out of a workspace; SSLI_RUP gives the
 * rounded size to add up when sizing it. */
#define SSLI_RUP(b) (((b) + 63) & ~(size_t)63)
static inline void *ssli_carve(char **p, size_t bytes) {
    void *r = *p;
    *p += SSLI_RUP(bytes);
    return r;
}
/* Invariance s = sum (za - zb)^2 / (n d) in double; NAN when out of memory. */
double ssli_loss_invariance(sslk_loss *L, const float *za, const float *zb, size_t n, size_t d);
/* u = z / max(|z|, 1e-12) into U (r gets the clamped norms), and the backward
 * gz (=|+=) (du - u (u.du)) / r.  _f / _d: working type float / double. */
void ssli_loss_normalize_f(const sslk_ctx *ctx, const float *Z, size_t n, size_t d, double *r, float *U);
void ssli_loss_normalize_d(const sslk_ctx *ctx, const float *Z, size_t n, size_t d, double *r, double *U);
void ssli_loss_normalize_back_f(const sslk_ctx *ctx, const float *U, const float *dU, const double *r,
                                size_t n, size_t d, float *gz, bool accumulate);
void ssli_loss_normalize_back_d(const sslk_ctx *ctx, const double *U, const double *dU, const double *r,
                                size_t n, size_t d, float *gz, bool accumulate);
/* The same over V views (row a of the stack = row a % n of view a / n); grads
 * entries may be NULL (skipped); gradients are overwritten. */
void ssli_loss_normalize_views_f(const sslk_ctx *ctx, const float *const *views, size_t V, size_t n, size_t d,
                                 double *r, float *U);
void ssli_loss_normalize_views_d(const sslk_ctx *ctx, const float *const *views, size_t V, size_t n, size_t d,
                                 double *r, double *U);
void ssli_loss_normalize_back_views_f(const sslk_ctx *ctx, const float *U, const float *dU, const double *r,
                                      size_t V, size_t n, size_t d, float *const *grads);
void ssli_loss_normalize_back_views_d(const sslk_ctx *ctx, const double *U, const double *dU, const double *r,
                                      size_t V, size_t n, size_t d, float *const *grads);
/* Thread count for a loop of `work` cheap elements: 1 below 2^18 (a parallel
 * region costs more than it saves there, and much more on a loaded machine). */
static inline int ssli_loss_nt(const sslk_ctx *ctx, size_t work) {
    return work < ((size_t)1 << 18) ? 1 : ssli_threads(ctx);
}
/* Index of the first NaN / Inf among cnt floats, or cnt when all are finite
 * (blocks of integer exponent tests: about 2x faster than ssli_check_finite_f32). */
size_t ssli_loss_first_nonfinite(const float *x, size_t cnt);
/* SSLK_E_NONFINITE naming the owned parameter, row and column of its first NaN / Inf. */
static inline sslk_status ssli_loss_check_param(const sslk_loss *L, const char *fn) {
    if (ssli_loss_first_nonfinite(L->param.data, L->param.count) == L->param.count) return SSLK_OK;
    return ssli_check_finite_f32(L->param.data, L->prows, L->pcols, fn, L->param.name);
}
/* Validation shared by kinds: n >= nmin rows. */
sslk_status ssli_loss_need_rows(const char *fn, size_t n, size_t nmin);

/* MSN helpers exposed for tests. */
void ssli_msn_power_law(size_t K, double tau, double *pi);
void ssli_msn_log_power_law(size_t K, double tau, double *logpi);
void ssli_msn_sinkhorn(double *T, size_t B, size_t K, int iters, double *scratch_K, int nthreads);

#endif
