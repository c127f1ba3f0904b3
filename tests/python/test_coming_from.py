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
    """solo-learn simclr_loss_func (solo/losses/simclr.py, read at 9187ea3): exp(cos / t)
    of normalised rows, positives = other rows with the same index, negatives = rows with
    another index; -mean log(pos / (pos + neg)).  The function's own default t is 0.1;
    solo-learn's SimCLR method requires method_kwargs.temperature and its configs set 0.2."""
    u = unit(z.astype(np.float64))
    sim = np.exp(u @ u.T / temperature)
    same = indexes[:, None] == indexes[None, :]
    pos_mask = same & ~np.eye(len(indexes), dtype=bool)
    pos = (sim * pos_mask).sum(1)
    neg = (sim * ~same).sum(1)
    return -np.mean(np.log(pos / (pos + neg)))


def google_simclr(z0, z1, temperature=0.1):
    """google-research/simclr add_contrastive_loss (objective.py and tf2/objective.py, read
    at 383d414): hidden = [view 1; view 2] l2-normalised, loss_a + loss_b, each the mean
    softmax cross-entropy of one view's rows against [ab, aa - 1e9 on the diagonal]
    (LARGE_NUM; tf2 takes reduce_mean(loss_a + loss_b), the same number).  The function's
    default temperature is 1.0; run.py's --temperature flag defaults to 0.1."""
    a, b = unit(z0.astype(np.float64)), unit(z1.astype(np.float64))
    n = a.shape[0]
    big = 1e9 * np.eye(n)
    tot = 0.0
    for x, y in ((a, b), (b, a)):
        logits = np.concatenate([x @ y.T / temperature, x @ x.T / temperature - big], axis=1)
        tot += -np.mean(log_softmax(logits)[np.arange(n), np.arange(n)])
    return tot


def vicreg_ref(x, y, var_sum, cov_div=None, sim=25.0, std=25.0, cov=1.0):
    """facebookresearch/vicreg VICReg.forward (main_vicreg.py, read at 4e12602;
    var_sum=False; cov_div = args.batch_size - 1, the configured global batch, while the
    variance uses the gathered rows' own n - 1), solo-learn vicreg_loss_func (read at
    9187ea3: variance terms summed, covariance / (N - 1) of the gathered N) and lightly
    VICRegLoss (var_sum as named)."""
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


# ---- stable-pretraining (rbalestr-lab/stable-pretraining, read at 9aa93f8b) ---------

def spt_ntxent(z_i, z_j, temperature=0.5):
    """spt.losses.NTXEntLoss: anchors = candidates = [z_i; z_j] (normalised), logits /
    temperature, the anchor's own column masked to -inf, target = its other view,
    F.cross_entropy (mean over the 2N anchors)."""
    u = unit(np.concatenate([z_i, z_j]).astype(np.float64))
    two_n = u.shape[0]
    s = u @ u.T / temperature
    s[np.arange(two_n), np.arange(two_n)] = -np.inf
    tgt = (np.arange(two_n) + two_n // 2) % two_n
    return -np.mean(log_softmax(s)[np.arange(two_n), tgt])


def spt_vicreg(z_i, z_j, sim=25.0, std=25.0, cov=1.0, eps=1e-4):
    """spt.losses.VICRegLoss: sim * mse + VCRegLoss(z_i) + VCRegLoss(z_j), each VCReg
    std * mean(relu(1 - sqrt(var_unbiased + eps))) / 2 + cov * sum(offdiag(cov)^2) / D."""
    def vcreg(z):
        z = z - z.mean(0)
        s = np.sqrt(z.var(0, ddof=1) + eps)
        c = z.T @ z / (z.shape[0] - 1)
        return std * np.mean(np.maximum(0, 1 - s)) / 2 + cov * (np.sum(c ** 2) - np.sum(np.diag(c) ** 2)) / z.shape[1]
    x, y = z_i.astype(np.float64), z_j.astype(np.float64)
    return sim * np.mean((x - y) ** 2) + vcreg(x) + vcreg(y)


def spt_byol(p, z):
    """spt.losses.BYOLLoss: mean(2 - 2 cos(p, z)) of F.normalize'd rows."""
    return np.mean(2 - 2 * np.sum(unit(p.astype(np.float64)) * unit(z.astype(np.float64)), 1))


def spt_negcos(p, z):
    """spt.losses.NegativeCosineSimilarity: -mean cos(p, z)."""
    return -np.mean(np.sum(unit(p.astype(np.float64)) * unit(z.astype(np.float64)), 1))


def spt_clip(f_i, f_j, temperature=0.07):
    """spt.losses.CLIPLoss: 0.5 (CE(f_i f_j^T / t, diagonal) + CE(f_j f_i^T / t, diagonal))."""
    a, b = unit(f_i.astype(np.float64)), unit(f_j.astype(np.float64))
    n = a.shape[0]
    ab = -np.mean(log_softmax(a @ b.T / temperature)[np.arange(n), np.arange(n)])
    ba = -np.mean(log_softmax(b @ a.T / temperature)[np.arange(n), np.arange(n)])
    return 0.5 * (ab + ba)


def spt_rankme(z):
    """spt.callbacks.RankMe: svdvals of the queued embeddings (no centring),
    p = s / sum(s) + 1e-5, exp(-sum p log p)."""
    s = np.linalg.svd(z.astype(np.float64), compute_uv=False)
    p = s / s.sum() + 1e-5
    return np.exp(-np.sum(p * np.log(p)))


def fd_grad(f, x, idx, h=1e-6):
    xp, xm = x.astype(np.float64), x.astype(np.float64)
    xp[idx] += h
    xm[idx] -= h
    return (f(xp) - f(xm)) / (2 * h)


def test_stable_pretraining_ntxent():
    z_i, z_j = f32(10, 6), f32(10, 6)
    v, gi, gj = sslkit.Loss("infonce", temperature=0.5, precision="double").compute(z_i, z_j)
    assert v == pytest.approx(spt_ntxent(z_i, z_j), rel=1e-10)
    for idx in [(0, 0), (7, 5)]:
        assert gi[idx] == pytest.approx(fd_grad(lambda x: spt_ntxent(x, z_j), z_i, idx), rel=1e-6, abs=1e-10)
        assert gj[idx] == pytest.approx(fd_grad(lambda x: spt_ntxent(z_i, x), z_j, idx), rel=1e-6, abs=1e-10)


def test_stable_pretraining_vicreg():
    x, y = f32(16, 8), (0.3 * f32(16, 8))
    v, gx, _ = sslkit.Loss("vicreg", precision="double").compute(x, y)
    assert v == pytest.approx(spt_vicreg(x, y), rel=1e-10)
    assert gx[3, 2] == pytest.approx(fd_grad(lambda a: spt_vicreg(a, y), x, (3, 2)), rel=1e-6, abs=1e-10)


@pytest.mark.parametrize("form,ref", [("byol", spt_byol), ("simsiam", spt_negcos)])
def test_stable_pretraining_byol_negcos(form, ref):
    p, z = f32(12, 7), f32(12, 7)
    v, gp, gz = sslkit.Loss("negcos", form=form, precision="double").compute(p, z)
    assert v == pytest.approx(ref(p, z), rel=1e-10)
    assert gp[4, 1] == pytest.approx(fd_grad(lambda a: ref(a, z), p, (4, 1)), rel=1e-6, abs=1e-10)
    assert not gz.any()  # the target side is stop-gradient here (the target network's output in spt)


def test_stable_pretraining_clip():
    f_i, f_j = f32(9, 5), f32(9, 5)
    v, gi, _ = sslkit.Loss("infonce_symmetric", temperature=0.07, precision="double").compute(f_i, f_j)
    assert v == pytest.approx(spt_clip(f_i, f_j), rel=1e-10)
    assert gi[2, 3] == pytest.approx(fd_grad(lambda a: spt_clip(a, f_j), f_i, (2, 3)), rel=1e-6, abs=1e-10)


def test_stable_pretraining_rankme():
    z = f32(40, 12)
    z[:, 6:] *= 0.05  # an uneven spectrum
    assert sslkit.RankMe(12, eps=1e-5).update(z).value == pytest.approx(spt_rankme(z), rel=1e-10)
    s = np.linalg.svd(z.astype(np.float64), compute_uv=False)
    assert sslkit.rankme_spectrum(s, eps=1e-5) == pytest.approx(spt_rankme(z), rel=1e-12)
    assert abs(sslkit.rankme(z) - spt_rankme(z)) > 1e-4  # the default eps (1e-7) differs


# ---- two public RankMe implementations ------------------------------------------------

def reptrix_rankme(acts, max_eigenvals=2048):
    """arnab39/reptrix get_rankme (read at f93c9b6): activations flattened to (bsz, -1),
    centred, sklearn PCA(svd_solver='full') explained_variance_ratio_ of the first
    min(max_eigenvals, n, d) components, p = ratio / sum(ratio) + 1e-7."""
    x = acts.reshape(acts.shape[0], -1).astype(np.float64)
    x = x - x.mean(0)
    ev = np.linalg.svd(x, compute_uv=False) ** 2 / (x.shape[0] - 1)
    ratio = (ev / ev.sum())[:min(max_eigenvals, *x.shape)]
    p = ratio / np.sum(np.abs(ratio)) + 1e-7
    return np.exp(-np.sum(p * np.log(p)))


def tfgnn_rankme(z, epsilon=1e-12):
    """tensorflow/gnn contrastive_losses.rankme (read at 5d7251e): singular values of
    the raw representations, p = divide_no_nan(s, sum s) + epsilon (1e-12)."""
    s = np.maximum(np.linalg.svd(z.astype(np.float64), compute_uv=False), 0)
    p = s / s.sum() + epsilon
    return np.exp(-np.sum(p * np.log(p)))


@pytest.mark.parametrize("shape", [(50, 4, 3), (8, 20)])  # n > d and n < d (centring: rank n - 1)
def test_reptrix_rankme(shape):
    acts = f32(*shape)
    acts[:, 0] *= 6.0
    n = shape[0]
    assert sslkit.rankme_covariance(acts.reshape(n, -1)) == pytest.approx(reptrix_rankme(acts), rel=1e-10)
    d = acts.reshape(n, -1).shape[1]
    acc = sslkit.RankMe(d, variant="covariance").update(acts.reshape(n, -1))
    assert acc.value == pytest.approx(reptrix_rankme(acts), rel=1e-10)
    # max_eigenvals below min(n, d): the RankMe of the leading eigenvalues
    top = acc.singular_values[:5]
    assert sslkit.rankme_spectrum(top) == pytest.approx(reptrix_rankme(acts, max_eigenvals=5), rel=1e-10)
    assert abs(sslkit.rankme(acts.reshape(n, -1)) - reptrix_rankme(acts)) > 1e-3  # not the paper's (raw) RankMe


def test_tfgnn_rankme():
    z = f32(30, 10) + 2.0  # uncentred: the raw singular values differ from the centred ones
    assert sslkit.RankMe(10, eps=1e-12).update(z).value == pytest.approx(tfgnn_rankme(z), rel=1e-10)
    assert sslkit.rankme(z) == pytest.approx(tfgnn_rankme(z, epsilon=1e-7), rel=1e-10)


def barlow_c(z1, z2, unbiased_std_plus_eps):
    def standardise(z):
        z = z.astype(np.float64)
        if unbiased_std_plus_eps:  # stable-pretraining BarlowTwinsLoss._normalize
            return (z - z.mean(0)) / (z.std(0, ddof=1) + 1e-5)
        return (z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5)  # official code: BatchNorm1d, affine off
    return standardise(z1).T @ standardise(z2) / z1.shape[0]


def barlow_value(c, lambd):
    return np.sum((np.diag(c) - 1) ** 2) + lambd * (np.sum(c ** 2) - np.sum(np.diag(c) ** 2))


def test_stable_pretraining_barlow_is_open():
    """Listed as open in coming-from.md: spt's BarlowTwinsLoss (lambd 5e-3) standardises
    by the unbiased std + 1e-5; libsslkit reproduces the official batch-norm form only."""
    z1, z2 = f32(12, 5), f32(12, 5)
    v = sslkit.Loss("barlow_twins", lambd=5e-3, precision="double").compute(z1, z2, grad=False)
    assert v == pytest.approx(barlow_value(barlow_c(z1, z2, False), 5e-3), rel=1e-10)
    c_spt = barlow_c(z1, z2, True)
    assert np.allclose(c_spt, barlow_c(z1, z2, False) * 11 / 12, rtol=1e-4)
    assert abs(barlow_value(c_spt, 5e-3) - v) > 1e-3
