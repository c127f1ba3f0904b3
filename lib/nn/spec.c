/* The text spec: parser (sslk_model_add_spec / from_spec), canonical
 * printer (sslk_model_spec) and clone.  Grammar in include/sslkit/model.h.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/layers.h"

static const char FN[] = "sslk_model_add_spec";

typedef struct parser {
    const char *s;
    size_t pos;
    sslk_model *m;
} parser;

static void skip_ws(parser *p) {
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n') p->pos++;
}

/* Strict unsigned decimal. */
static bool parse_size(const char *t, size_t len, size_t *out) {
    if (len == 0 || len > 19) return false;
    size_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)t[i])) return false;
        v = v * 10 + (size_t)(t[i] - '0');
    }
    *out = v;
    return true;
}

static bool parse_real(const char *t, size_t len, double *out) {
    char buf[64];
    if (len == 0 || len >= sizeof buf) return false;
    memcpy(buf, t, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end != '\0' || errno || !isfinite(v)) return false;
    *out = v;
    return true;
}

#define MAX_FIELDS 8

/* Wrap the builder's message with the token and its offset. */
static sslk_status token_fail(sslk_status st, const char *tok, size_t len, size_t off) {
    char inner[512];
    snprintf(inner, sizeof inner, "%s", sslk_last_error());
    return ssli_err(st, "%s: token '%.*s' at offset %zu: %s", FN, (int)len, tok, off, inner);
}

static sslk_status bad_token(const char *tok, size_t len, size_t off, const char *why) {
    return ssli_err(SSLK_E_INVALID_ARG, "%s: %s token '%.*s' at offset %zu", FN, why, (int)len, tok,
                    off);
}

static sslk_status parse_seq(parser *p, int depth);

static sslk_status parse_plain(parser *p) {
    const size_t off = p->pos;
    const char *tok = p->s + off;
    size_t len = 0;
    while (tok[len] && tok[len] != ',' && tok[len] != '|' && tok[len] != ')' && tok[len] != '(')
        len++;
    p->pos += len;
    while (len && (tok[len - 1] == ' ' || tok[len - 1] == '\t' || tok[len - 1] == '\n')) len--;
    if (len == 0) return ssli_err(SSLK_E_INVALID_ARG, "%s: empty token at offset %zu", FN, off);
    /* split on ':' */
    const char *f[MAX_FIELDS];
    size_t fl[MAX_FIELDS], nf = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++)
        if (i == len || tok[i] == ':') {
            if (nf == MAX_FIELDS) return bad_token(tok, len, off, "too many fields in");
            f[nf] = tok + start, fl[nf] = i - start, nf++;
            start = i + 1;
        }
#define IS(name) (fl[0] == strlen(name) && !memcmp(f[0], name, fl[0]))
    size_t a[5] = {0};
    sslk_model *m = p->m;
    sslk_status st;
    if (IS("linear")) {
        bool nobias = nf == 3 && fl[2] == 6 && !memcmp(f[2], "nobias", 6);
        if ((nf != 2 && !nobias) || !parse_size(f[1], fl[1], &a[0]))
            return bad_token(tok, len, off, "malformed (expected linear:N[:nobias])");
        st = sslk_model_add_linear(m, a[0], !nobias);
    } else if (IS("conv")) {
        bool nobias = nf == 6 && fl[5] == 6 && !memcmp(f[5], "nobias", 6);
        if (nf != 5 && !nobias) return bad_token(tok, len, off, "malformed (expected conv:C:K:S:P[:nobias])");
        for (int i = 0; i < 4; i++)
            if (!parse_size(f[i + 1], fl[i + 1], &a[i]))
                return bad_token(tok, len, off, "malformed (expected conv:C:K:S:P[:nobias])");
        st = sslk_model_add_conv2d(m, a[0], a[1], a[2], a[3], !nobias);
    } else if (IS("bn") && nf == 1) {
        st = sslk_model_add_batchnorm(m);
    } else if (IS("relu") && nf == 1) {
        st = sslk_model_add_relu(m);
    } else if (IS("abs") && nf == 1) {
        st = sslk_model_add_abs(m);
    } else if (IS("gap") && nf == 1) {
        st = sslk_model_add_gap(m);
    } else if (IS("flatten") && nf == 1) {
        st = sslk_model_add_flatten(m);
    } else if (IS("leaky_relu")) {
        double slope;
        if (nf != 2 || !parse_real(f[1], fl[1], &slope))
            return bad_token(tok, len, off, "malformed (expected leaky_relu:SLOPE)");
        st = sslk_model_add_leaky_relu(m, slope);
    } else if (IS("maxpool") || IS("avgpool")) {
        const size_t maxf = IS("maxpool") ? 4 : 3;
        bool ok = nf >= 2 && nf <= maxf;
        for (size_t i = 1; ok && i < nf; i++) ok = parse_size(f[i], fl[i], &a[i - 1]);
        if (!ok)
            return bad_token(tok, len, off, "malformed (expected maxpool:K[:S[:P]] or avgpool:K[:S])");
        if (nf >= 3 && a[1] == 0) return bad_token(tok, len, off, "zero stride in");
        st = IS("maxpool") ? sslk_model_add_maxpool_pad(m, a[0], a[1], a[2]) : sslk_model_add_avgpool(m, a[0], a[1]);
    } else if (IS("adaptive_avgpool")) {
        if ((nf != 2 && nf != 3) || !parse_size(f[1], fl[1], &a[0]) ||
            (nf == 3 && !parse_size(f[2], fl[2], &a[1])))
            return bad_token(tok, len, off, "malformed (expected adaptive_avgpool:H[:W])");
        st = sslk_model_add_adaptive_avgpool(m, a[0], nf == 3 ? a[1] : a[0]);
    } else if (nf == 1 && fl[0] > 6 && !memcmp(f[0], "resnet", 6)) {
        ssli_backbone bb;
        const char *why = "unknown";
        if (!ssli_backbone_parse(tok, len, &bb, &why)) return bad_token(tok, len, off, why);
        if (m->nopen)
            return bad_token(tok, len, off, "backbone inside a residual block (backbones go at the top level):");
        if (m->bb.depth) return bad_token(tok, len, off, "second backbone (one per model):");
        st = ssli_backbone_build(m, &bb);
    } else {
        return bad_token(tok, len, off, "unknown");
    }
#undef IS
    return st == SSLK_OK ? SSLK_OK : token_fail(st, tok, len, off);
}

static sslk_status parse_item(parser *p, int depth) {
    skip_ws(p);
    const size_t off = p->pos;
    if (!strncmp(p->s + off, "res(", 4)) {
        if (depth >= SSLI_MODEL_MAX_DEPTH)
            return ssli_err(SSLK_E_RANGE, "%s: residual blocks nested deeper than %d at offset %zu",
                            FN, SSLI_MODEL_MAX_DEPTH, off);
        p->pos += 4;
        sslk_status st = sslk_model_residual_begin(p->m);
        if (st) return token_fail(st, "res(", 4, off);
        SSLI_TRY(parse_seq(p, depth + 1));
        if (p->s[p->pos] == '|') {
            p->pos++;
            SSLI_TRY(sslk_model_residual_shortcut(p->m));
            SSLI_TRY(parse_seq(p, depth + 1));
        }
        if (p->s[p->pos] != ')')
            return ssli_err(SSLK_E_INVALID_ARG, "%s: expected ')' closing 'res(' at offset %zu, found %s at offset %zu",
                            FN, off, p->s[p->pos] ? "another character" : "the end", p->pos);
        p->pos++;
        st = sslk_model_residual_end(p->m);
        if (st) return token_fail(st, p->s + off, p->pos - off, off);
        skip_ws(p);
        return SSLK_OK;
    }
    if (p->s[off] == '(' )
        return ssli_err(SSLK_E_INVALID_ARG, "%s: unexpected '(' at offset %zu", FN, off);
    return parse_plain(p);
}

/* Items separated by ','; an empty sequence is allowed before ')' / '|' / end. */
static sslk_status parse_seq(parser *p, int depth) {
    skip_ws(p);
    char c = p->s[p->pos];
    if (c == '\0' || c == ')' || c == '|') return SSLK_OK;
    for (;;) {
        SSLI_TRY(parse_item(p, depth));
        skip_ws(p);
        c = p->s[p->pos];
        if (c == ',') {
            p->pos++;
            continue;
        }
        if (c == '\0' || ((c == ')' || c == '|') && depth > 0)) return SSLK_OK;
        return ssli_err(SSLK_E_INVALID_ARG, "%s: unexpected '%c' at offset %zu", FN, c, p->pos);
    }
}

static sslk_status run_parse(sslk_model *m, const char *spec) {
    parser p = {spec, 0, m};
    SSLI_TRY(parse_seq(&p, 0));
    /* parse_seq stops before a ')' or '|' that opens the spec: at the top
     * level nothing may follow (it used to be the identity, the rest ignored) */
    if (spec[p.pos] != '\0')
        return ssli_err(SSLK_E_INVALID_ARG, "%s: unexpected '%c' at offset %zu", FN, spec[p.pos], p.pos);
    return SSLK_OK;
}

sslk_status sslk_model_add_spec(sslk_model *m, const char *spec) {
    SSLI_CHECK_PTR(m, FN);
    SSLI_CHECK_PTR(spec, FN);
    /* Dry run on a scratch model with the current output shape so that m is
     * untouched on error. */
    const ssli_seq *cur = m->nopen ? (m->open_in_shortcut[m->nopen - 1] ? m->open[m->nopen - 1]->shortcut
                                                                       : m->open[m->nopen - 1]->body)
                                   : &m->top;
    ssli_shape s = cur->out;
    size_t shape[3] = {s.c, s.h, s.w};
    sslk_model *t;
    SSLI_TRY(sslk_model_create(m->ctx, (size_t)s.ndim, shape, 0, &t));
    t->dry = true; /* shapes only: nothing is allocated for its tensors */
    t->bb.depth = m->bb.depth; /* a second backbone fails in the dry run too */
    sslk_status st = run_parse(t, spec);
    sslk_model_destroy(t);
    if (st) return st;
    return run_parse(m, spec);
}

sslk_status sslk_model_from_spec(sslk_ctx *ctx, const char *spec, size_t ndim, const size_t *shape,
                                 uint64_t seed, sslk_model **out) {
    SSLI_CHECK_PTR(out, "sslk_model_from_spec");
    *out = NULL;
    SSLI_CHECK_PTR(spec, "sslk_model_from_spec");
    sslk_model *m;
    SSLI_TRY(sslk_model_create(ctx, ndim, shape, seed, &m));
    sslk_status st = run_parse(m, spec);
    if (st) {
        sslk_model_destroy(m);
        return st;
    }
    *out = m;
    return SSLK_OK;
}

/* ---- printer --------------------------------------------------------------- */

typedef struct sbuf {
    char *s;
    size_t len, cap;
    bool fail;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[128];
    int w = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= sizeof tmp) {
        b->fail = true;
        return;
    }
    if (b->s && b->len + (size_t)w < b->cap) memcpy(b->s + b->len, tmp, (size_t)w + 1);
    b->len += (size_t)w;
}

static void print_seq(sbuf *b, const ssli_seq *s, const ssli_backbone *bb) {
    for (size_t i = 0; i < s->n; i++) {
        const ssli_layer *L = &s->layers[i];
        if (i) put(b, ",");
        if (bb && bb->depth && i == bb->start) { /* the backbone's layers print as its token */
            char t[64];
            ssli_backbone_token(bb, t, sizeof t);
            put(b, "%s", t);
            i = bb->end - 1;
            continue;
        }
        switch (L->kind) {
        case SSLI_LAYER_LINEAR: put(b, "linear:%zu%s", L->out.c, L->bias_count ? "" : ":nobias"); break;
        case SSLI_LAYER_CONV2D:
            put(b, "conv:%zu:%zu:%zu:%zu%s", L->out.c, L->kernel, L->stride, L->pad,
                L->bias_count ? "" : ":nobias");
            break;
        case SSLI_LAYER_BATCHNORM: put(b, "bn"); break;
        case SSLI_LAYER_RELU: put(b, "relu"); break;
        case SSLI_LAYER_LEAKY_RELU: put(b, "leaky_relu:%.9g", (double)L->slope); break;
        case SSLI_LAYER_ABS: put(b, "abs"); break;
        case SSLI_LAYER_MAXPOOL:
        case SSLI_LAYER_AVGPOOL:
            put(b, "%s:%zu", L->kind == SSLI_LAYER_MAXPOOL ? "maxpool" : "avgpool", L->kernel);
            if (L->stride != L->kernel || L->pad) put(b, ":%zu", L->stride);
            if (L->pad) put(b, ":%zu", L->pad);
            break;
        case SSLI_LAYER_ADAPTIVE_AVGPOOL:
            put(b, "adaptive_avgpool:%zu", L->out.h);
            if (L->out.w != L->out.h) put(b, ":%zu", L->out.w);
            break;
        case SSLI_LAYER_GAP: put(b, "gap"); break;
        case SSLI_LAYER_FLATTEN: put(b, "flatten"); break;
        case SSLI_LAYER_RESIDUAL:
            put(b, "res(");
            print_seq(b, L->body, NULL);
            if (L->shortcut) {
                put(b, "|");
                print_seq(b, L->shortcut, NULL);
            }
            put(b, ")");
            break;
        }
    }
}

sslk_status ssli_model_spec_alloc(const sslk_model *m, char **out) {
    sbuf b = {NULL, 0, 0, false};
    print_seq(&b, &m->top, &m->bb);
    if (b.fail) return ssli_err(SSLK_E_INTERNAL, "sslk_model_spec: token too long");
    char *s = ssli_malloc(m->ctx, b.len + 1, 1);
    if (!s) return ssli_alloc_status();
    s[0] = '\0';
    b = (sbuf){s, 0, b.len + 1, false};
    print_seq(&b, &m->top, &m->bb);
    *out = s;
    return SSLK_OK;
}

sslk_status sslk_model_spec(const sslk_model *m, char *buf, size_t cap, size_t *len) {
    static const char fn[] = "sslk_model_spec";
    SSLI_CHECK_PTR(m, fn);
    SSLI_CHECK_PTR(len, fn);
    if (cap && !buf) return ssli_err(SSLK_E_INVALID_ARG, "%s: 'buf' is NULL with cap %zu", fn, cap);
    char *s;
    SSLI_TRY(ssli_model_spec_alloc(m, &s));
    size_t n = strlen(s);
    *len = n;
    sslk_status st = SSLK_OK;
    if (n + 1 > cap) {
        st = ssli_err(SSLK_E_RANGE, "%s: spec needs %zu bytes, 'cap' = %zu", fn, n + 1, cap);
    } else {
        memcpy(buf, s, n + 1);
    }
    ssli_free(m->ctx, s);
    return st;
}

sslk_status sslk_model_clone(const sslk_model *m, sslk_model **out) {
    static const char fn[] = "sslk_model_clone";
    SSLI_CHECK_PTR(m, fn);
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    if (m->nopen) return ssli_err(SSLK_E_STATE, "%s: residual block still open", fn);
    char *spec;
    SSLI_TRY(ssli_model_spec_alloc(m, &spec));
    size_t nd, shape[3];
    sslk_model_input_shape(m, &nd, shape);
    sslk_model *c;
    sslk_status st = sslk_model_from_spec(m->ctx, spec, nd, shape, m->seed, &c);
    ssli_free(m->ctx, spec);
    if (st) return st;
    memcpy(c->settings, m->settings, sizeof c->settings);
    const sslk_param_view *va, *vb;
    size_t na, nb;
    if ((st = ssli_model_views((sslk_model *)m, &va, &na)) || (st = ssli_model_views(c, &vb, &nb))) {
        sslk_model_destroy(c);
        return st;
    }
    for (size_t i = 0; i < na && i < nb; i++) memcpy(vb[i].data, va[i].data, va[i].count * sizeof(float));
    /* num_batches_tracked, layer by layer in the same order */
    size_t total = ssli_model_collect_layers((sslk_model *)m, NULL, 0);
    ssli_layer **A = ssli_malloc(m->ctx, total ? 2 * total : 1, sizeof *A);
    if (!A) {
        sslk_model_destroy(c);
        return ssli_alloc_status();
    }
    ssli_model_collect_layers((sslk_model *)m, A, total);
    ssli_model_collect_layers(c, A + total, total);
    for (size_t i = 0; i < total; i++) A[total + i]->num_batches_tracked = A[i]->num_batches_tracked;
    ssli_free(m->ctx, A);
    *out = c;
    return SSLK_OK;
}
