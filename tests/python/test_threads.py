"""One handle shared by threads (issue 12, defect 6): the binding serialises
every call on a handle, so concurrent calls give exactly the single-threaded
result and close() racing calls never frees memory under them.  Nothing here
depends on timing: every interleaving must give the asserted outcome."""
import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import sslkit

PKG = os.path.join(os.path.dirname(__file__), "..", "..", "python")
RNG = np.random.default_rng(12)
N, D = 24, 8
A = RNG.normal(size=(N, D)).astype(np.float32)
B = (A + 0.3 * RNG.normal(size=(N, D))).astype(np.float32)
IDX = np.arange(N) % 10

# kind -> (constructor settings, compute arguments)
CASES = {
    "vicreg": ({}, (A, B)),
    "vicreg_logdet": ({}, (A, B)),
    "vicreg_pairdist": ({}, (A, B)),
    "infonce": ({}, (A, B)),
    "infonce_symmetric": ({}, (A, B)),
    "diet": (dict(num_samples=10, dim=D), (A, IDX)),
    "msn": (dict(num_prototypes=6, dim=D, sinkhorn_iterations=3), (np.concatenate([A, B]), B)),
    "xent": ({}, (A, IDX % D)),
    "barlow_twins": ({}, (A, B)),  # issue 21
    "negcos": (dict(symmetric=1), (A, B, B, A)),
    "dino": (dict(center_momentum=1), (A, B, B, A)),  # momentum 1: the centre stays, calls repeat
    "swav": (dict(num_prototypes=6, dim=D), (A, B, A)),  # issue 21b
    "moco": (dict(version=3), (A, B, B, A)),  # issue 21c (v3: in-batch, no queue)
}


def test_every_kind_is_covered():
    from sslkit.loss import KINDS
    assert set(CASES) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_concurrent_compute_on_one_loss(kind):
    kw, args = CASES[kind]
    L = sslkit.Loss(kind, **kw)
    ref = L.compute(*args)
    assert L.compute(*args)[0] == ref[0]  # repeatable when alone
    start = threading.Barrier(8, timeout=60)  # a broken barrier fails instead of hanging

    def one(i):
        if i < 8:
            start.wait()  # the first calls really overlap
        return L.compute(*args)

    with ThreadPoolExecutor(8) as ex:
        results = list(ex.map(one, range(400)))
    bad = [i for i, r in enumerate(results) if r[0] != ref[0]]
    assert not bad, f"{len(bad)} of 400 values differ, e.g. {results[bad[0]][0]!r} vs {ref[0]!r}"
    for r in results:
        for g, g0 in zip(r[1:], ref[1:]):
            assert np.array_equal(g, g0)


def test_compute_racing_close_never_crashes():
    # in a child: a use-after-free would crash or corrupt the heap
    code = textwrap.dedent("""
        import sys, threading
        sys.path.insert(0, %r)
        import numpy as np
        import sslkit
        sys.path.insert(0, %r)
        from test_threads import CASES
        for kind, (kw, args) in sorted(CASES.items()):
            for rep in range(3):
                L = sslkit.Loss(kind, **kw)
                ref = L.compute(*args)[0]
                go = threading.Barrier(5, timeout=60)
                out = []
                def work():
                    go.wait()
                    for _ in range(30):
                        try:
                            out.append(L.compute(*args)[0])
                        except sslkit.ClosedError:
                            out.append("closed")
                ts = [threading.Thread(target=work) for _ in range(4)]
                for t in ts:
                    t.start()
                go.wait()
                L.close()
                for t in ts:
                    t.join()
                # any interleaving: each call gave the exact value or a clean error
                assert len(out) == 120 and all(v == ref or v == "closed" for v in out), (kind, set(out))
                try:
                    L.compute(*args)
                    raise AssertionError("compute after close() did not raise")
                except sslkit.ClosedError:
                    pass
        print("ok")
    """ % (os.path.abspath(PKG), os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, MALLOC_PERTURB_="170")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", f"rc {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}"


def test_concurrent_model_forward_and_optimizer():
    m = sslkit.Model.from_spec("linear:16,bn,relu,linear:4", (D,), seed=3)
    ref = m.forward(A)
    with ThreadPoolExecutor(6) as ex:
        outs = list(ex.map(lambda _: m.forward(A), range(60)))
    assert all(np.array_equal(o, ref) for o in outs)
    # steps from several threads: the same total update as sequential steps
    m2 = m.clone()
    o1, o2 = sslkit.Optimizer("sgd", m, lr=0.1), sslkit.Optimizer("sgd", m2, lr=0.1)
    for mm in (m, m2):
        mm.forward(A, train=True)
        mm.backward(np.ones((N, 4), np.float32))
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda _: o1.step(), range(20)))
    for _ in range(20):
        o2.step()
    assert o1.steps == o2.steps == 20
    for k, v in m.params.items():
        assert np.array_equal(v, m2.params[k]), k
