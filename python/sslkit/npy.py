"""NPY files through libsslkit: load_npy / save_npy.

The library validates the header (versions 1.0-3.0, C order, little-endian,
float32/float64/int32/int64/uint8/bool) and writes atomically; the result is
an ordinary numpy array.
"""
import ctypes
import os

import numpy as np

from ._lib import c_size_p, ctx_handle, declare, lib

_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.int64, 5: np.uint8, 6: np.bool_}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}

declare("sslk_npy_open", [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)])
declare("sslk_npy_close", [ctypes.c_void_p], None)
declare("sslk_npy_dtype", [ctypes.c_void_p], ctypes.c_int)
declare("sslk_npy_ndim", [ctypes.c_void_p], ctypes.c_size_t)
declare("sslk_npy_dim", [ctypes.c_void_p, ctypes.c_size_t], ctypes.c_size_t)
declare("sslk_npy_read", [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t])
declare("sslk_npy_save", [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t,
                          c_size_p])


def load_npy(path, dtype=None, ctx=None):
    """Read an .npy file into a new numpy array (of `dtype` when given: the
    library converts, refusing lossy float -> int and out-of-range values)."""
    h = ctypes.c_void_p()
    lib.sslk_npy_open(ctx_handle(ctx), os.fsencode(path), ctypes.byref(h))
    try:
        code = lib.sslk_npy_dtype(h)
        if dtype is not None:
            dt = np.dtype(dtype)
            if dt not in _CODES:
                raise ValueError(f"dtype {dt} is not one of {sorted(str(k) for k in _CODES)}")
            code = _CODES[dt]
        shape = tuple(lib.sslk_npy_dim(h, i) for i in range(lib.sslk_npy_ndim(h)))
        out = np.empty(shape, dtype=_DTYPES[code])
        lib.sslk_npy_read(h, code, out.ctypes.data_as(ctypes.c_void_p), out.size)
        return out
    finally:
        lib.sslk_npy_close(h)


def save_npy(path, array, ctx=None):
    """Write array to path atomically (C order; converted to little-endian)."""
    a = np.asarray(array)
    if a.dtype.kind == "b":
        a = a.astype(np.bool_)
    dt = a.dtype.newbyteorder("=") if a.dtype.byteorder == ">" else a.dtype
    if np.dtype(dt) not in _CODES:
        raise ValueError(f"dtype {a.dtype} is not one of {sorted(str(k) for k in _CODES)}")
    a = a.astype(dt, order="C", copy=False)  # keeps 0-D arrays 0-D (ascontiguousarray does not)
    shape = (ctypes.c_size_t * max(a.ndim, 1))(*a.shape)
    lib.sslk_npy_save(ctx_handle(ctx), os.fsencode(path), _CODES[np.dtype(dt)],
                      a.ctypes.data_as(ctypes.c_void_p), a.ndim, shape)
