"""`sslkit lidar`: the three ways to give views ((n, Q, d), --views, --ids),
JSON values against a numpy reimplementation, and usage errors.
The executable comes from the sslkit_cli fixture (tests/cli/conftest.py)."""
import json
import os
import subprocess
import tempfile

import numpy as np

EXE = None  # the sslkit executable, set by conftest.py


def run(*args):
    return subprocess.run([EXE, "lidar", *args], capture_output=True, text=True, timeout=120)


def np_lidar(E, delta=1e-4, eps=1e-8):
    E = np.asarray(E, np.float64)
    n, q, d = E.shape
    mi = E.mean(1)
    Sb = (mi - mi.mean(0)).T @ (mi - mi.mean(0)) / (n - 1)
    R = (E - mi[:, None]).reshape(-1, d)
    w, U = np.linalg.eigh(R.T @ R / (n * (q - 1)) + delta * np.eye(d))
    Wi = U @ np.diag(w ** -0.5) @ U.T
    lam = np.clip(np.linalg.eigvalsh(Wi @ Sb @ Wi), 0, None)
    p = lam / lam.sum() + eps
    return float(np.exp(-(p * np.log(p)).sum()))


def test_cli_lidar():
    rng = np.random.default_rng(0)
    E = (rng.normal(size=(30, 1, 6)) + 0.3 * rng.normal(size=(30, 3, 6))).astype(np.float32)
    want = np_lidar(E)
    perm = rng.permutation(90)
    ids = np.repeat(np.arange(30), 3)
    with tempfile.TemporaryDirectory() as d:
        p3, p2, ps, pi = (os.path.join(d, f) for f in ("e3.npy", "e2.npy", "es.npy", "ids.npy"))
        np.save(p3, E)
        np.save(p2, E.reshape(-1, 6))
        np.save(ps, E.reshape(-1, 6)[perm])
        np.save(pi, ids[perm])
        for args in (["--features", p3], ["--features", p2, "--views", "3"], ["--features", ps, "--ids", pi]):
            r = run(*args, "--json")
            assert r.returncode == 0, r.stderr
            out = json.loads(r.stdout)
            assert out["samples"] == 30 and out["views"] == 3 and out["d"] == 6
            assert abs(out["lidar"] - want) <= 1e-6 * want
            assert abs(out["std"] - E.reshape(-1, 6).astype(np.float64).std(0, ddof=1).mean()) < 1e-6
        r = run("--features", p3)
        assert r.returncode == 0 and "LiDAR" in r.stdout and f"{want:.4f}" in r.stdout
        # usage errors exit 2, data errors 1, with a message naming the problem
        r = run("--features", p2)
        assert r.returncode == 2 and "--views" in r.stderr
        r = run("--features", p2, "--views", "4")
        assert r.returncode == 2 and "cannot be split" in r.stderr
        np.save(pi, ids[:89])
        r = run("--features", ps, "--ids", pi)
        assert r.returncode == 1 and "89 ids for 90" in r.stderr
        np.save(pi, np.r_[ids[:88], 40, 41])
        r = run("--features", p2, "--ids", pi)
        assert r.returncode == 1 and "same number of views" in r.stderr
        r = run("--features", p3, "--delta", "-1")
        assert r.returncode == 2
