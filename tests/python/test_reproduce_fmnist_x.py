"""Reproduction 6 (examples/reproduce/fmnist_x.py, Fashion-MNIST-X): the
factor transforms do what their names say (checked on hand-made images and
against numpy's exact 90-degree rotation), every test image gets exactly one
factor, the library's error ratios equal a numpy recomputation, and the tiny
run's table is the one its predictions imply."""
import math

import numpy as np
import pytest

from reproduce_util import _csv, _figures, _keep_threads, _load  # noqa: F401 (_keep_threads: autouse fixture)


def _extent(img, thr=0):
    """(rows, cols) spanned by the pixels above thr."""
    r, c = np.nonzero(img > thr)
    return r.max() - r.min() + 1, c.max() - c.min() + 1


def _blob():
    """A 28 x 28 asymmetric object that stays inside the frame when rotated."""
    img = np.zeros((28, 28), np.uint8)
    img[8:20, 10:18] = 200
    img[8:11, 18:21] = 120  # a notch: rotations are told apart
    return img


def test_smaller_and_larger_change_the_extent():
    X = _load("_fmnist_x")
    img = np.zeros((1, 28, 28), np.uint8)
    img[0, 4:24, 6:22] = 180  # 20 x 16 rectangle
    small = X.apply_factor(img, "smaller", np.random.default_rng(0))[0]
    h, w = _extent(small)
    assert h <= math.ceil(20 * X.SMALL_SCALE) + 2 and w <= math.ceil(16 * X.SMALL_SCALE) + 2
    assert h < 20 and w < 16
    big = X.apply_factor(img, "larger", np.random.default_rng(0))[0]
    h, w = _extent(big)
    assert h == 28 and w >= 16 * X.LARGE_SCALE - 2  # grown, clipped by the frame vertically
    # the mass scales with the area (up to the edges' interpolation)
    assert small.astype(float).sum() / img.sum() == pytest.approx(X.SMALL_SCALE ** 2, rel=0.12)
    assert X.scale(img, 1.0)[0].tolist() == img[0].tolist()  # identity is exact


def test_rotation_matches_rot90_and_keeps_mass():
    X = _load("_fmnist_x")
    img = _blob()[None]
    assert np.array_equal(X.rotate(img, [90.0])[0], np.rot90(img[0]))
    assert np.array_equal(X.rotate(img, [-90.0])[0], np.rot90(img[0], -1))
    assert np.array_equal(X.rotate(img, [0.0])[0], img[0])
    pose = X.apply_factor(np.repeat(img, 20, 0), "pose", np.random.default_rng(1))
    for p in pose:
        assert p.astype(float).sum() == pytest.approx(float(img.sum()), rel=0.05)
        assert not np.array_equal(p, img[0])


def test_photometric_occlusion_and_background():
    X = _load("_fmnist_x")
    img = _blob()[None]
    dark = X.apply_factor(img, "darker", None)[0]
    assert dark.mean() == pytest.approx(img.mean() * X.DARK_GAIN, rel=0.01)
    bright = X.apply_factor(img, "brighter", None)[0]
    assert bright.mean() > img.mean() * 1.1
    assert np.all(bright[img[0] == 0] == 0)  # the black background stays black
    assert bright[10, 12] == round(255 * (200 / 255) ** X.BRIGHT_GAMMA)
    occ = X.occlude(img, [5], [7])[0]
    box = np.zeros((28, 28), bool)
    box[5:5 + X.OCC_SIDE, 7:7 + X.OCC_SIDE] = True
    assert np.all(occ[box] == X.OCC_GRAY) and np.array_equal(occ[~box], img[0][~box])
    bg = X.apply_factor(img, "background", np.random.default_rng(2))[0]
    obj = img[0] >= X.BG_THRESHOLD
    assert np.array_equal(bg[obj], img[0][obj])
    assert bg[~obj].std() > 10 and abs(bg[~obj].mean() - X.BG_MEAN) < 10
    with pytest.raises(ValueError):
        X.apply_factor(img, "blur", None)


def test_assignment_one_factor_each_and_deterministic():
    X = _load("_fmnist_x")
    rng = np.random.default_rng(3)
    imgs = rng.integers(0, 256, (83, 28, 28)).astype(np.uint8)
    xs, f, onehot = X.build(imgs, 5)
    assert np.all(onehot.sum(axis=1) == 1) and np.array_equal(onehot.argmax(axis=1), f)
    counts = np.bincount(f, minlength=len(X.FACTORS))
    assert counts.max() - counts.min() <= 1
    assert np.array_equal(xs[f == 0], imgs[f == 0])  # "none" is untouched
    xs2, f2, _ = X.build(imgs, 5)
    assert np.array_equal(xs, xs2) and np.array_equal(f, f2)
    assert not np.array_equal(X.assign(83, 6), f)


def _numpy_ratios(correct, onehot):
    err = 1.0 - correct.mean()
    return np.array([(1.0 - correct[onehot[:, k] == 1].mean()) / err for k in range(onehot.shape[1])])


def test_library_ratios_match_numpy():
    mod = _load("fmnist_x")
    rng = np.random.default_rng(4)
    f = rng.integers(0, 8, 500)
    onehot = np.eye(8, dtype=np.uint8)[f]
    correct = rng.random(500) < 0.3 + 0.08 * f  # harder factors first
    acc, er = mod.ratios(correct, onehot)
    assert acc == pytest.approx(correct.mean())
    assert [er[k] for k in mod.X.FACTORS] == pytest.approx(list(_numpy_ratios(correct, onehot)), rel=1e-12)


def test_fmnist_x_tiny(tmp_path):
    mod = _load("fmnist_x")
    rows, summ, extra = mod.main(["--tiny", "--out", str(tmp_path), "--threads", "1"])
    assert [(r["method"], r["crop"], r["scale_min"]) for r in rows] == [("vicreg", "strong", 0.08),
                                                                          ("vicreg", "weak", 0.6)]
    got = _csv(tmp_path / "fmnist_x.csv")
    assert list(got[0]) == mod.COLUMNS and len(got) == 2
    onehot = extra["onehot"]
    assert onehot.shape == (400, 8) and np.all(onehot.sum(axis=1) == 1)
    for r, g in zip(rows, got):
        ok = extra["correct"][(r["method"], r["crop"], r["seed"])]
        assert r["acc"] == pytest.approx(ok.mean()) and 0.0 <= r["clean_acc"] <= 1.0
        want = _numpy_ratios(ok, onehot)
        assert [r[f"er_{f}"] for f in mod.X.FACTORS] == pytest.approx(list(want), rel=1e-12)
        assert float(g["er_smaller"]) == pytest.approx(want[1], rel=1e-9)
    d = [s for s in summ if s["crop"] == "strong-weak" and s["metric"] == "er_smaller"][0]
    assert d["mean"] == pytest.approx(rows[0]["er_smaller"] - rows[1]["er_smaller"])
    _figures(tmp_path, "fmnist_x")
    with open(tmp_path / "fmnist_x_examples.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_example_grid_png_roundtrip(tmp_path):
    X = _load("_fmnist_x")
    grid = X.example_grid(_blob()[None].repeat(3, 0), 0, zoom=2, gap=1)
    assert grid.shape == (len(X.FACTORS) * 57 + 1, 3 * 57 + 1)
    X.write_png_gray(str(tmp_path / "g.png"), grid)
    PIL = pytest.importorskip("PIL.Image")
    with PIL.open(tmp_path / "g.png") as im:
        assert np.array_equal(np.asarray(im), grid)
