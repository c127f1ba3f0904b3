/* The MPI filler of the collectives table (built with the `mpi` feature).
 *
 * Every collective is posted non-blocking on a private duplicate of
 * MPI_COMM_WORLD (errors returned, never fatal) and then polled against a
 * deadline: a blocking MPI call would wait forever for a rank that stopped
 * calling collectives, whereas here the caller gets SSLK_E_DIST and can
 * abort the job.  Calls come from one thread at a time, but not always the
 * same one (the trainer's communication thread runs the overlapped gradient
 * all-reduce): MPI_THREAD_SERIALIZED is requested, and the table says
 * any_thread only when MPI grants it (else the trainer does not overlap).
 * SPDX-License-Identifier: BSD-3-Clause */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dist_internal.h"
#include "sslkit/dist_mpi.h"

#define SSLI_MPI_DEFAULT_TIMEOUT 600.0
#define SSLI_MPI_CHUNK (1u << 28) /* elements per posted reduction: fits MPI's int counts */

static struct {
    int ready, we_init;
    MPI_Comm comm;
    int rank, size, provided;
    double timeout, seconds;
} g_mpi;

static int mpi_fail(int rc, const char *what) {
    char es[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, es, &len) != MPI_SUCCESS) snprintf(es, sizeof es, "MPI error %d", rc);
    char msg[MPI_MAX_ERROR_STRING + 96];
    snprintf(msg, sizeof msg, "MPI %s on rank %d: %.200s", what, g_mpi.rank, es);
    sslk_dist_set_error(msg);
    return rc ? rc : -1;
}

/* Poll req until done or past the deadline; spins briefly, then sleeps 100 us
 * between polls so oversubscribed ranks leave the cores to the others. */
static int mpi_wait(MPI_Request *req, const char *what, double t0) {
    const double deadline = t0 + g_mpi.timeout;
    for (unsigned spins = 0;; spins++) {
        int done = 0, rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, what);
        if (done) break;
        if (spins < 2000) continue;
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
        if (MPI_Wtime() > deadline) {
            char msg[256];
            snprintf(msg, sizeof msg,
                     "MPI %s: rank %d of %d waited %.0f s for the other ranks (one died or stopped calling "
                     "collectives; timeout: SSLKIT_DIST_TIMEOUT)",
                     what, g_mpi.rank, g_mpi.size, MPI_Wtime() - t0);
            sslk_dist_set_error(msg);
            return -2;
        }
    }
    g_mpi.seconds += MPI_Wtime() - t0;
    return 0;
}

static int mpi_allreduce(void *buf, size_t count, MPI_Datatype type, size_t esize, const char *what) {
    char *p = buf;
    while (count > 0) {
        size_t k = count < SSLI_MPI_CHUNK ? count : SSLI_MPI_CHUNK;
        double t0 = MPI_Wtime();
        MPI_Request req;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, p, (int)k, type, MPI_SUM, g_mpi.comm, &req);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, what);
        if ((rc = mpi_wait(&req, what, t0)) != 0) return rc;
        p += k * esize;
        count -= k;
    }
    return 0;
}

static int mpi_allgatherv(const void *send, size_t count, void *recv, const size_t *counts, MPI_Datatype type,
                          const char *what) {
    const int W = g_mpi.size;
    int *ic = malloc(2 * (size_t)W * sizeof(int));
    if (!ic) {
        sslk_dist_set_error("MPI allgatherv: out of memory for the count arrays");
        return -1;
    }
    int *disp = ic + W;
    size_t off = 0;
    for (int r = 0; r < W; r++) {
        if (counts[r] > INT_MAX || off > INT_MAX) {
            free(ic);
            char msg[160];
            snprintf(msg, sizeof msg, "MPI %s: %zu elements at offset %zu exceed MPI's int counts", what, counts[r],
                     off);
            sslk_dist_set_error(msg);
            return -1;
        }
        ic[r] = (int)counts[r];
        disp[r] = (int)off;
        off += counts[r];
    }
    double t0 = MPI_Wtime();
    MPI_Request req;
    int rc = MPI_Iallgatherv(send, (int)count, type, recv, ic, disp, type, g_mpi.comm, &req);
    if (rc == MPI_SUCCESS) rc = mpi_wait(&req, what, t0);
    else rc = mpi_fail(rc, what);
    free(ic);
    return rc;
}

static int f_allgatherv_f32(void *u, const float *send, size_t count, float *recv, const size_t *counts) {
    (void)u;
    return mpi_allgatherv(send, count, recv, counts, MPI_FLOAT, "allgatherv(float)");
}
static int f_allgatherv_f64(void *u, const double *send, size_t count, double *recv, const size_t *counts) {
    (void)u;
    return mpi_allgatherv(send, count, recv, counts, MPI_DOUBLE, "allgatherv(double)");
}
static int f_allreduce_f32(void *u, float *buf, size_t count) {
    (void)u;
    return mpi_allreduce(buf, count, MPI_FLOAT, sizeof(float), "allreduce(float)");
}
static int f_allreduce_f64(void *u, double *buf, size_t count) {
    (void)u;
    return mpi_allreduce(buf, count, MPI_DOUBLE, sizeof(double), "allreduce(double)");
}
static int f_broadcast(void *u, void *buf, size_t bytes, int root) {
    (void)u;
    char *p = buf;
    while (bytes > 0) {
        size_t k = bytes < SSLI_MPI_CHUNK ? bytes : SSLI_MPI_CHUNK;
        double t0 = MPI_Wtime();
        MPI_Request req;
        int rc = MPI_Ibcast(p, (int)k, MPI_BYTE, root, g_mpi.comm, &req);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "broadcast");
        if ((rc = mpi_wait(&req, "broadcast", t0)) != 0) return rc;
        p += k;
        bytes -= k;
    }
    return 0;
}
static int f_barrier(void *u) {
    (void)u;
    double t0 = MPI_Wtime();
    MPI_Request req;
    int rc = MPI_Ibarrier(g_mpi.comm, &req);
    return rc == MPI_SUCCESS ? mpi_wait(&req, "barrier", t0) : mpi_fail(rc, "barrier");
}

static sslk_status mpi_status(int rc, const char *call, const char *fn) {
    char es[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, es, &len) != MPI_SUCCESS) snprintf(es, sizeof es, "MPI error %d", rc);
    return ssli_err(SSLK_E_DIST, "%s: %s failed: %s", fn, call, es);
}

sslk_status sslk_dist_mpi_init(double timeout_s, sslk_dist *out) {
    const char *fn = "sslk_dist_mpi_init";
    SSLI_TRY(ssli_struct_check(out, SSLI_DIST_MIN_SIZE, fn, "out"));
    if (!(timeout_s >= 0 && timeout_s <= 1e7))
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'timeout_s' = %g, must be in [0, 1e7] seconds (0: default)", fn,
                        timeout_s);
    if (!g_mpi.ready) {
        int inited = 0, finalized = 0;
        MPI_Initialized(&inited);
        MPI_Finalized(&finalized);
        if (finalized) return ssli_err(SSLK_E_STATE, "%s: MPI was already finalized in this process", fn);
        if (!inited) {
            int provided = 0, rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
            if (rc != MPI_SUCCESS) return mpi_status(rc, "MPI_Init_thread", fn);
            g_mpi.we_init = 1;
        }
        MPI_Query_thread(&g_mpi.provided); /* whoever initialised MPI (mpi4py asks for MULTIPLE) */
        int rc = MPI_Comm_dup(MPI_COMM_WORLD, &g_mpi.comm);
        if (rc != MPI_SUCCESS) return mpi_status(rc, "MPI_Comm_dup", fn);
        MPI_Comm_set_errhandler(g_mpi.comm, MPI_ERRORS_RETURN);
        MPI_Comm_rank(g_mpi.comm, &g_mpi.rank);
        MPI_Comm_size(g_mpi.comm, &g_mpi.size);
        g_mpi.ready = 1;
    }
    double t = timeout_s;
    if (t == 0) {
        const char *e = getenv("SSLKIT_DIST_TIMEOUT");
        char *end = NULL;
        t = e && *e ? strtod(e, &end) : SSLI_MPI_DEFAULT_TIMEOUT;
        if (e && *e && (*end || !(t > 0 && t <= 1e7)))
            return ssli_err(SSLK_E_INVALID_ARG, "%s: SSLKIT_DIST_TIMEOUT='%s' is not a number of seconds in (0, 1e7]",
                            fn, e);
    }
    g_mpi.timeout = t;
    sslk_dist d = {.struct_size = sizeof d, .rank = g_mpi.rank, .world_size = g_mpi.size, .user = &g_mpi,
                   .allgatherv_f32 = f_allgatherv_f32, .allgatherv_f64 = f_allgatherv_f64,
                   .allreduce_sum_f32 = f_allreduce_f32, .allreduce_sum_f64 = f_allreduce_f64,
                   .broadcast = f_broadcast, .barrier = f_barrier,
                   .any_thread = g_mpi.provided >= MPI_THREAD_SERIALIZED};
    ssli_struct_out(out, &d, sizeof d);
    return SSLK_OK;
}

int sslk_dist_mpi_available(void) { return 1; }

double sslk_dist_mpi_seconds(void) { return g_mpi.seconds; }

void sslk_dist_mpi_finalize(void) {
    if (!g_mpi.ready) return;
    MPI_Comm_free(&g_mpi.comm);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (g_mpi.we_init && !finalized) MPI_Finalize();
    g_mpi.ready = 0;
    g_mpi.we_init = 0;
}

void sslk_dist_mpi_abort(int code) {
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (inited && !finalized) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}
