/* NT-Xent per-anchor row kernels, shared by the one-process loss (infonce.c,
 * every anchor) and the across-ranks loss (dist_infonce.c, this rank's
 * anchors against the gathered keys).  A row s holds anchor a's T logits
 * S_ab = u_a.u_b / tau over every key b of the stack (s[a] is the anchor
 * itself); grp / glen list the rows sharing a's sample id (a included).
 * Template section only (R, F from loss_template.h): included once per
 * instantiation, so no include guard.
 * SPDX-License-Identifier: BSD-3-Clause */

/* Pass 1: the positives' log-sum-exp (per-sample term) and the log-sum-exp
 * over every other row (batch statistic).  fast: keep E = exp(S - m_a) in s
 * for pass 2 (one exp per logit); else s is left as it was. */
static void F(infonce_row_lse)(R *s, size_t a, size_t T, const size_t *grp, size_t glen, bool fast, double *lpos,
                               double *mrow, double *lall) {
    double mp = -INFINITY;
    for (size_t k = 0; k < glen; k++)
        if (grp[k] != a && (double)s[grp[k]] > mp) mp = (double)s[grp[k]];
    double sp = 0;
    for (size_t k = 0; k < glen; k++)
        if (grp[k] != a) sp += exp((double)s[grp[k]] - mp);
    *lpos = mp + log(sp);
    R self = s[a];
    s[a] = (R)-INFINITY;
    R m = (R)F(ssli_row_max)(s, T);
    double sum = F(ssli_row_expsum)(s, fast ? s : NULL, T, m); /* self term exp(-inf) ~ 0 */
    if (!fast) s[a] = self;
    *mrow = (double)m;
    *lall = (double)m + log(sum);
}

/* Pass 2: row a of G + G^T, (G + G^T)_ab = c (P_ab + P_ba) - c (Ppos_ab + Ppos_ba),
 * from the symmetry of S (P_ba = exp(S_ab - lse_b)): needs lse_b, lpos_b and
 * em1_b = expm1(lpos_b - lse_b) of every key b, and
 *   lr[b] = c exp(-lse_b) (fast) or lse_b (not fast).
 * Positive entries: c (P_ab - Ppos_ab + P_ba - Ppos_ba) with P - Ppos = Ppos
 * expm1(lpos - lse) (= -Ppos (1 - e^{-l}), l the anchor's loss).  Written as a
 * difference it cancels to nothing near saturation (P_ab -> 1): 2.6e-2
 * relative gradient error at loss 1e-5.  Computed from the stored logit (or
 * its exponential), never from a recomputed dot product, whose rounding
 * differs from the Gram's and left 1e-6 of 1 - 1 behind.  pv: glen doubles. */
static void F(infonce_row_grad)(R *s, size_t a, size_t T, const size_t *grp, size_t glen, bool fast, double c,
                                double mrow_a, double lall_a, const double *lpos, const double *em1, const R *lr,
                                double *pv) {
    for (size_t k = 0; k < glen; k++) {
        size_t b = grp[k];
        if (b == a) continue;
        double x = (double)s[b]; /* E_ab = exp(S_ab - m_a) (fast) or S_ab */
        double ea = fast ? x * exp(mrow_a - lpos[a]) : exp(x - lpos[a]);
        double eb = fast ? x * exp(mrow_a - lpos[b]) : exp(x - lpos[b]);
        pv[k] = c * (ea * em1[a] + eb * em1[b]);
    }
    if (fast) /* E_ab (c / sum_a + c exp(m_a - lse_b)) */
        F(ssli_row_affine)(s, T, (R)(c * exp(mrow_a - lall_a)), (R)exp(mrow_a), lr);
    else
        F(ssli_row_softmax2)(s, T, lr[a], lr, (R)c);
    s[a] = 0;
    for (size_t k = 0; k < glen; k++)
        if (grp[k] != a) s[grp[k]] = (R)pv[k];
}
