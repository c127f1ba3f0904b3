/* libsslkit — NPY files (numpy's .npy format, versions 1.0, 2.0 and 3.0).
 *
 * Reading is two-step so the caller owns every buffer: sslk_npy_open parses
 * and validates the header (dtype, shape, file length) without touching the
 * data; the caller sizes its buffer from sslk_npy_ndim/sslk_npy_dim and calls
 * sslk_npy_read, which converts to the element type the caller asks for.
 * Writing (sslk_npy_save) is atomic: a temporary file renamed into place.
 *
 * Accepted: C order, little-endian (or byte-sized) float32, float64, int32,
 * int64, uint8 and bool.  Fortran order and big-endian files are refused with
 * SSLK_E_UNSUPPORTED, other element types with SSLK_E_DTYPE, malformed or
 * truncated files with SSLK_E_FORMAT, shapes whose byte size overflows with
 * SSLK_E_OVERFLOW.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_NPY_H
#define SSLKIT_NPY_H

#include "sslkit/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Element types.  Values are frozen. */
typedef enum sslk_dtype {
    SSLK_DTYPE_F32 = 1,  /**< float32 ('<f4') */
    SSLK_DTYPE_F64 = 2,  /**< float64 ('<f8') */
    SSLK_DTYPE_I32 = 3,  /**< int32 ('<i4') */
    SSLK_DTYPE_I64 = 4,  /**< int64 ('<i8') */
    SSLK_DTYPE_U8 = 5,   /**< uint8 ('|u1') */
    SSLK_DTYPE_BOOL = 6  /**< bool ('|b1'), one byte 0 or 1 */
} sslk_dtype;

/** Largest number of axes accepted (numpy's own limit). */
#define SSLK_NPY_MAX_NDIM 32

/** An open NPY file whose header has been validated.  Threads: reads move
 *  the file position; one thread at a time per handle. */
typedef struct sslk_npy sslk_npy;

/** Open path and validate its header: magic, version (1.0-3.0), dtype, order,
 *  shape (each dimension and the total byte count checked for overflow) and
 *  that the file holds at least that many data bytes.  Nothing is allocated
 *  in proportion to the data. */
SSLK_API sslk_status sslk_npy_open(sslk_ctx *ctx, const char *path, sslk_npy **out);
/** Close an open file (NULL accepted). */
SSLK_API void sslk_npy_close(sslk_npy *f);
/** Element type stored in the file. */
SSLK_API sslk_dtype sslk_npy_dtype(const sslk_npy *f);
/** Number of axes (0 for a scalar array). */
SSLK_API size_t sslk_npy_ndim(const sslk_npy *f);
/** Length of an axis (0 when axis >= ndim). */
SSLK_API size_t sslk_npy_dim(const sslk_npy *f, size_t axis);
/** Total number of elements (product of the dimensions; 1 for a scalar). */
SSLK_API size_t sslk_npy_count(const sslk_npy *f);
/** Bytes per element of a dtype (0 for an unknown value). */
SSLK_API size_t sslk_dtype_size(sslk_dtype t);
/** Static name of a dtype in numpy's spelling ("float32", ...; "unknown"). */
SSLK_API const char *sslk_dtype_name(sslk_dtype t);

/** Read all count elements (count must equal sslk_npy_count) into buf,
 *  converting to `as`.  Conversions: any type to float32/float64; integer,
 *  uint8 and bool files to int32/int64/uint8 (values outside the target's
 *  range give SSLK_E_RANGE); to bool only from values that are 0 or 1.
 *  Float files to an integer type give SSLK_E_DTYPE.  May be called again
 *  (it re-reads from the start of the data). */
SSLK_API sslk_status sslk_npy_read(sslk_npy *f, sslk_dtype as, void *buf, size_t count);

/** Write an array of ndim axes (shape[ndim]) of element type dtype to path,
 *  atomically (temporary file, fsync, rename): the file at path is either the
 *  old one or the complete new one.  Writes format 1.0, or 2.0 when the header
 *  does not fit in 64 KiB.  bool data must hold 0 or 1 bytes. */
SSLK_API sslk_status sslk_npy_save(sslk_ctx *ctx, const char *path, sslk_dtype dtype,
                                   const void *data, size_t ndim, const size_t *shape);

#ifdef __cplusplus
}
#endif
#endif
