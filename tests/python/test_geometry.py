"""SplineCam from Python: hand cases of the design note and numpy
reference forward passes (outputs and activation patterns) on random MLPs."""
import math
import os

import numpy as np
import pytest

import sslkit


def _mlp(spec, d, seed):
    return sslkit.Model.from_spec(spec, (d,), seed=seed)


def _np_forward(model, spec, x):
    """float64 forward of a linear/relu/leaky_relu/abs MLP; returns (y, bits)."""
    h = np.asarray(x, dtype=np.float64)
    sd = model.state_dict()
    bits = []
    for i, item in enumerate(spec.split(",")):
        kind = item.split(":")[0]
        if kind == "linear":
            W = sd[f"{i}.weight"].astype(np.float64)
            b = sd[f"{i}.bias"].astype(np.float64)
            h = h @ W.T + b
        else:
            bits.append(h > 0)
            if kind == "relu":
                h = np.maximum(h, 0)
            elif kind == "abs":
                h = np.abs(h)
            else:
                slope = float(item.split(":")[1])
                h = np.where(h > 0, h, np.float64(np.float32(slope)) * h)
    return h, np.concatenate(bits, axis=1).astype(np.uint8)


def _polygon_area(p):
    x, y = p[:, 0], p[:, 1]
    return 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)


def test_s1_s7_hand_cases():
    m = _mlp("linear:2,relu,linear:1", 2, 0)
    m.set_param("0.weight", np.eye(2, dtype=np.float32))
    m.set_param("0.bias", np.zeros(2, dtype=np.float32))
    m.set_param("2.weight", np.array([[1, 1]], dtype=np.float32))
    m.set_param("2.bias", np.array([-0.5], dtype=np.float32))
    s = sslkit.Slice.from_box([0, 0], np.eye(2), 1.0)
    p = sslkit.splinecam(m, s)
    assert len(p) == 4
    assert np.isclose(p.areas.sum(), 4.0, rtol=1e-12)
    assert sorted(a.round(12) for a in p.areas) == [1.0] * 4
    assert p.boundary.shape == (3, 2, 2)
    assert math.isclose(p.boundary_length, 2 + math.sqrt(0.5), rel_tol=1e-12)
    seg_len = np.linalg.norm(p.boundary[:, 1] - p.boundary[:, 0], axis=1)
    assert np.allclose(sorted(seg_len), [math.sqrt(0.5), 1, 1], rtol=1e-12)
    # each region is the quadrant its code says
    for verts, code in zip(p.regions, p.code_bits_array()):
        c = verts.mean(axis=0)
        assert (c > 0).astype(np.uint8).tolist() == code.tolist()
    x, uv = p.sample_boundary(50, seed=3)
    assert np.allclose(np.maximum(uv, 0).sum(axis=1), 0.5, atol=1e-12)
    st = p.stats
    assert st["regions"] == 4 and math.isclose(st["area_total"], 4.0, rel_tol=1e-12)


@pytest.mark.parametrize("spec", ["linear:10,relu,linear:10,relu,linear:3",
                                  "linear:9,leaky_relu:0.1,linear:8,abs,linear:2",
                                  "linear:8,abs,linear:8,relu,linear:1"])
def test_random_mlp_against_numpy(spec):
    d = 5
    m = _mlp(spec, d, 4)
    rng = np.random.default_rng(1)
    anchors = rng.uniform(-1, 1, size=(3, d)).astype(np.float32)
    s = sslkit.Slice.from_anchors(anchors, pad=0.5)
    p = sslkit.splinecam(m, s, maps=True)
    assert len(p) > 10
    # areas sum to the domain's area; every region convex and CCW
    assert np.isclose(p.areas.sum(), _polygon_area(s.polygon), rtol=1e-9)
    for r in p.regions:
        e = np.roll(r, -1, axis=0) - r
        cross = e[:, 0] * np.roll(e[:, 1], -1) - e[:, 1] * np.roll(e[:, 0], -1)
        assert np.all(cross >= -1e-12)
    codes = p.code_bits_array()
    assert len({c.tobytes() for c in codes}) == len(p)
    # random points: region map == numpy forward, region code == numpy pattern
    poly = s.polygon
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    uv = rng.uniform(lo, hi, size=(1500, 2))
    reg = p.locate(uv)
    assert np.all(reg >= 0)
    origin, dirs = s.origin, s.directions
    x = origin + uv @ dirs
    y, bits = _np_forward(m, spec, x)
    maps = p.maps[reg]
    z = maps[:, 0] * uv[:, :1] + maps[:, 1] * uv[:, 1:] + maps[:, 2]
    assert np.allclose(z, y, rtol=1e-9, atol=1e-12 * np.abs(y).max())
    assert np.array_equal(bits, codes[reg])
    # and the library's float forward agrees to float precision
    yf = m.forward(x.astype(np.float32))
    assert np.allclose(z, yf, rtol=1e-5, atol=1e-5 * np.abs(y).max())


def test_slices_and_exports(tmp_path):
    rng = np.random.default_rng(2)
    a = rng.normal(size=(2, 6)).astype(np.float32)
    s = sslkit.Slice.from_anchors(a, pad=0.3, seed=5)
    one = [sslkit.Slice.from_anchors(a[:1], pad=1.0, seed=k).directions for k in (5, 5, 6)]
    assert np.array_equal(one[0], one[1]) and not np.allclose(one[0], one[2])
    D = s.directions
    assert np.allclose(D @ D.T, np.eye(2), atol=1e-12)
    uv = s.project(a)
    half = np.linalg.norm(a[0].astype(np.float64) - a[1]) / 2
    assert np.allclose(uv, [[half, 0], [-half, 0]], atol=1e-5)
    assert np.allclose(np.abs(s.polygon).max(axis=0), half + 0.3)
    # polygon slice in a plane of R^3: hull of 5 points, area of the square
    sq = np.array([[0, 0, 0], [1, 0, 1], [0, 1, 0], [1, 1, 1], [0.5, 0.5, 0.5]], dtype=np.float32)
    ps = sslkit.Slice.from_polygon(sq)
    assert len(ps.polygon) == 4
    assert np.isclose(_polygon_area(ps.polygon), math.sqrt(2), rtol=1e-6)
    with pytest.raises(sslkit.Error) as e:
        sslkit.Slice.from_polygon([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0.5]])
    assert e.value.status_name == "SSLK_E_INVALID_ARG"
    with pytest.raises(sslkit.Error):
        sslkit.Slice.from_anchors(np.zeros((2, 4)))
    m = _mlp("linear:12,relu,linear:4", 6, 3)
    p = sslkit.splinecam(m, s)
    with pytest.raises(sslkit.Error):
        p.maps  # not requested
    for ext in ("png", "svg", "pdf"):
        f = tmp_path / f"p.{ext}"
        p.plot(f, 300, 200, random_colors=(ext == "svg"))
        assert f.stat().st_size > 100
    p.to_json(tmp_path / "r.json")
    import json
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["region_count"] == len(p) == len(doc["regions"])
    assert np.allclose(doc["regions"][0]["vertices"], p.regions[0])
    p.to_csv(tmp_path / "r.csv", tmp_path / "b.csv")
    rows = (tmp_path / "r.csv").read_text().splitlines()
    assert len(rows) == 1 + int(p.offsets[-1])
    n, per = p.path_complexity([[-0.1, 0.0], [0.1, 0.0]])
    assert n >= 1 and per > 0
    assert np.all(p.near_complexity([[0.0, 0.0]], 0.0) >= 1)
    xin = p.region_input(0)
    assert np.allclose(xin, s.to_input(p.regions[0]), atol=1e-6)
    s.set("tol", 1e-12)
    assert s.get("tol") == 1e-12


def test_cli_splinecam(tmp_path):
    import glob
    import subprocess
    lib = os.environ.get("SSLKIT_LIBRARY", "")
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    cands = ([os.path.join(os.path.dirname(os.path.dirname(lib)), "tools", "sslkit")] if lib else []) + \
        sorted(glob.glob(os.path.join(root, "build*", "tools", "sslkit")))
    exe = next((c for c in cands if os.path.exists(c)), None)
    assert exe, "the sslkit CLI was not found next to the library under test"
    m = _mlp("linear:16,relu,linear:3", 4, 7)
    m.save(tmp_path / "m.sslk")
    a = np.random.default_rng(3).normal(size=(3, 4)).astype(np.float32)
    sslkit.save_npy(tmp_path / "a.npy", a)
    r = subprocess.run([exe, "splinecam", str(tmp_path / "m.sslk"), "--anchors", str(tmp_path / "a.npy"),
                        "--pad", "0.5", "--out", str(tmp_path / "p.png"), "--json", str(tmp_path / "r.json"),
                        "--threads", "1"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # the same partition through the Python API
    p = sslkit.splinecam(m, sslkit.Slice.from_anchors(a, pad=0.5))
    lines = dict(line.split(None, 1) for line in r.stdout.splitlines() if line.strip())
    assert int(lines["regions"].split()[0]) == len(p)
    import json
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["region_count"] == len(p)
    assert math.isclose(doc["boundary_length"], p.boundary_length, rel_tol=1e-12)
    assert (tmp_path / "p.png").stat().st_size > 100
    bad = subprocess.run([exe, "splinecam", str(tmp_path / "m.sslk")], capture_output=True, text=True)
    assert bad.returncode == 2
    # the call's options: a region cap below the count fails, one at it passes
    base = [exe, "splinecam", str(tmp_path / "m.sslk"), "--anchors", str(tmp_path / "a.npy"), "--pad", "0.5",
            "--threads", "1"]
    capped = subprocess.run(base + ["--max-regions", str(len(p) - 1)], capture_output=True, text=True)
    assert capped.returncode == 1 and "SSLK_E_OVERFLOW" in capped.stderr + capped.stdout, capped.stderr
    ok = subprocess.run(base + ["--max-regions", str(len(p)), "--tol", "1e-9"], capture_output=True, text=True)
    assert ok.returncode == 0 and int(ok.stdout.split()[1]) == len(p), ok.stderr
    badtol = subprocess.run(base + ["--tol", "0.5"], capture_output=True, text=True)
    assert badtol.returncode == 2 and "--tol" in badtol.stderr


def test_private_context_outlives_slice_in_a_gc_cycle():
    """A seeded slice owns a private Context; when both sit in a reference cycle
    the garbage collector finalises them in any order, and the slice's handle
    must still be destroyed before its context."""
    import gc
    for i in range(20):
        s = sslkit.Slice.from_anchors(np.zeros((1, 4), np.float32), pad=1.0, seed=i)
        ctx = s._ctx
        holder = {"slice": s, "ctx": ctx}
        holder["self"] = holder          # a cycle holding both objects
        ctx.cycle = holder
        assert ctx._deps == 1  # the slice is its one dependant
        del s, ctx, holder
        gc.collect()


def test_splinecam_options_on_the_call():
    m = _mlp("linear:12,relu,linear:4", 6, 3)
    a = np.random.default_rng(2).normal(size=(2, 6)).astype(np.float32)
    s = sslkit.Slice.from_anchors(a, pad=0.3, seed=5)
    ref = sslkit.splinecam(m, s)
    assert len(ref) > 1
    s.set("max_regions", 1)  # read by the 1.x path only
    with pytest.raises(sslkit.Error) as e:
        sslkit.splinecam(m, s)
    assert e.value.status_name == "SSLK_E_OVERFLOW"
    p = sslkit.splinecam(m, s, max_regions=10**6, maps=True)
    assert len(p) == len(ref) and np.allclose(p.areas, ref.areas)
    assert p.maps.shape[0] == len(ref)
    with pytest.raises(sslkit.Error) as e:
        sslkit.splinecam(m, s, tol=0.5)
    assert e.value.status_name == "SSLK_E_SETTING"
    with pytest.raises(sslkit.Error) as e:
        sslkit.splinecam(m, s, max_regions=2)
    assert e.value.status_name == "SSLK_E_OVERFLOW"
    assert s.get("max_regions") == 1
