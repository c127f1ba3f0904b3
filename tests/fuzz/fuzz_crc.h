/* Shared by the targets of CRC-closed formats (.sslk models, trainer
 * checkpoints): the input is the file without its trailing CRC32, which the
 * harness appends, so mutations reach the parser instead of all dying at the
 * checksum.  A leading 0xFF byte instead feeds the rest unchanged, which keeps
 * the checksum path itself fuzzed.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLK_FUZZ_CRC_H
#define SSLK_FUZZ_CRC_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* The bytes to parse, malloc'ed (NULL when out of memory); *n their count. */
static inline unsigned char *fuzz_with_crc(const uint8_t *data, size_t size, size_t *n) {
    if (size > 0 && data[0] == 0xFF) {
        unsigned char *b = malloc(size);
        if (b) memcpy(b, data + 1, size - 1);
        *n = size - 1;
        return b;
    }
    unsigned char *b = malloc(size + 4);
    if (!b) return NULL;
    if (size) memcpy(b, data, size);
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), data, (uInt)size);
    for (int i = 0; i < 4; i++) b[size + i] = (unsigned char)(crc >> (8 * i)); /* stored little-endian */
    *n = size + 4;
    return b;
}
#endif
