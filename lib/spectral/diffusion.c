/* Diffusion maps (Coifman and Lafon): the eigenpairs of P = D^-1 W from
 * those of A = D^-1/2 W D^-1/2 (same eigenvalues mu, right eigenvectors
 * psi = D^-1/2 u), scaled by sqrt(vol) so that sum_x pi(x) psi(x)^2 = 1 with
 * pi = deg / vol.  Then D_t(x, y)^2 = sum_i mu_i^2t (psi_i(x) - psi_i(y))^2.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "spectral/spectral_internal.h"


sslk_status sslk_spectral_diffusion_map(sslk_spectral *sp, const float *x, size_t n, size_t d, size_t k, double t,
                                        float *coords, double *mu_out) {
    static const char *fn = "sslk_spectral_diffusion_map";
    if (!(t >= 0) || !isfinite(t))
        return ssli_err(SSLK_E_INVALID_ARG, "%s: time t = %g must be finite and >= 0", fn, t);
    size_t nev;
    SSLI_TRY(ssli_spectral_prepare(sp, x, n, d, k, coords, &nev, fn));
    size_t drop = nev - k;
    double *mu = ssli_malloc(sp->ctx, nev, sizeof(double));
    double *vec = ssli_malloc(sp->ctx, n, nev * sizeof(double));
    double *deg = ssli_malloc(sp->ctx, n, sizeof(double));
    double *dh = ssli_malloc(sp->ctx, n, sizeof(double));
    sslk_status s = SSLK_OK;
    double shift = 0;
    if (!mu || !vec || !deg || !dh) {
        s = ssli_alloc_status();
        goto done;
    }
    s = ssli_spectral_top(sp, true, nev, mu, vec, deg, dh, &shift, fn);
    if (s != SSLK_OK) goto done;
    double vol = 0;
    for (size_t i = 0; i < n; i++) vol += deg[i];
    double *sel = vec + drop * n;
    ssli_sign_fix(sel, n, k);
    for (size_t c = 0; c < k; c++) {
        double m = mu[c + drop];
        double f = (m < 0 ? -1.0 : 1.0) * pow(fabs(m), t) * sqrt(vol);
        for (size_t i = 0; i < n; i++) coords[i * k + c] = (float)(f * dh[i] * sel[c * n + i]);
        if (mu_out) mu_out[c] = m;
    }
done:
    ssli_free(sp->ctx, mu);
    ssli_free(sp->ctx, vec);
    ssli_free(sp->ctx, deg);
    ssli_free(sp->ctx, dh);
    return s;
}
