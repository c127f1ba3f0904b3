"""Handle lifetimes (issue 12, defect 5): close() on a parent whose dependants
are alive.  The rule under test: close() marks the object closed at once
(direct use raises sslkit.ClosedError, an sslkit.Error and a ValueError) and
frees the C handle when the last dependant (child handle or numpy view of its
memory) is gone.  Each scenario runs in a child process with MALLOC_PERTURB_
so a use-after-free shows up as wrong values or a crash, not silence."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import sslkit

PKG = os.path.join(os.path.dirname(__file__), "..", "..", "python")


def run_child(body):
    """Run body (after a common prelude) in a fresh interpreter; return its stdout."""
    code = textwrap.dedent("""
        import gc, sys
        sys.path.insert(0, %r)
        import numpy as np
        import sslkit
        def churn():  # reuse freed blocks so stale pointers read other bytes
            junk = [np.full(n, 7.0, np.float32) for n in (12, 16, 24, 40, 64, 256) for _ in range(50)]
            return sum(a.size for a in junk)
        def closed(fn):
            try:
                fn()
            except sslkit.ClosedError as e:
                assert isinstance(e, sslkit.Error) and isinstance(e, ValueError), type(e)
                assert e.status_name == "SSLK_E_STATE" and "closed" in str(e), str(e)
                return True
            return False
    """ % os.path.abspath(PKG)) + textwrap.dedent(body)
    env = dict(os.environ, MALLOC_PERTURB_="170", MALLOC_CHECK_="3")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"child exited with {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r.stdout


def test_optimizer_step_after_model_close():
    out = run_child("""
        x = np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3)
        m = sslkit.Model.from_spec("linear:4,relu,linear:2", (3,), seed=1)
        opt = sslkit.Optimizer("sgd", m, lr=0.5)
        w0 = {k: v.copy() for k, v in m.params.items()}
        m.forward(x, train=True)
        m.backward(np.ones((5, 2), np.float32))
        g = {k: v.copy() for k, v in m.grads.items()}
        view = m.params["2.weight"]          # a numpy view taken before close
        m.close()
        assert closed(lambda: m.forward(x)) and closed(lambda: m.params) and closed(m.zero_grad)
        gc.collect(); churn()
        opt.step()                            # the model's memory is still alive
        want = w0["2.weight"] - 0.5 * g["2.weight"]
        assert np.array_equal(view, want), (view, want)
        assert opt.steps == 1
        del opt; gc.collect(); churn()
        assert np.array_equal(view, want)     # the view alone keeps the memory
        del view; gc.collect()
        print("ok")
    """)
    assert out.strip() == "ok"


def test_params_views_survive_close():
    out = run_child("""
        m = sslkit.Model.from_spec("linear:8,bn,relu,linear:3", (6,), seed=2)
        p = m.params
        ref = {k: v.copy() for k, v in p.items()}
        sl = p["0.weight"][1:3, ::2]          # a view of a view still pins the model
        m.close(); m.close()                   # idempotent
        del p; gc.collect(); churn()
        assert np.array_equal(sl, ref["0.weight"][1:3, ::2])
        sl[0, 0] = 5.0                          # still writable memory of the (closed) model
        assert sl[0, 0] == 5.0
        L = sslkit.Loss("diet", num_samples=10, dim=3)
        W = L.params["head.weight"]; W0 = W.copy()
        L.close(); gc.collect(); churn()
        assert closed(lambda: L.compute(np.zeros((2, 3), np.float32), np.array([0, 1])))
        assert np.array_equal(W, W0)
        print("ok")
    """)
    assert out.strip() == "ok"


def test_optimizer_over_closed_diet_loss():
    out = run_child("""
        L = sslkit.Loss("diet", num_samples=10, dim=3)
        z = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
        L.compute(z, np.array([0, 1, 2, 3]))
        W0 = L.params["head.weight"].copy(); G = L.param_grads["head.weight"].copy()
        opt = sslkit.Optimizer("sgd", L.param_views(), lr=1.0)   # bare ParamView structs
        L.close(); gc.collect(); churn()
        opt.step()
        st = opt.state()                        # still a valid optimizer
        assert isinstance(st, bytes)
        print("ok")
    """)
    assert out.strip() == "ok"


def test_subset_and_loader_after_dataset_close():
    out = run_child("""
        imgs = (np.arange(6 * 4 * 4) % 251).astype(np.uint8).reshape(6, 4, 4)
        ds = sslkit.Dataset.from_array(imgs, labels=np.arange(6) % 3)
        sub = ds.subset([4, 1, 4])
        ld = sslkit.Loader.plain(ds, batch_size=4)
        ds.close()
        assert closed(lambda: ds.subset([0])) and closed(lambda: len(ds)) and closed(lambda: ds[0])
        gc.collect(); churn()
        assert len(sub) == 3
        assert np.array_equal(sub[0][..., 0], imgs[4]) and np.array_equal(sub[1][..., 0], imgs[1])
        assert list(sub.labels) == [1, 1, 1]
        got = np.concatenate([b[0] for b in ld])
        assert np.allclose(got[:, 0], imgs / 255.0, rtol=0, atol=1e-6), got[:, 0, 0]
        del sub; gc.collect(); churn()
        got = np.concatenate([b[0] for b in ld])
        assert np.allclose(got[:, 0], imgs / 255.0, rtol=0, atol=1e-6)
        # a subset of a subset, and a loader over it, with every parent closed
        s1 = sslkit.Dataset.from_array(imgs).subset([5, 0, 3])
        s2 = s1.subset([2, 0])
        ld2 = sslkit.Loader.plain(s2, batch_size=2)
        s1.close(); s2.close(); gc.collect(); churn()
        (b, _lab, idx), = list(ld2)
        assert list(idx) == [0, 1] and np.allclose(b[:, 0], imgs[[3, 5]] / 255.0, rtol=0, atol=1e-6)
        print("ok")
    """)
    assert out.strip() == "ok"


def test_context_close_defers_until_handles_are_gone():
    out = run_child("""
        ctx = sslkit.Context(threads=1)
        m = sslkit.Model.from_spec("linear:2", (3,), seed=0, ctx=ctx)
        ctx.close()
        assert closed(lambda: ctx.threads) and closed(lambda: sslkit.Loss("vicreg", ctx=ctx))
        gc.collect(); churn()
        y = m.forward(np.ones((2, 3), np.float32))     # handles of a closed context keep working
        assert y.shape == (2, 2) and np.isfinite(y).all()
        m2 = m.clone()
        assert np.array_equal(m2.forward(np.ones((2, 3), np.float32)), y)
        m.close(); m2.close(); gc.collect()
        print("ok")
    """)
    assert out.strip() == "ok"


def test_trainer_keeps_its_dataset():
    out = run_child("""
        rng = np.random.default_rng(0)
        imgs = rng.integers(0, 255, size=(32, 8, 8), dtype=np.uint8)
        ds = sslkit.Dataset.from_array(imgs, labels=np.arange(32) % 4)
        tr = sslkit.Trainer("vicreg", encoder="flatten,linear:8", projector="linear:8", data=ds,
                            epochs=1, batch=16)
        ds.close(); gc.collect(); churn()
        z = tr.embed((imgs, np.arange(32) % 4))
        assert z.shape == (32, tr.embed_dim) and np.isfinite(z).all()
        assert closed(lambda: tr.embed(ds))
        print("ok")
    """)
    assert out.strip() == "ok"


def test_closed_objects_raise_in_process():
    m = sslkit.Model.from_spec("linear:2", (3,))
    m.close()
    with pytest.raises(sslkit.ClosedError, match="Model.forward: .*closed") as e:
        m.forward(np.ones((1, 3), np.float32))
    assert e.value.status == 8
    with pytest.raises(ValueError):
        m.input_shape
    with pytest.raises(sslkit.Error):
        sslkit.splinecam(m, sslkit.Slice.from_box([0, 0, 0], [[1, 0, 0], [0, 1, 0]], 1.0))
    r = sslkit.RankMe(3)
    r2 = sslkit.RankMe(3)
    r2.close()
    with pytest.raises(sslkit.ClosedError):
        r.merge(r2)
