/* The size of every public struct in libsslkit 1.0: the smallest struct_size a
 * caller may pass (lib/core/struct_abi.c).  All are unchanged since 1.0 (the
 * abidiff test against tests/abi/libsslkit.abi proves it).  When a release
 * appends a field, the entry becomes offsetof(T, first_new_field), never the
 * new sizeof, so programs built against older headers keep working.  A new
 * field must start at or after the old sizeof (never in the old tail padding,
 * which an old caller's struct_size covers with undefined bytes).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_CORE_STRUCT_SIZES_H
#define SSLKIT_CORE_STRUCT_SIZES_H

#include <stddef.h>

#include "sslkit/sslkit.h"

#define SSLI_V10_ALLOCATOR sizeof(sslk_allocator)
#define SSLI_V10_LOADER_STATS sizeof(sslk_loader_stats)
#define SSLI_V10_PARTITION_STATS sizeof(sslk_partition_stats)
#define SSLI_V10_LOSS_BATCH sizeof(sslk_loss_batch)
#define SSLI_V10_ACCURACY_SUMMARY sizeof(sslk_accuracy_summary)
#define SSLI_V10_PARAM_VIEW sizeof(sslk_param_view)
#define SSLI_V10_POLICE_REPORT sizeof(sslk_police_report)
#define SSLI_V10_TRAIN_PROGRESS sizeof(sslk_train_progress)

#endif
