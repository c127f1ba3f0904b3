/* The list of every layer's settings table, for introspection.  Each layer
 * adds one extern declaration and one entry (keep the NULL terminator last).
 * SPDX-License-Identifier: BSD-3-Clause */
#include "core/internal.h"

/* extern declarations, one per layer */

const ssli_setting_table *const ssli_setting_tables[] = {
    /* entries, one per layer */
    NULL,
};
