"""Evaluation of frozen features (kNN, linear probe) and the training driver.

    >>> acc = sslkit.knn_eval(train_z, train_y, test_z, test_y, k=20, t=0.07)
    >>> acc["top1"], acc["top5"]
    >>> res = sslkit.linear_probe(train_z, train_y, test_z, test_y)
    >>> res["top1"], res["l2"]
"""
import ctypes

import numpy as np

from ._lib import (Error, Owner, also_holds, as_f32, as_i32, c_double_p, c_float_p, ctx_handle, declare, hold, lib, ptr,
                   setting_info, setting_value, settings, to_int)

_vp = ctypes.c_void_p
_sz = ctypes.c_size_t
_i32p = ctypes.POINTER(ctypes.c_int32)

declare("sslk_knn_create", [_vp, ctypes.POINTER(_vp)])
declare("sslk_knn_destroy", [_vp], None)
declare("sslk_knn_set_f64", [_vp, ctypes.c_int, ctypes.c_double])
declare("sslk_knn_set_i64", [_vp, ctypes.c_int, ctypes.c_int64])
declare("sslk_knn_get_f64", [_vp, ctypes.c_int, c_double_p])
declare("sslk_knn_fit", [_vp, c_float_p, _i32p, _sz, _sz, _sz])
declare("sslk_knn_predict", [_vp, c_float_p, _sz, _sz, _i32p, _sz, c_float_p])
declare("sslk_knn_evaluate", [_vp, c_float_p, _i32p, _sz, _sz, c_double_p, c_double_p])
declare("sslk_probe_create", [_vp, ctypes.POINTER(_vp)])
declare("sslk_probe_destroy", [_vp], None)
declare("sslk_probe_set_f64", [_vp, ctypes.c_int, ctypes.c_double])
declare("sslk_probe_set_i64", [_vp, ctypes.c_int, ctypes.c_int64])
declare("sslk_probe_get_f64", [_vp, ctypes.c_int, c_double_p])
declare("sslk_probe_fit", [_vp, c_float_p, _i32p, _sz, _sz, _sz])
declare("sslk_probe_chosen_l2", [_vp, c_double_p])
declare("sslk_probe_predict", [_vp, c_float_p, _sz, _sz, _i32p, c_float_p])
declare("sslk_probe_evaluate", [_vp, c_float_p, _i32p, _sz, _sz, c_double_p])



def _setting(domain, name):
    """The info (key, bounds, choices) of one setting, looked up by name in the
    library's tables rather than copied enum values."""
    return settings(domain)[name]


def _set_all(h, domain, setter_f64, setter_i64, values):
    for name, value in values:
        info = _setting(domain, name)
        v = setting_value(info, value, name)  # names of choices become values
        (setter_i64 if info["type"] is int else setter_f64)(h, info["key"], v)


def _xy(z, y, name):
    z = as_f32(z, name + "_z", ndim=2)
    y = as_i32(y, name + "_y", ndim=1)
    if y.shape[0] != z.shape[0]:
        raise ValueError(f"{name}_y has {y.shape[0]} labels for {z.shape[0]} rows")
    return z, y


class KNN(Owner):
    """Weighted kNN classifier (cosine, k=20, exp(s/0.07) votes by default)."""

    _destroy_name = "sslk_knn_destroy"

    def __init__(self, k=20, t=0.07, weighting="exp", distance="cosine", memory_mb=256, top5_rule="all",
                 ctx=None):
        self._adopt_ctx(ctx)
        h = _vp()
        lib.sslk_knn_create(ctx_handle(ctx), ctypes.byref(h))
        self._h = h
        _set_all(h, "knn", lib.sslk_knn_set_f64, lib.sslk_knn_set_i64,
                 (("k", k), ("temperature", t), ("weighting", weighting), ("distance", distance),
                  ("memory_mb", memory_mb), ("top5_rule", top5_rule)))
        self.nclasses = None

    def fit(self, z, y, nclasses=None):
        z, y = _xy(z, y, "train")
        self.nclasses = to_int(nclasses if nclasses is not None else y.max() + 1, "nclasses", "size_t")
        lib.sslk_knn_fit(self._h, ptr(z, ctypes.c_float), ptr(y, ctypes.c_int32), z.shape[0],
                         z.shape[1], self.nclasses)
        return self

    def scores(self, q):
        """Summed votes per class, (m, nclasses)."""
        q = as_f32(q, "q", ndim=2)
        out = np.empty((q.shape[0], self.nclasses), np.float32)
        lib.sslk_knn_predict(self._h, ptr(q, ctypes.c_float), q.shape[0], q.shape[1], None, 0,
                             ptr(out, ctypes.c_float))
        return out

    def predict(self, q, ntop=1):
        q = as_f32(q, "q", ndim=2)
        ntop = to_int(ntop, "ntop", "size_t")
        out = np.empty((q.shape[0], ntop), np.int32)
        lib.sslk_knn_predict(self._h, ptr(q, ctypes.c_float), q.shape[0], q.shape[1],
                             ptr(out, ctypes.c_int32), ntop, None)
        return out[:, 0] if ntop == 1 else out

    def evaluate(self, q, y):
        q, y = _xy(q, y, "test")
        t1, t5 = ctypes.c_double(), ctypes.c_double()
        lib.sslk_knn_evaluate(self._h, ptr(q, ctypes.c_float), ptr(y, ctypes.c_int32), q.shape[0],
                              q.shape[1], ctypes.byref(t1), ctypes.byref(t5))
        return {"top1": t1.value, "top5": t5.value}



def knn_eval(train_z, train_y, test_z, test_y, k=20, t=0.07, weighting="exp", distance="cosine",
             nclasses=None, top5_rule="all", ctx=None):
    """kNN top-1 / top-5 accuracy of test features against train features:
    {"top1", "top5", "k", "t", "weighting", "distance"}."""
    train_y = np.asarray(train_y)
    nc = nclasses if nclasses is not None else int(max(np.max(train_y), np.max(test_y)) + 1)
    knn = KNN(k=k, t=t, weighting=weighting, distance=distance, top5_rule=top5_rule, ctx=ctx).fit(
        train_z, train_y, nc)
    res = knn.evaluate(test_z, test_y)
    res.update(k=k, t=t, weighting=weighting, distance=distance)
    return res


class LinearProbe(Owner):
    """Multinomial logistic regression on frozen features (standardised,
    L2 chosen on a held-out split, L-BFGS).  l2=None chooses from the grid."""

    _destroy_name = "sslk_probe_destroy"

    def __init__(self, l2=None, val_fraction=0.1, max_iter=300, search_iter=100, standardize=True,
                 seed=0, tol=1e-5, ctx=None):
        self._adopt_ctx(ctx)
        h = _vp()
        lib.sslk_probe_create(ctx_handle(ctx), ctypes.byref(h))
        self._h = h
        _set_all(h, "probe", lib.sslk_probe_set_f64, lib.sslk_probe_set_i64,
                 (("l2", -1.0 if l2 is None else l2), ("val_fraction", val_fraction), ("max_iter", max_iter),
                  ("search_iter", search_iter), ("standardize", int(bool(standardize))), ("seed", seed),
                  ("tol", tol)))
        self.nclasses = None

    def fit(self, z, y, nclasses=None):
        z, y = _xy(z, y, "train")
        self.nclasses = to_int(nclasses if nclasses is not None else y.max() + 1, "nclasses", "size_t")
        lib.sslk_probe_fit(self._h, ptr(z, ctypes.c_float), ptr(y, ctypes.c_int32), z.shape[0],
                           z.shape[1], self.nclasses)
        return self

    @property
    def l2(self):
        v = ctypes.c_double()
        lib.sslk_probe_chosen_l2(self._h, ctypes.byref(v))
        return v.value

    def logits(self, q):
        q = as_f32(q, "q", ndim=2)
        out = np.empty((q.shape[0], self.nclasses), np.float32)
        lib.sslk_probe_predict(self._h, ptr(q, ctypes.c_float), q.shape[0], q.shape[1], None,
                               ptr(out, ctypes.c_float))
        return out

    def predict(self, q):
        q = as_f32(q, "q", ndim=2)
        out = np.empty(q.shape[0], np.int32)
        lib.sslk_probe_predict(self._h, ptr(q, ctypes.c_float), q.shape[0], q.shape[1],
                               ptr(out, ctypes.c_int32), None)
        return out

    def evaluate(self, q, y):
        q, y = _xy(q, y, "test")
        t1 = ctypes.c_double()
        lib.sslk_probe_evaluate(self._h, ptr(q, ctypes.c_float), ptr(y, ctypes.c_int32), q.shape[0],
                                q.shape[1], ctypes.byref(t1))
        return t1.value



def linear_probe(train_z, train_y, test_z, test_y, l2=None, nclasses=None, ctx=None, **kw):
    """Linear-probe top-1 accuracy: {"top1", "l2"} (l2 = the penalty used)."""
    train_y = np.asarray(train_y)
    nc = nclasses if nclasses is not None else int(max(np.max(train_y), np.max(test_y)) + 1)
    p = LinearProbe(l2=l2, ctx=ctx, **kw).fit(train_z, train_y, nc)
    return {"top1": p.evaluate(test_z, test_y), "l2": p.l2}


# ---- training driver ---------------------------------------------------------
from .data import Dataset  # noqa: E402


class Progress(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("epoch", ctypes.c_uint64), ("step", ctypes.c_uint64),
                ("steps_per_epoch", ctypes.c_uint64), ("global_step", ctypes.c_uint64), ("loss", ctypes.c_double),
                ("num_terms", ctypes.c_size_t), ("terms", ctypes.c_double * 8),
                ("term_names", ctypes.c_char_p * 8), ("lr", ctypes.c_double), ("images_per_s", ctypes.c_double),
                ("rankme", ctypes.c_double), ("embed_std", ctypes.c_double), ("seconds", ctypes.c_double)]

    def to_dict(self):
        n = self.num_terms
        return {"epoch": self.epoch, "step": self.step, "steps_per_epoch": self.steps_per_epoch,
                "global_step": self.global_step, "loss": self.loss,
                "terms": {(self.term_names[i] or b"?").decode(): self.terms[i] for i in range(n)},
                "lr": self.lr, "images_per_s": self.images_per_s, "rankme": self.rankme,
                "embed_std": self.embed_std, "seconds": self.seconds}


_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(Progress))
_vpp = ctypes.POINTER(_vp)
declare("sslk_trainer_create", [_vp, ctypes.c_int, _vp, ctypes.c_char_p, ctypes.c_char_p, _vpp])
declare("sslk_trainer_destroy", [_vp], None)
declare("sslk_method_from_name", [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)])
declare("sslk_trainer_set_f64", [_vp, ctypes.c_int, ctypes.c_double])
declare("sslk_trainer_get_f64", [_vp, ctypes.c_int, c_double_p])
declare("sslk_trainer_set_callbacks", [_vp, _CB, _CB, _vp])
declare("sslk_trainer_set_checkpoint_dir", [_vp, ctypes.c_char_p])
declare("sslk_trainer_fit", [_vp, ctypes.c_uint64])
declare("sslk_trainer_epochs_done", [_vp, ctypes.POINTER(ctypes.c_uint64)])
declare("sslk_trainer_history", [_vp, ctypes.c_uint64, ctypes.POINTER(Progress)])
declare("sslk_trainer_save", [_vp, ctypes.c_char_p])
declare("sslk_trainer_load", [_vp, ctypes.c_char_p, _vp, _vpp])
declare("sslk_trainer_embed_dim", [_vp, ctypes.POINTER(_sz)])
declare("sslk_trainer_embed", [_vp, _vp, c_float_p, _sz, _sz, _i32p])
declare("sslk_trainer_loss", [_vp, _vpp])
declare("sslk_trainer_loader", [_vp, _vpp])
declare("sslk_trainer_augment", [_vp, _vpp])
declare("sslk_loss_set_f64", [_vp, ctypes.c_int, ctypes.c_double])
declare("sslk_loss_get_kind", [_vp, ctypes.POINTER(ctypes.c_int)])
declare("sslk_loss_kind_domain", [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)])


def _as_dataset(data, ctx=None):
    """A Dataset from a name/path, a Dataset, or (images, labels) arrays."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, str):
        return Dataset.open(data, split="train", ctx=ctx)
    if isinstance(data, tuple):
        return Dataset.from_array(*data, ctx=ctx)
    return Dataset.from_array(data, ctx=ctx)


class Trainer(Owner):
    """Pre-train an encoder with a method preset.

        tr = sslkit.Trainer("vicreg", data="fashion-mnist", epochs=5, batch=256)
        tr.fit(5, callback=lambda p: print(p["epoch"], p["loss"]))
        z = tr.embed(sslkit.Dataset.open("fashion-mnist", split="test"))

    `encoder` / `projector` are model specs (None: the method's defaults); any
    trainer setting (domain "train") or loss setting of the method can be
    passed as a keyword."""

    _destroy_name = "sslk_trainer_destroy"

    def __init__(self, method, encoder=None, projector=None, data="fashion-mnist", checkpoint_dir=None,
                 ctx=None, _handle=None, **settings):
        self._adopt_ctx(ctx)
        self._ctx = ctx
        self.data = _as_dataset(data, ctx)
        self._cbs = None
        with hold(self.data, what="Trainer"):
            if _handle is None:
                m = ctypes.c_int()
                lib.sslk_method_from_name(method.encode(), ctypes.byref(m))
                h = _vp()
                lib.sslk_trainer_create(ctx_handle(ctx), m.value, self.data._h,
                                        None if encoder is None else encoder.encode(),
                                        None if projector is None else projector.encode(), ctypes.byref(h))
                _handle = h
            self._h = _handle
            self._depend_on(self.data)  # the trainer reads the caller's dataset, also after its close()
        self.method = method
        self._epochs_set = "epochs" in settings or _handle is not None
        for k, v in settings.items():
            self.set(k, v)
        if checkpoint_dir is not None:
            self.checkpoint_dir = checkpoint_dir

    @property
    def checkpoint_dir(self):
        return getattr(self, "_ckdir", None)

    @checkpoint_dir.setter
    def checkpoint_dir(self, d):
        self._ckdir = d
        lib.sslk_trainer_set_checkpoint_dir(self._h, None if d is None else str(d).encode())

    def set(self, name, value):
        """Set a trainer setting (domain "train") or a loss setting by name."""
        from ._lib import lib as _l
        key = ctypes.c_int()
        try:
            _l.sslk_setting_find(b"train", name.encode(), ctypes.byref(key))
            found = True
        except Error:  # not a trainer setting: try the loss
            found = False
        if found:  # errors of the setting itself (bounds, state) reach the caller
            lib.sslk_trainer_set_f64(self._h, key.value, float(setting_value(setting_info(key.value), value, name)))
            return
        loss = _vp()
        lib.sslk_trainer_loss(self._h, ctypes.byref(loss))
        if not loss.value:
            raise KeyError(f"no trainer setting '{name}'")
        kind = ctypes.c_int()
        dom = ctypes.c_char_p()
        lib.sslk_loss_get_kind(loss, ctypes.byref(kind))
        lib.sslk_loss_kind_domain(kind.value, ctypes.byref(dom))
        for d in (dom.value, b"loss"):
            try:
                _l.sslk_setting_find(d, name.encode(), ctypes.byref(key))
            except Exception:
                continue
            lib.sslk_loss_set_f64(loss, key.value, float(setting_value(setting_info(key.value), value, name)))
            return
        raise KeyError(f"no trainer or loss setting '{name}'")

    def get(self, name):
        from ._lib import lib as _l
        key = ctypes.c_int()
        _l.sslk_setting_find(b"train", name.encode(), ctypes.byref(key))
        v = ctypes.c_double()
        lib.sslk_trainer_get_f64(self._h, key.value, ctypes.byref(v))
        return v.value

    @property
    def normalization(self):
        """(mean, std): the three per-channel values the encoder input is
        normalised with (norm_mode "per_channel", or "measure" once measured by
        the first fit / embed), else the scalar norm_mean / norm_std repeated.
        Image folders default to "measure" (docs/training.md "Image folders")."""
        mode = int(self.get("norm_mode"))
        if mode == 0:
            return [self.get("norm_mean")] * 3, [self.get("norm_std")] * 3
        return [self.get(f"norm_mean{c}") for c in range(3)], [self.get(f"norm_std{c}") for c in range(3)]

    # The trainer's own loader and recipe are borrowed handles: they are used
    # only inside these calls, so no Python object can outlive them.
    def loader_set(self, name, value):
        """Set a setting of the trainer's loader (domain "loader", e.g. aug_seed);
        it holds until a trainer setting that reshapes the data path rebuilds it."""
        from .data import _key
        info = _key("loader", name)
        ld = _vp()
        lib.sslk_trainer_loader(self._h, ctypes.byref(ld))
        lib.sslk_loader_set_i64(ld, info["key"], setting_value(info, value, name))

    def loader_get(self, name):
        from .data import _key
        ld = _vp()
        lib.sslk_trainer_loader(self._h, ctypes.byref(ld))
        v = ctypes.c_int64()
        lib.sslk_loader_get_i64(ld, _key("loader", name)["key"], ctypes.byref(v))
        return v.value

    def augment_set(self, name, value, view=-1):
        """Set a setting of the training recipe (domain "augment") for one view
        or all (-1); applies from the next fit."""
        from .data import _key
        info = _key("augment", name)
        a = _vp()
        lib.sslk_trainer_augment(self._h, ctypes.byref(a))
        v = setting_value(info, value, name)
        if info["type"] is int:
            lib.sslk_augment_set_i64(a, int(view), info["key"], v)
        else:
            lib.sslk_augment_set_f64(a, int(view), info["key"], float(v))

    @property
    def epochs_done(self):
        e = ctypes.c_uint64()
        lib.sslk_trainer_epochs_done(self._h, ctypes.byref(e))
        return e.value

    def fit(self, epochs=None, callback=None, step_callback=None):
        """Train until `epochs` epochs are complete (None: the schedule's
        length, setting "epochs").  When "epochs" was not given to the
        constructor, the first fit(epochs) also sets the schedule length.  callback(dict) runs after each epoch,
        step_callback(dict) after each step; a true return value stops."""
        if (epochs is not None and self.epochs_done == 0 and not self._epochs_set
                and self.get("epochs") != epochs):
            self.set("epochs", epochs)

        def wrap(fn):
            if fn is None:
                return _CB()

            def cb(_user, p):
                return 1 if fn(p.contents.to_dict()) else 0
            return _CB(cb)
        self._cbs = (wrap(step_callback), wrap(callback))
        lib.sslk_trainer_set_callbacks(self._h, self._cbs[0], self._cbs[1], None)
        lib.sslk_trainer_fit(self._h, 0 if epochs is None else to_int(epochs, "epochs", "uint64"))
        return self

    @property
    def history(self):
        out = []
        for e in range(self.epochs_done):
            p = Progress()
            p.struct_size = ctypes.sizeof(Progress)
            lib.sslk_trainer_history(self._h, e, ctypes.byref(p))
            out.append(p.to_dict())
        return out

    def save(self, path=None):
        """Write the whole training state (default: checkpoint_dir/checkpoint.sslkt)."""
        if path is None:
            if self.checkpoint_dir is None:
                raise ValueError("save(): give a path or set checkpoint_dir")
            path = f"{self.checkpoint_dir}/checkpoint.sslkt"
        lib.sslk_trainer_save(self._h, str(path).encode())
        return path

    @classmethod
    def resume(cls, path, data="fashion-mnist", ctx=None):
        """Load a checkpoint (a run directory or the .sslkt file) over the same dataset."""
        import os
        ck = os.path.join(path, "checkpoint.sslkt") if os.path.isdir(path) else path
        ds = _as_dataset(data, ctx)
        h = _vp()
        with hold(ds, what="resume"):
            lib.sslk_trainer_load(ctx_handle(ctx), str(ck).encode(), ds._h, ctypes.byref(h))
        tr = cls(None, data=ds, ctx=ctx, _handle=h)
        if os.path.isdir(path):
            tr.checkpoint_dir = path
        return tr

    @property
    def embed_dim(self):
        d = _sz()
        lib.sslk_trainer_embed_dim(self._h, ctypes.byref(d))
        return d.value

    @also_holds(lambda self, dataset, *_, **__: [dataset])
    def embed(self, dataset, return_labels=False):
        """Encoder outputs (n, dim) float32 of a dataset (name/path, Dataset or arrays)."""
        ds = dataset if isinstance(dataset, Dataset) else (
            Dataset.open(dataset, split="test", ctx=self._ctx) if isinstance(dataset, str)
            else _as_dataset(dataset, self._ctx))
        n = len(ds)
        d = self.embed_dim
        z = np.empty((n, d), np.float32)
        y = np.empty(n, np.int32)
        with hold(ds, what="embed"):
            lib.sslk_trainer_embed(self._h, ds._h, ptr(z, ctypes.c_float), n, d, ptr(y, ctypes.c_int32))
        return (z, y) if return_labels else z

