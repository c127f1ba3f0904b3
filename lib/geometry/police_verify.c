/* POLICE verification: affinity on random convex combinations (double) and
 * the exact SplineCam region count inside a planar region.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <string.h>

#include "core/struct_sizes.h"
#include "geometry/partition.h"
#include "geometry/police_internal.h"
#include "linalg/linalg.h"

sslk_status sslk_police_splinecam(sslk_ctx *ctx, sslk_model *model, const sslk_slice *slice,
                                  unsigned flags, sslk_partition **out) {
    static const char fn[] = "sslk_police_splinecam";
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(model, fn);
    SSLI_CHECK_PTR(slice, fn);
    sslk_police *p = ssli_police_of(model);
    if (!p) return sslk_splinecam(ctx, model, slice, flags, out);
    if (flags & ~(unsigned)SSLK_SPLINECAM_MAPS)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: unknown 'flags' bits 0x%x", fn, flags);
    size_t d;
    SSLI_TRY(sslk_slice_dim(slice, &d));
    if (d != p->d)
        return ssli_err(SSLK_E_SHAPE, "%s: slice dimension %zu differs from the model input size %zu",
                        fn, d, p->d);
    double **shifts = NULL;
    SSLI_TRY(ssli_police_shifts_d(p, &shifts));
    ssli_cpwl net;
    sslk_status st = ssli_police_cpwl(model, p, shifts, &net);
    ssli_police_free_shifts(p, shifts);
    if (st != SSLK_OK) return st;
    st = ssli_splinecam_net(ctx, &net, slice, flags, out);
    ssli_cpwl_free(&net);
    return st;
}

static sslk_status count_regions(sslk_ctx *ctx, sslk_model *model, const float *poly, size_t c,
                                 size_t d, size_t *regions) {
    sslk_slice *sl = NULL;
    sslk_partition *part = NULL;
    SSLI_TRY(sslk_slice_from_polygon(ctx, poly, c, d, &sl));
    /* in d > 2 the slice plane is a fit of float vertices (residual up to
     * 1e-6 relative): side tests use that tolerance, else hyperplanes pinned
     * at a vertex would cut slivers between the plane and the true hull */
    sslk_status st = d > 2 ? sslk_slice_set_f64(sl, SSLK_SPLINECAM_TOL, 1e-6) : SSLK_OK;
    if (st == SSLK_OK) st = sslk_police_splinecam(ctx, model, sl, 0, &part);
    if (st == SSLK_OK) st = sslk_partition_info(part, regions, NULL, NULL, NULL);
    sslk_partition_destroy(part);
    sslk_slice_destroy(sl);
    return st;
}

sslk_status sslk_police_verify(sslk_ctx *ctx, sslk_model *model, const float *vertices, size_t c,
                               size_t d, size_t samples, uint64_t seed, sslk_police_report *report) {
    static const char fn[] = "sslk_police_verify";
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(model, fn);
    SSLI_CHECK_PTR(vertices, fn);
    SSLI_CHECK_PTR(report, fn);
    SSLI_TRY(ssli_struct_check(report, SSLI_V10_POLICE_REPORT, fn, "report"));
    if (ssli_model_open_blocks(model)) return ssli_err(SSLK_E_STATE, "%s: the model has open residual blocks", fn);
    const size_t in = ssli_shape_numel(ssli_model_in_shape(model));
    const size_t K = ssli_shape_numel(ssli_model_out_shape(model));
    if (d != in)
        return ssli_err(SSLK_E_SHAPE, "%s: 'd' = %zu differs from the model input size %zu", fn, d, in);
    if (c < 2) return ssli_err(SSLK_E_SHAPE, "%s: 'c' = %zu vertices; need at least 2", fn, c);
    if (samples == 0 || samples > 100000000)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'samples' = %zu outside [1, 1e8]", fn, samples);
    SSLI_TRY(ssli_check_finite_f32(vertices, c, d, fn, "vertices"));
    sslk_police *p = ssli_police_of(model);
    const size_t pc = p ? p->c : 0;
    size_t rows, nx, ny, nl;
    if (samples > SIZE_MAX - c - pc || ssli_mul_overflow(samples + c + pc, d, &nx) ||
        ssli_mul_overflow(samples + c + pc, K, &ny) || ssli_mul_overflow(samples, c, &nl))
        return ssli_err(SSLK_E_OVERFLOW, "%s: sizes overflow", fn);
    rows = samples + c + pc;
    sslk_police_report R = {.struct_size = sizeof R, .samples = samples};
    SSLI_TRY(ssli_police_affine_rank(ctx, vertices, c, d, &R.rank));
    if (R.rank == 0) return ssli_err(SSLK_E_DEGENERATE, "%s: the vertices coincide", fn);

    double *X = ssli_malloc(ctx, nx, sizeof(double));
    double *Y = ssli_malloc(ctx, ny, sizeof(double));
    double *Lw = ssli_malloc(ctx, nl + samples * K + 1, sizeof(double));
    sslk_status st = X && Y && Lw ? SSLK_OK : ssli_alloc_status();
    if (st != SSLK_OK) goto done;
    /* rows: [combinations (samples) ; vertices (c) ; constraint vertices (pc)] */
    double *Vd = X + samples * d, *comb = Lw + nl;
    for (size_t i = 0; i < c * d; i++) Vd[i] = vertices[i];
    for (size_t i = 0; i < pc * d; i++) Vd[c * d + i] = p->V[i];
    const uint64_t key = ssli_rng_key(seed, 0x70011ce, 0);
    for (size_t s = 0; s < samples; s++) { /* Dirichlet(1): normalised exponentials */
        double tot = 0.0;
        for (size_t i = 0; i < c; i++) {
            double u = ssli_rng_uniform(key, s * c + i);
            Lw[s * c + i] = -log1p(-u);
            tot += Lw[s * c + i];
        }
        for (size_t i = 0; i < c; i++) Lw[s * c + i] /= tot;
    }
    ssli_dgemm(ctx, false, false, samples, d, c, 1.0, Lw, c, Vd, d, 0.0, X, d);
    st = p ? ssli_police_eval_constrained(p, X, rows, Y)
           : ssli_police_eval_d(model, X, rows, Y, NULL, NULL);
    if (st != SSLK_OK) goto done;
    const double *Yv = Y + samples * K;
    ssli_dgemm(ctx, false, false, samples, K, c, 1.0, Lw, c, Yv, K, 0.0, comb, K);
    double dev = 0.0, scale = 1.0;
    for (size_t i = 0; i < c * K; i++) scale = fmax(scale, fabs(Yv[i]));
    for (size_t i = 0; i < samples * K; i++) {
        double e = fabs(Y[i] - comb[i]);
        if (!(e <= dev)) dev = e; /* NaN propagates */
    }
    R.affine_max_abs = dev;
    R.affine_max_rel = dev / scale;
    if (R.rank == 2 && c >= 3) {
        st = count_regions(ctx, model, vertices, c, d, &R.regions_inside);
        if (st != SSLK_OK) goto done;
        float *big = ssli_malloc(ctx, c * d, sizeof(float));
        if (!big) {
            st = ssli_alloc_status();
            goto done;
        }
        for (size_t j = 0; j < d; j++) {
            double m = 0.0;
            for (size_t i = 0; i < c; i++) m += vertices[i * d + j];
            m /= (double)c;
            for (size_t i = 0; i < c; i++) big[i * d + j] = (float)(m + 2.0 * (vertices[i * d + j] - m));
        }
        st = count_regions(ctx, model, big, c, d, &R.regions_around);
        ssli_free(ctx, big);
        if (st != SSLK_OK) goto done;
        R.slice_checked = 1;
    }
    ssli_struct_out(report, &R, sizeof R);
done:
    ssli_free(ctx, X);
    ssli_free(ctx, Y);
    ssli_free(ctx, Lw);
    return st;
}
