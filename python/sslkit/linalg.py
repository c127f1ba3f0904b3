"""Which dense kernels the library runs (experimental, issue 16).

``linalg_info()`` parses ``sslk_linalg_info()`` into a dict of strings:
``kernels`` (the active set: blis, avx2, avx512 or neon), ``default`` (the set
chosen without ``$SSLKIT_KERNELS``), ``override`` (that variable's value,
"none", or "invalid:VALUE"), ``cpu_isa``, ``blis_version``, ``blis_arch``,
``sgemm_tile`` and ``dgemm_tile`` ("ROWSxCOLS"), ``gemm_threading`` (auto, split
or blis: how multi-threaded products use the threads, ``$SSLKIT_GEMM_THREADING``;
"invalid:VALUE" when that variable names no mode).  docs/performance.md.
"""
import ctypes

from ._lib import declare, lib

declare("sslk_linalg_info", [], ctypes.c_char_p)


def linalg_info():
    """The library's dense-kernel set-up as a dict (keys are only ever added)."""
    line = lib.sslk_linalg_info().decode()
    return dict(item.split("=", 1) for item in line.split())
