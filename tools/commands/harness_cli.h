/* The evaluation harness without a training run: `sslkit embed --model` and
 * `sslkit eval --features` (cmd_embed.c, cmd_eval_features.c); cmd_train.c
 * hands over to them when those options are given.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_HARNESS_CLI_H
#define SSLKIT_HARNESS_CLI_H

int harness_embed_model(int argc, char **argv);
int harness_eval_features(int argc, char **argv);

#endif
