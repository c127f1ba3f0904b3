"""sslkit.load_npy / save_npy against numpy's own np.save / np.load."""
import numpy as np
import pytest

import sslkit

DTYPES = [np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_]
SHAPES = [(), (0,), (7,), (3, 5), (2, 0, 4), (2, 3, 4, 1)]


def _random(rng, dtype, shape):
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype) * 1e3
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_roundtrip_with_numpy(tmp_path, dtype):
    rng = np.random.default_rng(1)
    for i, shape in enumerate(SHAPES):
        a = _random(rng, dtype, shape)
        p_np, p_sk = tmp_path / f"np{i}.npy", tmp_path / f"sk{i}.npy"
        np.save(p_np, a)
        b = sslkit.load_npy(p_np)
        assert b.dtype == a.dtype and b.shape == a.shape
        np.testing.assert_array_equal(b, a)
        sslkit.save_npy(p_sk, a)
        c = np.load(p_sk)
        assert c.dtype == a.dtype and c.shape == a.shape
        np.testing.assert_array_equal(c, a)
        assert p_sk.read_bytes() == p_np.read_bytes()  # same header bytes as numpy


def test_format_versions_2_and_3(tmp_path):
    a = np.arange(12, dtype=np.int64).reshape(3, 4)
    for v in [(1, 0), (2, 0), (3, 0)]:
        p = tmp_path / f"v{v[0]}.npy"
        with open(p, "wb") as f:
            np.lib.format.write_array(f, a, version=v)
        np.testing.assert_array_equal(sslkit.load_npy(p), a)


def test_conversions(tmp_path):
    p = tmp_path / "i.npy"
    np.save(p, np.array([[1, -2], [3, 4]], dtype=np.int64))
    np.testing.assert_array_equal(sslkit.load_npy(p, dtype=np.float32), np.array([[1, -2], [3, 4]], np.float32))
    np.testing.assert_array_equal(sslkit.load_npy(p, dtype=np.int32), np.array([[1, -2], [3, 4]], np.int32))
    with pytest.raises(sslkit.Error) as e:
        sslkit.load_npy(p, dtype=np.uint8)
    assert e.value.status_name == "SSLK_E_RANGE"
    np.save(p, np.array([1.5], dtype=np.float64))
    with pytest.raises(sslkit.Error) as e:
        sslkit.load_npy(p, dtype=np.int64)
    assert e.value.status_name == "SSLK_E_DTYPE"
    big = np.arange(6, dtype=">f4")
    sslkit.save_npy(p, big)  # written little-endian
    np.testing.assert_array_equal(np.load(p), big.astype("<f4"))


@pytest.mark.parametrize("make,status,word", [
    (lambda p: np.save(p, np.asfortranarray(np.ones((3, 4), np.float32))), "SSLK_E_UNSUPPORTED", "Fortran"),
    (lambda p: np.save(p, np.ones(4, ">f8")), "SSLK_E_UNSUPPORTED", "big-endian"),
    (lambda p: np.save(p, np.ones(4, np.complex64)), "SSLK_E_DTYPE", "c8"),
    (lambda p: np.save(p, np.ones(4, np.float16)), "SSLK_E_DTYPE", "f2"),
    (lambda p: np.save(p, np.array(["ab"])), "SSLK_E_DTYPE", "U2"),
])
def test_refused_files(tmp_path, make, status, word):
    p = tmp_path / "x.npy"
    make(p)
    with pytest.raises(sslkit.Error) as e:
        sslkit.load_npy(p)
    assert e.value.status_name == status
    assert word in e.value.message


def test_truncated_and_hostile(tmp_path):
    p = tmp_path / "t.npy"
    np.save(p, np.ones((100, 10), np.float32))
    raw = p.read_bytes()
    p.write_bytes(raw[:-4])
    with pytest.raises(sslkit.Error) as e:
        sslkit.load_npy(p)
    assert e.value.status_name == "SSLK_E_FORMAT" and "truncated" in e.value.message
    hdr = raw[:128].replace(b"(100, 10)", b"(10**999)")
    p.write_bytes(hdr + raw[128:])
    with pytest.raises(sslkit.Error) as e:
        sslkit.load_npy(p)
    assert e.value.status_name == "SSLK_E_FORMAT"
    hdr = raw[:128].replace(b"(100, 10), }", b"(1 << 62, 8)}")
    p.write_bytes(hdr + raw[128:])
    with pytest.raises(sslkit.Error):
        sslkit.load_npy(p)
    hdr = raw[:128].replace(b"(100, 10), ", b"(9999999999, 9999999999, 9999999999), ")
    p.write_bytes(hdr[:10] + hdr[10:].ljust(118)[:117] + b"\n" + raw[128:])
    with pytest.raises(sslkit.Error) as e:
        sslkit.load_npy(p)
    assert e.value.status_name == "SSLK_E_OVERFLOW"
    with pytest.raises(sslkit.Error) as e:
        sslkit.load_npy(tmp_path / "missing.npy")
    assert e.value.status_name == "SSLK_E_NOT_FOUND"
