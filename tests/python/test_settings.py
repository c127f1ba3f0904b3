"""Settings as one system: names of choice values come from the C tables, and
every handle has the four typed accessors (the missing ones are experimental)."""
import ctypes
import re

import numpy as np
import pytest

import sslkit
from sslkit._lib import declare, lib

_vp = ctypes.c_void_p
_i64p = ctypes.POINTER(ctypes.c_int64)
_dp = ctypes.POINTER(ctypes.c_double)

DOMAINS = ["ctx", "model", "sgd", "lars", "adamw", "schedule", "loss", "vicreg", "vicreg_logdet", "vicreg_pairdist",
           "infonce", "diet", "msn", "rankme", "splinecam", "police", "augment", "loader", "dataset", "knn", "probe",
           "train", "cfssl", "spectral", "barlow_twins", "negcos", "moco", "dino",
           "swav"]  # issue 21b

# What Python used to copy by hand (loss.py, train.py, data.py, metrics.py):
# the library's names must still be exactly these.
HAND_COPIED = {
    ("loss", "precision"): {"float": 0, "double": 1},
    ("vicreg", "var_branch_reduction"): {"mean": 0, "sum": 1},
    ("infonce", "view_reduction"): {"mean": 0, "sum": 1},
    ("vicreg_pairdist", "estimator"): {"kl": 0, "bhattacharyya": 1},
    ("msn", "prior"): {"uniform": 0, "power_law": 1, "user": 2},
    ("msn", "kl_direction"): {"forward": 0, "reverse": 1},
    ("knn", "weighting"): {"exp": 0, "inverse": 1, "uniform": 2},
    ("knn", "distance"): {"cosine": 0, "euclidean": 1},
    ("loader", "on_corrupt"): {"fail": 0, "skip": 1},
    ("rankme", "variant"): {"singular": 0, "covariance": 1},
    ("rankme", "method"): {"auto": 0, "gram": 1, "exact": 2},
    ("negcos", "form"): {"simsiam": 0, "byol": 1},  # issue 21
}


def c_names(key, lo, hi):
    """The C library's names, read directly through sslk_setting_choice."""
    out = {}
    for v in range(int(lo), int(hi) + 1):
        nm = ctypes.c_char_p()
        try:
            lib.sslk_setting_choice(key, v, ctypes.byref(nm))
        except sslkit.Error as e:
            assert e.status_name == "SSLK_E_NOT_FOUND" and not out
            return None
        out[nm.value.decode()] = v
    return out


def test_every_domain_is_registered():
    # the build collects the tables: each domain answers with at least one key
    for dom in DOMAINS:
        assert sslkit.settings(dom), dom


def test_choices_documented_named_and_equal_in_python():
    seen = 0
    for dom in DOMAINS:
        for name, info in sslkit.settings(dom).items():
            lists_values = info["type"] is int and info["doc"].startswith(f"{info['lo']:g} = ")
            if info["type"] is not int:
                assert info["choices"] is None
                continue
            names = c_names(info["key"], info["lo"], info["hi"]) if lists_values else None
            assert (info["choices"] is not None) == lists_values, (dom, name, info["doc"])
            if lists_values:
                seen += 1
                assert info["choices"] == names, (dom, name)
                assert sorted(names.values()) == list(range(int(info["lo"]), int(info["hi"]) + 1))
                for word in names:
                    assert re.fullmatch(r"[a-z][a-z0-9_]*", word), word
    assert seen == 24  # negcos form/view_reduction (21); 13 + cfssl.kernel, spectral weights/symmetrize/graph/laplacian (18), knn top5_rule (20), train recipe/norm_mode/on_corrupt (15)
    for (dom, name), names in HAND_COPIED.items():
        assert sslkit.choices(dom)[name] == names
    assert sslkit.choices("train") == {
        "optimizer": {"sgd": 1, "lars": 2, "adamw": 3},
        "recipe": {"auto": 0, "light": 1, "simclr": 2, "vicreg": 3, "byol": 4, "msn": 5},  # issue 15
        "norm_mode": {"scalar": 0, "per_channel": 1, "measure": 2},
        "on_corrupt": {"fail": 0, "skip": 1}}
    assert sslkit.choices("augment") == {"crop": {"random_resized": 0, "resize": 1, "center": 2, "resize_center": 3}}
    assert sslkit.loss.CHOICES == {n: v for (d, n), v in HAND_COPIED.items()
                                   if d in ("loss", "vicreg", "infonce", "vicreg_pairdist", "msn", "negcos")}


def test_choice_find_and_errors():
    key = sslkit.settings("msn")["prior"]["key"]
    v = ctypes.c_int64(-1)
    lib.sslk_setting_choice_find(key, b"power_law", ctypes.byref(v))
    assert v.value == 1
    with pytest.raises(sslkit.Error) as e:
        lib.sslk_setting_choice_find(key, b"gaussian", ctypes.byref(v))
    assert e.value.status_name == "SSLK_E_NOT_FOUND" and "no value named 'gaussian'" in e.value.message
    nm = ctypes.c_char_p()
    with pytest.raises(sslkit.Error) as e:
        lib.sslk_setting_choice(key, 3, ctypes.byref(nm))
    assert e.value.status_name == "SSLK_E_RANGE" and "outside [0, 2]" in e.value.message


def _get_i64(fn, h, key, *pre):
    v = ctypes.c_int64(-7)
    fn(h, *pre, key, ctypes.byref(v))
    return v.value


declare("sslk_knn_get_i64", [_vp, ctypes.c_int, _i64p])
declare("sslk_loader_get_f64", [_vp, ctypes.c_int, _dp])
declare("sslk_loader_set_f64", [_vp, ctypes.c_int, ctypes.c_double])
declare("sslk_augment_get_i64", [_vp, ctypes.c_int, ctypes.c_int, _i64p])
declare("sslk_rankme_get_i64", [_vp, ctypes.c_int, _i64p])
declare("sslk_dataset_set_f64", [_vp, ctypes.c_int, ctypes.c_double])
declare("sslk_dataset_get_f64", [_vp, ctypes.c_int, _dp])
declare("sslk_model_set_i64", [_vp, ctypes.c_int, ctypes.c_int64])
declare("sslk_model_get_i64", [_vp, ctypes.c_int, _i64p])


def test_names_reach_the_handles():
    knn = sslkit.KNN(weighting="inverse", distance="euclidean")
    s = sslkit.settings("knn")
    assert _get_i64(lib.sslk_knn_get_i64, knn._h, s["weighting"]["key"]) == 1
    assert _get_i64(lib.sslk_knn_get_i64, knn._h, s["distance"]["key"]) == 1
    with pytest.raises(ValueError, match=r"weighting='gauss': choices are \['exp', 'inverse', 'uniform'\]"):
        sslkit.KNN(weighting="gauss")
    r = sslkit.RankMe(4, variant="covariance", method="exact")
    s = sslkit.settings("rankme")
    assert _get_i64(lib.sslk_rankme_get_i64, r._h, s["method"]["key"]) == 2
    aug = sslkit.Augment(views=2, size=4, crop="center")
    s = sslkit.settings("augment")
    assert _get_i64(lib.sslk_augment_get_i64, aug._h, s["crop"]["key"], 1) == 2
    assert aug.get("crop", view=0) == 2.0
    with pytest.raises(TypeError, match="size takes a number"):
        aug.set("size", "big")
    ds = sslkit.Dataset.from_array(np.zeros((4, 4, 4), np.uint8), np.array([0, 1, 0, 1]))
    ld = sslkit.Loader(ds, aug, batch_size=2, on_corrupt="skip")
    s = sslkit.settings("loader")
    v = ctypes.c_double()
    lib.sslk_loader_get_f64(ld._h, s["on_corrupt"]["key"], ctypes.byref(v))
    assert v.value == 1.0
    lib.sslk_loader_set_f64(ld._h, s["prefetch"]["key"], 5.0)
    assert _get_i64(lib.sslk_loader_get_i64, ld._h, s["prefetch"]["key"]) == 5
    with pytest.raises(sslkit.Error, match=r"sslk_loader_set_f64: setting 'prefetch' is an integer, got 2.5"):
        lib.sslk_loader_set_f64(ld._h, s["prefetch"]["key"], 2.5)
    s = sslkit.settings("dataset")
    lib.sslk_dataset_set_f64(ds._h, s["max_file_mb"]["key"], 64.0)
    assert ds.get("max_file_mb") == 64
    loss = sslkit.Loss("msn", kl_direction="reverse", precision="double")
    assert loss.get("kl_direction") == 1 and loss.get("precision") == 1


def test_model_integer_accessors():
    m = sslkit.Model.from_spec("linear:3,relu,linear:2", (2,))
    key = sslkit.settings("model")["bn_eps"]["key"]
    lib.sslk_model_set_i64(m._h, key, 1)
    assert _get_i64(lib.sslk_model_get_i64, m._h, key) == 1
    with pytest.raises(sslkit.Error, match=r"sslk_model_set_i64: setting 'bn_eps' = 2 is outside \[0, 1\]"):
        lib.sslk_model_set_i64(m._h, key, 2)
    with pytest.raises(sslkit.Error, match="sslk_model_get_i64: argument .m. is NULL"):
        lib.sslk_model_get_i64(None, key, ctypes.byref(ctypes.c_int64()))
