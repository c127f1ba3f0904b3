"""Shared pieces of the reproduction programs (examples/reproduce/*.py): the
output files (a CSV + markdown table, PNG + SVG figures), the 2-D toy data and
a plain supervised training loop over sslkit.Model.

Nothing here is a library API: the programs import it by path."""
import ctypes
import csv
import math
import os
import subprocess
import time

import numpy as np

import sslkit
from sslkit._lib import c_double_p, declare, lib

declare("sslk_plot_curves", [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, c_double_p,
                             c_double_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.POINTER(ctypes.c_char_p),
                             ctypes.c_uint])
declare("sslk_plot_bars", [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, c_double_p,
                           ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t])

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


_COMMIT = []


def commit():
    """The commit of the source tree the program runs from ("unknown" outside
    git), read once: the programs call it when they start."""
    if _COMMIT:
        return _COMMIT[0]
    _COMMIT.append(_read_commit())
    return _COMMIT[0]


def _read_commit():
    try:
        r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=10", "HEAD"], capture_output=True, text=True,
                           timeout=10)
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "examples/reproduce"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return r.stdout.strip() + ("+dirty" if dirty else "") if r.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _names(names):
    arr = (ctypes.c_char_p * len(names))(*[n.encode() for n in names])
    return arr


def plot_curves(base, title, xlabel, ylabel, x, ys, names, log_y=False):
    """Line plot written as base.png and base.svg (the library's cairo plots)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(np.asarray(ys, dtype=np.float64).reshape(len(names), x.size))
    for ext in (".png", ".svg"):
        lib.sslk_plot_curves((base + ext).encode(), title.encode(), xlabel.encode(), ylabel.encode(),
                             x.ctypes.data_as(c_double_p), y.ctypes.data_as(c_double_p), len(names), x.size,
                             _names(names), 1 if log_y else 0)
    return [base + ".png", base + ".svg"]


def plot_bars(base, title, ylabel, values, labels):
    """Bar chart of values in [0, 1] written as base.png and base.svg."""
    v = np.ascontiguousarray(values, dtype=np.float64)
    for ext in (".png", ".svg"):
        lib.sslk_plot_bars((base + ext).encode(), title.encode(), ylabel.encode(), v.ctypes.data_as(c_double_p),
                           _names(labels), v.size)
    return [base + ".png", base + ".svg"]


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}" if v == v else "nan"
    return str(v)


def write_table(base, rows, columns, header=None):
    """rows (list of dicts) as base.csv and base.md (a markdown table, with an
    optional header paragraph); returns the markdown text."""
    with open(base + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow([r[c] for c in columns])
    md = (header + "\n\n" if header else "") + "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    md += "".join("| " + " | ".join(_fmt(r[c]) for c in columns) + " |\n" for r in rows)
    with open(base + ".md", "w") as f:
        f.write(md)
    return md


def rings(per_class, seed, noise=0.08):
    """Two noisy wavy rings of radius ~1 (class 0) and ~2 (class 1), the POLICE
    figure's data: (2 per_class, 2) float32 points and int labels."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * math.pi, size=(2, per_class))
    r = np.array([[1.0], [2.0]]) + 0.1 * np.sin(5 * t) + noise * rng.standard_normal((2, per_class))
    x = np.stack([r * np.cos(t), r * np.sin(t)], axis=-1).reshape(-1, 2).astype(np.float32)
    y = np.repeat(np.arange(2), per_class).astype(np.int64)
    return x, y


def softmax_xent(z, y):
    """Mean cross-entropy of logits z (n, k) against labels y and its gradient."""
    z = z.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = z.shape[0]
    loss = -np.log(p[np.arange(n), y] + 1e-300).mean()
    p[np.arange(n), y] -= 1.0
    return loss, (p / n).astype(np.float32)


def accuracy(model, x, y):
    return float((model.forward(x).argmax(axis=1) == y).mean())


def epoch(model, opt, x, y, order, batch):
    """One pass of minibatch steps over x[order]; returns (seconds, mean loss);
    epoch.cpu holds the pass's process CPU seconds (the steadier figure on a
    shared machine, with one library thread)."""
    t0, c0 = time.perf_counter(), time.process_time()
    total, steps = 0.0, 0
    for s in range(0, order.size - batch + 1, batch):
        idx = order[s:s + batch]
        opt.zero_grad()
        loss, g = softmax_xent(model.forward(x[idx], train=True), y[idx])
        model.backward(g)
        opt.step()
        total += loss
        steps += 1
    epoch.cpu = time.process_time() - c0
    return time.perf_counter() - t0, total / max(steps, 1)


def train(model, x, y, epochs, batch, lr, seed, wd=0.0, on_epoch=None):
    """Minibatch AdamW on the softmax cross-entropy; on_epoch(epoch, model) is
    called before the first epoch (0) and after each.  Returns per-epoch
    (seconds, mean loss)."""
    opt = sslkit.Optimizer("adamw", model, lr=lr, weight_decay=wd)
    rng = np.random.default_rng(seed)
    hist = []
    if on_epoch:
        on_epoch(0, model)
    for e in range(1, epochs + 1):
        hist.append(epoch(model, opt, x, y, rng.permutation(x.shape[0]), batch))
        if on_epoch:
            on_epoch(e, model)
    return hist
