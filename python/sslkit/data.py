"""Datasets, SSL augmentations and the batch loader (libsslkit's data layer).

    ds = sslkit.Dataset.open("fashion-mnist")             # or a path
    aug = sslkit.Augment(views=2, preset="vicreg", size=28, out_channels=1)
    for v1, v2, labels, idx in sslkit.Loader(ds, aug, batch_size=256, seed=0):
        ...

Every random draw depends only on (seed, epoch, datum index, view), so a run
is reproducible at any worker count.
"""
import ctypes

import numpy as np

from ._lib import (Error, Owner, c_float_p, c_int_p, c_size_p, ctx_handle, declare, hold, lib, ptr, setting_value, settings,
                   to_int)

_vp = ctypes.c_void_p
_vpp = ctypes.POINTER(ctypes.c_void_p)
_i32p = ctypes.POINTER(ctypes.c_int32)
_i64p = ctypes.POINTER(ctypes.c_int64)
_u8p = ctypes.POINTER(ctypes.c_uint8)

declare("sslk_dataset_open", [_vp, ctypes.c_char_p, ctypes.c_int, _vpp])
declare("sslk_dataset_open_kind", [_vp, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, _vpp])
declare("sslk_dataset_open_folder", [_vp, ctypes.c_char_p, ctypes.c_char_p, _vpp])
declare("sslk_dataset_from_memory", [_vp, _u8p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t,
                                     ctypes.c_size_t, _i32p, _vpp])
declare("sslk_dataset_subset", [_vp, c_size_p, ctypes.c_size_t, _vpp])
declare("sslk_dataset_destroy", [_vp], None)
declare("sslk_dataset_get_kind", [_vp, c_int_p])
declare("sslk_dataset_count", [_vp, c_size_p])
declare("sslk_dataset_shape", [_vp, c_size_p, c_size_p, c_size_p])
declare("sslk_dataset_num_classes", [_vp, c_size_p])
declare("sslk_dataset_labels", [_vp, _i32p, ctypes.c_size_t])
declare("sslk_dataset_image_shape", [_vp, ctypes.c_size_t, c_size_p, c_size_p, c_size_p])
declare("sslk_dataset_read", [_vp, ctypes.c_size_t, _u8p, ctypes.c_size_t, c_size_p, c_size_p, c_size_p])
declare("sslk_dataset_set_i64", [_vp, ctypes.c_int, ctypes.c_int64])
declare("sslk_dataset_get_i64", [_vp, ctypes.c_int, _i64p])
declare("sslk_augment_create", [_vp, ctypes.c_size_t, _vpp])
declare("sslk_augment_destroy", [_vp], None)
declare("sslk_augment_set_f64", [_vp, ctypes.c_int, ctypes.c_int, ctypes.c_double])
declare("sslk_augment_set_i64", [_vp, ctypes.c_int, ctypes.c_int, ctypes.c_int64])
declare("sslk_augment_get_f64", [_vp, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_double)])
declare("sslk_augment_preset", [_vp, ctypes.c_int, ctypes.c_int])
declare("sslk_augment_out_shape", [_vp, ctypes.c_size_t, ctypes.c_size_t, c_size_p, c_size_p, c_size_p])
declare("sslk_augment_apply", [_vp, ctypes.c_size_t, _u8p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t,
                               ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64, c_float_p])
declare("sslk_augment_recipe", [_vp, ctypes.c_char_p])
declare("sslk_augment_draw", [_vp, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_uint64,
                              ctypes.c_uint64, ctypes.c_uint64, ctypes.POINTER(ctypes.c_double), ctypes.c_size_t])
declare("sslk_loader_create", [_vp, _vp, _vp, ctypes.c_size_t, _vpp])
declare("sslk_loader_destroy", [_vp], None)
declare("sslk_dataset_mean_std", [_vp, ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double)])
declare("sslk_dataset_class_name", [_vp, ctypes.c_size_t, ctypes.POINTER(ctypes.c_char_p)])
declare("sslk_loader_set_i64", [_vp, ctypes.c_int, ctypes.c_int64])
declare("sslk_loader_get_i64", [_vp, ctypes.c_int, _i64p])
declare("sslk_loader_num_views", [_vp, c_size_p])
declare("sslk_loader_view_shape", [_vp, ctypes.c_size_t, c_size_p, c_size_p, c_size_p])
declare("sslk_loader_num_batches", [_vp, c_size_p])
declare("sslk_loader_begin_epoch", [_vp, ctypes.c_uint64])
declare("sslk_loader_next", [_vp, ctypes.POINTER(c_float_p), _i32p, _i64p, c_size_p])


class _LoaderStats(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("epoch", ctypes.c_uint64), ("batches", ctypes.c_uint64),
                ("images", ctypes.c_uint64), ("skipped", ctypes.c_uint64), ("failures", ctypes.c_uint64),
                ("seconds", ctypes.c_double), ("images_per_s", ctypes.c_double), ("wait_seconds", ctypes.c_double)]


declare("sslk_loader_stats_get", [_vp, ctypes.POINTER(_LoaderStats)])

KINDS = {0: "auto", 1: "idx", 2: "cifar10", 3: "cifar100", 4: "npy", 5: "jpeg_folder", 6: "memory"}
_KIND_IDS = {v: k for k, v in KINDS.items()}
_SPLITS = {"train": 0, "test": 1}
PRESETS = {"plain": 0, "simclr": 1, "vicreg": 2, "local": 3, "eval": 4}


def _sizes(n=3):
    return [ctypes.c_size_t() for _ in range(n)]


def _key(domain, name):
    info = settings(domain).get(name)
    if info is None:
        raise KeyError(f"no setting '{name}' in domain '{domain}' (known: {sorted(settings(domain))})")
    return info


class Dataset(Owner):
    """An indexable image dataset: IDX, CIFAR binary, NPY, JPEG folder or an array.

    len(ds) / ds.count items; ds.shape = (H, W, C) (H = W = 0 when sizes vary);
    ds.labels (int32, -1 when unlabeled); ds[i] -> uint8 H x W x C array."""

    _destroy_name = "sslk_dataset_destroy"

    def __init__(self, handle, ctx=None):
        self._adopt_ctx(ctx)
        self._h = handle
        self._ctx = ctx

    @classmethod
    def open(cls, path_or_name="fashion-mnist", split="train", kind=None, labels=None, ctx=None):
        """Open by name ("fashion-mnist") or path; split "train" or "test"; kind
        forces a format ("idx", "cifar10", "cifar100", "npy", "jpeg_folder")."""
        h = ctypes.c_void_p()
        sp = _SPLITS[split]
        if kind is None and labels is None:
            lib.sslk_dataset_open(ctx_handle(ctx), str(path_or_name).encode(), sp, ctypes.byref(h))
        else:
            lib.sslk_dataset_open_kind(ctx_handle(ctx), _KIND_IDS[kind or "auto"], str(path_or_name).encode(),
                                       None if labels is None else str(labels).encode(), sp, ctypes.byref(h))
        return cls(h, ctx)

    @classmethod
    def open_folder(cls, root, cache=None, ctx=None):
        """A JPEG folder (root/<class>/*.jpg) with an optional file-list cache path."""
        h = ctypes.c_void_p()
        lib.sslk_dataset_open_folder(ctx_handle(ctx), str(root).encode(),
                                     None if cache is None else str(cache).encode(), ctypes.byref(h))
        return cls(h, ctx)

    @classmethod
    def from_array(cls, images, labels=None, ctx=None):
        """Copy N x H x W (gray) or N x H x W x C uint8 images and optional labels."""
        a = np.ascontiguousarray(images)
        if a.dtype != np.uint8:
            raise ValueError(f"images must be uint8, got {a.dtype}")
        if a.ndim == 3:
            a = a[..., None]
        if a.ndim != 4:
            raise ValueError(f"images must be N x H x W [x C], got shape {a.shape}")
        lab = None
        if labels is not None:
            lab = np.ascontiguousarray(labels, dtype=np.int32)
            if lab.shape != (a.shape[0],):
                raise ValueError(f"labels must have shape ({a.shape[0]},), got {lab.shape}")
        h = ctypes.c_void_p()
        lib.sslk_dataset_from_memory(ctx_handle(ctx), ptr(a, ctypes.c_uint8), a.shape[0], a.shape[1], a.shape[2],
                                     a.shape[3], None if lab is None else ptr(lab, ctypes.c_int32), ctypes.byref(h))
        return cls(h, ctx)

    def subset(self, indices):
        """A dataset of items `indices` of this one (no pixels copied; repeats
        allowed).  It keeps this dataset alive and reads with its settings."""
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise ValueError(f"indices must be a 1-D integer array, got {idx.dtype} of shape {idx.shape}")
        if idx.size and idx.min() < 0:
            raise ValueError(f"indices must be >= 0, got {int(idx.min())}")
        idx = np.ascontiguousarray(idx, dtype=np.uintp)
        h = ctypes.c_void_p()
        lib.sslk_dataset_subset(self._h, idx.ctypes.data_as(c_size_p), idx.size, ctypes.byref(h))
        sub = Dataset(h, self._ctx)
        sub._depend_on(self)  # the subset reads through its parent, also after the parent's close()
        return sub

    @property
    def handle(self):
        return self._h

    @property
    def count(self):
        n = ctypes.c_size_t()
        lib.sslk_dataset_count(self._h, ctypes.byref(n))
        return n.value

    def __len__(self):
        return self.count

    @property
    def shape(self):
        s = _sizes()
        lib.sslk_dataset_shape(self._h, *[ctypes.byref(x) for x in s])
        return tuple(x.value for x in s)

    @property
    def kind(self):
        k = ctypes.c_int()
        lib.sslk_dataset_get_kind(self._h, ctypes.byref(k))
        return KINDS[k.value]

    @property
    def num_classes(self):
        k = ctypes.c_size_t()
        lib.sslk_dataset_num_classes(self._h, ctypes.byref(k))
        return k.value

    @property
    def labels(self):
        out = np.empty(self.count, dtype=np.int32)
        lib.sslk_dataset_labels(self._h, ptr(out, ctypes.c_int32), out.size)
        return out

    def image_shape(self, i):
        s = _sizes()
        lib.sslk_dataset_image_shape(self._h, to_int(i, "index", "size_t"), *[ctypes.byref(x) for x in s])
        return tuple(x.value for x in s)

    def __getitem__(self, i):
        i = to_int(i, "index", "int64")
        if i < 0:
            i += self.count
        h, w, c = self.image_shape(i)
        out = np.empty((h, w, c), dtype=np.uint8)
        s = _sizes()
        lib.sslk_dataset_read(self._h, i, ptr(out, ctypes.c_uint8), out.nbytes, *[ctypes.byref(x) for x in s])
        return out

    def mean_std(self):
        """(mean, std) of the pixels scaled to [0, 1] for datasets that know them
        (opened as "fashion-mnist"; subsets inherit them), else None.
        Experimental C API (sslk_dataset_mean_std)."""
        m, sd = ctypes.c_double(), ctypes.c_double()
        try:
            lib.sslk_dataset_mean_std(self._h, ctypes.byref(m), ctypes.byref(sd))
        except Error as e:
            if e.status_name == "SSLK_E_NOT_FOUND":
                return None
            raise
        return m.value, sd.value

    @property
    def class_names(self):
        """The classes' names for datasets that know them, else None.
        Experimental C API (sslk_dataset_class_name)."""
        names = []
        name = ctypes.c_char_p()
        for i in range(self.num_classes):
            try:
                lib.sslk_dataset_class_name(self._h, i, ctypes.byref(name))
            except Error as e:
                if e.status_name == "SSLK_E_NOT_FOUND":
                    return None
                raise
            names.append(name.value.decode())
        return names

    def set(self, name, value):
        info = _key("dataset", name)
        lib.sslk_dataset_set_i64(self._h, info["key"], setting_value(info, value, name))

    def get(self, name):
        v = ctypes.c_int64()
        lib.sslk_dataset_get_i64(self._h, _key("dataset", name)["key"], ctypes.byref(v))
        return v.value



class Augment(Owner):
    """A multi-view augmentation recipe.  Keyword settings (names of the
    "augment" domain: size, crop, scale_min, scale_max, ratio_min, ratio_max,
    flip_p, jitter_p, brightness, contrast, saturation, hue, gray_p, blur_p,
    blur_sigma_min, blur_sigma_max, solarize_p, solarize_threshold, mean, std,
    out_channels) apply to every view; per_view=[{...}, ...] overrides per view.
    mean / std accept a scalar or a sequence of up to 3 values."""

    _destroy_name = "sslk_augment_destroy"

    def __init__(self, views=2, preset=None, per_view=None, ctx=None, recipe=None, **settings_):
        self._adopt_ctx(ctx)
        h = ctypes.c_void_p()
        views = to_int(views, "views", "size_t")
        lib.sslk_augment_create(ctx_handle(ctx), views, ctypes.byref(h))
        self._h = h
        self._ctx = ctx
        self.views = views
        if preset is not None:
            self.preset(preset)
        size = settings_.pop("size", None)
        if size is not None:  # before a recipe, whose blur depends on the view size
            self.set("size", size)
        if recipe is not None:
            self.recipe(recipe)
        for k, v in settings_.items():
            self.set(k, v)
        for view, d in enumerate(per_view or []):
            for k, v in d.items():
                self.set(k, v, view=view)

    @property
    def handle(self):
        return self._h

    def preset(self, name, view=-1):
        lib.sslk_augment_preset(self._h, to_int(view, "view", "int"), PRESETS[name])

    def recipe(self, name):
        """Apply a standard recipe to every view: "simclr", "vicreg", "byol",
        "msn" or "plain" (the papers' parameters, docs/data.md "Recipes"); set
        size first.  Experimental C API (sslk_augment_recipe)."""
        lib.sslk_augment_recipe(self._h, str(name).encode())

    DRAW_FIELDS = ("crop_x", "crop_y", "crop_w", "crop_h", "flip", "jitter", "order", "brightness", "contrast",
                   "saturation", "hue", "gray", "blur_sigma", "blur_radius", "solarize")

    def draw(self, shape, view=0, seed=0, epoch=0, index=0):
        """The random draw apply() makes for an image of shape (H, W[, C]):
        a dict of DRAW_FIELDS (order: the jitter ops' order, 0 brightness,
        1 contrast, 2 saturation, 3 hue).  Experimental C API (sslk_augment_draw)."""
        h, w = int(shape[0]), int(shape[1])
        c = int(shape[2]) if len(shape) > 2 else 1
        out = (ctypes.c_double * 18)()
        lib.sslk_augment_draw(self._h, to_int(view, "view", "size_t"), h, w, c, to_int(seed, "seed", "uint64"),
                              to_int(epoch, "epoch", "uint64"), to_int(index, "index", "uint64"), out, 18)
        v = list(out)
        d = dict(zip(("crop_x", "crop_y", "crop_w", "crop_h"), v[:4]))
        d.update(flip=bool(v[4]), jitter=bool(v[5]), order=[int(x) for x in v[6:10]], brightness=v[10],
                 contrast=v[11], saturation=v[12], hue=v[13], gray=bool(v[14]), blur_sigma=v[15],
                 blur_radius=int(v[16]), solarize=bool(v[17]))
        return d

    def set(self, name, value, view=-1):
        if name in ("mean", "std"):
            vals = np.atleast_1d(np.asarray(value, dtype=float))
            if vals.size == 1:
                vals = np.repeat(vals, 3)
            for i, x in enumerate(vals[:3]):
                self.set(f"{name}{i}", float(x), view)
            return
        info = _key("augment", name)
        v = setting_value(info, value, name)
        if info["type"] is int:
            lib.sslk_augment_set_i64(self._h, to_int(view, "view", "int"), info["key"], v)
        else:
            lib.sslk_augment_set_f64(self._h, to_int(view, "view", "int"), info["key"], v)

    def get(self, name, view=0):
        v = ctypes.c_double()
        lib.sslk_augment_get_f64(self._h, to_int(view, "view", "int"), _key("augment", name)["key"], ctypes.byref(v))
        return v.value

    def out_shape(self, view=0, in_channels=3):
        s = _sizes()
        lib.sslk_augment_out_shape(self._h, to_int(view, "view", "size_t"), to_int(in_channels, "in_channels", "size_t"),
                                   *[ctypes.byref(x) for x in s])
        return tuple(x.value for x in s)

    def apply(self, image, view=0, seed=0, epoch=0, index=0):
        """Augment one uint8 H x W [x C] image: float32 C x S x S."""
        a = np.ascontiguousarray(image, dtype=np.uint8)
        if a.ndim == 2:
            a = a[..., None]
        c, hh, ww = self.out_shape(view, a.shape[2])
        out = np.empty((c, hh, ww), dtype=np.float32)
        lib.sslk_augment_apply(self._h, to_int(view, "view", "size_t"), ptr(a, ctypes.c_uint8), a.shape[0], a.shape[1],
                               a.shape[2], to_int(seed, "seed", "uint64"), to_int(epoch, "epoch", "uint64"),
                               to_int(index, "index", "uint64"), ptr(out, ctypes.c_float))
        return out



class Loader(Owner):
    """Batches of augmented views.  Iterating runs one epoch and yields
    (view_0, ..., view_{V-1}, labels, indices): float32 N x C x H x W arrays,
    int32 labels (-1 unlabeled) and int64 datum indices.  Each iteration
    starts the next epoch (or set .epoch).  augment=None builds a default
    recipe with `views` views sized to the dataset; Loader.plain() gives the
    unshuffled, unaugmented loader for embedding and evaluation.  seed draws
    the epoch order and, unless aug_seed >= 0 is given, the augmentations."""

    _destroy_name = "sslk_loader_destroy"

    def __init__(self, dataset, augment=None, batch_size=256, views=2, seed=0, shuffle=True, drop_last=True,
                 workers=0, prefetch=2, on_corrupt="fail", epoch=0, ctx=None, _plain=False, aug_seed=-1):
        self._adopt_ctx(ctx)
        self.dataset = dataset
        if augment is None and not _plain:
            h, w, c = dataset.shape
            augment = Augment(views=views, ctx=ctx, size=h if h and h == w else 224)
        elif augment is not None and augment.views != views and views != 2:
            raise ValueError(f"views={views} but the recipe has {augment.views} views")
        self.augment = augment
        batch_size = to_int(batch_size, "batch_size", "size_t")
        self.epoch = to_int(epoch, "epoch", "uint64")
        hnd = ctypes.c_void_p()
        with hold(dataset, augment, what="Loader"):  # the C loader reads the dataset; it copies the recipe
            lib.sslk_loader_create(ctx_handle(ctx), dataset._h, None if augment is None else augment._h,
                                   batch_size, ctypes.byref(hnd))
            self._h = hnd
            self._depend_on(dataset)
        self.batch_size = batch_size
        for name, v in (("seed", seed), ("shuffle", int(bool(shuffle))), ("drop_last", int(bool(drop_last))),
                        ("workers", workers), ("prefetch", prefetch), ("on_corrupt", on_corrupt),
                        ("aug_seed", aug_seed)):
            info = _key("loader", name)
            lib.sslk_loader_set_i64(self._h, info["key"], setting_value(info, v, name))
        n = ctypes.c_size_t()
        lib.sslk_loader_num_views(self._h, ctypes.byref(n))
        self.views = n.value
        self.view_shapes = []
        for v in range(self.views):
            s = _sizes()
            lib.sslk_loader_view_shape(self._h, v, *[ctypes.byref(x) for x in s])
            self.view_shapes.append(tuple(x.value for x in s))

    @classmethod
    def plain(cls, dataset, batch_size=256, augment=None, workers=0, ctx=None):
        """Sequential, unshuffled, every item once; augment=None gives native-size
        images scaled to [0, 1] (pass a "plain" preset recipe to resize/normalise)."""
        return cls(dataset, augment, batch_size, views=augment.views if augment else 1, shuffle=False,
                   drop_last=False, workers=workers, ctx=ctx, _plain=True)

    def __len__(self):
        n = ctypes.c_size_t()
        lib.sslk_loader_num_batches(self._h, ctypes.byref(n))
        return n.value

    def __iter__(self):
        # a generator: each C call takes the locks itself
        with hold(self, what="__iter__"):
            lib.sslk_loader_begin_epoch(self._h, self.epoch)
            self.epoch += 1
        B = self.batch_size
        rows = ctypes.c_size_t()
        while True:
            outs = [np.empty((B,) + s, dtype=np.float32) for s in self.view_shapes]
            lab = np.empty(B, dtype=np.int32)
            idx = np.empty(B, dtype=np.int64)
            arr = (c_float_p * self.views)(*[ptr(o, ctypes.c_float) for o in outs])
            with hold(self, what="__iter__"):
                lib.sslk_loader_next(self._h, arr, ptr(lab, ctypes.c_int32), ptr(idx, ctypes.c_int64),
                                     ctypes.byref(rows))
            n = rows.value
            if n == 0:
                return
            yield tuple(o[:n] for o in outs) + (lab[:n], idx[:n])

    @property
    def stats(self):
        s = _LoaderStats()
        s.struct_size = ctypes.sizeof(s)
        lib.sslk_loader_stats_get(self._h, ctypes.byref(s))
        return {f: getattr(s, f) for f, _ in _LoaderStats._fields_ if f != "struct_size"}

