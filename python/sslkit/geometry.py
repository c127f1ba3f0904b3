"""SplineCam: the exact linear regions and decision boundary of a model on a
2-D slice of its input space (sslk_slice, sslk_partition).

    s = sslkit.Slice.from_anchors(images[:3], pad=1.0)   # plane through 3 points
    p = sslkit.splinecam(model, s)
    p.regions        # list of (nv, 2) vertex arrays in slice coordinates (CCW)
    p.codes          # (n, words) uint64 activation codes
    p.boundary       # (m, 2, 2) decision-boundary segments
    p.stats          # dict: regions, area distribution, boundary length, ...
    p.plot("partition.png")

Slice coordinates (u, v) map to input space as x = origin + u d1 + v d2 with
orthonormal d1, d2 (Slice.to_input / Slice.project convert).
"""
import ctypes

import numpy as np

from ._lib import (Context, Owner, as_f32, as_f64, c_double_p, c_float_p, ctx_handle, declare, default_ctx, hold, lib,
                   setting_value, settings, to_int)

_vp = ctypes.c_void_p
_sz = ctypes.c_size_t
_szp = ctypes.POINTER(_sz)
_i32p = ctypes.POINTER(ctypes.c_int32)
_i64p = ctypes.POINTER(ctypes.c_int64)
_u64p = ctypes.POINTER(ctypes.c_uint64)

MAPS = 1
PLOT_RANDOM_COLORS, PLOT_NO_EDGES, PLOT_NO_BOUNDARY, PLOT_NO_ANCHORS = 1, 2, 4, 8


class PartitionStats(ctypes.Structure):
    """ctypes mirror of sslk_partition_stats (include/sslkit/geometry.h)."""
    _fields_ = [("struct_size", _sz), ("regions", _sz), ("vertices", _sz), ("vertices_mean", ctypes.c_double),
                ("vertices_max", ctypes.c_double), ("area_total", ctypes.c_double), ("area_mean", ctypes.c_double),
                ("area_std", ctypes.c_double), ("area_min", ctypes.c_double), ("area_median", ctypes.c_double),
                ("area_max", ctypes.c_double), ("boundary_length", ctypes.c_double), ("boundary_segments", _sz),
                ("density", ctypes.c_double), ("eccentricity_mean", ctypes.c_double), ("seconds", ctypes.c_double)]


declare("sslk_slice_from_anchors", [_vp, c_float_p, _sz, _sz, ctypes.c_double, ctypes.POINTER(_vp)])
declare("sslk_slice_from_box", [_vp, c_float_p, c_float_p, _sz, c_double_p, ctypes.POINTER(_vp)])
declare("sslk_slice_from_polygon", [_vp, c_float_p, _sz, _sz, ctypes.POINTER(_vp)])
declare("sslk_slice_destroy", [_vp], None)
declare("sslk_slice_dim", [_vp, _szp])
declare("sslk_slice_frame", [_vp, c_double_p, c_double_p])
declare("sslk_slice_polygon", [_vp, c_double_p, _sz, _szp])
declare("sslk_slice_to_input", [_vp, c_double_p, _sz, c_float_p])
declare("sslk_slice_project", [_vp, c_float_p, _sz, c_double_p])
declare("sslk_slice_set_f64", [_vp, ctypes.c_int, ctypes.c_double])
declare("sslk_slice_get_f64", [_vp, ctypes.c_int, c_double_p])
declare("sslk_splinecam", [_vp, _vp, _vp, ctypes.c_uint, ctypes.POINTER(_vp)])


class _SplinecamOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("flags", ctypes.c_uint), ("tol", ctypes.c_double),
                ("max_regions", ctypes.c_uint64)]


declare("sslk_splinecam_options_init", [ctypes.POINTER(_SplinecamOptions)])
declare("sslk_splinecam_ex", [_vp, _vp, _vp, ctypes.POINTER(_SplinecamOptions), ctypes.POINTER(_vp)])
declare("sslk_partition_destroy", [_vp], None)
declare("sslk_partition_info", [_vp, _szp, _szp, _szp, _szp])
declare("sslk_partition_vertex_offsets", [_vp, _szp])
declare("sslk_partition_vertices", [_vp, c_double_p])
declare("sslk_partition_region_input", [_vp, _sz, c_float_p, _sz, _szp])
declare("sslk_partition_codes", [_vp, _u64p])
declare("sslk_partition_areas", [_vp, c_double_p])
declare("sslk_partition_classes", [_vp, _i32p])
declare("sslk_partition_maps", [_vp, c_double_p])
declare("sslk_partition_locate", [_vp, c_double_p, _sz, _i64p])
declare("sslk_partition_boundary", [_vp, c_double_p, _i32p, _sz, _szp])
declare("sslk_partition_boundary_length", [_vp, c_double_p])
declare("sslk_partition_boundary_sample", [_vp, _sz, ctypes.c_uint64, c_float_p, c_double_p])
declare("sslk_partition_stats_get", [_vp, ctypes.POINTER(PartitionStats)])
declare("sslk_partition_path_complexity", [_vp, c_double_p, _sz, _szp, c_double_p])
declare("sslk_partition_near_complexity", [_vp, c_double_p, _sz, ctypes.c_double, _szp])
declare("sslk_partition_write_json", [_vp, ctypes.c_char_p])
declare("sslk_partition_write_csv", [_vp, ctypes.c_char_p, ctypes.c_char_p])
declare("sslk_partition_plot", [_vp, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_uint])


def _dp(a):
    return a.ctypes.data_as(c_double_p)


def _fp(a):
    return a.ctypes.data_as(c_float_p)


def _rows(points, name):
    """(n, ...) array -> C-contiguous float32 (n, d)."""
    a = as_f32(points, name)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    return np.ascontiguousarray(a.reshape(a.shape[0], -1))


class Slice(Owner):
    """A plane of input space with orthonormal directions and a convex domain."""

    _destroy_name = "sslk_slice_destroy"

    def __init__(self, handle, ctx):
        self._ctx = self._adopt_ctx(ctx)
        self._h = handle

    @classmethod
    def from_anchors(cls, points, pad=1.0, seed=None, ctx=None):
        """Slice through 1, 2 or 3 points (rows; image-shaped rows are flattened).
        One point: square [-pad, pad]^2 with random orthonormal directions (from
        the context's seed, or from `seed` when given); two: centred on the midpoint,
        d1 toward point 0; three: plane through them, d1 toward point 0.  The
        domain is the anchors' box grown by pad."""
        if seed is not None:
            ctx = Context(threads=(ctx or default_ctx()).threads, seed=to_int(seed, "seed", "uint64"))  # kept by the Slice
        ctx = ctx or default_ctx()
        a = _rows(points, "points")
        h = _vp()
        lib.sslk_slice_from_anchors(ctx.handle, _fp(a), a.shape[0], a.shape[1], float(pad), ctypes.byref(h))
        return cls(h, ctx)

    @classmethod
    def from_box(cls, origin, directions, extent, ctx=None):
        """origin + s d1 + t d2 for (s, t) in the box extent = (s0, s1, t0, t1)
        (a number e means (-e, e, -e, e))."""
        ctx = ctx or default_ctx()
        o = as_f32(origin, "origin").reshape(-1)
        d = _rows(directions, "directions")
        if d.shape != (2, o.size):
            raise ValueError(f"directions must be 2 x {o.size}, got {d.shape}")
        e = np.full(4, float(extent)) * np.array([-1, 1, -1, 1]) if np.ndim(extent) == 0 else as_f64(extent, "extent")
        e = np.ascontiguousarray(e, dtype=np.float64)
        if e.size != 4:
            raise ValueError("extent must be a number or (s0, s1, t0, t1)")
        h = _vp()
        lib.sslk_slice_from_box(ctx.handle, _fp(o), _fp(d), o.size, _dp(e), ctypes.byref(h))
        return cls(h, ctx)

    @classmethod
    def from_polygon(cls, points, ctx=None):
        """Slice whose domain is the convex hull of >= 3 coplanar points."""
        ctx = ctx or default_ctx()
        a = _rows(points, "points")
        h = _vp()
        lib.sslk_slice_from_polygon(ctx.handle, _fp(a), a.shape[0], a.shape[1], ctypes.byref(h))
        return cls(h, ctx)


    @property
    def dim(self):
        d = _sz()
        lib.sslk_slice_dim(self._h, ctypes.byref(d))
        return d.value

    @property
    def origin(self):
        o = np.empty(self.dim)
        lib.sslk_slice_frame(self._h, _dp(o), None)
        return o

    @property
    def directions(self):
        d = np.empty((2, self.dim))
        lib.sslk_slice_frame(self._h, None, _dp(d))
        return d

    @property
    def polygon(self):
        """(nv, 2) domain vertices in slice coordinates, CCW."""
        n = _sz()
        lib.sslk_slice_polygon(self._h, None, 0, ctypes.byref(n))
        uv = np.empty((n.value, 2))
        lib.sslk_slice_polygon(self._h, _dp(uv), n.value, ctypes.byref(n))
        return uv

    def to_input(self, uv):
        uv = as_f64(uv, "uv").reshape(-1, 2)
        x = np.empty((uv.shape[0], self.dim), dtype=np.float32)
        lib.sslk_slice_to_input(self._h, _dp(uv), uv.shape[0], _fp(x))
        return x

    def project(self, x):
        x = _rows(x, "x")
        uv = np.empty((x.shape[0], 2))
        lib.sslk_slice_project(self._h, _fp(x), x.shape[0], _dp(uv))
        return uv

    def set(self, name, value):
        """SplineCam setting on this slice: "tol" or "max_regions"."""
        info = settings("splinecam")[name]
        lib.sslk_slice_set_f64(self._h, info["key"], float(setting_value(info, value, name)))

    def get(self, name):
        v = ctypes.c_double()
        lib.sslk_slice_get_f64(self._h, settings("splinecam")[name]["key"], ctypes.byref(v))
        return v.value


class Partition(Owner):
    """The linear regions and decision boundary of a model on a slice."""

    _destroy_name = "sslk_partition_destroy"

    def __init__(self, handle, ctx, slice_):
        self._ctx = self._adopt_ctx(ctx)
        self._h = handle
        self.slice = slice_
        n, d, k, bits = _sz(), _sz(), _sz(), _sz()
        lib.sslk_partition_info(handle, ctypes.byref(n), ctypes.byref(d), ctypes.byref(k), ctypes.byref(bits))
        self.n, self.input_dim, self.output_dim, self.code_bits = n.value, d.value, k.value, bits.value


    def __len__(self):
        return self.n

    @property
    def offsets(self):
        off = np.empty(self.n + 1, dtype=np.uintp)
        lib.sslk_partition_vertex_offsets(self._h, off.ctypes.data_as(_szp))
        return off.astype(np.int64)

    @property
    def vertices(self):
        """All vertices (total, 2), region after region (see offsets)."""
        off = self.offsets
        uv = np.empty((int(off[-1]), 2))
        lib.sslk_partition_vertices(self._h, _dp(uv))
        return uv

    @property
    def regions(self):
        """List of (nv, 2) vertex arrays in slice coordinates (CCW)."""
        off, uv = self.offsets, self.vertices
        return [uv[off[i]:off[i + 1]] for i in range(self.n)]

    def region_input(self, i):
        """Vertices of region i in input space (nv, d)."""
        nv = _sz()
        off = self.offsets
        cap = int(off[i + 1] - off[i]) if 0 <= i < self.n else 0
        x = np.empty((max(cap, 1), self.input_dim), dtype=np.float32)
        lib.sslk_partition_region_input(self._h, to_int(i, "i", "size_t"), _fp(x), cap, ctypes.byref(nv))
        return x[:nv.value]

    @property
    def codes(self):
        """(n, words) uint64 activation codes (bit b in word b // 64)."""
        w = (self.code_bits + 63) // 64
        c = np.zeros((self.n, w), dtype=np.uint64)
        if w:
            lib.sslk_partition_codes(self._h, c.ctypes.data_as(_u64p))
        return c

    def code_bits_array(self):
        """(n, code_bits) uint8 array of the activation bits."""
        c = self.codes
        bits = np.unpackbits(c.view(np.uint8).reshape(self.n, -1), axis=1, bitorder="little")
        return bits[:, :self.code_bits]

    @property
    def areas(self):
        a = np.empty(self.n)
        lib.sslk_partition_areas(self._h, _dp(a))
        return a

    @property
    def classes(self):
        c = np.empty(self.n, dtype=np.int32)
        lib.sslk_partition_classes(self._h, c.ctypes.data_as(_i32p))
        return c

    @property
    def maps(self):
        """(n, 3, k) affine output maps (rows d/du, d/dv, offset); needs maps=True."""
        m = np.empty((self.n, 3, self.output_dim))
        lib.sslk_partition_maps(self._h, _dp(m))
        return m

    def locate(self, uv):
        """Region index of each slice point (-1 outside)."""
        uv = as_f64(uv, "uv").reshape(-1, 2)
        r = np.empty(uv.shape[0], dtype=np.int64)
        lib.sslk_partition_locate(self._h, _dp(uv), uv.shape[0], r.ctypes.data_as(_i64p))
        return r

    def _boundary(self):
        m = _sz()
        lib.sslk_partition_boundary(self._h, None, None, 0, ctypes.byref(m))
        s = np.empty((m.value, 4))
        info = np.empty((m.value, 3), dtype=np.int32)
        if m.value:
            lib.sslk_partition_boundary(self._h, _dp(s), info.ctypes.data_as(_i32p), m.value, ctypes.byref(m))
        return s.reshape(-1, 2, 2), info

    @property
    def boundary(self):
        """(m, 2, 2) decision-boundary segments in slice coordinates."""
        return self._boundary()[0]

    @property
    def boundary_info(self):
        """(m, 3) int32: region, class a, class b of each segment."""
        return self._boundary()[1]

    @property
    def boundary_length(self):
        v = ctypes.c_double()
        lib.sslk_partition_boundary_length(self._h, ctypes.byref(v))
        return v.value

    def sample_boundary(self, n, seed=0):
        """n points uniformly on the boundary: (x (n, d) float32, uv (n, 2))."""
        n = to_int(n, "n", "size_t")
        x = np.empty((n, self.input_dim), dtype=np.float32)
        uv = np.empty((n, 2))
        lib.sslk_partition_boundary_sample(self._h, n, to_int(seed, "seed", "uint64"), _fp(x), _dp(uv))
        return x, uv

    @property
    def stats(self):
        st = PartitionStats()
        st.struct_size = ctypes.sizeof(PartitionStats)
        lib.sslk_partition_stats_get(self._h, ctypes.byref(st))
        return {name: getattr(st, name) for name, _ in PartitionStats._fields_ if name != "struct_size"}

    def path_complexity(self, uv):
        """(regions crossed, regions per unit length) along a polyline of slice points."""
        uv = as_f64(uv, "uv").reshape(-1, 2)
        n, per = _sz(), ctypes.c_double()
        lib.sslk_partition_path_complexity(self._h, _dp(uv), uv.shape[0], ctypes.byref(n), ctypes.byref(per))
        return n.value, per.value

    def near_complexity(self, uv, radius):
        """Number of regions meeting the disc of `radius` around each slice point."""
        uv = as_f64(uv, "uv").reshape(-1, 2)
        c = np.empty(uv.shape[0], dtype=np.uintp)
        lib.sslk_partition_near_complexity(self._h, _dp(uv), uv.shape[0], float(radius), c.ctypes.data_as(_szp))
        return c.astype(np.int64)

    def plot(self, path, width=800, height=800, random_colors=False, edges=True, boundary=True, anchors=True):
        """Write a PNG, SVG or PDF picture (by extension)."""
        f = (PLOT_RANDOM_COLORS if random_colors else 0) | (0 if edges else PLOT_NO_EDGES) | \
            (0 if boundary else PLOT_NO_BOUNDARY) | (0 if anchors else PLOT_NO_ANCHORS)
        lib.sslk_partition_plot(self._h, str(path).encode(), to_int(width, "width", "int"), to_int(height, "height", "int"), f)

    def to_json(self, path):
        lib.sslk_partition_write_json(self._h, str(path).encode())

    def to_csv(self, path, boundary_path=None):
        lib.sslk_partition_write_csv(self._h, str(path).encode(),
                                     None if boundary_path is None else str(boundary_path).encode())


def splinecam(model, slice_, maps=False, ctx=None, tol=None, max_regions=None):
    """Exact linear regions of `model` (an sslkit.Model, evaluation mode) on
    `slice_` (an sslkit.Slice).  maps=True keeps each region's output map.
    tol / max_regions given here are the call's options (sslk_splinecam_ex,
    defaults for the one left out; the slice's settings are then not read);
    without them the slice's settings apply (Slice.set, the 1.x way)."""
    ctx = ctx or getattr(model, "_ctx", None) or default_ctx()
    h = _vp()
    with hold(model, slice_, what="splinecam"):
        if tol is None and max_regions is None:
            lib.sslk_splinecam(ctx_handle(ctx), model._h, slice_._h, MAPS if maps else 0, ctypes.byref(h))
        else:
            opt = _SplinecamOptions()
            lib.sslk_splinecam_options_init(ctypes.byref(opt))
            opt.flags = MAPS if maps else 0
            if tol is not None:
                opt.tol = float(tol)
            if max_regions is not None:
                if int(max_regions) != max_regions or max_regions < 0:
                    raise ValueError(f"max_regions must be a non-negative integer, got {max_regions!r}")
                opt.max_regions = int(max_regions)
            lib.sslk_splinecam_ex(ctx_handle(ctx), model._h, slice_._h, ctypes.byref(opt), ctypes.byref(h))
    return Partition(h, ctx, slice_)
