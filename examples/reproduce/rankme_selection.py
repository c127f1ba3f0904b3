"""Reproduction 1: RankMe selects hyper-parameters almost as well as labels.

The paper: Garrido, Balestriero, Najman, LeCun, "RankMe: Assessing the
Downstream Performance of Pretrained Self-Supervised Representations by Their
Rank", ICML 2023.  Claim: the effective rank of the frozen representation
(RankMe, no labels) correlates with downstream linear-probe accuracy across
hyper-parameter sweeps (covariance weight, temperature, projector width, lr),
so choosing the run with the largest RankMe loses little against choosing it
with labels.

Our setting: a grid of short VICReg runs on Fashion-MNIST over the covariance
weight, the projector width and the lr (VICReg has no temperature; the
SimCLR temperature axis of the paper is not swept here).  Each run pre-trains
on its own unlabelled images; its encoder output is then embedded for three
disjoint sets: a probe-fit set and a held-out selection set, both from the
TRAINING split, and the test split.  RankMe is computed, as in the paper,
on the projector outputs ("embeddings") of the probe-fit set (labels unused);
column rankme_repr gives it on the encoder output, the probed representation.
The probe is fitted on the probe-fit set;
its accuracy on the held-out selection set is the label-based ("oracle")
criterion; the test set gives only the final reported accuracy.  Reported:
Spearman and Kendall tau-b of RankMe vs held-out probe accuracy (and vs the
test accuracy, for reference), and the test accuracy of the RankMe-selected
run vs the oracle-selected one.

Writes rankme_selection.csv / .md (one row per run), rankme_selection_axes.csv /
.md (per-axis selection, as in the paper: each axis picked by RankMe and by
the held-out probe with the other axes fixed),
rankme_selection_summary.csv / .md and rankme_selection.png / .svg (probe
accuracy of each run, runs sorted by RankMe).

Run (full scale, see --help for the sizes):
    PYTHONPATH=python SSLKIT_LIBRARY=build/lib/libsslkit.so.1 /usr/bin/python3 \\
        examples/reproduce/rankme_selection.py --out docs/figures/reproduce
Tiny scale (seconds; tests/python/test_reproduce_train.py): add --tiny.
Seeds: --seed (default 0) draws the splits; run r uses trainer seed and
init_seed = seed + r.
"""
import argparse
import itertools
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402
import _train_common as T  # noqa: E402

import sslkit  # noqa: E402

COV = (0.04, 1.0, 10.0)      # VICReg covariance weight nu (default 1)
WIDTH = (64, 512)            # projector hidden = output width
LR = (5e-4, 2e-3)            # base lr (preset default 2e-3)

COLUMNS = ["run", "cov_coeff", "proj_width", "lr", "seed", "train_s", "loss", "rankme", "rankme_repr",
           "heldout_probe", "heldout_knn", "test_probe", "test_knn"]
CRITERIA = ("rankme", "rankme_repr")  # the paper's (projector output), and on the encoder output


def grid():
    return [dict(cov_coeff=c, proj_width=w, lr=lr) for c, w, lr in itertools.product(COV, WIDTH, LR)]


def summarise(rows, crit="rankme"):
    """Rank correlations of one criterion (a column of rows) with the probe
    accuracies, and the selected runs' test accuracy."""
    rk = [r[crit] for r in rows]
    ho = [r["heldout_probe"] for r in rows]
    te = [r["test_probe"] for r in rows]
    by_rank = int(np.argmax(rk))
    by_label = int(np.argmax(ho))
    return dict(criterion=crit, runs=len(rows), spearman_heldout=T.spearman(rk, ho),
                kendall_heldout=T.kendall(rk, ho), spearman_test=T.spearman(rk, te), kendall_test=T.kendall(rk, te),
                rankme_pick=rows[by_rank]["run"], rankme_pick_test=te[by_rank],
                oracle_pick=rows[by_label]["run"], oracle_pick_test=te[by_label],
                gap=te[by_label] - te[by_rank], best_test=max(te), median_test=float(np.median(te)))


AXES = ("cov_coeff", "proj_width", "lr")


def per_axis(rows, crit="rankme"):
    """The paper's per-hyper-parameter selection: for each axis and each setting
    of the other axes present in rows, pick the axis value by the criterion
    and by held-out probe accuracy; mean test accuracy of the picks over those
    settings."""
    out = []
    for ax in AXES:
        groups = {}
        for r in rows:
            groups.setdefault(tuple(r[o] for o in AXES if o != ax), []).append(r)
        groups = [g for g in groups.values() if len(g) > 1]
        if not groups:
            continue
        rk = [max(g, key=lambda r: r[crit])["test_probe"] for g in groups]
        orc = [max(g, key=lambda r: r["heldout_probe"])["test_probe"] for g in groups]
        agree = sum(max(g, key=lambda r: r[crit]) is max(g, key=lambda r: r["heldout_probe"]) for g in groups)
        out.append(dict(criterion=crit, axis=ax, groups=len(groups), same_pick=agree, rankme_test=float(np.mean(rk)),
                        oracle_test=float(np.mean(orc)), gap=float(np.mean(orc) - np.mean(rk))))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="reproduce-out")
    p.add_argument("--tiny", action="store_true", help="seconds: 4 runs, tiny sets, 1 epoch")
    p.add_argument("--n-pretrain", type=int, default=24576, help="unlabelled pre-training images per run")
    p.add_argument("--n-fit", type=int, default=5000, help="labelled probe-fit images (training split)")
    p.add_argument("--n-heldout", type=int, default=5000, help="held-out selection images (training split)")
    p.add_argument("--n-test", type=int, default=10000, help="test images for the final accuracy")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--runs", type=int, default=0, help="first N grid points only (0: all 12)")
    p.add_argument("--probe-iter", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.tiny:
        a.n_pretrain, a.n_fit, a.n_heldout, a.n_test, a.epochs, a.batch, a.probe_iter = 256, 200, 200, 200, 1, 64, 50
        a.runs = a.runs or 4
    sslkit.set_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    commit = C.commit()

    train, y_train = T.fmnist("train")
    test, y_test = T.fmnist("test")
    pre_i, fit_i, ho_i = T.disjoint_splits(y_train, (a.n_pretrain, a.n_fit, a.n_heldout), a.seed)
    te_i = np.sort(np.random.default_rng(a.seed + 1).permutation(y_test.size)[:a.n_test])
    pre, fit, ho, te = train.subset(pre_i), train.subset(fit_i), train.subset(ho_i), test.subset(te_i)

    configs = grid()[:a.runs or None]
    rows = []
    for r, cfg in enumerate(configs):
        w = cfg["proj_width"]
        tr, secs, loss = T.pretrain("vicreg", pre, a.epochs, a.batch, a.seed + r,
                                    projector=f"linear:{w},bn,relu,linear:{w}", lr=cfg["lr"],
                                    cov_coeff=cfg["cov_coeff"])
        z_fit, z_ho, z_te = tr.embed(fit), tr.embed(ho), tr.embed(te)
        rank = sslkit.rankme(T.project(tr, z_fit))  # the paper's: projector outputs, labels unused
        rank_repr = sslkit.rankme(z_fit)
        (ho_lp, ho_knn), (te_lp, te_knn) = T.probe(z_fit, y_train[fit_i], [(z_ho, y_train[ho_i]), (z_te, y_test[te_i])],
                                                   a.probe_iter)
        rows.append(dict(run=r, cov_coeff=cfg["cov_coeff"], proj_width=w, lr=cfg["lr"], seed=a.seed + r,
                         train_s=secs, loss=loss, rankme=float(rank), rankme_repr=float(rank_repr), heldout_probe=ho_lp, heldout_knn=ho_knn,
                         test_probe=te_lp, test_knn=te_knn))
        print(f"  run {r}: {cfg} rankme {rank:.1f} / {rank_repr:.1f} held-out {ho_lp:.4f} test {te_lp:.4f} ({secs:.1f} s)",
              file=sys.stderr, flush=True)

    head = (f"VICReg sweep at commit {commit}: {a.n_pretrain} pre-training images, {a.epochs} epochs, batch "
            f"{a.batch}; probe fit on {a.n_fit}, selection on {a.n_heldout} held-out training images, test on "
            f"{a.n_test}; split seed {a.seed}.")
    C.write_table(os.path.join(a.out, "rankme_selection"), rows, COLUMNS, head)
    summs = [summarise(rows, c) for c in CRITERIA]
    summ = summs[0]
    C.write_table(os.path.join(a.out, "rankme_selection_summary"), summs, list(summ), head)
    axes = [row for c in CRITERIA for row in per_axis(rows, c)]
    if axes:
        C.write_table(os.path.join(a.out, "rankme_selection_axes"), axes,
                      ["criterion", "axis", "groups", "same_pick", "rankme_test", "oracle_test", "gap"], head)

    order = np.argsort([r["rankme"] for r in rows])
    x = np.array([rows[i]["rankme"] for i in order])
    C.plot_curves(os.path.join(a.out, "rankme_selection"), "VICReg runs sorted by RankMe", "RankMe",
                  "top-1 accuracy", x, [[rows[i]["heldout_probe"] for i in order],
                                        [rows[i]["test_probe"] for i in order]],
                  ["held-out probe (train split)", "test probe"])
    return rows, summ


if __name__ == "__main__":
    _, s = main()
    print(s)
