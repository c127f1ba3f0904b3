"""sslkit.Dataset / Augment / Loader against numpy reimplementations."""
import gzip
import struct

import numpy as np
import pytest

import sslkit


def _idx(arr):
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    return bytes([0, 0, 8, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape) + arr.tobytes()


@pytest.fixture
def idx_dir(tmp_path):
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (12, 6, 5), dtype=np.uint8)
    labs = rng.integers(0, 10, 12, dtype=np.uint8)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(imgs)))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(labs)))
    return tmp_path, imgs, labs


def test_idx_dataset_matches_numpy(idx_dir):
    path, imgs, labs = idx_dir
    ds = sslkit.Dataset.open(str(path))
    assert len(ds) == 12 and ds.shape == (6, 5, 1) and ds.kind == "idx"
    np.testing.assert_array_equal(ds.labels, labs)
    assert ds.num_classes == labs.max() + 1
    for i in (0, 7, -1):
        np.testing.assert_array_equal(ds[i][..., 0], imgs[i])


def test_errors_name_the_problem(tmp_path):
    (tmp_path / "bad-images-idx3-ubyte").write_bytes(_idx(np.zeros((2, 3, 3)))[:-1])
    with pytest.raises(sslkit.Error) as e:
        sslkit.Dataset.open(str(tmp_path / "bad-images-idx3-ubyte"))
    assert e.value.status_name == "SSLK_E_FORMAT" and "truncated" in e.value.message
    with pytest.raises(sslkit.Error) as e:
        sslkit.Dataset.open(str(tmp_path / "missing"))
    assert e.value.status_name == "SSLK_E_NOT_FOUND"


def test_npy_float_images(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (4, 3, 2, 3)).astype(np.float32) / 255
    np.save(tmp_path / "x_train.npy", x)
    np.save(tmp_path / "y_train.npy", np.array([3, 1, 0, 2], dtype=np.int16))
    ds = sslkit.Dataset.open(str(tmp_path))
    assert ds.kind == "npy" and ds.shape == (3, 2, 3)
    np.testing.assert_array_equal(ds[2], np.round(x[2] * 255).astype(np.uint8))
    np.testing.assert_array_equal(ds.labels, [3, 1, 0, 2])


def _plain(size, **kw):
    return sslkit.Augment(views=1, preset="plain", size=size, **kw)


def test_plain_flip_gray_solarize_normalise_reference():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (7, 7, 3), dtype=np.uint8)
    ref = img.transpose(2, 0, 1).astype(np.float64) / 255
    np.testing.assert_allclose(_plain(7).apply(img), ref, atol=1e-6)
    np.testing.assert_allclose(_plain(7, flip_p=1).apply(img), ref[:, :, ::-1], atol=1e-6)
    gray = 0.299 * ref[0] + 0.587 * ref[1] + 0.114 * ref[2]
    np.testing.assert_allclose(_plain(7, gray_p=1).apply(img), np.stack([gray] * 3), atol=1e-5)
    sol = np.where(img.transpose(2, 0, 1) >= 128, 1 - ref, ref)
    np.testing.assert_allclose(_plain(7, solarize_p=1).apply(img), sol, atol=1e-6)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    out = _plain(7, mean=mean, std=std).apply(img)
    np.testing.assert_allclose(out, (ref - np.array(mean)[:, None, None]) / np.array(std)[:, None, None],
                               rtol=1e-5, atol=1e-5)


def test_center_crop_and_downscale_reference():
    img = np.tile((np.arange(40) * 6).astype(np.uint8)[None, :, None], (40, 1, 1))
    aug = _plain(20, crop=2, center_fraction=0.5)
    np.testing.assert_allclose(aug.apply(img)[0, 3], np.arange(10, 30) * 6 / 255, atol=1e-5)
    # 2x box-like downscale of a linear ramp keeps the ramp at the pixel-pair centres
    ramp = np.tile(np.arange(0, 240, 6, dtype=np.uint8)[None, :, None], (40, 1, 1))
    small = _plain(20).apply(ramp)[0, 10]
    np.testing.assert_allclose(small[2:-2], (np.arange(20)[2:-2] * 2 + 0.5) * 6 / 255, atol=1e-4)


def test_recipe_settings_round_trip():
    aug = sslkit.Augment(views=3, preset="vicreg", per_view=[{}, {}, {"size": 96, "scale_max": 0.4}])
    assert aug.get("blur_p", 0) == 1.0 and aug.get("blur_p", 1) == pytest.approx(0.1)
    assert aug.get("solarize_p", 1) == pytest.approx(0.2)
    assert aug.out_shape(2, 3) == (3, 96, 96) and aug.out_shape(0, 1) == (1, 224, 224)
    with pytest.raises(sslkit.Error) as e:
        aug.set("flip_p", 2.0)
    assert e.value.status_name == "SSLK_E_SETTING"
    with pytest.raises(KeyError):
        aug.set("no_such_setting", 1)


def test_plain_loader_is_sequential_numpy_batches():
    rng = np.random.default_rng(4)
    imgs = rng.integers(0, 256, (10, 4, 3, 3), dtype=np.uint8)
    ds = sslkit.Dataset.from_array(imgs, labels=np.arange(10) % 3)
    got = list(sslkit.Loader.plain(ds, batch_size=4))
    assert [len(b[-1]) for b in got] == [4, 4, 2]
    x = np.concatenate([b[0] for b in got])
    np.testing.assert_allclose(x, imgs.transpose(0, 3, 1, 2) / 255, atol=1e-6)
    np.testing.assert_array_equal(np.concatenate([b[2] for b in got]), np.arange(10))
    np.testing.assert_array_equal(np.concatenate([b[1] for b in got]), np.arange(10) % 3)


def _epoch(ds, aug, workers, seed=5, epoch=0):
    ld = sslkit.Loader(ds, aug, batch_size=16, seed=seed, workers=workers, epoch=epoch)
    return [tuple(a.copy() for a in b) for b in ld], ld.stats


def test_two_view_loader_deterministic_and_reproducible():
    rng = np.random.default_rng(6)
    imgs = rng.integers(0, 256, (70, 24, 20, 3), dtype=np.uint8)
    ds = sslkit.Dataset.from_array(imgs, labels=np.arange(70) % 5)
    aug = sslkit.Augment(views=2, preset="vicreg", size=16, mean=0.5, std=0.25)
    a, st = _epoch(ds, aug, 1)
    b, _ = _epoch(ds, aug, 2)
    assert len(a) == 4 and st["images"] == 64 and st["failures"] == 0  # drop_last
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            np.testing.assert_array_equal(u, v)
    idx = np.concatenate([x[3] for x in a])
    assert len(np.unique(idx)) == 64 and not np.array_equal(idx, np.arange(64))
    np.testing.assert_array_equal(np.concatenate([x[2] for x in a]), idx % 5)
    # row r of view 1 is Augment.apply(image idx[r], view 1, seed, epoch, idx[r])
    v1, i0 = a[0][1], a[0][3]
    np.testing.assert_array_equal(v1[3], aug.apply(imgs[i0[3]], view=1, seed=5, epoch=0, index=int(i0[3])))
    c, _ = _epoch(ds, aug, 2, epoch=1)
    assert not np.array_equal(np.concatenate([x[3] for x in c]), idx)


def test_fashion_mnist_by_name():
    ds = sslkit.Dataset.open("fashion-mnist", split="test")
    assert len(ds) == 10000 and ds.shape == (28, 28, 1) and ds.num_classes == 10
    assert np.bincount(ds.labels).tolist() == [1000] * 10
    # the dataset carries its statistics (of the training split) and class names
    mean, std = ds.mean_std()
    px = np.stack([ds[i] for i in range(0, len(ds), 7)]).astype(np.float64) / 255.0
    assert abs(mean - px.mean()) < 0.005 and abs(std - px.std()) < 0.005
    assert ds.class_names == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                              "Sneaker", "Bag", "Ankle boot"]  # torchvision's FashionMNIST.classes
    sub = ds.subset([3, 1])
    assert sub.mean_std() == (mean, std) and sub.class_names == ds.class_names
    plain = sslkit.Dataset.from_array(np.zeros((2, 4, 4), np.uint8), labels=np.array([0, 1], np.int32))
    assert plain.mean_std() is None and plain.class_names is None


def test_multi_crop_loader_shapes():
    imgs = np.random.default_rng(7).integers(0, 256, (20, 16, 16), dtype=np.uint8)
    ds = sslkit.Dataset.from_array(imgs)
    aug = sslkit.Augment(views=3, preset="vicreg", size=12,
                         per_view=[{}, {}, {"size": 6, "scale_min": 0.05, "scale_max": 0.4}])
    batches = list(sslkit.Loader(ds, aug, batch_size=8, views=3, seed=1))
    assert len(batches) == 2
    g0, g1, loc, lab, idx = batches[0]
    assert g0.shape == g1.shape == (8, 1, 12, 12) and loc.shape == (8, 1, 6, 6)
    assert (lab == -1).all() and idx.dtype == np.int64


def test_subset_reads_parent_items_after_parent_is_dropped(idx_dir):
    path, imgs, labs = idx_dir
    pick = np.array([11, 0, 5, 5])
    sub = sslkit.Dataset.open(str(path)).subset(pick)  # parent only referenced by the subset
    import gc
    gc.collect()
    assert len(sub) == 4 and sub.shape == (6, 5, 1) and sub.kind == "idx"
    np.testing.assert_array_equal(sub.labels, labs[pick])
    for i, j in enumerate(pick):
        np.testing.assert_array_equal(sub[i][..., 0], imgs[j])
    x = np.concatenate([b[0] for b in sslkit.Loader.plain(sub, batch_size=3)])
    np.testing.assert_allclose(x[:, 0], imgs[pick] / 255, atol=1e-6)
    with pytest.raises(sslkit.Error, match=r"indices\[1\] = 12"):
        sub.subset([0, 12])  # the subset has 4 items; 12 is out of range for the parent as for it
    with pytest.raises(ValueError):
        sub.subset([-1])
    with pytest.raises(sslkit.Error):
        sub.subset([])


def test_aug_seed_keeps_draws_when_the_order_changes():
    rng = np.random.default_rng(9)
    ds = sslkit.Dataset.from_array(rng.integers(0, 256, (16, 12, 12, 3), dtype=np.uint8))
    aug = sslkit.Augment(views=2, preset="vicreg", size=8)

    def epoch(seed, aug_seed):
        v0, v1, _, idx = next(iter(sslkit.Loader(ds, aug, batch_size=16, seed=seed, aug_seed=aug_seed)))
        order = np.argsort(idx)
        return idx, v0[order], v1[order]
    ia, a0, a1 = epoch(1, 5)
    ib, b0, b1 = epoch(2, 5)
    ic, c0, _ = epoch(1, 6)
    assert not np.array_equal(ia, ib) and np.array_equal(ia, ic)
    assert np.array_equal(a0, b0) and np.array_equal(a1, b1)  # same draws per datum
    assert not np.array_equal(a0, c0)
