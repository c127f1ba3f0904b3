/* The public picture functions of libsslkit.so: each loads libsslkit-plot.so.1
 * on first use (so the core links no cairo) and calls into it.  Search order:
 * $SSLKIT_PLOT_MODULE, the directory this library was loaded from, then the
 * system loader.  Without the module the calls return SSLK_E_UNSUPPORTED.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geometry/partition.h"
#include "plot/plot_module.h"

#define MODULE_SONAME "libsslkit-plot.so.1"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const ssli_plot_api *api;
static char why[512];

static sslk_status host_verr(sslk_status s, const char *fmt, va_list ap) {
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    return ssli_err(s, "%s", buf);
}

static const ssli_plot_host host = {
    sizeof(ssli_plot_host), host_verr, ssli_malloc, ssli_free, ssli_alloc_status, ssli_mix64,
    ssli_atomic_open, ssli_atomic_write, ssli_atomic_commit, ssli_atomic_abort,
};

static void *try_open(const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) snprintf(why, sizeof why, "%s", dlerror());
    return h;
}

static void load(void) {
    void *h = NULL;
    const char *env = getenv("SSLKIT_PLOT_MODULE");
    if (env && *env) {
        h = try_open(env);
    } else {
        Dl_info info;
        if (dladdr((const void *)&once, &info) && info.dli_fname) {
            const char *slash = strrchr(info.dli_fname, '/');
            if (slash) {
                char path[4096];
                int n = snprintf(path, sizeof path, "%.*s/" MODULE_SONAME, (int)(slash - info.dli_fname),
                                 info.dli_fname);
                if (n > 0 && (size_t)n < sizeof path) h = try_open(path);
            }
        }
        if (!h) h = try_open(MODULE_SONAME);
    }
    if (!h) return;
    ssli_plot_entry_fn entry;
    *(void **)&entry = dlsym(h, SSLI_PLOT_ENTRY);
    const ssli_plot_api *a = entry ? entry(&host) : NULL;
    if (!a || a->struct_size < sizeof(ssli_plot_api) || strcmp(a->version, SSLK_VERSION_STRING) != 0 ||
        a->partition_size != sizeof(struct sslk_partition)) {
        snprintf(why, sizeof why, "%s is not the plotting module of libsslkit %s (version %s)", MODULE_SONAME,
                 SSLK_VERSION_STRING, a ? a->version : "unknown");
        dlclose(h);
        return;
    }
    api = a; /* kept loaded for the life of the process */
}

static sslk_status module(const char *fn) {
    pthread_once(&once, load);
    if (api) return SSLK_OK;
    return ssli_err(SSLK_E_UNSUPPORTED,
                    "%s: pictures need the plotting module " MODULE_SONAME " (libsslkit built with cairo, "
                    "meson option plot): %s",
                    fn, why);
}

sslk_status sslk_partition_plot(const sslk_partition *p, const char *path, int width, int height,
                                unsigned flags) {
    SSLI_TRY(module("sslk_partition_plot"));
    return api->partition_plot(p, path, width, height, flags);
}

sslk_status sslk_police_plot(const sslk_partition *p, const double *outline_uv, size_t n,
                             const double *points_uv, const int32_t *labels, size_t npoints,
                             const char *path, int width, int height) {
    static const char fn[] = "sslk_police_plot";
    SSLI_CHECK_PTR(p, fn);
    SSLI_CHECK_PTR(outline_uv, fn);
    SSLI_CHECK_PTR(path, fn);
    if (n < 3 || n > 100000000)
        return ssli_err(SSLK_E_SHAPE, "%s: 'n' = %zu outline points; need >= 3", fn, n);
    for (size_t i = 0; i < 2 * n; i++)
        if (!isfinite(outline_uv[i]))
            return ssli_err(SSLK_E_NONFINITE, "%s: 'outline_uv' value %zu is not finite", fn, i);
    if (npoints) {
        SSLI_CHECK_PTR(points_uv, fn);
        if (npoints > 100000000) return ssli_err(SSLK_E_SHAPE, "%s: 'npoints' = %zu too large", fn, npoints);
        for (size_t i = 0; i < 2 * npoints; i++)
            if (!isfinite(points_uv[i]))
                return ssli_err(SSLK_E_NONFINITE, "%s: 'points_uv' value %zu is not finite", fn, i);
    }
    if (width < 16 || height < 16 || width > 16384 || height > 16384)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: size %d x %d outside [16, 16384]", fn, width, height);
    SSLI_TRY(module(fn));
    /* the outline is drawn as its convex hull, through geometry's one hull */
    ssli_pt *tmp = ssli_malloc(p->ctx, 2 * n + 1, sizeof(ssli_pt));
    if (!tmp) return ssli_alloc_status();
    ssli_pt *hull = tmp + n;
    memcpy(tmp, outline_uv, n * sizeof(ssli_pt));
    size_t nh = ssli_convex_hull(tmp, n, hull);
    sslk_status st = api->police_plot(p, &hull[0].x, nh, points_uv, labels, npoints, path, width, height);
    ssli_free(p->ctx, tmp);
    return st;
}

sslk_status sslk_plot_curves(const char *path, const char *title, const char *xlabel, const char *ylabel,
                             const double *x, const double *y, size_t nseries, size_t npoints,
                             const char *const *names, unsigned flags) {
    SSLI_TRY(module("sslk_plot_curves"));
    return api->curves(path, title, xlabel, ylabel, x, y, nseries, npoints, names, flags);
}

sslk_status sslk_plot_bars(const char *path, const char *title, const char *ylabel, const double *values,
                           const char *const *labels, size_t n) {
    SSLI_TRY(module("sslk_plot_bars"));
    return api->bars(path, title, ylabel, values, labels, n);
}
