"""The evaluation harness from the command line (issue 15): `sslkit embed
--model` + `sslkit eval --features` on the Fashion-MNIST splits give the
numbers of `sslkit eval RUN` for the same encoder; `sslkit embed --model` on
a folder of JPEGs of mixed sizes writes the features of the eval transform,
the labels and the file list; `sslkit factors --annotations` joins an
ImageNet-X file with those files.  The executable comes from conftest.py."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

EXE = None  # set by conftest.py
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*args, ok=True):
    r = subprocess.run([EXE, *args], capture_output=True, text=True, timeout=600)
    if ok and r.returncode != 0:
        raise AssertionError(f"sslkit {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r


def test_embed_then_eval_features_equals_eval_of_the_run():
    with tempfile.TemporaryDirectory() as d:
        rd = os.path.join(d, "run")
        run("train", "--method", "vicreg", "--data", "fashion-mnist", "--out", rd, "--epochs", "1", "--set",
            "subset=512", "--batch", "64", "--encoder", "flatten,linear:16,bn,relu", "--projector", "linear:16",
            "--threads", "2", "--no-eval")
        run("eval", rd, "--threads", "2")
        ref = json.load(open(os.path.join(rd, "report.json")))["results"][0]
        for split in ("train", "test"):
            out = run("embed", "--model", os.path.join(rd, "encoder.sslk"), "--data", "fashion-mnist", "--split",
                      split, "--transform", "resize", "--out", os.path.join(d, f"{split}.npy"), "--threads", "2")
            assert f"{60000 if split == 'train' else 10000} x 16 float32" in out.stdout
        # the same rows as the run's own embedding
        run("embed", rd, "--split", "test", "--out", os.path.join(d, "run_test.npy"), "--threads", "2")
        np.testing.assert_array_equal(np.load(os.path.join(d, "test.npy")), np.load(os.path.join(d, "run_test.npy")))
        np.testing.assert_array_equal(np.load(os.path.join(d, "test_labels.npy")),
                                      np.load(os.path.join(d, "run_test_labels.npy")))
        with open(os.path.join(d, "test_files.txt")) as f:
            assert f.readline() == "test:0\n"
        ev = os.path.join(d, "ev")
        out = run("eval", "--features", os.path.join(d, "train.npy"), "--labels", os.path.join(d, "train_labels.npy"),
                  "--test-features", os.path.join(d, "test.npy"), "--test-labels", os.path.join(d, "test_labels.npy"),
                  "--out", ev, "--threads", "2").stdout
        got = json.load(open(os.path.join(ev, "report.json")))["results"][0]
        for k in ("dim", "knn_top1", "knn_top5", "linear_top1", "linear_l2", "balanced_accuracy", "rankme", "worst3",
                  "class_accuracy"):
            assert got[k] == ref[k], (k, got[k], ref[k])
        assert f"{100 * ref['linear_top1']:.2f}%" in out
        assert os.path.getsize(os.path.join(ev, "per_class.svg")) > 0


FACTORS = ["pose", "background", "pattern", "color", "smaller", "shape", "partial_view", "subcategory", "texture",
           "larger", "darker", "object_blocking", "person_blocking", "style", "brighter", "multiple_objects"]


def test_embed_folder_eval_transform_and_factors():
    from PIL import Image
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        root = os.path.join(d, "val")
        names = []
        for k, cls in enumerate(("n01", "n02")):
            os.makedirs(os.path.join(root, cls))
            for j, (h, w) in enumerate(((40, 60), (75, 50), (64, 64))):
                name = f"ILSVRC2012_val_{3 * k + j:08d}.JPEG"
                img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
                Image.fromarray(img).save(os.path.join(root, cls, name), quality=95)
                names.append(name)
        mpath = os.path.join(d, "m.sslk")
        run("model", "new", "--spec", "conv:4:3:2:1,relu,gap,linear:6", "--input", "3,32,32", "--seed", "1", mpath)
        feats = os.path.join(d, "f.npy")
        r = run("embed", "--model", mpath, "--data", root, "--image-size", "32", "--out", feats, "--batch", "4",
                "--threads", "2")
        assert "6 x 6 float32" in r.stdout and r.stderr == ""  # no progress line without a terminal
        np.testing.assert_array_equal(np.load(os.path.join(d, "f_labels.npy")), [0, 0, 0, 1, 1, 1])
        files = open(os.path.join(d, "f_files.txt")).read().split("\n")[:-1]
        assert files == [os.path.join(root, c, n) for c, n in zip(["n01"] * 3 + ["n02"] * 3, sorted(names))]
        # the same rows as the Python binding's (tests/python/test_harness.py checks those against Model.forward);
        # not in-process under a sanitizer build, whose library needs its runtime preloaded
        if "ASAN_OPTIONS" not in os.environ:
            sys.path.insert(0, os.path.join(ROOT, "python"))
            os.environ.setdefault("SSLKIT_LIBRARY", os.path.join(os.path.dirname(os.path.dirname(EXE)), "lib",
                                                                 "libsslkit.so"))
            import sslkit
            ds = sslkit.Dataset.open(root)
            ds.set("dct_scaling", 0)
            ref, lab = sslkit.embed(sslkit.Model.load(mpath), ds, image_size=32)
            np.testing.assert_allclose(np.load(feats), ref, rtol=1e-6, atol=1e-7)
            assert files == sslkit.item_paths(ds) and sslkit.imagenet_x_factors() == FACTORS
        bad = run("embed", "--model", mpath, "--data", root, "--image-size", "64", "--out", feats, ok=False)
        assert bad.returncode == 2 and "--image-size 64: the model takes 32 x 32" in bad.stderr
        # a checkpoint whose tensors sit under "backbone.": by name with --prefix, the same rows
        st = os.path.join(d, "ck.safetensors")
        run("model", "convert", mpath, st, "--prefix", "backbone.")
        spec = ["--spec", "conv:4:3:2:1,relu,gap,linear:6", "--image-size", "32"]
        run("embed", "--model", st, *spec, "--prefix", "backbone.", "--data", root, "--out", os.path.join(d, "g.npy"))
        np.testing.assert_array_equal(np.load(os.path.join(d, "g.npy")), np.load(feats))
        pre = run("embed", "--model", st, *spec, "--data", root, "--out", os.path.join(d, "h.npy"), ok=False)
        assert pre.returncode == 1 and "backbone." in pre.stderr, pre.stderr  # strict: names do not match
        pre = run("embed", "--model", st, *spec, "--non-strict", "--data", root, "--out", os.path.join(d, "h.npy"),
                  ok=False)
        assert pre.returncode == 1 and "lacks 4 of the model's tensors" in pre.stderr, pre.stderr
        pre = run("embed", "--model", mpath, "--prefix", "x.", "--data", root, "--out", feats, ok=False)
        assert pre.returncode == 2 and "are for .safetensors models" in pre.stderr
        # ImageNet-X: annotate 5 of the 6 files (class 0 for n01, 1 for n02), predict class 0 everywhere
        ann = os.path.join(d, "ann.jsonl")
        with open(ann, "w") as f:
            for i, name in enumerate(names[:5]):
                row = {"file_name": name, "class": i // 3}
                row.update({fa: 0 for fa in FACTORS})
                row["pose"] = int(i % 2 == 0)
                row.update(justification="", one_word="", metaclass="dog" if i < 3 else "bird")
                f.write(json.dumps(row) + "\n")
        preds = os.path.join(d, "p.npy")
        np.save(preds, np.zeros(len(files), np.int64))
        js = json.loads(run("factors", "--annotations", ann, "--predictions", preds, "--files",
                            os.path.join(d, "f_files.txt"), "--json").stdout)
        assert (js["matched"], js["annotated_without_prediction"], js["predictions_without_annotation"]) == (5, 0, 1)
        assert js["accuracy"] == 3 / 5
        pose = js["factors"][0]
        # pose on names 0, 2 (class 0, correct) and 4 (class 1, wrong): acc 2/3, ratio (1/3) / (2/5)
        assert pose["name"] == "pose" and pose["count"] == 3 and abs(pose["accuracy"] - 2 / 3) < 1e-9
        assert abs(pose["error_ratio"] - (1 / 3) / (2 / 5)) < 1e-9
        assert [m["name"] for m in js["metaclasses"]] == ["dog", "bird"] and js["metaclasses"][1]["accuracy"] == 0
        with open(ann, "a") as f:
            f.write(json.dumps(dict(json.loads(open(ann).readline()), pose=7)) + "\n")
        bad = run("factors", "--annotations", ann, "--predictions", preds, "--files", os.path.join(d, "f_files.txt"),
                  ok=False)
        assert bad.returncode == 1 and "line 6" in bad.stderr and "'pose' = 7 is not 0 or 1" in bad.stderr
