"""Image files as real collections hold them: every JPEG kind decoded equal to
libjpeg-turbo's own tjDecompress2 (called here through ctypes) converted the
documented way, PNG variants equal to the pixels written, and broken files
named by the loader's fail / skip policy.  PIL (python3-pil) writes the JPEGs."""
import ctypes
import ctypes.util
import os
import struct
import zlib

import numpy as np
import pytest

import sslkit

Image = pytest.importorskip("PIL.Image")

TJPF_RGB, TJPF_CMYK = 0, 11


def _tj():
    name = ctypes.util.find_library("turbojpeg") or "libturbojpeg.so.0"
    lib = ctypes.CDLL(name)
    lib.tjInitDecompress.restype = ctypes.c_void_p
    lib.tjDecompressHeader3.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_ulong] + [
        ctypes.POINTER(ctypes.c_int)] * 4
    lib.tjDecompress2.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_int,
                                  ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.tjDestroy.argtypes = [ctypes.c_void_p]
    return lib


def tj_decode(data, pf):
    """libjpeg-turbo's tjDecompress2 at full size, flags 0 (accurate IDCT, fancy upsampling)."""
    lib = _tj()
    h = lib.tjInitDecompress()
    w_, h_, sub, cs = (ctypes.c_int() for _ in range(4))
    assert lib.tjDecompressHeader3(h, data, len(data), ctypes.byref(w_), ctypes.byref(h_), ctypes.byref(sub),
                                   ctypes.byref(cs)) == 0
    ch = 4 if pf == TJPF_CMYK else 3
    out = np.zeros((h_.value, w_.value, ch), dtype=np.uint8)
    assert lib.tjDecompress2(h, data, len(data), out.ctypes.data, w_.value, 0, h_.value, pf, 0) == 0
    lib.tjDestroy(h)
    return out, cs.value


def cmyk_to_rgb(cmyk, inverted):
    """The documented rule: R = (255 - C)(255 - K) / 255 on ink values, rounded;
    Adobe files store 255 - ink."""
    v = cmyk.astype(np.int64)
    if not inverted:
        v = 255 - v
    return ((v[..., :3] * v[..., 3:4] + 127) // 255).astype(np.uint8)


def photo(h, w, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 127 // max(h + w - 2, 1)], -1)
    return np.clip(base + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)


def exif_orientation(value):
    """A minimal EXIF block (little-endian TIFF, one IFD entry: Orientation)."""
    ifd = struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, value) + struct.pack("<I", 0)
    return b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd


def write_kinds(root):
    """One class folder per kind; returns {relative path: kind}."""
    d = root / "a"
    d.mkdir()
    rgb = photo(37, 53, 1)
    kinds = {}

    def save(name, im, **kw):
        im.save(d / name, "JPEG", quality=90, **kw)
        kinds[f"a/{name}"] = name

    save("s444.jpg", Image.fromarray(rgb), subsampling=0)
    save("s422.jpg", Image.fromarray(rgb), subsampling=1)
    save("s420.jpg", Image.fromarray(rgb), subsampling=2)
    save("prog.jpg", Image.fromarray(rgb), progressive=True)
    save("gray.jpg", Image.fromarray(rgb[..., 1]))
    save("cmyk.jpg", Image.fromarray(rgb).convert("CMYK"))
    save("exif6.jpg", Image.fromarray(rgb), exif=exif_orientation(6))
    Image.fromarray(rgb).save(d / "png_named.jpg", "PNG")
    kinds["a/png_named.jpg"] = "png_named.jpg"
    return kinds, rgb


def test_every_jpeg_kind_equals_tjdecompress2(tmp_path):
    kinds, rgb = write_kinds(tmp_path)
    ds = sslkit.Dataset.open_folder(tmp_path)
    names = sorted(kinds)  # the folder reader lists files in byte order
    assert len(ds) == len(names)
    for i, rel in enumerate(names):
        data = (tmp_path / rel).read_bytes()
        got = ds[i]
        if rel.endswith("png_named.jpg"):
            np.testing.assert_array_equal(got, rgb)  # sniffed as PNG: lossless
            continue
        ref, cs = tj_decode(data, TJPF_RGB) if "cmyk" not in rel else (None, None)
        if "cmyk" in rel:
            raw, cs = tj_decode(data, TJPF_CMYK)
            assert cs in (3, 4)  # TJCS_CMYK or TJCS_YCCK
            assert b"Adobe" in data[:200]  # PIL / libjpeg mark CMYK with APP14
            ref = cmyk_to_rgb(raw, inverted=True)
            # independent check of the conversion rule: PIL's own CMYK -> RGB
            pil = np.asarray(Image.open(tmp_path / rel).convert("RGB"))
            np.testing.assert_array_equal(ref, pil)
            # and the colours are the photo's, up to JPEG loss
            assert np.abs(ref.astype(int) - rgb.astype(int)).mean() < 12
        assert got.shape == ref.shape, rel
        np.testing.assert_array_equal(got, ref, err_msg=rel)
        if "exif6" in rel:  # orientation ignored: stored order, as decode_jpeg / Image.open
            assert got.shape[:2] == (37, 53)


def test_cmyk_conversion_rule_by_hand():
    # C=255 (full cyan ink), K=0 -> R 0, G 255, B 255; inverted files store 255 - ink
    cmyk = np.array([[[255, 0, 0, 0], [0, 0, 0, 255], [128, 64, 0, 51]]], dtype=np.uint8)
    np.testing.assert_array_equal(cmyk_to_rgb(cmyk, False)[0],
                                  [[0, 255, 255], [0, 0, 0], [round(127 * 204 / 255), round(191 * 204 / 255), 204]])


# ---- PNG written by hand (color types, bit depths) -----------------------------
def png_bytes(arr, color_type, depth=8, palette=None):
    h, w = arr.shape[:2]
    rows = arr.reshape(h, -1)
    if depth == 16:
        raw = b"".join(b"\x00" + r.astype(">u2").tobytes() for r in rows)
    else:
        raw = b"".join(b"\x00" + r.astype(np.uint8).tobytes() for r in rows)

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0))
    if palette is not None:
        out += chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_png_variants_decode_to_documented_rgb(tmp_path):
    rng = np.random.default_rng(3)
    h, w = 9, 11
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (h, w), dtype=np.uint8)
    alpha = rng.integers(0, 256, (h, w), dtype=np.uint8)
    r16 = rng.integers(0, 65536, (h, w, 3), dtype=np.uint16)
    g16 = rng.integers(0, 65536, (h, w), dtype=np.uint16)
    pal = rng.integers(0, 256, (16, 3), dtype=np.uint8)
    idx = rng.integers(0, 16, (h, w), dtype=np.uint8)
    cases = {
        "rgb8.png": (png_bytes(rgb, 2), rgb),
        "rgba8.png": (png_bytes(np.dstack([rgb, alpha]), 6), rgb),  # alpha dropped, as PIL convert("RGB")
        "gray8.png": (png_bytes(gray, 0), np.dstack([gray] * 3)),
        "graya8.png": (png_bytes(np.dstack([gray, alpha]), 4), np.dstack([gray] * 3)),
        "rgb16.png": (png_bytes(r16, 2, 16), (r16 >> 8).astype(np.uint8)),  # high byte
        "gray16.png": (png_bytes(g16, 0, 16), np.dstack([(g16 >> 8).astype(np.uint8)] * 3)),
        "pal.png": (png_bytes(idx, 3, 8, pal), pal[idx]),
    }
    for name, (data, _) in cases.items():
        (tmp_path / name).write_bytes(data)
    ds = sslkit.Dataset.open_folder(tmp_path)  # flat folder: unlabeled
    names = sorted(cases)
    assert len(ds) == len(names)
    for i, name in enumerate(names):
        np.testing.assert_array_equal(ds[i], cases[name][1], err_msg=name)
    # PIL agrees where its conversion is the documented one (8-bit kinds)
    for name in ("rgb8.png", "rgba8.png", "gray8.png", "graya8.png", "pal.png"):
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / name).convert("RGB")), cases[name][1])


def test_broken_files_are_named_and_skippable(tmp_path):
    d = tmp_path / "cls"
    d.mkdir()
    good = photo(120, 160, 2)  # large enough that half the file cuts the entropy data
    for k in range(4):
        Image.fromarray(good).save(d / f"ok{k}.jpg", quality=90)
    full = (d / "ok0.jpg").read_bytes()
    (d / "cut.jpg").write_bytes(full[: len(full) // 2])
    (d / "empty.jpg").write_bytes(b"")
    (d / "notes.jpg").write_bytes(b"this is not an image\n")
    (d / "readme.txt").write_text("ignored: not an image name\n")
    ds = sslkit.Dataset.open_folder(tmp_path)
    assert len(ds) == 7  # readme.txt is not listed
    names = sorted(["ok0.jpg", "ok1.jpg", "ok2.jpg", "ok3.jpg", "cut.jpg", "empty.jpg", "notes.jpg"])
    for name, frag in (("cut.jpg", "corrupt JPEG"), ("empty.jpg", "empty (0 bytes)"),
                       ("notes.jpg", "neither a JPEG nor a PNG")):
        with pytest.raises(sslkit.Error) as e:
            ds[names.index(name)]
        assert name in str(e.value) and frag in str(e.value)
    aug = sslkit.Augment(views=1, size=16)
    ld = sslkit.Loader(ds, aug, batch_size=7, views=1, drop_last=False, on_corrupt="fail")
    with pytest.raises(sslkit.Error) as e:
        list(ld)
    assert any(n in str(e.value) for n in ("cut.jpg", "empty.jpg", "notes.jpg"))
    ld = sslkit.Loader(ds, aug, batch_size=7, views=1, drop_last=False, on_corrupt="skip")
    rows = sum(b[0].shape[0] for b in ld)
    assert rows == 4 and ld.stats["skipped"] == 3


def test_unreadable_file_is_named(tmp_path):
    d = tmp_path / "cls"
    d.mkdir()
    for k in range(2):
        Image.fromarray(photo(8, 8, k)).save(d / f"x{k}.jpg")
    ds = sslkit.Dataset.open_folder(tmp_path)
    victim = d / "x1.jpg"
    if os.geteuid() != 0:
        victim.chmod(0)  # unreadable permissions
    else:
        victim.unlink()  # root reads anything: a file gone after listing takes the same open() failure path
    try:
        with pytest.raises(sslkit.Error) as e:
            ds[1]
        assert "x1.jpg" in str(e.value)
    finally:
        if victim.exists():
            victim.chmod(0o644)


def test_file_list_as_dataset_path(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    for k in range(3):
        Image.fromarray(photo(10 + k, 12, k)).save(d / f"p{k}.png")
    lst = tmp_path / "train.txt"
    lst.write_text(f"sslkit-filelist 1\nroot {d}\ncount 3 classes 2\n1\tp2.png\n0\tp0.png\n1\tp1.png\n")
    ds = sslkit.Dataset.open(str(lst))
    assert len(ds) == 3 and list(ds.labels) == [1, 0, 1] and ds.num_classes == 2
    np.testing.assert_array_equal(ds[0], photo(12, 12, 2))
    assert lst.read_text().count("\n") == 6  # read, never rewritten
    lst.write_text(f"sslkit-filelist 1\nroot {d}\ncount 1 classes 0\n-1\t../etc/passwd\n")
    with pytest.raises(sslkit.Error, match="unsafe path"):
        sslkit.Dataset.open(str(lst))
