/* sslkit: command-line front end to libsslkit.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "cli.h"

static const cli_command commands[] = {
    {"version", "print the library version", cmd_version},
    /* more commands are registered here, one line each */
    /* @metric */
    {"demo", "metrics demo on Fashion-MNIST (RankMe, nearest-class-mean accuracy table)", cmd_demo},
    {"rankme", "RankMe, covariance variant and alpha-ReQ of an embedding matrix (NPY)", cmd_rankme},
    {"accuracy", "per-class, per-group and worst-k accuracy from logits or predictions", cmd_accuracy},
    {"ensemble", "ensemble accuracy and the ensemble-size curve (FAIR-Ensemble)", cmd_ensemble},
    {"factors", "per-factor accuracy and error ratios (ImageNet-X)", cmd_factors},
    /* @loss */
    /* @nn */
    {"model", "inspect, create and convert model files (native .sslk, safetensors)", cmd_model},
    /* @data */
    {"data", "describe a dataset, preview augmentations (PNG grid)", cmd_data},
    /* @train */
    {"main", "the main job: pre-train on Fashion-MNIST, print the evaluation table vs baselines", cmd_main},
    {"train", "pre-train an encoder (vicreg, simclr, diet, msn, ...) with checkpoints and evaluation", cmd_train},
    {"resume", "continue a checkpointed training run", cmd_resume},
    {"eval", "evaluate a run: kNN, linear probe, RankMe, worst-3 class accuracy, plots", cmd_eval},
    {"embed", "encoder outputs of a dataset split as NPY", cmd_embed},
    {"train-ensemble", "FAIR-Ensemble: train M supervised members, print the ensemble-size curve", cmd_train_ensemble},
    /* @geometry */
    {"splinecam", "exact linear regions and decision boundary of a model on a 2-D slice", cmd_splinecam},
    /* spectral */
    {"spectral", "Laplacian eigenmaps, diffusion maps, Galerkin eigenfunctions of features (NPY)", cmd_spectral},
    /* police */
    {"police", "constrain a 2-D model to be affine on a convex region, train, verify, picture", cmd_police},
    /* theory (issue 18) */
    {"lidar", "LiDAR (several views per sample) and collapse monitors of embeddings (NPY)", cmd_lidar},
};
static const size_t ncommands = sizeof commands / sizeof commands[0];

static void usage(FILE *f) {
    fprintf(f, "usage: sslkit <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < ncommands; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nCommon options: --threads N (default: all processors; env SSLKIT_THREADS).\n"
               "Run 'sslkit help <command>' for a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        if (argc >= 3) {
            for (size_t i = 0; i < ncommands; i++)
                if (strcmp(commands[i].name, argv[2]) == 0) {
                    char *hargv[] = {argv[2], "--help", NULL};
                    return commands[i].run(2, hargv);
                }
        }
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0) return cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < ncommands; i++)
        if (strcmp(commands[i].name, name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "sslkit: unknown command '%s'\n\n", name);
    usage(stderr);
    return 2;
}
