"""sslkit spectral: NPY in, NPY out, checked against numpy (dense eigh of the
same Laplacian, a numpy Galerkin solve); error exits."""
import json
import os
import subprocess
import tempfile

import numpy as np
import pytest

EXE = None  # the sslkit executable, set by conftest.py


def run(*args):
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120)


def sqdist(A, B):
    return ((A[:, None, :].astype(np.float64) - B[None, :, :]) ** 2).sum(-1)


def np_eigenmaps(X, sigma, k):
    W = np.exp(-sqdist(X, X) / sigma ** 2)
    np.fill_diagonal(W, 0)
    dh = 1 / np.sqrt(W.sum(1))
    lam, V = np.linalg.eigh(np.eye(len(X)) - dh[:, None] * W * dh[None, :])
    return lam[1:k + 1], V[:, 1:k + 1]


def np_galerkin(X, p, sigma, k, Q):
    Y = X[:p].astype(np.float64)
    diff = X[:, None, :] - Y[None, :, :]
    K = np.exp(-(diff ** 2).sum(-1) / sigma ** 2)
    grad = -(2 / sigma ** 2) * diff * K[:, :, None]
    L = np.einsum("tid,tjd->ij", grad, grad) / len(X)
    r, U = np.linalg.eigh(K.T @ K / len(X))
    keep = r > 1e-10 * r.max()
    T = U[:, keep] / np.sqrt(r[keep])
    lam, V = np.linalg.eigh(T.T @ L @ T)
    alpha = T @ V[:, 1:k + 1]
    return lam[1:k + 1], np.exp(-sqdist(Q, Y) / sigma ** 2) @ alpha


def same_up_to_sign(a, b, tol):
    for c in range(b.shape[1]):
        s = np.sign(np.dot(a[:, c], b[:, c]))
        np.testing.assert_allclose(s * a[:, c], b[:, c], atol=tol * np.abs(b[:, c]).max())


def test_spectral_eigenmaps_and_galerkin():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 4)).astype(np.float32)
    with tempfile.TemporaryDirectory() as d:
        f, e, ev = (os.path.join(d, n) for n in ("f.npy", "e.npy", "ev.npy"))
        np.save(f, X)
        r = run("spectral", "--features", f, "--k", "3", "--graph", "dense", "--sigma", "1.5", "--out", e,
                "--eigenvalues", ev, "--json", "--threads", "1")
        if r.returncode == 1 and "SSLK_E_UNSUPPORTED" in r.stderr:
            pytest.skip("sslkit built without ARPACK (libarpack2-dev)")
        assert r.returncode == 0, r.stderr
        info = json.loads(r.stdout)
        assert info["n"] == 200 and info["d"] == 4 and info["method"] == "eigenmaps"
        lam, V = np_eigenmaps(X, 1.5, 3)
        np.testing.assert_allclose(np.load(ev), lam, rtol=1e-6)
        np.testing.assert_allclose(info["eigenvalues"], lam, rtol=1e-6)
        same_up_to_sign(np.load(e), V, 1e-4)
        q, qe = os.path.join(d, "q.npy"), os.path.join(d, "qe.npy")
        np.save(q, X[:5] + 0.01)
        r = run("spectral", "--features", f, "--k", "2", "--method", "galerkin", "--p", "50", "--sigma", "2",
                "--out", e, "--query", q, "--query-out", qe)
        assert r.returncode == 0, r.stderr
        _, fx = np_galerkin(X, 50, 2.0, 2, X)
        _, fq = np_galerkin(X, 50, 2.0, 2, X[:5] + 0.01)
        same_up_to_sign(np.load(e), fx, 1e-4)
        same_up_to_sign(np.load(qe), fq, 1e-3)


def test_spectral_errors():
    with tempfile.TemporaryDirectory() as d:
        f = os.path.join(d, "f.npy")
        X = np.random.default_rng(1).standard_normal((20, 3)).astype(np.float32)
        np.save(f, X)
        out = os.path.join(d, "e.npy")
        r = run("spectral", "--features", f, "--k", "30", "--out", out)
        assert r.returncode == 1 and "SSLK_E_SHAPE" in r.stderr
        assert not os.path.exists(out)
        r = run("spectral", "--features", f, "--k", "2", "--out", out, "--laplacian", "nope")
        assert r.returncode == 2 and "nope" in r.stderr
        r = run("spectral", "--features", f, "--k", "2")
        assert r.returncode == 2
        X[3, 1] = np.nan
        np.save(f, X)
        r = run("spectral", "--features", f, "--k", "2", "--neighbors", "3", "--out", out)
        assert r.returncode == 1 and "SSLK_E_NONFINITE" in r.stderr
