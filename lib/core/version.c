/* Run-time version queries.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "internal.h"

unsigned sslk_version_number(void) { return SSLK_VERSION_NUMBER; }
const char *sslk_version_string(void) { return SSLK_VERSION_STRING; }
