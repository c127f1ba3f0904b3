"""Reproduction 5: entropy estimators vs VICReg (information-theoretic VICReg).

The paper: Shwartz-Ziv, Balestriero, Kawaguchi, Rudner, LeCun, "An
Information-Theoretic Perspective on Variance-Invariance-Covariance
Regularization", NeurIPS 2023.  Claim: VICReg's variance + covariance terms
act as an entropy (information) term; replacing them with explicit entropy
estimators -- a LogDet (Gaussian) estimator and a pairwise-distance estimator
of the entropy of a mixture -- gives features at least as good as VICReg's.

Our setting: the `vicreg`, `vicreg_logdet` and `vicreg_pairdist` presets
(same encoder, projector, augmentations, optimizer, lr and batch; only the
loss differs, each with the library's default weights) pre-train on the same
unlabelled Fashion-MNIST subset for the same number of epochs (equal budget
in steps) for each seed; the frozen encoder is evaluated by a linear probe
and kNN fitted on a labelled subset of the training split and tested on the
test split.  No hyper-parameter is tuned.

Writes entropy_estimators.csv / .md (one row per method and seed),
entropy_estimators_summary.csv / .md (mean, std, min, max over seeds) and
entropy_estimators.png / .svg (probe accuracy per seed, one curve per method).

Run (full scale, see --help):
    PYTHONPATH=python SSLKIT_LIBRARY=build/lib/libsslkit.so.1 /usr/bin/python3 \\
        examples/reproduce/entropy_estimators.py --out docs/figures/reproduce
Tiny scale (seconds; tests/python/test_reproduce_train.py): add --tiny.
Seeds: --seeds (default 0 1 2) seed the trainer; --data-seed (default 0)
draws the subsets.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402
import _train_common as T  # noqa: E402

import sslkit  # noqa: E402

METHODS = ("vicreg", "vicreg_logdet", "vicreg_pairdist")
COLUMNS = ["method", "seed", "train_s", "loss", "rankme", "test_probe", "test_knn"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="reproduce-out")
    p.add_argument("--tiny", action="store_true", help="seconds: tiny sets, 1 epoch, two seeds")
    p.add_argument("--n-pretrain", type=int, default=40960, help="unlabelled pre-training images")
    p.add_argument("--n-fit", type=int, default=5000, help="labelled probe-fit images (training split)")
    p.add_argument("--n-test", type=int, default=10000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--probe-iter", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    if a.tiny:
        a.n_pretrain, a.n_fit, a.n_test, a.epochs, a.batch, a.probe_iter = 256, 200, 200, 1, 64, 50
        a.seeds = a.seeds[:2]
    sslkit.set_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    commit = C.commit()

    train, y_train = T.fmnist("train")
    test, y_test = T.fmnist("test")
    pre_i, fit_i = T.disjoint_splits(y_train, (a.n_pretrain, a.n_fit), a.data_seed)
    te_i = np.sort(np.random.default_rng(a.data_seed + 1).permutation(y_test.size)[:a.n_test])
    pre, fit, te = train.subset(pre_i), train.subset(fit_i), test.subset(te_i)

    rows = []
    for method in METHODS:
        for s in a.seeds:
            tr, secs, loss = T.pretrain(method, pre, a.epochs, a.batch, s)
            z_fit, z_te = tr.embed(fit), tr.embed(te)
            [(lp, knn)] = T.probe(z_fit, y_train[fit_i], [(z_te, y_test[te_i])], a.probe_iter)
            rows.append(dict(method=method, seed=s, train_s=secs, loss=loss, rankme=float(sslkit.rankme(z_fit)),
                             test_probe=lp, test_knn=knn))
            print(f"  {method} seed {s}: probe {lp:.4f} knn {knn:.4f} ({secs:.1f} s)", file=sys.stderr, flush=True)

    head = (f"Equal budget at commit {commit}: {a.n_pretrain} pre-training images, {a.epochs} epochs, batch "
            f"{a.batch}, preset defaults; probe / kNN fit on {a.n_fit} training images, test on {a.n_test}; "
            f"seeds {a.seeds}, data seed {a.data_seed}.")
    C.write_table(os.path.join(a.out, "entropy_estimators"), rows, COLUMNS, head)
    summ = []
    for method in METHODS:
        mine = [r for r in rows if r["method"] == method]
        for col in ("test_probe", "test_knn", "train_s"):
            m, sd, lo, hi = T.mean_spread([r[col] for r in mine])
            summ.append(dict(method=method, metric=col, seeds=len(mine), mean=m, std=sd, min=lo, max=hi))
    C.write_table(os.path.join(a.out, "entropy_estimators_summary"), summ,
                  ["method", "metric", "seeds", "mean", "std", "min", "max"], head)
    C.plot_curves(os.path.join(a.out, "entropy_estimators"), "Linear probe per seed (equal budget)", "seed",
                  "probe top-1", np.array(a.seeds, dtype=np.float64),
                  [[r["test_probe"] for r in rows if r["method"] == m] for m in METHODS], list(METHODS))
    return rows, summ


if __name__ == "__main__":
    _, s = main()
    for r in s:
        print(r)
