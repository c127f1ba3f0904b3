"""Reproduction 3: a power-law prior helps on imbalanced data (PMSN).

The paper: Assran, Balestriero, Duval, Bordes, Misra, Bojanowski, Vincent,
Rabbat, Ballas, "The Hidden Uniform Cluster Prior in Self-Supervised
Learning", ICLR 2023.  Claim: MSN's mean-entropy maximisation (like the
volume terms of other joint-embedding methods) assumes a uniform cluster
prior, which hurts when the pre-training data are class-imbalanced; PMSN,
MSN with a power-law prior over the prototypes, learns better features on
long-tailed data.

Our setting: a long-tailed subset of the Fashion-MNIST training split whose
class sizes follow a power law, n_c = round(n_max * rank_c^-exponent) (rank
1 .. 10; which class gets which rank is a seeded permutation); the `msn`
preset (uniform prior) and the `pmsn` preset (power-law prior k^-tau,
tau = 0.25 by default) pre-train on it with equal settings, for each seed.
The frozen encoder is evaluated with a linear probe (and kNN) fitted on a
BALANCED labelled set drawn from the rest of the training split and tested
on the balanced test split; the table also gives the test accuracy of the
three head classes and the three tail classes.

Writes pmsn_longtail.csv / .md (one row per method and seed),
pmsn_longtail_summary.csv / .md (mean, std, min, max per method) and
pmsn_longtail.png / .svg (test accuracy per class, head to tail, mean over
seeds).

Run (full scale, see --help):
    PYTHONPATH=python SSLKIT_LIBRARY=build/lib/libsslkit.so.1 /usr/bin/python3 \\
        examples/reproduce/pmsn_longtail.py --out docs/figures/reproduce
Tiny scale (seconds; tests/python/test_reproduce_train.py): add --tiny.
Seeds: --seeds (default 0 1 2) seed the trainer (data order, augmentations,
initialisation); --data-seed (default 0) draws the subsets and the class ranks.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402
import _train_common as T  # noqa: E402

import sslkit  # noqa: E402

COLUMNS = ["method", "seed", "train_s", "loss", "rankme", "test_probe", "test_knn", "head3_probe", "tail3_probe"]


def class_sizes(n_max, exponent, n_min=1):
    """Power-law class sizes by rank: round(n_max * k^-exponent), k = 1..10."""
    return np.maximum(np.round(n_max * np.arange(1, 11, dtype=np.float64) ** -exponent), n_min).astype(int)


def long_tailed(labels, sizes, n_probe_per_class, seed):
    """(pre-training indices, balanced probe-fit indices, class of each rank):
    sizes[k] images of the class of rank k, disjoint from n_probe_per_class
    images of every class."""
    rng = np.random.default_rng(seed)
    rank_class = rng.permutation(10)
    pre, fit = [], []
    for k, c in enumerate(rank_class):
        idx = rng.permutation(np.flatnonzero(labels == c))
        if idx.size < sizes[k] + n_probe_per_class:
            raise ValueError(f"class {c} has {idx.size} images, {sizes[k] + n_probe_per_class} asked")
        pre.append(idx[:sizes[k]])
        fit.append(idx[sizes[k]:sizes[k] + n_probe_per_class])
    return np.sort(np.concatenate(pre)), np.sort(np.concatenate(fit)), rank_class


def per_class(pred, y):
    return np.array([float((pred[y == c] == c).mean()) for c in range(10)])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="reproduce-out")
    p.add_argument("--tiny", action="store_true", help="seconds: tiny sets, 1 epoch, one seed")
    p.add_argument("--n-max", type=int, default=5000, help="images of the largest class")
    p.add_argument("--exponent", type=float, default=2.0, help="power-law exponent of the class sizes")
    p.add_argument("--n-probe", type=int, default=200, help="labelled probe-fit images per class (balanced)")
    p.add_argument("--n-test", type=int, default=10000, help="test images (the balanced test split)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--tau", type=float, default=0.25, help="PMSN prior exponent (preset default 0.25)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--probe-iter", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    if a.tiny:
        a.n_max, a.n_probe, a.n_test, a.epochs, a.batch, a.probe_iter = 160, 20, 300, 1, 64, 50
        a.seeds = a.seeds[:1]
    sslkit.set_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    commit = C.commit()

    train, y_train = T.fmnist("train")
    test, y_test = T.fmnist("test")
    sizes = class_sizes(a.n_max, a.exponent)
    pre_i, fit_i, rank_class = long_tailed(y_train, sizes, a.n_probe, a.data_seed)
    te_i = np.sort(np.random.default_rng(a.data_seed + 1).permutation(y_test.size)[:a.n_test])
    pre, fit, te = train.subset(pre_i), train.subset(fit_i), test.subset(te_i)
    y_fit, y_te = y_train[fit_i], y_test[te_i]

    rows, curves = [], {}
    for method in ("msn", "pmsn"):
        curves[method] = []
        for s in a.seeds:
            extra = {"tau": a.tau} if method == "pmsn" else {}
            tr, secs, loss = T.pretrain(method, pre, a.epochs, a.batch, s, **extra)
            z_fit, z_te = tr.embed(fit), tr.embed(te)
            lp = sslkit.LinearProbe(max_iter=a.probe_iter).fit(z_fit, y_fit, 10)
            pc = per_class(lp.predict(z_te), y_te)[rank_class]  # by rank: head first
            knn = sslkit.KNN(k=20, t=0.07).fit(z_fit, y_fit, 10).evaluate(z_te, y_te)["top1"]
            curves[method].append(pc)
            rows.append(dict(method=method, seed=s, train_s=secs, loss=loss, rankme=float(sslkit.rankme(z_fit)),
                             test_probe=float(lp.evaluate(z_te, y_te)), test_knn=float(knn),
                             head3_probe=float(pc[:3].mean()), tail3_probe=float(pc[-3:].mean())))
            print(f"  {method} seed {s}: probe {rows[-1]['test_probe']:.4f} tail3 {rows[-1]['tail3_probe']:.4f} "
                  f"({secs:.1f} s)", file=sys.stderr, flush=True)

    head = (f"Long-tailed Fashion-MNIST at commit {commit}: class sizes n_max * k^-{a.exponent} by rank = "
            f"{', '.join(map(str, sizes))} ({sizes.sum()} images; classes by rank {list(map(int, rank_class))}); "
            f"{a.epochs} epochs, batch {a.batch}; PMSN tau {a.tau}; balanced probe fit {a.n_probe} per class, "
            f"test {a.n_test}; seeds {a.seeds}, data seed {a.data_seed}.")
    C.write_table(os.path.join(a.out, "pmsn_longtail"), rows, COLUMNS, head)
    summ = []
    for method in ("msn", "pmsn"):
        mine = [r for r in rows if r["method"] == method]
        for col in ("test_probe", "test_knn", "tail3_probe"):
            m, sd, lo, hi = T.mean_spread([r[col] for r in mine])
            summ.append(dict(method=method, metric=col, seeds=len(mine), mean=m, std=sd, min=lo, max=hi))
    C.write_table(os.path.join(a.out, "pmsn_longtail_summary"), summ,
                  ["method", "metric", "seeds", "mean", "std", "min", "max"], head)
    C.plot_curves(os.path.join(a.out, "pmsn_longtail"), "Test accuracy per class, head to tail",
                  "class rank (1 = largest)", "probe top-1", np.arange(1, 11),
                  [np.mean(curves["msn"], axis=0), np.mean(curves["pmsn"], axis=0)],
                  ["MSN (uniform prior)", f"PMSN (power law, tau {a.tau})"])
    return rows, summ


if __name__ == "__main__":
    _, s = main()
    for r in s:
        print(r)
