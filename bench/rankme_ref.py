#!/usr/bin/python3
"""Reference RankMe timings for bench_rankme: numpy.linalg.svd(compute_uv=False)
and torch.linalg.svdvals (when importable) on the same float32 NPY file.
usage: rankme_ref.py EMB.npy THREADS REPS   (prints one JSON object per line)
The thread count must be fixed before numpy/torch load their BLAS, so this
script is started with OMP/BLIS/OPENBLAS/MKL_NUM_THREADS already set."""
import json
import sys
import time

import numpy as np

path, threads, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
Z = np.load(path)


def rankme(s):
    s = np.asarray(s, dtype=np.float64)
    p = s / s.sum() + 1e-7
    return float(np.exp(-(p * np.log(p)).sum()))


def timed(fn):
    fn()  # warm-up
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        s = fn()
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2], rankme(s)


t, v = timed(lambda: np.linalg.svd(Z, compute_uv=False))
print(json.dumps({"name": "numpy", "time": t, "value": v}), flush=True)
try:
    import torch
except ImportError:
    torch = None
if torch is not None:
    torch.set_num_threads(threads)
    Zt = torch.from_numpy(Z)
    t, v = timed(lambda: torch.linalg.svdvals(Zt).numpy())
    print(json.dumps({"name": "torch", "time": t, "value": v}), flush=True)
