"""DINO loss (issue 21) against a numpy reimplementation of the official
DINOLoss (values, terms, centre updates over steps, the teacher-temperature
schedule as np.linspace; gradients by central differences of the numpy value)
and, when torch is installed, against PyTorch autograd of the official forward
written out here (chunked views, detached teacher, update_center)."""
import numpy as np
import pytest

import sslkit

RNG = np.random.default_rng(2124)


def f32(*shape, scale=1.0):
    return (scale * RNG.standard_normal(shape)).astype(np.float32)


def log_softmax(x):
    x = x - x.max(1, keepdims=True)
    return x - np.log(np.exp(x).sum(1, keepdims=True))


def dino_np(students, teachers, center, ts=0.1, tt=0.04):
    """(value, mean teacher entropy, next centre before the momentum) as main_dino.py"""
    q = [np.exp(log_softmax((np.asarray(t, np.float64) - center) / tt)) for t in teachers]
    lp = [log_softmax(np.asarray(s, np.float64) / ts) for s in students]
    total, terms = 0.0, 0
    for iq, qt in enumerate(q):
        for v, l in enumerate(lp):
            if v == iq:
                continue
            total += (-qt * l).sum(1).mean()
            terms += 1
    ent = np.mean([(-qt * np.log(qt)).sum(1).mean() for qt in q])
    batch_center = np.concatenate([np.asarray(t, np.float64) for t in teachers]).mean(0)
    return total / terms, ent, batch_center


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


@pytest.mark.parametrize("S,T", [(4, 2), (2, 2), (3, 1), (5, 3)])
def test_dino_numpy(S, T):
    n, K = 6, 9
    xs = [f32(n, K, scale=0.3) for _ in range(S + T)]
    L = sslkit.Loss("dino", teacher_views=T, precision="double", teacher_temp=0.06, student_temp=0.2)
    c0 = 0.1 * RNG.standard_normal(K)
    L.center = c0
    v, *g = L.compute(*xs)
    want, ent, bc = dino_np(xs[:S], xs[S:], c0, 0.2, 0.06)
    np.testing.assert_allclose(v, want, rtol=1e-12)
    np.testing.assert_allclose(L.terms["teacher_entropy"], ent, rtol=1e-11)
    np.testing.assert_allclose(L.terms["kl_divergence"], want - ent, rtol=1e-10)
    np.testing.assert_allclose(L.center, 0.9 * c0 + 0.1 * bc, rtol=1e-14, atol=1e-16)
    for v_ in range(S):
        def f(x, v_=v_):
            st = list(xs[:S])
            st[v_] = x
            return dino_np(st, xs[S:], c0, 0.2, 0.06)[0]
        ref = fd_grad(f, xs[v_])
        np.testing.assert_allclose(g[v_], ref, rtol=1e-5, atol=1e-7 * np.abs(ref).max())
    for gt in g[S:]:
        assert not gt.any()  # stop-gradient of the teacher


def test_dino_float_path_and_centre_over_steps():
    S, T, n, K = 6, 2, 16, 32
    L = sslkit.Loss("dino", center_momentum=0.8)
    c = np.zeros(K)
    assert L.center is None
    for step in range(4):
        xs = [f32(n, K) for _ in range(S + T)]
        v, *g = L.compute(*xs)
        want, _, bc = dino_np(xs[:S], xs[S:], c)
        np.testing.assert_allclose(v, want, rtol=1e-5)
        c = 0.8 * c + 0.2 * bc
        np.testing.assert_allclose(L.center, c, rtol=1e-12, atol=1e-15)


def test_dino_warmup_schedule_is_numpy_linspace():
    S, T, n, K = 3, 2, 5, 7
    xs = [f32(n, K, scale=0.2) for _ in range(S + T)]
    W, a, b = 7, 0.04, 0.07
    sched = np.concatenate((np.linspace(a, b, W), np.ones(5) * b))
    L = sslkit.Loss("dino", warmup_teacher_temp=a, teacher_temp=b, warmup_teacher_temp_epochs=W,
                    center_momentum=1, precision="double")
    for epoch, tt in enumerate(sched):
        L.set("epoch", epoch)
        np.testing.assert_allclose(L.compute(*xs, grad=False), dino_np(xs[:S], xs[S:], 0, 0.1, tt)[0], rtol=1e-13)


def test_dino_settings_and_bad_inputs():
    L = sslkit.Loss("dino")
    assert L.settings == {"student_temp": pytest.approx(0.1), "teacher_temp": pytest.approx(0.04),
                          "warmup_teacher_temp": pytest.approx(0.04), "warmup_teacher_temp_epochs": 0,
                          "center_momentum": pytest.approx(0.9), "epoch": 0, "teacher_views": 2,
                          "precision": 0}
    with pytest.raises(Exception, match="at least 2 student views"):
        L.compute(f32(4, 3), f32(4, 3), f32(4, 3))
    with pytest.raises(Exception, match="teacher_views"):
        sslkit.Loss("dino", teacher_views=3).compute(*(f32(4, 3) for _ in range(5)))
    bad = f32(4, 3)
    bad[2, 1] = np.nan
    with pytest.raises(Exception):
        L.compute(f32(4, 3), bad, f32(4, 3), f32(4, 3))
    with pytest.raises(ValueError):
        L.compute(f32(4, 3), f32(4, 2), f32(4, 3), f32(4, 3))
    L.compute(*(f32(4, 3) for _ in range(4)))
    with pytest.raises(Exception, match="centre"):
        L.compute(*(f32(4, 5) for _ in range(4)))  # K differs from the centre's
    with pytest.raises(Exception):
        L.center = [0.0, np.inf, 0.0]
    with pytest.raises(Exception):
        sslkit.Loss("dino", center_momentum=2)


# ---- PyTorch autograd of the official forward ---------------------------------------------

def test_dino_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    ncrops, n, K = 6, 8, 16
    student = f32(ncrops * n, K)
    teacher = f32(2 * n, K)
    s = torch.tensor(student, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(teacher, dtype=torch.float64, requires_grad=True)
    center = torch.zeros(1, K, dtype=torch.float64)
    sched = np.concatenate((np.linspace(0.04, 0.07, 3), np.ones(7) * 0.07))
    L = sslkit.Loss("dino", teacher_temp=0.07, warmup_teacher_temp_epochs=3, precision="double")
    for epoch in (0, 1, 4):  # three steps: the centre carries over
        s.grad = None
        student_out = (s / 0.1).chunk(ncrops)
        teacher_out = F.softmax((t - center) / sched[epoch], dim=-1).detach().chunk(2)
        total, terms = 0, 0
        for iq, q in enumerate(teacher_out):
            for v in range(ncrops):
                if v == iq:
                    continue
                total = total + torch.sum(-q * F.log_softmax(student_out[v], dim=-1), dim=-1).mean()
                terms += 1
        loss = total / terms
        loss.backward()
        with torch.no_grad():
            center = center * 0.9 + t.sum(0, keepdim=True) / (2 * n) * 0.1
        L.set("epoch", epoch)
        views = [student[v * n:(v + 1) * n] for v in range(ncrops)] + [teacher[:n], teacher[n:]]
        v_, *g = L.compute(*views)
        np.testing.assert_allclose(v_, loss.item(), rtol=1e-12)
        np.testing.assert_allclose(np.concatenate(g[:ncrops]), s.grad.numpy(), rtol=1e-5, atol=1e-9)
        assert t.grad is None and not np.concatenate(g[ncrops:]).any()
        np.testing.assert_allclose(L.center, center.numpy()[0], rtol=1e-13, atol=1e-16)
