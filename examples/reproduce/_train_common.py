"""Shared pieces of the training reproductions (rankme_selection.py,
pmsn_longtail.py, entropy_estimators.py): Fashion-MNIST splits, one short
pre-training run with its frozen-feature evaluation, rank correlations and
mean / spread summaries.

Nothing here is a library API: the programs import it by path."""
import ctypes
import time

import numpy as np

import sslkit
from sslkit._lib import declare, lib

declare("sslk_trainer_projector", [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)])
declare("sslk_model_clone", [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)])


def fmnist(split):
    """The Fashion-MNIST split as a Dataset and its labels (int32)."""
    ds = sslkit.Dataset.open("fashion-mnist", split=split)
    return ds, np.asarray(ds.labels, dtype=np.int32)


def disjoint_splits(labels, sizes, seed):
    """Disjoint random index sets of the given sizes drawn from the rows of
    labels (a training split): e.g. pre-train / probe-fit / held-out selection."""
    if sum(sizes) > labels.size:
        raise ValueError(f"splits of {sum(sizes)} rows from {labels.size}")
    perm = np.random.default_rng(seed).permutation(labels.size)
    out, at = [], 0
    for s in sizes:
        out.append(np.sort(perm[at:at + s]))
        at += s
    return out


def pretrain(method, data, epochs, batch, seed, projector=None, **settings):
    """One pre-training run on Dataset data; returns (trainer, seconds, final loss)."""
    t0 = time.perf_counter()
    tr = sslkit.Trainer(method, data=data, projector=projector, epochs=epochs, batch=batch, seed=seed,
                        init_seed=seed, **settings)
    tr.fit()
    hist = tr.history
    return tr, time.perf_counter() - t0, float(hist[-1]["loss"]) if hist else float("nan")


def project(tr, z):
    """The trainer's projector applied to encoder outputs z (inference mode):
    the "embeddings" on which the RankMe paper computes the rank.  Runs a
    clone, so the trainer's own projector state is untouched."""
    p, q = ctypes.c_void_p(), ctypes.c_void_p()
    lib.sslk_trainer_projector(tr._h, ctypes.byref(p))
    lib.sslk_model_clone(p, ctypes.byref(q))
    return sslkit.Model(q, tr._ctx).forward(z)


def probe(z_fit, y_fit, evals, probe_iter):
    """Linear-probe and kNN (k = 20, cosine, t = 0.07) top-1 of each (z, y) in
    evals after fitting once on (z_fit, y_fit); the probe's L2 is chosen on a
    held-out part of the fit rows.  Returns [(probe top-1, kNN top-1), ...]."""
    lp = sslkit.LinearProbe(max_iter=probe_iter).fit(z_fit, y_fit, 10)
    knn = sslkit.KNN(k=20, t=0.07).fit(z_fit, y_fit, 10)
    return [(float(lp.evaluate(z, y)), float(knn.evaluate(z, y)["top1"])) for z, y in evals]


def ranks(a):
    """Average ranks (1-based, ties share their mean rank)."""
    a = np.asarray(a, dtype=np.float64)
    order = np.argsort(a, kind="mergesort")
    r = np.empty(a.size)
    r[order] = np.arange(1, a.size + 1)
    for v in np.unique(a):
        tie = a == v
        if tie.sum() > 1:
            r[tie] = r[tie].mean()
    return r


def spearman(a, b):
    """Spearman's rho: Pearson correlation of the average ranks."""
    ra, rb = ranks(a), ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    den = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


def kendall(a, b):
    """Kendall's tau-b (ties in either variable corrected), by counting pairs."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    i, j = np.triu_indices(a.size, 1)
    sa, sb = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    n0 = i.size
    n1, n2 = (sa == 0).sum(), (sb == 0).sum()  # tied pairs in a, in b
    den = np.sqrt(float(n0 - n1) * float(n0 - n2))
    return float((sa * sb).sum() / den) if den > 0 else float("nan")


def mean_spread(v):
    """(mean, sample std, min, max) of a list of numbers."""
    v = np.asarray(v, dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0, float(v.min()), float(v.max())
