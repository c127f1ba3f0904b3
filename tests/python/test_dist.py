"""Collectives tables from Python (issue 17): a table filled from Python
callables (a threaded in-process fake written here, as a torch.distributed
user would write one), the library's C fake through sslkit.dist.FakeWorld, and
errors raised in a callable.  Reference: the same loss on one process holding
all rows, and a numpy VICReg."""
import threading

import numpy as np
import pytest

import sslkit
from sslkit import dist


class PyWorld:
    """N ranks on Python threads: a shared slot per rank and a barrier."""

    def __init__(self, n):
        self.n = n
        self.slots = [None] * n
        self.bar = threading.Barrier(n, timeout=60)

    def table(self, rank):
        def allgatherv(send, counts):
            assert send.size == counts[rank]
            self.slots[rank] = send
            self.bar.wait()
            out = np.concatenate([self.slots[r] for r in range(self.n)])
            self.bar.wait()
            return out

        def allreduce_sum(buf):
            self.slots[rank] = buf.copy()
            self.bar.wait()
            acc = np.zeros(buf.size, np.float64)
            for r in range(self.n):  # rank order: reproducible
                acc += self.slots[r]
            self.bar.wait()
            buf[:] = acc

        def broadcast(buf, root):
            self.slots[rank] = buf.copy()
            self.bar.wait()
            src = self.slots[root]
            self.bar.wait()
            return src

        return dist.Table(rank, self.n, allgatherv=allgatherv, allreduce_sum=allreduce_sum, broadcast=broadcast,
                          barrier=self.bar.wait)


def run_ranks(n, fn):
    out, errs = [None] * n, []

    def body(r):
        try:
            out[r] = fn(r)
        except BaseException as e:  # noqa: BLE001
            errs.append(e)
    th = [threading.Thread(target=body, args=(r,)) for r in range(n)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    if errs:
        raise errs[0]
    return out


def numpy_vicreg(za, zb, lam=25.0, mu=25.0, nu=1.0, gamma=1.0, eps=1e-4):
    n, d = za.shape
    za, zb = za.astype(np.float64), zb.astype(np.float64)
    inv = np.mean((za - zb) ** 2)
    var = cov = 0.0
    for z in (za, zb):
        x = z - z.mean(0)
        c = x.T @ x / (n - 1)
        var += np.mean(np.maximum(0, gamma - np.sqrt(np.diag(c) + eps))) / 2
        cov += (np.sum(c ** 2) - np.sum(np.diag(c) ** 2)) / d
    return lam * inv + mu * var + nu * cov


SHARDS = [3, 1, 5]  # uneven; different data on every rank


def shards(n_total):
    off = np.concatenate([[0], np.cumsum(SHARDS)])
    assert off[-1] == n_total
    return [slice(off[r], off[r + 1]) for r in range(len(SHARDS))]


@pytest.mark.parametrize("make_world", ["python", "c_fake"])
def test_vicreg_and_ntxent_across_ranks(make_world):
    rng = np.random.default_rng(3)
    N, d = sum(SHARDS), 6
    za = rng.normal(size=(N, d)).astype(np.float32)
    zb = (za + 0.3 * rng.normal(size=(N, d))).astype(np.float32)
    ref_v, ref_ga, ref_gb = sslkit.Loss("vicreg", precision="double").compute(za, zb)
    assert ref_v == pytest.approx(numpy_vicreg(za, zb), rel=1e-10)
    nce_v, nce_ga, nce_gb = sslkit.Loss("infonce", temperature=0.5).compute(za, zb)
    world = PyWorld(3) if make_world == "python" else dist.FakeWorld(3)
    sl = shards(N)

    def rank_fn(r):
        ctx = sslkit.Context()
        dist.set_dist(ctx, world.table(r))
        assert dist.get_dist(ctx) == (r, 3)
        try:
            a = sslkit.Loss("vicreg", ctx=ctx, precision="double").compute(za[sl[r]], zb[sl[r]])
            b = sslkit.Loss("infonce", ctx=ctx, temperature=0.5).compute(za[sl[r]], zb[sl[r]])
        finally:
            if make_world == "c_fake":
                world.leave(r)
        return a, b

    res = run_ranks(3, rank_fn)
    if make_world == "c_fake":
        world.close()
    for r, ((v, ga, gb), (w, ha, hb)) in enumerate(res):
        assert v == pytest.approx(ref_v, rel=1e-10)
        np.testing.assert_allclose(ga, ref_ga[sl[r]], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gb, ref_gb[sl[r]], rtol=1e-10, atol=1e-12)
        assert w == pytest.approx(nce_v, rel=1e-6)
        np.testing.assert_allclose(ha, nce_ga[sl[r]], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(hb, nce_gb[sl[r]], rtol=1e-5, atol=1e-7)


def test_msn_and_diet_param_grads_across_ranks():
    """MSN: the global prototype gradient on every rank; DIET: rank r holds
    head rows [17 r // 3, 17 (r + 1) // 3) and their global gradient."""
    rng = np.random.default_rng(5)
    N, d, K = sum(SHARDS), 6, 5
    anchors = rng.normal(size=(2, N, d)).astype(np.float32)
    targets = rng.normal(size=(N, d)).astype(np.float32)
    idx = (np.arange(N) * 5 + 2) % 17
    ref = sslkit.Loss("msn", num_prototypes=K, dim=d, precision="double")
    ref_v, ref_g = ref.compute(anchors, targets)
    ref_p = ref.param_grads["prototypes"].copy()
    dref = sslkit.Loss("diet", num_samples=17, dim=d, precision="double")
    dref_v, dref_g = dref.compute(anchors[0], idx)
    dref_p = dref.param_grads["head.weight"].copy()
    world = PyWorld(3)
    sl = shards(N)

    def rank_fn(r):
        ctx = sslkit.Context()
        dist.set_dist(ctx, world.table(r))
        m = sslkit.Loss("msn", ctx=ctx, num_prototypes=K, dim=d, precision="double")
        v, g = m.compute(np.ascontiguousarray(anchors[:, sl[r]]), targets[sl[r]])
        dl = sslkit.Loss("diet", ctx=ctx, num_samples=17, dim=d, precision="double")
        dv, dg = dl.compute(anchors[0][sl[r]], idx[sl[r]])
        return v, g, m.param_grads["prototypes"].copy(), dv, dg, dl.param_grads["head.weight"].copy()

    for r, (v, g, p, dv, dg, dp) in enumerate(run_ranks(3, rank_fn)):
        assert v == pytest.approx(ref_v, rel=1e-10)
        np.testing.assert_allclose(g.reshape(2, -1, d), ref_g.reshape(2, N, d)[:, sl[r]], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(p, ref_p, rtol=1e-9, atol=1e-12)  # the global gradient on every rank
        assert dv == pytest.approx(dref_v, rel=1e-10)
        np.testing.assert_allclose(dg, dref_g[sl[r]], rtol=1e-9, atol=1e-12)
        lo, hi = 17 * r // 3, 17 * (r + 1) // 3  # DIET's head is sharded by datum index
        assert dp.shape == (hi - lo, d)
        np.testing.assert_allclose(dp, dref_p[lo:hi], rtol=1e-9, atol=1e-12)


def numpy_ntxent(views, tau):
    """NT-Xent over the V x N stack, positives = the other views of the sample
    (summed inside the log), self excluded, mean over anchors."""
    z = np.concatenate([v.astype(np.float64) for v in views])
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    n, T = views[0].shape[0], z.shape[0]
    s = z @ z.T / tau
    np.fill_diagonal(s, -np.inf)
    same = (np.arange(T)[:, None] % n == np.arange(T)[None, :] % n) & ~np.eye(T, dtype=bool)
    lse = np.log(np.exp(s).sum(1))
    lpos = np.log(np.where(same, np.exp(s), 0).sum(1))
    return np.mean(lse - lpos)


def test_local_rows_ntxent_symmetric_msn_float():
    """The kinds that compute only their own rows across ranks (NT-Xent with 3
    views, symmetric InfoNCE, MSN with Sinkhorn), float32, through Python
    callbacks (float all-reduces included): equal to one process, and
    NT-Xent's value to a numpy reference."""
    rng = np.random.default_rng(17)
    N, d, K = sum(SHARDS), 6, 5
    views = [rng.normal(size=(N, d)).astype(np.float32) for _ in range(3)]
    targets = rng.normal(size=(N, d)).astype(np.float32)
    ref = sslkit.Loss("infonce", temperature=0.3).compute(*views)
    assert ref[0] == pytest.approx(numpy_ntxent(views, 0.3), rel=1e-5)
    sym = sslkit.Loss("infonce_symmetric", temperature=0.2).compute(views[0], views[1])
    msn = sslkit.Loss("msn", num_prototypes=K, dim=d)
    mref = msn.compute(np.stack(views[:2]), targets)
    mref_p = msn.param_grads["prototypes"].copy()
    world = PyWorld(3)
    sl = shards(N)

    def rank_fn(r):
        ctx = sslkit.Context()
        dist.set_dist(ctx, world.table(r))
        a = sslkit.Loss("infonce", ctx=ctx, temperature=0.3).compute(*[v[sl[r]] for v in views])
        b = sslkit.Loss("infonce_symmetric", ctx=ctx, temperature=0.2).compute(views[0][sl[r]], views[1][sl[r]])
        m = sslkit.Loss("msn", ctx=ctx, num_prototypes=K, dim=d)
        c = m.compute(np.stack([views[0][sl[r]], views[1][sl[r]]]), targets[sl[r]])
        return a, b, c, m.param_grads["prototypes"].copy()

    for r, (a, b, c, p) in enumerate(run_ranks(3, rank_fn)):
        assert a[0] == pytest.approx(ref[0], rel=1e-6)
        for v in range(3):
            np.testing.assert_allclose(a[1 + v], ref[1 + v][sl[r]], rtol=1e-5, atol=1e-7)
        assert b[0] == pytest.approx(sym[0], rel=1e-6)
        for v in range(2):
            np.testing.assert_allclose(b[1 + v], sym[1 + v][sl[r]], rtol=1e-5, atol=1e-7)
        assert c[0] == pytest.approx(mref[0], rel=1e-6)
        np.testing.assert_allclose(c[1].reshape(2, -1, d), mref[1].reshape(2, N, d)[:, sl[r]], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(p, mref_p, rtol=1e-5, atol=1e-7)


def test_ntxent_across_ranks_matches_torch():
    """NT-Xent's gradient of each rank's rows against torch autograd of the
    global loss (skipped without torch)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(23)
    N, d, tau = sum(SHARDS), 6, 0.25
    views = [rng.normal(size=(N, d)).astype(np.float32) for _ in range(2)]
    zs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in views]
    z = torch.nn.functional.normalize(torch.cat(zs), dim=1)
    s = z @ z.T / tau
    s = s.masked_fill(torch.eye(2 * N, dtype=torch.bool), float("-inf"))
    pos = torch.cat([torch.arange(N, 2 * N), torch.arange(N)])
    loss = torch.nn.functional.cross_entropy(s, pos)
    loss.backward()
    world = dist.FakeWorld(3)
    sl = shards(N)

    def rank_fn(r):
        ctx = sslkit.Context()
        dist.set_dist(ctx, world.table(r))
        try:
            return sslkit.Loss("infonce", ctx=ctx, temperature=tau, precision="double").compute(
                views[0][sl[r]], views[1][sl[r]])
        finally:
            world.leave(r)

    res = run_ranks(3, rank_fn)
    world.close()
    for r, (v, ga, gb) in enumerate(res):
        assert v == pytest.approx(loss.item(), rel=1e-10)
        np.testing.assert_allclose(ga, zs[0].grad.numpy()[sl[r]], rtol=1e-6, atol=1e-9)  # float32 out
        np.testing.assert_allclose(gb, zs[1].grad.numpy()[sl[r]], rtol=1e-6, atol=1e-9)


def mirror_table(fail=None):
    """World 2 on one thread: the 'other rank' holds the same rows as this one."""
    def allgatherv(send, counts):
        if fail == "gather":
            raise RuntimeError("link down")
        return np.concatenate([send, send])

    def allreduce_sum(buf):
        if fail == "reduce":
            raise RuntimeError("peer 1 vanished")
        return 2 * buf
    return dist.Table(0, 2, allgatherv=allgatherv, allreduce_sum=allreduce_sum,
                      broadcast=lambda b, root: None, barrier=lambda: None)


def test_mirror_table_is_the_doubled_batch():
    rng = np.random.default_rng(9)
    za, zb = rng.normal(size=(2, 4, 3)).astype(np.float32)
    ctx = sslkit.Context()
    dist.set_dist(ctx, mirror_table())
    v, ga, _ = sslkit.Loss("vicreg", ctx=ctx, precision="double").compute(za, zb)
    rv, rga, _ = sslkit.Loss("vicreg", precision="double").compute(np.vstack([za, za]), np.vstack([zb, zb]))
    assert v == pytest.approx(rv, rel=1e-10)
    assert v == pytest.approx(numpy_vicreg(np.vstack([za, za]), np.vstack([zb, zb])), rel=1e-10)
    np.testing.assert_allclose(ga, rga[:4], rtol=1e-9, atol=1e-12)
    dist.set_dist(ctx, None)
    assert dist.get_dist(ctx) == (0, 1)
    v1, _, _ = sslkit.Loss("vicreg", ctx=ctx, precision="double").compute(za, zb)
    assert v1 == pytest.approx(numpy_vicreg(za, zb), rel=1e-10)


@pytest.mark.parametrize("fail,kind,needle", [("reduce", "vicreg", "peer 1 vanished"),
                                              ("gather", "infonce", "link down")])
def test_callback_exception_is_sslk_e_dist(fail, kind, needle):
    ctx = sslkit.Context()
    dist.set_dist(ctx, mirror_table(fail))
    z = np.ones((4, 3), np.float32) * np.arange(3)
    with pytest.raises(sslkit.Error) as e:
        sslkit.Loss(kind, ctx=ctx).compute(z, z + 1)
    assert e.value.status_name == "SSLK_E_DIST" and e.value.status == 19
    assert needle in str(e.value) and "rank 0 of 2" in str(e.value)


def test_bad_tables_refused():
    with pytest.raises(ValueError):
        mirror_table().__class__(2, 2, allgatherv=None, allreduce_sum=None, broadcast=None, barrier=None)
    w = dist.FakeWorld(2)
    with pytest.raises(sslkit.Error) as e:
        w.table(2)
    assert e.value.status_name == "SSLK_E_INVALID_ARG"
    w.close()


def test_evaluation_across_ranks():
    """RankMe merged by all-reduce, kNN with the bank sharded, gathered features
    for a probe: equal to one process with all rows."""
    rng = np.random.default_rng(11)
    d, nc = 5, 3
    bank = rng.normal(size=(sum(SHARDS) * 4, d)).astype(np.float32)
    by = (bank[:, 0] > 0).astype(np.int32) + (bank[:, 1] > 0.5)
    q = rng.normal(size=(30, d)).astype(np.float32)
    qy = (q[:, 0] > 0).astype(np.int32) + (q[:, 1] > 0.5)
    ref_rank = sslkit.RankMe(d, method="gram").update(bank).value
    s = np.linalg.svd(bank.astype(np.float64), compute_uv=False)  # numpy RankMe (eps 1e-7 as the library)
    p = s / s.sum() + 1e-7
    assert ref_rank == pytest.approx(np.exp(-np.sum(p * np.log(p))), rel=1e-6)
    knn = sslkit.KNN(k=5).fit(bank, by, nclasses=nc)
    ref_scores = knn.scores(q)
    bsl = [slice(0, 12), slice(12, 16), slice(16, 36)]
    qsl = [slice(0, 7), slice(7, 22), slice(22, 30)]
    world = PyWorld(3)

    def rank_fn(r):
        ctx = sslkit.Context()
        dist.set_dist(ctx, world.table(r))
        acc = sslkit.RankMe(d, method="gram", ctx=ctx).update(bank[bsl[r]])
        value = dist.rankme_allreduce(acc).value
        k = sslkit.KNN(k=5, ctx=ctx).fit(bank[bsl[r]], by[bsl[r]], nclasses=nc)
        return value, k.scores(q[qsl[r]]), dist.gather_rows(ctx, bank[bsl[r]]), dist.gather_labels(ctx, by[bsl[r]])

    for r, (value, scores, feats, labels) in enumerate(run_ranks(3, rank_fn)):
        assert value == pytest.approx(ref_rank, rel=1e-10)
        np.testing.assert_allclose(scores, ref_scores[qsl[r]], rtol=1e-6)
        np.testing.assert_array_equal(feats, bank)
        np.testing.assert_array_equal(labels, by)
    # the kNN classifies for real (not a constant)
    assert 0.4 < np.mean(np.argmax(ref_scores, 1) == qy) <= 1.0


def test_any_thread_flag_reaches_the_context():
    """Python tables say whether the communication thread may call them; the
    library's fake says yes (so the trainer overlaps), a callable table says no
    unless asked."""
    ident = dict(allgatherv=lambda a, counts: a, allreduce_sum=lambda a: a,
                 broadcast=lambda a, root: a, barrier=lambda: None)
    world = dist.FakeWorld(2)
    try:
        for table, want in ((dist.Table(0, 1, **ident), False),
                            (dist.Table(0, 1, any_thread=True, **ident), True),
                            (world.table(1), True)):
            ctx = sslkit.Context()
            dist.set_dist(ctx, table)
            assert dist.get_dist_any_thread(ctx) is want
            assert dist.get_dist(ctx) == (table.rank, table.world_size)
            dist.set_dist(ctx, None)
            assert dist.get_dist_any_thread(ctx) is False
    finally:
        world.close()
