#!/usr/bin/env python3
"""torch.mm rates for bench_gemm's shapes (the reference column of
docs/performance.md "Dense kernels").  Same timing rule as bench_gemm: the
median of `reps` timings, each repeating the product for >= 20 ms, in process
CPU seconds at 1 thread (other processes taking the core do not count).
  /usr/bin/python3 bench/gemm_ref.py [reps] [threads]"""
import statistics
import sys
import time

import torch

SHAPES = [  # name, m, n, k, ta, tb  (bench/bench_gemm.c)
    ("square 256", 256, 256, 256, False, False),
    ("square 512", 512, 512, 512, False, False),
    ("square 1024", 1024, 1024, 1024, False, False),
    ("square 2048", 2048, 2048, 2048, False, False),
    ("tall 16384x256x256", 16384, 256, 256, False, False),
    ("tall^T 256x256x16384", 256, 256, 16384, True, False),
    ("conv1 fwd 32x588x25", 32, 588, 25, False, False),
    ("conv2 fwd 64x539x288", 64, 539, 288, False, False),
    ("conv2 dW 64x288x539", 64, 288, 539, False, True),
    ("conv2 dX 288x539x64", 288, 539, 64, True, False),
    ("linear 256x512x3136", 256, 512, 3136, False, True),
    ("DIET 256x60000x512", 256, 60000, 512, False, True),
]


def rate(m, n, k, ta, tb, dtype, reps, clock):
    a = torch.rand(k, m, dtype=dtype).t() if ta else torch.rand(m, k, dtype=dtype)
    b = torch.rand(n, k, dtype=dtype).t() if tb else torch.rand(k, n, dtype=dtype)
    c = torch.empty(m, n, dtype=dtype)
    torch.mm(a, b, out=c)
    t0, calls = clock(), 0
    while clock() - t0 < 0.02:
        torch.mm(a, b, out=c)
        calls += 1
    times = []
    for _ in range(reps):
        t = clock()
        for _ in range(calls):
            torch.mm(a, b, out=c)
        times.append((clock() - t) / calls)
    return 2.0 * m * n * k / statistics.median(times) * 1e-9


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    torch.set_num_threads(threads)
    clock = time.process_time if threads == 1 else time.perf_counter
    print(f"torch {torch.__version__}, {threads} thread(s), BLAS: "
          f"{'MKL' if torch.backends.mkl.is_available() else 'not MKL'}")
    print("| shape | prec | thr | torch.mm |\n|---|---|---|---|")
    for name, m, n, k, ta, tb in SHAPES:
        for prec, dtype in (("s", torch.float32), ("d", torch.float64)):
            print(f"| {name} | {prec} | {threads} | {rate(m, n, k, ta, tb, dtype, reps, clock):.1f} |", flush=True)


if __name__ == "__main__":
    main()
