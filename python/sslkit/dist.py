"""Collectives tables from Python (experimental, issue 17).

A context that carries a collectives table makes every loss exact across
ranks: each rank passes its own rows, gets the value of the loss of the global
batch and the gradient of its own rows (docs/distributed.md).  Fill a table
from Python callables, e.g. on top of torch.distributed:

    >>> def allgatherv(send, counts):            # 1-D float32/float64, counts per rank
    ...     parts = [torch.empty(c, dtype=...) for c in counts]; ...
    ...     return np.concatenate(parts)          # counts[r] elements of rank r, rank order
    >>> table = sslkit.dist.Table(rank, world, allgatherv=allgatherv, allreduce_sum=allreduce_sum,
    ...                           broadcast=broadcast, barrier=barrier)
    >>> ctx = sslkit.Context(); sslkit.dist.set_dist(ctx, table)
    >>> v, ga, gb = sslkit.Loss("vicreg", ctx=ctx).compute(za_local, zb_local)

Callables work on numpy arrays.  allgatherv(send, counts) returns the
concatenation (or fills nothing and returns it); allreduce_sum(buf) and
broadcast(buf, root) may change buf in place or return the new contents
(buf of broadcast is uint8 bytes); barrier() returns nothing.  An exception
in a callable fails the collective: the library raises sslkit.Error with
status SSLK_E_DIST and the exception's text.  Every rank must make the same
calls; a callable that fails on one rank must make the others fail too.

FakeWorld(n) binds the library's in-process fake (n ranks on threads).
"""
import ctypes

import numpy as np

from ._lib import declare, lib

_vp = ctypes.c_void_p
_sz = ctypes.c_size_t
_szp = ctypes.POINTER(_sz)
_fp = ctypes.POINTER(ctypes.c_float)
_dp = ctypes.POINTER(ctypes.c_double)

_GATHER_F32 = ctypes.CFUNCTYPE(ctypes.c_int, _vp, _fp, _sz, _fp, _szp)
_GATHER_F64 = ctypes.CFUNCTYPE(ctypes.c_int, _vp, _dp, _sz, _dp, _szp)
_REDUCE_F32 = ctypes.CFUNCTYPE(ctypes.c_int, _vp, _fp, _sz)
_REDUCE_F64 = ctypes.CFUNCTYPE(ctypes.c_int, _vp, _dp, _sz)
_BCAST = ctypes.CFUNCTYPE(ctypes.c_int, _vp, _vp, _sz, ctypes.c_int)
_BARRIER = ctypes.CFUNCTYPE(ctypes.c_int, _vp)


class _Dist(ctypes.Structure):
    _fields_ = [("struct_size", _sz), ("rank", ctypes.c_int), ("world_size", ctypes.c_int), ("user", _vp),
                ("allgatherv_f32", _GATHER_F32), ("allgatherv_f64", _GATHER_F64),
                ("allreduce_sum_f32", _REDUCE_F32), ("allreduce_sum_f64", _REDUCE_F64),
                ("broadcast", _BCAST), ("barrier", _BARRIER),
                ("any_thread", ctypes.c_int)]  # appended in issue 17 (overlapped all-reduce)


declare("sslk_ctx_set_dist", [_vp, ctypes.POINTER(_Dist)])
declare("sslk_ctx_get_dist", [_vp, ctypes.POINTER(_Dist)])
declare("sslk_dist_set_error", [ctypes.c_char_p], None)
declare("sslk_dist_fake_create", [ctypes.c_int, ctypes.POINTER(_vp)])
declare("sslk_dist_fake_table", [_vp, ctypes.c_int, ctypes.POINTER(_Dist)])
declare("sslk_dist_fake_leave", [_vp, ctypes.c_int], None)
declare("sslk_dist_fake_destroy", [_vp], None)


def _guard(fn):
    """Run a callback; an exception becomes a failed collective with its text."""
    def call(*args):
        try:
            fn(*args)
            return 0
        except BaseException as e:  # noqa: BLE001 -- nothing may unwind through C
            lib.sslk_dist_set_error(f"{type(e).__name__}: {e}".encode(errors="replace")[:255])
            return 1
    return call


def _view(ptr, count, ctype, dtype):
    if count == 0:
        return np.zeros(0, dtype)
    return np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctype)), shape=(count,))


class Table:
    """A collectives table filled from Python callables (see the module doc).

    rank, world_size: this process's place.  The callables receive numpy
    arrays (float32 or float64; uint8 for broadcast).  any_thread=True lets
    the library call them from its communication thread (one call at a time;
    ctypes takes the GIL there), so the data-parallel trainer overlaps the
    gradient all-reduce with the backward; the callables must then not depend
    on being called from the thread that attached the table."""

    def __init__(self, rank, world_size, *, allgatherv, allreduce_sum, broadcast, barrier, any_thread=False):
        rank, world_size = int(rank), int(world_size)
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank = {rank}, world_size = {world_size}: need 0 <= rank < world_size")
        self.rank, self.world_size = rank, world_size
        self._py = (allgatherv, allreduce_sum, broadcast, barrier)

        def gather(ctype, dtype):
            def f(_user, send, count, recv, counts):
                cs = [int(counts[r]) for r in range(world_size)]
                out = np.asarray(allgatherv(_view(send, count, ctype, dtype).copy(), cs), dtype=dtype).ravel()
                if out.size != sum(cs):
                    raise ValueError(f"allgatherv returned {out.size} elements, counts sum to {sum(cs)}")
                _view(recv, out.size, ctype, dtype)[:] = out
            return f

        def reduce(ctype, dtype):
            def f(_user, buf, count):
                a = _view(buf, count, ctype, dtype)
                r = allreduce_sum(a)
                if r is not None and r is not a:
                    a[:] = np.asarray(r, dtype=dtype).ravel()
            return f

        def bcast(_user, buf, nbytes, root):
            a = _view(buf, nbytes, ctypes.c_uint8, np.uint8)
            r = broadcast(a, int(root))
            if r is not None and r is not a:
                a[:] = np.frombuffer(np.asarray(r).tobytes(), np.uint8)[:nbytes]

        # the ctypes thunks must live as long as any context carrying them
        self._c = _Dist(ctypes.sizeof(_Dist), rank, world_size, None,
                        _GATHER_F32(_guard(gather(ctypes.c_float, np.float32))),
                        _GATHER_F64(_guard(gather(ctypes.c_double, np.float64))),
                        _REDUCE_F32(_guard(reduce(ctypes.c_float, np.float32))),
                        _REDUCE_F64(_guard(reduce(ctypes.c_double, np.float64))),
                        _BCAST(_guard(bcast)), _BARRIER(_guard(lambda _u: barrier())), int(bool(any_thread)))


def set_dist(ctx, table):
    """Attach table (a Table, FakeWorld rank table, or None = single process)
    to ctx.  Configure before making handles from ctx; ctx keeps table alive."""
    if table is None:
        lib.sslk_ctx_set_dist(ctx.handle, None)
    else:
        lib.sslk_ctx_set_dist(ctx.handle, ctypes.byref(table._c))
    ctx.__dict__["_dist_table"] = table


def get_dist_any_thread(ctx):
    """Whether ctx's table may be called from the library's communication
    thread (then the trainer overlaps the all-reduce with the backward)."""
    t = _Dist(ctypes.sizeof(_Dist))
    lib.sslk_ctx_get_dist(ctx.handle, ctypes.byref(t))
    return bool(t.any_thread)


def get_dist(ctx):
    """(rank, world_size) of ctx's table; (0, 1) without one."""
    t = _Dist(ctypes.sizeof(_Dist))
    lib.sslk_ctx_get_dist(ctx.handle, ctypes.byref(t))
    return t.rank, t.world_size


class _FakeTable:
    def __init__(self, world, rank):
        self._world = world  # keeps the C world alive
        self.rank, self.world_size = rank, world.world_size
        self._c = _Dist(ctypes.sizeof(_Dist))
        lib.sslk_dist_fake_table(world._h, rank, ctypes.byref(self._c))


class FakeWorld:
    """The library's in-process fake: world_size ranks for threads of this
    process (rank r's table from .table(r), used from one thread).  Call
    .leave(r) when rank r makes no more calls, so the others fail instead of
    waiting; close() after every rank is done."""

    def __init__(self, world_size):
        h = _vp()
        lib.sslk_dist_fake_create(int(world_size), ctypes.byref(h))
        self._h, self.world_size = h, int(world_size)

    def table(self, rank):
        return _FakeTable(self, rank)

    def leave(self, rank):
        lib.sslk_dist_fake_leave(self._h, int(rank))

    def close(self):
        if self._h:
            lib.sslk_dist_fake_destroy(self._h)
            self._h = None


# ---- evaluation across ranks ---------------------------------------------------
declare("sslk_rankme_allreduce", [_vp])
declare("sslk_dist_rows", [_vp, _sz, _szp])
declare("sslk_dist_gather_rows", [_vp, _fp, _sz, _sz, _fp])
declare("sslk_dist_gather_i32", [_vp, ctypes.POINTER(ctypes.c_int32), _sz, ctypes.POINTER(ctypes.c_int32)])


def rankme_allreduce(acc):
    """Collective: merge the sslkit.RankMe accumulators of all ranks (made from
    contexts carrying a table); afterwards acc.value is the RankMe of all rows.
    A kNN made with such a context is distributed by itself (KNN.fit keeps the
    rank's shard; pass nclasses so every rank agrees)."""
    with acc._lock:
        lib.sslk_rankme_allreduce(acc._h)
    return acc


def gather_rows(ctx, x):
    """Collective: the (n, d) float32 rows of every rank, concatenated in rank
    order (e.g. features for a linear probe fitted on every rank)."""
    x = np.ascontiguousarray(x, np.float32)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (n, d), got shape {x.shape}")
    total = _sz()
    lib.sslk_dist_rows(ctx.handle, x.shape[0], ctypes.byref(total))
    out = np.empty((total.value, x.shape[1]), np.float32)
    lib.sslk_dist_gather_rows(ctx.handle, x.ctypes.data_as(_fp), x.shape[0], x.shape[1], out.ctypes.data_as(_fp))
    return out


def gather_labels(ctx, y):
    """Collective: the int32 labels of every rank, concatenated in rank order."""
    y = np.ascontiguousarray(y, np.int32).ravel()
    total = _sz()
    lib.sslk_dist_rows(ctx.handle, y.shape[0], ctypes.byref(total))
    out = np.empty(total.value, np.int32)
    i32p = ctypes.POINTER(ctypes.c_int32)
    lib.sslk_dist_gather_i32(ctx.handle, y.ctypes.data_as(i32p), y.shape[0], out.ctypes.data_as(i32p))
    return out
