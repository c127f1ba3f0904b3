/* Shared helpers of the training commands.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "train_cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Class names the dataset knows (all of them, or none). */
static void class_names_of(const sslk_dataset *ds, tc_result *r) {
    memset(r->class_names, 0, sizeof r->class_names);
    for (size_t c = 0; c < r->nclasses; c++)
        if (sslk_dataset_class_name(ds, c, &r->class_names[c]) != SSLK_OK) {
            memset(r->class_names, 0, sizeof r->class_names);
            return;
        }
}

int tc_open_data(sslk_ctx *ctx, const char *cmd, const char *name, tc_data *d) {
    memset(d, 0, sizeof *d);
    sslk_status s = sslk_dataset_open(ctx, name, SSLK_SPLIT_TRAIN, &d->train);
    if (s != SSLK_OK) return cli_fail(cmd, "opening the training split", s);
    s = sslk_dataset_open(ctx, name, SSLK_SPLIT_TEST, &d->test);
    if (s != SSLK_OK) {
        tc_close_data(d);
        return cli_fail(cmd, "opening the test split", s);
    }
    sslk_dataset_count(d->train, &d->ntrain);
    sslk_dataset_count(d->test, &d->ntest);
    sslk_dataset_num_classes(d->train, &d->nclasses);
    size_t kt = 0;
    sslk_dataset_num_classes(d->test, &kt);
    if (kt > d->nclasses) d->nclasses = kt;
    if (d->nclasses < 2 || d->nclasses > 256) {
        fprintf(stderr, "sslkit %s: '%s' has %zu classes; evaluation needs labels (2..256 classes)\n", cmd, name,
                d->nclasses);
        tc_close_data(d);
        return 1;
    }
    return 0;
}

void tc_close_data(tc_data *d) {
    sslk_dataset_destroy(d->train);
    sslk_dataset_destroy(d->test);
    d->train = d->test = NULL;
}

/* Integer bounds of a setting as int64 (the table keeps them as doubles). */
static int64_t bound_i64(double x) {
    if (x <= -9.2e18) return INT64_MIN;
    if (x >= 9.2e18) return INT64_MAX;
    return (int64_t)x;
}

/* An augmentation setting named on the command line: "NAME" (every view) or
 * "NAME:V" (view V), e.g. blur_p:1=0.1.  Returns the view (-1 all) or -2. */
static int aug_target(const char *name, int *key) {
    char base[64];
    snprintf(base, sizeof base, "%s", name);
    char *colon = strchr(base, ':');
    int view = -1;
    if (colon) {
        char *end = NULL;
        long v = strtol(colon + 1, &end, 10);
        if (!*(colon + 1) || *end || v < 0 || v > 63) return -2;
        view = (int)v;
        *colon = 0;
    }
    int tk;
    if (sslk_setting_find("train", base, &tk) == SSLK_OK) return -2;
    return sslk_setting_find("augment", base, key) == SSLK_OK ? view : -2;
}

/* Set an augmentation setting on the trainer's recipe (sslk_trainer_augment). */
static int set_aug(const char *cmd, sslk_trainer *tr, const char *opt, const char *name, const char *text) {
    int key = 0, view = aug_target(name, &key);
    sslk_setting_type type = SSLK_SETTING_F64;
    double lo = -HUGE_VAL, hi = HUGE_VAL, v = 0;
    sslk_setting_info(key, NULL, NULL, &type, &lo, &hi, NULL);
    int64_t iv = 0;
    int rc = type == SSLK_SETTING_I64 ? cli_parse_i64(cmd, opt, text, bound_i64(lo), bound_i64(hi), &iv)
                                      : cli_parse_f64(cmd, opt, text, lo, hi, &v);
    if (rc) return rc;
    if (type == SSLK_SETTING_I64) v = (double)iv;
    sslk_augment *aug = NULL;
    sslk_status s = sslk_trainer_augment(tr, &aug);
    if (s == SSLK_OK) s = sslk_augment_set_f64(aug, view, key, v);
    return s == SSLK_OK ? 0 : cli_fail(cmd, name, s);
}

/* Find name among the trainer's and its loss's settings, parse text strictly
 * within that setting's bounds (the message names opt and the range), set it. */
static int set_one(const char *cmd, sslk_trainer *tr, const char *opt, const char *name, const char *text) {
    int key;
    sslk_loss *loss = NULL;
    if (sslk_setting_find("train", name, &key) != SSLK_OK) {
        const char *dom = NULL;
        sslk_loss_kind kind;
        sslk_trainer_loss(tr, &loss);
        if (loss && sslk_loss_get_kind(loss, &kind) == SSLK_OK) sslk_loss_kind_domain(kind, &dom);
        if (!loss || !((dom && sslk_setting_find(dom, name, &key) == SSLK_OK) ||
                       sslk_setting_find("loss", name, &key) == SSLK_OK))
            return cli_usage(cmd, "--set %s: no such trainer, loss or augmentation setting (see docs/training.md)",
                             name);
    }
    sslk_setting_type type = SSLK_SETTING_F64;
    double lo = -HUGE_VAL, hi = HUGE_VAL, v = 0;
    sslk_setting_info(key, NULL, NULL, &type, &lo, &hi, NULL);
    int rc;
    const char *first = NULL;
    if (type == SSLK_SETTING_I64 && sslk_setting_choice(key, bound_i64(lo), &first) == SSLK_OK &&
        ((*text >= 'a' && *text <= 'z') || (*text >= 'A' && *text <= 'Z'))) {
        /* a choice-valued setting also takes the names of its values (from the library) */
        int64_t iv = 0;
        if (sslk_setting_choice_find(key, text, &iv) != SSLK_OK) {
            char names[256] = "";
            size_t used = 0;
            for (int64_t c = bound_i64(lo); c <= bound_i64(hi) && used < sizeof names; c++) {
                const char *nm = NULL;
                sslk_setting_choice(key, c, &nm);
                int w = snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", nm);
                if (w < 0) break;
                used += (size_t)w;
            }
            return cli_usage(cmd, "%s: '%s' is not one of %s (or their numbers)", opt, text, names);
        }
        v = (double)iv;
        rc = 0;
    } else if (type == SSLK_SETTING_I64) {
        int64_t iv = 0;
        rc = cli_parse_i64(cmd, opt, text, bound_i64(lo), bound_i64(hi), &iv);
        v = (double)iv;
    } else {
        rc = cli_parse_f64(cmd, opt, text, lo, hi, &v);
    }
    if (rc) return rc;
    sslk_status s = loss ? sslk_loss_set_f64(loss, key, v) : sslk_trainer_set_f64(tr, key, v);
    return s == SSLK_OK ? 0 : cli_fail(cmd, name, s);
}

int tc_apply_options(const char *cmd, sslk_trainer *tr, int argc, char **argv) {
    static const struct { const char *opt, *name; } shortcuts[] = {
        {"--epochs", "epochs"}, {"--batch", "batch"}, {"--lr", "lr"}, {"--seed", "seed"},
        {"--steps-per-epoch", "steps_per_epoch"}, {"--warmup", "warmup_epochs"}, {"--workers", "workers"},
        {"--image-size", "image_size"}, {"--recipe", "recipe"}, {"--on-corrupt", "on_corrupt"},
    };
    for (size_t i = 0; i < sizeof shortcuts / sizeof shortcuts[0]; i++) {
        const char *v = cli_opt(argc, argv, shortcuts[i].opt);
        if (!v) {
            if (cli_flag(argc, argv, shortcuts[i].opt)) return cli_usage(cmd, "%s needs a value", shortcuts[i].opt);
            continue;
        }
        int rc = set_one(cmd, tr, shortcuts[i].opt, shortcuts[i].name, v);
        if (rc) return rc;
    }
    /* two passes: augmentation settings last, on the recipe the trainer
     * settings leave (a trainer setting rebuilds the recipe) */
    for (int pass = 0; pass < 2; pass++)
    for (int i = 1; i < argc; i++) {
        const char *kv = NULL;
        if (strcmp(argv[i], "--set") == 0) {
            if (i + 1 >= argc) return cli_usage(cmd, "--set needs name=value");
            kv = argv[++i];
        } else if (strncmp(argv[i], "--set=", 6) == 0) {
            kv = argv[i] + 6;
        }
        if (!kv) continue;
        const char *eq = strchr(kv, '=');
        if (!eq || eq == kv || eq - kv >= 64) return cli_usage(cmd, "--set expects name=value, got '%s'", kv);
        char name[64], opt[80];
        memcpy(name, kv, (size_t)(eq - kv));
        name[eq - kv] = 0;
        snprintf(opt, sizeof opt, "--set %s", name);
        int akey = 0;
        bool aug = aug_target(name, &akey) != -2;
        if (aug != (pass == 1)) continue;
        int rc = aug ? set_aug(cmd, tr, opt, name, eq + 1) : set_one(cmd, tr, opt, name, eq + 1);
        if (rc) return rc;
    }
    return 0;
}

/* ---- progress -------------------------------------------------------------- */
typedef struct progress {
    char label[64];
    bool tty;
    double t0;
    uint64_t epochs, first_step;
    bool started;
} progress;
static progress g_prog;

static void fmt_eta(char *buf, size_t cap, double s) {
    if (!(s >= 0) || s > 1e7) snprintf(buf, cap, "--");
    else if (s >= 3600) snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

static int on_step(void *user, const sslk_train_progress *p) {
    progress *g = user;
    if (!g->started) {
        g->started = true;
        g->t0 = now_s();
        g->first_step = p->global_step - 1;
    }
    if (!g->tty) return 0;
    uint64_t total = g->epochs * p->steps_per_epoch, done = p->global_step;
    double el = now_s() - g->t0, rate = (double)(done - g->first_step) / (el > 1e-9 ? el : 1e-9);
    char eta[32];
    fmt_eta(eta, sizeof eta, rate > 0 ? (double)(total - done) / rate : -1);
    int width = 24, fill = (int)((double)(p->step + 1) / (double)p->steps_per_epoch * width);
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\r%s epoch %llu/%llu [%s] loss %.4g  lr %.2e  %.0f img/s  ETA %s   ", g->label,
            (unsigned long long)p->epoch + 1, (unsigned long long)g->epochs, bar, p->loss, p->lr, p->images_per_s,
            eta);
    fflush(stderr);
    return 0;
}

static int on_epoch(void *user, const sslk_train_progress *p) {
    progress *g = user;
    FILE *f = stderr;
    if (g->tty) fputc('\r', f);
    fprintf(f, "%s epoch %llu/%llu loss %.4f", g->label, (unsigned long long)p->epoch + 1,
            (unsigned long long)g->epochs, p->loss);
    if (p->num_terms > 1) {
        fputs(" (", f);
        for (size_t i = 0; i < p->num_terms; i++)
            fprintf(f, "%s%s %.4g", i ? ", " : "", p->term_names[i] ? p->term_names[i] : "?", p->terms[i]);
        fputc(')', f);
    }
    fprintf(f, " lr %.2e rankme %.1f std %.4f %.0f img/s %.1fs          \n", p->lr, p->rankme, p->embed_std,
            p->images_per_s, p->seconds);
    fflush(f);
    return 0;
}

void tc_progress_attach(sslk_trainer *tr, const char *label) {
    memset(&g_prog, 0, sizeof g_prog);
    snprintf(g_prog.label, sizeof g_prog.label, "%s", label);
    g_prog.tty = isatty(fileno(stderr));
    double e = 0;
    sslk_trainer_get_f64(tr, SSLK_TRAIN_EPOCHS, &e);
    g_prog.epochs = (uint64_t)e;
    sslk_trainer_set_callbacks(tr, on_step, on_epoch, &g_prog);
}

/* ---- evaluation ---------------------------------------------------------------- */
int tc_evaluate(sslk_ctx *ctx, const char *cmd, const char *name, const float *trz, const int32_t *try_, size_t n,
                const float *tez, const int32_t *tey, size_t m, size_t d, size_t nc, tc_result *r) {
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->dim = d;
    r->nclasses = nc;
    double t0 = now_s();
    sslk_knn *knn = NULL;
    sslk_status s = sslk_knn_create(ctx, &knn);
    if (s == SSLK_OK) s = sslk_knn_fit(knn, trz, try_, n, d, nc);
    if (s == SSLK_OK) s = sslk_knn_evaluate(knn, tez, tey, m, d, &r->knn_top1, &r->knn_top5);
    sslk_knn_destroy(knn);
    if (s != SSLK_OK) return cli_fail(cmd, "kNN evaluation", s);
    sslk_probe *pr = NULL;
    int32_t *pred = malloc(m * sizeof *pred);
    if (!pred) return cli_fail(cmd, "evaluation", SSLK_E_NOMEM);
    s = sslk_probe_create(ctx, &pr);
    if (s == SSLK_OK) s = sslk_probe_fit(pr, trz, try_, n, d, nc);
    if (s == SSLK_OK) s = sslk_probe_predict(pr, tez, m, d, pred, NULL);
    if (s == SSLK_OK) s = sslk_probe_chosen_l2(pr, &r->probe_l2);
    sslk_probe_destroy(pr);
    if (s != SSLK_OK) {
        free(pred);
        return cli_fail(cmd, "linear probe", s);
    }
    sslk_accuracy_summary sum = {.struct_size = sizeof sum};
    s = sslk_accuracy_report(ctx, pred, tey, m, nc, NULL, 0, nc < 3 ? nc : 3, NULL, NULL, &sum, r->class_acc, NULL, NULL, NULL,
                             NULL, NULL);
    free(pred);
    if (s != SSLK_OK) return cli_fail(cmd, "accuracy report", s);
    r->probe_top1 = sum.accuracy;
    r->worst3 = sum.worst_k;
    r->balanced = sum.balanced_accuracy;
    s = sslk_rankme(ctx, tez, m, d, &r->rankme);
    if (s != SSLK_OK) r->rankme = NAN;
    r->seconds = now_s() - t0;
    return 0;
}

int tc_evaluate_trainer(sslk_ctx *ctx, const char *cmd, const char *name, sslk_trainer *tr, const tc_data *d,
                        tc_result *r) {
    size_t dim = 0;
    sslk_trainer_embed_dim(tr, &dim);
    float *a = malloc(d->ntrain * dim * sizeof(float)), *b = malloc(d->ntest * dim * sizeof(float));
    int32_t *ya = malloc(d->ntrain * sizeof(int32_t)), *yb = malloc(d->ntest * sizeof(int32_t));
    int rc = 1;
    if (a && b && ya && yb) {
        sslk_status s = sslk_trainer_embed(tr, d->train, a, d->ntrain, dim, ya);
        if (s == SSLK_OK) s = sslk_trainer_embed(tr, d->test, b, d->ntest, dim, yb);
        rc = s == SSLK_OK ? tc_evaluate(ctx, cmd, name, a, ya, d->ntrain, b, yb, d->ntest, dim, d->nclasses, r)
                          : cli_fail(cmd, "embedding", s);
        if (!rc) class_names_of(d->test, r);
    } else {
        rc = cli_fail(cmd, "embedding", SSLK_E_NOMEM);
    }
    free(a);
    free(b);
    free(ya);
    free(yb);
    return rc;
}

static int pixels(const sslk_dataset *ds, size_t n, float **out, int32_t **lab, size_t *dim) {
    size_t h, w, c;
    if (sslk_dataset_shape(ds, &h, &w, &c) != SSLK_OK || !h) return 1;
    size_t d = h * w * c;
    float *x = malloc(n * d * sizeof(float));
    int32_t *y = malloc(n * sizeof(int32_t));
    uint8_t *img = malloc(d);
    if (!x || !y || !img) {
        free(x);
        free(y);
        free(img);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        size_t hh, ww, cc;
        if (sslk_dataset_read(ds, i, img, d, &hh, &ww, &cc) != SSLK_OK || sslk_dataset_label(ds, i, &y[i]) != SSLK_OK) {
            free(x);
            free(y);
            free(img);
            return 1;
        }
        for (size_t j = 0; j < d; j++) x[i * d + j] = img[j] / 255.0f;
    }
    free(img);
    *out = x;
    *lab = y;
    *dim = d;
    return 0;
}

int tc_evaluate_pixels(sslk_ctx *ctx, const char *cmd, const tc_data *d, tc_result *r) {
    float *a = NULL, *b = NULL;
    int32_t *ya = NULL, *yb = NULL;
    size_t da = 0, db = 0;
    int rc;
    if (pixels(d->train, d->ntrain, &a, &ya, &da) || pixels(d->test, d->ntest, &b, &yb, &db) || da != db)
        rc = cli_fail(cmd, "reading raw pixels", SSLK_E_IO);
    else
        rc = tc_evaluate(ctx, cmd, "raw pixels", a, ya, d->ntrain, b, yb, d->ntest, da, d->nclasses, r);
    if (!rc) class_names_of(d->test, r);
    free(a);
    free(b);
    free(ya);
    free(yb);
    return rc;
}

void tc_print_table(FILE *f, const tc_result *rows, size_t n, const char *protocol) {
    fprintf(f, "%s\n", protocol);
    fprintf(f, "%-26s %6s %10s %10s %12s %8s %8s\n", "method", "dim", "kNN top-1", "kNN top-5", "linear top-1",
            "RankMe", "worst-3");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%-26s %6zu %9.2f%% %9.2f%% %11.2f%% %8.1f %7.2f%%\n", rows[i].name, rows[i].dim,
                100 * rows[i].knn_top1, 100 * rows[i].knn_top5, 100 * rows[i].probe_top1, rows[i].rankme,
                100 * rows[i].worst3);
}

static int io_fail(const char *cmd, const char *path) {
    fprintf(stderr, "sslkit %s: cannot write '%s': %s\n", cmd, path, strerror(errno));
    return 1;
}

int tc_write_report(const char *cmd, const char *dir, const tc_result *rows, size_t n, const char *protocol) {
    char path[4096];
    snprintf(path, sizeof path, "%s/report.json", dir);
    cli_atomic out;
    FILE *f = cli_atomic_open(&out, path);
    if (!f) return io_fail(cmd, path);
    fputs("{\n  \"protocol\": ", f);
    cli_json_str(f, protocol);
    fputs(",\n  \"results\": [\n", f);
    for (size_t i = 0; i < n; i++) {
        const tc_result *r = &rows[i];
        fputs("    {\"name\": ", f);
        cli_json_str(f, r->name);
        fprintf(f, ", \"dim\": %zu", r->dim);
        const struct {
            const char *key;
            double v;
        } fields[] = {{"knn_top1", r->knn_top1}, {"knn_top5", r->knn_top5},        {"linear_top1", r->probe_top1},
                      {"linear_l2", r->probe_l2}, {"balanced_accuracy", r->balanced}, {"rankme", r->rankme},
                      {"worst3", r->worst3}};
        for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
            fprintf(f, ", \"%s\": ", fields[k].key);
            cli_json_num(f, fields[k].v);
        }
        fputs(", \"class_accuracy\": [", f);
        for (size_t c = 0; c < r->nclasses; c++) {
            if (c) fputs(", ", f);
            cli_json_num(f, r->class_acc[c]);
        }
        fprintf(f, "]}%s\n", i + 1 < n ? "," : "");
    }
    fputs("  ]\n}\n", f);
    if (cli_atomic_commit(&out, path, true) != 0) return io_fail(cmd, path);

    const char *const *cn = n && rows[0].class_names[0] ? rows[0].class_names : NULL;
    for (int fmt = 0; fmt < 2 && n; fmt++) {
        char title[160];
        snprintf(title, sizeof title, "per-class linear-probe accuracy: %s", rows[0].name);
        snprintf(path, sizeof path, "%s/per_class.%s", dir, fmt ? "svg" : "png");
        sslk_status s = sslk_plot_bars(path, title, "accuracy", rows[0].class_acc, cn, rows[0].nclasses);
        if (s != SSLK_OK) return cli_fail(cmd, path, s);
    }
    return 0;
}

int tc_write_history(const char *cmd, const char *dir, sslk_trainer *tr) {
    char path[4096];
    if (!tr) return 0;
    uint64_t ne = 0;
    sslk_trainer_epochs_done(tr, &ne);
    if (ne == 0) return 0;
    size_t nt = 0;
    sslk_train_progress h0 = {.struct_size = sizeof h0};
    sslk_trainer_history(tr, 0, &h0);
    nt = h0.num_terms;
    size_t ns = 1 + (nt > 1 ? nt : 0);
    double *y = calloc(ns * ne + 2 * ne, sizeof(double)), *rk = y + ns * ne, *sd = rk + ne;
    if (!y) return cli_fail(cmd, "plots", SSLK_E_NOMEM);
    const char *names[9] = {"loss"};
    snprintf(path, sizeof path, "%s/history.csv", dir);
    cli_atomic out;
    FILE *f = cli_atomic_open(&out, path);
    if (!f) {
        free(y);
        return io_fail(cmd, path);
    }
    {
        fputs("epoch,loss", f);
        for (size_t t = 0; t < nt; t++) fprintf(f, ",%s", h0.term_names[t] ? h0.term_names[t] : "term");
        fputs(",lr,rankme,embed_std,images_per_s,seconds\n", f);
    }
    bool positive = true;
    for (uint64_t e = 0; e < ne; e++) {
        sslk_train_progress h = {.struct_size = sizeof h};
        sslk_trainer_history(tr, e, &h);
        y[e] = h.loss;
        positive = positive && h.loss > 0;
        for (size_t t = 0; t < nt && ns > 1; t++) {
            y[(t + 1) * ne + e] = h.terms[t];
            names[t + 1] = h.term_names[t];
            positive = positive && h.terms[t] > 0;
        }
        rk[e] = h.rankme;
        sd[e] = h.embed_std;
        {
            fprintf(f, "%llu,%.8g", (unsigned long long)e + 1, h.loss);
            for (size_t t = 0; t < nt; t++) fprintf(f, ",%.8g", h.terms[t]);
            fprintf(f, ",%.6g,%.6g,%.6g,%.1f,%.2f\n", h.lr, h.rankme, h.embed_std, h.images_per_s, h.seconds);
        }
    }
    if (cli_atomic_commit(&out, path, true) != 0) {
        free(y);
        return io_fail(cmd, path);
    }
    int rc = 0;
    for (int fmt = 0; fmt < 2 && !rc; fmt++) {
        const char *ext = fmt ? "svg" : "png";
        snprintf(path, sizeof path, "%s/loss.%s", dir, ext);
        sslk_status s = sslk_plot_curves(path, "training loss and its components (epoch means)", "epoch",
                                         positive ? "value (log scale)" : "value", NULL, y, ns, ne, names,
                                         positive ? SSLK_PLOT_LOG_Y : 0);
        if (s == SSLK_OK) {
            snprintf(path, sizeof path, "%s/rankme.%s", dir, ext);
            const char *rn[1] = {"RankMe (last batch of the epoch)"};
            s = sslk_plot_curves(path, "collapse monitor: RankMe of encoder outputs", "epoch", "RankMe", NULL, rk, 1,
                                 ne, rn, 0);
        }
        if (s != SSLK_OK) rc = cli_fail(cmd, path, s);
    }
    free(y);
    return rc;
}

int tc_write_outputs(const char *cmd, const char *dir, sslk_trainer *tr, const tc_result *rows, size_t n,
                     const char *protocol) {
    int rc = tc_write_report(cmd, dir, rows, n, protocol);
    return rc ? rc : tc_write_history(cmd, dir, tr);
}

/* ---- data-parallel runs (issue 17): `mpirun -np P sslkit train ...` ------ */

int tc_setup_dist(const char *cmd, int argc, char **argv, sslk_ctx *ctx) {
    const char *mode = cli_opt(argc, argv, "--dist");
    if (mode && strcmp(mode, "mpi") && strcmp(mode, "none"))
        return cli_usage(cmd, "--dist takes mpi or none");
    bool mpi = mode ? !strcmp(mode, "mpi") : sslk_dist_mpi_launched() != 0;
    if (!mpi) return 0;
    sslk_dist t = {.struct_size = sizeof t};
    sslk_status s = sslk_dist_mpi_init(0, &t);
    if (s == SSLK_OK) s = sslk_ctx_set_dist(ctx, &t);
    if (s != SSLK_OK) return cli_fail(cmd, "starting MPI (--dist mpi)", s);
    atexit(sslk_dist_mpi_finalize);
    /* no --threads / SSLKIT_THREADS: share this node's processors among its ranks */
    const char *env = getenv("SSLKIT_THREADS"), *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    long nproc = sysconf(_SC_NPROCESSORS_ONLN), nl = local ? strtol(local, NULL, 10) : 0;
    if (!cli_opt(argc, argv, "--threads") && !(env && *env) && nl > 0 && nproc > 0)
        sslk_ctx_set_threads(ctx, nproc / nl > 1 ? (int)(nproc / nl) : 1);
    if (t.rank == 0 && t.world_size > 1)
        fprintf(stderr, "%s: data-parallel over %d MPI ranks (global batch split across them; rank 0 reports and "
                        "writes)\n", cmd, t.world_size);
    return 0;
}

int tc_rank(const sslk_ctx *ctx) {
    sslk_dist t = {.struct_size = sizeof t};
    return sslk_ctx_get_dist(ctx, &t) == SSLK_OK ? t.rank : 0;
}

void tc_dist_fail(const sslk_ctx *ctx, int rc) {
    sslk_dist t = {.struct_size = sizeof t};
    if (rc && ctx && sslk_ctx_get_dist(ctx, &t) == SSLK_OK && t.world_size > 1) {
        fflush(NULL);
        sslk_dist_mpi_abort(rc);
    }
}
