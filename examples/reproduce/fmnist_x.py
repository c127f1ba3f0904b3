"""Reproduction 6: ImageNet-X's finding at small scale (Fashion-MNIST-X).

The paper: Idrissi, Bouchacourt, Balestriero, Evtimov, Hazirbas, Ballas,
Vincent, Drozdzal, Lopez-Paz, Ibrahim, "ImageNet-X: Understanding Model
Mistakes with Factor of Variation Annotations", ICLR 2023.  Claim: models
fail in consistent ways across the annotated factors (pose, background,
subject size, lighting, occlusion, ...), measured by each factor's error
ratio (error on the images showing the factor / overall error); and data
augmentation has spill-over effects: strong random-resized cropping hurts
robustness on smaller objects.

Our setting: a Fashion-MNIST-X test set built from the TEST split with one
known factor per image (examples/reproduce/_fmnist_x.py: none, smaller,
larger, pose, darker, brighter, partial_view, background; equal groups).
Each SSL method pre-trains on the same unlabelled subset of the training
split, with the random-resized-crop area range (scale_min, 1) set to strong
(0.08, the ImageNet default), the library's default (0.25) and weak (0.6);
its frozen encoder gets a linear probe fitted on CLEAN training-split images
(disjoint from the pre-training subset; the probe's L2 is chosen on a
held-out part of them, never on the test set).  Per-factor error ratios of
the probe's predictions come from sslkit.factor_error_ratios.

Writes fmnist_x.csv / .md (one row per method, crop and seed: accuracy on
Fashion-MNIST-X and on the same images clean, error ratio per factor),
fmnist_x_summary.csv / .md (mean, std, min, max over seeds per method and
crop, and the strong - weak differences), fmnist_x.png / .svg (error ratio
per factor, strong vs weak cropping per method, mean over seeds) and
fmnist_x_examples.png (example images: one row per factor).

Run (full scale, see --help):
    PYTHONPATH=python SSLKIT_LIBRARY=build/lib/libsslkit.so.1 /usr/bin/python3 \\
        examples/reproduce/fmnist_x.py --out docs/figures/reproduce
Tiny scale (seconds; tests/python/test_reproduce_fmnist_x.py): add --tiny.
Seeds: --seeds (default 0 1 2) seed the trainer (init, order, augmentations);
--data-seed (default 0) draws the subsets, the factor assignment and the
transforms' parameters.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402
import _fmnist_x as X  # noqa: E402
import _train_common as T  # noqa: E402

import sslkit  # noqa: E402

METHODS = ("vicreg", "simclr", "barlow_twins")
CROPS = (("strong", 0.08), ("default", 0.25), ("weak", 0.6))

COLUMNS = (["method", "crop", "scale_min", "seed", "train_s", "loss", "clean_acc", "acc"]
           + [f"er_{f}" for f in X.FACTORS])


def ratios(correct, onehot):
    """{factor: error ratio} by the library (sslkit.factor_error_ratios)."""
    r = sslkit.factor_error_ratios(correct, onehot, names=X.FACTORS)
    return r["accuracy"], {f: float(r["factors"][f]["error_ratio"]) for f in X.FACTORS}


def summarise(rows, methods, crops):
    """Long table: per (method, crop) the mean / std / min / max over seeds of
    the accuracies and error ratios; per method the strong - weak difference
    of each error ratio (paired by seed)."""
    metrics = ["acc", "clean_acc"] + [f"er_{f}" for f in X.FACTORS]
    out = []
    for m in methods:
        for label, _ in crops:
            mine = [r for r in rows if r["method"] == m and r["crop"] == label]
            for col in metrics:
                mean, sd, lo, hi = T.mean_spread([r[col] for r in mine])
                out.append(dict(method=m, crop=label, metric=col, seeds=len(mine), mean=mean, std=sd, min=lo, max=hi))
        labels = [c for c, _ in crops]
        if "strong" in labels and "weak" in labels:
            st = {r["seed"]: r for r in rows if r["method"] == m and r["crop"] == "strong"}
            wk = {r["seed"]: r for r in rows if r["method"] == m and r["crop"] == "weak"}
            seeds = sorted(set(st) & set(wk))
            for col in metrics:
                mean, sd, lo, hi = T.mean_spread([st[s][col] - wk[s][col] for s in seeds])
                out.append(dict(method=m, crop="strong-weak", metric=col, seeds=len(seeds), mean=mean, std=sd,
                                min=lo, max=hi))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="reproduce-out")
    p.add_argument("--tiny", action="store_true", help="seconds: tiny sets, one method, strong and weak crops")
    p.add_argument("--methods", nargs="+", default=list(METHODS))
    p.add_argument("--crop-strong", type=float, default=0.08, help="smallest crop area, strong cropping")
    p.add_argument("--crop-weak", type=float, default=0.6, help="smallest crop area, weak cropping")
    p.add_argument("--n-pretrain", type=int, default=8192, help="unlabelled pre-training images (training split)")
    p.add_argument("--n-fit", type=int, default=5000, help="clean labelled probe-fit images (training split)")
    p.add_argument("--n-test", type=int, default=10000, help="test images turned into Fashion-MNIST-X")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--probe-iter", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    crops = [("strong", a.crop_strong), ("default", 0.25), ("weak", a.crop_weak)]
    if a.tiny:
        a.n_pretrain, a.n_fit, a.n_test, a.epochs, a.batch, a.probe_iter = 256, 300, 400, 1, 64, 50
        a.methods, a.seeds = a.methods[:1], a.seeds[:1]
        crops = [crops[0], crops[2]]
    sslkit.set_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    commit = C.commit()

    train, y_train = T.fmnist("train")
    test, y_test = T.fmnist("test")
    pre_i, fit_i = T.disjoint_splits(y_train, (a.n_pretrain, a.n_fit), a.data_seed)
    te_i = np.sort(np.random.default_rng(a.data_seed + 1).permutation(y_test.size)[:a.n_test])
    clean = np.stack([test[int(i)][..., 0] for i in te_i])
    y_te = y_test[te_i]
    xs, fidx, onehot = X.build(clean, a.data_seed)
    pre, fit = train.subset(pre_i), train.subset(fit_i)

    rows, correct = [], {}
    for m in a.methods:
        for label, smin in crops:
            for s in a.seeds:
                tr, secs, loss = T.pretrain(m, pre, a.epochs, a.batch, s, aug_scale_min=smin)
                lp = sslkit.LinearProbe(max_iter=a.probe_iter).fit(tr.embed(fit), y_train[fit_i], 10)
                ok = lp.predict(tr.embed((xs, y_te))) == y_te
                clean_acc = float((lp.predict(tr.embed((clean, y_te))) == y_te).mean())
                acc, er = ratios(ok, onehot)
                correct[(m, label, s)] = ok
                rows.append(dict(method=m, crop=label, scale_min=smin, seed=s, train_s=secs, loss=loss,
                                 clean_acc=clean_acc, acc=acc, **{f"er_{f}": er[f] for f in X.FACTORS}))
                print(f"  {m} {label} ({smin}) seed {s}: acc {acc:.4f} clean {clean_acc:.4f} er_smaller "
                      f"{er['smaller']:.3f} ({secs:.1f} s)", file=sys.stderr, flush=True)

    head = (f"Fashion-MNIST-X at commit {commit}: {a.n_test} test images, one factor each "
            f"({', '.join(X.FACTORS)}; data seed {a.data_seed}); pre-training on {a.n_pretrain} training images, "
            f"{a.epochs} epochs, batch {a.batch}; crop area (scale_min, 1); linear probe fitted on {a.n_fit} clean "
            f"training images; seeds {a.seeds}. er_f = error on factor f / overall error.")
    C.write_table(os.path.join(a.out, "fmnist_x"), rows, COLUMNS, head)
    summ = summarise(rows, a.methods, crops)
    C.write_table(os.path.join(a.out, "fmnist_x_summary"), summ,
                  ["method", "crop", "metric", "seeds", "mean", "std", "min", "max"], head)

    ys, names = [], []
    for m in a.methods:
        for label in ("strong", "weak"):
            mine = [r for r in rows if r["method"] == m and r["crop"] == label]
            ys.append([np.mean([r[f"er_{f}"] for r in mine]) for f in X.FACTORS])
            names.append(f"{m} {label} crop")
    C.plot_curves(os.path.join(a.out, "fmnist_x"), "Fashion-MNIST-X error ratio per factor",
                  "factor: " + ", ".join(f"{k + 1} {f}" for k, f in enumerate(X.FACTORS)),
                  "error ratio (factor error / overall error)", np.arange(1, len(X.FACTORS) + 1), ys, names)
    X.write_png_gray(os.path.join(a.out, "fmnist_x_examples.png"), X.example_grid(clean[:8], a.data_seed))
    return rows, summ, dict(correct=correct, factors=fidx, onehot=onehot, labels=y_te, images=xs, clean=clean)


if __name__ == "__main__":
    _, s, _ = main()
    for r in s:
        if r["metric"] in ("acc", "er_smaller", "er_larger"):
            print(r)
