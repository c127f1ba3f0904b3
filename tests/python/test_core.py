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
