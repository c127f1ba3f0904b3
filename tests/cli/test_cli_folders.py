"""`sslkit train --data FOLDER` on a folder of mixed-size JPEGs as real
collections hold them (sizes 40-600 px, some grayscale, some CMYK, a PNG
named .jpg, one corrupt file): trains at --image-size with a standard
recipe, measures per-channel statistics once and keeps them in the run,
writes a report, and resumes.  Needs PIL (python3-pil) to write the JPEGs.
The executable comes from the sslkit_cli fixture (tests/cli/conftest.py)."""
import csv
import json
import os
import subprocess
import tempfile

import numpy as np
import pytest

EXE = None  # the sslkit executable, set by conftest.py
Image = pytest.importorskip("PIL.Image")
ENCODER = os.environ.get("SSLKIT_FOLDER_ENCODER", "resnet18-cifar")


def run(*args, ok=True):
    r = subprocess.run([EXE, *args], capture_output=True, text=True, timeout=300)
    if ok and r.returncode != 0:
        raise AssertionError(f"sslkit {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r


def write_folder(root):
    """Two classes (warm / cool colours) of 8 images each, sizes 40-600 px."""
    rng = np.random.default_rng(0)
    sizes = [(40, 52), (600, 410), (75, 75), (123, 301), (480, 64), (96, 128), (250, 250), (57, 600)]
    for c, name in enumerate(("cool", "warm")):
        d = os.path.join(root, name)
        os.makedirs(d)
        for k, (h, w) in enumerate(sizes):
            base = np.array([40, 90, 200] if c == 0 else [210, 90, 40], np.int64)
            y, x = np.mgrid[0:h, 0:w]
            img = base + 30 * np.sin(x[..., None] / (5 + k)) + rng.integers(-25, 26, (h, w, 3))
            im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
            path = os.path.join(d, f"img{k:02d}.jpg")
            if k == 3:
                im = im.convert("L")  # grayscale JPEG
            elif k == 5:
                im = im.convert("CMYK")  # Adobe CMYK
            if k == 7:
                im.save(path, "PNG")  # a PNG named .jpg
            else:
                im.save(path, "JPEG", quality=88, progressive=k == 4)
    with open(os.path.join(root, "warm", "img06.jpg"), "rb") as f:
        data = f.read()
    with open(os.path.join(root, "warm", "img06.jpg"), "wb") as f:
        f.write(data[: len(data) // 3])  # the corrupt one


def test_cli_train_on_a_mixed_folder():
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "photos")
        write_folder(data)
        r1 = os.path.join(d, "run")
        common = ["--data", data, "--threads", "2", "--batch", "8", "--on-corrupt", "skip"]
        # without --on-corrupt skip the corrupt file stops training, named (a small encoder: this fails fast)
        r = run("train", "--data", data, "--image-size", "32", "--encoder", "conv:8:3:2:1,relu,gap", "--method",
                "simclr", "--epochs", "1", "--batch", "8", "--out", r1, "--threads", "2", ok=False)
        assert r.returncode != 0 and "img06.jpg" in r.stderr, r.stderr
        # augmentation settings by name, per view; bad values are usage errors naming the option
        small = ["--image-size", "32", "--encoder", "conv:8:3:2:1,relu,gap", "--out", r1, *common]
        r = run("train", "--set", "blur_p:1=1.5", *small, ok=False)
        assert r.returncode == 2 and "--set blur_p:1" in r.stderr, r.stderr
        r = run("train", "--set", "blur_q=0.5", *small, ok=False)
        assert r.returncode == 2 and "no such trainer, loss or augmentation setting" in r.stderr, r.stderr
        r = run("train", "--recipe", "swav", *small, ok=False)
        assert r.returncode == 2 and "'swav' is not one of auto, light, simclr, vicreg, byol, msn" in r.stderr
        err = run("train", "--image-size", "64", "--encoder", ENCODER, "--method", "simclr", "--epochs", "2",
                  "--out", r1, *common).stderr
        assert "skipped item" in err and "img06.jpg" in err, err  # skipped, and named
        rep = json.load(open(os.path.join(r1, "report.json")))
        assert rep["protocol"].startswith("protocol: simclr, 2/2 epochs, batch 8"), rep["protocol"]
        row = rep["results"][0]
        assert 0.0 <= row["knn_top1"] <= 1.0 and np.isfinite(row["rankme"])
        with open(os.path.join(r1, "history.csv")) as f:
            h = list(csv.DictReader(f))
        assert [int(e["epoch"]) for e in h] == [1, 2] and all(np.isfinite(float(e["loss"])) for e in h)
        # resume continues the same run (image size, recipe, skip policy and the
        # measured per-channel statistics are kept in the checkpoint)
        run("resume", r1, "--epochs", "3", "--no-eval", "--data", data, "--threads", "2")  # skip kept in the run
        with open(os.path.join(r1, "history.csv")) as f:
            h3 = list(csv.DictReader(f))
        assert [int(e["epoch"]) for e in h3] == [1, 2, 3]
        assert [e["loss"] for e in h3[:2]] == [e["loss"] for e in h]
