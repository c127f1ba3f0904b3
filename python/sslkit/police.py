"""POLICE: models provably affine on a convex region (Balestriero & LeCun, 2023).

    m = sslkit.Model.from_spec("linear:64,leaky_relu:0.01,linear:64,leaky_relu:0.01,linear:1", (2,))
    m.constrain(sslkit.police_box([0, 0], [1.5, 1.5]))   # every forward now keeps m affine on the square
    ... train m with any optimizer ...
    sslkit.police_verify(m, vertices)                     # {'affine_max_rel': ~1e-16, 'regions_inside': 1, ...}
    m.freeze_constraint()                                 # shifts folded into the biases; m.save(path)

This module adds constrain / freeze_constraint / unconstrain / constraint to
sslkit.Model (attributes set on the class at import).
"""
import ctypes

import numpy as np

from ._lib import as_f32, as_f64, c_double_p, c_float_p, ctx_handle, declare, default_ctx, guarded, hold, lib, to_int
from .geometry import Partition
from .model import Model

_vp = ctypes.c_void_p
_sz = ctypes.c_size_t
_szp = ctypes.POINTER(ctypes.c_size_t)

BOX_MAX_DIM = 16
CONSTRAIN_OUTPUT = 2700


class PoliceReport(ctypes.Structure):
    _fields_ = [("struct_size", _sz), ("samples", _sz), ("affine_max_abs", ctypes.c_double),
                ("affine_max_rel", ctypes.c_double), ("rank", _sz), ("slice_checked", ctypes.c_int),
                ("regions_inside", _sz), ("regions_around", _sz)]


declare("sslk_police_create", [_vp, c_float_p, _sz, _sz, ctypes.POINTER(_vp)])
declare("sslk_police_destroy", [_vp], None)
declare("sslk_police_set_f64", [_vp, ctypes.c_int, ctypes.c_double])
declare("sslk_police_get_f64", [_vp, ctypes.c_int, c_double_p])
declare("sslk_police_info", [_vp, _szp, _szp, _szp, _szp, _szp, _szp])
declare("sslk_police_freeze", [_vp])
declare("sslk_police_box_vertices", [c_double_p, c_double_p, _sz, c_float_p, _sz, _szp])
declare("sslk_police_simplex_vertices", [c_float_p, _sz, ctypes.c_double, c_float_p])
declare("sslk_police_polygon_vertices", [c_float_p, c_float_p, _sz, c_double_p, _sz, c_float_p])
declare("sslk_police_verify", [_vp, _vp, c_float_p, _sz, _sz, _sz, ctypes.c_uint64,
                               ctypes.POINTER(PoliceReport)])
declare("sslk_police_splinecam", [_vp, _vp, _vp, ctypes.c_uint, ctypes.POINTER(_vp)])


class Police:
    """A constraint attached to one Model (use Model.constrain).  It points into
    the model's layers, so it runs under the model's lock and goes before it."""

    def __init__(self, model, vertices, constrain_output=False):
        v = as_f32(vertices, "vertices", 2)
        h = _vp()
        self._lock = model._lock  # the lock only: no reference cycle with the model
        with hold(model, what="constrain"):
            lib.sslk_police_create(model._h, v.ctypes.data_as(c_float_p), v.shape[0], v.shape[1], ctypes.byref(h))
        self._h = h
        self.vertices = v.copy()
        if constrain_output:
            lib.sslk_police_set_f64(h, CONSTRAIN_OUTPUT, 1.0)

    def close(self):
        """Detach and free the constraint (the model keeps its current parameters)."""
        lock = self.__dict__.get("_lock")
        if lock is None:
            return
        with lock:
            h = getattr(self, "_h", None)
            if h is not None and h.value:
                lib.sslk_police_destroy(h)
            self._h = None

    __del__ = close

    def info(self):
        """dict: vertices, dim, rank, points, and from the last forward shifted / units."""
        vals = [_sz() for _ in range(6)]
        with self._lock:
            lib.sslk_police_info(self._h, *[ctypes.byref(x) for x in vals])
        keys = ("vertices", "dim", "rank", "points", "shifted", "units")
        return {k: x.value for k, x in zip(keys, vals)}

    def freeze(self):
        with self._lock:
            lib.sslk_police_freeze(self._h)


# ---- methods added to sslkit.Model ----------------------------------------------------
def _constrain(self, vertices, constrain_output=False):
    """Attach the POLICE constraint: from now on every forward (train and eval)
    keeps the model affine on the convex hull of `vertices` (C x D)."""
    if getattr(self, "_police", None) is not None:
        self._police.close()
    self._police = None
    self._police = Police(self, vertices, constrain_output)
    self._last = None
    return self._police


def _freeze_constraint(self):
    """Fold the constraint's shifts into the biases and detach it: the model is
    then an ordinary model (save it with save()) computing the constrained
    function in evaluation mode."""
    p = getattr(self, "_police", None)
    if p is None:
        raise RuntimeError("freeze_constraint() needs a constraint (call constrain() first)")
    p.freeze()
    p.close()
    self._police = None
    self._last = None
    return self


def _unconstrain(self):
    p = getattr(self, "_police", None)
    if p is not None:
        p.close()
    self._police = None
    self._last = None
    return self


_model_free = Model._free


def _free_with_constraint(self):
    # the C constraint points into the model: free it first (this runs when the
    # model's handle is finally freed: at close(), or after its last dependant)
    p = self.__dict__.get("_police")
    if p is not None:
        p.close()
    _model_free(self)


Model.constrain = guarded(_constrain)
Model.freeze_constraint = guarded(_freeze_constraint)
Model.unconstrain = guarded(_unconstrain)
Model.constraint = property(guarded(lambda self: getattr(self, "_police", None)))
Model._free = _free_with_constraint


# ---- vertices and verification ---------------------------------------------------------
def police_box(lo, hi):
    """The 2^D corners of the box [lo, hi] (D <= 16), (2^D, D) float32."""
    lo, hi = as_f64(lo, "lo", 1), as_f64(hi, "hi", 1)
    if lo.shape != hi.shape:
        raise ValueError("lo and hi must have the same length")
    d = lo.size
    c = _sz()
    cap = (1 << d) if d <= BOX_MAX_DIM else 0
    out = np.empty((max(cap, 1), d), dtype=np.float32)
    lib.sslk_police_box_vertices(lo.ctypes.data_as(c_double_p), hi.ctypes.data_as(c_double_p), d,
                                 out.ctypes.data_as(c_float_p), cap, ctypes.byref(c))
    return out[: c.value]


def police_simplex(x0, r):
    """The simplex {x0, x0 + r e_1, ..., x0 + r e_D}, (D + 1, D) float32."""
    x0 = as_f32(x0, "x0", 1)
    out = np.empty((x0.size + 1, x0.size), dtype=np.float32)
    lib.sslk_police_simplex_vertices(x0.ctypes.data_as(c_float_p), x0.size, float(r), out.ctypes.data_as(c_float_p))
    return out


def police_polygon(origin, directions, uv):
    """Polygon in a 2-D slice: origin + u d1 + v d2 for each (u, v) row of uv."""
    o, d = as_f32(origin, "origin", 1), as_f32(directions, "directions", 2)
    uv = as_f64(uv, "uv", 2)
    out = np.empty((uv.shape[0], o.size), dtype=np.float32)
    lib.sslk_police_polygon_vertices(o.ctypes.data_as(c_float_p), d.ctypes.data_as(c_float_p), o.size,
                                     uv.ctypes.data_as(c_double_p), uv.shape[0], out.ctypes.data_as(c_float_p))
    return out


def police_verify(model, vertices, samples=1000, seed=0, ctx=None):
    """Check in double that model is affine on conv(vertices) (the constrained
    function when a constraint is attached): dict with affine_max_abs/rel over
    random convex combinations and, for a planar region, the exact SplineCam
    region counts inside it (regions_inside, 1 when affine) and around it."""
    v = as_f32(vertices, "vertices", 2)
    r = PoliceReport()
    r.struct_size = ctypes.sizeof(PoliceReport)
    ctx = ctx or getattr(model, "_ctx", None) or default_ctx()
    with hold(model, what="police_verify"):
        lib.sslk_police_verify(ctx_handle(ctx), model._h, v.ctypes.data_as(c_float_p), v.shape[0], v.shape[1],
                               to_int(samples, "samples", "size_t"), to_int(seed, "seed", "uint64"), ctypes.byref(r))
    out = {k: getattr(r, k) for k, _ in PoliceReport._fields_ if k != "struct_size"}
    out["slice_checked"] = bool(out["slice_checked"])
    if not out["slice_checked"]:
        out["regions_inside"] = out["regions_around"] = None
    return out


def police_splinecam(model, slice_, ctx=None):
    """SplineCam partition of model on a Slice, with the attached constraint's shifts."""
    ctx = ctx or getattr(model, "_ctx", None) or default_ctx()
    h = _vp()
    with hold(model, slice_, what="police_splinecam"):
        lib.sslk_police_splinecam(ctx_handle(ctx), model._h, slice_._h, 0, ctypes.byref(h))
    return Partition(h, ctx, slice_)
