/* The MPI filler's entries that need no running job (issue 17, i17-mpi):
 * build flag, launcher detection, argument checks before MPI starts, no-op
 * finalize.  The collectives themselves run under mpirun in tests/mpi.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

START_TEST(mpi_entries) {
    const int have = sslk_dist_mpi_available();
    ck_assert(have == 0 || have == 1);
    /* launcher detection from the environment */
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"};
    for (int i = 0; i < 3; i++) unsetenv(vars[i]);
    ck_assert_int_eq(sslk_dist_mpi_launched(), 0);
    setenv("PMI_SIZE", "4", 1);
    ck_assert_int_eq(sslk_dist_mpi_launched(), 1);
    unsetenv("PMI_SIZE");
    setenv("OMPI_COMM_WORLD_SIZE", "", 1); /* empty: not launched */
    ck_assert_int_eq(sslk_dist_mpi_launched(), 0);
    unsetenv("OMPI_COMM_WORLD_SIZE");
    ck_assert(sslk_dist_mpi_seconds() == 0.0);
    sslk_dist_mpi_finalize(); /* never initialised: no-op */
    sslk_dist t = {.struct_size = sizeof t};
    if (have) {
        /* refused before MPI is started */
        ck_status(sslk_dist_mpi_init(-1.0, &t), SSLK_E_INVALID_ARG);
        ck_assert_ptr_nonnull(strstr(sslk_last_error(), "timeout_s"));
        ck_status(sslk_dist_mpi_init(NAN, &t), SSLK_E_INVALID_ARG);
        ck_status(sslk_dist_mpi_init(0, NULL), SSLK_E_INVALID_ARG);
        sslk_dist small = {.struct_size = 8};
        ck_status(sslk_dist_mpi_init(0, &small), SSLK_E_INVALID_ARG);
    } else {
        ck_status(sslk_dist_mpi_init(0, &t), SSLK_E_UNSUPPORTED);
        ck_assert_ptr_nonnull(strstr(sslk_last_error(), "-Dmpi=enabled"));
    }
}
END_TEST

/* SyncBN's setting: on by default, 0/1 only. */
START_TEST(sync_bn_setting) {
    sslk_ctx *c = NULL;
    ck_ok(sslk_ctx_create(&c));
    sslk_model *m = NULL;
    size_t shape[1] = {4};
    ck_ok(sslk_model_create(c, 1, shape, 1, &m));
    int64_t v = -1;
    ck_ok(sslk_model_get_i64(m, SSLK_MODEL_SYNC_BN, &v));
    ck_assert_int_eq(v, 1);
    ck_ok(sslk_model_set_i64(m, SSLK_MODEL_SYNC_BN, 0));
    ck_ok(sslk_model_get_i64(m, SSLK_MODEL_SYNC_BN, &v));
    ck_assert_int_eq(v, 0);
    ck_status(sslk_model_set_i64(m, SSLK_MODEL_SYNC_BN, 2), SSLK_E_SETTING);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("dist_mpi");
    TCase *tc = tcase_create("entries");
    tcase_add_test(tc, mpi_entries);
    tcase_add_test(tc, sync_bn_setting);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
