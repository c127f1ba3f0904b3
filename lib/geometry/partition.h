/* Internal layout of the slice and partition handles, and the engine entry.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_GEOMETRY_PARTITION_H
#define SSLKIT_GEOMETRY_PARTITION_H

#include "core/internal.h"
#include "geometry/cpwl.h"
#include "geometry/poly.h"
#include "sslkit/geometry.h"

#define SSLI_SLICE_NSET 2
extern const ssli_setting_table ssli_settings_splinecam;

struct sslk_slice {
    sslk_ctx *ctx;
    size_t d;             /* input dimension */
    double *origin;       /* d */
    double *dirs;         /* 2 x d, orthonormal */
    ssli_pt *poly;        /* CCW domain in slice coordinates */
    size_t npoly;
    ssli_pt anchors[3];   /* anchors in slice coordinates (for pictures) */
    size_t nanchors;
    double settings[SSLI_SLICE_NSET];
};

struct sslk_partition {
    sslk_ctx *ctx;
    size_t d, k;          /* input dim, output dim */
    size_t n;             /* regions */
    size_t *voff;         /* n + 1 */
    ssli_pt *pts;         /* voff[n] vertices */
    size_t code_bits, cw; /* bits per code, 64-bit words per code */
    uint64_t *codes;      /* n x cw */
    double *area;         /* n */
    int32_t *cls;         /* n */
    double *maps;         /* n x 3 x k, NULL unless SSLK_SPLINECAM_MAPS */
    size_t nseg;
    double *segs;         /* nseg x 4 (u0, v0, u1, v1) */
    int32_t *seg_info;    /* nseg x 3 (region, class a, class b) */
    size_t ncell;         /* argmax cells of regions crossed by the boundary */
    ssli_pt *cell_pts;
    size_t *cell_off;     /* ncell + 1 */
    int32_t *cell_info;   /* ncell x 2 (region, class) */
    double seconds;
    /* copy of the slice */
    double *origin, *dirs;
    ssli_pt *domain;
    size_t ndomain;
    ssli_pt anchors[3];
    size_t nanchors;
    size_t caps[8];       /* growth capacities while building */
};

/* Run the region enumeration of net on the slice into a new partition. */
sslk_status ssli_splinecam_run(sslk_ctx *ctx, const ssli_cpwl *net, const sslk_slice *s,
                               unsigned flags, sslk_partition **out);
/* Run on an already built net and copy the slice into the partition. */
sslk_status ssli_splinecam_net(sslk_ctx *ctx, const ssli_cpwl *net, const sslk_slice *slice,
                               unsigned flags, sslk_partition **out);
/* Decision-boundary segments of one region with output map (3 x k). */
typedef struct ssli_segsink {
    const sslk_ctx *ctx;
    double *segs;
    int32_t *info;
    size_t n, cap_s, cap_i;
    /* argmax cells of the regions the boundary crosses (for pictures) */
    ssli_pt *cpts;
    size_t *coff;    /* ncell + 1 */
    int32_t *cinfo;  /* ncell x 2: region, class */
    size_t ncell, cap_cp, cap_co, cap_ci;
} ssli_segsink;
sslk_status ssli_segsink_add_cell(ssli_segsink *s, const ssli_pt *p, size_t nv, int32_t region, int32_t cls);
sslk_status ssli_region_boundary(const double *map, size_t k, const ssli_pt *p, size_t nv,
                                 double rtol, int32_t region, ssli_segsink *sink);
/* Predicted class of an output map at point c (first maximum; k = 1: z > 0). */
int32_t ssli_map_class(const double *map, size_t k, ssli_pt c);

#endif
