"""Evaluation of frozen features (kNN, linear probe) and the training driver.

    >>> acc = sslkit.knn_eval(train_z, train_y, test_z, test_y, k=20, t=0.07)
    >>> acc["top1"], acc["top5"]
    >>> res = sslkit.linear_probe(train_z, train_y, test_z, test_y)
    >>> res["top1"], res["l2"]
"""
import ctypes

import numpy as np

from ._lib import as_f32, as_i32, c_double_p, c_float_p, ctx_handle, declare, lib, ptr

_vp = ctypes.c_void_p
_sz = ctypes.c_size_t
_i32p = ctypes.POINTER(ctypes.c_int32)

declare("sslk_knn_create", [_vp, ctypes.POINTER(_vp)])
declare("sslk_knn_destroy", [_vp], None)
declare("sslk_knn_set_f64", [_vp, ctypes.c_int, ctypes.c_double])
declare("sslk_knn_set_i64", [_vp, ctypes.c_int, ctypes.c_int64])
declare("sslk_knn_get_f64", [_vp, ctypes.c_int, c_double_p])
declare("sslk_knn_fit", [_vp, c_float_p, _i32p, _sz, _sz, _sz])
declare("sslk_knn_predict", [_vp, c_float_p, _sz, _sz, _i32p, _sz, c_float_p])
declare("sslk_knn_evaluate", [_vp, c_float_p, _i32p, _sz, _sz, c_double_p, c_double_p])
declare("sslk_probe_create", [_vp, ctypes.POINTER(_vp)])
declare("sslk_probe_destroy", [_vp], None)
declare("sslk_probe_set_f64", [_vp, ctypes.c_int, ctypes.c_double])
declare("sslk_probe_set_i64", [_vp, ctypes.c_int, ctypes.c_int64])
declare("sslk_probe_get_f64", [_vp, ctypes.c_int, c_double_p])
declare("sslk_probe_fit", [_vp, c_float_p, _i32p, _sz, _sz, _sz])
declare("sslk_probe_chosen_l2", [_vp, c_double_p])
declare("sslk_probe_predict", [_vp, c_float_p, _sz, _sz, _i32p, c_float_p])
declare("sslk_probe_evaluate", [_vp, c_float_p, _i32p, _sz, _sz, c_double_p])

KNN_K, KNN_TEMPERATURE, KNN_WEIGHTING, KNN_DISTANCE, KNN_MEMORY_MB, KNN_EPS = range(2100, 2106)
PROBE_L2, PROBE_VAL_FRACTION, PROBE_MAX_ITER, PROBE_SEARCH_ITER, PROBE_STANDARDIZE, PROBE_SEED, \
    PROBE_TOL = range(2200, 2207)
_WEIGHTING = {"exp": 0, "inverse": 1, "uniform": 2}
_DISTANCE = {"cosine": 0, "euclidean": 1}


def _xy(z, y, name):
    z = as_f32(z, name + "_z", ndim=2)
    y = as_i32(y, name + "_y", ndim=1)
    if y.shape[0] != z.shape[0]:
        raise ValueError(f"{name}_y has {y.shape[0]} labels for {z.shape[0]} rows")
    return z, y


class KNN:
    """Weighted kNN classifier (cosine, k=20, exp(s/0.07) votes by default)."""

    def __init__(self, k=20, t=0.07, weighting="exp", distance="cosine", memory_mb=256, ctx=None):
        h = _vp()
        lib.sslk_knn_create(ctx_handle(ctx), ctypes.byref(h))
        self._h = h
        lib.sslk_knn_set_i64(h, KNN_K, int(k))
        lib.sslk_knn_set_f64(h, KNN_TEMPERATURE, float(t))
        lib.sslk_knn_set_i64(h, KNN_WEIGHTING, _WEIGHTING[weighting])
        lib.sslk_knn_set_i64(h, KNN_DISTANCE, _DISTANCE[distance])
        lib.sslk_knn_set_i64(h, KNN_MEMORY_MB, int(memory_mb))
        self.nclasses = None

    def fit(self, z, y, nclasses=None):
        z, y = _xy(z, y, "train")
        self.nclasses = int(nclasses if nclasses is not None else y.max() + 1)
        lib.sslk_knn_fit(self._h, ptr(z, ctypes.c_float), ptr(y, ctypes.c_int32), z.shape[0],
                         z.shape[1], self.nclasses)
        return self

    def scores(self, q):
        """Summed votes per class, (m, nclasses)."""
        q = as_f32(q, "q", ndim=2)
        out = np.empty((q.shape[0], self.nclasses), np.float32)
        lib.sslk_knn_predict(self._h, ptr(q, ctypes.c_float), q.shape[0], q.shape[1], None, 0,
                             ptr(out, ctypes.c_float))
        return out

    def predict(self, q, ntop=1):
        q = as_f32(q, "q", ndim=2)
        out = np.empty((q.shape[0], ntop), np.int32)
        lib.sslk_knn_predict(self._h, ptr(q, ctypes.c_float), q.shape[0], q.shape[1],
                             ptr(out, ctypes.c_int32), ntop, None)
        return out[:, 0] if ntop == 1 else out

    def evaluate(self, q, y):
        q, y = _xy(q, y, "test")
        t1, t5 = ctypes.c_double(), ctypes.c_double()
        lib.sslk_knn_evaluate(self._h, ptr(q, ctypes.c_float), ptr(y, ctypes.c_int32), q.shape[0],
                              q.shape[1], ctypes.byref(t1), ctypes.byref(t5))
        return {"top1": t1.value, "top5": t5.value}

    def __del__(self):
        h = getattr(self, "_h", None)
        if h is not None and h.value:
            lib.sslk_knn_destroy(h)
            self._h = None


def knn_eval(train_z, train_y, test_z, test_y, k=20, t=0.07, weighting="exp", distance="cosine",
             nclasses=None, ctx=None):
    """kNN top-1 / top-5 accuracy of test features against train features:
    {"top1", "top5", "k", "t", "weighting", "distance"}."""
    train_y = np.asarray(train_y)
    nc = nclasses if nclasses is not None else int(max(np.max(train_y), np.max(test_y)) + 1)
    knn = KNN(k=k, t=t, weighting=weighting, distance=distance, ctx=ctx).fit(train_z, train_y, nc)
    res = knn.evaluate(test_z, test_y)
    res.update(k=k, t=t, weighting=weighting, distance=distance)
    return res


class LinearProbe:
    """Multinomial logistic regression on frozen features (standardised,
    L2 chosen on a held-out split, L-BFGS).  l2=None chooses from the grid."""

    def __init__(self, l2=None, val_fraction=0.1, max_iter=300, search_iter=100, standardize=True,
                 seed=0, tol=1e-5, ctx=None):
        h = _vp()
        lib.sslk_probe_create(ctx_handle(ctx), ctypes.byref(h))
        self._h = h
        lib.sslk_probe_set_f64(h, PROBE_L2, -1.0 if l2 is None else float(l2))
        lib.sslk_probe_set_f64(h, PROBE_VAL_FRACTION, float(val_fraction))
        lib.sslk_probe_set_i64(h, PROBE_MAX_ITER, int(max_iter))
        lib.sslk_probe_set_i64(h, PROBE_SEARCH_ITER, int(search_iter))
        lib.sslk_probe_set_i64(h, PROBE_STANDARDIZE, int(bool(standardize)))
        lib.sslk_probe_set_i64(h, PROBE_SEED, int(seed))
        lib.sslk_probe_set_f64(h, PROBE_TOL, float(tol))
        self.nclasses = None

    def fit(self, z, y, nclasses=None):
        z, y = _xy(z, y, "train")
        self.nclasses = int(nclasses if nclasses is not None else y.max() + 1)
        lib.sslk_probe_fit(self._h, ptr(z, ctypes.c_float), ptr(y, ctypes.c_int32), z.shape[0],
                           z.shape[1], self.nclasses)
        return self

    @property
    def l2(self):
        v = ctypes.c_double()
        lib.sslk_probe_chosen_l2(self._h, ctypes.byref(v))
        return v.value

    def logits(self, q):
        q = as_f32(q, "q", ndim=2)
        out = np.empty((q.shape[0], self.nclasses), np.float32)
        lib.sslk_probe_predict(self._h, ptr(q, ctypes.c_float), q.shape[0], q.shape[1], None,
                               ptr(out, ctypes.c_float))
        return out

    def predict(self, q):
        q = as_f32(q, "q", ndim=2)
        out = np.empty(q.shape[0], np.int32)
        lib.sslk_probe_predict(self._h, ptr(q, ctypes.c_float), q.shape[0], q.shape[1],
                               ptr(out, ctypes.c_int32), None)
        return out

    def evaluate(self, q, y):
        q, y = _xy(q, y, "test")
        t1 = ctypes.c_double()
        lib.sslk_probe_evaluate(self._h, ptr(q, ctypes.c_float), ptr(y, ctypes.c_int32), q.shape[0],
                                q.shape[1], ctypes.byref(t1))
        return t1.value

    def __del__(self):
        h = getattr(self, "_h", None)
        if h is not None and h.value:
            lib.sslk_probe_destroy(h)
            self._h = None


def linear_probe(train_z, train_y, test_z, test_y, l2=None, nclasses=None, ctx=None, **kw):
    """Linear-probe top-1 accuracy: {"top1", "l2"} (l2 = the penalty used)."""
    train_y = np.asarray(train_y)
    nc = nclasses if nclasses is not None else int(max(np.max(train_y), np.max(test_y)) + 1)
    p = LinearProbe(l2=l2, ctx=ctx, **kw).fit(train_z, train_y, nc)
    return {"top1": p.evaluate(test_z, test_y), "l2": p.l2}
