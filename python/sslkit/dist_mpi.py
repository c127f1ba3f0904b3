"""MPI filler of the collectives table from Python (experimental, issue 17).

sslkit.Context(dist="mpi") attaches it: under `mpirun -np P python3 x.py`
each process becomes one rank.  With mpi4py imported (Debian python3-mpi4py)
the running MPI is reused; without it the library's filler calls MPI_Init
itself (set SSLKIT_NO_MPI4PY=1 to skip mpi4py even when installed).
"""
import atexit
import ctypes
import os

from ._lib import declare, lib
from .dist import _Dist

declare("sslk_dist_mpi_init", [ctypes.c_double, ctypes.POINTER(_Dist)])
declare("sslk_dist_mpi_available", [], ctypes.c_int)
declare("sslk_dist_mpi_launched", [], ctypes.c_int)
declare("sslk_dist_mpi_seconds", [], ctypes.c_double)
declare("sslk_dist_mpi_finalize", [], None)
_registered = []


def available():
    """True when this libsslkit has the MPI filler (meson feature `mpi`)."""
    return bool(lib.sslk_dist_mpi_available())


def launched():
    """True when this process was started by mpirun (or another MPI launcher)."""
    return bool(lib.sslk_dist_mpi_launched())


class MPITable:
    """The MPI filler's table of this process (rank, world_size)."""

    def __init__(self, timeout=0.0):
        if os.environ.get("SSLKIT_NO_MPI4PY") != "1":
            try:
                import mpi4py.MPI  # noqa: F401  (initialises MPI; the filler then reuses it)
            except ImportError:
                pass
        # OpenMPI loads its components with dlopen: its symbols must be global,
        # which ctypes' private loading of libsslkit does not make them.
        try:
            ctypes.CDLL("libmpi.so.40", mode=ctypes.RTLD_GLOBAL)
        except OSError:
            pass
        self._c = _Dist(ctypes.sizeof(_Dist))
        lib.sslk_dist_mpi_init(float(timeout), ctypes.byref(self._c))
        if not _registered:  # MPI_Finalize at exit when the filler called MPI_Init (before mpi4py's own)
            atexit.register(lib.sslk_dist_mpi_finalize)
            _registered.append(True)
        self.rank, self.world_size = self._c.rank, self._c.world_size


def attach(ctx, timeout=0.0):
    """Attach this process's MPI table to ctx (Context(dist="mpi") calls this)."""
    from .dist import set_dist
    table = MPITable(timeout)
    set_dist(ctx, table)
    return table
