"""Objects from the SSL theory papers (experimental tier, docs/theory.md):
closed-form VC-regularised SSL, LiDAR and other label-free diagnostics, and
the computable parts of the information-theoretic VICReg bound.

Views are given either as an (N, m, d) array or as (N*m, d) rows with the m
views of each input consecutive (then pass m / q).
"""
import ctypes

import numpy as np

from ._lib import (Owner, as_f32, as_f64, as_i32, c_double_p, c_int64_p, ctx_handle, declare, hold, lib, ptr,
                   setting_value, settings, to_int)

_vp = ctypes.c_void_p
_sz = ctypes.c_size_t
_f = ctypes.c_void_p  # float arrays

declare("sslk_cfssl_create", [_vp, ctypes.POINTER(_vp)])
declare("sslk_cfssl_destroy", [_vp], None)
declare("sslk_cfssl_set_f64", [_vp, ctypes.c_int, ctypes.c_double])
declare("sslk_cfssl_set_i64", [_vp, ctypes.c_int, ctypes.c_int64])
declare("sslk_cfssl_fit", [_vp, _f, _sz, _sz, _sz])
declare("sslk_cfssl_fit_moments", [_vp, c_double_p, c_double_p, _sz])
declare("sslk_cfssl_shape", [_vp, ctypes.POINTER(_sz), ctypes.POINTER(_sz)])
declare("sslk_cfssl_spectrum", [_vp, c_double_p, _sz, ctypes.POINTER(_sz), ctypes.POINTER(_sz)])
declare("sslk_cfssl_apply", [_vp, _f, _sz, _f])
declare("sslk_cfssl_linear_map", [_vp, _f, _f])
declare("sslk_random_features", [_vp, _f, _sz, _sz, _sz, ctypes.c_double, ctypes.c_uint64, _f])
declare("sslk_lidar", [_vp, _f, _sz, _sz, _sz, ctypes.c_double, ctypes.c_double, c_double_p, c_double_p])
declare("sslk_collapse_std", [_vp, _f, _sz, _sz, ctypes.c_int, c_double_p, c_double_p])
declare("sslk_graph_variation", [_vp, _f, _sz, _sz, c_int64_p, c_int64_p, _f, _sz, c_double_p])
declare("sslk_augmentation_variation", [_vp, _f, _sz, ctypes.c_double, ctypes.c_uint64, c_double_p])
declare("sslk_dirichlet_energy", [_vp, _f, _sz, ctypes.c_double, c_double_p])
declare("sslk_ortho_penalty", [_vp, _f, _sz, _sz, ctypes.c_int, c_double_p])
declare("sslk_ortho_penalty_split", [_vp, _f, _sz, _sz, ctypes.c_uint64, c_double_p])
declare("sslk_vicreg_bound", [_vp, _f, _f, _sz, _sz, _f, ctypes.POINTER(ctypes.c_int32), _sz, _f, _f, _sz,
                              ctypes.c_double, ctypes.c_double, ctypes.c_double, _vp])


class _BoundReport(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("labelled_loss", ctypes.c_double),
                ("labelled_error", ctypes.c_double), ("invariance", ctypes.c_double),
                ("confidence", ctypes.c_double), ("complexity", ctypes.c_double), ("total", ctypes.c_double),
                ("num_labelled", ctypes.c_size_t), ("num_pairs", ctypes.c_size_t)]


def _views(X, m, name):
    """(rows, n, m, d) of views given as (N, m, d) or (N*m, d) with m."""
    x = as_f32(X, name)
    if x.ndim == 3:
        if m is not None and int(m) != x.shape[1]:
            raise ValueError(f"{name} has {x.shape[1]} views per input but {m} were given")
        n, m, d = x.shape
        return x.reshape(n * m, d), n, m, d
    if x.ndim != 2 or m is None:
        raise ValueError(f"{name} must be (N, m, d), or (N*m, d) with the view count given; got shape {x.shape}")
    m = to_int(m, "m", "size_t")
    if m < 1 or x.shape[0] % m:
        raise ValueError(f"{name} has {x.shape[0]} rows, not a multiple of {m} views")
    return x, x.shape[0] // m, m, x.shape[1]


class ClosedFormSSL(Owner):
    """A fitted closed-form VC-regularised SSL representation (see
    closed_form_ssl).  rep(X) / rep.apply(X) maps new inputs (n x d) to
    n x out_dim; .spectrum is the invariance spectrum (descending),
    .collapsed the number of kept directions with mu <= 0, .theta / .mean
    the linear map (linear kernel only)."""

    _destroy_name = "sslk_cfssl_destroy"

    def __init__(self, ctx=None, **cfg):
        self._adopt_ctx(ctx)
        h = _vp()
        lib.sslk_cfssl_create(ctx_handle(ctx), ctypes.byref(h))
        self._h = h
        info = settings("cfssl")
        for name, value in cfg.items():
            s = info[name]
            if s["type"] is float:
                lib.sslk_cfssl_set_f64(h, s["key"], float(value))
            else:
                lib.sslk_cfssl_set_i64(h, s["key"], setting_value(s, int(value) if isinstance(value, bool) else value, name))

    def _fit(self, x, n, m, d):
        lib.sslk_cfssl_fit(self._h, x.ctypes.data, n, m, d)

    def _fit_moments(self, s, sx):
        lib.sslk_cfssl_fit_moments(self._h, ptr(s, ctypes.c_double), ptr(sx, ctypes.c_double), s.shape[0])

    @property
    def shape(self):
        """(input width, output width)."""
        a, b = _sz(), _sz()
        lib.sslk_cfssl_shape(self._h, ctypes.byref(a), ctypes.byref(b))
        return a.value, b.value

    @property
    def spectrum(self):
        count = _sz()
        lib.sslk_cfssl_spectrum(self._h, None, 0, ctypes.byref(count), None)
        mu = np.zeros(count.value)
        lib.sslk_cfssl_spectrum(self._h, ptr(mu, ctypes.c_double), mu.size, ctypes.byref(count), None)
        return mu

    @property
    def collapsed(self):
        count, c = _sz(), _sz()
        lib.sslk_cfssl_spectrum(self._h, None, 0, ctypes.byref(count), ctypes.byref(c))
        return c.value

    @property
    def theta(self):
        return self._linear()[0]

    @property
    def mean(self):
        return self._linear()[1]

    def _linear(self):
        a, b = _sz(), _sz()
        lib.sslk_cfssl_shape(self._h, ctypes.byref(a), ctypes.byref(b))
        theta = np.zeros((b.value, a.value), np.float32)
        mean = np.zeros(a.value, np.float32)
        lib.sslk_cfssl_linear_map(self._h, theta.ctypes.data, mean.ctypes.data)
        return theta, mean

    def apply(self, X):
        """Representation of new inputs X (n x d): n x out_dim float32."""
        x = as_f32(X, "X", ndim=2)
        a, b = _sz(), _sz()
        lib.sslk_cfssl_shape(self._h, ctypes.byref(a), ctypes.byref(b))
        if x.shape[1] != a.value:
            raise ValueError(f"X has {x.shape[1]} columns but the fit has {a.value} inputs")
        out = np.zeros((x.shape[0], b.value), np.float32)
        lib.sslk_cfssl_apply(self._h, x.ctypes.data, x.shape[0], out.ctypes.data)
        return out

    def __call__(self, X):
        return self.apply(X)


def closed_form_ssl(X, m=None, k=16, beta=1.0, lam=0.0, kernel="linear", sigma=1.0, landmarks=0,
                    max_points=4096, center=False, jitter=1e-10, seed=0, ctx=None):
    """Closed-form VC-regularised SSL (interplay paper) from N inputs x m views
    of features X ((N, m, d), or (N*m, d) rows with m given).  Returns a
    ClosedFormSSL usable like a model.  kernel "gaussian" uses
    exp(-|x-y|^2/(2 sigma^2)); exact up to N*m <= max_points, else pass
    landmarks (Nystrom)."""
    x, n, m, d = _views(X, m, "X")
    rep = ClosedFormSSL(ctx=ctx, k=k, beta=beta, **{"lambda": lam}, kernel=kernel, sigma=sigma,
                        landmarks=landmarks, max_points=max_points, center=int(bool(center)), jitter=jitter,
                        seed=seed)
    rep._fit(x, n, m, d)
    return rep


def closed_form_ssl_moments(sigma, sigma_x, k=16, beta=1.0, lam=0.0, jitter=1e-10, ctx=None):
    """The linear closed form from given moment matrices (d x d): the second
    moment sigma and the cross-view moment sigma_x (e.g. population ones)."""
    s = as_f64(sigma, "sigma", ndim=2)
    sx = as_f64(sigma_x, "sigma_x", ndim=2)
    if s.shape != sx.shape or s.shape[0] != s.shape[1]:
        raise ValueError(f"sigma {s.shape} and sigma_x {sx.shape} must be the same square shape")
    rep = ClosedFormSSL(ctx=ctx, k=k, beta=beta, **{"lambda": lam}, jitter=jitter)
    rep._fit_moments(s, sx)
    return rep


def random_features(X, D, sigma=1.0, seed=0, ctx=None):
    """Random Fourier features of the Gaussian kernel exp(-|x-y|^2/(2 sigma^2)): n x D."""
    x = as_f32(X, "X", ndim=2)
    D = to_int(D, "D", "size_t")
    out = np.zeros((x.shape[0], D), np.float32)
    lib.sslk_random_features(ctx_handle(ctx), x.ctypes.data, x.shape[0], x.shape[1], D, float(sigma),
                             to_int(seed, "seed", "uint64"), out.ctypes.data)
    return out


def lidar(E, q=None, delta=1e-4, eps=1e-8, return_spectrum=False, ids=None, ctx=None):
    """LiDAR of embeddings of n samples x q views ((n, q, d), or (n*q, d) with
    q given, or (rows, d) with ids: a sample id per row, any order, the same
    count for every id).  With return_spectrum, (value, LDA eigenvalues
    descending)."""
    if ids is not None:
        ids = np.asarray(ids)
        rows = as_f32(E, "E", ndim=2)
        if ids.dtype.kind not in "iu" or ids.shape != (rows.shape[0],):
            raise ValueError(f"ids must hold one integer per row of E ({rows.shape[0]}), got {ids.dtype} {ids.shape}")
        _, counts = np.unique(ids, return_counts=True)
        if counts.min() != counts.max():
            raise ValueError(f"every id needs the same number of views; counts range {counts.min()}..{counts.max()}")
        if q is not None and int(q) != counts[0]:
            raise ValueError(f"ids give {counts[0]} views per sample but q = {q}")
        E, q = rows[np.argsort(ids, kind="stable")], int(counts[0])
    e, n, q, d = _views(E, q, "E")
    v = ctypes.c_double()
    spec = np.zeros(d)
    lib.sslk_lidar(ctx_handle(ctx), e.ctypes.data, n, q, d, float(delta), float(eps), ctypes.byref(v),
                   ptr(spec, ctypes.c_double))
    return (v.value, spec) if return_spectrum else v.value


def collapse_std(Z, normalize=False, per_dim=False, ctx=None):
    """Mean per-dimension std of Z (n x d); normalize=True first divides each
    row by its L2 norm (SimSiam's monitor).  per_dim=True: (mean, stds)."""
    z = as_f32(Z, "Z", ndim=2)
    v = ctypes.c_double()
    stds = np.zeros(z.shape[1])
    lib.sslk_collapse_std(ctx_handle(ctx), z.ctypes.data, z.shape[0], z.shape[1], int(bool(normalize)),
                          ctypes.byref(v), ptr(stds, ctypes.c_double))
    return (v.value, stds) if per_dim else v.value


def graph_variation(Z, edges, weights=None, ctx=None):
    """sum_e w_e |z_i - z_j|^2 / #edges over edges (E x 2 integer array)."""
    z = as_f32(Z, "Z", ndim=2)
    e = np.asarray(edges)
    if e.dtype.kind not in "iu" or e.ndim != 2 or e.shape[1] != 2:
        raise ValueError(f"edges must be an integer (E, 2) array, got {e.dtype} {e.shape}")
    src = np.ascontiguousarray(e[:, 0], dtype=np.int64)
    dst = np.ascontiguousarray(e[:, 1], dtype=np.int64)
    w = None
    if weights is not None:
        w = as_f32(weights, "weights", ndim=1)
        if w.size != src.size:
            raise ValueError(f"weights has {w.size} values for {src.size} edges")
    v = ctypes.c_double()
    lib.sslk_graph_variation(ctx_handle(ctx), z.ctypes.data, z.shape[0], z.shape[1], ptr(src, ctypes.c_int64),
                             ptr(dst, ctypes.c_int64), None if w is None else w.ctypes.data, src.size,
                             ctypes.byref(v))
    return v.value


def _model_input(model, X):
    x = as_f32(X, "X")
    n = x.shape[0] if x.ndim > 1 else 1
    return np.ascontiguousarray(x.reshape(n, -1)), n


def augmentation_variation(model, X, sigma=0.1, seed=0):
    """Mean over entries of (f(x) - f(x + sigma N(0, I)))^2, eval mode."""
    x, n = _model_input(model, X)
    v = ctypes.c_double()
    with hold(model):
        lib.sslk_augmentation_variation(model._h, x.ctypes.data, n, float(sigma), to_int(seed, "seed", "uint64"),
                                        ctypes.byref(v))
    return v.value


def dirichlet_energy(model, X, h=1e-3):
    """1/(n k d) sum_i |J f(x_i)|_F^2 by central finite differences, eval mode."""
    x, n = _model_input(model, X)
    v = ctypes.c_double()
    with hold(model):
        lib.sslk_dirichlet_energy(model._h, x.ctypes.data, n, float(h), ctypes.byref(v))
    return v.value


def ortho_penalty(Z, center=True, split_seed=None, ctx=None):
    """||Z^T Z / n - I||_F^2 (columns centred when center), or with split_seed
    the unbiased two-halves estimator on Z as given."""
    z = as_f32(Z, "Z", ndim=2)
    v = ctypes.c_double()
    if split_seed is None:
        lib.sslk_ortho_penalty(ctx_handle(ctx), z.ctypes.data, z.shape[0], z.shape[1], int(bool(center)),
                               ctypes.byref(v))
    else:
        lib.sslk_ortho_penalty_split(ctx_handle(ctx), z.ctypes.data, z.shape[0], z.shape[1],
                                     to_int(split_seed, "split_seed", "uint64"), ctypes.byref(v))
    return v.value


def vicreg_bound(W, b, Z, labels, Z1, Z2, complexity=0.0, delta=0.05, inv_weight=1.0, ctx=None):
    """Computable parts of the information-theoretic VICReg bound for a linear
    head (W: c x k, b: c or None) on labelled embeddings Z with labels and
    unlabelled pairs (Z1, Z2).  Returns a dict of the labelled parts."""
    w = as_f32(W, "W", ndim=2)
    c, k = w.shape
    bb = None if b is None else as_f32(b, "b", ndim=1)
    if bb is not None and bb.size != c:
        raise ValueError(f"b has {bb.size} values for {c} classes")
    z = as_f32(Z, "Z", ndim=2)
    y = as_i32(labels, "labels", ndim=1)
    z1 = as_f32(Z1, "Z1", ndim=2)
    z2 = as_f32(Z2, "Z2", ndim=2)
    if z.shape[1] != k or z1.shape[1] != k or z2.shape != z1.shape or y.size != z.shape[0]:
        raise ValueError(f"shapes disagree: W {w.shape}, Z {z.shape}, labels {y.shape}, Z1 {z1.shape}, "
                         f"Z2 {z2.shape}")
    r = _BoundReport()
    r.struct_size = ctypes.sizeof(r)
    lib.sslk_vicreg_bound(ctx_handle(ctx), w.ctypes.data, None if bb is None else bb.ctypes.data, c, k,
                          z.ctypes.data, ptr(y, ctypes.c_int32), z.shape[0], z1.ctypes.data, z2.ctypes.data,
                          z1.shape[0], float(inv_weight), float(complexity), float(delta), ctypes.byref(r))
    return {name: getattr(r, name) for name, _ in _BoundReport._fields_ if name != "struct_size"}
