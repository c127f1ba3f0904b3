"""Reproduction 7: SplineCam's observations (Humayun, Balestriero, Balakrishnan,
Baraniuk, CVPR 2023) at small scale.

ReLU MLPs of several widths and depths are trained on two noisy concentric
rings (the "two circles" toy of the paper's project page, whose video shows a
depth 5, width 10 MLP).  At checkpoints during training the exact partition
of the square [-3, 3]^2 is computed with sslkit.splinecam and summarised:

- regions in the square, and the decision-boundary length (exact);
- local region density: the mean number of regions meeting a disc of radius
  --radius around each training point ("near") and around points of the
  square at least --far distance from every training point ("far"), and
  their ratio;
- training and test accuracy.

Writes splinecam_density.csv / .md (one row per architecture x checkpoint x
seed), splinecam_density_summary.csv / .md (means over seeds),
splinecam_density.png / .svg (near/far density ratio over training,
one curve per architecture, seed 0) and splinecam_partition.png / .svg (the
final partition of the paper's depth 5, width 10 net, seed 0).

Run (full scale, a few minutes on 2 cores):
    PYTHONPATH=python SSLKIT_LIBRARY=build/lib/libsslkit.so.1 /usr/bin/python3 \
        examples/reproduce/splinecam_density.py --out docs/figures/reproduce
Tiny scale (seconds; tests/python/test_reproduce_geom.py): add --tiny.
Seeds: data seed 100 + s, test data 200 + s, model init and batch order s,
far points 300, for s in --seeds (default 0 1 2).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

import sslkit  # noqa: E402

BOX = 3.0
FULL_ARCHS = [(1, 32), (2, 10), (2, 32), (5, 10), (5, 32)]  # (depth, width): hidden layers x units
TINY_ARCHS = [(1, 8), (2, 8)]


def spec(depth, width):
    return ",".join([f"linear:{width},relu"] * depth) + ",linear:2"


def far_points(x_train, count, min_dist, seed):
    """Points of the square at least min_dist from every training point."""
    rng = np.random.default_rng(seed)
    cand = rng.uniform(-BOX, BOX, size=(20 * count, 2))
    d = np.sqrt(((cand[:, None, :] - x_train[None, :, :]) ** 2).sum(-1)).min(axis=1)
    keep = cand[d >= min_dist][:count]
    if keep.shape[0] < count:
        raise RuntimeError(f"only {keep.shape[0]} far points at distance >= {min_dist}")
    return keep


def square_slice():
    return sslkit.Slice.from_box([0.0, 0.0], np.eye(2), BOX)


def measure(model, x_train, far, radius):
    """Exact partition statistics of model on the square (slice coordinates are
    input coordinates: identity directions, origin 0)."""
    p = sslkit.splinecam(model, square_slice())
    near = p.near_complexity(x_train.astype(np.float64), radius)
    farc = p.near_complexity(far.astype(np.float64), radius)
    st = p.stats
    return dict(regions=int(st["regions"]), boundary_length=float(p.boundary_length),
                near=float(np.mean(near)), far=float(np.mean(farc)),
                ratio=float(np.mean(near) / np.mean(farc))), p


def run(args):
    archs = TINY_ARCHS if args.tiny else FULL_ARCHS
    rows = []
    curves = {}
    final_p = None
    for s in args.seeds:
        x, y = C.rings(args.per_class, 100 + s)
        xt, yt = C.rings(args.per_class, 200 + s)
        far = far_points(x, args.far_count, args.far, 300)
        for depth, width in archs:
            m = sslkit.Model.from_spec(spec(depth, width), (2,), seed=s)
            checkpoints = set(args.checkpoints)

            def on_epoch(e, model):
                if e not in checkpoints:
                    return
                t0 = time.perf_counter()
                r, p = measure(model, x, far, args.radius)
                r.update(depth=depth, width=width, seed=s, epoch=e, train_acc=C.accuracy(model, x, y),
                         test_acc=C.accuracy(model, xt, yt), splinecam_s=time.perf_counter() - t0)
                rows.append(r)
                if s == args.seeds[0]:
                    curves.setdefault((depth, width), []).append((e, r["ratio"]))
                print(f"  depth {depth} width {width:3d} seed {s} epoch {e:4d}: {r['regions']:6d} regions, "
                      f"near {r['near']:.2f} far {r['far']:.2f} ratio {r['ratio']:.2f}, boundary "
                      f"{r['boundary_length']:.2f}, test acc {r['test_acc']:.3f}", file=sys.stderr, flush=True)

            C.train(m, x, y, max(args.checkpoints), args.batch, args.lr, s, on_epoch=on_epoch)
            if s == args.seeds[0] and (depth, width) == archs[-1 if args.tiny else 3]:
                final_p = sslkit.splinecam(m, square_slice())
    return rows, curves, final_p


def summarize(rows, out, note):
    """Mean over seeds (and range) per architecture and checkpoint, written as
    splinecam_density_summary.csv / .md."""
    groups = {}
    for r in rows:
        groups.setdefault((int(r["depth"]), int(r["width"]), int(r["epoch"])), []).append(r)
    summary = []
    for (d, w, e), rs in sorted(groups.items()):
        v = {k: np.array([float(r[k]) for r in rs]) for k in ("regions", "near", "far", "ratio", "boundary_length",
                                                              "test_acc")}
        summary.append(dict(depth=d, width=w, epoch=e, seeds=len(rs), regions=round(float(v["regions"].mean()), 1),
                            regions_range=f"{v['regions'].min():.0f}-{v['regions'].max():.0f}",
                            near=float(v["near"].mean()), far=float(v["far"].mean()), ratio=float(v["ratio"].mean()),
                            ratio_range=f"{v['ratio'].min():.2f}-{v['ratio'].max():.2f}",
                            boundary_length=float(v["boundary_length"].mean()), test_acc=float(v["test_acc"].mean())))
    cols = list(summary[0])
    return summary, C.write_table(os.path.join(out, "splinecam_density_summary"), summary, cols, note)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=".", help="directory for the table and figures")
    p.add_argument("--tiny", action="store_true", help="seconds-scale run (tests)")
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument("--per-class", type=int, default=None, help="training points per ring")
    p.add_argument("--checkpoints", type=int, nargs="+", default=None, help="epochs at which to measure")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--radius", type=float, default=0.1, help="disc radius of the local density")
    p.add_argument("--far", type=float, default=0.5, help="least distance of a far point to the training set")
    p.add_argument("--far-count", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--summarize", default=None, metavar="CSV",
                   help="only write the per-architecture summary of an existing splinecam_density.csv")
    a = p.parse_args(argv)
    if a.summarize:
        import csv
        with open(a.summarize) as f:
            rows = list(csv.DictReader(f))
        print(summarize(rows, a.out, f"means over seeds of {a.summarize}; summary by commit {C.commit()}")[1])
        return rows
    a.seeds = a.seeds or ([0] if a.tiny else [0, 1, 2])
    a.per_class = a.per_class or (64 if a.tiny else 256)
    a.checkpoints = a.checkpoints or ([0, 5] if a.tiny else [0, 10, 30, 100, 300])
    a.far_count = min(a.far_count, 64) if a.tiny else a.far_count
    sslkit.set_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    C.commit()  # the source the run starts from
    t0 = time.perf_counter()
    rows, curves, final_p = run(a)
    cols = ["depth", "width", "seed", "epoch", "regions", "near", "far", "ratio", "boundary_length", "train_acc",
            "test_acc", "splinecam_s"]
    header = (f"SplineCam density on two rings, square [-{BOX:g}, {BOX:g}]^2, disc radius {a.radius}, far points "
              f">= {a.far} from the training set; seeds {a.seeds}; commit {C.commit()}")
    md = C.write_table(os.path.join(a.out, "splinecam_density"), rows, cols, header)
    md += "\n" + summarize(rows, a.out, "means over seeds (range in brackets columns) of the table above")[1]
    epochs = sorted(a.checkpoints)
    names = [f"depth {d}, width {w}" for d, w in curves]
    ys = [[dict(v).get(e, np.nan) for e in epochs] for v in curves.values()]
    C.plot_curves(os.path.join(a.out, "splinecam_density"), "regions near training points / far from them",
                  "epoch", "density ratio (near / far)", np.array(epochs, float), ys, names)
    for ext in (".png", ".svg"):
        final_p.plot(os.path.join(a.out, "splinecam_partition" + ext), 800, 800, anchors=False)
    print(md)
    print(f"total {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return rows


if __name__ == "__main__":
    main()
