/* Shared helpers for the Check suites.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLK_TESTUTIL_H
#define SSLK_TESTUTIL_H

#include <check.h>
#include <math.h>
#include <stddef.h>

#include "sslkit/sslkit.h"

/* Assert a call returns SSLK_OK, printing sslk_last_error() otherwise. */
#define ck_ok(expr)                                                                       \
    do {                                                                                  \
        sslk_status ck_s_ = (expr);                                                       \
        ck_assert_msg(ck_s_ == SSLK_OK, "%s -> %s: %s", #expr, sslk_status_str(ck_s_),    \
                      sslk_last_error());                                                 \
    } while (0)

/* Assert a call fails with a given status and leaves a non-empty message. */
#define ck_status(expr, want)                                                             \
    do {                                                                                  \
        sslk_status ck_s_ = (expr);                                                       \
        ck_assert_msg(ck_s_ == (want), "%s -> %s, expected %s (%s)", #expr,               \
                      sslk_status_str(ck_s_), sslk_status_str(want), sslk_last_error());  \
        ck_assert_msg(sslk_last_error()[0] != '\0', "%s: empty error message", #expr);    \
    } while (0)

/* |a - b| <= atol + rtol * |b| */
#define ck_close(a, b, rtol, atol)                                                        \
    do {                                                                                  \
        double ck_a_ = (double)(a), ck_b_ = (double)(b);                                  \
        ck_assert_msg(fabs(ck_a_ - ck_b_) <= (atol) + (rtol) * fabs(ck_b_),               \
                      "%s = %.12g, expected %s = %.12g", #a, ck_a_, #b, ck_b_);           \
    } while (0)

/* Fill with deterministic uniform values in [lo, hi). */
void tu_fill_uniform(float *x, size_t n, unsigned seed, float lo, float hi);
void tu_fill_uniform_d(double *x, size_t n, unsigned seed, double lo, double hi);
void tu_fill_normal_d(double *x, size_t n, unsigned seed);
/* Run a suite with CK_FORK default and return failures (for main()). */
int tu_run(Suite *s);

#endif
