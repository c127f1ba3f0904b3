"""SwAV loss: numpy reimplementation (values, central differences), queue,
settings, and a PyTorch-autograd comparison written from the official
main_swav.py formula (skipped without torch)."""
import numpy as np
import pytest

import sslkit


def _normalize(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _sinkhorn(scores, eps, iters):
    """distributed_sinkhorn of the official code on one process (B x K scores)."""
    Q = np.exp(scores / eps).T  # K x B
    Q /= Q.sum()
    K, B = Q.shape
    for _ in range(iters):
        Q /= Q.sum(axis=1, keepdims=True)
        Q /= K
        Q /= Q.sum(axis=0, keepdims=True)
        Q /= B
    Q *= B
    return (Q / Q.sum(axis=0, keepdims=True)).T


def swav_np(views, C, assign=(0, 1), T=0.1, eps=0.05, iters=3, queues=None):
    """value of the official loss, in float64; views are raw (the loss normalises)."""
    z = [_normalize(np.asarray(v, np.float64)) for v in views]
    C = np.asarray(C, np.float64)
    n, V = z[0].shape[0], len(z)
    loss = 0.0
    for i, c in enumerate(assign):
        out = z[c] @ C.T
        if queues is not None:
            out = np.concatenate([_normalize(np.asarray(queues[i], np.float64)) @ C.T, out])
        q = _sinkhorn(out, eps, iters)[-n:]
        sub = 0.0
        for v in range(V):
            if v == c:
                continue
            x = z[v] @ C.T / T
            x = x - x.max(axis=1, keepdims=True)
            logp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
            sub -= np.mean(np.sum(q * logp, axis=1))
        loss += sub / (V - 1)
    return loss / len(assign)


def _make(K, d, rng, **kw):
    L = sslkit.Loss("swav", num_prototypes=K, dim=d, normalize_prototypes=0, precision="double", **kw)
    C = rng.normal(size=(K, d)).astype(np.float32)
    C /= np.linalg.norm(C, axis=1, keepdims=True)
    L.params["prototypes"][:] = C
    return L, L.params["prototypes"].astype(np.float64)


def test_value_and_gradients_match_numpy():
    rng = np.random.default_rng(3)
    n, d, K = 5, 4, 6
    views = [rng.normal(size=(n, d)).astype(np.float32) for _ in range(3)]
    L, C = _make(K, d, rng)
    L.zero_grad()
    v, *g = L.compute(*views)
    ref = swav_np(views, C)
    assert abs(v - ref) < 1e-9 * abs(ref)
    assert abs(L.terms["swapped_prediction"] - ref) < 1e-9 * abs(ref)
    h = 1e-4
    # stop-gradient: differentiate with the codes of the unperturbed inputs
    z = [_normalize(x.astype(np.float64)) for x in views]
    qs = [_sinkhorn(z[c] @ C.T, 0.05, 3) for c in (0, 1)]

    def frozen(vs, CC):
        zz = [_normalize(x) for x in vs]
        tot = 0.0
        for i, c in enumerate((0, 1)):
            for vv in range(3):
                if vv == c:
                    continue
                x = zz[vv] @ CC.T / 0.1
                x = x - x.max(axis=1, keepdims=True)
                logp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
                tot -= np.mean(np.sum(qs[i] * logp, axis=1)) / 2
        return tot / 2

    base = [x.astype(np.float64) for x in views]
    assert abs(frozen(base, C) - ref) < 1e-12
    for vi in range(3):
        for e in [(0, 0), (2, 3), (4, 1)]:
            p = [b.copy() for b in base]
            m = [b.copy() for b in base]
            p[vi][e] += h
            m[vi][e] -= h
            fd = (frozen(p, C) - frozen(m, C)) / (2 * h)
            assert abs(g[vi][e] - fd) < 1e-5, (vi, e, g[vi][e], fd)
    gC = L.param_grads["prototypes"]
    for e in [(0, 0), (3, 2), (5, 3)]:
        Cp, Cm = C.copy(), C.copy()
        Cp[e] += h
        Cm[e] -= h
        fd = (frozen(base, Cp) - frozen(base, Cm)) / (2 * h)
        assert abs(gC[e] - fd) < 1e-5, (e, gC[e], fd)


def test_queue_multicrop_assign_and_iterations_match_numpy():
    rng = np.random.default_rng(5)
    n, d, K, m = 4, 6, 7, 9
    views = [rng.normal(size=(n, d)).astype(np.float32) for _ in range(4)]
    queues = [rng.normal(size=(m, d)).astype(np.float32) for _ in range(2)]
    L, C = _make(K, d, rng, crops_for_assign=0b0101, epsilon=0.1, sinkhorn_iterations=5, temperature=0.2)
    v = L.compute(*views, queue=queues, grad=False)
    ref = swav_np(views, C, assign=(0, 2), T=0.2, eps=0.1, iters=5, queues=queues)
    assert abs(v - ref) < 1e-9 * abs(ref)
    # without the queue the value differs (the queue changes the codes)
    v0 = L.compute(*views, grad=False)
    assert abs(v0 - swav_np(views, C, assign=(0, 2), T=0.2, eps=0.1, iters=5)) < 1e-9 * abs(v0)
    assert abs(v0 - v) > 1e-6
    # a NegativeQueue per assigned crop gives the same rows
    nq = [sslkit.NegativeQueue(m, d, init="empty") for _ in range(2)]
    for q, rows in zip(nq, queues):
        q.push(rows)
    assert abs(L.compute(*views, queue=nq, grad=False) - v) < 1e-12
    # 0 iterations: codes are the row softmax of scores / epsilon
    L.set("sinkhorn_iterations", 0)
    assert abs(L.compute(*views, grad=False) - swav_np(views, C, assign=(0, 2), T=0.2, eps=0.1, iters=0)) < 1e-9


def test_float_path_close_to_double_and_prototypes_normalised():
    rng = np.random.default_rng(7)
    n, d, K = 16, 8, 20
    views = [rng.normal(size=(n, d)).astype(np.float32) for _ in range(2)]
    L = sslkit.Loss("swav", num_prototypes=K, dim=d)
    raw = L.params["prototypes"].copy()
    assert np.max(np.abs(np.linalg.norm(raw, axis=1) - 1)) > 0.1  # the nn.Linear init is not unit
    vf, gf, _ = L.compute(*views)
    Cn = L.params["prototypes"].astype(np.float64)
    assert np.allclose(np.linalg.norm(Cn, axis=1), 1, atol=1e-6)  # renormalised in place
    assert np.allclose(Cn, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-6)
    L.set("precision", "double")
    vd, gd, _ = L.compute(*views)
    assert abs(vf - vd) < 1e-5 * abs(vd)
    assert np.max(np.abs(gf - gd)) < 1e-5 * np.max(np.abs(gd))
    assert abs(vd - swav_np(views, Cn)) < 1e-9 * abs(vd)


def test_bad_inputs():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(4, 3)).astype(np.float32)
    L = sslkit.Loss("swav", num_prototypes=5, dim=3)
    with pytest.raises(sslkit.Error, match="at least 2 views"):
        L.compute(z)
    with pytest.raises(sslkit.Error, match="prototypes have dim = 3"):
        L.compute(np.ones((4, 2), np.float32), np.ones((4, 2), np.float32))
    L.set("crops_for_assign", 4)
    with pytest.raises(sslkit.Error, match="names view 2"):
        L.compute(z, z)
    L.set("crops_for_assign", 3)
    bad = z.copy()
    bad[1, 2] = np.nan
    with pytest.raises(sslkit.Error):
        L.compute(z, bad)
    with pytest.raises(sslkit.Error, match="queues"):
        L.compute(z, z, queue=[z, bad])
    with pytest.raises(ValueError, match="SwAV"):
        sslkit.Loss("infonce").compute(z, z, queue=[z])


def test_torch_autograd_official_formula():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    n, d, K, V = 8, 6, 10, 4
    views = [rng.normal(size=(n, d)).astype(np.float32) for _ in range(V)]
    queue = [rng.normal(size=(12, d)).astype(np.float32) for _ in range(2)]
    L = sslkit.Loss("swav", num_prototypes=K, dim=d, precision="double")
    L.zero_grad()
    v, *g = L.compute(*views, queue=queue)
    gC = L.param_grads["prototypes"].copy()
    C0 = L.params["prototypes"].copy()  # normalised in place (float32): torch starts from these rows

    # main_swav.py's step, in float64 on one process
    proto = torch.nn.Linear(d, K, bias=False).double()
    with torch.no_grad():
        proto.weight.copy_(torch.tensor(C0, dtype=torch.float64))
    x = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in views]
    emb = torch.nn.functional.normalize(torch.cat(x), dim=1, p=2)
    output = proto(emb)
    qt = [torch.tensor(a, dtype=torch.float64) for a in queue]
    loss = 0
    for i, crop_id in enumerate([0, 1]):
        with torch.no_grad():
            out = output[n * crop_id:n * (crop_id + 1)]
            out = torch.cat((torch.mm(torch.nn.functional.normalize(qt[i], dim=1), proto.weight.t()), out))
            Q = torch.exp(out / 0.05).t()
            Q /= torch.sum(Q)
            r = torch.ones(Q.shape[0], dtype=torch.float64) / Q.shape[0]
            c = torch.ones(Q.shape[1], dtype=torch.float64) / Q.shape[1]
            for _ in range(3):
                Q *= (r / torch.sum(Q, dim=1)).unsqueeze(1)
                Q *= (c / torch.sum(Q, dim=0)).unsqueeze(0)
            q = (Q / torch.sum(Q, dim=0, keepdim=True)).t()[-n:]
        subloss = 0
        for vv in np.delete(np.arange(V), crop_id):
            p = torch.softmax(output[n * vv:n * (vv + 1)] / 0.1, dim=1)
            subloss -= torch.mean(torch.sum(q * torch.log(p), dim=1))
        loss += subloss / (V - 1)
    loss /= 2
    loss.backward()
    assert abs(v - loss.item()) < 1e-9 * abs(loss.item())
    for a, b in zip(g, x):
        assert np.max(np.abs(a - b.grad.numpy())) < 1e-6 * np.max(np.abs(b.grad.numpy()))
    tg = proto.weight.grad.numpy()
    assert np.max(np.abs(gC - tg)) < 1e-6 * np.max(np.abs(tg))
