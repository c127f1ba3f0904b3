"""Hostile option values for the sslkit CLI: every numeric option must be
read strictly (no atoi), so a bad value exits with status 2 -- never a signal,
never a silent 0 -- and a message that names the option and its range.
Also the metric commands on hostile inputs (huge ids, NaN, empty files).
The executable comes from the sslkit_cli fixture (tests/cli/conftest.py)."""
import os
import re
import resource
import subprocess
import tempfile

import numpy as np

EXE = None  # the sslkit executable, set by conftest.py
failures = []


# Under AddressSanitizer (.ci/asan) the shadow memory needs terabytes of
# address space, so there the allocator's own cap stands in for RLIMIT_AS.
SANITIZED = "ASAN_OPTIONS" in os.environ


def limit_memory():
    # 4 GiB of address space: a command that sizes buffers from a stray id
    # fails here instead of taking the machine's memory.
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def run(*args, env=None):
    e = dict(os.environ)
    e.pop("SSLKIT_THREADS", None)
    e.update(env or {})
    if SANITIZED:
        e["ASAN_OPTIONS"] += ":max_allocation_size_mb=4096:allocator_may_return_null=1"
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120, env=e,
                          preexec_fn=None if SANITIZED else limit_memory)


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def refused(args, opt, rng_text=None, env=None):
    """args must exit 2 (usage), not by a signal, naming opt (and its range)."""
    r = run(*args, env=env)
    label = "sslkit " + " ".join(repr(a) if a == "" else a for a in args)
    check(r.returncode == 2, f"{label}: exit {r.returncode} (want 2), stderr {r.stderr.strip()!r}")
    check(opt in r.stderr, f"{label}: message does not name {opt}: {r.stderr.strip()!r}")
    if rng_text:
        check(rng_text in r.stderr, f"{label}: message does not give the range {rng_text}: {r.stderr.strip()!r}")
    return r


def test_cli_args():
    failures.clear()
    tmp = tempfile.mkdtemp(prefix="sslk_args_")
    p = lambda name: os.path.join(tmp, name)  # noqa: E731
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 255, (6, 8, 8), dtype=np.uint8)
    np.save(p("images.npy"), imgs)
    np.save(p("labels.npy"), np.arange(6, dtype=np.int64) % 3)
    ds = p("images.npy")
    png = p("grid.png")

    # ---- data preview: --size 0 divided by zero (SIGFPE); abc and 2^32 became 0 too
    bad_ints = ["0", "abc", "4294967296", "", "12x", "-3", " 5", "+5", "0x10", "1e3", "9" * 30]
    for v in bad_ints:
        refused(["data", "preview", ds, "--out", png, "--size", v], "--size", "[1, 4096]")
    for opt, rng_text in (("--n", "[1, 256]"), ("--views", "[1, 16]")):
        for v in ("0", "abc", "4294967297", "-1"):
            refused(["data", "preview", ds, "--out", png, opt, v], opt, rng_text)
    for opt in ("--seed", "--epoch"):
        for v in ("-1", "abc", "18446744073709551616", "1.5"):
            refused(["data", "preview", ds, "--out", png, opt, v], opt)
    refused(["data", "preview", ds, "--out", png, "--size"], "--size")  # no value
    refused(["data", "info", ds, "--threads", "x"], "--threads", "[0, 1024]")
    refused(["data", "info", ds], "SSLKIT_THREADS", env={"SSLKIT_THREADS": "lots"})
    r = run("data", "preview", ds, "--out", png, "--size", "16", "--n", "2")
    check(r.returncode == 0 and os.path.getsize(png) > 0, f"data preview with good numbers: {r.stderr}")

    # ---- police: --steps abc silently became 0 steps
    for v in ("abc", "", "-1", "10000001", "1.5"):
        refused(["police", "--steps", v], "--steps", "[0, 10000000]")
    for v in ("nan", "inf", "-1", "0", "1e999", "0x1p-3", "abc"):
        refused(["police", "--lr", v], "--lr")
    for v in ("1,2,3", "1,2,3,nan", "1,2,3,4,5", "a,b,c,d", "1,,2,3"):
        refused(["police", "--box", v], "--box")
    refused(["police", "--seed", "-1"], "--seed")
    refused(["police", "--threads", "-2"], "--threads")

    # ---- metric commands
    np.save(p("z.npy"), rng.standard_normal((20, 8)).astype(np.float32))
    refused(["rankme", p("z.npy"), "--threads", "2x"], "--threads")
    logits = rng.standard_normal((12, 3)).astype(np.float32)
    np.save(p("l.npy"), logits)
    np.save(p("y.npy"), np.arange(12) % 3)
    acc = ["accuracy", "--logits", p("l.npy"), "--labels", p("y.npy")]
    for v in ("abc", "-1", "1.5", ""):
        refused(acc + ["--worst-k", v], "--worst-k")
    for v in ("0", "abc", "4294967296", "2147483647"):
        refused(acc + ["--classes", v], "--classes", "[1, 1048576]")
    ens = ["ensemble", p("l.npy"), "--labels", p("y.npy")]
    for opt, v in (("--orders", "0"), ("--orders", "x"), ("--seed", "-5"), ("--worst-k", "k"),
                   ("--threads", "1.0")):
        refused(ens + [opt, v], opt)
    refused(["demo", "--dim", "0"], "--dim", "[1, 4096]")
    refused(["demo", "--seed", "abc"], "--seed")

    # ---- splinecam and model: lists of numbers
    r = run("model", "new", "--spec", "linear:4,relu,linear:2", "--input", "2", p("m.sslk"))
    check(r.returncode == 0, f"model new: {r.stderr}")
    sc = ["splinecam", p("m.sslk"), "--box", "-1,1,-1,1"]
    for opt, v in (("--size", "0x0"), ("--size", "800"), ("--size", "axb"), ("--size", "100x99999"),
                   ("--pad", "nan"), ("--pad", "-1"), ("--seed", "x"), ("--threads", "")):
        refused(sc + [opt, v], opt)
    refused(["splinecam", p("m.sslk"), "--box", "1,2,3"], "--box")
    refused(["splinecam", p("m.sslk"), "--indices", "1,x", "--dataset", ds], "--indices")
    refused(["splinecam", p("m.sslk"), "--indices", "-1", "--dataset", ds], "--indices")
    for v in ("2,x", "-5", "0", "1,2", "18446744073709551617", "2,,3"):
        refused(["model", "new", "--spec", "linear:2", "--input", v, p("m2.sslk")], "--input")
    refused(["model", "new", "--spec", "linear:2", "--input", "2", "--seed", "-1", p("m2.sslk")], "--seed")

    # ---- training commands fail on their options before any data is read
    for cmd in ("train", "main", "train-ensemble"):
        refused([cmd, "--threads", "many", "--data", p("nowhere")], "--threads")
    refused(["train-ensemble", "--members", "0"], "--members", "[1, 64]")
    refused(["train-ensemble", "--members", "4x"], "--members")

    # ---- accuracy on hostile inputs: one huge label must not size gigabytes
    # (it tried 16-34 GB: the class count came from the largest id)
    np.save(p("pred3.npy"), np.array([0, 1, 2], np.int32))
    np.save(p("lab_huge.npy"), np.array([0, 1, 2147483646], np.int32))
    r = run("accuracy", "--logits", p("pred3.npy"), "--labels", p("lab_huge.npy"))
    check(r.returncode == 1 and "labels[2] = 2147483646" in r.stderr and "1048576" in r.stderr,
          f"accuracy with a huge label: exit {r.returncode}, {r.stderr.strip()!r}")
    np.save(p("pred_huge.npy"), np.array([0, 1, 2000000], np.int32))
    np.save(p("lab3.npy"), np.array([0, 1, 2], np.int32))
    r = run("accuracy", "--logits", p("pred_huge.npy"), "--labels", p("lab3.npy"))
    check(r.returncode == 1 and "predictions[2] = 2000000" in r.stderr,
          f"accuracy with a huge prediction: exit {r.returncode}, {r.stderr.strip()!r}")
    r = run("accuracy", "--logits", p("pred_huge.npy"), "--labels", p("lab3.npy"), "--classes", "3")
    check(r.returncode == 1 and "pred[2]" in r.stderr and "[0, 3)" in r.stderr,
          f"accuracy, prediction >= --classes: exit {r.returncode}, {r.stderr.strip()!r}")
    np.save(p("g_huge.npy"), np.array([0, 0, 2147483647], np.int32))
    r = run("accuracy", "--logits", p("pred3.npy"), "--labels", p("lab3.npy"), "--groups", p("g_huge.npy"))
    check(r.returncode == 1 and "groups[2] = 2147483647" in r.stderr,
          f"accuracy with a huge group id: exit {r.returncode}, {r.stderr.strip()!r}")
    np.save(p("lab_neg.npy"), np.array([0, -1, 2], np.int32))
    r = run("accuracy", "--logits", p("pred3.npy"), "--labels", p("lab_neg.npy"))
    check(r.returncode == 1 and "labels[1]" in r.stderr, f"negative label: {r.stderr.strip()!r}")
    # sparse but modest ids still work, absent classes counted
    np.save(p("lab_sparse.npy"), np.array([0, 1, 999], np.int32))
    np.save(p("pred_sparse.npy"), np.array([0, 1, 999], np.int32))
    r = run("accuracy", "--logits", p("pred_sparse.npy"), "--labels", p("lab_sparse.npy"), "--json")
    check(r.returncode == 0 and '"classes": 1000' in r.stdout and '"accuracy": 1' in r.stdout,
          f"sparse ids: {r.returncode} {r.stderr.strip()!r}")
    # empty and NaN inputs
    np.save(p("empty_i.npy"), np.zeros(0, np.int32))
    r = run("accuracy", "--logits", p("empty_i.npy"), "--labels", p("empty_i.npy"))
    check(r.returncode == 1 and "'n' = 0" in r.stderr, f"empty predictions: {r.returncode} {r.stderr.strip()!r}")
    nanl = logits.copy()
    nanl[4, 1] = np.nan
    np.save(p("l_nan.npy"), nanl)
    r = run("accuracy", "--logits", p("l_nan.npy"), "--labels", p("y.npy"))
    check(r.returncode == 1 and "logits" in r.stderr and "finite" in r.stderr,
          f"NaN logits: {r.returncode} {r.stderr.strip()!r}")
    r = run("ensemble", p("l_nan.npy"), "--labels", p("y.npy"))
    check(r.returncode == 1 and "not finite" in r.stderr, f"ensemble NaN logits: {r.stderr.strip()!r}")
    np.save(p("z_nan.npy"), np.full((5, 4), np.nan, np.float32))
    r = run("rankme", p("z_nan.npy"))
    check(r.returncode == 1, f"rankme NaN rows: {r.returncode} {r.stderr.strip()!r}")
    np.save(p("z_empty.npy"), np.zeros((0, 4), np.float32))
    r = run("rankme", p("z_empty.npy"))
    check(r.returncode == 1 and "'n' = 0" in r.stderr, f"rankme empty: {r.returncode} {r.stderr.strip()!r}")

    # ---- durability: a killed run's temporary output is removed by the next
    # write of the same file; one that a live process may own is kept
    child = subprocess.Popen(["true"])
    child.wait()
    dead, alive = child.pid, os.getpid()
    stale = f"{png}.tmp.{dead}.KiLl99"
    live = f"{png}.tmp.{alive}.LiVe00"
    for f in (stale, live):
        with open(f, "wb") as fh:
            fh.write(b"\x89PNG partial")
    r = run("data", "preview", ds, "--out", png, "--size", "16", "--n", "2")
    check(r.returncode == 0, f"data preview next to stale temporaries: {r.stderr}")
    check(not os.path.exists(stale), "the killed run's temporary output was left behind")
    check(os.path.exists(live), "a live process's temporary output was removed")
    left = [f for f in os.listdir(tmp) if ".tmp." in f]
    check(left == [os.path.basename(live)], f"temporaries left: {left}")

    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)
