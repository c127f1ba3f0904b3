"""Tiny-scale run of reproduction 4 (examples/reproduce/diet_smalldata.py):
the nested class-balanced subsets, the step schedule that a wall-clock budget
buys, the equal-budget accounting of every row (steps from the calibrated
seconds per step, the same steps for every seed, the trainer ran exactly
them) and the summary recomputed from the written CSV."""
import math

import numpy as np
import pytest

from reproduce_util import _csv, _figures, _keep_threads, _load  # noqa: F401 (_keep_threads: autouse fixture)


def test_balanced_nested_subsets():
    mod = _load("diet_smalldata")
    labels = np.repeat(np.arange(10), 30)[np.random.default_rng(5).permutation(300)]
    a, b, whole = mod.balanced_nested(labels, [50, 200, 300], 7)
    assert (a.size, b.size, whole.size) == (50, 200, 300)
    assert list(np.bincount(labels[a], minlength=10)) == [5] * 10
    assert list(np.bincount(labels[b], minlength=10)) == [20] * 10
    assert np.isin(a, b).all() and np.array_equal(whole, np.arange(300))  # nested; the whole set as is
    c, = mod.balanced_nested(labels, [50], 7)
    assert np.array_equal(a, c)  # seeded
    ex = b[:100]
    d, = mod.balanced_nested(labels, [100], 1, exclude=ex)
    assert not np.isin(d, ex).any() and list(np.bincount(labels[d], minlength=10)) == [10] * 10
    for bad in ([55], [310]):  # not a multiple of the classes; more per class than there are
        with pytest.raises(ValueError):
            mod.balanced_nested(labels, bad, 0)


def test_schedule_and_budget():
    mod = _load("diet_smalldata")
    # 1000 images at batch 256: 3 full batches per epoch, 100 steps -> 34 epochs of 3
    assert mod.schedule(100, 1000, 256) == (34, 3)
    assert mod.schedule(50, 60000, 256) == (1, 50)     # under one epoch: a capped epoch
    assert mod.schedule(300, 60000, 256) == (2, 150)   # 234 batches per epoch
    assert mod.schedule(234, 60000, 256) == (1, 234)
    with pytest.raises(ValueError):
        mod.schedule(10, 100, 256)
    assert mod.budget_steps(20.0, 0.15, 10) == 133 and mod.budget_steps(20.0, 5.0, 10) == 10
    assert mod._settings(mod.SUB4096, 60000, 256, 1) == ("diet", dict(batch=256, seed=1, init_seed=1, subset=4096))
    assert mod._settings("diet", 1000, 256, 1)[1]["subset"] == 0


def test_diet_smalldata_tiny(tmp_path):
    mod = _load("diet_smalldata")
    # two seeds (the full run's default is one) so that the per-seed accounting is exercised
    rows, summ = mod.main(["--tiny", "--out", str(tmp_path), "--threads", "1", "--seeds", "0", "1"])
    sizes, seeds = [200, 400], [0, 1]
    assert [(r["method"], r["n_train"], r["seed"]) for r in rows] == (
        [(mod.BASELINE, 0, s) for s in seeds] + [(m, n, s) for n in sizes for m in mod.METHODS for s in seeds])
    for r in rows:
        assert 0.0 <= r["test_probe"] <= 1.0 and 0.0 <= r["test_knn"] <= 1.0 and 1.0 <= r["rankme"] <= 512.0
        if r["method"] == mod.BASELINE:
            assert r["steps"] == r["steps_run"] == 0
            continue
        # the budget buys floor(budget / calibrated step seconds) steps (at least --min-steps = 3 at tiny
        # scale), rounded up to whole epochs of full batches (batch 32), and the trainer ran exactly those
        want = mod.budget_steps(0.2, r["calib_step_s"], 3)
        assert (r["epochs"], r["steps_per_epoch"]) == mod.schedule(want, r["n_train"], 32)
        assert r["steps"] == r["epochs"] * r["steps_per_epoch"] == r["steps_run"] >= want
        assert r["steps_per_epoch"] <= r["n_train"] // 32 and math.isfinite(r["loss"]) and r["train_s"] > 0
    for m in mod.METHODS:  # one calibration per (method, size): every seed gets the same steps
        for n in sizes:
            mine = [r for r in rows if (r["method"], r["n_train"]) == (m, n)]
            assert len({r["steps"] for r in mine}) == 1 and len({r["calib_step_s"] for r in mine}) == 1
    # the CSV holds the rows, and the summary is their mean / spread over seeds
    got = _csv(tmp_path / "diet_smalldata.csv")
    assert list(got[0]) == mod.COLUMNS and len(got) == len(rows)
    for g, r in zip(got, rows):
        assert (g["method"], int(g["n_train"]), int(g["steps"])) == (r["method"], r["n_train"], r["steps"])
        assert float(g["test_probe"]) == pytest.approx(r["test_probe"], abs=1e-12)
    summary = _csv(tmp_path / "diet_smalldata_summary.csv")
    assert len(summary) == len(summ) == 4 * (1 + len(mod.METHODS) * len(sizes))
    for s in summary:
        v = np.array([float(g[s["metric"]]) for g in got
                      if g["method"] == s["method"] and g["n_train"] == s["n_train"]])
        assert int(s["seeds"]) == v.size == 2
        assert float(s["mean"]) == pytest.approx(v.mean()) and float(s["std"]) == pytest.approx(v.std(ddof=1))
        assert (float(s["min"]), float(s["max"])) == (v.min(), v.max())
    _figures(tmp_path, "diet_smalldata")
    _figures(tmp_path, "diet_smalldata_knn")
