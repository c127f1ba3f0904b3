#!/bin/sh
# Trainer scaling on a many-core machine (issue 16): the VICReg step of
# bench_train (default encoder, Fashion-MNIST, batch 256 x 2 views, AdamW)
# taken apart at 1 and 2, 4, 8, 16 threads (per-phase serial fractions,
# Amdahl), then the full trainer step (load + augment + forward + backward +
# update) at 1, 2, 4, 8, 16 threads, unpinned, and pinned with the
# recommended split (compute threads on their own cores, the loader's
# workers on the rest: SSLK_TRAIN_PIN_THREADS); then the GEMM threading
# modes (bench_gemm_threading, and the step at 16 threads in each mode).
# Prints the speedup tables.
#
# Usage: bench/scale16.sh BUILD_DIR [STEPS=20] [WORKERS=2]
#   Needs Fashion-MNIST (apt-get install fashion-mnist, or SSLKIT_DATASETS_DIR).
#   On a machine other than the build one, copy BUILD_DIR/bench/bench_train
#   and the shared libraries `ldd` lists, and set LD_LIBRARY_PATH.
#   Run it on an otherwise idle machine; each table takes a few minutes.
# SPDX-License-Identifier: BSD-3-Clause
set -eu
build=${1:?usage: scale16.sh BUILD_DIR [STEPS] [WORKERS]}
steps=${2:-20}
workers=${3:-2}
bench="$build/bench/bench_train"
cores=$(nproc)
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $cores CPUs usable"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)   date: $(date -u +%Y-%m-%dT%H:%MZ)"
[ "$cores" -ge 16 ] || echo "note: fewer than 16 CPUs: the 16-thread rows oversubscribe the cores"

echo; echo "== the step taken apart (OMP_WAIT_POLICY=passive: a waiting thread uses no CPU) =="
OMP_WAIT_POLICY=passive "$bench" "$steps" default phases 2 4 8 16

echo; echo "== full trainer step, 1 loader worker, not pinned =="
SSLK_BENCH_WORKERS=1 "$bench" "$steps" default steps 1 2 4 8 16

# pinned: threads + workers must fit in the CPUs; the last row uses them all
last=$((cores - workers))
[ "$last" -ge 1 ] || last=1
list=""
for t in 1 2 4 8; do [ "$t" -le "$last" ] && list="$list $t"; done
if [ "$last" -gt 8 ]; then list="$list $last"; fi
echo; echo "== full trainer step, $workers loader workers, pinned (pin_threads), threads up to $last =="
SSLK_BENCH_WORKERS=$workers SSLK_BENCH_PIN=1 "$bench" "$steps" default steps $list

# GEMM threading (lib/linalg/gemm_threading.c): BLIS's own threads (the
# default from 4 threads) against blocks of single-thread calls, per product
# and in the whole step, and the work the blocks add (one core)
gt="$build/bench/bench_gemm_threading"
if [ -x "$gt" ]; then
    echo; echo "== GEMM threading: split blocks vs BLIS's threads, and the split's extra work =="
    "$gt" 7 2 4 8 16
fi
echo; echo "== full trainer step at 16 threads (or all CPUs), GEMM threading split vs blis =="
top=$([ "$cores" -lt 16 ] && echo "$cores" || echo 16)
for mode in split blis; do
    echo "-- SSLKIT_GEMM_THREADING=$mode"
    SSLKIT_GEMM_THREADING=$mode SSLK_BENCH_WORKERS=1 "$bench" "$steps" default steps 1 "$top"
done
