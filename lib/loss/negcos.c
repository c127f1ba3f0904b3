/* Negative cosine similarity with stop-gradient (SimSiam, BYOL).  Views come
 * as predictions then targets: 2 views (p, z) give one pair; with symmetric = 1,
 * 4 views (p1, p2, z1, z2) give the swapped pairs (p1, z2) and (p2, z1).
 *   D(p, z) = -mean_i cos(p_i, z_i)          (form "simsiam")
 *   D(p, z) = 2 - 2 mean_i cos(p_i, z_i)     (form "byol")
 * value = D of the one pair, or w (D(p1, z2) + D(p2, z1)) with w = 1/2
 * (view_reduction "mean", SimSiam) or 1 ("sum", the official BYOL code).
 * cos uses u = x / max(|x|, 1e-12) (F.normalize); rows of zero norm are refused.
 * The targets are constants (stop-gradient): their gradients are written as 0.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLI_IN_TEMPLATE
#include <string.h>

#include "loss_internal.h"

static const ssli_setting_def negcos_defs[] = {
    {SSLK_NEGCOS_FORM, "form", SSLK_SETTING_I64, 0, 1, 0,
     "0 = -mean cos (SimSiam); 1 = 2 - 2 mean cos (BYOL)"},
    {SSLK_NEGCOS_SYMMETRIC, "symmetric", SSLK_SETTING_I64, 0, 1, 0,
     "0: views (p, z); 1: views (p1, p2, z1, z2), pairs (p1, z2) and (p2, z1)"},
    {SSLK_NEGCOS_VIEW_REDUCTION, "view_reduction", SSLK_SETTING_I64, 0, 1, 0,
     "0 = mean of the two pairs (SimSiam); 1 = sum (official BYOL); symmetric form only"},
};
static const ssli_setting_choices negcos_choices[] = {
    {SSLK_NEGCOS_FORM, (const char *const[]){"simsiam", "byol", NULL}},
    {SSLK_NEGCOS_VIEW_REDUCTION, (const char *const[]){"mean", "sum", NULL}},
    {0, NULL},
};
const ssli_setting_table ssli_settings_negcos = {"negcos", negcos_defs,
                                                 sizeof negcos_defs / sizeof negcos_defs[0], negcos_choices};

static const char *const negcos_terms[] = {"cosine"};

/* rows of zero norm: the cosine is undefined there (torch would return 0 and a
 * zero gradient, hiding a dead predictor) */
static sslk_status negcos_check_rows(const ssli_loss_in *in, const char *fn) {
    for (size_t v = 0; v < in->nviews; v++)
        for (size_t i = 0; i < in->n; i++) {
            const float *z = in->views[v] + i * in->d;
            double s = ssli_row_dot_f(z, z, in->d);
            if (!(sqrt(s) >= 1e-12))
                return ssli_err(SSLK_E_INVALID_ARG, "%s: row %zu of views[%zu] has norm %g: the cosine "
                                "needs rows of norm >= 1e-12", fn, i, v, sqrt(s));
        }
    return SSLK_OK;
}

/* which template instance: float (fast row kernels) or double (reference) */
#define SSLI_NEGCOS_FLOAT_float 1
#define SSLI_NEGCOS_FLOAT_double 0
#define SSLI_NEGCOS_FLOAT_(t) SSLI_NEGCOS_FLOAT_##t
#define SSLI_NEGCOS_FLOAT(t) SSLI_NEGCOS_FLOAT_(t)
#define SSLI_LOSS_TEMPLATE "negcos.c"
#include "loss_template.h"

static sslk_status negcos_compute(sslk_loss *L, const ssli_loss_in *in, double *value) {
    const char *fn = "sslk_loss_compute(negcos)";
    const bool sym = ssli_loss_setting(L, SSLK_NEGCOS_SYMMETRIC) != 0;
    if (in->nviews != (sym ? 4u : 2u))
        return ssli_err(SSLK_E_SHAPE, "%s: takes %s, got %zu views", fn,
                        sym ? "4 views (p1, p2, z1, z2) with symmetric = 1" : "2 views (p, z) with symmetric = 0",
                        in->nviews);
    if (in->indices || in->targets)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: takes no indices or targets (the targets are views)", fn);
    SSLI_TRY(negcos_check_rows(in, fn));
    return ssli_loss_double(L) ? negcos_run_d(L, in, value) : negcos_run_f(L, in, value);
}

const ssli_loss_vt ssli_loss_negcos_vt = {
    SSLK_LOSS_NEGCOS, "negcos", &ssli_settings_negcos, negcos_terms, 1, 0, negcos_compute, NULL, NULL, NULL,
};

#else /* ---- template: R = float or double ---------------------------------- */

/* |p|^2, |z|^2, p.z of one row pair: float path through the vectorised row
 * kernel (double accumulation), double path in plain double */
static inline void F(negcos_dots)(const float *p, const float *z, size_t d, double *pp, double *zz, double *pz) {
#if SSLI_NEGCOS_FLOAT(R)
    *pp = ssli_row_dot_f(p, p, d);
    *zz = ssli_row_dot_f(z, z, d);
    *pz = ssli_row_dot_f(p, z, d);
#else
    double a = 0, b = 0, c = 0;
    for (size_t j = 0; j < d; j++) {
        double x = (double)p[j], y = (double)z[j];
        a += x * x;
        b += y * y;
        c += x * y;
    }
    *pp = a, *zz = b, *pz = c;
#endif
}

/* One pass per pair, fused per row (no normalised copies): cos = p.z / (|p| |z|)
 * with norms clamped at 1e-12, and dcos/dp = (z / |z| - p cos / |p|) / |p|. */
static sslk_status F(negcos_run)(sslk_loss *L, const ssli_loss_in *in, double *value) {
    const size_t n = in->n, d = in->d, P = in->nviews / 2; /* pairs */
    const bool byol = ssli_loss_setting(L, SSLK_NEGCOS_FORM) == SSLK_NEGCOS_BYOL;
    const double w = P == 1 ? 1.0 : (ssli_loss_setting(L, SSLK_NEGCOS_VIEW_REDUCTION) == SSLK_REDUCE_SUM ? 1.0 : 0.5);
    double *cs = ssli_loss_workspace(L, n * sizeof(double));
    if (!cs) return ssli_alloc_status();
    const int nt = ssli_loss_nt(L->ctx, n * d);
    /* dD/dcos_i = -1/n (SimSiam) or -2/n (BYOL), times the pair weight */
    const double gc = -w * (byol ? 2.0 : 1.0) / (double)n;
    double cos_sum = 0, val = 0;
    for (size_t k = 0; k < P; k++) {
        /* pair k: prediction view k, target view P + (P - 1 - k) (swapped when symmetric) */
        const float *Pv = in->views[k], *Zv = in->views[P + (P - 1 - k)];
        float *g = in->grads ? in->grads[k] : NULL;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long i = 0; i < (long long)n; i++) {
            const float *p = Pv + (size_t)i * d, *z = Zv + (size_t)i * d;
            double pp, zz, pz;
            F(negcos_dots)(p, z, d, &pp, &zz, &pz);
            double rp = fmax(sqrt(pp), 1e-12), rz = fmax(sqrt(zz), 1e-12), c = pz / (rp * rz);
            cs[i] = c;
            if (!g) continue;
            const R a = (R)(gc / (rp * rz)), b = (R)(-gc * c / (rp * rp));
            float *gi = g + (size_t)i * d;
            for (size_t j = 0; j < d; j++) gi[j] = (float)(a * (R)z[j] + b * (R)p[j]);
        }
        double t = 0;
        for (size_t i = 0; i < n; i++) t += cs[i];
        t /= (double)n;
        cos_sum += t;
        val += w * (byol ? 2.0 - 2.0 * t : -t);
    }
    /* stop-gradient: the targets get exact zeros */
    if (in->grads)
        for (size_t v = P; v < 2 * P; v++)
            if (in->grads[v]) memset(in->grads[v], 0, n * d * sizeof(float));
    L->terms[0] = cos_sum / (double)P;
    *value = val;
    return SSLK_OK;
}

#endif
