/* MSN / PMSN across ranks, each rank computing only its own rows (msn.c's
 * forward and backward with three all-reduces, ssli_msn_run):
 *   - Sinkhorn on the targets: each iteration's K prototype masses (column
 *     sums) are all-reduced, the row scaling stays local (the official MSN
 *     distributed_sinkhorn);
 *   - the mean prediction p-bar of the prior KL (me-max): K column sums, with
 *     the cross-entropy and entropy sums, in one all-reduce of K + 2 doubles;
 *   - the prototypes' gradient P^T Z (K x d) is all-reduced, so it is the
 *     global one, identical on every rank.
 * The targets, predictions, cross-entropies and the anchors' gradients are
 * per-row: V n x K on the rank, nothing gathered.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "dist/dist_internal.h"
#include "loss_dist.h"

sslk_status ssli_loss_dist_msn(sslk_loss *L, const sslk_dist *t, const ssli_loss_in *in, const size_t *counts,
                               size_t N, double *value, const char *fn) {
    (void)counts;
    /* the kind's checks read this rank's prototypes and prior: agree on them
     * before the first all-reduce, so a refusal on one rank stops every rank */
    sslk_status local = ssli_msn_check(L, in, N);
    /* and on the sizes of the all-reduces to come (K, the Sinkhorn iterations):
     * ranks configured differently would otherwise pair mismatched collectives */
    const size_t K = (size_t)ssli_loss_setting(L, SSLK_MSN_NUM_PROTOTYPES);
    const size_t it = (size_t)ssli_loss_setting(L, SSLK_MSN_SINKHORN_ITERATIONS); /* <= 1000 */
    size_t W = (size_t)t->world_size, tt;
    size_t *cfg = ssli_malloc(L->ctx, W, sizeof(size_t));
    if (!cfg) return ssli_alloc_status();
    sslk_status s = ssli_dist_agree(L->ctx, t, local, K * 1001 + it, cfg, &tt, fn);
    for (size_t r = 0; s == SSLK_OK && r < W; r++)
        if (cfg[r] != K * 1001 + it)
            s = ssli_err(SSLK_E_SHAPE, "%s: msn loss: rank %zu has num_prototypes = %zu, sinkhorn_iterations = %zu; "
                         "this rank (%d) %zu, %zu", fn, r, cfg[r] / 1001, cfg[r] % 1001, t->rank, K, it);
    ssli_free(L->ctx, cfg);
    SSLI_TRY(s);
    return ssli_msn_run(L, in, t, N, value, fn);
}
