"""Every call of docs/coming-from.md against a float64 numpy reimplementation of the
other library's formula, written from that library's documented behaviour (issue 20).
The libsslkit side runs the double path (precision="double"), so agreement is to 1e-10."""
import numpy as np
import pytest

import sslkit
from sslkit.conventions import PRESETS, official_vicreg_cov_coeff, preset

RNG = np.random.default_rng(2020)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def unit(z):
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def log_softmax(s):
    m = s.max(1, keepdims=True)
    return s - m - np.log(np.exp(s - m).sum(1, keepdims=True))


# ---- reimplementations ------------------------------------------------------------

def lightly_ntxent(z0, z1, temperature=0.5):
    """lightly.loss.NTXentLoss (no memory bank): logits [z0.z1, z0.z0 without the
    diagonal] and [z1.z0, z1.z1 without the diagonal], target = the other view's row,
    cross-entropy averaged over the 2n rows."""
    a, b = unit(z0.astype(np.float64)), unit(z1.astype(np.float64))
    n = a.shape[0]
    off = ~np.eye(n, dtype=bool)
    rows = []
    for x, y in ((a, b), (b, a)):
        l_xy = x @ y.T / temperature
        l_xx = (x @ x.T / temperature)[off].reshape(n, n - 1)
        logits = np.concatenate([l_xy, l_xx], axis=1)
        rows.append(-log_softmax(logits)[np.arange(n), np.arange(n)])
    return np.concatenate(rows).mean()


def solo_simclr(z, indexes, temperature=0.2):
    """solo-learn simclr_loss_func: positives = other rows with the same index,
    negatives = rows with another index; -mean log(pos / (pos + neg))."""
    u = unit(z.astype(np.float64))
    sim = np.exp(u @ u.T / temperature)
    same = indexes[:, None] == indexes[None, :]
    pos_mask = same & ~np.eye(len(indexes), dtype=bool)
    pos = (sim * pos_mask).sum(1)
    neg = (sim * ~same).sum(1)
    return -np.mean(np.log(pos / (pos + neg)))


def google_simclr(z0, z1, temperature=0.1):
    """google-research/simclr add_contrastive_loss: loss_a + loss_b, each the mean
    softmax cross-entropy of one view's rows against [ab, aa - large on the diagonal]."""
    a, b = unit(z0.astype(np.float64)), unit(z1.astype(np.float64))
    n = a.shape[0]
    big = 1e9 * np.eye(n)
    tot = 0.0
    for x, y in ((a, b), (b, a)):
        logits = np.concatenate([x @ y.T / temperature, x @ x.T / temperature - big], axis=1)
        tot += -np.mean(log_softmax(logits)[np.arange(n), np.arange(n)])
    return tot


def vicreg_ref(x, y, var_sum, cov_div=None, sim=25.0, std=25.0, cov=1.0):
    """facebookresearch/vicreg forward (var_sum=False; cov_div = configured batch
    size - 1), solo-learn vicreg_loss_func / lightly VICRegLoss (var_sum as named)."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    n, d = x.shape
    inv = np.mean((x - y) ** 2)
    xs, ys = x - x.mean(0), y - y.mean(0)
    sx, sy = np.sqrt(xs.var(0, ddof=1) + 1e-4), np.sqrt(ys.var(0, ddof=1) + 1e-4)
    vx, vy = np.mean(np.maximum(0, 1 - sx)), np.mean(np.maximum(0, 1 - sy))
    var = vx + vy if var_sum else (vx + vy) / 2
    div = (n - 1) if cov_div is None else cov_div
    cvs = 0.0
    for z in (xs, ys):
        c = z.T @ z / div
        cvs += (np.sum(c ** 2) - np.sum(np.diag(c) ** 2)) / d
    return sim * inv + std * var + cov * cvs


def lightly_vicreg_positions(x, y):
    """lightly VICRegLoss on (batch, ..., dim): invariance and variance averaged over
    every middle position and dim, covariance per position then averaged."""
    b, d = x.shape[0], x.shape[-1]
    x3, y3 = x.reshape(b, -1, d).astype(np.float64), y.reshape(b, -1, d).astype(np.float64)
    return np.mean([vicreg_ref(x3[:, p], y3[:, p], var_sum=False) for p in range(x3.shape[1])])


# ---- the calls of docs/coming-from.md -----------------------------------------------

def test_lightly_ntxent():
    z0, z1 = f32(12, 8), f32(12, 8)
    v = sslkit.Loss("infonce", convention="lightly", precision="double").compute(z0, z1, grad=False)
    assert v == pytest.approx(lightly_ntxent(z0, z1), rel=1e-10)
    # the default temperature differs: 0.1 here, 0.5 in lightly
    v01 = sslkit.Loss("infonce", precision="double").compute(z0, z1, grad=False)
    assert abs(v01 - lightly_ntxent(z0, z1)) > 1e-3


def test_solo_learn_simclr_indexed():
    z = f32(12, 8)
    idx = np.array([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3])  # three crops per image
    v = sslkit.Loss("infonce", convention="solo-learn", precision="double").compute(z, idx, grad=False)
    assert v == pytest.approx(solo_simclr(z, idx), rel=1e-10)


def test_google_simclr():
    z0, z1 = f32(10, 6), f32(10, 6)
    v = sslkit.Loss("infonce", convention="official", precision="double").compute(z0, z1, grad=False)
    assert v == pytest.approx(google_simclr(z0, z1), rel=1e-10)


@pytest.mark.parametrize("convention,var_sum", [("official", False), ("lightly", False), ("solo-learn", True)])
def test_vicreg_conventions(convention, var_sum):
    x, y = f32(16, 8), (0.3 * f32(16, 8))
    v = sslkit.Loss("vicreg", convention=convention, precision="double").compute(x, y, grad=False)
    assert v == pytest.approx(vicreg_ref(x, y, var_sum), rel=1e-10)


def test_official_vicreg_short_last_batch():
    x, y = f32(10, 8), f32(10, 8)
    L = sslkit.Loss("vicreg", convention="official", precision="double",
                    cov_coeff=official_vicreg_cov_coeff(1.0, n=10, batch_size=64))
    assert L.compute(x, y, grad=False) == pytest.approx(vicreg_ref(x, y, False, cov_div=63), rel=1e-10)
    with pytest.raises(ValueError):
        official_vicreg_cov_coeff(1.0, 1, 64)


def test_lightly_vicreg_positions():
    x, y = f32(12, 3, 2, 6), f32(12, 3, 2, 6)
    L = sslkit.Loss("vicreg", convention="lightly", precision="double")
    v, gx, gy = L.compute(x, y)
    assert v == pytest.approx(lightly_vicreg_positions(x, y), rel=1e-10)
    assert gx.shape == x.shape and gy.shape == y.shape
    # gradient: central differences of the reference at a few entries
    for idx in [(0, 0, 0, 0), (5, 2, 1, 3), (11, 1, 0, 5)]:
        xp, xm = x.astype(np.float64), x.astype(np.float64)
        xp[idx] += 1e-5
        xm[idx] -= 1e-5
        fd = (lightly_vicreg_positions(xp, y) - lightly_vicreg_positions(xm, y)) / 2e-5
        assert gx[idx] == pytest.approx(fd, rel=1e-4, abs=1e-7)
    # terms are the position means: the weighted sum reproduces the value
    t = L.terms
    assert 25 * t["invariance"] + 25 * t["variance"] + t["covariance"] == pytest.approx(v, rel=1e-10)


def lightly_msn(anchors, targets, protos, pmsn=False, exponent=0.25):
    """lightly MSNLoss / PMSNLoss forward: cross-entropy to sharpened (T 0.25), Sinkhorn-ed
    (3) target probabilities + me-max (MSN) or F.kl_div(log pbar, power law, sum) (PMSN)."""
    k = protos.shape[0]
    q = unit(protos.astype(np.float64))
    probs = np.exp(log_softmax(unit(anchors.astype(np.float64)) @ q.T / 0.1))
    t = np.exp(log_softmax(unit(targets.astype(np.float64)) @ q.T / 0.1)) ** 4
    t /= t.sum(1, keepdims=True)
    Q = t.T / t.sum()
    for _ in range(3):
        Q = Q / Q.sum(1, keepdims=True) / k
        Q = Q / Q.sum(0, keepdims=True) / Q.shape[1]
    t = np.tile((Q * Q.shape[1]).T, (anchors.shape[0] // targets.shape[0], 1))
    loss = np.mean(np.sum(-t * np.log(probs), 1))
    pbar = probs.mean(0)
    if not pmsn:
        return loss + np.sum(pbar * np.log(pbar)) + np.log(k)
    pw = np.arange(1, k + 1, dtype=np.float64) ** -exponent
    pw /= pw.sum()
    return loss + np.sum(pw * (np.log(pw) - np.log(pbar)))


@pytest.mark.parametrize("convention,pmsn", [("lightly", False), ("lightly-pmsn", True)])
def test_lightly_msn_and_pmsn(convention, pmsn):
    n, d, k = 6, 5, 9
    protos, targets = f32(k, d), f32(n, d)
    anchors = (np.tile(targets, (3, 1)) + 0.5 * f32(3 * n, d)).astype(np.float32)
    L = sslkit.Loss("msn", convention=convention, num_prototypes=k, dim=d, precision="double")
    L.compute(anchors, targets, grad=False)
    L.params["prototypes"][...] = protos
    assert L.compute(anchors, targets, grad=False) == pytest.approx(lightly_msn(anchors, targets, protos, pmsn),
                                                                     rel=1e-10)


def test_explicit_settings_override_a_preset():
    L = sslkit.Loss("infonce", convention="lightly", temperature=0.3)
    assert L.get("temperature") == 0.3
    with pytest.raises(KeyError, match="known"):
        sslkit.Loss("infonce", convention="no-such")
    assert preset("vicreg", "solo-learn") == {"var_branch_reduction": "sum"}
    assert all(isinstance(v, dict) for v in PRESETS.values())


def official_msn(anchors, targets, protos, smoothing, tau=0.1, T=0.25, views=2, sinkhorn=True):
    """facebookresearch/msn init_msn_loss + msn_train.one_hot: snn = softmax(cos / tau) @
    proto_labels with proto_labels = (1 - s) I + s / K; targets = sharpen(snn(targets), T),
    Sinkhorn (3 iterations, on Q^T), CE = mean sum -t log p, me-max = sum pbar log pbar + log K."""
    k = protos.shape[0]
    labels = np.full((k, k), smoothing / k) + (1 - smoothing) * np.eye(k)
    q = unit(protos.astype(np.float64))

    def snn(z):
        s = unit(z.astype(np.float64)) @ q.T / tau
        return np.exp(log_softmax(s)) @ labels

    probs = snn(anchors)
    t = snn(targets) ** (1 / T)
    t /= t.sum(1, keepdims=True)
    if sinkhorn:
        Q = t.T / t.sum()
        B = Q.shape[1]
        for _ in range(3):
            Q /= Q.sum(1, keepdims=True)
            Q /= k
            Q /= Q.sum(0, keepdims=True)
            Q /= B
        t = (Q * B).T
    t = np.tile(t, (views, 1))
    ce = np.mean(np.sum(-t * np.log(probs), 1))
    pbar = probs.mean(0)
    return ce + np.sum(pbar * np.log(pbar)) + np.log(k)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_official_msn_label_smoothing(smoothing):
    n, d, k = 6, 5, 7
    protos, targets = f32(k, d), f32(n, d)
    anchors = (np.tile(targets, (2, 1)) + 0.5 * f32(2 * n, d)).astype(np.float32)
    L = sslkit.Loss("msn", convention="official", num_prototypes=k, dim=d, precision="double",
                    label_smoothing=smoothing)
    L.compute(anchors, targets, grad=False)
    L.params["prototypes"][...] = protos
    L.zero_grad()
    v, ga = L.compute(anchors, targets)
    assert v == pytest.approx(official_msn(anchors, targets, protos, smoothing), rel=1e-10)
    # anchor and prototype gradients: central differences of the reference (targets constant)
    for idx in [(0, 0), (7, 3), (11, 4)]:
        ap, am = anchors.astype(np.float64), anchors.astype(np.float64)
        ap[idx] += 1e-6
        am[idx] -= 1e-6
        fd = (official_msn(ap, targets, protos, smoothing) - official_msn(am, targets, protos, smoothing)) / 2e-6
        assert ga[idx] == pytest.approx(fd, rel=1e-5, abs=1e-9)
    gq = L.param_grads["prototypes"]
    for idx in [(0, 0), (6, 2)]:
        # prototypes move the targets too, which the loss treats as constants: perturb
        # the anchor-side prototypes only
        def f(P):
            return official_msn_split(anchors, targets, P, protos, smoothing)
        pp, pm = protos.astype(np.float64), protos.astype(np.float64)
        pp[idx] += 1e-6
        pm[idx] -= 1e-6
        assert gq[idx] == pytest.approx((f(pp) - f(pm)) / 2e-6, rel=1e-5, abs=1e-9)


def official_msn_split(anchors, targets, protos_anchor, protos_target, smoothing):
    """official_msn with the targets computed from other prototypes (stop-gradient)."""
    k = protos_anchor.shape[0]
    full = official_msn(anchors, targets, protos_target, smoothing)  # noqa: F841 (shape check)
    labels = np.full((k, k), smoothing / k) + (1 - smoothing) * np.eye(k)
    qa, qt = unit(protos_anchor), unit(protos_target.astype(np.float64))
    probs = np.exp(log_softmax(unit(anchors.astype(np.float64)) @ qa.T / 0.1)) @ labels
    t = (np.exp(log_softmax(unit(targets.astype(np.float64)) @ qt.T / 0.1)) @ labels) ** 4
    t /= t.sum(1, keepdims=True)
    Q = t.T / t.sum()
    for _ in range(3):
        Q /= Q.sum(1, keepdims=True) * k
        Q /= Q.sum(0, keepdims=True) * Q.shape[1]
    t = np.tile((Q * Q.shape[1]).T, (2, 1))
    pbar = probs.mean(0)
    return np.mean(np.sum(-t * np.log(probs), 1)) + np.sum(pbar * np.log(pbar)) + np.log(k)


class LightlyMemoryBank:
    """lightly MemoryBankModule: a (size, dim) bank, returned before the update;
    _dequeue_and_enqueue writes from ptr and, when ptr + batch >= size, fills the
    end, drops the rest and resets ptr to 0."""

    def __init__(self, bank):
        self.bank, self.ptr = bank.astype(np.float64).copy(), 0

    def forward(self, out1):
        bank = self.bank.copy()
        size, b = self.bank.shape[0], out1.shape[0]
        if self.ptr + b >= size:
            self.bank[self.ptr:] = out1[:size - self.ptr]
            self.ptr = 0
        else:
            self.bank[self.ptr:self.ptr + b] = out1
            self.ptr += b
        return bank


def lightly_ntxent_bank(z0, z1, bank, temperature=0.5):
    """NTXentLoss(memory_bank_size>0).forward: logits [z0.z1 (row-wise), z0.bank^T] / t,
    label 0, mean cross-entropy over the z0 rows."""
    a, b = unit(z0.astype(np.float64)), unit(z1.astype(np.float64))
    logits = np.concatenate([np.sum(a * b, 1, keepdims=True), a @ bank.T], axis=1) / temperature
    return -np.mean(log_softmax(logits)[:, 0])


def test_lightly_ntxent_memory_bank():
    d, size = 5, 8
    queue = sslkit.NegativeQueue(size, d)  # lightly starts from random unit rows too
    # lightly normalises its random bank at init; the float32 copy is renormalised here as
    # the loss does with every negative
    ref_bank = LightlyMemoryBank(unit(queue.rows.astype(np.float64)))
    L = sslkit.Loss("infonce", convention="lightly", precision="double")
    for step in range(3):  # step 2 wraps: 6 + 6 >= 8 fills 2 rows and drops 4
        z0, z1 = f32(6, d), f32(6, d)
        bank = ref_bank.forward(unit(z1.astype(np.float64)))
        assert np.allclose(unit(queue.rows.astype(np.float64)), bank, atol=1e-7)
        v, g0, g1 = L.compute(z0, z1, negatives=queue)
        queue.push(z1)
        assert v == pytest.approx(lightly_ntxent_bank(z0, z1, bank), rel=1e-10)
        assert L.terms["logsumexp"] - L.terms["positive"] != 0
        for g, which in ((g0, 0), (g1, 1)):
            for idx in [(0, 0), (5, 4)]:
                zp = [z0.astype(np.float64), z1.astype(np.float64)]
                zm = [z0.astype(np.float64), z1.astype(np.float64)]
                zp[which][idx] += 1e-6
                zm[which][idx] -= 1e-6
                fd = (lightly_ntxent_bank(*zp, bank) - lightly_ntxent_bank(*zm, bank)) / 2e-6
                assert g[idx] == pytest.approx(fd, rel=1e-6, abs=1e-10)
    assert len(queue) == size


def test_negative_queue_empty_and_errors():
    q = sslkit.NegativeQueue(5, 3, init="empty")
    assert len(q) == 0
    q.push(np.ones((2, 3)))
    q.push(2 * np.ones((4, 3)))  # 2 + 4 >= 5: 3 rows fit, 1 dropped, pointer back to 0
    assert q.rows[:, 0].tolist() == [1, 1, 2, 2, 2]
    q.push(3 * np.ones((1, 3)))
    assert q.rows[:, 0].tolist() == [3, 1, 2, 2, 2]
    with pytest.raises(sslkit.Error):
        q.push(np.ones((1, 4)))
    with pytest.raises(sslkit.Error):
        sslkit.Loss("vicreg").compute(f32(4, 3), f32(4, 3), negatives=q)
    with pytest.raises(sslkit.Error):
        bad = np.ones((2, 3), np.float32)
        bad[1, 1] = np.nan
        sslkit.Loss("infonce").compute(f32(4, 3), f32(4, 3), negatives=bad)


def dino_knn_top(train_z, train_y, test_z, test_y, k, T=0.07, nclasses=10, ntop=None):
    """facebookresearch/dino eval_knn.knn_classifier: cosine top-k, weights exp(s / T),
    votes summed per class, classes sorted by votes; top5 counts the first min(5, k)
    (ntop overrides: libsslkit's default counts min(5, classes)).  Among equal votes
    torch's sort order is unspecified; here lower class id first (libsslkit's rule)."""
    a, b = unit(test_z.astype(np.float64)), unit(train_z.astype(np.float64))
    sim = a @ b.T
    hits1 = hits5 = 0
    n5 = min(5, k) if ntop is None else ntop
    for i in range(len(test_y)):
        nn = np.argsort(-sim[i], kind="stable")[:k]
        votes = np.zeros(nclasses)
        np.add.at(votes, train_y[nn], np.exp(sim[i, nn] / T))
        order = sorted(range(nclasses), key=lambda c: (-votes[c], c))
        hits1 += order[0] == test_y[i]
        hits5 += test_y[i] in order[:n5]
    return hits1 / len(test_y), hits5 / len(test_y)


def test_dino_knn_top5_rule():
    rng = np.random.default_rng(5)
    train_z, test_z = rng.standard_normal((200, 8)).astype(np.float32), rng.standard_normal((80, 8)).astype(np.float32)
    train_y, test_y = rng.integers(0, 10, 200).astype(np.int32), rng.integers(0, 10, 80).astype(np.int32)
    dino = sslkit.knn_eval(train_z, train_y, test_z, test_y, k=3, nclasses=10, top5_rule="dino")
    default = sslkit.knn_eval(train_z, train_y, test_z, test_y, k=3, nclasses=10)
    r1, r5 = dino_knn_top(train_z, train_y, test_z, test_y, k=3)
    assert dino["top1"] == pytest.approx(r1, abs=1e-12) and dino["top5"] == pytest.approx(r5, abs=1e-12)
    assert default["top5"] == pytest.approx(dino_knn_top(train_z, train_y, test_z, test_y, k=3, ntop=5)[1],
                                            abs=1e-12)
    assert default["top5"] > dino["top5"]  # zero-vote classes count only under the default rule
    # k >= 5: both rules agree
    a = sslkit.knn_eval(train_z, train_y, test_z, test_y, k=20, nclasses=10, top5_rule="dino")
    b = sslkit.knn_eval(train_z, train_y, test_z, test_y, k=20, nclasses=10)
    assert a["top5"] == b["top5"] == pytest.approx(dino_knn_top(train_z, train_y, test_z, test_y, k=20)[1])


def worst_k_shared_ties(correct, count, k):
    """The k lowest per-class accuracies with the t classes tied at the k-th value
    each weighted r / t (r = slots left for them); unweighted mean and pooled."""
    present = [c for c in range(len(count)) if count[c] > 0]
    acc = {c: correct[c] / count[c] for c in present}
    order = sorted(present, key=lambda c: acc[c])
    edge = acc[order[k - 1]]
    below = [c for c in order if acc[c] < edge]
    tied = [c for c in order if acc[c] == edge]
    w = (k - len(below)) / len(tied)
    mean = (sum(acc[c] for c in below) + w * sum(acc[c] for c in tied)) / k
    pooled = (sum(correct[c] for c in below) + w * sum(correct[c] for c in tied)) / \
             (sum(count[c] for c in below) + w * sum(count[c] for c in tied))
    return mean, pooled, len(tied)


def test_worst_k_tie_rules():
    # classes 0..4 with accuracies 0.5, 0.5, 0.5, 0.9, 0.2 and different sizes: k = 2
    # takes class 4 and one of the three tied at 0.5
    sizes, correct = [2, 10, 4, 10, 5], [1, 5, 2, 9, 1]
    labels = np.concatenate([np.full(s, c) for c, s in enumerate(sizes)]).astype(np.int32)
    pred = labels.copy()
    pos = 0
    for c, (s, r) in enumerate(zip(sizes, correct)):
        pred[pos + r:pos + s] = (c + 1) % 5  # the wrong ones
        pos += s
    low = sslkit.accuracy_report(pred, labels, k=2, num_classes=5)
    mean = sslkit.accuracy_report(pred, labels, k=2, num_classes=5, ties="mean")
    assert list(low["worst_classes"]) == [4, 0]  # the lower id among the tied
    assert low["worst_k_pooled"] == pytest.approx((1 + 1) / (5 + 2))
    m, p, t = worst_k_shared_ties(correct, sizes, 2)
    assert (mean["worst_k"], mean["worst_k_pooled"], mean["worst_k_num_tied"]) == (pytest.approx(m), pytest.approx(p), t)
    assert t == 3 and mean["worst_k"] == pytest.approx(low["worst_k"]) and mean["worst_k_pooled"] != low["worst_k_pooled"]
    with pytest.raises(ValueError):
        sslkit.accuracy_report(pred, labels, k=2, ties="random")


def pmsn_user_prior(anchors, targets, protos, prior, tau=0.1, T=0.25):
    """PMSN with a user prior, forward KL: official MSN cross-entropy (Sinkhorn on) +
    KL(pbar || prior), prior divided by its sum."""
    k = protos.shape[0]
    q = unit(protos.astype(np.float64))
    probs = np.exp(log_softmax(unit(anchors.astype(np.float64)) @ q.T / tau))
    t = np.exp(log_softmax(unit(targets.astype(np.float64)) @ q.T / (tau * T)))
    Q = t.T / t.sum()
    for _ in range(3):
        Q /= Q.sum(1, keepdims=True) * k
        Q /= Q.sum(0, keepdims=True) * Q.shape[1]
    t = np.tile((Q * Q.shape[1]).T, (anchors.shape[0] // targets.shape[0], 1))
    pbar = probs.mean(0)
    pi = np.asarray(prior, np.float64)
    pi = pi / pi.sum()
    return np.mean(np.sum(-t * np.log(probs), 1)) + np.sum(pbar * (np.log(pbar) - np.log(pi)))


def test_pmsn_prior_in_double():
    n, d, k = 6, 5, 7
    protos, targets = f32(k, d), f32(n, d)
    anchors = (np.tile(targets, (2, 1)) + 0.5 * f32(2 * n, d)).astype(np.float32)
    prior = np.arange(1, k + 1, dtype=np.float64) ** -0.7
    prior /= prior.sum()
    prior[0] += 4e-4  # sums to 1 + 4e-4: accepted (within 1e-3) and renormalised
    vals = {}
    for p in (prior, prior.astype(np.float32)):
        L = sslkit.Loss("msn", num_prototypes=k, dim=d, precision="double", prior=p)
        L.compute(anchors, targets, grad=False)
        L.params["prototypes"][...] = protos
        vals[p.dtype.type] = L.compute(anchors, targets, grad=False)
    assert vals[np.float64] == pytest.approx(pmsn_user_prior(anchors, targets, protos, prior), rel=1e-12)
    # the float32 prior is the rounded vector: a different value at ~1e-8
    assert vals[np.float32] == pytest.approx(pmsn_user_prior(anchors, targets, protos,
                                                             prior.astype(np.float32)), rel=1e-12)
    with pytest.raises(sslkit.Error, match="sums to"):
        sslkit.Loss("msn", num_prototypes=k, dim=d, prior=prior * 2)
    with pytest.raises(sslkit.Error, match="not finite"):
        bad = prior.copy()
        bad[2] = np.inf
        sslkit.Loss("msn", num_prototypes=k, dim=d, prior=bad)
