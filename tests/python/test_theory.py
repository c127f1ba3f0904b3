"""Theory layer (closed-form SSL, LiDAR, variation scores, bound report)
against numpy reimplementations of the definitions; scipy and torch
cross-checks skip visibly when those are absent."""
import numpy as np
import pytest

import sslkit


def np_moments(X):
    """Second moment and unbiased cross-view moment of (N, m, d) views."""
    X = np.asarray(X, np.float32).astype(np.float64)
    N, m, d = X.shape
    F = X.reshape(-1, d)
    S = F.T @ F / (N * m)
    s = X.sum(1)
    SX = (s.T @ s - F.T @ F) / (N * m * (m - 1))
    return S, SX


def np_gen_eig(A, B):
    """Eigenvalues (descending) and B-normalised vectors of A v = mu B v by
    Cholesky whitening, numpy only."""
    L = np.linalg.cholesky(B)
    Li = np.linalg.inv(L)
    w, U = np.linalg.eigh(Li @ A @ Li.T)
    V = Li.T @ U
    return w[::-1], V[:, ::-1]


def views(seed, N=120, m=3, d=6, noise=0.4):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(N, 1, d)) * np.linspace(0.5, 2, d)
    return (base + noise * rng.normal(size=(N, m, d)) * np.linspace(2, 0.2, d)).astype(np.float32)


@pytest.mark.parametrize("beta,lam", [(1.0, 0.0), (0.6, 0.3), (2.0, 0.05)])
def test_closed_form_matches_numpy(beta, lam):
    X = views(1)
    rep = sslkit.closed_form_ssl(X, k=4, beta=beta, lam=lam, jitter=0)
    S, SX = np_moments(X)
    mu, V = np_gen_eig((1 - beta) * S + beta * SX - lam / 2 * np.eye(6), S)
    np.testing.assert_allclose(rep.spectrum, mu, rtol=1e-8, atol=1e-10)
    theta = np.sqrt(np.maximum(mu[:4], 0))[:, None] * V[:, :4].T
    got = rep.theta.astype(np.float64)
    signs = np.sign((got * theta).sum(1))
    np.testing.assert_allclose(got * signs[:, None], theta, rtol=1e-4, atol=1e-5)
    Y = rep(X[:, 0])
    np.testing.assert_allclose(Y, X[:, 0] @ rep.theta.T, rtol=1e-4, atol=1e-4)
    # the (N*m, d) form with m given is the same fit
    rep2 = sslkit.closed_form_ssl(X.reshape(-1, 6), m=3, k=4, beta=beta, lam=lam, jitter=0)
    np.testing.assert_array_equal(rep2.spectrum, rep.spectrum)


def test_closed_form_centered_and_rotation():
    X = views(2) + 3.0
    rep = sslkit.closed_form_ssl(X, k=3, center=True, lam=0.1, jitter=0)
    Xc = X - X.reshape(-1, 6).astype(np.float64).mean(0)
    S, SX = np_moments(Xc)
    mu, _ = np_gen_eig(SX - 0.05 * np.eye(6), S)
    np.testing.assert_allclose(rep.spectrum, mu, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(rep.mean, X.reshape(-1, 6).mean(0), rtol=1e-5)
    Q, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(6, 6)))
    rot = sslkit.closed_form_ssl((X @ Q.T).astype(np.float32), k=3, center=True, lam=0.1, jitter=0)
    np.testing.assert_allclose(rot.spectrum, rep.spectrum, rtol=1e-5, atol=1e-7)
    a, b = rep(X[:, 0]), rot((X[:, 0] @ Q.T).astype(np.float32))
    np.testing.assert_allclose(np.abs(a), np.abs(b), rtol=1e-3, atol=1e-3)


def test_three_regime_toy():
    tau, c = np.array([0.9, 0.75, 0.5]), np.array([0.4, 0.25, 0.125])
    picked = []
    for lam in [0.5, 3.0, 6.0, 9.0]:
        rep = sslkit.closed_form_ssl_moments(np.diag(1 / c), np.diag(tau / c), k=1, lam=lam, jitter=0)
        picked.append(-1 if rep.collapsed else int(np.abs(rep.theta[0]).argmax()))
        np.testing.assert_allclose(rep.spectrum, np.sort(tau - lam * c / 2)[::-1], rtol=1e-12, atol=1e-12)
    assert picked == [0, 1, 2, -1]


def test_kernel_matches_design_note_eigenproblem():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    X = views(4, N=20, m=2, d=3, noise=0.3)
    sigma, beta, lam = 1.5, 1.0, 0.01
    rep = sslkit.closed_form_ssl(X, k=3, beta=beta, lam=lam, kernel="gaussian", sigma=sigma, jitter=0)
    F = X.reshape(-1, 3).astype(np.float64)
    nm, N, m = len(F), 20, 2
    D2 = ((F[:, None] - F[None]) ** 2).sum(-1)
    K = np.exp(-D2 / (2 * sigma ** 2))
    B = np.kron(np.eye(N), np.ones((m, m)) - np.eye(m))
    A = (1 - beta) / nm * K @ K + beta / (nm * (m - 1)) * K @ B @ K - lam / 2 * K
    w, U = scipy_linalg.eigh(K)
    keep = w > 1e-10 * w.max()
    P = U[:, keep]  # restrict to the range of K (the note's problem is singular outside it)
    mu = scipy_linalg.eigh(P.T @ A @ P, P.T @ (K @ K / nm) @ P, eigvals_only=True)[::-1]
    np.testing.assert_allclose(rep.spectrum[:5], mu[:5], rtol=1e-5, atol=1e-7)
    # the representation of a new point is the kernel expansion sum_j alpha_j k(x_j, x)
    x = np.array([[0.3, -0.2, 0.1]], np.float32)
    assert rep(x).shape == (1, 3)


def test_kernel_cap_and_nystrom():
    X = views(5, N=40, m=2, d=3)
    with pytest.raises(sslkit.Error) as e:
        sslkit.closed_form_ssl(X, kernel="gaussian", max_points=50)
    assert e.value.status_name == "SSLK_E_LIMIT" and "N*m = 80" in e.value.message
    rep = sslkit.closed_form_ssl(X, k=2, kernel="gaussian", max_points=50, landmarks=50, sigma=2.0)
    assert rep.shape == (3, 2)
    exact = sslkit.closed_form_ssl(X, k=2, kernel="gaussian", sigma=2.0)
    # 50 of 80 landmarks in smooth 3-D data: the leading invariance values agree closely
    np.testing.assert_allclose(rep.spectrum[:2], exact.spectrum[:2], rtol=0.05)


def test_random_features_kernel():
    X = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    F = sslkit.random_features(X, 20000, sigma=1.3, seed=1)
    K = np.exp(-((X[:, None] - X[None]) ** 2).sum(-1) / (2 * 1.3 ** 2))
    np.testing.assert_allclose(F.astype(np.float64) @ F.T, K, atol=0.04)
    np.testing.assert_array_equal(F, sslkit.random_features(X, 20000, sigma=1.3, seed=1))


def np_lidar(E, delta, eps):
    E = np.asarray(E, np.float64)
    n, q, d = E.shape
    mi = E.mean(1)
    mu = mi.mean(0)
    Sb = (mi - mu).T @ (mi - mu) / (n - 1)
    R = (E - mi[:, None]).reshape(-1, d)
    Sw = R.T @ R / (n * (q - 1)) + delta * np.eye(d)
    w, U = np.linalg.eigh(Sw)
    Wi = U @ np.diag(w ** -0.5) @ U.T
    lam = np.clip(np.linalg.eigvalsh(Wi @ Sb @ Wi), 0, None)
    p = lam / lam.sum() + eps
    return float(np.exp(-(p * np.log(p)).sum()))


def test_lidar_matches_numpy():
    rng = np.random.default_rng(7)
    E = (rng.normal(size=(50, 1, 8)) * np.linspace(0.1, 3, 8) + 0.5 * rng.normal(size=(50, 4, 8))).astype(np.float32)
    v, spec = sslkit.lidar(E, return_spectrum=True)
    assert v == pytest.approx(np_lidar(E, 1e-4, 1e-8), rel=1e-9)
    assert np.all(np.diff(spec) <= 0)
    assert sslkit.lidar(E.reshape(-1, 8), q=4) == v
    perm = rng.permutation(200)
    assert sslkit.lidar(E.reshape(-1, 8)[perm], ids=np.repeat(np.arange(50), 4)[perm]) == pytest.approx(v, rel=1e-9)
    with pytest.raises(ValueError):
        sslkit.lidar(E.reshape(-1, 8)[:199], ids=np.repeat(np.arange(50), 4)[:199])
    assert 1 <= v <= min(8, 49)
    # design-note case
    e = np.array([[[1.1, 0], [0.9, 0]], [[-0.9, 0], [-1.1, 0]], [[0, 1.1], [0, 0.9]], [[0, -0.9], [0, -1.1]]])
    assert sslkit.lidar(e, delta=0, eps=0) == pytest.approx(2.0, rel=1e-9)
    with pytest.raises(sslkit.Error) as err:
        sslkit.lidar(E[:, :1], q=1)
    assert err.value.status_name == "SSLK_E_SHAPE"
    with pytest.raises(ValueError):
        sslkit.lidar(E.reshape(-1, 8))  # q missing


def test_collapse_std_and_graph_variation():
    rng = np.random.default_rng(8)
    Z = rng.normal(size=(30, 5)).astype(np.float32) * np.arange(1, 6, dtype=np.float32)
    m, per = sslkit.collapse_std(Z, per_dim=True)
    np.testing.assert_allclose(per, Z.astype(np.float64).std(0, ddof=1), rtol=1e-9)
    assert m == pytest.approx(per.mean())
    Zn = Z.astype(np.float64) / np.linalg.norm(Z.astype(np.float64), axis=1, keepdims=True)
    assert sslkit.collapse_std(Z, normalize=True) == pytest.approx(Zn.std(0, ddof=1).mean(), rel=1e-6)
    assert sslkit.collapse_std(np.ones((4, 3))) == 0
    edges = rng.integers(0, 30, size=(100, 2))
    w = rng.uniform(size=100).astype(np.float32)
    Zd = Z.astype(np.float64)
    want = (w * ((Zd[edges[:, 0]] - Zd[edges[:, 1]]) ** 2).sum(1)).sum() / 100
    assert sslkit.graph_variation(Z, edges, w) == pytest.approx(want, rel=1e-6)
    with pytest.raises(sslkit.Error) as err:
        sslkit.graph_variation(Z, np.array([[0, 30]]))
    assert err.value.status_name == "SSLK_E_RANGE"


def test_dirichlet_energy_against_torch():
    torch = pytest.importorskip("torch")
    m = sslkit.Model.from_spec("linear:16,relu,linear:3", (5,), seed=2)
    X = np.random.default_rng(9).normal(size=(12, 5)).astype(np.float32)
    net = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)).double()
    p = m.params
    with torch.no_grad():
        for i, layer in ((0, net[0]), (2, net[2])):
            layer.weight.copy_(torch.from_numpy(np.asarray(p[f"{i}.weight"], np.float64)))
            layer.bias.copy_(torch.from_numpy(np.asarray(p[f"{i}.bias"], np.float64)))
    J = torch.autograd.functional.jacobian(lambda x: net(x).sum(0), torch.from_numpy(X.astype(np.float64)))
    want = float((J ** 2).sum()) / (12 * 3 * 5)
    assert sslkit.dirichlet_energy(m, X, h=1e-3) == pytest.approx(want, rel=2e-3)


def test_variations_of_a_linear_model():
    m = sslkit.Model.from_spec("linear:3", (4,), seed=3)
    W = np.asarray(m.params["0.weight"], np.float64)
    X = np.random.default_rng(10).normal(size=(3000, 4)).astype(np.float32)
    assert sslkit.dirichlet_energy(m, X[:10], h=1e-2) == pytest.approx((W ** 2).sum() / 12, rel=1e-3)
    a = sslkit.augmentation_variation(m, X, sigma=0.2, seed=4)
    assert a == sslkit.augmentation_variation(m, X, sigma=0.2, seed=4)
    assert a == pytest.approx(0.04 * (W ** 2).sum() / 3, rel=0.1)
    assert sslkit.augmentation_variation(m, X, sigma=0.0) == 0


def test_vicreg_bound_against_numpy():
    rng = np.random.default_rng(11)
    W, b = rng.normal(size=(4, 6)).astype(np.float32), rng.normal(size=4).astype(np.float32)
    Z, y = rng.normal(size=(50, 6)).astype(np.float32), rng.integers(0, 4, 50)
    Z1 = rng.normal(size=(20, 6)).astype(np.float32)
    Z2 = (Z1 + 0.1 * rng.normal(size=(20, 6))).astype(np.float32)
    r = sslkit.vicreg_bound(W, b, Z, y, Z1, Z2, complexity=0.3, delta=0.05, inv_weight=2.0)
    L = Z.astype(np.float64) @ W.T.astype(np.float64) + b
    lse = np.log(np.exp(L - L.max(1, keepdims=True)).sum(1)) + L.max(1)
    loss = float((lse - L[np.arange(50), y]).mean())
    inv = float(np.linalg.norm((Z1.astype(np.float64) - Z2) @ W.T.astype(np.float64), axis=1).mean())
    conf = np.sqrt(np.log(1 / 0.05) / 100)
    assert r["labelled_loss"] == pytest.approx(loss, rel=1e-9)
    assert r["labelled_error"] == pytest.approx(float((L.argmax(1) != y).mean()))
    assert r["invariance"] == pytest.approx(inv, rel=1e-6)
    assert r["confidence"] == pytest.approx(conf, rel=1e-12)
    assert r["total"] == pytest.approx(loss + 2 * inv + 0.3 + conf, rel=1e-9)
    assert r["num_labelled"] == 50 and r["num_pairs"] == 20


def test_bad_input():
    X = views(12, N=10, m=2, d=3)
    bad = X.copy()
    bad[3, 1, 2] = np.nan
    with pytest.raises(sslkit.Error) as e:
        sslkit.closed_form_ssl(bad)
    assert e.value.status_name == "SSLK_E_NONFINITE"
    with pytest.raises(sslkit.Error):
        sslkit.closed_form_ssl(X, beta=-1)
    with pytest.raises(ValueError):
        sslkit.closed_form_ssl(X, kernel="cubic")
    with pytest.raises(ValueError):
        sslkit.closed_form_ssl(X.reshape(-1, 3), m=7)
    rep = sslkit.closed_form_ssl(X, k=2)
    with pytest.raises(ValueError):
        rep(np.zeros((2, 4), np.float32))
    with pytest.raises(sslkit.Error) as e:
        sslkit.closed_form_ssl(X, kernel="gaussian").theta
    assert e.value.status_name == "SSLK_E_STATE"


def test_ortho_penalty_against_numpy():
    rng = np.random.default_rng(13)
    Z = rng.normal(size=(40, 5)).astype(np.float32)
    Zc = Z.astype(np.float64) - Z.mean(0)
    C = Zc.T @ Zc / 40
    assert sslkit.ortho_penalty(Z) == pytest.approx(((C - np.eye(5)) ** 2).sum(), rel=1e-9)
    C0 = Z.astype(np.float64).T @ Z / 40
    assert sslkit.ortho_penalty(Z, center=False) == pytest.approx(((C0 - np.eye(5)) ** 2).sum(), rel=1e-9)
    v = sslkit.ortho_penalty(Z, split_seed=3)
    assert v == sslkit.ortho_penalty(Z, split_seed=3)
    # averaged over splits: the U-statistic sum_{i != j} (z_i . z_j)^2 / (n (n-1)) - 2 tr(C0) + k
    G = Z.astype(np.float64) @ Z.T.astype(np.float64)
    u = ((G ** 2).sum() - (np.diag(G) ** 2).sum()) / (40 * 39) - 2 * np.trace(C0) + 5
    avg = np.mean([sslkit.ortho_penalty(Z, split_seed=s) for s in range(2000)])
    assert avg == pytest.approx(u, abs=0.01)
    assert abs(sslkit.ortho_penalty(Z, center=False) - u) > 0.3  # the biased full-batch square differs
