/* sslkit demo: the metrics on Fashion-MNIST (Debian's dataset-fashion-mnist).
 * RankMe of the raw pixels and of a seeded Gaussian random projection, and a
 * per-class accuracy table of a nearest-class-mean classifier.  The gzipped
 * IDX reader here is deliberately small; the data layer will replace it.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "metric_report.h"

#define DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

static const char *help =
    "usage: sslkit demo [--data DIR] [--dim D] [--seed S] [--threads N]\n"
    "  Metrics on the Fashion-MNIST test set (Debian package dataset-fashion-mnist,\n"
    "  default DIR " DEFAULT_DIR ", or $SSLKIT_FASHION_MNIST):\n"
    "  RankMe of raw pixels and of a Gaussian random projection to D dimensions\n"
    "  (default 256), then a nearest-class-mean classifier fitted on the training set\n"
    "  (or on the first half of the test set when the training files are missing)\n"
    "  with its per-class accuracy table and worst-3 accuracy.\n";

static const char *const class_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Read a gzipped IDX file of unsigned bytes with `dims` axes (1 or 3).
 * Returns the data (malloc'd) and the leading count; NULL when the file is
 * missing (*missing = 1) or malformed (message printed). */
static unsigned char *read_idx(const char *path, int dims, size_t *count, size_t *width, int *missing) {
    *missing = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        *missing = 1;
        return NULL;
    }
    unsigned char hdr[16];
    int hl = 4 + 4 * dims;
    unsigned char *data = NULL;
    if (gzread(f, hdr, (unsigned)hl) != hl || be32(hdr) != (uint32_t)(0x800 + dims)) {
        fprintf(stderr, "sslkit demo: '%s' is not an IDX file of %d-D unsigned bytes\n", path, dims);
        goto fail;
    }
    size_t n = be32(hdr + 4), w = 1;
    for (int i = 1; i < dims; i++) w *= be32(hdr + 4 + 4 * i);
    if (n == 0 || n > 10000000 || w > 65536) {
        fprintf(stderr, "sslkit demo: '%s' has an implausible shape\n", path);
        goto fail;
    }
    data = malloc(n * w);
    if (!data) goto fail;
    for (size_t off = 0; off < n * w;) {
        size_t chunk = n * w - off < (1u << 30) ? n * w - off : (1u << 30);
        int got = gzread(f, data + off, (unsigned)chunk);
        if (got <= 0) {
            fprintf(stderr, "sslkit demo: '%s' is truncated\n", path);
            goto fail;
        }
        off += (size_t)got;
    }
    gzclose(f);
    *count = n;
    *width = w;
    return data;
fail:
    free(data);
    gzclose(f);
    return NULL;
}

typedef struct split {
    unsigned char *x, *y;
    size_t n, d;
} split;

/* 0 ok, 1 missing, 2 malformed */
static int load_split(const char *dir, const char *prefix, split *s) {
    char pi[1024], pl[1024];
    snprintf(pi, sizeof pi, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(pl, sizeof pl, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    int mi, ml;
    size_t nl, one;
    s->x = read_idx(pi, 3, &s->n, &s->d, &mi);
    if (!s->x) return mi ? 1 : 2;
    s->y = read_idx(pl, 1, &nl, &one, &ml);
    if (!s->y || nl != s->n) {
        if (s->y) fprintf(stderr, "sslkit demo: %zu labels for %zu images in '%s'\n", nl, s->n, dir);
        free(s->x);
        free(s->y);
        return s->y || !ml ? 2 : 1;
    }
    for (size_t i = 0; i < s->n; i++)
        if (s->y[i] > 9) {
            fprintf(stderr, "sslkit demo: label %u out of range in '%s'\n", s->y[i], pl);
            free(s->x);
            free(s->y);
            return 2;
        }
    return 0;
}

/* splitmix64 stream and Box-Muller: a seeded Gaussian matrix. */
static uint64_t mix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void gaussian(float *w, size_t n, uint64_t seed, float scale) {
    uint64_t s = seed * 0x2545f4914f6cdd1dULL + 1;
    for (size_t i = 0; i < n; i += 2) {
        double u1 = ((double)(mix(&s) >> 11) + 0.5) * 0x1.0p-53, u2 = (double)(mix(&s) >> 11) * 0x1.0p-53;
        double r = sqrt(-2 * log(u1));
        w[i] = (float)(r * cos(6.283185307179586 * u2)) * scale;
        if (i + 1 < n) w[i + 1] = (float)(r * sin(6.283185307179586 * u2)) * scale;
    }
}

int cmd_demo(int argc, char **argv) {
    const char *cmd = "demo";
    if (cli_flag(argc, argv, "--help")) {
        fputs(help, stdout);
        return 0;
    }
    const char *dir = cli_opt(argc, argv, "--data");
    if (!dir) dir = getenv("SSLKIT_FASHION_MNIST");
    if (!dir) dir = DEFAULT_DIR;
    int64_t dim;
    uint64_t seed;
    int threads, urc;
    if ((urc = cli_opt_i64(argc, argv, cmd, "--dim", 1, 4096, 256, &dim)) ||
        (urc = cli_opt_u64(argc, argv, cmd, "--seed", 0, &seed)) || (urc = cli_opt_threads(argc, argv, cmd, &threads)))
        return urc;
    double t0 = now();
    split te = {0}, tr = {0};
    int st = load_split(dir, "t10k", &te);
    if (st == 1) {
        fprintf(stderr,
                "sslkit demo: the Fashion-MNIST test set is not in '%s'.\n"
                "Install Debian's package: sudo apt-get install dataset-fashion-mnist\n"
                "(or pass --data DIR holding t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz)\n",
                dir);
        return 1;
    }
    if (st) return 1;
    bool have_train = load_split(dir, "train", &tr) == 0 && tr.d == te.d;
    size_t n = te.n, d = te.d, D = (size_t)dim;
    float *x = malloc(n * d * sizeof *x), *w = malloc(d * D * sizeof *w), *p = calloc(n * D, sizeof *p);
    int rc = 1;
    sslk_ctx *ctx = cli_ctx(threads);
    double *mu = NULL;
    int32_t *pred = NULL, *lab = NULL;
    if (!x || !w || !p) goto done;
    for (size_t i = 0; i < n * d; i++) x[i] = te.x[i] / 255.0f;
    printf("Fashion-MNIST test set: %zu images of %zu pixels (%s)\n", n, d, dir);

    /* RankMe of the raw pixels and of a random projection */
    double rm_raw, rm_proj;
    sslk_status s = sslk_rankme(ctx, x, n, d, &rm_raw);
    if (s != SSLK_OK) {
        cli_fail(cmd, "RankMe of the pixels", s);
        goto done;
    }
    gaussian(w, d * D, (uint64_t)seed, (float)(1.0 / sqrt((double)D)));
    for (size_t i = 0; i < n; i++) /* i-k-j order; most pixels are 0 */
        for (size_t k = 0; k < d; k++) {
            float v = x[i * d + k];
            if (v == 0.0f) continue;
            const float *wk = w + k * D;
            float *pi = p + i * D;
            for (size_t j = 0; j < D; j++) pi[j] += v * wk[j];
        }
    s = sslk_rankme(ctx, p, n, D, &rm_proj);
    if (s != SSLK_OK) {
        cli_fail(cmd, "RankMe of the projection", s);
        goto done;
    }
    printf("\nRankMe (paper definition: singular values, eps 1e-7)\n");
    printf("  raw pixels             %8.2f  of at most %zu\n", rm_raw, d < n ? d : n);
    printf("  Gaussian projection    %8.2f  of at most %zu  (%zu -> %zu, seed %llu)\n", rm_proj, D < n ? D : n,
           d, D, (unsigned long long)seed);

    /* Nearest class mean: fit on the training set, or on the first half of test */
    const unsigned char *fx = have_train ? tr.x : te.x, *fy = have_train ? tr.y : te.y;
    size_t nfit = have_train ? tr.n : n / 2, e0 = have_train ? 0 : n / 2, ne = n - e0;
    mu = calloc(10 * d + 20, sizeof *mu);
    pred = malloc(ne * sizeof *pred);
    lab = malloc(ne * sizeof *lab);
    if (!mu || !pred || !lab) goto done;
    double *cnt = mu + 10 * d, *norm = cnt + 10;
    for (size_t i = 0; i < nfit; i++) {
        cnt[fy[i]] += 1;
        for (size_t k = 0; k < d; k++) mu[fy[i] * d + k] += fx[i * d + k] / 255.0;
    }
    for (int c = 0; c < 10; c++) {
        for (size_t k = 0; k < d; k++) {
            if (cnt[c] > 0) mu[c * d + k] /= cnt[c];
            norm[c] += mu[c * d + k] * mu[c * d + k];
        }
    }
    for (size_t i = 0; i < ne; i++) {
        const float *xi = x + (e0 + i) * d;
        double best = -INFINITY;
        for (int c = 0; c < 10; c++) { /* argmin |x - mu|^2 = argmax x.mu - |mu|^2 / 2 */
            double sc = -0.5 * norm[c];
            for (size_t k = 0; k < d; k++) sc += xi[k] * mu[c * d + k];
            if (sc > best) {
                best = sc;
                pred[i] = c;
            }
        }
        lab[i] = te.y[e0 + i];
    }
    cli_report r;
    s = cli_report_compute(&r, pred, lab, ne, 10, NULL, 0, 3);
    if (s != SSLK_OK) {
        cli_fail(cmd, "accuracy report", s);
        goto done;
    }
    printf("\nNearest-class-mean classifier on raw pixels: fitted on %s (%zu images), evaluated on %s (%zu)\n",
           have_train ? "the training set" : "the first half of the test set", nfit,
           have_train ? "the test set" : "the second half", ne);
    cli_report_print(&r, class_names);
    cli_report_free(&r);
    printf("\ndone in %.2f s\n", now() - t0);
    rc = 0;
done:
    free(x);
    free(w);
    free(p);
    free(mu);
    free(pred);
    free(lab);
    free(te.x);
    free(te.y);
    free(tr.x);
    free(tr.y);
    sslk_ctx_destroy(ctx);
    return rc;
}
