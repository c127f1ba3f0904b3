"""sslkit.Trainer on a folder of images of different sizes: image_size and
recipe as settings, per-channel statistics measured once (numpy reference on
solid-colour images) and kept by resume."""
import numpy as np
import pytest

import sslkit

Image = pytest.importorskip("PIL.Image")


def test_trainer_on_mixed_sizes(tmp_path):
    colours = [(200, 30, 40), (20, 180, 60), (90, 90, 250), (250, 250, 20), (10, 10, 10), (128, 64, 200)]
    sizes = [(31, 20), (17, 40), (64, 64), (90, 23), (33, 50), (41, 77)]
    for k, (col, (h, w)) in enumerate(zip(colours, sizes)):
        d = tmp_path / ("a" if k % 2 else "b")
        d.mkdir(exist_ok=True)
        Image.fromarray(np.full((h, w, 3), col, np.uint8)).save(d / f"{k}.png")  # lossless: exact colours
    ds = sslkit.Dataset.open_folder(tmp_path)
    assert ds.shape[:2] == (0, 0)
    tr = sslkit.Trainer("simclr", data=ds, encoder="conv:8:3:2:1,bn,relu,gap,linear:16", projector="linear:8",
                        image_size=12, batch=3, epochs=1, recipe="simclr", checkpoint_dir=tmp_path)
    assert tr.get("norm_mode") == 2 and tr.get("recipe") == 2
    tr.fit()
    mean, std = tr.normalization
    ref = np.array(colours, float) / 255.0  # every view of a solid image is its colour
    np.testing.assert_allclose(mean, ref.mean(0), atol=1e-4)
    np.testing.assert_allclose(std, ref.std(0), atol=1e-4)
    assert tr.get("norm_mode") == 1
    back = sslkit.Trainer.resume(tmp_path / "checkpoint.sslkt", data=ds)
    assert back.normalization == (mean, std) and back.get("image_size") == 12
    z = back.embed(ds)
    assert z.shape == (6, 16) and np.isfinite(z).all()


def test_gray_data_into_an_rgb_encoder_is_converted():
    rng = np.random.default_rng(0)
    ds = sslkit.Dataset.from_array(rng.integers(0, 256, (16, 8, 8), dtype=np.uint8), labels=np.arange(16) % 2)
    tr = sslkit.Trainer("vicreg", data=ds, encoder="flatten,linear:8,bn,relu", projector="linear:8",
                        image_channels=3, batch=4, epochs=1)
    tr.fit()  # the loader's views must be 3 x 8 x 8 (gray replicated) for this encoder
    z = tr.embed(ds)
    assert z.shape == (16, 8) and np.isfinite(z).all()
    with pytest.raises(sslkit.Error, match="must be 0, 1 or 3"):
        sslkit.Trainer("vicreg", data=ds, encoder="flatten,linear:8", image_channels=2)
