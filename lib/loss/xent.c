/* Supervised softmax cross-entropy: one view of n x c logits, indices = the
 * class label of each row in [0, c).  With label smoothing alpha (torch
 * convention, target q = (1 - alpha) e_y + alpha / c):
 *   L = mean_i [ lse(z_i) - sum_k q_ik z_ik ],   dL/dz_ik = (softmax(z_i)_k - q_ik) / n.
 * The logits are few (a class head), so both precisions run the same double
 * code with libm exp: the supervised trainer's numbers stay bit-identical to
 * its former built-in loss.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "loss_internal.h"

static const ssli_setting_def xent_defs[] = {
    {SSLK_XENT_LABEL_SMOOTHING, "label_smoothing", SSLK_SETTING_F64, 0, 1, 0,
     "alpha: uniform mass spread over all classes (torch convention)"},
};
const ssli_setting_table ssli_settings_xent = {"xent", xent_defs, sizeof xent_defs / sizeof xent_defs[0], NULL};

static const char *const xent_terms[] = {"cross_entropy"};

static sslk_status xent_compute(sslk_loss *L, const ssli_loss_in *in, double *value) {
    const char *fn = "sslk_loss_compute(xent)";
    if (in->nviews != 1)
        return ssli_err(SSLK_E_SHAPE, "%s: takes 1 view of logits, got %zu views", fn, in->nviews);
    if (!in->indices)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: needs indices (the class label of each row)", fn);
    const size_t n = in->n, c = in->d;
    if (c < 2) return ssli_err(SSLK_E_SHAPE, "%s: d = %zu logits per row; a classifier needs >= 2", fn, c);
    for (size_t i = 0; i < n; i++)
        if (in->indices[i] < 0 || (uint64_t)in->indices[i] >= c)
            return ssli_err(SSLK_E_RANGE, "%s: 'indices[%zu]' = %lld is outside the classes [0, %zu)", fn, i,
                            (long long)in->indices[i], c);
    const double a = ssli_loss_setting(L, SSLK_XENT_LABEL_SMOOTHING), off = a / (double)c;
    float *g = in->grads ? in->grads[0] : NULL;
    double tot = 0;
    for (size_t i = 0; i < n; i++) {
        const float *r = in->views[0] + i * c;
        const size_t y = (size_t)in->indices[i];
        double mx = r[0];
        for (size_t k = 1; k < c; k++) mx = r[k] > mx ? r[k] : mx;
        double se = 0, sz = 0;
        for (size_t k = 0; k < c; k++) {
            se += exp(r[k] - mx);
            sz += r[k];
        }
        const double lse = mx + log(se);
        /* a = 0 keeps the exact former expression lse - z_y */
        tot += a > 0 ? lse - (1.0 - a) * r[y] - off * sz : lse - r[y];
        if (!g) continue;
        for (size_t k = 0; k < c; k++) {
            double q = (k == y ? 1.0 - a : 0.0) + off;
            g[i * c + k] = (float)((exp(r[k] - lse) - q) / (double)n);
        }
    }
    L->terms[0] = tot / (double)n;
    *value = L->terms[0];
    return SSLK_OK;
}

const ssli_loss_vt ssli_loss_xent_vt = {
    SSLK_LOSS_XENT, "xent", &ssli_settings_xent, xent_terms, 1, 0, xent_compute, NULL, NULL, NULL,
};
