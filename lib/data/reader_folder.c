/* JPEG folders in the ImageFolder layout: root/<class>/<name>.jpg, classes in
 * sorted folder-name order (or root/<name>.jpg, unlabeled).  The file list is
 * built once by scanning and can be saved to / loaded from a text cache:
 *   sslkit-filelist 1\n root <root>\n count <n> classes <k>\n then n lines
 *   "<label>\t<relative path>\n".
 * SPDX-License-Identifier: BSD-3-Clause */
#include "data_internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

typedef struct folder_list {
    char *root;
    char *arena; /* NUL-terminated relative paths */
    size_t arena_len, arena_cap;
    size_t *off;
    int32_t *labels;
    size_t n, cap;
    size_t nclasses; /* 0: unlabeled */
} folder_list;

static void list_free(const sslk_ctx *ctx, folder_list *L) {
    if (!L) return;
    ssli_free(ctx, L->root);
    ssli_free(ctx, L->arena);
    ssli_free(ctx, L->off);
    ssli_free(ctx, L->labels);
    ssli_free(ctx, L);
}

void ssli_folder_close(sslk_dataset *ds) {
    list_free(ds->ctx, ds->priv);
    ds->priv = NULL;
}

const char *ssli_folder_path(const sslk_dataset *ds, size_t i, char *buf, size_t cap) {
    const folder_list *L = ds->priv;
    snprintf(buf, cap, "%s/%s", L->root, L->arena + L->off[i]);
    return buf;
}

static bool grow(const sslk_ctx *ctx, void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t nc = *cap ? *cap : 256;
    while (nc < need) nc *= 2;
    void *np = ssli_malloc(ctx, nc, elem);
    if (!np) return false;
    if (*p) memcpy(np, *p, *cap * elem);
    ssli_free(ctx, *p);
    *p = np;
    *cap = nc;
    return true;
}

static sslk_status list_add(const sslk_ctx *ctx, folder_list *L, const char *a, const char *b, int32_t label) {
    size_t la = a ? strlen(a) + 1 : 0, lb = strlen(b) + 1;
    size_t lcap = L->cap, ocap = L->cap;
    if (!grow(ctx, (void **)&L->arena, &L->arena_cap, L->arena_len + la + lb, 1) ||
        !grow(ctx, (void **)&L->off, &ocap, L->n + 1, sizeof(size_t)) ||
        !grow(ctx, (void **)&L->labels, &lcap, L->n + 1, sizeof(int32_t)))
        return ssli_err(SSLK_E_NOMEM, "sslk_dataset_open_folder: out of memory listing files");
    L->cap = ocap < lcap ? ocap : lcap;
    L->off[L->n] = L->arena_len;
    char *d = L->arena + L->arena_len;
    if (a) {
        memcpy(d, a, la - 1);
        d[la - 1] = '/';
        d += la;
    }
    memcpy(d, b, lb);
    L->arena_len += la + lb;
    L->labels[L->n++] = label;
    return SSLK_OK;
}

/* Listed by name (.jpg, .jpeg, .png, any case); the reader then goes by the
 * file's first bytes.  Other files in a class folder (notes, .DS_Store,
 * Thumbs.db) are not images of the dataset and are left out. */
static bool is_image_name(const char *s) {
    size_t n = strlen(s);
    return (n > 4 && (strcasecmp(s + n - 4, ".jpg") == 0 || strcasecmp(s + n - 4, ".png") == 0)) ||
           (n > 5 && strcasecmp(s + n - 5, ".jpeg") == 0);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names in dir: sub-directories (want_dirs) or JPEG files.  Caller frees. */
static sslk_status list_dir(const sslk_ctx *ctx, const char *dir, bool want_dirs, char ***names, size_t *n) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return ssli_err(SSLK_E_IO, "sslk_dataset_open_folder: cannot open directory '%s'", dir);
    size_t cap = 0;
    sslk_status s = SSLK_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        bool keep;
        if (want_dirs) {
            char *p = ssli_path_join(ctx, dir, e->d_name);
            keep = p && ssli_is_dir(p);
            ssli_free(ctx, p);
        } else {
            /* Only regular files (or links to them): a FIFO named x.jpg would
             * block its reader.  d_type spares a stat on most file systems. */
            keep = is_image_name(e->d_name);
            if (keep && e->d_type != DT_REG) {
                char *p = ssli_path_join(ctx, dir, e->d_name);
                struct stat st;
                keep = p && (e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) && stat(p, &st) == 0 &&
                       S_ISREG(st.st_mode);
                ssli_free(ctx, p);
            }
        }
        if (!keep) continue;
        char *copy = ssli_strdup(ctx, e->d_name);
        if (!copy || !grow(ctx, (void **)names, &cap, *n + 1, sizeof(char *))) {
            ssli_free(ctx, copy);
            s = ssli_err(SSLK_E_NOMEM, "sslk_dataset_open_folder: out of memory listing '%s'", dir);
            break;
        }
        (*names)[(*n)++] = copy;
    }
    closedir(d);
    if (*n) qsort(*names, *n, sizeof(char *), cmp_str);
    return s;
}

static void free_names(const sslk_ctx *ctx, char **names, size_t n) {
    for (size_t k = 0; k < n; k++) ssli_free(ctx, names[k]);
    ssli_free(ctx, names);
}

static sslk_status scan(const sslk_ctx *ctx, folder_list *L) {
    char **dirs = NULL, **files = NULL;
    size_t nd = 0, nf = 0;
    sslk_status s = list_dir(ctx, L->root, true, &dirs, &nd);
    for (size_t k = 0; k < nd && s == SSLK_OK; k++) {
        char *sub = ssli_path_join(ctx, L->root, dirs[k]);
        if (!sub) {
            s = ssli_err(SSLK_E_NOMEM, "sslk_dataset_open_folder: out of memory");
            break;
        }
        s = list_dir(ctx, sub, false, &files, &nf);
        for (size_t j = 0; j < nf && s == SSLK_OK; j++) s = list_add(ctx, L, dirs[k], files[j], (int32_t)k);
        free_names(ctx, files, nf);
        ssli_free(ctx, sub);
    }
    L->nclasses = nd;
    if (s == SSLK_OK && L->n == 0) { /* no class folders with images: unlabeled flat folder */
        L->nclasses = 0;
        s = list_dir(ctx, L->root, false, &files, &nf);
        for (size_t j = 0; j < nf && s == SSLK_OK; j++) s = list_add(ctx, L, NULL, files[j], -1);
        free_names(ctx, files, nf);
    }
    free_names(ctx, dirs, nd);
    if (s == SSLK_OK && L->n == 0)
        s = ssli_err(SSLK_E_NOT_FOUND, "sslk_dataset_open_folder: no .jpg/.jpeg/.png files in '%s' or its sub-folders",
                     L->root);
    return s;
}

/* ---- cache ------------------------------------------------------------------ */
static sslk_status cache_write(const sslk_ctx *ctx, const folder_list *L, const char *path) {
    static const char *fn = "sslk_dataset_open_folder";
    (void)ctx;
    ssli_atomic_file f;
    SSLI_TRY(ssli_atomic_open(&f, path, fn));
    char line[64];
    int k = snprintf(line, sizeof line, "sslkit-filelist 1\nroot ");
    sslk_status s = ssli_atomic_write(&f, line, (size_t)k, fn);
    if (s == SSLK_OK) s = ssli_atomic_write(&f, L->root, strlen(L->root), fn);
    k = snprintf(line, sizeof line, "\ncount %zu classes %zu\n", L->n, L->nclasses);
    if (s == SSLK_OK) s = ssli_atomic_write(&f, line, (size_t)k, fn);
    for (size_t i = 0; i < L->n && s == SSLK_OK; i++) {
        k = snprintf(line, sizeof line, "%d\t", (int)L->labels[i]);
        s = ssli_atomic_write(&f, line, (size_t)k, fn);
        const char *p = L->arena + L->off[i];
        if (s == SSLK_OK) s = ssli_atomic_write(&f, p, strlen(p), fn);
        if (s == SSLK_OK) s = ssli_atomic_write(&f, "\n", 1, fn);
    }
    if (s == SSLK_OK) return ssli_atomic_commit(&f, fn);
    ssli_atomic_abort(&f);
    return s;
}

static bool parse_size(const char **p, const char *e, size_t *v) {
    const char *q = *p;
    size_t x = 0;
    if (q >= e || *q < '0' || *q > '9') return false;
    while (q < e && *q >= '0' && *q <= '9') {
        if (x > (SIZE_MAX - 9) / 10) return false;
        x = x * 10 + (size_t)(*q++ - '0');
    }
    *v = x;
    *p = q;
    return true;
}

static bool expect(const char **p, const char *e, const char *lit) {
    size_t n = strlen(lit);
    if ((size_t)(e - *p) < n || memcmp(*p, lit, n) != 0) return false;
    *p += n;
    return true;
}

/* Load a cache; SSLK_E_NOT_FOUND when it is for another root (caller rescans). */
static sslk_status cache_parse(const sslk_ctx *ctx, folder_list *L, const uint8_t *buf, size_t len,
                               const char *path) {
    static const char *fn = "sslk_dataset_open_folder";
    const char *p = (const char *)buf, *e = p + len;
    size_t n = 0, k = 0;
    sslk_status s = SSLK_OK;
    if (!expect(&p, e, "sslkit-filelist 1\nroot ")) s = ssli_err(SSLK_E_FORMAT, "%s: '%s' is not a file-list cache", fn, path);
    else if (!expect(&p, e, L->root) || !expect(&p, e, "\n"))
        s = ssli_err(SSLK_E_NOT_FOUND, "%s: cache '%s' is for another root", fn, path);
    else if (!expect(&p, e, "count ") || !parse_size(&p, e, &n) || !expect(&p, e, " classes ") ||
             !parse_size(&p, e, &k) || !expect(&p, e, "\n") || n == 0 || n > len || k > INT32_MAX)
        s = ssli_err(SSLK_E_FORMAT, "%s: cache '%s' has a malformed count line", fn, path);
    L->nclasses = k;
    for (size_t i = 0; i < n && s == SSLK_OK; i++) {
        long lab = 0;
        bool neg = expect(&p, e, "-1");
        size_t v = 0;
        if (!neg && !parse_size(&p, e, &v)) v = SIZE_MAX;
        lab = neg ? -1 : (v < k ? (long)v : -2);
        const char *t = expect(&p, e, "\t") ? p : NULL;
        const char *nl = t ? memchr(t, '\n', (size_t)(e - t)) : NULL;
        if (!nl || nl == t || (lab < 0 && (k != 0 || lab != -1)) || (lab >= 0 && k == 0)) {
            s = ssli_err(SSLK_E_FORMAT, "%s: cache '%s' entry %zu is malformed", fn, path, i);
            break;
        }
        size_t pl = (size_t)(nl - t);
        char rel[4096];
        bool bad = pl >= sizeof rel || memchr(t, '\0', pl) || t[0] == '/';
        if (!bad) {
            memcpy(rel, t, pl);
            rel[pl] = '\0';
            bad = strncmp(rel, "../", 3) == 0 || strstr(rel, "/../") || strcmp(rel, "..") == 0;
        }
        if (bad) {
            s = ssli_err(SSLK_E_FORMAT, "%s: cache '%s' entry %zu has an unsafe path", fn, path, i);
            break;
        }
        s = list_add(ctx, L, NULL, rel, (int32_t)lab);
        p = nl + 1;
    }
    if (s == SSLK_OK && p != e) s = ssli_err(SSLK_E_FORMAT, "%s: cache '%s' has trailing data", fn, path);
    return s;
}

static sslk_status cache_read(const sslk_ctx *ctx, folder_list *L, const char *path) {
    uint8_t *buf = NULL;
    size_t len = 0;
    SSLI_TRY(ssli_read_file(ctx, path, (size_t)1 << 32, 0, &buf, &len, "sslk_dataset_open_folder"));
    sslk_status s = cache_parse(ctx, L, buf, len, path);
    ssli_free(ctx, buf);
    return s;
}

sslk_status ssli_folder_cache_parse(const sslk_ctx *ctx, const char *root, const uint8_t *buf, size_t len,
                                    size_t *count) {
    folder_list *L = ssli_calloc(ctx, 1, sizeof *L);
    if (!L) return ssli_err(ssli_alloc_status(), "ssli_folder_cache_parse: out of memory");
    L->root = ssli_strdup(ctx, root);
    sslk_status s = L->root ? cache_parse(ctx, L, buf, len, "(buffer)") : SSLK_E_NOMEM;
    if (s == SSLK_OK && count) *count = L->n;
    list_free(ctx, L);
    return s;
}

/* list_only: cache_path is the caller's file list, read as is (never scanned
 * or rewritten; an error in it is the caller's). */
static sslk_status open_folder(sslk_ctx *ctx, const char *root, const char *cache_path, bool list_only,
                               sslk_dataset **out) {
    static const char *fn = "sslk_dataset_open_folder";
    if (!ssli_is_dir(root)) return ssli_err(SSLK_E_NOT_FOUND, "%s: '%s' is not a directory", fn, root);
    folder_list *L = ssli_calloc(ctx, 1, sizeof *L);
    if (!L) return ssli_err(ssli_alloc_status(), "%s: out of memory", fn);
    size_t rl = strlen(root);
    while (rl > 1 && root[rl - 1] == '/') rl--;
    L->root = ssli_malloc(ctx, rl + 1, 1);
    if (!L->root) {
        list_free(ctx, L);
        return ssli_err(ssli_alloc_status(), "%s: out of memory", fn);
    }
    memcpy(L->root, root, rl);
    L->root[rl] = '\0';
    sslk_status s = SSLK_E_NOT_FOUND;
    bool from_cache = false;
    if (cache_path && ssli_path_exists(cache_path)) {
        s = cache_read(ctx, L, cache_path);
        if (s != SSLK_OK && (s != SSLK_E_NOT_FOUND || list_only)) {
            list_free(ctx, L);
            return s;
        }
        from_cache = s == SSLK_OK;
    }
    if (!from_cache) {
        L->n = L->arena_len = 0;
        s = scan(ctx, L);
        if (s == SSLK_OK && cache_path) s = cache_write(ctx, L, cache_path);
    }
    sslk_dataset *ds = NULL;
    if (s == SSLK_OK) {
        ds = ssli_calloc(ctx, 1, sizeof *ds);
        if (!ds) s = ssli_err(ssli_alloc_status(), "%s: out of memory", fn);
    }
    if (s != SSLK_OK) {
        list_free(ctx, L);
        return s;
    }
    ds->ctx = ctx;
    ds->kind = SSLK_DATASET_JPEG_FOLDER;
    ds->rd = &ssli_reader_jpeg;
    ds->n = L->n;
    ds->c = 3;
    ds->priv = L;
    ssli_setting_defaults(&ssli_settings_dataset, ds->set);
    ds->path = ssli_strdup(ctx, L->root);
    if (L->nclasses) {
        ds->labels = ssli_malloc(ctx, L->n, sizeof(int32_t));
        if (ds->labels) {
            memcpy(ds->labels, L->labels, L->n * sizeof(int32_t));
            ds->nclasses = L->nclasses;
        }
    }
    if (!ds->path || (L->nclasses && !ds->labels)) {
        sslk_dataset_destroy(ds);
        return ssli_err(SSLK_E_NOMEM, "%s: out of memory", fn);
    }
    *out = ds;
    return SSLK_OK;
}

sslk_status ssli_open_jpeg_folder(sslk_ctx *ctx, const char *root, const char *cache_path, sslk_dataset **out) {
    return open_folder(ctx, root, cache_path, false, out);
}

bool ssli_is_file_list(const sslk_ctx *ctx, const char *path) {
    uint8_t *head = NULL;
    size_t n = 0;
    bool yes = ssli_read_head(ctx, path, 23, 0, &head, &n, "sslk_dataset_open") == SSLK_OK && n == 23 &&
               memcmp(head, "sslkit-filelist 1\nroot ", 23) == 0;
    ssli_free(ctx, head);
    ssli_clear_error();
    return yes;
}

sslk_status ssli_open_file_list(sslk_ctx *ctx, const char *path, sslk_dataset **out) {
    static const char *fn = "sslk_dataset_open";
    uint8_t *buf = NULL;
    size_t len = 0;
    SSLI_TRY(ssli_read_head(ctx, path, 4096 + 24, 0, &buf, &len, fn));
    const char *p = (const char *)buf + 23, *e = (const char *)buf + len;
    const char *nl = len > 23 ? memchr(p, '\n', (size_t)(e - p)) : NULL;
    sslk_status s = SSLK_OK;
    char root[4097];
    if (!nl || nl == p || (size_t)(nl - p) >= sizeof root || memchr(p, '\0', (size_t)(nl - p)))
        s = ssli_err(SSLK_E_FORMAT, "%s: file list '%s' has no valid 'root' line", fn, path);
    else {
        memcpy(root, p, (size_t)(nl - p));
        root[nl - p] = '\0';
    }
    ssli_free(ctx, buf);
    SSLI_TRY(s);
    return open_folder(ctx, root, path, true, out);
}

sslk_status sslk_dataset_open_folder(sslk_ctx *ctx, const char *root, const char *cache_path, sslk_dataset **out) {
    SSLI_CHECK_PTR(ctx, "sslk_dataset_open_folder");
    SSLI_CHECK_PTR(root, "sslk_dataset_open_folder");
    SSLI_CHECK_PTR(out, "sslk_dataset_open_folder");
    *out = NULL;
    return ssli_open_jpeg_folder(ctx, root, cache_path, out);
}
