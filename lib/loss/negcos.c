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
            double s = 0;
            for (size_t j = 0; j < in->d; j++) s += (double)z[j] * (double)z[j];
            if (!(sqrt(s) >= 1e-12))
                return ssli_err(SSLK_E_INVALID_ARG, "%s: row %zu of views[%zu] has norm %g: the cosine "
                                "needs rows of norm >= 1e-12", fn, i, v, sqrt(s));
        }
    return SSLK_OK;
}

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

static sslk_status F(negcos_run)(sslk_loss *L, const ssli_loss_in *in, double *value) {
    const sslk_ctx *ctx = L->ctx;
    const size_t n = in->n, d = in->d, P = in->nviews / 2; /* pairs */
    const bool byol = ssli_loss_setting(L, SSLK_NEGCOS_FORM) == 1;
    const double w = P == 1 ? 1.0 : (ssli_loss_setting(L, SSLK_NEGCOS_VIEW_REDUCTION) == SSLK_REDUCE_SUM ? 1.0 : 0.5);
    size_t bytes = 2 * SSLI_RUP(n * d * sizeof(R)) + SSLI_RUP(n * d * sizeof(R)) + 2 * SSLI_RUP(n * sizeof(double)) +
                   SSLI_RUP(n * sizeof(double));
    char *p = ssli_loss_workspace(L, bytes);
    if (!p) return ssli_alloc_status();
    R *Up = ssli_carve(&p, n * d * sizeof(R));
    R *Uz = ssli_carve(&p, n * d * sizeof(R));
    R *dU = ssli_carve(&p, n * d * sizeof(R));
    double *rp = ssli_carve(&p, n * sizeof(double));
    double *rz = ssli_carve(&p, n * sizeof(double));
    double *cs = ssli_carve(&p, n * sizeof(double));
    const int nt = ssli_loss_nt(ctx, n * d);
    /* dD/dcos_i = -1/n (SimSiam) or -2/n (BYOL), times the pair weight */
    const double gc = -w * (byol ? 2.0 : 1.0) / (double)n;
    double cos_sum = 0, val = 0;
    for (size_t k = 0; k < P; k++) {
        /* pair k: prediction view k, target view P + (P - 1 - k) (swapped when symmetric) */
        const size_t vp = k, vz = P + (P - 1 - k);
        F(ssli_loss_normalize)(ctx, in->views[vp], n, d, rp, Up);
        F(ssli_loss_normalize)(ctx, in->views[vz], n, d, rz, Uz);
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long i = 0; i < (long long)n; i++) {
            const R *a = Up + (size_t)i * d, *b = Uz + (size_t)i * d;
            double s = 0;
            for (size_t j = 0; j < d; j++) s += (double)a[j] * (double)b[j];
            cs[i] = s;
        }
        double t = 0;
        for (size_t i = 0; i < n; i++) t += cs[i];
        t /= (double)n;
        cos_sum += t;
        val += w * (byol ? 2.0 - 2.0 * t : -t);
        float *g = in->grads ? in->grads[vp] : NULL;
        if (!g) continue;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long long e = 0; e < (long long)(n * d); e++) dU[e] = (R)(gc * (double)Uz[e]);
        F(ssli_loss_normalize_back)(ctx, Up, dU, rp, n, d, g, false);
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
