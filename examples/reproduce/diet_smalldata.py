"""Reproduction 4: DIET is competitive without pairs or projector (DIET).

The paper: Ibrahim, Klindt, Balestriero, "Occam's Razor for Self Supervised
Learning: What is Sufficient to Learn Good Representations?" (2024), after
Balestriero, "Unsupervised Learning on a DIET: Datum IndEx as Target Free of
Self-Supervision, Reconstruction, Projector Head" (2023).  Claim: predicting
each image's index with a linear head over the encoder (one view, no pairs,
no projector, no teacher) gives representations competitive with SimCLR /
VICReg on small and medium pre-training sets.

Our setting: `diet`, `vicreg` and `simclr` presets (same encoder, light
augmentations, AdamW at the same lr, batch 256 per view) pre-train on nested
class-balanced subsets of the Fashion-MNIST training split (default 1000,
4000, 16000 images and all 60000) for the SAME WALL-CLOCK: a budget of
seconds per run is turned into a per-method step count by a short timed
calibration run on the same subset (DIET's step cost grows with its head,
N x 512), and that step count is the whole schedule (warm-up 10% of the
steps, then cosine), so every run ends its schedule.  At the full set DIET
is also run the library's way, on the preset's 4096-image subset of it
("diet_sub4096").  The frozen encoder is evaluated by a linear probe (L2
chosen on a held-out tenth of the fit set) and kNN (k = 20) fitted on a
fixed class-balanced labelled set of the training split, the same for every
run, and tested on the test split; the same encoder at its initialisation
("random_init") is the floor.  No hyper-parameter is tuned.

Writes diet_smalldata.csv / .md (one row per method, size and seed),
diet_smalldata_summary.csv / .md (mean, std, min, max over seeds) and
diet_smalldata.png / .svg (probe accuracy vs subset size, mean over seeds;
diet_smalldata_knn.png / .svg the same for kNN).

Run (full scale, ~16 min on the idle 2-core machine: 60 s of training per run, see --help):
    PYTHONPATH=python SSLKIT_LIBRARY=build/lib/libsslkit.so.1 /usr/bin/python3 \\
        examples/reproduce/diet_smalldata.py --out docs/figures/reproduce
Tiny scale (seconds; tests/python/test_reproduce_diet.py): add --tiny.
Seeds: --seeds (default 0) seed the trainer (order, augmentations, init);
--data-seed (default 0) draws the subsets and the labelled / test sets.
"""
import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402
import _train_common as T  # noqa: E402

import sslkit  # noqa: E402

METHODS = ("diet", "vicreg", "simclr")
SUB4096 = "diet_sub4096"  # DIET on the preset's 4096-image subset of the full set
BASELINE = "random_init"  # the same encoder untrained: what the pre-training adds is measured against it
COLUMNS = ["method", "n_train", "seed", "budget_s", "calib_step_s", "steps", "epochs", "steps_per_epoch",
           "steps_run", "train_s", "train_cpu_s", "loss", "rankme", "test_probe", "test_knn"]
WARMUP_FRACTION = 0.1


def balanced_nested(labels, sizes, seed, exclude=None):
    """Nested class-balanced subsets of the rows of labels: subset k holds
    sizes[k] // C rows of each of the C classes (the first ones of a seeded
    per-class permutation), so every smaller subset lies inside the larger
    ones.  A size equal to labels.size is the whole set.  Rows in exclude are
    never drawn (unless the size is the whole set)."""
    classes = np.unique(labels)
    rng = np.random.default_rng(seed)
    skip = np.zeros(labels.size, bool)
    if exclude is not None:
        skip[exclude] = True
    per = [rng.permutation(np.flatnonzero((labels == c) & ~skip)) for c in classes]
    out = []
    for n in sizes:
        if n == labels.size:
            out.append(np.arange(labels.size))
            continue
        k = n // classes.size
        if k * classes.size != n or any(p.size < k for p in per):
            raise ValueError(f"a balanced subset of {n} rows needs {n} / {classes.size} classes available")
        out.append(np.sort(np.concatenate([p[:k] for p in per])))
    return out


def schedule(steps, n, batch):
    """(epochs, steps_per_epoch) whose product is the smallest value >= steps
    with at most n // batch steps per epoch (full batches only)."""
    full = n // batch
    if full < 1:
        raise ValueError(f"{n} images make no batch of {batch}")
    epochs = math.ceil(steps / full)
    return epochs, math.ceil(steps / epochs)


def _settings(method, n, batch, seed):
    kw = dict(batch=batch, seed=seed, init_seed=seed)
    if method == SUB4096:
        return "diet", dict(kw, subset=4096)
    if method == "diet":
        kw["subset"] = 0  # the preset's 4096-image subset is off: the run uses the whole given subset
    return method, kw


def calibrate(method, data, batch, seed, steps):
    """Seconds per training step of method on data: the mean over `steps`
    timed steps after two untimed ones (first-step allocations)."""
    name, kw = _settings(method, len(data), batch, seed)
    n = kw.get("subset") or len(data)
    epochs, spe = schedule(steps + 2, n, batch)  # small subsets: several epochs, as in the runs
    tr = sslkit.Trainer(name, data=data, epochs=epochs, steps_per_epoch=spe, **kw)
    marks = []
    tr.fit(step_callback=lambda p: marks.append(time.perf_counter()) and False)
    tr.close()
    if len(marks) < 3:
        raise ValueError(f"calibration of {method} on {n} images ran {len(marks)} steps, need 3")
    return (marks[-1] - marks[1]) / (len(marks) - 2)


def budget_steps(budget_s, step_s, min_steps):
    """The step count that the wall-clock budget buys at step_s seconds per step."""
    return max(min_steps, int(budget_s / step_s))


def run_one(method, data, steps, batch, seed):
    """Pre-train for `steps` steps (the whole schedule); returns (trainer,
    epochs, steps_per_epoch, wall s, CPU s, final loss)."""
    name, kw = _settings(method, len(data), batch, seed)
    n = kw.get("subset") or len(data)
    epochs, spe = schedule(steps, n, batch)
    t0, c0 = time.perf_counter(), time.process_time()
    tr = sslkit.Trainer(name, data=data, epochs=epochs, steps_per_epoch=spe,
                        warmup_epochs=WARMUP_FRACTION * steps / spe, **kw)
    tr.fit()
    hist = tr.history
    return (tr, epochs, spe, time.perf_counter() - t0, time.process_time() - c0,
            float(hist[-1]["loss"]) if hist else float("nan"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="reproduce-out")
    p.add_argument("--tiny", action="store_true", help="seconds: two tiny subsets, a tiny budget")
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000, 60000],
                   help="pre-training subset sizes (multiples of 10; 60000 = the whole training split)")
    p.add_argument("--budget", type=float, default=60.0, help="wall-clock seconds of training per run")
    p.add_argument("--min-steps", type=int, default=10, help="floor on the steps of a run")
    p.add_argument("--calib-steps", type=int, default=8, help="timed steps of each calibration run")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--n-fit", type=int, default=5000, help="labelled probe / kNN fit images (training split)")
    p.add_argument("--n-test", type=int, default=5000)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--probe-iter", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    if a.tiny:
        a.sizes, a.budget, a.min_steps, a.calib_steps, a.batch = [200, 400], 0.2, 3, 2, 32
        a.n_fit, a.n_test, a.probe_iter = 200, 200, 50
    sslkit.set_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    commit = C.commit()
    t_start = time.perf_counter()

    train, y_train = T.fmnist("train")
    test, y_test = T.fmnist("test")
    [fit_i] = balanced_nested(y_train, [a.n_fit], a.data_seed + 1)
    subsets = balanced_nested(y_train, a.sizes, a.data_seed)
    te_i = np.sort(np.random.default_rng(a.data_seed + 2).permutation(y_test.size)[:a.n_test])
    fit, te = train.subset(fit_i), test.subset(te_i)
    full = y_train.size

    def evaluate(tr):
        z_fit, z_te = tr.embed(fit), tr.embed(te)
        [(lp, knn)] = T.probe(z_fit, y_train[fit_i], [(z_te, y_test[te_i])], a.probe_iter)
        return lp, knn, float(sslkit.rankme(z_fit))

    rows = []
    for s in a.seeds:  # the encoder at its initialisation (init_seed s), no training
        tr = sslkit.Trainer("vicreg", data=train.subset(subsets[0]), seed=s, init_seed=s)
        lp, knn, rk = evaluate(tr)
        tr.close()
        rows.append(dict(method=BASELINE, n_train=0, seed=s, budget_s=0.0, calib_step_s=float("nan"), steps=0,
                         epochs=0, steps_per_epoch=0, steps_run=0, train_s=0.0, train_cpu_s=0.0, loss=float("nan"),
                         rankme=rk, test_probe=lp, test_knn=knn))
    for n, sub_i in zip(a.sizes, subsets):
        pre = train.subset(sub_i)
        methods = METHODS + ((SUB4096,) if n == full and n > 4096 else ())
        for method in methods:
            step_s = calibrate(method, pre, a.batch, a.seeds[0], a.calib_steps)
            steps = budget_steps(a.budget, step_s, a.min_steps)
            for s in a.seeds:
                tr, epochs, spe, secs, cpu, loss = run_one(method, pre, steps, a.batch, s)
                run = int(tr.history[-1]["global_step"])
                lp, knn, rk = evaluate(tr)
                rows.append(dict(method=method, n_train=n, seed=s, budget_s=a.budget, calib_step_s=step_s,
                                 steps=epochs * spe, epochs=epochs, steps_per_epoch=spe, steps_run=run, train_s=secs,
                                 train_cpu_s=cpu, loss=loss, rankme=rk, test_probe=lp, test_knn=knn))
                tr.close()
                print(f"  {method} n={n} seed {s}: {epochs * spe} steps in {secs:.1f} s (calibrated "
                      f"{step_s * 1e3:.0f} ms/step); probe {lp:.4f} knn {knn:.4f}", file=sys.stderr, flush=True)

    total = time.perf_counter() - t_start
    head = (f"Equal wall-clock at commit {commit}: {a.budget:g} s of training per run, turned into a step count "
            f"per method and subset by a {a.calib_steps}-step timed calibration (seed {a.seeds[0]}); batch "
            f"{a.batch} per view, preset defaults, warm-up {WARMUP_FRACTION:g} of the steps then cosine; "
            f"class-balanced nested subsets {a.sizes} of the training split (data seed {a.data_seed}); probe / "
            f"kNN fit on {a.n_fit} class-balanced training images, test on {a.n_test}; seeds {a.seeds}, "
            f"{a.threads} threads; whole program {total:.0f} s.")
    C.write_table(os.path.join(a.out, "diet_smalldata"), rows, COLUMNS, head)
    summ = summarize(rows)
    C.write_table(os.path.join(a.out, "diet_smalldata_summary"), summ,
                  ["method", "n_train", "metric", "seeds", "mean", "std", "min", "max"], head)
    x = np.log10(np.array(a.sizes, dtype=np.float64))
    for col, base, title in (("test_probe", "diet_smalldata", "Linear probe at equal wall-clock"),
                             ("test_knn", "diet_smalldata_knn", "kNN at equal wall-clock")):
        ys = [[_mean(summ, m, n, col) for n in a.sizes] for m in METHODS]
        ys.append([_mean(summ, BASELINE, 0, col)] * len(a.sizes))
        C.plot_curves(os.path.join(a.out, base), title, "log10 pre-training images", col.replace("test_", "")
                      + " top-1 (mean over seeds)", x, ys, list(METHODS) + ["random init"])
    return rows, summ


def summarize(rows):
    """Mean / sample std / min / max over seeds per (method, size) of the
    accuracies, the steps and the training seconds."""
    out = []
    keys = []
    for r in rows:
        if (r["method"], r["n_train"]) not in keys:
            keys.append((r["method"], r["n_train"]))
    for m, n in keys:
        mine = [r for r in rows if r["method"] == m and r["n_train"] == n]
        for col in ("test_probe", "test_knn", "steps", "train_s"):
            mean, sd, lo, hi = T.mean_spread([r[col] for r in mine])
            out.append(dict(method=m, n_train=n, metric=col, seeds=len(mine), mean=mean, std=sd, min=lo, max=hi))
    return out


def _mean(summ, method, n, col):
    return next(s["mean"] for s in summ if s["method"] == method and s["n_train"] == n and s["metric"] == col)


if __name__ == "__main__":
    _, s = main()
    for r in s:
        print(r)
