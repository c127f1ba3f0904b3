"""Smoke test of examples/theory_compare.py at tiny sizes: the printed table has
the four representations, each well above chance (10 classes) under both
kNN and the linear probe."""
import argparse
import importlib.util
import os

import numpy as np
import pytest

import sslkit

_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.fixture(scope="module")
def example():
    try:
        sslkit.Dataset.open("fashion-mnist", split="test").close()
    except sslkit.Error as e:
        pytest.skip(f"Fashion-MNIST not installed (Debian dataset-fashion-mnist): {e}")
    path = os.path.join(_ROOT, "examples", "theory_compare.py")
    spec = importlib.util.spec_from_file_location("theory_compare", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    threads = sslkit.default_ctx().threads  # main() sets the default context's thread count
    yield mod
    sslkit.set_threads(threads)


def test_views_are_shifted_images(example):
    x = np.random.default_rng(1).random((50, 784)).astype(np.float32)
    v = example.views(x, 2, 2, 0.0, seed=3)
    img = x.reshape(50, 28, 28)
    for i in range(50):
        for a in range(2):
            got = v[i, a].reshape(28, 28)
            # some shift in [-2, 2]^2 of the image with zero fill reproduces the view exactly
            ok = False
            for dy in range(-2, 3):
                for dx in range(-2, 3):
                    ref = np.zeros_like(img[i])
                    ref[max(dy, 0):28 + min(dy, 0), max(dx, 0):28 + min(dx, 0)] = \
                        img[i, max(-dy, 0):28 + min(-dy, 0), max(-dx, 0):28 + min(-dx, 0)]
                    ok |= np.array_equal(got, ref)
            assert ok, (i, a)


def test_table_has_four_rows_above_chance(example, capsys):
    rows = example.main(["--n-train", "400", "--n-test", "200", "--threads", "1", "--rf-dim", "256",
                         "--cf-k", "16", "--spectral-k", "8", "--epochs", "1", "--batch", "64",
                         "--encoder", "flatten,linear:64,bn,relu", "--probe-iter", "60"])
    out = capsys.readouterr().out.splitlines()
    names = ["raw pixels", "closed-form SSL, random features", "Laplacian eigenmaps (transductive)",
             "trained encoder"]
    assert [r["representation"] for r in rows] == names
    assert [r["dim"] for r in rows] == [784, 16, 8, 64]
    table = [line for line in out if any(line.startswith(n) for n in names)]
    assert len(table) == 4
    for line, r in zip(table, rows):
        cols = line[36:].split()
        assert int(cols[0]) == r["dim"]
        assert abs(float(cols[2]) - r["knn_top1"]) < 1e-4 and abs(float(cols[3]) - r["probe_top1"]) < 1e-4
        # chance is 0.1; at 400 images every representation is far above it
        assert r["knn_top1"] > 0.3 and r["probe_top1"] > 0.3, r


def test_encoder_from_run_directory(example, tmp_path):
    ds = sslkit.Dataset.open("fashion-mnist", split="train").subset(np.arange(300))
    tr = sslkit.Trainer("vicreg", data=ds, encoder="flatten,linear:32,bn,relu", epochs=1, batch=64,
                        checkpoint_dir=str(tmp_path))
    tr.fit()
    tr.save()
    rows = example.main(["--n-train", "300", "--n-test", "100", "--threads", "1", "--rf-dim", "128", "--cf-k", "8",
                         "--spectral-k", "4", "--probe-iter", "30", "--run", str(tmp_path)])
    enc = rows[3]
    assert enc["dim"] == 32 and enc["note"] == f"run {tmp_path}, 1 epochs"
    # the row embeds with the saved encoder: the same features as the trainer that wrote it
    z_tr, _, _ = example.encoder(argparse.Namespace(run=str(tmp_path)), ds, ds)
    np.testing.assert_array_equal(z_tr, tr.embed(ds))
    assert enc["knn_top1"] > 0.3 and enc["probe_top1"] > 0.3
