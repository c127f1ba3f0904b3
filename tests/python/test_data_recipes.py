"""Standard recipes and the colour ops against torchvision's functional ops
applied with the very parameters sslk_augment_draw reports."""
import numpy as np
import pytest

import sslkit


def test_recipes_set_the_papers_parameters():
    a = sslkit.Augment(views=2, size=224, recipe="simclr")
    for v in (0, 1):
        assert [a.get(k, v) for k in ("scale_min", "scale_max", "ratio_min", "ratio_max", "flip_p")] == \
            pytest.approx([0.08, 1.0, 3 / 4, 4 / 3, 0.5])
        assert [a.get(k, v) for k in ("jitter_p", "brightness", "contrast", "saturation", "hue", "gray_p")] == \
            pytest.approx([0.8, 0.4, 0.4, 0.4, 0.1, 0.2])
        assert [a.get(k, v) for k in ("blur_p", "blur_kernel_fraction", "solarize_p")] == pytest.approx([0.5, 0.1, 0])
    assert sslkit.Augment(views=2, size=32, recipe="simclr").get("blur_p") == 0.0  # CIFAR-size: no blur
    for name in ("vicreg", "byol"):
        b = sslkit.Augment(views=2, size=96, recipe=name)
        assert [b.get("blur_p", 0), b.get("blur_p", 1)] == pytest.approx([1.0, 0.1])
        assert [b.get("solarize_p", 0), b.get("solarize_p", 1)] == pytest.approx([0.0, 0.2])
        assert b.get("saturation") == pytest.approx(0.2)
    m = sslkit.Augment(views=4, size=64, recipe="msn")
    assert [m.get("scale_min", v) for v in range(4)] == pytest.approx([0.3, 0.3, 0.05, 0.05])
    assert [m.get("scale_max", v) for v in range(4)] == pytest.approx([1.0, 1.0, 0.3, 0.3])
    # every parameter stays overridable
    m.set("blur_p", 0.25, view=1)
    assert m.get("blur_p", 1) == 0.25 and m.get("blur_p", 0) == 0.5
    with pytest.raises(sslkit.Error, match="unknown recipe 'nope'"):
        sslkit.Augment(views=1, recipe="nope")


def test_simclr_blur_kernel_is_ten_percent():
    a = sslkit.Augment(views=1, size=224, recipe="simclr", blur_p=1.0)
    d = a.draw((300, 400, 3), index=3)
    assert d["blur_radius"] == 11 and 0.1 <= d["blur_sigma"] <= 2.0  # kernel 23 at 224, as BYOL's
    assert 0.08 * 300 * 400 * 0.99 <= d["crop_w"] * d["crop_h"] <= 300 * 400


def _reference(F, torch, img, d, thr, mean, std):
    t = torch.from_numpy(img).permute(2, 0, 1).double() / 255.0
    if d["jitter"]:
        for op in d["order"]:
            if op == 0:
                t = F.adjust_brightness(t, d["brightness"])
            elif op == 1:
                t = F.adjust_contrast(t, d["contrast"])
            elif op == 2:
                t = F.adjust_saturation(t, d["saturation"])
            else:
                t = F.adjust_hue(t, d["hue"])
    if d["gray"]:
        t = F.rgb_to_grayscale(t, num_output_channels=3)
    if d["blur_sigma"] > 0:
        k = 2 * d["blur_radius"] + 1
        t = F.gaussian_blur(t.float(), [k, k], [d["blur_sigma"]] * 2).double()
    pre = t.clone()
    if d["solarize"]:
        t = F.solarize(t, thr)
    t = (t - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    return t.numpy(), pre.numpy()


def test_colour_ops_match_torchvision_functional():
    torch = pytest.importorskip("torch")
    F = pytest.importorskip("torchvision.transforms.functional")
    S = 40
    rng = np.random.default_rng(7)
    img = rng.integers(0, 256, (S, S, 3), dtype=np.uint8)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    # whole image at its own size (the resize is then the identity), every op likely
    a = sslkit.Augment(views=1, size=S, recipe="simclr", crop="resize", flip_p=0, jitter_p=0.9, gray_p=0.3,
                       blur_p=0.5, solarize_p=0.5, mean=mean, std=std)
    seen = set()
    for index in range(24):
        d = a.draw(img.shape, index=index)
        got = a.apply(img, index=index)
        ref, pre = _reference(F, torch, img, d, 128 / 255, mean, std)
        # a pixel within 2e-3 of the solarise threshold may land on either side
        # (grayscale weights 0.299 here, 0.2989 in torchvision)
        ok = ~(d["solarize"] & (np.abs(pre - 128 / 255) < 2e-3))
        np.testing.assert_allclose(got[ok], ref[ok], atol=2e-3 / 0.224, err_msg=str(d))
        seen |= {k for k in ("jitter", "gray", "solarize") if d[k]} | ({"blur"} if d["blur_sigma"] > 0 else set())
    assert seen == {"jitter", "gray", "solarize", "blur"}
