"""Spectral embeddings against numpy: brute-force kNN graphs, dense
numpy.linalg.eigh of the same Laplacians (subspaces compared by principal
angles), diffusion distances from the dense transition matrix, a numpy klap
(Galerkin) solve, the half-moons separation and scikit-learn's
SpectralEmbedding when installed."""
import numpy as np
import pytest

import sslkit


def _has_arpack():
    try:
        sslkit.laplacian_eigenmaps(np.random.default_rng(0).standard_normal((10, 2)), k=1, neighbors=3)
        return True
    except sslkit.Error as e:
        if e.status_name == "SSLK_E_UNSUPPORTED":
            return False
        raise


# graph eigenvectors need ARPACK (an optional dependency); the graphs and the
# Galerkin eigenfunctions do not
needs_arpack = pytest.mark.skipif(not _has_arpack(), reason="libsslkit built without ARPACK (libarpack2-dev)")


def moons(n, noise, seed):
    rng = np.random.default_rng(seed)
    h = n // 2
    t1, t2 = np.linspace(0, np.pi, h), np.linspace(0, np.pi, n - h)
    X = np.r_[np.c_[np.cos(t1), np.sin(t1)], np.c_[1 - np.cos(t2), 1 - np.sin(t2) - 0.5]]
    return X + noise * rng.standard_normal(X.shape), np.r_[np.zeros(h, int), np.ones(n - h, int)]


def sqdist(X):
    X = np.asarray(X, np.float64)
    return ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)


def knn_accuracy(E, y, k=5):
    D = sqdist(E)
    np.fill_diagonal(D, np.inf)
    nn = np.argsort(D, 1, kind="stable")[:, :k]
    return float(((y[nn].mean(1) > 0.5).astype(int) == y).mean())


def cos_principal_angles(A, B):
    """Cosines of the principal angles between span(A) and span(B)."""
    qa, _ = np.linalg.qr(np.asarray(A, np.float64))
    qb, _ = np.linalg.qr(np.asarray(B, np.float64))
    return np.linalg.svd(qa.T @ qb, compute_uv=False)


def dense_csr(indptr, indices, w, n):
    W = np.zeros((n, n))
    for i in range(n):
        W[i, indices[indptr[i]:indptr[i + 1]]] = w[indptr[i]:indptr[i + 1]]
    return W


def np_knn_directed(X, k):
    D = sqdist(X)
    np.fill_diagonal(D, np.inf)
    nbr = np.argsort(D, 1, kind="stable")[:, :k]
    return nbr, np.take_along_axis(D, nbr, 1)


@pytest.mark.parametrize("weights", ["binary", "rbf", "self_tuning"])
@pytest.mark.parametrize("symmetrize", ["union", "mutual"])
def test_knn_graph_matches_brute_force(weights, symmetrize):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((120, 6)).astype(np.float32)
    k, sigma = 5, 2.0
    indptr, indices, w = sslkit.knn_graph(X, neighbors=k, weights=weights, sigma=sigma, symmetrize=symmetrize,
                                          memory_mb=1)
    n = len(X)
    nbr, d2 = np_knn_directed(X, k)
    s = np.sqrt(d2[:, -1])
    A = np.zeros((n, n))
    for i in range(n):
        for c in range(k):
            j = nbr[i, c]
            a = {"binary": 1.0, "rbf": np.exp(-d2[i, c] / sigma ** 2),
                 "self_tuning": np.exp(-d2[i, c] / (s[i] * s[j]))}[weights]
            A[i, j] = a
    W = (A + A.T) / 2
    if symmetrize == "mutual":
        W[(A == 0) | (A.T == 0)] = 0
    got = dense_csr(indptr, indices, w, n)
    assert np.array_equal(got > 0, W > 0)
    np.testing.assert_allclose(got, W, rtol=2e-5, atol=1e-7)
    assert all(np.all(np.diff(indices[indptr[i]:indptr[i + 1]]) > 0) for i in range(n))


def np_laplacian_eigs(W, kind, k, drop=1):
    deg = W.sum(1)
    if kind == "unnormalized":
        lam, V = np.linalg.eigh(np.diag(deg) - W)
    else:
        dh = 1 / np.sqrt(deg)
        lam, V = np.linalg.eigh(np.eye(len(W)) - dh[:, None] * W * dh[None, :])
        if kind == "random_walk":
            V = V * dh[:, None]
    return lam[drop:drop + k], V[:, drop:drop + k]


@needs_arpack
@pytest.mark.parametrize("kind", ["unnormalized", "symmetric", "random_walk"])
def test_eigenmaps_match_numpy_eigh(kind):
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, (150, 3)).astype(np.float32)
    sigma, k = 0.6, 5
    W = np.exp(-sqdist(X) / sigma ** 2)
    np.fill_diagonal(W, 0)
    emb, ev = sslkit.laplacian_eigenmaps(X, k=k, graph="dense", sigma=sigma, laplacian=kind)
    lam, V = np_laplacian_eigs(W, kind, k)
    np.testing.assert_allclose(ev, lam, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(cos_principal_angles(emb, V), 1, atol=1e-5)
    # distinct eigenvalues: each vector matches up to sign, and the largest entry is positive
    for c in range(k):
        v = V[:, c] * np.sign(V[np.argmax(np.abs(V[:, c])), c])
        np.testing.assert_allclose(emb[:, c], v, atol=2e-5 * np.abs(v).max())
    if kind != "random_walk":
        np.testing.assert_allclose(emb.T.astype(np.float64) @ emb, np.eye(k), atol=1e-5)


@needs_arpack
def test_degenerate_eigenspace_subspace():
    # three far-apart clusters: eigenvalue 0 three times; any basis of the
    # indicator span is correct, so compare subspaces only
    rng = np.random.default_rng(2)
    X = np.concatenate([rng.standard_normal((30, 2)) * 0.1 + c for c in ([0, 0], [50, 0], [0, 50])])
    emb, ev = sslkit.laplacian_eigenmaps(X, k=3, neighbors=5, drop_first=False, laplacian="unnormalized")
    np.testing.assert_allclose(ev, 0, atol=1e-8)
    ind = np.repeat(np.eye(3), 30, axis=0)
    np.testing.assert_allclose(cos_principal_angles(emb, ind), 1, atol=1e-6)


@needs_arpack
def test_half_moons_separate():
    X, y = moons(600, 0.05, 0)
    emb, _ = sslkit.laplacian_eigenmaps(X, k=5, graph="dense", sigma=0.1)
    assert knn_accuracy(emb, y) >= 0.99
    emb, _ = sslkit.laplacian_eigenmaps(X, k=5, neighbors=10)
    assert knn_accuracy(emb, y) >= 0.99
    # the first non-trivial eigenvector alone splits the moons by sign
    acc = ((emb[:, 0] > 0).astype(int) == y).mean()
    assert max(acc, 1 - acc) >= 0.99


@needs_arpack
def test_diffusion_distances_match_numpy():
    rng = np.random.default_rng(8)
    X = rng.uniform(0, 1, (80, 2)).astype(np.float32)
    sigma, k, t = 0.3, 6, 2.0
    W = np.exp(-sqdist(X) / sigma ** 2)
    np.fill_diagonal(W, 0)
    deg = W.sum(1)
    dh = 1 / np.sqrt(deg)
    mu, U = np.linalg.eigh(dh[:, None] * W * dh[None, :])
    mu, U = mu[::-1][1:k + 1], U[:, ::-1][:, 1:k + 1]
    psi = U * dh[:, None] * np.sqrt(deg.sum())
    C = psi * mu ** t
    ref = np.sqrt(np.maximum(sqdist(C), 0))
    got = sslkit.diffusion_distances(X, k=k, t=t, graph="dense", sigma=sigma)
    np.testing.assert_allclose(got, ref, atol=1e-4 * ref.max())
    coords, m = sslkit.diffusion_map(X, k=k, t=t, graph="dense", sigma=sigma)
    np.testing.assert_allclose(m, mu, rtol=1e-6)
    # the definition: D_t^2 = sum_z (P^t[x, z] - P^t[y, z])^2 / pi(z); at t = 8
    # the components past the 20th weigh |mu|^16 < 1e-6 of the first
    P = W / deg[:, None]
    Pt = np.linalg.matrix_power(P, 8)
    pi = deg / deg.sum()
    full = np.sqrt(((Pt[:, None, :] - Pt[None, :, :]) ** 2 / pi).sum(-1))
    c20, m20 = sslkit.diffusion_map(X, k=20, t=8, graph="dense", sigma=sigma)
    assert (np.abs(m20[-1]) / m20[0]) ** 16 < 1e-6
    np.testing.assert_allclose(np.sqrt(sqdist(c20)), full, atol=1e-3 * full.max())


def np_klap(X, p, sigma, k):
    Y = X[:p]
    diff = X[:, None, :] - Y[None, :, :]  # n x p x d
    K = np.exp(-(diff ** 2).sum(-1) / sigma ** 2)
    grad = -(2 / sigma ** 2) * diff * K[:, :, None]
    n = len(X)
    L = np.einsum("tid,tjd->ij", grad, grad) / n
    R = K.T @ K / n
    r, U = np.linalg.eigh(R)
    keep = r > 1e-10 * r.max()
    T = U[:, keep] / np.sqrt(r[keep])
    lam, V = np.linalg.eigh(T.T @ L @ T)
    return lam[:k], T @ V[:, :k]


def test_galerkin_matches_numpy_klap_and_extends():
    rng = np.random.default_rng(4)
    X = rng.uniform(-1, 1, (400, 2))
    p, sigma, k = 60, 0.5, 4
    lam, alpha = np_klap(X, p, sigma, k + 1)
    g = sslkit.galerkin_eigenfunctions(X, k=k, p=p, sigma=sigma)
    np.testing.assert_allclose(g.eigenvalues, lam[1:], rtol=1e-5)
    Q = rng.uniform(-1, 1, (50, 2))
    KQ = np.exp(-sqdist(np.r_[Q, X[:p]])[:50, 50:] / sigma ** 2)
    ref = KQ @ alpha[:, 1:]
    got = g.transform(Q)
    for c in range(k):  # same function up to sign
        s = np.sign(np.dot(got[:, c], ref[:, c]))
        np.testing.assert_allclose(s * got[:, c], ref[:, c], atol=1e-4 * np.abs(ref[:, c]).max())


def test_galerkin_neumann_cosines():
    X = ((np.arange(2000) * 0.6180339887498949) % 1.0)[:, None]
    g = sslkit.galerkin_eigenfunctions(X, k=4, p=100, sigma=0.1, drop_first=False)
    np.testing.assert_allclose(g.eigenvalues[1:], (np.pi * np.arange(1, 4)) ** 2, rtol=5e-3)
    q = np.linspace(0.05, 0.95, 91)[:, None]
    f = g(q)
    for m in range(1, 4):
        assert abs(np.corrcoef(f[:, m], np.cos(np.pi * m * q[:, 0]))[0, 1]) > 0.995


@needs_arpack
def test_matches_sklearn_spectral_embedding():
    manifold = pytest.importorskip("sklearn.manifold")
    X, _ = moons(400, 0.08, 1)
    X = np.c_[X, 0.05 * np.random.default_rng(1).standard_normal((400, 3))].astype(np.float32)
    ref = manifold.SpectralEmbedding(n_components=4, affinity="nearest_neighbors", n_neighbors=11,
                                     random_state=0).fit_transform(X)
    # sklearn's kneighbors_graph counts the point itself (a self-loop that its
    # normalised Laplacian ignores): 11 there = 10 neighbours here
    emb, _ = sslkit.laplacian_eigenmaps(X, k=4, neighbors=10, weights="binary", laplacian="random_walk")
    np.testing.assert_allclose(cos_principal_angles(emb, ref), 1, atol=1e-4)


def test_bad_input():
    X = np.random.default_rng(0).standard_normal((20, 3))
    bad = X.copy()
    bad[4, 1] = np.nan
    with pytest.raises(sslkit.Error) as e:
        sslkit.laplacian_eigenmaps(bad, k=2, neighbors=3)
    assert e.value.status_name == "SSLK_E_NONFINITE"
    with pytest.raises(sslkit.Error) as e:
        sslkit.laplacian_eigenmaps(X, k=19, neighbors=3)
    assert e.value.status_name == "SSLK_E_SHAPE"
    with pytest.raises(sslkit.Error) as e:
        sslkit.knn_graph(X, neighbors=20)
    assert e.value.status_name == "SSLK_E_SHAPE"
    with pytest.raises(sslkit.Error) as e:
        sslkit.knn_graph(X, graph="dense", dense_max_n=10)
    assert e.value.status_name == "SSLK_E_LIMIT"
    with pytest.raises(ValueError):
        sslkit.laplacian_eigenmaps(X, k=2, laplacian="nope")
    with pytest.raises(TypeError):
        sslkit.laplacian_eigenmaps(X, k=2, bandwidth=3)
    with pytest.raises(sslkit.Error) as e:
        sslkit.diffusion_map(X, k=2, t=-1, neighbors=3)
    assert e.value.status_name == "SSLK_E_INVALID_ARG"
    with pytest.raises(ValueError):
        sslkit.laplacian_eigenmaps(X[0], k=2)


@needs_arpack
def test_concurrent_handles_match_serial():
    # ARPACK keeps Fortran SAVE state: the library serialises its loops, so
    # eigenmaps on several threads at once give the serial results
    import threading
    rng = np.random.default_rng(6)
    Xs = [rng.standard_normal((400, 5)).astype(np.float32) for _ in range(4)]
    serial = [sslkit.laplacian_eigenmaps(X, k=4, neighbors=8)[0] for X in Xs]
    got = [None] * 4

    def work(i):
        got[i] = sslkit.laplacian_eigenmaps(Xs[i], k=4, neighbors=8, ctx=sslkit.Context(threads=1))[0]

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for a, b in zip(got, serial):
        np.testing.assert_array_equal(a, b)
