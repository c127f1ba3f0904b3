"""Tiny-scale runs of the training reproductions 1, 3, 5 (examples/reproduce):
the tables have their columns and finite accuracies, the rank correlations
equal scipy's (and a hand-counted case), the selections and summaries are the
ones the rows imply, and the long-tailed subset has the stated power-law class
sizes."""
import math

import numpy as np
import pytest


from reproduce_util import _csv, _figures, _keep_threads, _load  # noqa: F401 (_keep_threads: autouse fixture)


def _acc_ok(v):
    return math.isfinite(v) and 0.0 <= v <= 1.0


def test_rank_correlations_hand_counted():
    T = _load("_train_common")
    a, b = [1, 2, 3, 4], [1, 3, 2, 4]
    # 6 pairs, 5 concordant, 1 discordant: tau = 4/6; d = (0, 1, 1, 0): rho = 1 - 6*2/(4*15) = 0.8
    assert T.kendall(a, b) == pytest.approx(4 / 6)
    assert T.spearman(a, b) == pytest.approx(0.8)
    assert T.spearman(a, a[::-1]) == pytest.approx(-1.0)
    # ties: average ranks (1, 2.5, 2.5, 4) vs (1, 2, 3, 4); tau-b = 5 / sqrt(5 * 6)
    assert T.kendall([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(5 / math.sqrt(30))
    r = np.array([1, 2.5, 2.5, 4]) - 2.5
    s = np.arange(1, 5) - 2.5
    assert T.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx((r @ s) / math.sqrt((r @ r) * (s @ s)))


def test_rank_correlations_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    T = _load("_train_common")
    rng = np.random.default_rng(3)
    for _ in range(5):
        a = rng.integers(0, 6, 15).astype(float)  # with ties
        b = a + rng.normal(0, 2, 15)
        assert T.spearman(a, b) == pytest.approx(stats.spearmanr(a, b)[0], abs=1e-12)
        assert T.kendall(a, b) == pytest.approx(stats.kendalltau(a, b)[0], abs=1e-12)


def test_rankme_selection_tiny(tmp_path):
    mod = _load("rankme_selection")
    rows, summ = mod.main(["--tiny", "--out", str(tmp_path), "--threads", "1"])
    assert len(rows) == 4
    got = _csv(tmp_path / "rankme_selection.csv")
    assert list(got[0]) == mod.COLUMNS and len(got) == 4
    for r in rows:
        assert 1.0 <= r["rankme"] <= r["proj_width"] and 1.0 <= r["rankme_repr"] <= 512.0 and math.isfinite(r["loss"])
        assert all(_acc_ok(r[c]) for c in ("heldout_probe", "heldout_knn", "test_probe", "test_knn"))
    rk = np.array([r["rankme"] for r in rows])
    ho = np.array([r["heldout_probe"] for r in rows])
    te = np.array([r["test_probe"] for r in rows])
    # the selections are argmax of RankMe and of the held-out (training split) accuracy, never the test one
    assert summ["rankme_pick"] == int(np.argmax(rk)) and summ["rankme_pick_test"] == te[np.argmax(rk)]
    assert summ["oracle_pick"] == int(np.argmax(ho)) and summ["oracle_pick_test"] == te[np.argmax(ho)]
    assert summ["gap"] == pytest.approx(te[np.argmax(ho)] - te[np.argmax(rk)])
    stats = pytest.importorskip("scipy.stats")
    assert summ["spearman_heldout"] == pytest.approx(stats.spearmanr(rk, ho)[0], abs=1e-12, nan_ok=True)
    assert summ["kendall_heldout"] == pytest.approx(stats.kendalltau(rk, ho)[0], abs=1e-12, nan_ok=True)
    assert summ["spearman_test"] == pytest.approx(stats.spearmanr(rk, te)[0], abs=1e-12, nan_ok=True)
    _figures(tmp_path, "rankme_selection")


def test_pmsn_class_sizes_and_split():
    mod = _load("pmsn_longtail")
    assert list(mod.class_sizes(3000, 1.0)) == [3000, 1500, 1000, 750, 600, 500, 429, 375, 333, 300]
    assert list(mod.class_sizes(100, 2.0)) == [100, 25, 11, 6, 4, 3, 2, 2, 1, 1]
    labels = np.repeat(np.arange(10), 50)
    sizes = mod.class_sizes(40, 1.0)
    pre, fit, rank_class = mod.long_tailed(labels, sizes, 5, 0)
    assert np.intersect1d(pre, fit).size == 0
    assert [int((labels[pre] == c).sum()) for c in rank_class] == list(sizes)
    assert np.all(np.bincount(labels[fit], minlength=10) == 5)
    with pytest.raises(ValueError):
        mod.long_tailed(labels, mod.class_sizes(60, 1.0), 5, 0)


def test_pmsn_longtail_tiny(tmp_path):
    mod = _load("pmsn_longtail")
    rows, summ = mod.main(["--tiny", "--out", str(tmp_path), "--threads", "1"])
    assert [r["method"] for r in rows] == ["msn", "pmsn"]
    assert list(_csv(tmp_path / "pmsn_longtail.csv")[0]) == mod.COLUMNS
    for r in rows:
        assert all(_acc_ok(r[c]) for c in ("test_probe", "test_knn", "head3_probe", "tail3_probe"))
        s = [x for x in summ if x["method"] == r["method"] and x["metric"] == "test_probe"][0]
        assert s["mean"] == pytest.approx(r["test_probe"]) and s["std"] == 0.0  # one seed at tiny scale
    _figures(tmp_path, "pmsn_longtail")


def test_entropy_estimators_tiny(tmp_path):
    mod = _load("entropy_estimators")
    rows, summ = mod.main(["--tiny", "--out", str(tmp_path), "--threads", "1"])
    assert [(r["method"], r["seed"]) for r in rows] == [(m, s) for m in mod.METHODS for s in (0, 1)]
    assert list(_csv(tmp_path / "entropy_estimators.csv")[0]) == mod.COLUMNS
    assert all(_acc_ok(r["test_probe"]) and _acc_ok(r["test_knn"]) and math.isfinite(r["loss"]) for r in rows)
    for m in mod.METHODS:
        v = np.array([r["test_probe"] for r in rows if r["method"] == m])
        s = [x for x in summ if x["method"] == m and x["metric"] == "test_probe"][0]
        assert s["mean"] == pytest.approx(v.mean()) and s["std"] == pytest.approx(v.std(ddof=1))
        assert (s["min"], s["max"]) == (v.min(), v.max())
    _figures(tmp_path, "entropy_estimators")


def test_rankme_per_axis_selection_hand_built():
    mod = _load("rankme_selection")
    rows = []
    for i, (c, w, lr) in enumerate((c, w, lr) for c in (0.1, 1.0) for w in (8, 16) for lr in (1e-3, 2e-3)):
        # RankMe prefers width 16 everywhere; the held-out probe prefers width 16 only for lr 1e-3
        rank = 10.0 + (5 if w == 16 else 0) + c
        ho = 0.5 + (0.1 if (w == 16) == (lr == 1e-3) else 0) + i * 1e-3
        rows.append(dict(cov_coeff=c, proj_width=w, lr=lr, rankme=rank, heldout_probe=ho, test_probe=ho + 0.01))
    got = {r["axis"]: r for r in mod.per_axis(rows)}
    assert set(got) == {"cov_coeff", "proj_width", "lr"} and all(r["groups"] == 4 for r in got.values())
    width = got["proj_width"]
    assert width["same_pick"] == 2  # agree at lr 1e-3 (both c), disagree at lr 2e-3
    # picks: RankMe always width 16; oracle width 16 at lr 1e-3, width 8 at lr 2e-3
    t = {(r["cov_coeff"], r["proj_width"], r["lr"]): r["test_probe"] for r in rows}
    rk = np.mean([t[(c, 16, lr)] for c in (0.1, 1.0) for lr in (1e-3, 2e-3)])
    orc = np.mean([t[(c, 16, 1e-3)] for c in (0.1, 1.0)] + [t[(c, 8, 2e-3)] for c in (0.1, 1.0)])
    assert width["rankme_test"] == pytest.approx(rk) and width["oracle_test"] == pytest.approx(orc)
    assert width["gap"] == pytest.approx(orc - rk)


def test_projector_embedding_is_the_projector_map():
    sslkit = pytest.importorskip("sslkit")
    T = _load("_train_common")
    data = sslkit.Dataset.open("fashion-mnist", split="test")
    tr, _, _ = T.pretrain("vicreg", data.subset(np.arange(128)), 1, 64, 0, projector="linear:8")
    z = tr.embed(data.subset(np.arange(128, 160)))
    e = T.project(tr, z)
    # a single linear projector: e = z W^T + b with the trainer's own parameters
    p = {k: np.asarray(v) for k, v in _projector_params(tr).items()}
    w = next(v for k, v in p.items() if v.ndim == 2)
    b = next(v for k, v in p.items() if v.ndim == 1)
    assert e.shape == (32, 8)
    np.testing.assert_allclose(e, z.astype(np.float64) @ w.T + b, rtol=1e-4, atol=1e-4)


def _projector_params(tr):
    """The trainer's projector parameters, read through the C API."""
    import ctypes
    sslkit = pytest.importorskip("sslkit")
    h = ctypes.c_void_p()
    sslkit._lib.lib.sslk_trainer_projector(tr._h, ctypes.byref(h))
    q = ctypes.c_void_p()
    sslkit._lib.lib.sslk_model_clone(h, ctypes.byref(q))
    return sslkit.Model(q, tr._ctx).params
