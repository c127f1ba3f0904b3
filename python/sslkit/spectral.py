"""Spectral embeddings (minimal-variations paper): sparse kNN / dense RBF
graphs, Laplacian eigenmaps and diffusion maps (ARPACK), and kernel Galerkin
Laplacian eigenfunctions with out-of-sample evaluation.  Experimental C API
(sslk_spectral_*); see docs/spectral.md for the conventions.

Settings are passed as keywords with the names of the C table (domain
"spectral"): neighbors, weights ("rbf", "self_tuning", "binary"), sigma,
symmetrize ("union", "mutual"), graph ("knn", "dense"), laplacian
("unnormalized", "symmetric", "random_walk"), dense_max_n, drop_first, tol,
max_iter, ncv, memory_mb.
"""
import ctypes

import numpy as np

from ._lib import Owner, as_f32, as_f64, c_double_p, declare, lib, setting_value, settings, to_int

_vp = ctypes.c_void_p
_sz = ctypes.c_size_t
c_int64_p = ctypes.POINTER(ctypes.c_int64)
c_float_p = ctypes.POINTER(ctypes.c_float)

declare("sslk_spectral_create", [_vp, ctypes.POINTER(_vp)])
declare("sslk_spectral_destroy", [_vp], None)
declare("sslk_spectral_set_f64", [_vp, ctypes.c_int, ctypes.c_double])
declare("sslk_spectral_set_i64", [_vp, ctypes.c_int, ctypes.c_int64])
declare("sslk_spectral_graph", [_vp, _vp, _sz, _sz])
declare("sslk_spectral_graph_size", [_vp, ctypes.POINTER(_sz), ctypes.POINTER(_sz)])
declare("sslk_spectral_graph_csr", [_vp, _vp, _vp, _vp])
declare("sslk_spectral_eigenmaps", [_vp, _vp, _sz, _sz, _sz, _vp, c_double_p])
declare("sslk_spectral_diffusion_map", [_vp, _vp, _sz, _sz, _sz, ctypes.c_double, _vp, c_double_p])
declare("sslk_spectral_galerkin_fit", [_vp, _vp, _sz, _sz, _sz, _sz, c_double_p, c_double_p])
declare("sslk_spectral_galerkin_eval", [_vp, _vp, _sz, _sz, c_double_p, _sz, _vp, _sz, _vp])


class _Spectral(Owner):
    """One sslk_spectral handle configured from keyword settings."""

    _destroy_name = "sslk_spectral_destroy"

    def __init__(self, ctx=None, **kw):
        c = self._adopt_ctx(ctx)
        h = _vp()
        lib.sslk_spectral_create(c.handle, ctypes.byref(h))
        self._h = h
        info = settings("spectral")
        for name, value in kw.items():
            if value is None:
                continue
            if name not in info:
                raise TypeError(f"unknown spectral setting {name!r}; settings are {sorted(info)}")
            v = setting_value(info[name], value, name)
            if info[name]["type"] is int:
                lib.sslk_spectral_set_i64(h, info[name]["key"], v)
            else:
                lib.sslk_spectral_set_f64(h, info[name]["key"], v)

    def graph(self, x):
        lib.sslk_spectral_graph(self._h, x.ctypes.data, x.shape[0], x.shape[1])
        n, nnz = _sz(), _sz()
        lib.sslk_spectral_graph_size(self._h, ctypes.byref(n), ctypes.byref(nnz))
        indptr = np.empty(n.value + 1, np.int64)
        indices = np.empty(nnz.value, np.int64)
        w = np.empty(nnz.value, np.float32)
        lib.sslk_spectral_graph_csr(self._h, indptr.ctypes.data, indices.ctypes.data, w.ctypes.data)
        return indptr, indices, w

    def eigenmaps(self, x, k):
        emb = np.empty((x.shape[0], k), np.float32)
        ev = np.empty(k, np.float64)
        lib.sslk_spectral_eigenmaps(self._h, x.ctypes.data, x.shape[0], x.shape[1], k, emb.ctypes.data,
                                    ev.ctypes.data_as(c_double_p))
        return emb, ev

    def diffusion(self, x, k, t):
        out = np.empty((x.shape[0], k), np.float32)
        mu = np.empty(k, np.float64)
        lib.sslk_spectral_diffusion_map(self._h, x.ctypes.data, x.shape[0], x.shape[1], k, float(t),
                                        out.ctypes.data, mu.ctypes.data_as(c_double_p))
        return out, mu

    def galerkin_fit(self, x, p, k):
        alpha = np.empty((p, k), np.float64)
        ev = np.empty(k, np.float64)
        lib.sslk_spectral_galerkin_fit(self._h, x.ctypes.data, x.shape[0], x.shape[1], p, k,
                                       alpha.ctypes.data_as(c_double_p), ev.ctypes.data_as(c_double_p))
        return alpha, ev

    def galerkin_eval(self, y, alpha, q):
        out = np.empty((q.shape[0], alpha.shape[1]), np.float32)
        lib.sslk_spectral_galerkin_eval(self._h, y.ctypes.data, y.shape[0], y.shape[1],
                                        alpha.ctypes.data_as(c_double_p), alpha.shape[1], q.ctypes.data,
                                        q.shape[0], out.ctypes.data)
        return out


def _run(method, X, *args, ctx=None, **kw):
    x = as_f32(X, "X", ndim=2)
    sp = _Spectral(ctx, **kw)
    try:
        return getattr(sp, method)(x, *args)
    finally:
        sp.close()


def knn_graph(X, neighbors=10, ctx=None, **settings_kw):
    """The symmetric graph of X (n x d) as CSR arrays (indptr[n + 1] int64,
    indices[nnz] int64, weights[nnz] float32), no self-loops; e.g.
    scipy.sparse.csr_matrix((weights, indices, indptr)).  graph="dense" gives
    every pair with rbf weights (n <= dense_max_n)."""
    return _run("graph", X, ctx=ctx, neighbors=neighbors, **settings_kw)


def laplacian_eigenmaps(X, k=2, neighbors=10, laplacian="symmetric", ctx=None, **settings_kw):
    """Laplacian eigenmaps of X (n x d): (embedding n x k float32, Laplacian
    eigenvalues k ascending).  The trivial first eigenvector is skipped unless
    drop_first=False.  Eigenvectors come from ARPACK; each is sign-fixed (its
    largest-magnitude entry is positive)."""
    k = to_int(k, "k", "size_t")
    return _run("eigenmaps", X, k, ctx=ctx, neighbors=neighbors, laplacian=laplacian, **settings_kw)


def diffusion_map(X, k=2, t=1.0, neighbors=10, ctx=None, **settings_kw):
    """Diffusion-map coordinates of X at time t: (n x k float32, eigenvalues
    mu of P = D^-1 W, k descending).  Euclidean distances between rows are the
    diffusion distances at time t truncated to k components."""
    k = to_int(k, "k", "size_t")
    return _run("diffusion", X, k, float(t), ctx=ctx, neighbors=neighbors, **settings_kw)


def diffusion_distances(X, k=2, t=1.0, neighbors=10, ctx=None, **settings_kw):
    """n x n diffusion distances D_t(x_i, x_j) (float64) from diffusion_map."""
    c, _ = diffusion_map(X, k, t, neighbors, ctx=ctx, **settings_kw)
    c = c.astype(np.float64)
    sq = (c * c).sum(1)
    return np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * c @ c.T, 0))


class GalerkinEigenfunctions:
    """Fitted kernel Galerkin Laplacian eigenfunctions: phi(q) = K(q, Y) alpha
    with Y the representers (first p rows of the training X)."""

    def __init__(self, representers, alpha, eigenvalues, sigma, ctx=None):
        self.representers, self.alpha, self.eigenvalues, self.sigma = representers, alpha, eigenvalues, sigma
        self._ctx = ctx

    def transform(self, Q):
        """Evaluate the k eigenfunctions at new points Q (m x d) -> m x k float32."""
        q = as_f32(Q, "Q", ndim=2)
        if q.shape[1] != self.representers.shape[1]:
            raise ValueError(f"Q has {q.shape[1]} columns, the representers {self.representers.shape[1]}")
        sp = _Spectral(self._ctx, sigma=self.sigma)
        try:
            return sp.galerkin_eval(self.representers, as_f64(self.alpha, "alpha", ndim=2), q)
        finally:
            sp.close()

    __call__ = transform


def galerkin_eigenfunctions(X, k=2, p=None, sigma=1.0, ctx=None, **settings_kw):
    """Kernel Galerkin Laplacian eigenfunctions of X (n x d) with Gaussian
    kernel exp(-|x - y|^2 / sigma^2) on the first p rows (default min(n, 1000)):
    a GalerkinEigenfunctions with .alpha (p x k), .eigenvalues (k ascending),
    .transform(Q) for out-of-sample points."""
    x = as_f32(X, "X", ndim=2)
    p = min(x.shape[0], 1000) if p is None else to_int(p, "p", "size_t")
    k = to_int(k, "k", "size_t")
    sp = _Spectral(ctx, sigma=sigma, **settings_kw)
    try:
        alpha, ev = sp.galerkin_fit(x, p, k)
    finally:
        sp.close()
    return GalerkinEigenfunctions(np.array(x[:p]), alpha, ev, float(sigma), ctx)
