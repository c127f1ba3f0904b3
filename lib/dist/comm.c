/* The communication thread (dist_internal.h): a FIFO of collectives run one
 * at a time on a thread of its own, so the data-parallel trainer can hand
 * gradient buckets over while the backward of earlier layers goes on.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist_internal.h"

struct ssli_comm {
    sslk_dist t;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    ssli_comm_op *head, *tail; /* queued, not yet taken */
    size_t submitted, finished;
    ssli_comm_op failed; /* copy of the first failure (rc != 0) */
    bool stop;
};

static _Thread_local ssli_comm *tl_route;

static void *comm_main(void *arg) {
    ssli_comm *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->head && !c->stop) pthread_cond_wait(&c->cv_work, &c->mu);
        if (!c->head) break; /* stop, queue drained */
        ssli_comm_op *op = c->head;
        c->head = op->next;
        if (!c->head) c->tail = NULL;
        const bool skip = c->failed.rc != 0;
        pthread_mutex_unlock(&c->mu);
        if (skip) { /* the collectives after a failed one would each wait a full timeout */
            op->rc = c->failed.rc;
            snprintf(op->msg, sizeof op->msg, "not run: an earlier collective of this step failed");
        } else {
            ssli_dist_exec(&c->t, op);
        }
        pthread_mutex_lock(&c->mu);
        if (op->rc != 0 && c->failed.rc == 0) {
            c->failed = *op;
            c->failed.next = NULL;
        }
        op->done = 1;
        c->finished++;
        pthread_cond_broadcast(&c->cv_done);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

sslk_status ssli_comm_start(const sslk_dist *t, ssli_comm **out) {
    static const char fn[] = "ssli_comm_start";
    *out = NULL;
    ssli_comm *c = calloc(1, sizeof *c);
    if (!c) return ssli_err(SSLK_E_NOMEM, "%s: out of memory", fn);
    c->t = *t;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv_work, NULL);
    pthread_cond_init(&c->cv_done, NULL);
    if (pthread_create(&c->th, NULL, comm_main, c) != 0) {
        pthread_cond_destroy(&c->cv_work);
        pthread_cond_destroy(&c->cv_done);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return ssli_err(SSLK_E_INTERNAL, "%s: cannot start the communication thread", fn);
    }
    *out = c;
    return SSLK_OK;
}

void ssli_comm_stop(ssli_comm *c) {
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_broadcast(&c->cv_work);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->th, NULL);
    if (tl_route == c) tl_route = NULL;
    pthread_cond_destroy(&c->cv_work);
    pthread_cond_destroy(&c->cv_done);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void ssli_comm_submit(ssli_comm *c, ssli_comm_op *op) {
    op->next = NULL;
    op->done = 0;
    op->rc = 0;
    op->msg[0] = '\0';
    pthread_mutex_lock(&c->mu);
    if (c->tail) c->tail->next = op;
    else c->head = op;
    c->tail = op;
    c->submitted++;
    pthread_cond_signal(&c->cv_work);
    pthread_mutex_unlock(&c->mu);
}

sslk_status ssli_comm_wait_all(ssli_comm *c) {
    const double t0 = ssli_dist_now();
    pthread_mutex_lock(&c->mu);
    while (c->finished < c->submitted) pthread_cond_wait(&c->cv_done, &c->mu);
    ssli_comm_op f = c->failed;
    c->failed.rc = 0; /* the next step starts clean (its collectives then fail on their own) */
    pthread_mutex_unlock(&c->mu);
    ssli_dist_add_wait(ssli_dist_now() - t0);
    return f.rc ? ssli_dist_op_error(&c->t, &f) : SSLK_OK;
}

void ssli_comm_route(ssli_comm *c) { tl_route = c; }

ssli_comm *ssli_comm_routed(const sslk_dist *t) {
    ssli_comm *c = tl_route;
    return c && c->t.user == t->user && c->t.rank == t->rank && c->t.allreduce_sum_f64 == t->allreduce_sum_f64 ? c
                                                                                                                : NULL;
}

int ssli_comm_call(ssli_comm *c, ssli_comm_op *op) {
    ssli_comm_submit(c, op);
    pthread_mutex_lock(&c->mu);
    while (!op->done) pthread_cond_wait(&c->cv_done, &c->mu);
    pthread_mutex_unlock(&c->mu);
    return op->rc;
}
