"""kNN and linear probe against numpy reimplementations."""
import numpy as np
import pytest

import sslkit


def knn_ref(trz, try_, tez, nc, k, t, weighting="exp", distance="cosine", eps=1e-6):
    """Straightforward numpy weighted kNN (double precision)."""
    trz = trz.astype(np.float64)
    tez = tez.astype(np.float64)
    if distance == "cosine":
        a = trz / np.linalg.norm(trz, axis=1, keepdims=True)
        b = tez / np.linalg.norm(tez, axis=1, keepdims=True)
        sim = b @ a.T
        order = np.argsort(-sim, axis=1, kind="stable")[:, :k]
        s = np.take_along_axis(sim, order, 1)
        dist = 1 - s
        w = {"exp": np.exp(s / t), "inverse": 1 / (dist + eps), "uniform": np.ones_like(s)}[weighting]
    else:
        d2 = ((tez[:, None, :] - trz[None, :, :]) ** 2).sum(-1)
        order = np.argsort(d2, axis=1, kind="stable")[:, :k]
        dist = np.sqrt(np.take_along_axis(d2, order, 1))
        w = {"exp": np.exp(-dist / t), "inverse": 1 / (dist + eps), "uniform": np.ones_like(dist)}[weighting]
    votes = np.zeros((tez.shape[0], nc))
    for i in range(tez.shape[0]):
        np.add.at(votes[i], try_[order[i]], w[i])
    return votes


def blobs(n, d, nc, seed, spread=1.0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(nc, d)) * 2
    y = rng.integers(0, nc, n)
    return (centers[y] + spread * rng.normal(size=(n, d))).astype(np.float32), y.astype(np.int32)


@pytest.mark.parametrize("weighting", ["exp", "inverse", "uniform"])
@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_knn_votes_match_numpy(weighting, distance):
    trz, try_ = blobs(300, 8, 5, 1, spread=2.0)
    tez, tey = blobs(70, 8, 5, 2, spread=2.0)
    k, t = 7, 0.5
    knn = sslkit.KNN(k=k, t=t, weighting=weighting, distance=distance, memory_mb=1).fit(trz, try_, 5)
    got = knn.scores(tez)
    ref = knn_ref(trz, try_, tez, 5, k, t, weighting, distance)
    np.testing.assert_allclose(got, ref, rtol=2e-4, atol=1e-5)
    pred = knn.predict(tez, ntop=3)
    assert np.array_equal(pred[:, 0], np.argmax(ref, axis=1))
    acc = sslkit.knn_eval(trz, try_, tez, tey, k=k, t=t, weighting=weighting, distance=distance)
    ranked = np.argsort(-ref, axis=1, kind="stable")
    assert acc["top1"] == pytest.approx(np.mean(ranked[:, 0] == tey))
    assert acc["top5"] == pytest.approx(np.mean((ranked[:, :5] == tey[:, None]).any(1)))


def test_knn_hand_example():
    # 1-D on the unit circle: query at angle 0; neighbours at 0.1 (class 1), 0.2 (class 0),
    # 0.3 (class 0); k = 3, T = 0.1: votes c0 = e^(cos .2/.1) + e^(cos .3/.1), c1 = e^(cos .1/.1).
    ang = np.array([0.1, 0.2, 0.3, 3.0])
    trz = np.stack([np.cos(ang), np.sin(ang)], 1)
    try_ = np.array([1, 0, 0, 1])
    knn = sslkit.KNN(k=3, t=0.1).fit(trz, try_, 2)
    s = knn.scores(np.array([[2.0, 0.0]]))[0]
    c = np.cos(ang)
    assert s[0] == pytest.approx(np.exp(c[1] / 0.1) + np.exp(c[2] / 0.1), rel=1e-5)
    assert s[1] == pytest.approx(np.exp(c[0] / 0.1), rel=1e-5)
    assert knn.predict(np.array([[2.0, 0.0]]))[0] == 0


def test_knn_errors():
    knn = sslkit.KNN()
    with pytest.raises(sslkit.Error) as e:
        knn.fit(np.ones((4, 3)), np.array([0, 1, 2, 5]), 3)
    assert e.value.status_name == "SSLK_E_RANGE"
    with pytest.raises(sslkit.Error) as e:
        knn.fit(np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([0, 1]), 2)
    assert e.value.status_name == "SSLK_E_DEGENERATE"
    with pytest.raises(sslkit.Error) as e:
        sslkit.KNN(k=0)
    assert e.value.status_name == "SSLK_E_SETTING"


def lr_newton(X, y, nc, l2, iters=50):
    """Newton's method on mean CE + l2/2 ||W||^2 (bias free), double precision."""
    n, d = X.shape
    Xa = np.hstack([X, np.ones((n, 1))])
    Y = np.eye(nc)[y]
    w = np.zeros((d + 1) * nc)
    reg = np.ones((d + 1, nc))
    reg[d] = 0
    reg = reg.reshape(-1)
    for _ in range(iters):
        W = w.reshape(d + 1, nc)
        L = Xa @ W
        L -= L.max(1, keepdims=True)
        P = np.exp(L)
        P /= P.sum(1, keepdims=True)
        g = (Xa.T @ (P - Y)).reshape(-1) / n + l2 * reg * w
        S = P[:, :, None] * np.eye(nc)[None] - P[:, :, None] * P[:, None, :]  # n x nc x nc
        H = np.einsum("ia,ib,ice->acbe", Xa, Xa, S).reshape((d + 1) * nc, (d + 1) * nc)
        H = H / n + np.diag(l2 * reg) + 1e-12 * np.eye(len(w))
        w -= np.linalg.lstsq(H, g, rcond=None)[0]
    return w.reshape(d + 1, nc)


def test_probe_matches_newton_reference():
    X, y = blobs(120, 4, 3, 5, spread=2.5)
    l2 = 1e-2
    p = sslkit.LinearProbe(l2=l2, tol=1e-9, max_iter=2000).fit(X, y, 3)
    assert p.l2 == l2
    mu, sd = X.astype(np.float64).mean(0), X.astype(np.float64).std(0)
    Xs = (X - mu) / sd
    W = lr_newton(Xs, y, 3, l2)
    Xt, _ = blobs(40, 4, 3, 6, spread=2.5)
    ref = np.hstack([(Xt - mu) / sd, np.ones((40, 1))]) @ W
    got = p.logits(Xt)
    # logits are defined up to a per-row constant only through the bias: compare centred
    np.testing.assert_allclose(got - got.mean(1, keepdims=True), ref - ref.mean(1, keepdims=True),
                               rtol=1e-3, atol=2e-3)
    assert np.array_equal(p.predict(Xt), np.argmax(ref, 1))


def test_probe_blocked_objective_matches_newton_at_any_thread_count():
    # 5000 rows: several 1024-row blocks in several row groups of the objective
    X, y = blobs(5000, 6, 4, 11, spread=3.0)
    l2 = 1e-2
    mu, sd = X.astype(np.float64).mean(0), X.astype(np.float64).std(0)
    W = lr_newton((X - mu) / sd, y, 4, l2, iters=30)
    Xt, _ = blobs(200, 6, 4, 12, spread=3.0)
    ref = np.hstack([(Xt - mu) / sd, np.ones((200, 1))]) @ W
    got = []
    for threads in (1, 2, 3):
        ctx = sslkit.Context(threads=threads)
        p = sslkit.LinearProbe(l2=l2, tol=1e-9, max_iter=3000, ctx=ctx).fit(X, y, 4)
        got.append(p.logits(Xt))
    np.testing.assert_allclose(got[0] - got[0].mean(1, keepdims=True), ref - ref.mean(1, keepdims=True),
                               rtol=1e-3, atol=2e-3)
    # fixed row groups: the fit does not depend on the thread count
    assert np.array_equal(got[0], got[1]) and np.array_equal(got[0], got[2])


def test_probe_chooses_penalty_and_beats_chance():
    X, y = blobs(600, 20, 4, 7, spread=4.0)
    Xt, yt = blobs(300, 20, 4, 7 + 100, spread=4.0)
    # the same centres: regenerate test from the same generator state
    rng = np.random.default_rng(7)
    centers = rng.normal(size=(4, 20)) * 2
    yt = rng.integers(0, 4, 300).astype(np.int32)
    Xt = (centers[yt] + 4.0 * np.random.default_rng(99).normal(size=(300, 20))).astype(np.float32)
    res = sslkit.linear_probe(X, y, Xt, yt)
    assert res["l2"] in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
    # Bayes-optimal reference: nearest true centre
    d2 = ((Xt[:, None, :] - centers[None]) ** 2).sum(-1)
    bayes = np.mean(np.argmin(d2, 1) == yt)
    assert res["top1"] > 0.5
    assert res["top1"] <= bayes + 0.05
    assert res["top1"] >= bayes - 0.1


def tiny_images(n=96, side=8, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    img = np.zeros((n, side, side), np.float64) + 30
    for i, k in enumerate(y):
        if k == 0:
            img[i, [2, 5], :] = 200
        elif k == 1:
            img[i, :, [3, 4]] = 200
        elif k == 2:
            img[i, 3:5, 3:5] = 200
        else:
            np.fill_diagonal(img[i], 200)
    img += rng.integers(0, 40, img.shape)
    return img.astype(np.uint8), y.astype(np.int32)


SMALL = dict(encoder="flatten,linear:32,bn,relu", projector="linear:16,bn,relu,linear:16")


def small_trainer(method="vicreg", **kw):
    x, y = tiny_images()
    args = dict(SMALL, batch=16, warmup_epochs=0, final_lr_ratio=1.0, lr=5e-3, aug_scale_min=0.6)
    args.update(kw)
    return sslkit.Trainer(method, data=(x, y), **args)


def test_trainer_fit_history_and_embed():
    tr = small_trainer()
    seen = []
    tr.fit(6, callback=lambda p: seen.append(p["epoch"]))
    assert seen == list(range(6))
    h = tr.history
    assert len(h) == 6 and set(h[0]["terms"]) == {"invariance", "variance", "covariance"}
    assert (h[-1]["loss"] + h[-2]["loss"]) < (h[0]["loss"] + h[1]["loss"])
    x, y = tiny_images()
    z, lab = tr.embed((x, y), return_labels=True)
    assert z.shape == (96, 32) and np.array_equal(lab, y)
    # eval mode is deterministic and the features separate the 4 patterns
    assert np.array_equal(z, tr.embed((x, y)))
    assert sslkit.knn_eval(z[:64], y[:64], z[64:], y[64:], k=5)["top1"] > 0.9


def test_trainer_resume_equals_uninterrupted(tmp_path):
    a = small_trainer(epochs=3)
    a.fit(3)
    b = small_trainer(epochs=3, checkpoint_dir=str(tmp_path))
    b.fit(2)
    x, y = tiny_images()
    c = sslkit.Trainer.resume(str(tmp_path), data=(x, y))
    assert c.epochs_done == 2 and len(c.history) == 2
    c.fit()
    assert np.array_equal(a.embed((x, y)), c.embed((x, y)))


def test_trainer_callback_stop_and_errors():
    tr = small_trainer("simclr")
    with pytest.raises(sslkit.Error) as e:
        tr.fit(3, step_callback=lambda p: p["step"] == 1)
    assert e.value.status_name == "SSLK_E_CANCELLED"
    with pytest.raises(sslkit.Error):
        small_trainer("no_such_method")
    with pytest.raises(KeyError):
        small_trainer(no_such_setting=1)


def test_diet_preset_subset_and_epochs():
    x, y = tiny_images()
    tr = sslkit.Trainer("diet", data=(x, y), encoder="flatten,linear:8", projector="")
    assert tr.get("subset") == 4096 and tr.get("epochs") == 60
    tr.set("subset", 40)
    tr.set("batch", 16)
    tr.fit(1)
    # one epoch is a pass over the 40 drawn images: 2 full batches of 16
    assert tr.history[0]["steps_per_epoch"] == 2
    assert sslkit.Trainer("vicreg", data=(x, y), **SMALL).get("subset") == 0
    with pytest.raises(sslkit.Error):
        tr.set("subset", 0)  # frozen once training started


def xent_ref(z, y, alpha=0.0):
    """numpy softmax cross-entropy (torch label-smoothing convention) and dL/dz."""
    z = z.astype(np.float64)
    n, c = z.shape
    q = np.full((n, c), alpha / c)
    q[np.arange(n), y] += 1 - alpha
    lse = z.max(1) + np.log(np.exp(z - z.max(1, keepdims=True)).sum(1))
    p = np.exp(z - lse[:, None])
    return (lse - (q * z).sum(1)).mean(), (p - q) / n


@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_xent_loss_matches_numpy(alpha):
    rng = np.random.default_rng(4)
    z = (3 * rng.normal(size=(37, 10))).astype(np.float32)
    y = rng.integers(0, 10, 37)
    v, g = sslkit.Loss("xent", label_smoothing=alpha).compute(z, y)
    rv, rg = xent_ref(z, y, alpha)
    assert v == pytest.approx(rv, rel=1e-12)
    np.testing.assert_allclose(g, rg, rtol=1e-5, atol=1e-8)
    with pytest.raises(sslkit.Error) as e:
        sslkit.Loss("xent").compute(z, np.full(37, 10))
    assert e.value.status_name == "SSLK_E_RANGE"


def test_supervised_trainer_trains_through_xent():
    # the first-epoch loss of a supervised run is the xent of its logits, so a
    # fresh 4-class head starts near log 4 and training lowers it
    tr = small_trainer("supervised", projector=None, epochs=4)
    tr.fit(4)
    h = tr.history
    assert list(h[0]["terms"]) == ["cross_entropy"]
    assert 0.5 < h[0]["loss"] < 3.0 and h[-1]["loss"] < h[0]["loss"]


def test_borrowed_loader_and_recipe_equal_the_trainer_keys():
    x, y = tiny_images()
    a = small_trainer(epochs=1, aug_seed=9, aug_flip_p=0.0)
    a.fit(1)
    b = small_trainer(epochs=1)
    b.augment_set("flip_p", 0.0)
    assert b.loader_get("aug_seed") == -1
    b.loader_set("aug_seed", 9)
    assert b.loader_get("aug_seed") == 9
    b.set("aug_seed", 11)  # the deprecated trainer key forwards to the loader
    assert b.loader_get("aug_seed") == 11
    b.loader_set("aug_seed", 9)
    b.fit(1)
    assert np.array_equal(a.embed((x, y)), b.embed((x, y)))
    c = small_trainer(epochs=1)
    c.fit(1)
    assert not np.array_equal(a.embed((x, y)), c.embed((x, y)))
    with pytest.raises(KeyError):
        b.loader_set("no_such", 1)


def rankme_np(z):
    """RankMe (Garrido et al.): exp of the entropy of the normalised singular values (+ 1e-7)."""
    s = np.linalg.svd(z.astype(np.float64), compute_uv=False)
    p = s / s.sum() + 1e-7
    return float(np.exp(-(p * np.log(p)).sum()))


@pytest.mark.parametrize("method", ["barlow_twins", "byol", "simsiam", "moco_v2", "moco_v3", "dino", "swav"])
def test_issue21_presets_train_without_collapse(method):
    """Each new preset lowers its loss on the tiny set; the collapse test: the
    RankMe of the embeddings (numpy reference) stays well above 1 (BYOL and
    SimSiam have no negatives)."""
    extra = dict(queue=32) if method == "moco_v2" else {}
    tr = small_trainer(method, epochs=8, **extra)
    assert tr.method == method
    tr.fit()
    h = [e["loss"] for e in tr.history]
    assert (h[-1] + h[-2]) < (h[0] + h[1]), h
    x, y = tiny_images()
    z = tr.embed((x, y))
    r = rankme_np(z)
    assert r == pytest.approx(sslkit.rankme(z), rel=1e-3)
    assert r > 4, (method, r)
    if method in ("byol", "moco_v3"):
        assert tr.get("ema") == pytest.approx(0.99) and tr.get("ema_end") == 1.0
    if method == "moco_v2":
        assert tr.get("queue") == 32
