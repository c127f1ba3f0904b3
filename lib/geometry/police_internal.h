/* POLICE internals: the constraint handle, its pre-activation points, the
 * unit-level shift rule shared by the float hook and the double evaluator.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_GEOMETRY_POLICE_INTERNAL_H
#define SSLKIT_GEOMETRY_POLICE_INTERNAL_H

#include "geometry/model_bind.h"
#include "sslkit/police.h"

#define SSLI_POLICE_NSET 1
extern const ssli_setting_table ssli_settings_police;

/* One pre-activation point of the model (tree order = forward order). */
typedef struct ssli_police_point {
    ssli_walk_layer L; /* the layer (linear / conv / batch-norm) whose output this is */
    size_t units;      /* features (vectors) or channels (images) */
    size_t spatial;    /* positions per unit (1 for vectors) */
    bool output;       /* the last point with no activation after it */
    /* last float forward */
    float *delta;      /* units: value subtracted from every row (0 = untouched) */
    size_t *arg;       /* units: offset in the vertex block of the arg-extreme value */
    unsigned char *on; /* units: 1 when shifted (gradient flows through arg) */
    size_t nshift;     /* units shifted in the last forward */
} ssli_police_point;

struct sslk_police {
    const sslk_ctx *ctx;
    sslk_model *model;
    ssli_model_hook hook;
    bool attached;
    float *V;          /* c x d vertices */
    size_t c, d, rank;
    ssli_police_point *pts;
    size_t npts;
    size_t cursor;     /* next point expected by the hook */
    double settings[SSLI_POLICE_NSET];
};

/* The shift rule on unit u of a vertex block V (c rows of width = units x
 * spatial, double): the unit's values are V[r * width + u * spatial + q].
 * Returns 0 (untouched), +1 or -1 and sets *delta and *arg (offset in V). */
int ssli_police_rule_d(const double *V, size_t c, size_t width, size_t u, size_t spatial,
                       double *delta, size_t *arg);

/* Whether point i is shifted (not the unconstrained output). */
static inline bool ssli_police_active(const sslk_police *p, size_t i) {
    return !p->pts[i].output || p->settings[0] != 0.0;
}

/* SSLK_E_STATE when the model's pre-activation points no longer match p's. */
sslk_status ssli_police_check(const sslk_police *p, const char *fn);
/* The constraint attached to m, or NULL. */
sslk_police *ssli_police_of(const sslk_model *m);
/* Affine rank of c points of dimension d (double, relative tolerance). */
sslk_status ssli_police_affine_rank(const sslk_ctx *ctx, const float *V, size_t c, size_t d,
                                    size_t *rank);

/* ---- double-precision evaluation (evaluation mode) --------------------------
 * y (rows x out_numel) = model(x) in double through ssli_cpwl_eval_rows; at
 * each pre-activation point k the callback (may be NULL) sees h (rows x
 * width, the layer's double output) and may change it in place. */
sslk_status ssli_police_eval_d(const sslk_model *m, const double *x, size_t rows, double *y,
                               ssli_cpwl_point_cb cb, void *user);
/* Double shifts of the constraint: per point, a units array (NULL for
 * inactive points) allocated in *shifts (npts pointers); free with
 * ssli_police_free_shifts. */
sslk_status ssli_police_shifts_d(sslk_police *p, double ***shifts);
void ssli_police_free_shifts(const sslk_police *p, double **shifts);
/* Evaluate rows x whose last p->c rows are p's vertices, with the double
 * shifts computed from those rows (the constrained function in double). */
sslk_status ssli_police_eval_constrained(sslk_police *p, const double *x, size_t rows, double *y);
/* CPWL net of the model with the given per-point double shifts (may be NULL). */
sslk_status ssli_police_cpwl(const sslk_model *m, const sslk_police *p, double **shifts,
                             ssli_cpwl *net);

#endif
