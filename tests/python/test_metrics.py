"""Metrics against numpy reimplementations of their definitions."""
import itertools

import numpy as np
import pytest

import sslkit


def np_rankme(Z, eps=1e-7):
    s = np.linalg.svd(np.asarray(Z, np.float64), compute_uv=False)
    p = s / s.sum() + eps
    return float(np.exp(-(p * np.log(p)).sum()))


def np_rankme_cov(Z, eps=1e-7):
    Z = np.asarray(Z, np.float64)
    s = np.linalg.svd(Z - Z.mean(0), compute_uv=False)
    lam = s ** 2 / (len(Z) - 1)
    p = lam / lam.sum() + eps
    return float(np.exp(-(p * np.log(p)).sum()))


def np_alpha_req(Z):
    Z = np.asarray(Z, np.float64)
    lam = np.sort(np.linalg.eigvalsh(np.cov(Z, rowvar=False)))[::-1]
    i = np.arange(6, min(100, len(lam)) + 1)
    x, y, w = -np.log(i), np.log(lam[i - 1]), 1.0 / i
    A = np.stack([x, np.ones_like(x)], 1) * np.sqrt(w)[:, None]
    coef = np.linalg.lstsq(A, y * np.sqrt(w), rcond=None)[0]
    res = ((y - A[:, 0] / np.sqrt(w) * coef[0] - coef[1]) ** 2 * w).sum()
    ybar = (w * y).sum() / w.sum()
    return coef[0], 1 - res / (w * (y - ybar) ** 2).sum()


def spectrum_data(rng, n, d, decay=1.0, rank=None):
    Z = rng.standard_normal((n, d)) * (np.arange(1, d + 1) ** -decay)
    if rank is not None:
        Z = Z[:, :rank] @ rng.standard_normal((rank, d))
    return Z.astype(np.float32)


@pytest.mark.parametrize("n,d", [(5, 3), (40, 40), (300, 20), (20, 300), (2000, 64), (700, 700)])
def test_rankme_matches_svd(n, d):
    rng = np.random.default_rng(n * 1000 + d)
    Z = spectrum_data(rng, n, d)
    assert sslkit.rankme(Z) == pytest.approx(np_rankme(Z), rel=1e-9)
    assert sslkit.rankme_covariance(Z) == pytest.approx(np_rankme_cov(Z), rel=1e-8)


def test_rankme_large_gram_path_and_threads():
    rng = np.random.default_rng(3)
    Z = spectrum_data(rng, 20000, 128, decay=0.5)  # n*d*d > 2^28: Gram eigenvalues
    ref = np_rankme(Z)
    assert sslkit.rankme(Z) == pytest.approx(ref, rel=1e-9)
    ctx = sslkit.Context(threads=2)
    assert sslkit.rankme(Z, ctx=ctx) == pytest.approx(ref, rel=1e-9)
    Zr = spectrum_data(rng, 20000, 128, rank=10)  # ill-conditioned: exact SVD fallback
    assert sslkit.rankme(Zr) == pytest.approx(np_rankme(Zr), rel=1e-6)


def test_streaming_rankme_batches_and_merge():
    rng = np.random.default_rng(7)
    Z = spectrum_data(rng, 1500, 32)
    a, b = sslkit.RankMe(32), sslkit.RankMe(32)
    cuts = np.sort(rng.choice(np.arange(1, 1500), 6, replace=False))
    parts = np.split(Z, cuts)
    for i, p in enumerate(parts):
        (a if i % 2 else b).update(p)
    a.merge(b)
    assert a.count == 1500
    assert a.value == pytest.approx(np_rankme(Z), rel=1e-9)
    np.testing.assert_allclose(a.singular_values, np.linalg.svd(Z.astype(np.float64), compute_uv=False),
                               rtol=1e-8)
    c = sslkit.RankMe(32, variant="covariance")
    c.update(Z + 5.0)
    assert c.value == pytest.approx(np_rankme_cov(Z + 5.0), rel=1e-6)
    e = sslkit.RankMe(32, eps=0.0)
    e.update(Z[:100])
    s = np.linalg.svd(Z[:100].astype(np.float64), compute_uv=False)
    assert e.value == pytest.approx(np.exp(-(s / s.sum() * np.log(s / s.sum())).sum()), rel=1e-10)


def test_rankme_errors():
    with pytest.raises(sslkit.Error) as e:
        sslkit.rankme(np.zeros((5, 3)))
    assert e.value.status_name == "SSLK_E_DEGENERATE"
    Z = np.ones((5, 3))
    Z[2, 1] = np.nan
    with pytest.raises(sslkit.Error) as e:
        sslkit.rankme(Z)
    assert e.value.status_name == "SSLK_E_NONFINITE" and "'z'" in e.value.message
    with pytest.raises(sslkit.Error) as e:
        sslkit.rankme(np.ones((1, 3)))
    assert e.value.status_name == "SSLK_E_SHAPE"
    r = sslkit.RankMe(4)
    with pytest.raises(sslkit.Error) as e:
        r.merge(sslkit.RankMe(5))
    assert e.value.status_name == "SSLK_E_SHAPE"
    with pytest.raises(sslkit.Error) as e:
        sslkit.RankMe(4, eps=1.0)
    assert e.value.status_name == "SSLK_E_SETTING"


def test_alpha_req_matches_numpy():
    rng = np.random.default_rng(11)
    for decay in (0.5, 1.0):
        Z = spectrum_data(rng, 3000, 128, decay=decay)
        a, r2 = sslkit.alpha_req(Z, return_r2=True)
        ra, rr2 = np_alpha_req(Z)
        assert a == pytest.approx(ra, rel=1e-7)
        assert r2 == pytest.approx(rr2, rel=1e-7)
        assert a == pytest.approx(2 * decay, rel=0.15)  # variance decays like i^(-2 decay)


def np_report(pred, lab, C, k, groups=None):
    cnt = np.bincount(lab, minlength=C)
    cor = np.bincount(lab, weights=(pred == lab), minlength=C)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = cor / cnt
    present = np.flatnonzero(cnt > 0)
    order = sorted(present, key=lambda c: (acc[c], c))
    border = sorted(present, key=lambda c: (-acc[c], c))
    out = {"accuracy": (pred == lab).mean(), "balanced_accuracy": acc[present].mean(),
           "worst_k": acc[order[:k]].mean(), "best_k": acc[border[:k]].mean(),
           "worst_k_pooled": cor[order[:k]].sum() / cnt[order[:k]].sum(),
           "worst_classes": order[:k], "best_classes": border[:k], "class_accuracy": acc}
    if groups is not None:
        G = groups.max() + 1
        gc = np.bincount(groups, minlength=G)
        ga = np.bincount(groups, weights=(pred == lab), minlength=G) / np.maximum(gc, 1)
        mino, majo = int(np.argmin(np.where(gc > 0, gc, np.iinfo(np.int64).max))), int(np.argmax(gc))
        out.update({"group_accuracy": ga, "minority_majority_gap": ga[majo] - ga[mino],
                    "worst_group": ga[gc > 0].min()})
    return out


def test_accuracy_report_matches_numpy():
    rng = np.random.default_rng(5)
    for trial in range(5):
        n, C = 500, 12
        lab = rng.integers(0, C - 2, n)  # the last two classes are absent
        logits = rng.standard_normal((n, C)).astype(np.float32)
        logits[np.arange(n), lab] += rng.uniform(0, 3, n).astype(np.float32) * (lab % 4)
        groups = rng.integers(0, 3, n)
        rep = sslkit.accuracy_report(logits, lab, groups=groups, k=3)
        ref = np_report(logits.argmax(1), lab, C, 3, groups)
        for key in ("accuracy", "balanced_accuracy", "worst_k", "best_k", "worst_k_pooled",
                    "minority_majority_gap", "worst_group"):
            assert rep[key] == pytest.approx(ref[key], rel=1e-12), key
        np.testing.assert_array_equal(rep["worst_classes"], ref["worst_classes"])
        np.testing.assert_array_equal(rep["best_classes"], ref["best_classes"])
        np.testing.assert_allclose(rep["class_accuracy"], ref["class_accuracy"], rtol=1e-12)
        np.testing.assert_allclose(rep["group_accuracy"], ref["group_accuracy"], rtol=1e-12)
        assert rep["absent_classes"] == [C - 2, C - 1]
    # predictions instead of logits, and a fixed class set from a reference report
    pred = logits.argmax(1)
    other = np.where(rng.random(n) < 0.3, (pred + 1) % C, pred)
    fixed = sslkit.accuracy_report(other, lab, k=3, num_classes=C, class_set=rep)
    acc = ref["class_accuracy"]
    oacc = np.bincount(lab, weights=(other == lab), minlength=C) / np.maximum(np.bincount(lab, minlength=C), 1)
    assert fixed["worst_k"] == pytest.approx(oacc[rep["worst_classes"]].mean(), rel=1e-12)
    assert acc.shape == (C,)


def test_accuracy_report_errors():
    with pytest.raises(sslkit.Error) as e:
        sslkit.accuracy_report(np.array([0, 1, 5]), np.array([0, 1, 1]), k=1, num_classes=3)
    assert e.value.status_name == "SSLK_E_RANGE" and "pred[2]" in e.value.message
    with pytest.raises(sslkit.Error) as e:
        sslkit.accuracy_report(np.array([0, 1, 1]), np.array([0, 1, 1]), k=10)
    assert e.value.status_name == "SSLK_E_RANGE"
    lg = np.zeros((3, 2), np.float32)
    lg[1, 1] = np.inf
    with pytest.raises(sslkit.Error) as e:
        sslkit.accuracy_report(lg, np.array([0, 1, 1]), k=1)
    assert e.value.status_name == "SSLK_E_NONFINITE"


def test_accuracy_report_huge_ids_are_refused_before_allocating():
    # three values used to size a (2^31 - 1)-class report: 32 GB of numpy arrays
    big = 2**31 - 2
    with pytest.raises(ValueError, match=r"labels\[2\] = 2147483646"):
        sslkit.accuracy_report(np.array([0, 1, 1]), np.array([0, 1, big]), k=1)
    with pytest.raises(ValueError, match=r"predictions\[0\]"):
        sslkit.accuracy_report(np.array([big, 1, 1]), np.array([0, 1, 1]), k=1)
    with pytest.raises(ValueError, match=r"groups\[1\]"):
        sslkit.accuracy_report(np.array([0, 1, 1]), np.array([0, 1, 1]), groups=np.array([0, big, 0]), k=1)
    # just under the bound still works, and the report has exactly that many classes
    top = sslkit.metrics.MAX_INFERRED_IDS - 1
    r = sslkit.accuracy_report(np.array([0, top, 1]), np.array([0, top, 0]), k=1)
    assert r["num_classes"] == top + 1 and r["accuracy"] == pytest.approx(2 / 3)


def np_softmax(x):
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_ensemble_predict_and_curve_match_numpy():
    rng = np.random.default_rng(9)
    M, n, C = 4, 400, 6
    lab = rng.integers(0, C, n)
    members = []
    for m in range(M):
        lg = rng.standard_normal((n, C)) * 2
        lg[np.arange(n), lab] += rng.uniform(0, 2.5)
        members.append(lg.astype(np.float32))
    L = np.stack(members).astype(np.float64)
    ref = {"prob": np.mean([np_softmax(x) for x in L], 0).argmax(1), "logit": L.mean(0).argmax(1)}
    votes = np.zeros((n, C))
    for x in L:
        votes[np.arange(n), x.argmax(1)] += 1
    ref["vote"] = votes.argmax(1)  # argmax picks the lowest index on ties
    for combine in ("prob", "logit", "vote"):
        pred, _ = sslkit.ensemble_predict(members, combine=combine)
        np.testing.assert_array_equal(pred, ref[combine])
        curve = sslkit.ensemble_curve(members, lab, k=2, combine=combine, orders=6, seed=3)
        full = np_report(ref[combine], lab, C, 2)
        assert curve["accuracy"][-1] == pytest.approx(full["accuracy"], abs=1e-12)
        assert curve["worst_k"][-1] == pytest.approx(full["worst_k"], abs=1e-12)
        # size 1: an average of single-member accuracies with weights j/6
        singles = [np_report(x.argmax(1), lab, C, 2)["accuracy"] for x in L]
        ok = any(abs(sum(c * a for c, a in zip(cs, singles)) / 6 - curve["accuracy"][0]) < 1e-12
                 for cs in itertools.product(range(7), repeat=M) if sum(cs) == 6)
        assert ok
        again = sslkit.ensemble_curve(members, lab, k=2, combine=combine, orders=6, seed=3,
                                      ctx=sslkit.Context(threads=2))
        np.testing.assert_array_equal(again["accuracy"], curve["accuracy"])


def test_factor_error_ratios_matches_numpy():
    rng = np.random.default_rng(2)
    n, F = 1000, 5
    factors = (rng.random((n, F)) < [0.3, 0.1, 0.5, 0.05, 0.0]).astype(np.uint8)
    correct = rng.random(n) < 0.8 - 0.3 * factors[:, 1]
    out = sslkit.factor_error_ratios(correct, factors, names=list("abcde"))
    acc = correct.mean()
    assert out["accuracy"] == pytest.approx(acc, rel=1e-12)
    facc = [correct[factors[:, f] == 1].mean() if factors[:, f].any() else np.nan for f in range(F)]
    for f, name in enumerate("abcd"):
        assert out["factors"][name]["accuracy"] == pytest.approx(facc[f], rel=1e-12)
        assert out["factors"][name]["error_ratio"] == pytest.approx((1 - facc[f]) / (1 - acc), rel=1e-12)
        assert out["factors"][name]["count"] == factors[:, f].sum()
    assert np.isnan(out["factors"]["e"]["accuracy"])
    assert out["worst_factor"] == "abcd"[int(np.nanargmin(facc[:4]))]
    with pytest.raises(sslkit.Error) as e:
        sslkit.factor_error_ratios(correct, factors * 2)
    assert e.value.status_name == "SSLK_E_RANGE"
