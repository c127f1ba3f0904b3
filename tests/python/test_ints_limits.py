"""Integers crossing into C are range-checked (no silent mod 2^64), and the
context limits of libsslkit 1.2 (issue 12)."""
import numpy as np
import pytest

import sslkit


def test_loss_int_setting_out_of_range_is_refused():
    with pytest.raises(ValueError, match="num_samples.*18446744073709551680"):
        sslkit.Loss("diet", num_samples=2**64 + 64, dim=3)
    with pytest.raises(ValueError, match="num_samples"):
        sslkit.Loss("diet", num_samples=10.5, dim=3)
    with pytest.raises(TypeError, match="num_samples"):
        sslkit.Loss("diet", num_samples=True, dim=3)
    L = sslkit.Loss("diet", num_samples=np.int64(12), dim=3.0)  # exact values are fine
    assert L.get("num_samples") == 12 and L.get("dim") == 3


@pytest.mark.parametrize("call", [
    lambda: sslkit.Model.from_spec("linear:2", (3,), seed=2**64 + 1),
    lambda: sslkit.Model.from_spec("linear:2", (3,), seed=-1),
    lambda: sslkit.Model.from_spec("linear:2", (2**64 + 3,)),
    lambda: sslkit.Model.from_spec("linear:2", (3,)).init_params(seed=2**65),
    lambda: sslkit.Context(seed=2**64),
    lambda: sslkit.Context(threads=2**32 + 1),
    lambda: sslkit.Augment(views=2**64 + 2),
    lambda: sslkit.Augment(views=2, size=2**64 + 28),
    lambda: sslkit.Loader(sslkit.Dataset.from_array(np.zeros((4, 8, 8), np.uint8)), batch_size=2**64 + 2),
    lambda: sslkit.Loader(sslkit.Dataset.from_array(np.zeros((4, 8, 8), np.uint8)), batch_size=2, seed=2**64),
    lambda: sslkit.Dataset.from_array(np.zeros((4, 8, 8), np.uint8))[2**64 + 1],
    lambda: sslkit.KNN(k=2**64 + 3),
    lambda: sslkit.LinearProbe(max_iter=2**64 + 5),
    lambda: sslkit.RankMe(2**64 + 3),
    lambda: sslkit.warmup_cosine(2**64 + 1, 10, 100, 0.1),
])
def test_huge_ints_are_refused_before_c(call):
    with pytest.raises((ValueError, OverflowError), match="18446744073709551|2\\*\\*64|4294967297|range"):
        call()


def test_float_where_int_expected():
    with pytest.raises(ValueError, match="seed"):
        sslkit.Model.from_spec("linear:2", (3,), seed=1.5)
    with pytest.raises(ValueError, match="batch_size"):
        sslkit.Loader(sslkit.Dataset.from_array(np.zeros((4, 8, 8), np.uint8)), batch_size=2.5)


def test_context_limits():
    ctx = sslkit.Context(limits={"max_alloc_bytes": 1 << 20})
    lim = ctx.limits
    assert lim["max_alloc_bytes"] == 1 << 20
    assert lim["max_image_pixels"] == 89478485 and lim["max_file_bytes"] == 2**31
    with pytest.raises(sslkit.Error) as e:
        sslkit.Model.from_spec("linear:4096", (4096,), ctx=ctx)   # 64 MiB of weights
    assert e.value.status_name == "SSLK_E_LIMIT" and e.value.status == 18
    assert "max_alloc_bytes" in e.value.message
    ctx.set_limit("max_alloc_bytes", 0)                            # 0: no limit
    assert ctx.limits["max_alloc_bytes"] == 0
    m = sslkit.Model.from_spec("linear:4096", (4096,), ctx=ctx)
    assert m.num_scalars == 4096 * 4097
    with pytest.raises(KeyError, match="max_alloc_bytes"):
        ctx.set_limit("max_bytes", 5)
    with pytest.raises(sslkit.Error) as e:
        ctx.set_limit("max_file_bytes", -1)
    assert e.value.status_name == "SSLK_E_SETTING"
    with pytest.raises(ValueError, match="max_image_pixels"):
        sslkit.Context(limits={"max_image_pixels": 2**64})

