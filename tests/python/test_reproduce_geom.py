"""Tiny-scale runs of the reproduction programs 7, 8, 9 (examples/reproduce):
the tables have their columns and finite numbers, and the measured values
agree with independent counts (one-hidden-layer region formula, polygon-disc
distances, a least-squares affine fit, the toy's closed-form spectrum)."""

import numpy as np
import pytest

import sslkit

from reproduce_util import _csv, _figures, _keep_threads, _load  # noqa: F401 (_keep_threads: autouse fixture)


def _polygon_disc(poly, c, r):
    """True when the convex polygon (CCW vertices) meets the disc |x - c| <= r."""
    inside = all(np.cross(b - a, c - a) >= 0 for a, b in zip(poly, np.roll(poly, -1, axis=0)))
    if inside:
        return True
    for a, b in zip(poly, np.roll(poly, -1, axis=0)):
        t = np.clip(np.dot(c - a, b - a) / np.dot(b - a, b - a), 0, 1)
        if np.linalg.norm(a + t * (b - a) - c) <= r:
            return True
    return False


def test_splinecam_density_tiny(tmp_path):
    mod = _load("splinecam_density")
    rows = mod.main(["--tiny", "--out", str(tmp_path), "--threads", "1"])
    table = _csv(tmp_path / "splinecam_density.csv")
    assert list(table[0]) == ["depth", "width", "seed", "epoch", "regions", "near", "far", "ratio", "boundary_length",
                              "train_acc", "test_acc", "splinecam_s"]
    assert [(int(r["depth"]), int(r["epoch"])) for r in table] == [(1, 0), (1, 5), (2, 0), (2, 5)]
    for r in table:
        vals = [float(v) for v in r.values()]
        assert np.all(np.isfinite(vals))
        assert float(r["ratio"]) == pytest.approx(float(r["near"]) / float(r["far"]), rel=1e-3)
    _figures(tmp_path, "splinecam_density")
    _figures(tmp_path, "splinecam_partition")

    # the epoch-0 one-hidden-layer net is the seeded initialisation: rebuild it
    m = sslkit.Model.from_spec(mod.spec(1, 8), (2,), seed=0)
    sd = m.state_dict()
    W, b = [np.asarray(v, np.float64) for k, v in sd.items() if k.startswith("0.")]
    # regions of a line arrangement in general position in a convex box: 1 + lines + inner crossings
    B = mod.BOX
    lines = []
    for w, c in zip(W, b):   # w.x + c = 0 crosses the open square when the corner values change sign
        vals = [w @ np.array([sx, sy]) + c for sx in (-B, B) for sy in (-B, B)]
        if min(vals) < 0 < max(vals):
            lines.append((w, c))
    cross = 0
    for i in range(len(lines)):
        for j in range(i + 1, len(lines)):
            A = np.array([lines[i][0], lines[j][0]])
            pt = np.linalg.solve(A, -np.array([lines[i][1], lines[j][1]]))
            cross += bool(np.all(np.abs(pt) < B))
    assert rows[0]["regions"] == 1 + len(lines) + cross
    # local density: regions meeting a disc, counted from the polygons here
    x, _ = mod.C.rings(64, 100)
    p = sslkit.splinecam(m, mod.square_slice())
    polys = [np.asarray(v) for v in p.regions]
    near = [sum(_polygon_disc(q, pt, 0.1) for q in polys) for pt in x.astype(np.float64)]
    assert rows[0]["near"] == pytest.approx(np.mean(near), rel=1e-12)
    far = mod.far_points(x, 64, 0.5, 300)
    d = np.sqrt(((far[:, None] - x[None]) ** 2).sum(-1)).min(axis=1)
    assert d.min() >= 0.5


def test_police_rings_tiny(tmp_path):
    mod = _load("police_rings")
    rows = mod.main(["--tiny", "--out", str(tmp_path), "--threads", "1"])
    table = _csv(tmp_path / "police_cost.csv")
    assert [r["network"] for r in table] == ["plain", "POLICE", "POLICE frozen"]
    assert "step_ms" in table[0] and "affine_max_rel" in table[0] and "test_acc" in table[0]
    plain, pol, frozen = rows
    assert plain["regions_inside"] > 1 and plain["affine_max_rel"] > 1e-6
    for r in (pol, frozen):
        assert r["regions_inside"] == 1 and r["affine_max_rel"] < 1e-12
    # two affine logits inside the square: their argmax boundary is at most one segment
    assert pol["boundary_segments_inside"] <= 1
    assert frozen["frozen_max_diff"] < 1e-4
    for r in (plain, pol):
        assert np.isfinite(r["step_ms"]) and r["step_ms"] > 0 and np.isfinite(r["final_loss"])
        assert 0.0 <= r["test_acc"] <= 1.0
    _figures(tmp_path, "police_loss")
    _figures(tmp_path, "police_rings")   # tiny: few regions, so the SVG is written too
    _figures(tmp_path, "police_rings_plain")

    # independent check: a constrained net trained by the program's loop is affine
    # on the square by a least-squares fit of its float outputs (not police_verify)
    x, y = mod.C.rings(64, 7)
    m = sslkit.Model.from_spec(mod.spec(2, 16), (2,), seed=3)
    m.constrain(sslkit.police_box(mod.LO, mod.HI))
    mod.C.train(m, x, y, 3, 32, 1e-2, 3)
    g = np.random.default_rng(5).uniform(0, 1.5, size=(400, 2)).astype(np.float32)
    out = m.forward(g).astype(np.float64)
    A = np.hstack([g, np.ones((400, 1))]).astype(np.float64)
    res = out - A @ np.linalg.lstsq(A, out, rcond=None)[0]
    assert np.abs(res).max() <= 1e-5 * max(1.0, np.abs(out).max())
    # and outside the square it is not affine
    g2 = np.random.default_rng(6).uniform(-2.8, 2.8, size=(400, 2)).astype(np.float32)
    out2 = m.forward(g2).astype(np.float64)
    A2 = np.hstack([g2, np.ones((400, 1))]).astype(np.float64)
    assert np.abs(out2 - A2 @ np.linalg.lstsq(A2, out2, rcond=None)[0]).max() > 1e-3


def test_ssl_theory_regimes_tiny(tmp_path):
    mod = _load("ssl_theory")
    res = mod.main(["--tiny", "--no-compare", "--out", str(tmp_path), "--threads", "1"])
    rows = res["regimes"]
    table = _csv(tmp_path / "ssl_regimes.csv")
    assert list(table[0]) == ["lam", "mu1", "mu2", "mu3", "analytic_mu1", "selected_population", "selected_sampled"]
    assert len(table) == len(rows) == 41
    tau, c = np.array([0.9, 0.75, 0.5]), np.array([0.4, 0.25, 0.125])
    for r in rows:
        mu = np.sort(tau - r["lam"] * c / 2)[::-1]   # the toy's spectrum by hand
        np.testing.assert_allclose([r["mu1"], r["mu2"], r["mu3"]], mu, rtol=0, atol=1e-8)  # jitter 1e-10
        want = 1 if r["lam"] < 2 else 2 if r["lam"] < 4 else 3 if r["lam"] < 8 else 0
        if r["lam"] not in (2.0, 4.0, 8.0):   # ties at the thresholds
            assert r["selected_population"] == want, r
    steps = mod.crossings(rows, "selected_population")
    assert [(u, v) for _, u, v in steps] == [(1, 2), (2, 3), (3, 0)]
    # 2000 sampled inputs: the same order of regimes, thresholds within one unit of 2, 4, 8
    smp = mod.crossings(rows, "selected_sampled")
    assert [(u, v) for _, u, v in smp] == [(1, 2), (2, 3), (3, 0)]
    for (x, _, _), t in zip(smp, (2, 4, 8)):
        assert abs(x - t) < 1.0
    _figures(tmp_path, "ssl_regimes")
