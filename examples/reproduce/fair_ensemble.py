"""Reproduction 2: fairness emerges from ensembling (FAIR-Ensemble).

The paper: Ko, D'souza, Nguyen, Balestriero, Hooker, "FAIR-Ensemble: When
Fairness Naturally Emerges From Deep Ensembling", 2023 (arXiv 2303.00586).
Claim: in a homogeneous ensemble (same data, architecture and recipe, only the
random seeds differ) the accuracy of the worst classes (bottom-k) and of an
under-represented (minority) group grows faster with the number of members
than the mean accuracy, and keeps growing after the mean has saturated; which
randomness source differs between members (initialisation, mini-batch order,
augmentation) changes how much.

Our setting: small supervised classifiers (sslkit.Model, AdamW, a plain
cross-entropy loop) on an imbalanced Fashion-MNIST training subset: three
classes drawn from the split seed are under-sampled (--n-minor images each
against --n-major for the others) and form the minority group; the test set
is balanced.  Four ensembles of --members members, one per randomness source:
  init   only the weight initialisation seed differs (order, augmentation fixed)
  order  only the mini-batch order seed differs
  aug    only the augmentation seed differs (random shift + horizontal flip,
         drawn per image and epoch, so it does not depend on the order)
  all    the three seeds differ.
The learning rate is chosen among LRS on a balanced held-out part of the
TRAINING split (one member per candidate), never on the test set; the fixed
worst-3 class set (the paper picks bottom-k classes on a base model) is the
selection model's three worst held-out classes.

Ensembles average the members' softmax probabilities (sslkit.ensemble_predict,
combine "prob").  For ensembles of 1..M members the program reports, averaged
over M member orders (the rotations of a random permutation, so that size 1
is the mean single member and size M the whole ensemble): accuracy, balanced
accuracy, worst-3-class accuracy (classes re-chosen per ensemble, and on the
fixed held-out set), minority- and majority-group accuracy
(sslkit.accuracy_report); and the library's sslkit.ensemble_curve (random
orders) for accuracy and worst-3.  Summary per source: gains from 1 to M
members, the gain ratios worst-3 / mean and minority / mean, the size m_sat
at which the mean gain reaches 90% of its total, and the gains after m_sat.

Writes fair_ensemble.csv / .md (one row per source and size),
fair_ensemble_members.csv / .md (one row per member),
fair_ensemble_summary.csv / .md, fair_ensemble.png / .svg (gains of the
"all" ensemble) and fair_ensemble_sources.png / .svg (worst-3 and mean gain
per source); with --save-logits also fair_ensemble_logits.npz (the members'
test logits, labels and groups).

Run (full scale, see --help for the sizes):
    PYTHONPATH=python SSLKIT_LIBRARY=build/lib/libsslkit.so.1 /usr/bin/python3 \\
        examples/reproduce/fair_ensemble.py --out docs/figures/reproduce
Tiny scale (seconds; tests/python/test_reproduce_fair.py): add --tiny.
Seeds: --seeds (default 0); per seed s the split and minority classes are
drawn from s, fixed seeds are s and member i of a source uses s + 1 + i for
the varied seed(s) ("all": s + 1001 + i, s + 2001 + i, s + 3001 + i).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402
import _train_common as T  # noqa: E402

import sslkit  # noqa: E402

SOURCES = ("init", "order", "aug", "all")
SPEC = "conv:16:3:1:1,relu,maxpool:2,conv:32:3:1:1,relu,maxpool:2,linear:10"
TINY_SPEC = "linear:32,relu,linear:10"
LRS = (1e-3, 3e-3)
K = 3                      # worst-k classes
MINORITY = 3               # under-sampled classes
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST pixel mean / std (scaled to [0, 1])

COLUMNS = ["seed", "source", "members", "accuracy", "balanced_accuracy", "worst3", "worst3_fixed", "minority",
           "majority", "ec_accuracy", "ec_worst3"]
MEMBER_COLUMNS = ["seed", "source", "member", "init_seed", "order_seed", "aug_seed", "train_s", "accuracy", "worst3",
                  "minority", "majority"]
SUMMARY_COLUMNS = ["seed", "source", "acc_1", "acc_m", "mean_gain", "worst3_1", "worst3_m", "worst3_gain",
                   "worst3_fixed_gain", "minority_1", "minority_m", "minority_gain", "ratio_worst3",
                   "ratio_minority", "m_sat", "late_mean_gain", "late_worst3_gain", "late_minority_gain"]


def imbalanced_split(labels, minority, n_major, n_minor, n_heldout, seed):
    """Disjoint training-split rows: an imbalanced training subset (n_minor
    images of each minority class, n_major of the others) and a balanced
    held-out selection set (n_heldout per class)."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for c in range(10):
        rows = rng.permutation(np.flatnonzero(labels == c))
        n = n_minor if c in minority else n_major
        if n + n_heldout > rows.size:
            raise ValueError(f"class {c}: {n} + {n_heldout} rows asked, {rows.size} exist")
        train.append(rows[:n])
        held.append(rows[n:n + n_heldout])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))


def pixels(ds, idx):
    """Normalised images (n, 1, 28, 28) float32 of the rows idx of ds."""
    x = np.stack([ds[int(i)][:, :, 0] for i in idx]).astype(np.float32) / 255.0
    return ((x - MEAN) / STD)[:, None]


def augment(x, rng, shift):
    """A random shift in [-shift, shift]^2 (zero = background fill) and a
    horizontal flip with probability 1/2, drawn per image: row i of the draw
    belongs to image i whatever the mini-batch order."""
    n = x.shape[0]
    dy, dx = rng.integers(-shift, shift + 1, size=(2, n))
    flip = rng.random(n) < 0.5
    bg = np.float32(-MEAN / STD)
    pad = np.pad(x[:, 0], ((0, 0), (shift, shift), (shift, shift)), constant_values=bg)
    iy = (np.arange(28)[None, :] + shift - dy[:, None])[:, :, None]
    ix = (np.arange(28)[None, :] + shift - dx[:, None])[:, None, :]
    out = pad[np.arange(n)[:, None, None], iy, ix]
    out[flip] = out[flip, :, ::-1]
    return np.ascontiguousarray(out[:, None])


def member_seeds(source, i, s):
    """(init, order, aug) seeds of member i of a source, base seed s."""
    v = s + 1 + i
    return {"init": (v, s, s), "order": (s, v, s), "aug": (s, s, v),
            "all": (s + 1001 + i, s + 2001 + i, s + 3001 + i)}[source]


def train_member(x, y, seeds, a, lr):
    """One classifier trained on (x, y); seeds = (init, order, aug)."""
    init, order, aug = seeds
    model = sslkit.Model.from_spec(a.spec, (1, 28, 28), seed=init)
    opt = sslkit.Optimizer("adamw", model, lr=lr, weight_decay=a.wd)
    r_order, r_aug = np.random.default_rng(order), np.random.default_rng(aug)
    for _ in range(a.epochs):
        xa = augment(x, r_aug, a.shift) if a.shift > 0 else x
        C.epoch(model, opt, xa, y, r_order.permutation(x.shape[0]), a.batch)
    return model


def logits_of(model, x, batch=2000):
    return np.concatenate([model.forward(x[i:i + batch]) for i in range(0, x.shape[0], batch)]).astype(np.float32)


def rotations(m, seed):
    """m member orders: the rotations of one random permutation (each member
    comes first once)."""
    p = np.random.default_rng(seed).permutation(m)
    return [np.roll(p, -r) for r in range(m)]


def curves(logits, y, groups, fixed, orders):
    """Metrics of ensembles of 1..M members averaged over the given orders."""
    m = len(logits)
    keys = ("accuracy", "balanced_accuracy", "worst3", "worst3_fixed", "minority", "majority")
    out = {k: np.zeros(m) for k in keys}
    for p in orders:
        for j in range(1, m + 1):
            pred, _ = sslkit.ensemble_predict([logits[t] for t in p[:j]], combine="prob")
            r = sslkit.accuracy_report(pred, y, groups=groups, k=K, num_classes=10)
            rf = sslkit.accuracy_report(pred, y, k=K, num_classes=10, class_set=(fixed, fixed))
            vals = (r["accuracy"], r["balanced_accuracy"], r["worst_k"], rf["worst_k"], r["group_accuracy"][1],
                    r["group_accuracy"][0])
            for k, v in zip(keys, vals):
                out[k][j - 1] += v / len(orders)
    return out


def summarise(seed, source, cv):
    """Gains from 1 to M members, their ratios and the gains after the mean
    has reached 90% of its total gain (size m_sat)."""
    acc, w3, mi = cv["accuracy"], cv["worst3"], cv["minority"]
    gain = acc[-1] - acc[0]
    reached = np.flatnonzero(acc - acc[0] >= 0.9 * gain) if gain > 0 else np.array([acc.size - 1])
    ms = int(reached[0])

    def ratio(g):
        return float(g / gain) if gain > 0 else float("nan")
    return dict(seed=seed, source=source, acc_1=acc[0], acc_m=acc[-1], mean_gain=gain, worst3_1=w3[0],
                worst3_m=w3[-1], worst3_gain=w3[-1] - w3[0], worst3_fixed_gain=cv["worst3_fixed"][-1] -
                cv["worst3_fixed"][0], minority_1=mi[0], minority_m=mi[-1], minority_gain=mi[-1] - mi[0],
                ratio_worst3=ratio(w3[-1] - w3[0]), ratio_minority=ratio(mi[-1] - mi[0]), m_sat=ms + 1,
                late_mean_gain=acc[-1] - acc[ms], late_worst3_gain=w3[-1] - w3[ms], late_minority_gain=mi[-1] - mi[ms])


def run_seed(s, a, train_ds, y_train, test_ds, y_test_all, log):
    minority = np.sort(np.random.default_rng(s).choice(10, MINORITY, replace=False))
    tr_i, ho_i = imbalanced_split(y_train, set(minority.tolist()), a.n_major, a.n_minor, a.n_heldout, s)
    te_i = np.sort(np.random.default_rng(s + 1).permutation(y_test_all.size)[:a.n_test])
    x, y = pixels(train_ds, tr_i), y_train[tr_i].astype(np.int64)
    x_ho, y_ho = pixels(train_ds, ho_i), y_train[ho_i]
    x_te, y_te = pixels(test_ds, te_i), y_test_all[te_i]
    groups = np.isin(y_te, minority).astype(np.int32)  # 1 = minority group

    # learning rate and fixed worst-3 classes on the held-out training rows
    best = None
    for lr in a.lrs:
        mdl = train_member(x, y, (s, s, s), a, lr)
        rep = sslkit.accuracy_report(logits_of(mdl, x_ho), y_ho, k=K, num_classes=10)
        log(f"  seed {s} lr {lr:g}: held-out accuracy {rep['accuracy']:.4f}")
        if best is None or rep["accuracy"] > best[1]["accuracy"]:
            best = (lr, rep)
    lr, ho_rep = best
    fixed = np.asarray(ho_rep["worst_classes"], dtype=np.int32)

    rows, members, summary, logits_all = [], [], [], []
    for source in SOURCES:
        logits = []
        for i in range(a.members):
            seeds = member_seeds(source, i, s)
            t0 = time.perf_counter()
            mdl = train_member(x, y, seeds, a, lr)
            secs = time.perf_counter() - t0
            lg = logits_of(mdl, x_te)
            logits.append(lg)
            r = sslkit.accuracy_report(lg, y_te, groups=groups, k=K, num_classes=10)
            members.append(dict(seed=s, source=source, member=i, init_seed=seeds[0], order_seed=seeds[1],
                                aug_seed=seeds[2], train_s=secs, accuracy=r["accuracy"], worst3=r["worst_k"],
                                minority=r["group_accuracy"][1], majority=r["group_accuracy"][0]))
            log(f"  seed {s} {source} member {i}: accuracy {r['accuracy']:.4f} worst-3 {r['worst_k']:.4f} "
                f"minority {r['group_accuracy'][1]:.4f} ({secs:.1f} s)")
        cv = curves(logits, y_te, groups, fixed, rotations(a.members, s + 7))
        ec = sslkit.ensemble_curve(logits, y_te, k=K, combine="prob", orders=a.orders, seed=s)
        for j in range(a.members):
            rows.append(dict(seed=s, source=source, members=j + 1, **{k: float(v[j]) for k, v in cv.items()},
                             ec_accuracy=float(ec["accuracy"][j]), ec_worst3=float(ec["worst_k"][j])))
        summary.append(summarise(s, source, cv))
        logits_all.append(np.stack(logits))
    info = dict(seed=s, minority=minority, lr=lr, fixed=fixed, heldout_accuracy=ho_rep["accuracy"],
                n_train=tr_i.size, y_test=y_te, groups=groups, logits=np.stack(logits_all))
    return rows, members, summary, info


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="reproduce-out")
    p.add_argument("--tiny", action="store_true", help="seconds: 3 members, an MLP, tiny sets, 1 epoch")
    p.add_argument("--n-major", type=int, default=1000, help="training images per majority class")
    p.add_argument("--n-minor", type=int, default=100, help="training images per minority class")
    p.add_argument("--n-heldout", type=int, default=200, help="held-out selection images per class (train split)")
    p.add_argument("--n-test", type=int, default=10000, help="test images (balanced split)")
    p.add_argument("--members", type=int, default=10, help="members per randomness source")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--wd", type=float, default=1e-4)
    p.add_argument("--shift", type=int, default=2, help="augmentation: largest shift in pixels")
    p.add_argument("--lrs", type=float, nargs="+", default=list(LRS), help="candidates chosen on the held-out set")
    p.add_argument("--spec", default=SPEC, help="the classifier (sslkit model spec, input 1 x 28 x 28)")
    p.add_argument("--orders", type=int, default=20, help="random member orders of sslkit.ensemble_curve")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    # one library thread: the members are too small for a second one to pay, and on a shared
    # machine two spinning threads cost 5-7x the CPU of one (measured 5.3 vs 0.8 s per epoch)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--save-logits", action="store_true", help="also write fair_ensemble_logits.npz")
    a = p.parse_args(argv)
    if a.tiny:
        a.n_major, a.n_minor, a.n_heldout, a.n_test, a.members, a.epochs = 60, 10, 10, 300, 3, 1
        a.batch, a.spec, a.orders, a.lrs = 32, TINY_SPEC, 4, a.lrs[:2]
    sslkit.set_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    commit = C.commit()

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    train_ds, y_train = T.fmnist("train")
    test_ds, y_test = T.fmnist("test")
    rows, members, summary, infos = [], [], [], []
    for s in a.seeds:
        r, m, su, info = run_seed(s, a, train_ds, y_train, test_ds, y_test, log)
        rows += r
        members += m
        summary += su
        infos.append(info)

    i0 = infos[0]
    head = (f"FAIR-Ensemble at commit {commit}: {a.members} members per randomness source, model `{a.spec}`, "
            f"{a.epochs} epochs, batch {a.batch}, AdamW wd {a.wd}, shift {a.shift} + flip; training subset "
            f"{a.n_major} per majority class, {a.n_minor} per minority class ({i0['n_train']} images); "
            f"held-out {a.n_heldout} per class; test {a.n_test}; seeds {a.seeds}. " +
            " ".join(f"Seed {i['seed']}: minority classes {i['minority'].tolist()}, lr {i['lr']:g} (held-out "
                     f"accuracy {i['heldout_accuracy']:.4f}), fixed worst-3 classes {i['fixed'].tolist()}."
                     for i in infos))
    C.write_table(os.path.join(a.out, "fair_ensemble"), rows, COLUMNS, head)
    C.write_table(os.path.join(a.out, "fair_ensemble_members"), members, MEMBER_COLUMNS, head)
    C.write_table(os.path.join(a.out, "fair_ensemble_summary"), summary, SUMMARY_COLUMNS, head)
    if a.save_logits:
        np.savez_compressed(os.path.join(a.out, "fair_ensemble_logits.npz"), logits=i0["logits"],
                            labels=i0["y_test"], groups=i0["groups"], fixed=i0["fixed"], sources=np.array(SOURCES),
                            seed=i0["seed"])

    s0 = a.seeds[0]
    sel = {src: [r for r in rows if r["seed"] == s0 and r["source"] == src] for src in SOURCES}
    x = np.arange(1, a.members + 1, dtype=np.float64)

    def gain(src, key):
        v = np.array([r[key] for r in sel[src]])
        return 100.0 * (v - v[0])
    C.plot_curves(os.path.join(a.out, "fair_ensemble"), "Gain over one member (source all)", "members",
                  "gain (accuracy points)", x, [gain("all", k) for k in ("accuracy", "worst3", "minority")],
                  ["mean accuracy", "worst-3 classes", "minority group"])
    C.plot_curves(os.path.join(a.out, "fair_ensemble_sources"), "Gain over one member per randomness source",
                  "members", "gain (accuracy points)", x,
                  [gain(src, "worst3") for src in SOURCES] + [gain(src, "accuracy") for src in SOURCES],
                  [f"worst-3, {src}" for src in SOURCES] + [f"mean, {src}" for src in SOURCES])
    return rows, members, summary, infos


if __name__ == "__main__":
    _, _, summ, _ = main()
    for r in summ:
        print(r)
