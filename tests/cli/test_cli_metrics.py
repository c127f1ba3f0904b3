"""Smoke tests of the metric commands of the sslkit CLI: NPY inputs written
with numpy, JSON outputs checked against numpy reimplementations, human
tables and error exits checked for their key lines.
The executable comes from the sslkit_cli fixture (tests/cli/conftest.py)."""
import gzip
import json
import os
import re
import struct
import subprocess
import tempfile

import numpy as np

EXE = None  # the sslkit executable, set by conftest.py
failures = []


def run(*args, ok=True):
    r = subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120)
    if ok and r.returncode != 0:
        raise AssertionError(f"sslkit {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def close(a, b, tol=1e-7):
    return (a is None and b is None) or abs(a - b) <= tol * max(1.0, abs(b))


def np_rankme(Z, centre=False):
    Z = np.asarray(Z, np.float64)
    s = np.linalg.svd(Z - Z.mean(0) if centre else Z, compute_uv=False)
    if centre:
        s = s ** 2
    p = s / s.sum() + 1e-7
    return float(np.exp(-(p * np.log(p)).sum()))


def per_class(pred, lab, C):
    cnt = np.bincount(lab, minlength=C)
    cor = np.bincount(lab, weights=pred == lab, minlength=C)
    return cnt, np.where(cnt > 0, cor / np.maximum(cnt, 1), np.nan)


def test_cli_metrics():
    failures.clear()
    rng = np.random.default_rng(0)
    tmp = tempfile.mkdtemp(prefix="sslk_cli_")
    p = lambda name: os.path.join(tmp, name)  # noqa: E731

    # ---- rankme
    Z = (rng.standard_normal((500, 24)) * np.arange(1, 25) ** -0.8).astype(np.float32)
    np.save(p("z.npy"), Z)
    out = json.loads(run("rankme", p("z.npy"), "--json").stdout)
    check(out["n"] == 500 and out["d"] == 24, "rankme shape")
    check(close(out["rankme"], np_rankme(Z)), f"rankme {out['rankme']} vs {np_rankme(Z)}")
    check(close(out["rankme_covariance"], np_rankme(Z, True)), "rankme covariance")
    human = run("rankme", p("z.npy")).stdout
    check(re.search(r"RankMe\s+%.4f" % np_rankme(Z), human) is not None, "rankme table: " + human)
    np.save(p("z64.npy"), Z.astype(np.float64).reshape(500, 4, 6))  # float64, extra axes flattened
    out = json.loads(run("rankme", p("z64.npy"), "--json").stdout)
    check(close(out["rankme"], np_rankme(Z)), "rankme of a 3-D float64 file")
    np.save(p("zero.npy"), np.zeros((5, 3), np.float32))
    r = run("rankme", p("zero.npy"), ok=False)
    check(r.returncode == 1 and "SSLK_E_DEGENERATE" in r.stderr, "rankme zero matrix: " + r.stderr)
    np.save(p("c.npy"), np.ones(4, np.complex64))
    r = run("rankme", p("c.npy"), ok=False)
    check(r.returncode == 1 and "SSLK_E_DTYPE" in r.stderr, "rankme complex file: " + r.stderr)
    r = run("rankme", p("missing.npy"), ok=False)
    check(r.returncode == 1 and "SSLK_E_NOT_FOUND" in r.stderr, "rankme missing file")

    # ---- accuracy
    n, C = 600, 7
    lab = rng.integers(0, C - 1, n)  # class 6 absent
    logits = rng.standard_normal((n, C)).astype(np.float32)
    logits[np.arange(n), lab] += (lab * 0.4).astype(np.float32)
    groups = rng.integers(0, 2, n)
    np.save(p("logits.npy"), logits)
    np.save(p("labels.npy"), lab)
    np.save(p("groups.npy"), groups.astype(np.int32))
    out = json.loads(run("accuracy", "--logits", p("logits.npy"), "--labels", p("labels.npy"), "--groups",
                         p("groups.npy"), "--worst-k", "2", "--json").stdout)
    pred = logits.argmax(1)
    cnt, acc = per_class(pred, lab, C)
    order = sorted(np.flatnonzero(cnt), key=lambda c: (acc[c], c))
    check(close(out["accuracy"], (pred == lab).mean()), "accuracy")
    check(close(out["worst_k"], acc[order[:2]].mean()), "worst-2")
    check(out["worst_classes"] == [int(c) for c in order[:2]], "worst classes")
    check(out["absent_classes"] == [6] and out["class_accuracy"][6] is None, "absent class reported")
    gacc = [((pred == lab)[groups == g]).mean() for g in (0, 1)]
    check(all(close(a, b) for a, b in zip(out["group_accuracy"], gacc)), "group accuracy")
    human = run("accuracy", "--logits", p("logits.npy"), "--labels", p("labels.npy")).stdout
    check("absent" in human and "worst-6 accuracy" in human, "accuracy table (default k = present classes)")
    np.save(p("pred.npy"), pred.astype(np.int64))
    out2 = json.loads(run("accuracy", "--logits", p("pred.npy"), "--labels", p("labels.npy"), "--classes", "7",
                          "--worst-k", "2", "--json").stdout)
    check(close(out2["worst_k"], out["worst_k"]), "accuracy from predictions")
    bad = lab.copy()
    bad[3] = 9
    np.save(p("bad.npy"), bad)
    r = run("accuracy", "--logits", p("logits.npy"), "--labels", p("bad.npy"), ok=False)
    check(r.returncode == 1 and "SSLK_E_RANGE" in r.stderr and "labels[3]" in r.stderr, "bad label: " + r.stderr)
    r = run("accuracy", "--logits", p("logits.npy"), "--labels", p("labels.npy"), "--worst-k", "9", ok=False)
    check(r.returncode == 1 and "SSLK_E_RANGE" in r.stderr, "k > classes")
    r = run("accuracy", "--logits", p("logits.npy"), ok=False)
    check(r.returncode == 2, "accuracy usage error")

    # ---- ensemble
    members = []
    for m in range(3):
        lg = rng.standard_normal((n, C)).astype(np.float32)
        lg[np.arange(n), lab] += 1.0
        np.save(p(f"m{m}.npy"), lg)
        members.append(lg.astype(np.float64))
    out = json.loads(run("ensemble", p("m0.npy"), p("m1.npy"), p("m2.npy"), "--labels", p("labels.npy"),
                         "--worst-k", "2", "--json").stdout)
    probs = np.mean([np.exp(x - x.max(1, keepdims=True)) / np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True)
                     for x in members], 0)
    ens = probs.argmax(1)
    check(close(out["ensemble"]["accuracy"], (ens == lab).mean()), "ensemble accuracy")
    check(close(out["curve"]["accuracy"][2], (ens == lab).mean()), "curve at full size")
    singles = sorted((x.argmax(1) == lab).mean() for x in members)
    check(singles[0] - 1e-12 <= out["curve"]["accuracy"][0] <= singles[-1] + 1e-12, "curve at size 1")
    vote = json.loads(run("ensemble", p("m0.npy"), p("m1.npy"), p("m2.npy"), "--labels", p("labels.npy"),
                          "--combine", "vote", "--worst-k", "2", "--json").stdout)
    votes = np.zeros((n, C))
    for x in members:
        votes[np.arange(n), x.argmax(1)] += 1
    check(close(vote["ensemble"]["accuracy"], (votes.argmax(1) == lab).mean()), "vote accuracy")
    human = run("ensemble", p("m0.npy"), p("m1.npy"), "--labels", p("labels.npy")).stdout
    check("ensemble-size curve" in human, "ensemble table")
    np.save(p("short.npy"), members[0][:10].astype(np.float32))
    r = run("ensemble", p("m0.npy"), p("short.npy"), "--labels", p("labels.npy"), ok=False)
    check(r.returncode == 1 and "short.npy" in r.stderr, "ensemble shape mismatch")

    # ---- factors (design note X1)
    correct = np.array([1, 1, 1, 0, 1, 1, 1, 1, 1, 0], bool)
    F = np.zeros((10, 3), np.uint8)
    F[:4, 0] = 1
    F[4:7, 1] = 1
    np.save(p("correct.npy"), correct)
    np.save(p("factors.npy"), F)
    out = json.loads(run("factors", "--correct", p("correct.npy"), "--factors", p("factors.npy"), "--names",
                         "pose,background,style", "--json").stdout)
    check(close(out["accuracy"], 0.8) and close(out["factors"][0]["error_ratio"], 1.25), "factors X1")
    check(out["factors"][1]["error_ratio"] == 0 and out["factors"][2]["accuracy"] is None, "factors zero/absent")
    check(out["worst_factor"] == "pose", "worst factor")
    human = run("factors", "--correct", p("correct.npy"), "--factors", p("factors.npy")).stdout
    check("worst factor: factor0" in human, "factors table")
    r = run("factors", "--correct", p("correct.npy"), "--factors", p("factors.npy"), "--names", "a,b", ok=False)
    check(r.returncode == 2, "factors wrong name count")

    # ---- demo on a small synthetic Fashion-MNIST-format directory
    d = os.path.join(tmp, "fmnist")
    os.mkdir(d)
    imgs = np.zeros((200, 28, 28), np.uint8)
    labs = np.tile(np.arange(10), 20).astype(np.uint8)
    for i, c in enumerate(labs):
        imgs[i, 2 * c:2 * c + 3, 4:8] = rng.integers(0, 120, (3, 4))
        imgs[i] += rng.integers(0, 130, (28, 28)).astype(np.uint8)

    def idx(path, arr):
        with gzip.open(path, "wb") as f:
            f.write(struct.pack(">I", 0x800 + arr.ndim) + b"".join(struct.pack(">I", s) for s in arr.shape))
            f.write(arr.tobytes())
    idx(os.path.join(d, "t10k-images-idx3-ubyte.gz"), imgs)
    idx(os.path.join(d, "t10k-labels-idx1-ubyte.gz"), labs)
    out = run("demo", "--data", d, "--dim", "64").stdout
    X = imgs.reshape(200, -1).astype(np.float32) / 255
    m = re.search(r"raw pixels\s+([0-9.]+)", out)
    check(m is not None and abs(float(m.group(1)) - np_rankme(X)) < 0.006, "demo raw RankMe: " + out)
    m = re.search(r"Gaussian projection\s+([0-9.]+)", out)
    check(m is not None and 1 < float(m.group(1)) <= 64, "demo projection RankMe")
    fit, ev = slice(0, 100), slice(100, 200)  # no training files: first half fits, second half scores
    Xd = X.astype(np.float64)
    mu = np.stack([Xd[fit][labs[fit] == c].mean(0) for c in range(10)])
    pr = ((Xd[ev][:, None, :] - mu[None]) ** 2).sum(-1).argmin(1)
    m = re.search(r"^accuracy\s+([0-9.]+)", out, re.M)
    ref_acc = (pr == labs[ev]).mean()
    check(0.2 < ref_acc < 0.95, f"synthetic demo data should be neither trivial nor hopeless ({ref_acc})")
    check(m is not None and abs(float(m.group(1)) - ref_acc) < 6e-5, "demo NCM accuracy")
    check("first half of the test set" in out and "worst-3 accuracy" in out and "Ankle boot" in out,
          "demo table")
    r = run("demo", "--data", os.path.join(tmp, "nowhere"), ok=False)
    check(r.returncode == 1 and "dataset-fashion-mnist" in r.stderr, "demo missing data message")

    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)
