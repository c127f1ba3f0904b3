"""Reproduction 8: POLICE (Balestriero & LeCun, ICASSP 2023) at small scale.

The paper's two-rings classification figure (official repository,
figure_1.py: two wavy rings r = 1 + 0.2 cos(10 t) and 1.3 r with N(0, 0.025^2)
noise, 1024 points each; a leaky-ReLU MLP of depth 3, width 128; 2000
full-batch AdamW steps, lr 1e-3 x 0.3 every quarter, weight decay 1e-5; the
square [0, 1.5]^2 as region).  Its claims: the constraint holds exactly at
every point of training and testing without sampling, and it is cheap
(its Table 1 reports the slow-down of a forward + backward step).

Two copies of one network (same initialisation, same data, same optimizer
settings) are trained interleaved step by step: the unconstrained network and
the one constrained (Model.constrain) to be affine on the square.  For each
we report the median wall-clock and CPU milliseconds per training step, the final training
loss, the test accuracy (fresh rings from another seed), and the exact
checks of sslkit.police_verify: the affinity error over random convex
combinations of the corners (double precision) and the SplineCam region
count inside the square (1 = affine) and inside the square scaled x2; then
the constrained network is frozen (shifts folded into its biases) and
checked again.

Writes police_cost.csv / .md (one row per network and seed),
police_loss.png / .svg (training loss of both networks, first seed),
police_rings.png (the constrained partition on [-2.8, 2.8]^2 with the square
outlined in red and the training points) and police_rings_plain.png (the
unconstrained one, same seed); each also as .svg when it has at most 5000
regions (the full-scale ones have ~40 000: tens of megabytes as vectors).

Run (full scale, a few minutes on 2 cores):
    PYTHONPATH=python SSLKIT_LIBRARY=build/lib/libsslkit.so.1 /usr/bin/python3 \
        examples/reproduce/police_rings.py --out docs/figures/reproduce
Tiny scale (seconds; tests/python/test_reproduce_geom.py): add --tiny.
Seeds: training data 100 + s, test data 200 + s, init and batch order s,
verification samples s, for s in --seeds (default 0 1 2).
"""
import argparse
import ctypes
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

import sslkit  # noqa: E402
from sslkit._lib import c_double_p, declare, lib  # noqa: E402

declare("sslk_police_plot", [ctypes.c_void_p, c_double_p, ctypes.c_size_t, c_double_p,
                             ctypes.POINTER(ctypes.c_int32), ctypes.c_size_t, ctypes.c_char_p, ctypes.c_int,
                             ctypes.c_int])

LO, HI = (0.0, 0.0), (1.5, 1.5)
VIEW = 2.8
SVG_MAX_REGIONS = 5000


def spec(depth, width):
    return ",".join([f"linear:{width},leaky_relu:0.01"] * depth) + ",linear:2"


def picture(model, base, square, x, y, constrained):
    """Partition of the view box with the square outlined and the data points."""
    sl = sslkit.Slice.from_box([0.0, 0.0], np.eye(2), VIEW)
    p = sslkit.police_splinecam(model, sl) if constrained else sslkit.splinecam(model, sl)
    outline = np.ascontiguousarray(square, dtype=np.float64)
    pts = np.ascontiguousarray(x, dtype=np.float64)
    lab = np.ascontiguousarray(y, dtype=np.int32)
    # a vector picture of tens of thousands of regions is tens of megabytes: PNG only then
    for ext in (".png", ".svg") if len(p) <= SVG_MAX_REGIONS else (".png",):
        lib.sslk_police_plot(p._h, outline.ctypes.data_as(c_double_p), outline.shape[0],
                             pts.ctypes.data_as(c_double_p), lab.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                             pts.shape[0], (base + ext).encode(), 800, 800)
    return len(p)


def boundary_segments_inside(model, square):
    """Decision-boundary segments of the constrained net inside the square."""
    p = sslkit.police_splinecam(model, sslkit.Slice.from_polygon(square))
    return int(p.boundary.shape[0])


def rings(per_class, seed):
    """The official figure's data (written from its description): wavy rings
    r = 1 + 0.2 cos(10 t) (class 0) and 1.3 r (class 1), N(0, 0.025^2) noise."""
    t = np.linspace(0, 2 * np.pi, per_class)
    r = 1 + 0.2 * np.cos(10 * t)
    base = np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
    x = np.concatenate([base, 1.3 * base]) + 0.025 * np.random.default_rng(seed).standard_normal((2 * per_class, 2))
    return x.astype(np.float32), np.repeat(np.arange(2), per_class)


def run(args):
    rows = []
    square = sslkit.police_box(LO, HI)
    for s in args.seeds:
        x, y = rings(args.per_class, 100 + s)
        xt, yt = rings(args.per_class, 200 + s)
        plain = sslkit.Model.from_spec(spec(args.depth, args.width), (2,), seed=s)
        pol = plain.clone()
        pol.constrain(square)
        nets = (("plain", plain), ("POLICE", pol))
        opts = {n: sslkit.Optimizer("adamw", m, lr=args.lr, weight_decay=1e-5) for n, m in nets}
        order = np.arange(x.shape[0])
        times = {n: [] for n, _ in nets}
        cpu = {n: [] for n, _ in nets}
        loss = {}
        curve = {n: [] for n, _ in nets}
        for t in range(args.steps):
            for n, m in (nets if t % 2 == 0 else nets[::-1]):  # alternate who runs first
                opts[n].set_lr_scale(0.3 ** (4 * t // args.steps))
                dt, loss[n] = C.epoch(m, opts[n], x, y, order, x.shape[0])
                times[n].append(dt)
                cpu[n].append(C.epoch.cpu)
                curve[n].append(loss[n])
        for n, m in nets:
            v = sslkit.police_verify(m, square, samples=1000, seed=s)
            r = dict(network=n, seed=s, depth=args.depth, width=args.width, steps=args.steps,
                     step_ms=1e3 * float(np.median(times[n])), step_cpu_ms=1e3 * float(np.median(cpu[n])),
                     final_loss=float(loss[n]),
                     train_acc=C.accuracy(m, x, y), test_acc=C.accuracy(m, xt, yt),
                     affine_max_rel=float(v["affine_max_rel"]), regions_inside=int(v["regions_inside"]),
                     regions_around=int(v["regions_around"]),
                     boundary_segments_inside="-" if n == "plain" else boundary_segments_inside(m, square))
            rows.append(r)
        rows[-1]["slowdown"] = rows[-1]["step_ms"] / rows[-2]["step_ms"]
        rows[-1]["cpu_slowdown"] = rows[-1]["step_cpu_ms"] / rows[-2]["step_cpu_ms"]
        rows[-2]["slowdown"] = rows[-2]["cpu_slowdown"] = 1.0
        if s == args.seeds[0]:
            picture(pol, os.path.join(args.out, "police_rings"), square, x, y, True)
            picture(plain, os.path.join(args.out, "police_rings_plain"), square, x, y, False)
            C.plot_curves(os.path.join(args.out, "police_loss"), f"two rings, seed {s}: training loss", "step",
                          "cross-entropy", np.arange(1, args.steps + 1, dtype=float),
                          [curve["plain"], curve["POLICE"]], ["plain", "POLICE (affine on the square)"], log_y=True)
        out = pol.forward(xt)
        pol.freeze_constraint()
        v = sslkit.police_verify(pol, square, samples=1000, seed=s)
        rows.append(dict(network="POLICE frozen", seed=s, depth=args.depth, width=args.width, steps=args.steps,
                         step_ms=float("nan"), step_cpu_ms=float("nan"), cpu_slowdown=float("nan"),
                         final_loss=float("nan"), train_acc=C.accuracy(pol, x, y),
                         test_acc=C.accuracy(pol, xt, yt), affine_max_rel=float(v["affine_max_rel"]),
                         regions_inside=int(v["regions_inside"]), regions_around=int(v["regions_around"]),
                         boundary_segments_inside="-", slowdown=float("nan"),
                         frozen_max_diff=float(np.abs(pol.forward(xt) - out).max())))
        for r in rows[-3:]:
            print(f"  seed {s} {r['network']:13s}: {r['step_ms']:.2f} ms/step, test acc {r['test_acc']:.3f}, "
                  f"affinity {r['affine_max_rel']:.1e}, regions inside {r['regions_inside']}",
                  file=sys.stderr, flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=".", help="directory for the table and figures")
    p.add_argument("--tiny", action="store_true", help="seconds-scale run (tests)")
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument("--per-class", type=int, default=None, help="training points per ring")
    p.add_argument("--depth", type=int, default=None, help="hidden layers")
    p.add_argument("--width", type=int, default=None, help="units per hidden layer")
    p.add_argument("--steps", type=int, default=None, help="full-batch training steps")
    p.add_argument("--lr", type=float, default=None, help="AdamW learning rate (1e-3; tiny 1e-2)")
    p.add_argument("--threads", type=int, default=1, help="library threads (1: CPU time per step is meaningful)")
    a = p.parse_args(argv)
    a.seeds = a.seeds or ([0] if a.tiny else [0, 1, 2])
    a.per_class = a.per_class or (128 if a.tiny else 1024)
    a.depth = a.depth or 3
    a.width = a.width or (16 if a.tiny else 128)
    a.steps = a.steps or (100 if a.tiny else 2000)
    a.lr = a.lr or (1e-2 if a.tiny else 1e-3)
    sslkit.set_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    C.commit()  # the source the run starts from
    t0 = time.perf_counter()
    rows = run(a)
    cols = ["network", "seed", "depth", "width", "steps", "step_ms", "slowdown", "step_cpu_ms", "cpu_slowdown",
            "final_loss", "train_acc",
            "test_acc", "affine_max_rel", "regions_inside", "regions_around", "boundary_segments_inside"]
    header = (f"POLICE on two rings, region [0, 1.5]^2, {a.per_class} points per ring, full batch, {a.steps} AdamW "
              f"steps, lr {a.lr} x 0.3 per quarter, weight decay 1e-5, {a.threads} threads; seeds {a.seeds}; "
              f"commit {C.commit()}")
    md = C.write_table(os.path.join(a.out, "police_cost"), rows, cols, header)
    print(md)
    print(f"total {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return rows


if __name__ == "__main__":
    main()
