"""Evaluation metrics: RankMe, alpha-ReQ, accuracy reports, ensembles and
factor error ratios (numpy in, numpy / dicts out).

Accuracies are fractions in [0, 1]; values that do not exist (the accuracy of
a class without samples) are NaN.
"""
import ctypes

import numpy as np

from ._lib import (Owner, also_holds, as_f32, as_i32, c_double_p, c_int64_p, c_uint8_p, ctx_handle, declare, lib, ptr,
                   setting_value, settings, to_int)

c_int32_p = ctypes.POINTER(ctypes.c_int32)
_vp = ctypes.c_void_p

declare("sslk_rankme", [_vp, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, c_double_p])
declare("sslk_rankme_covariance", [_vp, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, c_double_p])
declare("sslk_rankme_spectrum", [c_double_p, ctypes.c_size_t, ctypes.c_double, c_double_p])
declare("sslk_rankme_create", [_vp, ctypes.c_size_t, ctypes.POINTER(_vp)])
declare("sslk_rankme_destroy", [_vp], None)
declare("sslk_rankme_set_f64", [_vp, ctypes.c_int, ctypes.c_double])
declare("sslk_rankme_set_i64", [_vp, ctypes.c_int, ctypes.c_int64])
declare("sslk_rankme_update", [_vp, ctypes.c_void_p, ctypes.c_size_t])
declare("sslk_rankme_merge", [_vp, _vp])
declare("sslk_rankme_reset", [_vp])
declare("sslk_rankme_count", [_vp], ctypes.c_uint64)
declare("sslk_rankme_compute", [_vp, c_double_p, c_double_p])
declare("sslk_alpha_req", [_vp, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, c_double_p, c_double_p])
declare("sslk_argmax", [_vp, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, c_int32_p])
declare("sslk_accuracy_report", [_vp, c_int32_p, c_int32_p, ctypes.c_size_t, ctypes.c_size_t, c_int32_p,
                                 ctypes.c_size_t, ctypes.c_size_t, c_int32_p, c_int32_p, _vp, c_double_p,
                                 c_int64_p, c_int32_p, c_int32_p, c_double_p, c_int64_p])
declare("sslk_worst_k_tie_mean", [c_int64_p, c_int64_p, ctypes.c_size_t, ctypes.c_size_t, c_double_p, c_double_p,
                                  ctypes.POINTER(ctypes.c_size_t)])
declare("sslk_ensemble_predict", [_vp, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t,
                                  ctypes.c_int, c_int32_p, ctypes.c_void_p])
declare("sslk_ensemble_curve", [_vp, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t,
                                c_int32_p, ctypes.c_int, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_uint64,
                                c_double_p, c_double_p, c_double_p, c_double_p])
declare("sslk_factor_error_ratios", [_vp, c_uint8_p, ctypes.c_size_t, c_uint8_p, ctypes.c_size_t, c_double_p,
                                     c_double_p, c_double_p, c_int64_p, c_int64_p])

# sslk_rankme_setting / sslk_rankme_variant / sslk_rankme_method values
_COMBINE = {"prob": 0, "logit": 1, "vote": 2}


class _Summary(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("num_samples", ctypes.c_size_t),
                ("num_classes", ctypes.c_size_t), ("num_present", ctypes.c_size_t),
                ("num_absent", ctypes.c_size_t), ("k", ctypes.c_size_t), ("accuracy", ctypes.c_double),
                ("balanced_accuracy", ctypes.c_double), ("worst_k", ctypes.c_double), ("best_k", ctypes.c_double),
                ("worst_k_pooled", ctypes.c_double), ("num_groups", ctypes.c_size_t),
                ("worst_group", ctypes.c_double), ("minority_majority_gap", ctypes.c_double),
                ("minority_group", ctypes.c_int32), ("majority_group", ctypes.c_int32)]


def _matrix(Z):
    z = as_f32(Z, "Z", ndim=2)
    return z, z.shape[0], z.shape[1]


def rankme(Z, ctx=None):
    """RankMe of embeddings Z (n x d) by the paper's definition: singular
    values of raw Z, p = s / sum(s) + 1e-7, exp(entropy)."""
    z, n, d = _matrix(Z)
    v = ctypes.c_double()
    lib.sslk_rankme(ctx_handle(ctx), z.ctypes.data, n, d, ctypes.byref(v))
    return v.value


def rankme_covariance(Z, ctx=None):
    """Covariance-eigenvalue variant (eigenvalues of the centred covariance
    instead of singular values): NOT the paper's RankMe."""
    z, n, d = _matrix(Z)
    v = ctypes.c_double()
    lib.sslk_rankme_covariance(ctx_handle(ctx), z.ctypes.data, n, d, ctypes.byref(v))
    return v.value


def rankme_spectrum(s, eps=1e-7):
    """exp(entropy) of p = s / sum(s) + eps for a given non-negative spectrum."""
    a = np.ascontiguousarray(s, dtype=np.float64).ravel()
    v = ctypes.c_double()
    lib.sslk_rankme_spectrum(ptr(a, ctypes.c_double), a.size, float(eps), ctypes.byref(v))
    return v.value


class RankMe(Owner):
    """Streaming RankMe accumulator with O(d^2) memory.

    r = RankMe(d); r.update(batch) ...; r.value; r.singular_values
    variant="covariance" selects the covariance-eigenvalue variant (then
    .singular_values holds the covariance eigenvalues)."""

    _destroy_name = "sslk_rankme_destroy"

    def __init__(self, d, variant="singular", eps=1e-7, method="auto", ctx=None):
        self._adopt_ctx(ctx)
        self._ctx = ctx
        self.d = to_int(d, "d", "size_t")
        h = _vp()
        lib.sslk_rankme_create(ctx_handle(ctx), self.d, ctypes.byref(h))
        self._h = h
        info = settings("rankme")  # keys and value names from the library's table
        lib.sslk_rankme_set_f64(h, info["eps"]["key"], float(eps))
        for name, value in (("variant", variant), ("method", method)):
            lib.sslk_rankme_set_i64(h, info[name]["key"], setting_value(info[name], value, name))

    def update(self, Z):
        z = as_f32(Z, "Z", ndim=2)
        if z.shape[1] != self.d:
            raise ValueError(f"Z has {z.shape[1]} columns, the accumulator {self.d}")
        lib.sslk_rankme_update(self._h, z.ctypes.data, z.shape[0])
        return self

    @also_holds(lambda self, other: [other])
    def merge(self, other):
        lib.sslk_rankme_merge(self._h, other._h)
        return self

    def reset(self):
        lib.sslk_rankme_reset(self._h)

    @property
    def count(self):
        return lib.sslk_rankme_count(self._h)

    def compute(self):
        """(value, spectrum[d]) of everything accumulated."""
        v = ctypes.c_double()
        s = np.empty(self.d, dtype=np.float64)
        lib.sslk_rankme_compute(self._h, ctypes.byref(v), ptr(s, ctypes.c_double))
        return v.value, s

    @property
    def value(self):
        return self.compute()[0]

    @property
    def singular_values(self):
        return self.compute()[1]



def alpha_req(Z, return_r2=False, ctx=None):
    """alpha-ReQ: power-law decay of the centred covariance spectrum (weighted
    log-log fit over ranks 6..100).  With return_r2, (alpha, R^2)."""
    z, n, d = _matrix(Z)
    a, r2 = ctypes.c_double(), ctypes.c_double()
    lib.sslk_alpha_req(ctx_handle(ctx), z.ctypes.data, n, d, ctypes.byref(a), ctypes.byref(r2))
    return (a.value, r2.value) if return_r2 else a.value


def _predictions(logits_or_pred, ctx):
    a = np.asarray(logits_or_pred)
    if a.ndim == 2:
        lg = as_f32(a, "logits", ndim=2)
        pred = np.empty(lg.shape[0], dtype=np.int32)
        lib.sslk_argmax(ctx_handle(ctx), lg.ctypes.data, lg.shape[0], lg.shape[1], ptr(pred, ctypes.c_int32))
        return pred, lg.shape[1]
    if a.ndim != 1:
        raise ValueError(f"logits_or_pred must be 1-D predictions or 2-D logits, got shape {a.shape}")
    return as_i32(a, "pred"), None


# Inferred class / group counts (largest id + 1) size the per-class arrays the
# report returns: an id above this is taken for a corrupted input, not a
# million-class problem (pass num_classes to mean it), as in `sslkit accuracy`.
MAX_INFERRED_IDS = 1 << 20


def _inferred_count(*arrays_and_names):
    top = -1
    for a, name in zip(arrays_and_names[::2], arrays_and_names[1::2]):
        if a.size:
            i = int(np.argmax(a))
            if int(a[i]) >= MAX_INFERRED_IDS:
                raise ValueError(f"{name}[{i}] = {int(a[i])}: ids inferred from the data must be below "
                                 f"{MAX_INFERRED_IDS}; pass num_classes to size the report explicitly")
            top = max(top, int(a[i]))
    return top + 1


def accuracy_report(logits_or_pred, labels, groups=None, k=10, num_classes=None, class_set=None, ties="lower_id",
                    ctx=None):
    """Accuracy, per-class and per-group accuracy, worst-k / best-k class
    accuracy (unweighted mean of the k lowest / highest per-class
    accuracies) and the pooled worst-k accuracy.

    class_set: (worst_ids, best_ids) or an earlier report (its worst_classes /
    best_classes) to score fixed class sets chosen on a reference model.
    ties: "lower_id" (default: classes tied at the k boundary enter by lower id) or
    "mean" (the tied classes share the remaining slots equally: worst_k_pooled from
    sslk_worst_k_tie_mean, plus "worst_k_num_tied"; worst_k is the same either way).
    Returns a dict; absent classes are listed in "absent_classes" and have
    NaN accuracy."""
    pred, c = _predictions(logits_or_pred, ctx)
    lab = as_i32(labels, "labels", ndim=1)
    if lab.shape[0] != pred.shape[0]:
        raise ValueError(f"labels has {lab.shape[0]} entries, predictions {pred.shape[0]}")
    if num_classes is not None:
        C = to_int(num_classes, "num_classes", "size_t")
    elif c is not None:
        C = c
    else:
        C = _inferred_count(lab, "labels", pred, "predictions")
    n = lab.shape[0]
    g = None
    G = 0
    if groups is not None:
        g = as_i32(groups, "groups", ndim=1)
        if g.shape[0] != n:
            raise ValueError(f"groups has {g.shape[0]} entries, labels {n}")
        G = _inferred_count(g, "groups") if n else 0
    fw = fb = None
    if class_set is not None:
        if isinstance(class_set, dict):
            class_set = (class_set["worst_classes"], class_set["best_classes"])
        fw = as_i32(class_set[0], "class_set[0]", ndim=1)
        fb = as_i32(class_set[1], "class_set[1]", ndim=1)
        if fw.size != k or fb.size != k:
            raise ValueError(f"class_set must hold k = {k} worst and k best class ids")
    s = _Summary()
    s.struct_size = ctypes.sizeof(_Summary)
    cacc = np.empty(C, dtype=np.float64)
    ccnt = np.empty(C, dtype=np.int64)
    worst = np.empty(max(k, 1), dtype=np.int32)
    best = np.empty(max(k, 1), dtype=np.int32)
    gacc = np.empty(max(G, 1), dtype=np.float64)
    gcnt = np.empty(max(G, 1), dtype=np.int64)
    i32 = ctypes.c_int32
    lib.sslk_accuracy_report(ctx_handle(ctx), ptr(pred, i32), ptr(lab, i32), n, C,
                             ptr(g, i32) if g is not None else None, G, to_int(k, "k", "size_t"),
                             ptr(fw, i32) if fw is not None else None, ptr(fb, i32) if fb is not None else None,
                             ctypes.byref(s), ptr(cacc, ctypes.c_double), ptr(ccnt, ctypes.c_int64),
                             ptr(worst, i32), ptr(best, i32), ptr(gacc, ctypes.c_double), ptr(gcnt, ctypes.c_int64))
    out = {
        "num_samples": s.num_samples, "num_classes": s.num_classes, "num_present": s.num_present,
        "k": s.k, "accuracy": s.accuracy, "balanced_accuracy": s.balanced_accuracy,
        "worst_k": s.worst_k, "best_k": s.best_k, "worst_k_pooled": s.worst_k_pooled,
        "class_accuracy": cacc, "class_count": ccnt,
        "absent_classes": [int(i) for i in np.flatnonzero(ccnt == 0)],
        "worst_classes": worst[:k].copy(), "best_classes": best[:k].copy(),
    }
    if ties not in ("lower_id", "mean"):
        raise ValueError(f"ties must be 'lower_id' or 'mean', got {ties!r}")
    if ties == "mean" and class_set is None and k > 0:
        correct = np.rint(np.nan_to_num(cacc) * ccnt).astype(np.int64)
        wk, wp, nt = ctypes.c_double(), ctypes.c_double(), ctypes.c_size_t()
        lib.sslk_worst_k_tie_mean(ptr(correct, ctypes.c_int64), ptr(ccnt, ctypes.c_int64), C, k,
                                  ctypes.byref(wk), ctypes.byref(wp), ctypes.byref(nt))
        out.update({"worst_k": wk.value, "worst_k_pooled": wp.value, "worst_k_num_tied": nt.value})
    if g is not None:
        out.update({"group_accuracy": gacc[:G].copy(), "group_count": gcnt[:G].copy(),
                    "worst_group": s.worst_group, "minority_group": s.minority_group,
                    "majority_group": s.majority_group, "minority_majority_gap": s.minority_majority_gap})
    return out


def _stack(list_of_logits):
    L = np.ascontiguousarray(np.stack([np.asarray(x, dtype=np.float32) for x in list_of_logits]))
    if L.ndim != 3:
        raise ValueError(f"each member's logits must be 2-D (n x c), got stacked shape {L.shape}")
    return L


def ensemble_predict(list_of_logits, combine="prob", ctx=None):
    """(pred[n], scores[n, c]) of the ensemble; combine in "prob", "logit", "vote"."""
    L = _stack(list_of_logits)
    m, n, c = L.shape
    pred = np.empty(n, dtype=np.int32)
    scores = np.empty((n, c), dtype=np.float32)
    lib.sslk_ensemble_predict(ctx_handle(ctx), L.ctypes.data, m, n, c, _COMBINE[combine],
                              ptr(pred, ctypes.c_int32), scores.ctypes.data)
    return pred, scores


def ensemble_curve(list_of_logits, labels, k=10, combine="prob", orders=10, seed=0, ctx=None):
    """Metrics of ensembles of 1..M members, averaged over `orders` random
    member orders drawn from `seed`.  Returns a dict of arrays indexed by
    ensemble size - 1 ("members" holds the sizes)."""
    L = _stack(list_of_logits)
    m, n, c = L.shape
    lab = as_i32(labels, "labels", ndim=1)
    if lab.shape[0] != n:
        raise ValueError(f"labels has {lab.shape[0]} entries, logits {n} rows")
    outs = [np.empty(m, dtype=np.float64) for _ in range(4)]
    lib.sslk_ensemble_curve(ctx_handle(ctx), L.ctypes.data, m, n, c, ptr(lab, ctypes.c_int32), _COMBINE[combine],
                            to_int(k, "k", "size_t"), to_int(orders, "orders", "size_t"), to_int(seed, "seed", "uint64"),
                            *[ptr(o, ctypes.c_double) for o in outs])
    return {"members": np.arange(1, m + 1), "accuracy": outs[0], "balanced_accuracy": outs[1],
            "worst_k": outs[2], "best_k": outs[3]}


def factor_error_ratios(correct, factors, names=None, ctx=None):
    """ImageNet-X error ratios: correct[n] (0/1), factors[n, F] (0/1).
    Returns {"accuracy", "worst_factor", "factors": {name: {"accuracy",
    "error_ratio", "count"}}}."""
    cor = np.ascontiguousarray(np.asarray(correct).astype(np.uint8).ravel())
    f = np.asarray(factors)
    if f.ndim != 2 or f.shape[0] != cor.size:
        raise ValueError(f"factors must be {cor.size} x F, got shape {f.shape}")
    f = np.ascontiguousarray(f.astype(np.uint8))
    F = f.shape[1]
    names = list(names) if names is not None else [f"factor{i}" for i in range(F)]
    if len(names) != F:
        raise ValueError(f"{len(names)} names for {F} factors")
    acc = ctypes.c_double()
    fa = np.empty(F)
    er = np.empty(F)
    cnt = np.empty(F, dtype=np.int64)
    worst = ctypes.c_int64()
    lib.sslk_factor_error_ratios(ctx_handle(ctx), ptr(cor, ctypes.c_uint8), cor.size, ptr(f, ctypes.c_uint8), F,
                                 ctypes.byref(acc), ptr(fa, ctypes.c_double), ptr(er, ctypes.c_double),
                                 ptr(cnt, ctypes.c_int64), ctypes.byref(worst))
    return {"accuracy": acc.value, "worst_factor": names[worst.value] if worst.value >= 0 else None,
            "factors": {nm: {"accuracy": fa[i], "error_ratio": er[i], "count": int(cnt[i])}
                        for i, nm in enumerate(names)}}
