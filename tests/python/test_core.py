import numpy as np
import pytest

import sslkit


def test_version_and_error():
    assert sslkit.__version__.count(".") == 2
    ctx = sslkit.Context(threads=2)
    assert ctx.threads == 2
    with pytest.raises(sslkit.Error) as e:
        ctx.threads = -3
    assert e.value.status_name == "SSLK_E_INVALID_ARG"
    assert "-3" in e.value.message
    assert ctx.threads == 2


def test_unknown_setting_domain():
    with pytest.raises(sslkit.Error) as e:
        sslkit.settings("no_such_domain")
    assert e.value.status_name == "SSLK_E_NOT_FOUND"


def _owners():
    """Makers of one object of every handle-owning class from a context."""
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(40, 3)).astype(np.float32), np.arange(40) % 2
    imgs = np.zeros((4, 8, 8), np.uint8)

    def model(c):
        return sslkit.Model.from_spec("linear:4,relu,linear:2", (3,), ctx=c)
    return [lambda c: sslkit.LinearProbe(l2=1e-2, ctx=c).fit(z, y, 2), lambda c: sslkit.KNN(k=3, ctx=c).fit(z, y, 2),
            lambda c: sslkit.Loss("vicreg", ctx=c), lambda c: sslkit.RankMe(3, ctx=c), model,
            lambda c: sslkit.Optimizer("sgd", model(c), lr=0.1, ctx=c),
            lambda c: sslkit.Dataset.from_array(imgs, ctx=c),
            lambda c: sslkit.Dataset.from_array(imgs, ctx=c).subset([1, 2]),
            lambda c: sslkit.Augment(views=2, size=8, ctx=c),
            lambda c: sslkit.Loader(sslkit.Dataset.from_array(imgs, ctx=c), batch_size=2, ctx=c),
            lambda c: sslkit.Slice.from_box([0, 0, 0], [[1, 0, 0], [0, 1, 0]], 1.0, ctx=c)]


def test_handles_keep_their_context_alive():
    import gc
    z = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    for make in _owners():
        # the context's last reference goes first: the object stays usable
        obj = make(sslkit.Context(threads=2))
        gc.collect()
        if isinstance(obj, (sslkit.LinearProbe, sslkit.KNN)):
            assert obj.predict(z).shape == (5,)
        if isinstance(obj, sslkit.Model):
            assert obj.forward(z).shape == (5, 2)
        del obj
        gc.collect()
        # a reference cycle through the context and the object: collected in any order
        ctx = sslkit.Context()
        obj = make(ctx)
        obj.cycle = ctx
        ctx.cycle = obj
        del obj, ctx
        assert gc.collect() > 0
    # explicit close() is idempotent
    p = sslkit.LinearProbe()
    p.close()
    p.close()
