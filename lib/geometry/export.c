/* JSON and CSV export of a partition, written atomically.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>

#include "geometry/partition.h"

static void put_code(FILE *f, const sslk_partition *p, size_t i) {
    /* hex, most significant nibble first; bit b of the code is bit b % 4 of
     * nibble b / 4 counted from the right */
    size_t nib = (p->code_bits + 3) / 4;
    if (nib == 0) return;
    const uint64_t *c = p->codes + i * p->cw;
    for (size_t k = nib; k-- > 0;) {
        unsigned v = (unsigned)((c[(4 * k) >> 6] >> ((4 * k) & 63)) & 0xF);
        fputc("0123456789abcdef"[v], f);
    }
}

static sslk_status finish(ssli_atomic_file *af, const char *fn) {
    if (ferror((FILE *)af->fp)) {
        sslk_status s = ssli_err(SSLK_E_IO, "%s: writing '%s' failed", fn, af->path);
        ssli_atomic_abort(af);
        return s;
    }
    return ssli_atomic_commit(af, fn);
}

sslk_status sslk_partition_write_json(const sslk_partition *p, const char *path) {
    static const char *fn = "sslk_partition_write_json";
    SSLI_CHECK_PTR(p, fn);
    SSLI_CHECK_PTR(path, fn);
    ssli_atomic_file af;
    SSLI_TRY(ssli_atomic_open(&af, path, fn));
    FILE *f = af.fp;
    double len = 0;
    sslk_partition_boundary_length(p, &len);
    fprintf(f, "{\n  \"input_dim\": %zu,\n  \"output_dim\": %zu,\n  \"code_bits\": %zu,\n", p->d, p->k,
            p->code_bits);
    fprintf(f, "  \"region_count\": %zu,\n  \"boundary_length\": %.17g,\n  \"seconds\": %.6f,\n", p->n, len,
            p->seconds);
    fprintf(f, "  \"domain\": [");
    for (size_t i = 0; i < p->ndomain; i++)
        fprintf(f, "%s[%.17g, %.17g]", i ? ", " : "", p->domain[i].x, p->domain[i].y);
    fprintf(f, "],\n  \"anchors\": [");
    for (size_t i = 0; i < p->nanchors; i++)
        fprintf(f, "%s[%.17g, %.17g]", i ? ", " : "", p->anchors[i].x, p->anchors[i].y);
    fprintf(f, "],\n  \"regions\": [\n");
    for (size_t i = 0; i < p->n; i++) {
        fprintf(f, "    {\"area\": %.17g, \"class\": %d, \"code\": \"", p->area[i], (int)p->cls[i]);
        put_code(f, p, i);
        fprintf(f, "\", \"vertices\": [");
        for (size_t j = p->voff[i]; j < p->voff[i + 1]; j++)
            fprintf(f, "%s[%.17g, %.17g]", j > p->voff[i] ? ", " : "", p->pts[j].x, p->pts[j].y);
        fprintf(f, "]}%s\n", i + 1 < p->n ? "," : "");
    }
    fprintf(f, "  ],\n  \"boundary\": [\n");
    for (size_t i = 0; i < p->nseg; i++) {
        const double *g = p->segs + 4 * i;
        const int32_t *in = p->seg_info + 3 * i;
        fprintf(f, "    {\"region\": %d, \"classes\": [%d, %d], \"segment\": [[%.17g, %.17g], [%.17g, %.17g]]}%s\n",
                (int)in[0], (int)in[1], (int)in[2], g[0], g[1], g[2], g[3], i + 1 < p->nseg ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return finish(&af, fn);
}

sslk_status sslk_partition_write_csv(const sslk_partition *p, const char *regions_path,
                                     const char *boundary_path) {
    static const char *fn = "sslk_partition_write_csv";
    SSLI_CHECK_PTR(p, fn);
    SSLI_CHECK_PTR(regions_path, fn);
    ssli_atomic_file af;
    SSLI_TRY(ssli_atomic_open(&af, regions_path, fn));
    FILE *f = af.fp;
    fprintf(f, "region,vertex,u,v,area,class,code\n");
    for (size_t i = 0; i < p->n; i++)
        for (size_t j = p->voff[i]; j < p->voff[i + 1]; j++) {
            fprintf(f, "%zu,%zu,%.17g,%.17g,%.17g,%d,", i, j - p->voff[i], p->pts[j].x, p->pts[j].y,
                    p->area[i], (int)p->cls[i]);
            put_code(f, p, i);
            fputc('\n', f);
        }
    SSLI_TRY(finish(&af, fn));
    if (!boundary_path) return SSLK_OK;
    SSLI_TRY(ssli_atomic_open(&af, boundary_path, fn));
    f = af.fp;
    fprintf(f, "segment,region,class_a,class_b,u0,v0,u1,v1\n");
    for (size_t i = 0; i < p->nseg; i++) {
        const double *g = p->segs + 4 * i;
        const int32_t *in = p->seg_info + 3 * i;
        fprintf(f, "%zu,%d,%d,%d,%.17g,%.17g,%.17g,%.17g\n", i, (int)in[0], (int)in[1], (int)in[2], g[0],
                g[1], g[2], g[3]);
    }
    return finish(&af, fn);
}
