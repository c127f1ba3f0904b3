"""MoCo v2 / v3 loss (issue 21c) against a numpy reimplementation (values;
gradients by central differences of the numpy value) and, when torch is
installed, against PyTorch autograd of the official code's formulas
(facebookresearch/moco builder.py: logits [l_pos, l_neg] / T, label 0;
moco-v3 builder.py: CE(q k^T / T, arange) * 2T, symmetric)."""
import numpy as np
import pytest

import sslkit

RNG = np.random.default_rng(2113)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def unit(x):
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def lse(s):
    m = s.max(1, keepdims=True)
    return (m + np.log(np.exp(s - m).sum(1, keepdims=True)))[:, 0]


def moco_v2_np(q, k, neg, T=0.2):
    uq, uk, un = unit(q), unit(k), unit(neg)
    logits = np.concatenate([(uq * uk).sum(1, keepdims=True), uq @ un.T], 1) / T
    return float(np.mean(lse(logits) - logits[:, 0]))


def ctr_np(q, k, T):
    s = unit(q) @ unit(k).T / T
    return float(np.mean(lse(s) - np.diag(s))) * 2 * T


def fd_grad(f, x, h=1e-6):
    g = np.zeros(x.shape)
    xf = x.astype(np.float64).copy()
    for i in np.ndindex(xf.shape):
        old = xf[i]
        xf[i] = old + h
        fp = f(xf)
        xf[i] = old - h
        fm = f(xf)
        xf[i] = old
        g[i] = (fp - fm) / (2 * h)
    return g


@pytest.mark.parametrize("T", [0.2, 1.0])
def test_moco_v2_numpy(T):
    q, k, neg = f32(6, 5), f32(6, 5), f32(9, 5)
    L = sslkit.Loss("moco", temperature=T, precision="double")
    assert L.get("version") == 2
    v, gq, gk = L.compute(q, k, negatives=neg)
    np.testing.assert_allclose(v, moco_v2_np(q, k, neg, T), rtol=1e-12)
    ref = fd_grad(lambda x: moco_v2_np(x, k, neg, T), q)
    np.testing.assert_allclose(gq, ref, rtol=1e-5, atol=1e-7 * np.abs(ref).max())
    assert not gk.any()  # the keys are constants
    np.testing.assert_allclose(L.terms["cross_entropy"], v, rtol=1e-12)
    np.testing.assert_allclose(L.terms["positive_cosine"], (unit(q) * unit(k)).sum(1).mean(), rtol=1e-12)
    vf, gqf, _ = sslkit.Loss("moco", temperature=T).compute(q, k, negatives=neg)
    np.testing.assert_allclose(vf, v, rtol=1e-6)
    np.testing.assert_allclose(gqf, gq, rtol=1e-4, atol=1e-6 * np.abs(gq).max())


def test_moco_v2_with_queue():
    """The queue object as the negatives; the caller enqueues the normalised keys."""
    q, k = f32(4, 3), f32(4, 3)
    queue = sslkit.NegativeQueue(8, 3, init="random")
    L = sslkit.Loss("moco", precision="double")
    v, _, _ = L.compute(q, k, negatives=queue)
    np.testing.assert_allclose(v, moco_v2_np(q, k, queue.rows), rtol=1e-12)
    queue.push(unit(k).astype(np.float32))
    v2, _, _ = L.compute(q, k, negatives=queue)
    np.testing.assert_allclose(v2, moco_v2_np(q, k, queue.rows), rtol=1e-12)
    assert v2 != v


@pytest.mark.parametrize("views", [2, 4])
def test_moco_v3_numpy(views):
    xs = [f32(7, 4) for _ in range(views)]
    T = 0.3
    L = sslkit.Loss("moco", version=3, temperature=T, precision="double")
    v, *g = L.compute(*xs)
    if views == 2:
        f = [lambda x: ctr_np(x, xs[1], T)]
        want = ctr_np(xs[0], xs[1], T)
    else:
        f = [lambda x: ctr_np(x, xs[3], T) + ctr_np(xs[1], xs[2], T),
             lambda x: ctr_np(xs[0], xs[3], T) + ctr_np(x, xs[2], T)]
        want = ctr_np(xs[0], xs[3], T) + ctr_np(xs[1], xs[2], T)
    np.testing.assert_allclose(v, want, rtol=1e-12)
    for a in range(views // 2):
        ref = fd_grad(f[a], xs[a])
        np.testing.assert_allclose(g[a], ref, rtol=1e-5, atol=1e-7 * np.abs(ref).max())
    for a in range(views // 2, views):
        assert not g[a].any()


def test_moco_bad_inputs():
    q, k = f32(4, 3), f32(4, 3)
    with pytest.raises(sslkit.Error, match="compute_negatives"):
        sslkit.Loss("moco").compute(q, k)  # v2 needs its queue
    with pytest.raises(sslkit.Error, match="in-batch"):
        sslkit.Loss("moco", version=3).compute(q, k, negatives=f32(5, 3))
    bad = f32(5, 3)
    bad[2, 1] = np.nan
    with pytest.raises(sslkit.Error):
        sslkit.Loss("moco").compute(q, k, negatives=bad)
    with pytest.raises(sslkit.Error):
        sslkit.Loss("moco", version=4)
    with pytest.raises(sslkit.Error):
        sslkit.Loss("moco", version=3).compute(q, k, q)  # 3 views


def test_moco_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    q, k, neg = f32(8, 6), f32(8, 6), f32(16, 6)
    tq = torch.tensor(q, dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        tk = F.normalize(torch.tensor(k, dtype=torch.float64), dim=1)
        queue = F.normalize(torch.tensor(neg, dtype=torch.float64), dim=1).T  # (dim, K), as the official buffer
    nq = F.normalize(tq, dim=1)
    logits = torch.cat([torch.einsum("nc,nc->n", nq, tk).unsqueeze(-1), torch.einsum("nc,ck->nk", nq, queue)], 1)
    loss = F.cross_entropy(logits / 0.2, torch.zeros(8, dtype=torch.long))
    loss.backward()
    v, gq, _ = sslkit.Loss("moco", precision="double").compute(q, k, negatives=neg)
    np.testing.assert_allclose(v, loss.item(), rtol=1e-12)
    np.testing.assert_allclose(gq, tq.grad.numpy(), rtol=1e-6, atol=1e-9)

    xs = [f32(10, 6) for _ in range(4)]
    t = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    T = 1.0

    def ctr(a, b):  # moco-v3 contrastive_loss, one process
        a, b = F.normalize(a, dim=1), F.normalize(b.detach(), dim=1)
        return F.cross_entropy(a @ b.T / T, torch.arange(a.shape[0])) * (2 * T)

    loss = ctr(t[0], t[3]) + ctr(t[1], t[2])
    loss.backward()
    v, *g = sslkit.Loss("moco", version=3, temperature=T, precision="double").compute(*xs)
    np.testing.assert_allclose(v, loss.item(), rtol=1e-12)
    for a in range(2):
        np.testing.assert_allclose(g[a], t[a].grad.numpy(), rtol=1e-6, atol=1e-9)
