"""The evaluation harness without a training run: embed a dataset with any
model through the standard evaluation transform, and ImageNet-X reports from
the toolkit's annotation files (C: sslk_model_embed, sslk_imagenet_x_*).

    feats, labels = sslkit.embed(model, dataset, transform="eval", image_size=224)
    rep = sslkit.imagenet_x_report("imagenet_x_val_multi_factor.jsonl", preds, files)
"""
import ctypes
import math

import numpy as np

from ._lib import Error, c_float_p, c_size_p, declare, hold, lib, ptr, to_int
from .data import Augment, Dataset
from .model import Model

_vp = ctypes.c_void_p
_i32p = ctypes.POINTER(ctypes.c_int32)
_i64p = ctypes.POINTER(ctypes.c_int64)
_dp = ctypes.POINTER(ctypes.c_double)
_PROGRESS = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t)

declare("sslk_model_embed", [_vp, _vp, _vp, ctypes.c_size_t, c_float_p, ctypes.c_size_t, ctypes.c_size_t, _i32p,
                             _PROGRESS, _vp])
declare("sslk_dataset_item_path", [_vp, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, c_size_p])
declare("sslk_imagenet_x_factor_name", [ctypes.c_size_t, ctypes.POINTER(ctypes.c_char_p)])
declare("sslk_imagenet_x_load", [_vp, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(_vp)])
declare("sslk_imagenet_x_destroy", [_vp], None)
declare("sslk_imagenet_x_count", [_vp, c_size_p, c_size_p])
declare("sslk_imagenet_x_metaclass", [_vp, ctypes.c_size_t, ctypes.POINTER(ctypes.c_char_p)])
declare("sslk_imagenet_x_evaluate", [_vp, ctypes.POINTER(ctypes.c_char_p), _i32p, ctypes.c_size_t, c_size_p, _dp,
                                     _dp, _dp, _i64p, _dp, _i64p, _dp, _dp, _i64p])
declare("sslk_model_io_size", [_vp, c_size_p, c_size_p])

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def eval_transform(image_size=224, crop_fraction=0.875, mean=IMAGENET_MEAN, std=IMAGENET_STD, channels=0, ctx=None,
                   transform="eval"):
    """The one-view recipe of embed(): transform "eval" resizes the shorter side
    to round(image_size / crop_fraction) and keeps the central square (as
    torchvision's Resize + CenterCrop), "resize" resizes the whole image."""
    if transform not in ("eval", "resize"):
        raise ValueError(f"transform must be 'eval' or 'resize', got {transform!r}")
    return Augment(views=1, preset="eval" if transform == "eval" else "plain", ctx=ctx, size=image_size,
                   center_fraction=crop_fraction, mean=mean, std=std, out_channels=channels)


def embed(model, dataset, transform="eval", image_size=224, batch=256, crop_fraction=0.875, mean=None, std=None,
          split="test", progress=None):
    """Model outputs (eval mode) of every item of dataset, in dataset order:
    returns (features float32 n x dim, labels int32 n, -1 unlabeled).

    model: a Model or a model file path (.sslk); dataset: a Dataset or a name /
    path opened with `split`.  image_size must be the model's input side.
    mean / std: per-channel normalisation of values in [0, 1]; default the
    dataset's own when it knows them, else ImageNet's for 3-channel models.
    progress(done, total) is called after each batch (return True to stop)."""
    if not isinstance(model, Model):
        model = Model.load(model)
    if not isinstance(dataset, Dataset):
        dataset = Dataset.open(dataset, split=split)
    shape = model.input_shape
    if len(shape) != 3 or shape[1] != shape[2] or shape[0] not in (1, 3):
        raise ValueError(f"embed: the model takes {shape} inputs; it needs square 1- or 3-channel images")
    if image_size != shape[1]:
        raise ValueError(f"embed: image_size={image_size} but the model takes {shape[1]} x {shape[2]} inputs")
    c = shape[0]
    known = dataset.mean_std()
    if mean is None:
        mean = known[0] if known else (IMAGENET_MEAN if c == 3 else 0.0)
    if std is None:
        std = known[1] if known else (IMAGENET_STD if c == 3 else 1.0)
    aug = eval_transform(image_size, crop_fraction, mean, std, c, transform=transform)
    n = len(dataset)
    dim = ctypes.c_size_t()
    lib.sslk_model_io_size(model._h, None, ctypes.byref(dim))
    feats = np.empty((n, dim.value), dtype=np.float32)
    labels = np.empty(n, dtype=np.int32)
    cb = _PROGRESS(lambda _u, done, total: 1 if progress and progress(done, total) else 0)
    with hold(model, dataset, aug, what="embed"):
        lib.sslk_model_embed(model._h, dataset._h, aug._h, to_int(batch, "batch", "size_t"),
                             ptr(feats, ctypes.c_float), n, dim.value, ptr(labels, ctypes.c_int32), cb, None)
    return feats, labels


def item_paths(dataset):
    """The file of every item of a folder dataset (list of str)."""
    out, buf, need = [], ctypes.create_string_buffer(4096), ctypes.c_size_t()
    with hold(dataset, what="item_paths"):
        for i in range(len(dataset)):
            try:
                lib.sslk_dataset_item_path(dataset._h, i, buf, len(buf), ctypes.byref(need))
            except Error as e:
                if e.status_name != "SSLK_E_RANGE":
                    raise
                buf = ctypes.create_string_buffer(need.value + 1)
                lib.sslk_dataset_item_path(dataset._h, i, buf, len(buf), None)
            out.append(buf.value.decode(errors="surrogateescape"))
    return out


def imagenet_x_factors():
    """The 16 ImageNet-X factor names in the toolkit's order."""
    out = []
    for f in range(16):
        p = ctypes.c_char_p()
        lib.sslk_imagenet_x_factor_name(f, ctypes.byref(p))
        out.append(p.value.decode())
    return out


def _nan_none(x):
    x = float(x)
    return None if math.isnan(x) else x


def imagenet_x_report(annotations, predictions, files, variant="multi"):
    """Per-factor accuracy and error ratio of predictions (predicted class per
    file) against an ImageNet-X annotation file (the toolkit's JSON lines),
    joined on file name (the part after the last '/'), overall and per
    metaclass.  variant "multi" or "top" (top: at most one factor per row).
    Returns a dict: matched, annotated_without_prediction,
    predictions_without_annotation, accuracy, factors {name: {count, accuracy,
    error_ratio}}, worst_factor, metaclasses {name: {count, accuracy, factors}}
    (None where undefined)."""
    if variant not in ("multi", "top"):
        raise ValueError(f"variant must be 'multi' or 'top', got {variant!r}")
    pred = np.ascontiguousarray(predictions)
    if pred.ndim != 1 or not np.issubdtype(pred.dtype, np.integer):
        raise ValueError(f"predictions must be a 1-d integer array, got {pred.dtype} {pred.shape}")
    pred = pred.astype(np.int32)
    files = [str(f) for f in files]
    if len(files) != len(pred):
        raise ValueError(f"{len(files)} files for {len(pred)} predictions")
    names = imagenet_x_factors()
    h = _vp()
    lib.sslk_imagenet_x_load(None, str(annotations).encode(), 1 if variant == "top" else 0, ctypes.byref(h))
    try:
        nmeta = ctypes.c_size_t()
        lib.sslk_imagenet_x_count(h, None, ctypes.byref(nmeta))
        M = nmeta.value
        counts = (ctypes.c_size_t * 3)()
        acc = ctypes.c_double()
        fa, fr = np.empty(16), np.empty(16)
        fc = np.empty(16, np.int64)
        ma, mc = np.empty(max(M, 1)), np.empty(max(M, 1), np.int64)
        mfa, mfr = np.empty((max(M, 1), 16)), np.empty((max(M, 1), 16))
        mfc = np.empty((max(M, 1), 16), np.int64)
        arr = (ctypes.c_char_p * len(files))(*[f.encode(errors="surrogateescape") for f in files])
        dp = lambda a: ptr(a, ctypes.c_double)  # noqa: E731
        lp = lambda a: ptr(a, ctypes.c_int64)  # noqa: E731
        lib.sslk_imagenet_x_evaluate(h, arr, ptr(pred, ctypes.c_int32), len(files), counts, ctypes.byref(acc),
                                     dp(fa), dp(fr), lp(fc), dp(ma), lp(mc), dp(mfa), dp(mfr), lp(mfc))
        meta = []
        for m in range(M):
            p = ctypes.c_char_p()
            lib.sslk_imagenet_x_metaclass(h, m, ctypes.byref(p))
            meta.append(p.value.decode())
    finally:
        lib.sslk_imagenet_x_destroy(h)

    def table(a, r, c):
        return {names[f]: {"count": int(c[f]), "accuracy": _nan_none(a[f]), "error_ratio": _nan_none(r[f])}
                for f in range(16)}

    present = [f for f in range(16) if fc[f] > 0]
    worst = min(present, key=lambda f: (fa[f], f)) if present else None
    return {
        "variant": variant,
        "matched": counts[0], "annotated_without_prediction": counts[1], "predictions_without_annotation": counts[2],
        "accuracy": acc.value,
        "factors": table(fa, fr, fc),
        "worst_factor": names[worst] if worst is not None else None,
        "metaclasses": {meta[m]: {"count": int(mc[m]), "accuracy": _nan_none(ma[m]),
                                  "factors": table(mfa[m], mfr[m], mfc[m])} for m in range(M)},
    }
