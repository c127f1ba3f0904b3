"""Barlow Twins and negative cosine (SimSiam / BYOL) losses (issue 21) against a
numpy reimplementation (values; gradients by central differences of the numpy
value) and, when torch is installed, against PyTorch autograd of the official
code's formulas (BatchNorm1d(affine=False) in training mode; z.detach())."""
import numpy as np
import pytest

import sslkit

RNG = np.random.default_rng(2121)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def fd_grad(f, x, h=1e-6):
    g = np.zeros_like(x, dtype=np.float64)
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


def barlow_np(a, b, lambd=0.0051, eps=1e-5):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    x = (a - a.mean(0)) / np.sqrt(a.var(0) + eps)  # biased variance, as BatchNorm1d normalises
    y = (b - b.mean(0)) / np.sqrt(b.var(0) + eps)
    c = x.T @ y / a.shape[0]
    on = ((1 - np.diag(c)) ** 2).sum()
    off = (c ** 2).sum() - (np.diag(c) ** 2).sum()
    return on + lambd * off, on, off


def cos_np(p, z):
    p = np.asarray(p, np.float64)
    z = np.asarray(z, np.float64)
    return (p * z).sum(1) / np.linalg.norm(p, axis=1) / np.linalg.norm(z, axis=1)


def negcos_np(p, z, form="simsiam"):
    c = cos_np(p, z).mean()
    return 2 - 2 * c if form == "byol" else -c


@pytest.mark.parametrize("n,d", [(8, 5), (5, 9)])
@pytest.mark.parametrize("lambd", [0.0051, 0.5])
def test_barlow_numpy(n, d, lambd):
    za, zb = f32(n, d), f32(n, d)
    L = sslkit.Loss("barlow_twins", lambd=lambd, precision="double")
    v, ga, gb = L.compute(za, zb)
    want, on, off = barlow_np(za, zb, lambd)
    np.testing.assert_allclose(v, want, rtol=1e-12)
    np.testing.assert_allclose([L.terms["on_diagonal"], L.terms["off_diagonal"]], [on, off], rtol=1e-12)
    for g, f in ((ga, lambda x: barlow_np(x, zb, lambd)[0]), (gb, lambda x: barlow_np(za, x, lambd)[0])):
        ref = fd_grad(f, za if g is ga else zb)
        np.testing.assert_allclose(g, ref, rtol=1e-4, atol=1e-6 * np.abs(ref).max())
    vf, gaf, _ = sslkit.Loss("barlow_twins", lambd=lambd).compute(za, zb)
    np.testing.assert_allclose(vf, want, rtol=1e-5)
    np.testing.assert_allclose(gaf, ga, rtol=1e-3, atol=1e-5 * np.abs(ga).max())


def test_barlow_settings_and_eps():
    L = sslkit.Loss("barlow_twins")
    assert L.get("lambd") == pytest.approx(0.0051) and L.get("eps") == pytest.approx(1e-5)
    za, zb = f32(6, 3), f32(6, 3)
    L.set("eps", 0.25)
    np.testing.assert_allclose(L.compute(za, zb, grad=False), barlow_np(za, zb, eps=0.25)[0], rtol=1e-5)


@pytest.mark.parametrize("form", ["simsiam", "byol"])
def test_negcos_numpy(form):
    p, z = f32(7, 4), f32(7, 4)
    L = sslkit.Loss("negcos", form=form, precision="double")
    v, gp, gz = L.compute(p, z)
    np.testing.assert_allclose(v, negcos_np(p, z, form), rtol=1e-12)
    np.testing.assert_allclose(L.terms["cosine"], cos_np(p, z).mean(), rtol=1e-12)
    ref = fd_grad(lambda x: negcos_np(x, z, form), p)
    np.testing.assert_allclose(gp, ref, rtol=1e-4, atol=1e-6 * np.abs(ref).max())
    assert np.all(gz == 0)  # stop-gradient


@pytest.mark.parametrize("reduction,w", [("mean", 0.5), ("sum", 1.0)])
def test_negcos_symmetric_numpy(reduction, w):
    p1, p2, z1, z2 = (f32(6, 5) for _ in range(4))
    L = sslkit.Loss("negcos", symmetric=1, view_reduction=reduction, form="byol")
    v, g1, g2, gz1, gz2 = L.compute(p1, p2, z1, z2)
    want = w * (negcos_np(p1, z2, "byol") + negcos_np(p2, z1, "byol"))
    np.testing.assert_allclose(v, want, rtol=1e-6)
    ref1 = fd_grad(lambda x: w * negcos_np(x, z2, "byol"), p1)
    ref2 = fd_grad(lambda x: w * negcos_np(x, z1, "byol"), p2)
    np.testing.assert_allclose(g1, ref1, rtol=1e-3, atol=1e-5 * np.abs(ref1).max())
    np.testing.assert_allclose(g2, ref2, rtol=1e-3, atol=1e-5 * np.abs(ref2).max())
    assert not gz1.any() and not gz2.any()


def test_bad_inputs():
    with pytest.raises(Exception, match="norm"):
        sslkit.Loss("negcos").compute(np.zeros((3, 2), np.float32), f32(3, 2))
    with pytest.raises(ValueError):
        sslkit.Loss("barlow_twins").compute(f32(4, 3), f32(4, 2))
    with pytest.raises(Exception, match="2 views"):
        sslkit.Loss("barlow_twins").compute(f32(4, 3), f32(4, 3), f32(4, 3))
    bad = f32(4, 3)
    bad[1, 2] = np.nan
    with pytest.raises(Exception):
        sslkit.Loss("barlow_twins").compute(bad, f32(4, 3))
    with pytest.raises(Exception, match="4 views"):
        sslkit.Loss("negcos", symmetric=1).compute(f32(4, 3), f32(4, 3))


# ---- PyTorch autograd of the official formulas ----------------------------------------

@pytest.mark.parametrize("n,d", [(16, 8), (6, 20)])  # d x d and n x n (n < d) paths
def test_barlow_torch(n, d):
    torch = pytest.importorskip("torch")
    za, zb = f32(n, d), f32(n, d)
    a = torch.tensor(za, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(zb, dtype=torch.float64, requires_grad=True)
    bn = torch.nn.BatchNorm1d(d, affine=False).double().train()
    c = bn(a).T @ bn(b) / n
    on = (torch.diagonal(c) - 1).pow(2).sum()
    off = c.pow(2).sum() - torch.diagonal(c).pow(2).sum()
    loss = on + 0.0051 * off
    loss.backward()
    v, ga, gb = sslkit.Loss("barlow_twins", precision="double").compute(za, zb)
    np.testing.assert_allclose(v, loss.item(), rtol=1e-10)
    np.testing.assert_allclose(ga, a.grad.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gb, b.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_negcos_torch():
    torch = pytest.importorskip("torch")
    xs = [f32(10, 6) for _ in range(4)]
    t = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    D = lambda p, z: -torch.nn.functional.cosine_similarity(p, z.detach(), dim=1).mean()  # noqa: E731
    loss = 0.5 * D(t[0], t[3]) + 0.5 * D(t[1], t[2])  # SimSiam: p1 with z2, p2 with z1
    loss.backward()
    v, *g = sslkit.Loss("negcos", symmetric=1, precision="double").compute(*xs)
    np.testing.assert_allclose(v, loss.item(), rtol=1e-12)
    for k in range(2):
        np.testing.assert_allclose(g[k], t[k].grad.numpy(), rtol=1e-5, atol=1e-8)
    for k in (2, 3):
        assert t[k].grad is None and not g[k].any()
