"""Smoke test of the training commands on a tiny NPY dataset written here:
`sslkit train` writes its checkpoint, history, report and plots with values
that agree with each other; `sslkit resume` continues the history; `sslkit
eval` reproduces the report; DIET's subset shows in the protocol;
`sslkit train-ensemble --vary` names what varies and refuses unknown sources.
The executable comes from the sslkit_cli fixture (tests/cli/conftest.py)."""
import csv
import json
import os
import subprocess
import tempfile

import numpy as np

EXE = None  # the sslkit executable, set by conftest.py
SMALL = ["--batch", "16", "--encoder", "flatten,linear:16,bn,relu", "--threads", "1"]


def run(*args, ok=True):
    r = subprocess.run([EXE, *args], capture_output=True, text=True, timeout=300)
    if ok and r.returncode != 0:
        raise AssertionError(f"sslkit {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r


def write_data(d):
    """Four 8x8 patterns (bars, columns, blob, diagonal) with noise."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 96), ("test", 40)):
        y = np.arange(n) % 4
        x = np.full((n, 8, 8), 30, np.int64)
        for i, k in enumerate(y):
            if k == 0:
                x[i, [2, 5]] = 200
            elif k == 1:
                x[i, :, [3, 4]] = 200
            elif k == 2:
                x[i, 3:5, 3:5] = 200
            else:
                np.fill_diagonal(x[i], 200)
        x += rng.integers(0, 40, x.shape)
        np.save(os.path.join(d, f"{split}_images.npy"), x.astype(np.uint8))
        np.save(os.path.join(d, f"{split}_labels.npy"), y.astype(np.int64))


def history(run_dir):
    with open(os.path.join(run_dir, "history.csv")) as f:
        return list(csv.DictReader(f))


def test_cli_train():
    with tempfile.TemporaryDirectory() as d:
        write_data(d)
        r1 = os.path.join(d, "r1")
        out = run("train", "--method", "vicreg", "--data", d, "--out", r1, "--epochs", "2",
                  "--projector", "linear:16", *SMALL).stdout
        for f in ("checkpoint.sslkt", "encoder.sslk", "report.json", "loss.png", "loss.svg", "rankme.png",
                  "per_class.png", "per_class.svg"):
            assert os.path.getsize(os.path.join(r1, f)) > 0, f
        rep = json.load(open(os.path.join(r1, "report.json")))
        assert rep["protocol"].startswith("protocol: vicreg, 2/2 epochs, batch 16"), rep["protocol"]
        row = rep["results"][0]
        assert row["name"] == "vicreg" and row["dim"] == 16
        # the printed table carries the report's numbers
        assert f"{100 * row['linear_top1']:.2f}%" in out and f"{100 * row['knn_top1']:.2f}%" in out, out
        assert abs(row["worst3"] - np.sort(row["class_accuracy"])[:3].mean()) < 1e-9
        mask = os.umask(0)
        os.umask(mask)
        for f in ("report.json", "history.csv", "checkpoint.sslkt", "loss.png"):
            assert os.stat(os.path.join(r1, f)).st_mode & 0o777 == 0o666 & ~mask, f  # as fopen would
        assert not [f for f in os.listdir(r1) if ".tmp." in f]
        h = history(r1)
        assert [int(e["epoch"]) for e in h] == [1, 2]
        assert all(float(e["loss"]) > 0 for e in h)
        # resume continues the same run; eval reproduces the report
        run("resume", r1, "--epochs", "3", "--data", d, "--no-eval", "--threads", "1")
        assert [int(e["epoch"]) for e in history(r1)] == [1, 2, 3]
        assert [e["loss"] for e in history(r1)[:2]] == [e["loss"] for e in h]
        ev = run("eval", r1, "--data", d, "--threads", "1").stdout
        assert "vicreg" in ev and "3/3 epochs" in ev, ev
        # DIET trains on its subset and says so
        r2 = os.path.join(d, "r2")
        run("train", "--method", "diet", "--data", d, "--out", r2, "--epochs", "1", "--set", "subset=40",
            "--set", "optimizer=sgd", "--no-eval", *SMALL)  # a choice by its name (from the library)
        ev = run("eval", r2, "--data", d, "--threads", "1").stdout
        assert "over a 40-image subset" in ev, ev
        r = run("train", "--method", "diet", "--data", d, "--out", r2, "--set", "subset=1", *SMALL, ok=False)
        assert r.returncode != 0 and "subset of 1 item" in r.stderr, r.stderr
        r = run("train", "--method", "diet", "--data", d, "--out", r2, "--set", "optimizer=adam", *SMALL, ok=False)
        assert r.returncode == 2 and "--set optimizer: 'adam' is not one of sgd, lars, adamw" in r.stderr, r.stderr
        # FAIR-Ensemble: the sources of randomness by name
        e = os.path.join(d, "ens")
        out = run("train-ensemble", "--members", "2", "--vary", "init,order,augment", "--data", d, "--out", e,
                  "--epochs", "1", *SMALL).stdout
        assert "2 supervised members varying init+order+augment" in out, out
        assert os.path.getsize(os.path.join(e, "ensemble.png")) > 0
        out = run("train-ensemble", "--members", "2", "--vary", "augment", "--data", d, "--out", e,
                  "--epochs", "1", *SMALL).stdout
        assert "varying augment," in out, out
        r = run("train-ensemble", "--vary", "init,bogus", "--data", d, ok=False)
        assert r.returncode == 2 and "'bogus' is not init, order, augment or data" in r.stderr, r.stderr
