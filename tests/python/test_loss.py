"""sslkit.Loss against independent numpy reimplementations (float64 values;
gradients by central differences of the numpy value), plus invariances."""
import numpy as np
import pytest

import sslkit

RNG = np.random.default_rng(1234)
SHAPES = [(8, 5), (5, 9), (12, 12)]


def fd_grad(f, x, h=1e-6):
    """Central differences of a float64 numpy function at x (any shape)."""
    g = np.zeros_like(x, dtype=np.float64)
    xf = x.astype(np.float64).copy()
    it = np.nditer(xf, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = xf[i]
        xf[i] = old + h
        fp = f(xf)
        xf[i] = old - h
        fm = f(xf)
        xf[i] = old
        g[i] = (fp - fm) / (2 * h)
    return g


def close(a, b, rtol, atol_rel=1e-6):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    scale = max(np.abs(b).max(), 1e-30)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol_rel * scale)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


# ---- numpy references ---------------------------------------------------------------

def np_vicreg(za, zb, lam=25.0, mu=25.0, nu=1.0, gamma=1.0, eps=1e-4, red="mean"):
    n, d = za.shape
    inv = np.mean((za - zb) ** 2)
    var_terms, cov_terms = [], []
    for z in (za, zb):
        x = z - z.mean(0)
        std = np.sqrt(x.var(0, ddof=1) + eps)
        var_terms.append(np.mean(np.maximum(0.0, gamma - std)))
        c = x.T @ x / (n - 1)
        cov_terms.append((np.sum(c ** 2) - np.sum(np.diag(c) ** 2)) / d)
    v = sum(var_terms) * (0.5 if red == "mean" else 1.0)
    return lam * inv + mu * v + nu * sum(cov_terms)


def np_logdet_entropy(z, beta, centered):
    n, d = z.shape
    x = z - z.mean(0) if centered else z
    c = x.T @ x / ((n - 1) if centered else n)
    return 0.5 * np.linalg.slogdet(np.eye(d) + beta * c)[1]


def np_pairdist_entropy(z, kappa):
    n = z.shape[0]
    D = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1) * kappa
    a = -D
    m = a.max(1, keepdims=True)
    lse = (m + np.log(np.exp(a - m).sum(1, keepdims=True)))[:, 0]
    return np.log(n) - lse.mean()


def logsumexp(a, axis):
    m = a.max(axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.exp(a - m).sum(axis=axis))


def np_ntxent(views, tau, ids=None, red="mean"):
    z = np.concatenate(views) if ids is None else views[0]
    if ids is None:
        n = views[0].shape[0]
        ids = np.tile(np.arange(n), len(views))
    u = z / np.linalg.norm(z, axis=1, keepdims=True)
    s = u @ u.T / tau
    T = len(z)
    tot = 0.0
    for a in range(T):
        others = np.arange(T) != a
        pos = others & (ids == ids[a])
        tot += logsumexp(s[a, others], 0) - logsumexp(s[a, pos], 0)
    scale = T / len(np.unique(ids)) if red == "sum" else 1.0
    return scale * tot / T


def np_sym_infonce(a, b, tau):
    ua = a / np.linalg.norm(a, axis=1, keepdims=True)
    ub = b / np.linalg.norm(b, axis=1, keepdims=True)
    A = ua @ ub.T / tau
    n = len(a)
    r = np.mean(logsumexp(A, 1) - np.diag(A))
    c = np.mean(logsumexp(A, 0) - np.diag(A))
    return 0.5 * (r + c)


def np_diet(h, W, idx, alpha):
    N = W.shape[0]
    logits = h @ W.T
    logp = logits - logsumexp(logits, 1)[:, None]
    q = np.full(logits.shape, alpha / N)
    q[np.arange(len(idx)), idx] += 1 - alpha
    return -np.mean(np.sum(q * logp, 1))


def np_sinkhorn(T, iters):
    Q = T.T.copy()
    K, B = Q.shape
    Q /= Q.sum()
    for _ in range(iters):
        Q /= Q.sum(1, keepdims=True)
        Q /= K
        Q /= Q.sum(0, keepdims=True)
        Q /= B
    return (Q * B).T


def np_msn_targets(targets, protos, tau, sharpen, iters):
    q = protos / np.linalg.norm(protos, axis=1, keepdims=True)
    h = targets / np.linalg.norm(targets, axis=1, keepdims=True)
    t = h @ q.T / (tau * sharpen)
    T = np.exp(t - t.max(1, keepdims=True))
    T /= T.sum(1, keepdims=True)
    return np_sinkhorn(T, iters) if iters else T


def np_msn(anchors, T, protos, tau, prior, lam, reverse=False, ent_w=0.0):
    V = anchors.shape[0] // T.shape[0]
    q = protos / np.linalg.norm(protos, axis=1, keepdims=True)
    z = anchors / np.linalg.norm(anchors, axis=1, keepdims=True)
    s = z @ q.T / tau
    logp = s - logsumexp(s, 1)[:, None]
    p = np.exp(logp)
    Tr = np.tile(T, (V, 1))
    ce = np.mean(np.sum(-Tr * logp, 1))
    pbar = p.mean(0)
    if reverse:
        kl = np.sum(prior * (np.log(prior) - np.log(pbar)))
    else:
        kl = np.sum(pbar * (np.log(pbar) - np.log(prior)))
    ent = np.mean(-np.sum(p * logp, 1))
    return ce + lam * kl + ent_w * ent, ce, kl, ent


# ---- VICReg ------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("red", ["mean", "sum"])
def test_vicreg_matches_numpy(shape, red):
    za, zb = f32(*shape), 0.7 * f32(*shape)
    L = sslkit.Loss("vicreg", var_branch_reduction=red, cov_coeff=1.5)
    v, ga, gb = L.compute(za, zb)
    ref = lambda a, b: np_vicreg(a, b, nu=1.5, red=red)  # noqa: E731
    assert v == pytest.approx(ref(za.astype(float), zb.astype(float)), rel=1e-5)
    close(ga, fd_grad(lambda a: ref(a, zb.astype(float)), za), 2e-4)
    close(gb, fd_grad(lambda b: ref(za.astype(float), b), zb), 2e-4)
    t = L.terms
    assert set(t) == {"invariance", "variance", "covariance"}
    assert v == pytest.approx(25 * t["invariance"] + 25 * t["variance"] + 1.5 * t["covariance"], rel=1e-9)


def test_vicreg_invariances():
    z = f32(10, 6)
    L = sslkit.Loss("vicreg")
    v, ga, gb = L.compute(z, z)
    assert L.terms["invariance"] == 0.0
    # identical views: the invariance part of the gradient vanishes, the rest is symmetric
    np.testing.assert_array_equal(ga, gb)
    # collapse: official 24.75, summed branches 49.5, zero gradients
    c = np.tile(np.array([[0.3, -0.7, 1.1]], np.float32), (4, 1))
    v, ga, gb = sslkit.Loss("vicreg").compute(c, c)
    assert v == pytest.approx(24.75, rel=1e-12)
    assert not ga.any() and not gb.any()
    assert sslkit.Loss("vicreg", var_branch_reduction="sum").compute(c, c)[0] == pytest.approx(49.5)


# ---- entropy VICReg --------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(9, 4), (4, 9)])
@pytest.mark.parametrize("centered", [0, 1])
def test_logdet_matches_numpy(shape, centered):
    za, zb = f32(*shape), f32(*shape)
    L = sslkit.Loss("vicreg_logdet", beta=0.5, centered=centered, precision="double")
    v, ga, gb = L.compute(za, zb)
    d = shape[1]

    def ref(a, b):
        inv = np.mean((a - b) ** 2)
        H = np_logdet_entropy(a, 0.5, centered) + np_logdet_entropy(b, 0.5, centered)
        return 25 * inv - 25 / d * H

    A, B = za.astype(float), zb.astype(float)
    assert v == pytest.approx(ref(A, B), rel=1e-9)
    close(ga, fd_grad(lambda a: ref(a, B), za), 1e-5)
    close(gb, fd_grad(lambda b: ref(A, b), zb), 1e-5)


@pytest.mark.parametrize("estimator,factor", [("kl", 0.5), ("bhattacharyya", 0.125)])
def test_pairdist_matches_numpy(estimator, factor):
    za, zb = f32(7, 5), f32(7, 5)
    L = sslkit.Loss("vicreg_pairdist", estimator=estimator, sigma2=0.3)
    v, ga, gb = L.compute(za, zb)
    kappa = factor / (0.3 * 5)

    def ref(a, b):
        return 25 * np.mean((a - b) ** 2) - 25 * (np_pairdist_entropy(a, kappa) + np_pairdist_entropy(b, kappa))

    A, B = za.astype(float), zb.astype(float)
    assert v == pytest.approx(ref(A, B), rel=1e-5)
    close(ga, fd_grad(lambda a: ref(a, B), za), 2e-4)
    close(gb, fd_grad(lambda b: ref(A, b), zb), 2e-4)
    H = L.terms["entropy"]
    assert 0 < H < 2 * np.log(7)


# ---- InfoNCE -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_ntxent_matches_numpy(shape, tau):
    a, b = f32(*shape), f32(*shape)
    L = sslkit.Loss("infonce", temperature=tau)
    v, ga, gb = L.compute(a, b)
    A, B = a.astype(float), b.astype(float)
    assert v == pytest.approx(np_ntxent([A, B], tau), rel=1e-5)
    close(ga, fd_grad(lambda x: np_ntxent([x, B], tau), a), 5e-4)
    close(gb, fd_grad(lambda x: np_ntxent([A, x], tau), b), 5e-4)
    # google-research/simclr scale
    v2 = sslkit.Loss("infonce", temperature=tau, view_reduction="sum").compute(a, b, grad=False)
    assert v2 == pytest.approx(2 * v, rel=1e-6)


def test_ntxent_three_views_and_indices():
    z = [f32(6, 4) for _ in range(3)]
    L = sslkit.Loss("infonce", temperature=0.3, precision="double")
    v, *g = L.compute(*z)
    Z = [x.astype(float) for x in z]
    assert v == pytest.approx(np_ntxent(Z, 0.3), rel=1e-9)
    for i in range(3):
        close(g[i], fd_grad(lambda x: np_ntxent(Z[:i] + [x] + Z[i + 1:], 0.3), z[i]), 1e-5)
    # uneven groups through sample ids
    s = f32(9, 4)
    ids = np.array([3, 1, 3, 7, 1, 7, 3, 1, 1])
    v, gs = L.compute(s, ids)
    assert v == pytest.approx(np_ntxent([s.astype(float)], 0.3, ids=ids), rel=1e-9)
    close(gs, fd_grad(lambda x: np_ntxent([x], 0.3, ids=ids), s), 1e-5)


def test_ntxent_invariances():
    a, b = f32(16, 8), f32(16, 8)
    L = sslkit.Loss("infonce", temperature=0.2)
    v0 = L.compute(a, b, grad=False)
    scale = RNG.uniform(0.01, 100, size=(16, 1)).astype(np.float32)
    assert L.compute(a * scale, b, grad=False) == pytest.approx(v0, rel=1e-5)
    assert L.compute(a, b * 3.5, grad=False) == pytest.approx(v0, rel=1e-5)
    # collapse: log(2N - 1) for any temperature
    c = np.tile(np.array([[3.0, 4.0]], np.float32), (8, 1))
    for tau in (0.05, 0.5, 2.0):
        assert sslkit.Loss("infonce", temperature=tau).compute(c, 2 * c, grad=False) == pytest.approx(np.log(15), rel=1e-6)
    # gradient is orthogonal to each row (scale invariance)
    _, ga, gb = L.compute(a, b)
    np.testing.assert_allclose(np.sum(ga * a, 1), 0, atol=1e-5)


@pytest.mark.parametrize("shape", [(6, 3), (10, 7)])
def test_symmetric_infonce_matches_numpy(shape):
    a, b = f32(*shape), f32(*shape)
    L = sslkit.Loss("infonce_symmetric", temperature=0.4)
    v, ga, gb = L.compute(a, b)
    A, B = a.astype(float), b.astype(float)
    assert v == pytest.approx(np_sym_infonce(A, B, 0.4), rel=1e-5)
    close(ga, fd_grad(lambda x: np_sym_infonce(x, B, 0.4), a), 5e-4)
    close(gb, fd_grad(lambda x: np_sym_infonce(A, x, 0.4), b), 5e-4)
    assert set(L.terms) == {"a_to_b", "b_to_a"}


# ---- DIET ------------------------------------------------------------------------------

@pytest.mark.parametrize("B,K,N", [(6, 4, 9), (16, 8, 40)])
@pytest.mark.parametrize("chunked", [False, True])
def test_diet_matches_numpy(B, K, N, chunked):
    extra = dict(logit_cache_mb=0, chunk=7) if chunked else {}
    L = sslkit.Loss("diet", num_samples=N, dim=K, **extra)
    W = L.params["head.weight"]
    assert W.shape == (N, K) and np.abs(W).max() <= 1 / np.sqrt(K)
    W *= 4  # sharper softmax (writes through to the library)
    h = f32(B, K)
    idx = RNG.integers(0, N, size=B)
    v, gh = L.compute(h, idx)
    Wd = W.astype(float)
    assert v == pytest.approx(np_diet(h.astype(float), Wd, idx, 0.8), rel=1e-5)
    close(gh, fd_grad(lambda x: np_diet(x, Wd, idx, 0.8), h), 3e-4)
    gW = L.param_grads["head.weight"].copy()
    close(gW, fd_grad(lambda w: np_diet(h.astype(float), w, idx, 0.8), W), 3e-4)
    # gradients accumulate until zero_grad
    L.compute(h, idx)
    close(L.param_grads["head.weight"], 2 * gW, 1e-6)
    L.zero_grad()
    assert not L.param_grads["head.weight"].any()
    logits = h @ W.T
    assert L.terms["accuracy"] == pytest.approx(np.mean(logits.argmax(1) == idx))


def test_diet_two_views_and_errors():
    L = sslkit.Loss("diet", num_samples=10, dim=3, label_smoothing=0.0)
    h1, h2 = f32(4, 3), f32(4, 3)
    idx = np.array([0, 9, 3, 3])
    v, g1, g2 = L.compute(h1, h2, idx)
    W = L.params["head.weight"].astype(float)
    ref = np_diet(np.concatenate([h1, h2]).astype(float), W, np.concatenate([idx, idx]), 0.0)
    assert v == pytest.approx(ref, rel=1e-5)
    with pytest.raises(sslkit.Error) as e:
        L.compute(h1, np.array([0, 10, 1, 2]))
    assert e.value.status_name == "SSLK_E_RANGE"
    with pytest.raises(sslkit.Error) as e:
        L.set("num_samples", 11)
    assert e.value.status_name == "SSLK_E_STATE"


# ---- MSN ----------------------------------------------------------------------------------

@pytest.mark.parametrize("prior", ["uniform", "power_law", "user"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("views", [1, 3])
def test_msn_matches_numpy(prior, reverse, views):
    K, d, n = 6, 5, 4
    user = np.array([0.3, 0.1, 0.2, 0.15, 0.05, 0.2])
    kw = dict(num_prototypes=K, dim=d, temperature=0.3, sinkhorn_iterations=3 if views == 3 else 0,
              kl_direction="reverse" if reverse else "forward", prior_weight=1.3, tau=0.7,
              entropy_weight=0.4 if reverse else 0.0)
    L = sslkit.Loss("msn", prior=user if prior == "user" else prior, **kw)
    assert L.get("prior") == {"uniform": 0, "power_law": 1, "user": 2}[prior]
    protos = L.params["prototypes"]
    assert protos.shape == (K, d) and np.abs(protos).max() <= 1 / np.sqrt(d)
    anchors, targets = f32(views * n, d), f32(n, d)
    v, ga = L.compute(anchors, targets)
    assert ga.shape == anchors.shape
    if prior == "uniform":
        pi = np.full(K, 1.0 / K)
    elif prior == "power_law":
        pi = np.arange(1, K + 1) ** -0.7
        pi /= pi.sum()
    else:
        pi = user / user.sum()
    Q = protos.astype(float)
    T = np_msn_targets(targets.astype(float), Q, 0.3, 0.25, kw["sinkhorn_iterations"])
    ref = lambda a, q: np_msn(a, T, q, 0.3, pi, 1.3, reverse, kw["entropy_weight"])[0]  # noqa: E731
    want, ce, kl, ent = np_msn(anchors.astype(float), T, Q, 0.3, pi, 1.3, reverse, kw["entropy_weight"])
    assert v == pytest.approx(want, rel=2e-5)
    t = L.terms
    assert t["cross_entropy"] == pytest.approx(ce, rel=2e-5)
    assert t["prior_kl"] == pytest.approx(kl, rel=1e-4, abs=1e-7)
    assert t["entropy"] == pytest.approx(ent, rel=2e-5)
    close(ga, fd_grad(lambda a: ref(a, Q), anchors), 3e-4)
    # prototypes: targets are constants (stop-gradient)
    close(L.param_grads["prototypes"], fd_grad(lambda q: ref(anchors.astype(float), q), protos), 3e-4)


def test_msn_3d_anchors_and_errors():
    L = sslkit.Loss("msn", num_prototypes=8, dim=4)
    a, t = f32(2, 5, 4), f32(5, 4)
    v, ga = L.compute(a, t)
    assert ga.shape == (2, 5, 4)
    v2, _ = sslkit.Loss("msn", num_prototypes=8, dim=4).compute(a.reshape(10, 4), t)
    assert v2 == pytest.approx(v, rel=1e-6)  # same seed -> same prototypes
    with pytest.raises(sslkit.Error) as e:
        sslkit.Loss("msn", num_prototypes=4, dim=4, prior=np.array([0.5, 0.5, 0.5, 0.5]))
    assert e.value.status_name == "SSLK_E_INVALID_ARG"
    with pytest.raises(sslkit.Error) as e:
        sslkit.Loss("msn", temperature=0.0)
    assert e.value.status_name == "SSLK_E_SETTING"
    with pytest.raises(sslkit.Error) as e:
        L.compute(a.reshape(10, 4), np.full((5, 4), np.nan, np.float32))
    assert e.value.status_name == "SSLK_E_NONFINITE"


# ---- settings ------------------------------------------------------------------------------

def test_settings_introspection_and_errors():
    s = sslkit.settings("vicreg")
    assert s["sim_coeff"]["default"] == 25 and s["eps"]["default"] == 1e-4
    assert sslkit.settings("infonce")["temperature"]["lo"] > 0
    assert sslkit.settings("msn")["sharpen"]["default"] == 0.25
    L = sslkit.Loss("vicreg", sim_coeff=10)
    assert L.get("sim_coeff") == 10.0
    assert L.settings["precision"] == 0
    with pytest.raises(KeyError):
        sslkit.Loss("vicreg", temperature=0.1)
    with pytest.raises(ValueError):
        sslkit.Loss("nope")
    with pytest.raises(sslkit.Error) as e:
        sslkit.Loss("infonce", temperature=-1)
    assert e.value.status_name == "SSLK_E_SETTING"
    with pytest.raises(sslkit.Error) as e:
        sslkit.Loss("vicreg").compute(f32(1, 4), f32(1, 4))
    assert e.value.status_name == "SSLK_E_SHAPE"
    with pytest.raises(ValueError):
        sslkit.Loss("vicreg").compute(f32(4, 3), f32(5, 3))


def test_one_optimizer_steps_model_and_loss_parameters():
    """The contract of issue 3/4: a loss's own tensors (DIET head) and a model's
    parameters go into one sslkit.Optimizer; one SGD step moves both by -lr * grad."""
    import numpy as np
    rng = np.random.default_rng(0)
    model = sslkit.Model.from_spec("linear:8", (5,), seed=1)
    loss = sslkit.Loss("diet", num_samples=6, dim=8)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    idx = np.array([0, 2, 3, 5])
    z = model.forward(x, train=True)
    _, gz = loss.compute(z, idx)
    model.backward(gz)
    w0 = {k: v.copy() for k, v in model.params.items()}
    h0 = {k: v.copy() for k, v in loss.params.items()}
    gw = {k: v.copy() for k, v in model.grads.items()}
    gh = {k: v.copy() for k, v in loss.param_grads.items()}
    opt = sslkit.Optimizer("sgd", model, loss, lr=0.5)
    opt.step()
    for k in w0:
        np.testing.assert_allclose(model.params[k], w0[k] - 0.5 * gw[k], rtol=1e-5, atol=1e-6)
    for k in h0:
        assert np.abs(gh[k]).max() > 0
        np.testing.assert_allclose(loss.params[k], h0[k] - 0.5 * gh[k], rtol=1e-5, atol=1e-6)
