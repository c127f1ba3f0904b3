"""Tiny-scale run of reproduction 2 (examples/reproduce/fair_ensemble.py): the
tables and figures exist, the split is the stated imbalanced one, each source
varies only its own seed, and every ensemble figure the program reports equals
an independent numpy computation from the members' saved test logits."""
import math

import numpy as np
import pytest

from reproduce_util import _csv, _figures, _keep_threads, _load  # noqa: F401 (_keep_threads: autouse fixture)


def test_imbalanced_split_and_seeds():
    mod = _load("fair_ensemble")
    labels = np.repeat(np.arange(10), 30)
    tr, ho = mod.imbalanced_split(labels, {2, 7}, 20, 4, 5, 0)
    assert np.intersect1d(tr, ho).size == 0
    assert list(np.bincount(labels[tr], minlength=10)) == [20, 20, 4, 20, 20, 20, 20, 4, 20, 20]
    assert np.all(np.bincount(labels[ho], minlength=10) == 5)
    with pytest.raises(ValueError):
        mod.imbalanced_split(labels, {2}, 26, 4, 5, 0)
    # each single source varies exactly its own seed; "all" varies the three
    for pos, src in enumerate(("init", "order", "aug")):
        seeds = np.array([mod.member_seeds(src, i, 5) for i in range(4)])
        assert len(set(seeds[:, pos])) == 4
        assert all(np.all(seeds[:, q] == 5) for q in range(3) if q != pos)
    seeds = np.array([mod.member_seeds("all", i, 5) for i in range(4)])
    assert all(len(set(seeds[:, q])) == 4 for q in range(3))


def test_augment_shift_and_flip():
    mod = _load("fair_ensemble")
    x = np.arange(2 * 28 * 28, dtype=np.float32).reshape(2, 1, 28, 28)
    out = mod.augment(x, np.random.default_rng(0), 0)  # no shift: identity or a mirror per image
    for i in range(2):
        assert np.array_equal(out[i], x[i]) or np.array_equal(out[i], x[i, :, :, ::-1])
    out = mod.augment(x, np.random.default_rng(1), 2)
    for i in range(2):
        img = out[i, 0]
        found = False
        for flip in (False, True):
            src = x[i, 0, :, ::-1] if flip else x[i, 0]
            bg = np.float32(-mod.MEAN / mod.STD)
            pad = np.pad(src, 2, constant_values=bg)
            for dy in range(-2, 3):
                for dx in range(-2, 3):
                    found |= np.array_equal(img, pad[2 - dy:30 - dy, 2 - dx:30 - dx])
        assert found


def _np_metrics(logits, y, groups, fixed):
    """Probability-averaged ensemble: accuracy, balanced accuracy, worst-3 (the
    three lowest class accuracies), worst-3 on a fixed class set, group accuracies."""
    z = logits.astype(np.float64)
    p = np.exp(z - z.max(axis=2, keepdims=True))
    p /= p.sum(axis=2, keepdims=True)
    pred = p.mean(axis=0).argmax(axis=1)
    ok = pred == y
    cls = np.array([ok[y == c].mean() for c in range(10)])
    return dict(accuracy=ok.mean(), balanced_accuracy=cls.mean(), worst3=np.sort(cls)[:3].mean(),
                worst3_fixed=cls[fixed].mean(), minority=ok[groups == 1].mean(), majority=ok[groups == 0].mean())


def test_fair_ensemble_tiny(tmp_path):
    mod = _load("fair_ensemble")
    rows, members, summ, infos = mod.main(["--tiny", "--out", str(tmp_path), "--threads", "1", "--save-logits"])
    m = 3
    assert [(r["source"], r["members"]) for r in rows] == [(s, j) for s in mod.SOURCES for j in range(1, m + 1)]
    got = _csv(tmp_path / "fair_ensemble.csv")
    assert list(got[0]) == mod.COLUMNS and len(got) == len(rows)
    assert list(_csv(tmp_path / "fair_ensemble_members.csv")[0]) == mod.MEMBER_COLUMNS
    assert list(_csv(tmp_path / "fair_ensemble_summary.csv")[0]) == mod.SUMMARY_COLUMNS
    for f in ("fair_ensemble", "fair_ensemble_sources"):
        _figures(tmp_path, f)

    npz = np.load(tmp_path / "fair_ensemble_logits.npz")
    L, y, groups, fixed = npz["logits"], npz["labels"], npz["groups"], npz["fixed"]
    assert L.shape == (4, m, 300, 10) and np.all(np.isfinite(L))
    minority = infos[0]["minority"]
    assert np.array_equal(groups, np.isin(y, minority).astype(groups.dtype)) and groups.any() and not groups.all()
    orders = mod.rotations(m, 0 + 7)  # the program's member orders for seed 0
    for si, src in enumerate(mod.SOURCES):
        lg = L[si]
        # each member's own figures
        for i in range(m):
            mem = [r for r in members if r["source"] == src and r["member"] == i][0]
            ref = _np_metrics(lg[i:i + 1], y, groups, fixed)
            for key in ("accuracy", "worst3", "minority", "majority"):
                assert mem[key] == pytest.approx(ref[key], abs=1e-12)
        # the curves: mean over the rotations of the numpy metrics of each prefix
        src_rows = [r for r in rows if r["source"] == src]
        for j in range(1, m + 1):
            refs = [_np_metrics(lg[p[:j]], y, groups, fixed) for p in orders]
            for key in ("accuracy", "balanced_accuracy", "worst3", "worst3_fixed", "minority", "majority"):
                assert src_rows[j - 1][key] == pytest.approx(np.mean([r[key] for r in refs]), abs=1e-12)
        # size 1 = the mean single member; size M (any order) = the library's ensemble_curve there too
        single = [_np_metrics(lg[i:i + 1], y, groups, fixed)["accuracy"] for i in range(m)]
        assert src_rows[0]["accuracy"] == pytest.approx(np.mean(single), abs=1e-12)
        full = _np_metrics(lg, y, groups, fixed)
        assert src_rows[-1]["ec_accuracy"] == pytest.approx(full["accuracy"], abs=1e-12)
        assert src_rows[-1]["ec_worst3"] == pytest.approx(full["worst3"], abs=1e-12)
        assert min(single) - 1e-12 <= src_rows[0]["ec_accuracy"] <= max(single) + 1e-12
        # the summary is the curve's end points
        s = [x for x in summ if x["source"] == src][0]
        acc = np.array([r["accuracy"] for r in src_rows])
        w3 = np.array([r["worst3"] for r in src_rows])
        mi = np.array([r["minority"] for r in src_rows])
        assert s["mean_gain"] == pytest.approx(acc[-1] - acc[0])
        assert s["worst3_gain"] == pytest.approx(w3[-1] - w3[0])
        assert s["minority_gain"] == pytest.approx(mi[-1] - mi[0])
        if acc[-1] > acc[0]:
            assert s["ratio_worst3"] == pytest.approx((w3[-1] - w3[0]) / (acc[-1] - acc[0]))
            ms = s["m_sat"] - 1
            assert acc[ms] - acc[0] >= 0.9 * (acc[-1] - acc[0]) - 1e-12
            assert all(acc[i] - acc[0] < 0.9 * (acc[-1] - acc[0]) for i in range(ms))
        else:
            assert math.isnan(s["ratio_worst3"])


def test_summarise_hand_made_curve():
    mod = _load("fair_ensemble")
    cv = dict(accuracy=np.array([0.80, 0.84, 0.85, 0.85]), worst3=np.array([0.40, 0.45, 0.48, 0.50]),
              worst3_fixed=np.array([0.4, 0.4, 0.4, 0.4]), minority=np.array([0.30, 0.33, 0.36, 0.38]))
    s = mod.summarise(0, "all", cv)
    assert s["mean_gain"] == pytest.approx(0.05) and s["worst3_gain"] == pytest.approx(0.10)
    assert s["ratio_worst3"] == pytest.approx(2.0) and s["ratio_minority"] == pytest.approx(1.6)
    assert s["m_sat"] == 3  # 0.05 >= 0.9 * 0.05 first at 3 members (0.04 at 2 is below 0.045)
    assert s["late_mean_gain"] == pytest.approx(0.0) and s["late_worst3_gain"] == pytest.approx(0.02)
    assert s["late_minority_gain"] == pytest.approx(0.02)
