/* sslkit train / resume / eval / embed / main: pre-training and the
 * evaluation protocol from the command line.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness_cli.h"
#include "train_cli.h"

#define MAIN_METHOD "vicreg"
#define MAIN_EPOCHS 8

static const char *common_help =
    "  --data NAME|PATH   fashion-mnist (default; Debian dataset-fashion-mnist) or a dataset path\n"
    "  --threads N        threads (default: all processors; env SSLKIT_THREADS)\n"
    "  --dist mpi|none    data-parallel over MPI ranks (default: mpi under mpirun): the global\n"
    "                     batch is split across ranks; rank 0 writes checkpoints and reports;\n"
    "                     without --threads each rank takes its share of the node's processors\n"
    "  --epochs E --batch B --lr LR --seed S --warmup W --steps-per-epoch K --workers N\n"
    "  --image-size N     training crop side (images of any size: random resized crops; default 224\n"
    "                     for folders of mixed sizes, else the dataset's)\n"
    "  --recipe R         augmentations: auto (default), light, simclr, vicreg, byol, msn\n"
    "  --on-corrupt P     unreadable or corrupt images: fail (default, names the file) or skip\n"
    "  --set NAME=VALUE   any trainer setting (domain 'train') or loss setting of the method,\n"
    "                     e.g. subset=4096 (pre-train on a seeded subset; diet's default),\n"
    "                     aug_seed=S (augmentation draws apart from the order), temperature=0.2;\n"
    "                     choices also by name: optimizer=lars, prior=power_law; augmentation\n"
    "                     settings of every view (blur_p=0.3) or of view V (blur_p:1=0.1), applied\n"
    "                     after the trainer's (not stored in the run: repeat them on resume)\n";

static const char *const value_opts[] = {"--method", "--data", "--out", "--threads", "--encoder", "--projector",
                                         "--epochs", "--batch", "--lr", "--seed", "--steps-per-epoch", "--warmup",
                                         "--workers", "--set", "--split", "--image-size", "--recipe",
                                         "--on-corrupt", "--dist", NULL};

/* Library warnings (e.g. an image skipped under --on-corrupt skip, naming the
 * file) on stderr, on their own line. */
static void warn_line(void *user, sslk_log_level level, const char *msg) {
    (void)user;
    (void)level;
    fprintf(stderr, "\nsslkit: warning: %s\n", msg);
}

/* Context honouring --threads / SSLKIT_THREADS: 0, or 2 after a usage error,
 * or 1 without memory; *out is NULL unless 0. */
static int make_ctx(const char *cmd, int argc, char **argv, sslk_ctx **out) {
    int threads, rc = cli_opt_threads(argc, argv, cmd, &threads);
    *out = rc ? NULL : cli_ctx(threads);
    if (rc) return rc;
    if (!*out) return cli_fail(cmd, "context", SSLK_E_NOMEM);
    sslk_ctx_set_log(*out, warn_line, NULL, SSLK_LOG_WARN);
    if ((rc = tc_setup_dist(cmd, argc, argv, *out)) != 0) {
        sslk_ctx_destroy(*out);
        *out = NULL;
    }
    return rc;
}

static void protocol_line(char *buf, size_t cap, sslk_ctx *ctx, sslk_trainer *tr, const char *method) {
    double e = 0, b = 0, s = 0, lr = 0, sub = 0;
    uint64_t done = 0;
    if (tr) {
        sslk_trainer_get_f64(tr, SSLK_TRAIN_SUBSET, &sub);
        sslk_trainer_get_f64(tr, SSLK_TRAIN_EPOCHS, &e);
        sslk_trainer_get_f64(tr, SSLK_TRAIN_BATCH, &b);
        sslk_trainer_get_f64(tr, SSLK_TRAIN_SEED, &s);
        sslk_trainer_get_f64(tr, SSLK_TRAIN_LR, &lr);
        sslk_trainer_epochs_done(tr, &done);
    }
    char subs[64] = "";
    if (sub > 0) snprintf(subs, sizeof subs, " over a %.0f-image subset", sub);
    snprintf(buf, cap,
             "protocol: %s, %llu/%.0f epochs%s, batch %.0f, lr %.3g, seed %.0f, %d threads | kNN k=20 T=0.07 cosine "
             "exp-weights on encoder outputs | linear probe: standardised, L2 from {1e-6..1e-2} on a 10%% held-out "
             "split, L-BFGS | RankMe of the test features | worst-3: mean of the 3 lowest per-class probe accuracies",
             method, (unsigned long long)done, e, subs, b, lr, s, sslk_ctx_get_threads(ctx));
}

static int ensure_dir(const char *cmd, const char *dir) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "sslkit %s: cannot create '%s': %s\n", cmd, dir, strerror(errno));
        return 1;
    }
    return 0;
}

/* Train (or continue) tr, then evaluate it and write the outputs. */
static int run_and_report(const char *cmd, sslk_ctx *ctx, sslk_trainer *tr, tc_data *d, const char *dir,
                          const char *method, bool eval, bool fit) {
    if (fit) {
        sslk_status s = sslk_trainer_set_checkpoint_dir(tr, dir);
        if (s != SSLK_OK) return cli_fail(cmd, "checkpoint dir", s);
        if (tc_rank(ctx) == 0) tc_progress_attach(tr, method);
        s = sslk_trainer_fit(tr, 0);
        if (s != SSLK_OK) return cli_fail(cmd, "training", s);
    }
    if (tc_rank(ctx) != 0) return 0; /* the other ranks of an MPI job: rank 0 evaluates and writes */
    /* rank 0 evaluates alone: without the table, or kNN and RankMe would wait for the others */
    if (eval) sslk_ctx_set_dist(ctx, NULL);
    if (!eval) return fit ? tc_write_history(cmd, dir, tr) : 0;
    tc_result r;
    if (tc_evaluate_trainer(ctx, cmd, method, tr, d, &r)) return 1;
    char proto[1024];
    protocol_line(proto, sizeof proto, ctx, tr, method);
    tc_print_table(stdout, &r, 1, proto);
    return tc_write_outputs(cmd, dir, tr, &r, 1, proto);
}

int cmd_train(int argc, char **argv) {
    const char *cmd = "train";
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: sslkit train [--method M] [--data D] [--out DIR] [--encoder SPEC] [--projector SPEC]\n"
               "                    [--no-eval] [options]\n"
               "  Pre-train an encoder, checkpoint every epoch into DIR (default 'run'), then evaluate\n"
               "  (kNN, linear probe, RankMe, worst-3) and write report.json, history.csv and plots.\n"
               "  --method vicreg (default), vicreg_logdet, vicreg_pairdist, simclr, diet, msn, pmsn, supervised,\n"
               "           barlow_twins, byol, simsiam, moco_v2, moco_v3, dino, swav (experimental)\n%s",
               common_help);
        return 0;
    }
    const char *mname = cli_opt(argc, argv, "--method");
    if (!mname) mname = "vicreg";
    sslk_method m;
    if (sslk_method_from_name(mname, &m) != SSLK_OK) return cli_usage(cmd, "%s", sslk_last_error());
    const char *data = cli_opt(argc, argv, "--data");
    const char *dir = cli_opt(argc, argv, "--out");
    if (!data) data = "fashion-mnist";
    if (!dir) dir = "run";
    if (cli_positionals(argc, argv, value_opts, NULL, 0) > 0) return cli_usage(cmd, "unexpected argument");
    sslk_ctx *ctx;
    int rc = make_ctx(cmd, argc, argv, &ctx);
    if (rc) return rc;
    tc_data d;
    rc = tc_open_data(ctx, cmd, data, &d);
    sslk_trainer *tr = NULL;
    if (!rc) {
        sslk_status s = sslk_trainer_create(ctx, m, d.train, cli_opt(argc, argv, "--encoder"),
                                            cli_opt(argc, argv, "--projector"), &tr);
        rc = s == SSLK_OK ? tc_apply_options(cmd, tr, argc, argv) : cli_fail(cmd, "creating the trainer", s);
    }
    if (!rc) rc = ensure_dir(cmd, dir);
    if (!rc) rc = run_and_report(cmd, ctx, tr, &d, dir, mname, !cli_flag(argc, argv, "--no-eval"), true);
    if (ctx) tc_dist_fail(ctx, rc);
    sslk_trainer_destroy(tr);
    tc_close_data(&d);
    sslk_ctx_destroy(ctx);
    return rc;
}

static int load_run(const char *cmd, int argc, char **argv, sslk_ctx **ctxp, tc_data *d, sslk_trainer **trp,
                    const char **dirp, const char **mname) {
    char *pos[2];
    if (cli_positionals(argc, argv, value_opts, pos, 2) != 1) return cli_usage(cmd, "expects one run directory");
    *dirp = pos[0];
    const char *data = cli_opt(argc, argv, "--data");
    if (!data) data = "fashion-mnist";
    int rc = make_ctx(cmd, argc, argv, ctxp);
    if (rc) return rc;
    if (tc_open_data(*ctxp, cmd, data, d)) return 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoint.sslkt", pos[0]);
    sslk_status s = sslk_trainer_load(*ctxp, path, d->train, trp);
    if (s != SSLK_OK) return cli_fail(cmd, path, s);
    sslk_method m = SSLK_METHOD_VICREG;
    sslk_trainer_method(*trp, &m);
    *mname = sslk_method_name(m);
    return 0;
}

/* resume (train = true: apply options, continue, then evaluate unless --no-eval)
 * and eval (train = false) share everything but that. */
static int with_loaded_run(const char *cmd, int argc, char **argv, bool train) {
    sslk_ctx *ctx = NULL;
    tc_data d = {0};
    sslk_trainer *tr = NULL;
    const char *dir = NULL, *mname = NULL;
    int rc = load_run(cmd, argc, argv, &ctx, &d, &tr, &dir, &mname);
    if (!rc && train) rc = tc_apply_options(cmd, tr, argc, argv);
    bool evaluate = !train || !cli_flag(argc, argv, "--no-eval");
    if (!rc) rc = run_and_report(cmd, ctx, tr, &d, dir, mname, evaluate, train);
    if (ctx) tc_dist_fail(ctx, rc);
    sslk_trainer_destroy(tr);
    tc_close_data(&d);
    sslk_ctx_destroy(ctx);
    return rc;
}

int cmd_resume(int argc, char **argv) {
    const char *cmd = "resume";
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: sslkit resume DIR [--epochs E] [--data D] [--no-eval] [options]\n"
               "  Continue the run checkpointed in DIR (the same dataset) to the end of its schedule\n"
               "  (or to E epochs), then evaluate as 'sslkit train' does.\n%s", common_help);
        return 0;
    }
    return with_loaded_run(cmd, argc, argv, true);
}

int cmd_eval(int argc, char **argv) {
    const char *cmd = "eval";
    if (cli_opt(argc, argv, "--features")) return harness_eval_features(argc, argv);
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: sslkit eval DIR [--data D] [--threads N]   (or: sslkit eval --features ..., see --features x --help)\n"
               "  Evaluate the encoder checkpointed in DIR: kNN top-1/top-5, linear-probe top-1,\n"
               "  RankMe and worst-3 class accuracy; writes DIR/report.json and the plots.\n");
        return 0;
    }
    return with_loaded_run(cmd, argc, argv, false);
}

int cmd_embed(int argc, char **argv) {
    const char *cmd = "embed";
    if (cli_opt(argc, argv, "--model")) return harness_embed_model(argc, argv);
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: sslkit embed DIR --out FILE.npy [--split train|test] [--data D] [--threads N]\n"
               "   or: sslkit embed --model M ... (any model file; see --model x --help)\n"
               "  Encoder outputs (n x dim float32) of a dataset split, from the run in DIR;\n"
               "  labels go to FILE_labels.npy (int32).\n");
        return 0;
    }
    const char *out = cli_opt(argc, argv, "--out");
    if (!out) return cli_usage(cmd, "needs --out FILE.npy");
    const char *split = cli_opt(argc, argv, "--split");
    bool test = split && strcmp(split, "test") == 0;
    if (split && !test && strcmp(split, "train") != 0) return cli_usage(cmd, "--split is train or test");
    sslk_ctx *ctx = NULL;
    tc_data d = {0};
    sslk_trainer *tr = NULL;
    const char *dir = NULL, *mname = NULL;
    int rc = load_run(cmd, argc, argv, &ctx, &d, &tr, &dir, &mname);
    if (!rc) {
        size_t dim = 0, n = test ? d.ntest : d.ntrain;
        sslk_trainer_embed_dim(tr, &dim);
        float *z = malloc(n * dim * sizeof(float));
        int32_t *y = malloc(n * sizeof(int32_t));
        sslk_status s = z && y ? sslk_trainer_embed(tr, test ? d.test : d.train, z, n, dim, y) : SSLK_E_NOMEM;
        size_t shape[2] = {n, dim};
        if (s == SSLK_OK) s = sslk_npy_save(ctx, out, SSLK_DTYPE_F32, z, 2, shape);
        if (s == SSLK_OK) {
            char lp[4096];
            size_t l = strlen(out);
            snprintf(lp, sizeof lp, "%.*s_labels.npy", (int)(l > 4 && strcmp(out + l - 4, ".npy") == 0 ? l - 4 : l), out);
            s = sslk_npy_save(ctx, lp, SSLK_DTYPE_I32, y, 1, shape);
            if (s == SSLK_OK) printf("%s: %zu x %zu float32; %s: labels\n", out, n, dim, lp);
        }
        if (s != SSLK_OK) rc = cli_fail(cmd, out, s);
        free(z);
        free(y);
    }
    sslk_trainer_destroy(tr);
    tc_close_data(&d);
    sslk_ctx_destroy(ctx);
    return rc;
}

/* The README's main job: a default pre-training on Fashion-MNIST and one
 * table next to two baselines evaluated the same way. */
int cmd_main(int argc, char **argv) {
    const char *cmd = "main";
    if (cli_flag(argc, argv, "--help")) {
        printf("usage: sslkit main [--method M] [--data D] [--out DIR] [options]\n"
               "  Pre-train the default encoder with " MAIN_METHOD " (%d epochs; --method diet: its preset, 60\n"
               "  epochs over a 4096-image subset) on Fashion-MNIST, then print\n"
               "  kNN top-1, linear-probe top-1, RankMe and worst-3 class accuracy next to two baselines\n"
               "  computed the same way (raw pixels; the same encoder at random init).  Writes\n"
               "  report.json, history.csv and plots (loss, RankMe, per-class bars) into DIR\n"
               "  (default 'sslkit-main').\n%s", MAIN_EPOCHS, common_help);
        return 0;
    }
    const char *mname = cli_opt(argc, argv, "--method");
    if (!mname) mname = MAIN_METHOD;
    sslk_method m;
    if (sslk_method_from_name(mname, &m) != SSLK_OK) return cli_usage(cmd, "%s", sslk_last_error());
    const char *data = cli_opt(argc, argv, "--data");
    const char *dir = cli_opt(argc, argv, "--out");
    if (!data) data = "fashion-mnist";
    if (!dir) dir = "sslkit-main";
    sslk_ctx *ctx;
    int rc = make_ctx(cmd, argc, argv, &ctx);
    if (rc) return rc;
    tc_data d;
    rc = tc_open_data(ctx, cmd, data, &d);
    sslk_trainer *tr = NULL, *rnd = NULL;
    tc_result rows[3];
    if (!rc) {
        sslk_status s = sslk_trainer_create(ctx, m, d.train, cli_opt(argc, argv, "--encoder"),
                                            cli_opt(argc, argv, "--projector"), &tr);
        /* DIET's preset budget is counted over its subset: keep it */
        if (s == SSLK_OK && m != SSLK_METHOD_DIET) s = sslk_trainer_set_i64(tr, SSLK_TRAIN_EPOCHS, MAIN_EPOCHS);
        rc = s == SSLK_OK ? tc_apply_options(cmd, tr, argc, argv) : cli_fail(cmd, "creating the trainer", s);
    }
    if (!rc) rc = ensure_dir(cmd, dir);
    if (!rc) {
        fprintf(stderr, "sslkit main: pre-training %s on %s (%zu images), checkpoints in %s/\n", mname, data, d.ntrain,
                dir);
        rc = run_and_report(cmd, ctx, tr, &d, dir, mname, false, true);
    }
    if (!rc) {
        fprintf(stderr, "sslkit main: evaluating (kNN, linear probe, RankMe) the method and two baselines\n");
        rc = tc_evaluate_trainer(ctx, cmd, mname, tr, &d, &rows[0]);
    }
    if (!rc) rc = tc_evaluate_pixels(ctx, cmd, &d, &rows[1]);
    if (!rc) {
        sslk_status s = sslk_trainer_create(ctx, m, d.train, cli_opt(argc, argv, "--encoder"),
                                            cli_opt(argc, argv, "--projector"), &rnd);
        rc = s == SSLK_OK ? tc_evaluate_trainer(ctx, cmd, "same encoder, random init", rnd, &d, &rows[2])
                          : cli_fail(cmd, "random-init encoder", s);
    }
    if (!rc) {
        char proto[1024];
        protocol_line(proto, sizeof proto, ctx, tr, mname);
        tc_print_table(stdout, rows, 3, proto);
        rc = tc_write_outputs(cmd, dir, tr, rows, 3, proto);
        if (!rc) printf("plots and report: %s/{loss,rankme,per_class}.{png,svg}, %s/report.json\n", dir, dir);
    }
    sslk_trainer_destroy(rnd);
    sslk_trainer_destroy(tr);
    tc_close_data(&d);
    sslk_ctx_destroy(ctx);
    return rc;
}
