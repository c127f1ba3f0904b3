"""The evaluation harness (issue 15): the eval transform against an
independent numpy antialiased-bilinear reference and torchvision, embed()
against Model.forward on hand-transformed images, and the ImageNet-X report
against a pure-Python computation on an annotation file written here."""
import json
import math
import os

import numpy as np
import pytest

import sslkit


def aa_weights(n, m):
    """m x n antialiased bilinear (triangle) weights of a resize from n to m
    samples, torchvision/PIL convention: centres at (o + 0.5) n / m, support
    max(n / m, 1), taps outside the image dropped and the rest renormalised."""
    scale = n / m
    support = max(scale, 1.0)
    W = np.zeros((m, n))
    xs = np.arange(n) + 0.5
    for o in range(m):
        c = (o + 0.5) * scale
        t = np.maximum(0.0, 1.0 - np.abs(xs - c) / support)
        W[o] = t / t.sum()
    return W


def numpy_eval(img, size, frac=0.875):
    """Resize the shorter side to round(size / frac) (longer truncated), centre crop size."""
    h, w = img.shape[:2]
    s = int(round(size / frac))
    nh, nw = (int(s * h / w), s) if w <= h else (s, int(s * w / h))
    top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
    Wy = aa_weights(h, nh)[top:top + size]
    Wx = aa_weights(w, nw)[left:left + size]
    x = img.astype(np.float64) / 255.0
    return np.stack([Wy @ x[:, :, c] @ Wx.T for c in range(img.shape[2])])


def smooth_image(h, w, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([128 + 100 * np.sin(xx / 17.0 + c) * np.cos(yy / 23.0 - c) for c in range(3)], -1)
    return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


SHAPES = [(375, 500), (500, 333), (180, 240), (300, 300)]


@pytest.mark.parametrize("h,w", SHAPES)
def test_eval_transform_matches_numpy_reference(h, w):
    img = smooth_image(h, w)
    aug = sslkit.eval_transform(224, mean=0.0, std=1.0)
    out = aug.apply(img)
    ref = numpy_eval(img, 224)
    assert out.shape == (3, 224, 224)
    np.testing.assert_allclose(out, ref, atol=2e-6)


def test_eval_transform_normalises_and_other_sizes():
    img = smooth_image(97, 130, seed=3)
    out = sslkit.eval_transform(96, crop_fraction=0.875, mean=(0.4, 0.5, 0.6), std=(0.2, 0.25, 0.3)).apply(img)
    ref = numpy_eval(img, 96)  # round(96 / 0.875) = 110
    ref = (ref - np.array([0.4, 0.5, 0.6])[:, None, None]) / np.array([0.2, 0.25, 0.3])[:, None, None]
    np.testing.assert_allclose(out, ref, atol=2e-5)


def test_eval_transform_matches_torchvision():
    torch = pytest.importorskip("torch")
    T = pytest.importorskip("torchvision.transforms")
    F = pytest.importorskip("torchvision.transforms.functional")
    from PIL import Image
    aug = sslkit.eval_transform(224, mean=0.0, std=1.0)
    for h, w in SHAPES:
        img = smooth_image(h, w, seed=h)
        ours = aug.apply(img)
        ten = F.center_crop(F.resize(torch.from_numpy(img).permute(2, 0, 1).double() / 255, 256, antialias=True),
                            224).numpy()
        np.testing.assert_allclose(ours, ten, atol=1e-5)  # the same filter in float
        pil = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor()])(Image.fromarray(img)).numpy()
        d = np.abs(ours - pil) * 255
        assert d.max() <= 1.0 + 1e-3 and d.mean() < 0.35, (d.max(), d.mean())  # PIL rounds to uint8 per pass


def test_embed_equals_forward_of_transformed_images():
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (7, 40, 52, 3), dtype=np.uint8)
    ds = sslkit.Dataset.from_array(imgs, labels=np.arange(7) % 3)
    model = sslkit.Model.from_spec("conv:4:3:2:1,relu,gap,linear:5", (3, 32, 32), seed=2)
    seen = []
    feats, labels = sslkit.embed(model, ds, image_size=32, batch=3, progress=lambda d, t: seen.append((d, t)))
    aug = sslkit.eval_transform(32)
    x = np.stack([aug.apply(im) for im in imgs])
    ref = model.forward(x)
    np.testing.assert_allclose(feats, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(labels, np.arange(7) % 3)
    assert seen[-1] == (7, 7) and len(seen) == 3
    with pytest.raises(ValueError, match="image_size=224"):
        sslkit.embed(model, ds)
    with pytest.raises(sslkit.Error, match="stopped by the progress callback"):
        sslkit.embed(model, ds, image_size=32, batch=3, progress=lambda d, t: True)


FACTORS = ["pose", "background", "pattern", "color", "smaller", "shape", "partial_view", "subcategory", "texture",
           "larger", "darker", "object_blocking", "person_blocking", "style", "brighter", "multiple_objects"]
FILE_ORDER = ["multiple_objects", "background", "color", "brighter", "darker", "style", "larger", "smaller",
              "object_blocking", "person_blocking", "partial_view", "pattern", "pose", "shape", "subcategory",
              "texture"]


def write_annotations(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def make_rows(n=60, seed=0):
    rng = np.random.default_rng(seed)
    metas = ["dog", "bird", "device"]
    rows = []
    for i in range(n):
        r = {"file_name": f"ILSVRC2012_val_{i:08d}.JPEG", "class": int(rng.integers(0, 5))}
        for f in FILE_ORDER:
            r[f] = int(rng.random() < 0.3)
        r.update(justification="a photo", one_word="photo", metaclass=metas[i % 3])
        rows.append(r)
    return rows


def reference_report(rows, files, preds):
    """Inner join on the base name, then accuracy / error ratio per factor."""
    by = {r["file_name"]: r for r in rows}
    joined = [(by[os.path.basename(f)], int(p)) for f, p in zip(files, preds) if os.path.basename(f) in by]

    def stats(items):
        acc = sum(r["class"] == p for r, p in items) / len(items)
        out = {}
        for f in FACTORS:
            sel = [(r, p) for r, p in items if r[f] == 1]
            fa = sum(r["class"] == p for r, p in sel) / len(sel) if sel else None
            er = (1 - fa) / (1 - acc) if sel and acc < 1 else None
            out[f] = {"count": len(sel), "accuracy": fa, "error_ratio": er}
        return acc, out

    acc, fac = stats(joined)
    meta = {}
    for m in ["dog", "bird", "device"]:
        items = [(r, p) for r, p in joined if r["metaclass"] == m]
        ma, mf = stats(items)
        meta[m] = {"count": len(items), "accuracy": ma, "factors": mf}
    return len(joined), acc, fac, meta


def close(a, b):
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b, abs_tol=1e-12))


def test_imagenet_x_report_matches_pure_python(tmp_path):
    rows = make_rows()
    ann = tmp_path / "imagenet_x_val_multi_factor.jsonl"
    write_annotations(ann, rows)
    rng = np.random.default_rng(5)
    # predictions for 50 annotated files (10 annotated ones missing) and 4 unannotated ones
    files = [f"/data/val/n0{i % 5}/{rows[i]['file_name']}" for i in range(50)] + [f"x/extra_{k}.JPEG" for k in range(4)]
    preds = np.array([rows[i]["class"] if rng.random() < 0.6 else 4 - rows[i]["class"] for i in range(50)]
                     + [0, 1, 2, 3], dtype=np.int64)
    rep = sslkit.imagenet_x_report(ann, preds, files)
    matched, acc, fac, meta = reference_report(rows, files, preds)
    assert (rep["matched"], rep["annotated_without_prediction"], rep["predictions_without_annotation"]) == (50, 10, 4)
    assert matched == 50 and math.isclose(rep["accuracy"], acc, abs_tol=1e-12)
    for f in FACTORS:
        for k in ("count", "accuracy", "error_ratio"):
            assert close(rep["factors"][f][k], fac[f][k]), (f, k, rep["factors"][f][k], fac[f][k])
    for m, v in meta.items():
        assert rep["metaclasses"][m]["count"] == v["count"] and close(rep["metaclasses"][m]["accuracy"], v["accuracy"])
        for f in FACTORS:
            for k in ("count", "accuracy", "error_ratio"):
                assert close(rep["metaclasses"][m]["factors"][f][k], v["factors"][f][k]), (m, f, k)
    present = [f for f in FACTORS if fac[f]["count"]]
    assert rep["worst_factor"] == min(present, key=lambda f: (fac[f]["accuracy"], FACTORS.index(f)))


def test_imagenet_x_errors(tmp_path):
    rows = make_rows(6)
    files = [r["file_name"] for r in rows]
    preds = np.zeros(6, np.int32)
    dup = tmp_path / "dup.jsonl"
    write_annotations(dup, rows + [dict(rows[2])])
    with pytest.raises(sslkit.Error, match=r"'ILSVRC2012_val_00000002.JPEG' appears twice \(lines 3 and 7\)"):
        sslkit.imagenet_x_report(dup, preds, files)
    bad = [dict(r) for r in rows]
    bad[4]["texture"] = 2
    p = tmp_path / "bad.jsonl"
    write_annotations(p, bad)
    with pytest.raises(sslkit.Error, match=r"line 5 \('ILSVRC2012_val_00000004.JPEG'\): factor 'texture' = 2 is not"):
        sslkit.imagenet_x_report(p, preds, files)
    bad[4]["texture"] = "yes"
    write_annotations(p, bad)
    with pytest.raises(sslkit.Error, match="factor 'texture' = \"yes\" is not 0 or 1"):
        sslkit.imagenet_x_report(p, preds, files)
    ok = tmp_path / "ok.jsonl"
    write_annotations(ok, rows)
    with pytest.raises(sslkit.Error, match="appears twice in the predictions"):
        sslkit.imagenet_x_report(ok, np.zeros(7, np.int32), files + ["other/" + files[0]])
    with pytest.raises(sslkit.Error, match="none of the 2 prediction file names is annotated"):
        sslkit.imagenet_x_report(ok, np.zeros(2, np.int32), ["a.JPEG", "b.JPEG"])
    two = [dict(r) for r in rows]
    two[1].update(pose=1, shape=1)
    write_annotations(p, two)
    with pytest.raises(sslkit.Error, match="top-factor file"):
        sslkit.imagenet_x_report(p, preds, files, variant="top")
