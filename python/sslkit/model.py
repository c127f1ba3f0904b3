"""Models (sslk_model) and optimizers (sslk_optim).

    m = sslkit.Model.from_spec("linear:64,bn,relu,linear:8", (16,), seed=0)
    r = m.load_safetensors("ckpt.safetensors", prefix="backbone.", strict=False)  # r.missing_keys, ...
    y = m.forward(x, train=True)          # x: (n, 16) float32
    gx = m.backward(dy)                   # accumulates parameter gradients
    opt = sslkit.Optimizer("lars", m, lr=0.2, weight_decay=1e-6)
    opt.step(); m.zero_grad()

`params` / `grads` are dicts of numpy VIEWS of library memory (writes go to
the model; each array keeps its model alive).  Anything with a
`param_views()` method returning sslk_param_view structs (a Model, a Loss)
can be handed to an Optimizer.
"""
import collections
import ctypes

import numpy as np

from ._lib import (Owner, ParamView, also_holds, as_f32, borrow, c_float_p, collect_param_views, declare, default_ctx,
                   lib, setting_info, setting_value, to_int)

_vp = ctypes.c_void_p
_sz = ctypes.c_size_t
_szp = ctypes.POINTER(_sz)


PARAM_NO_DECAY = 1
PARAM_FROZEN = 2

declare("sslk_model_create", [_vp, _sz, _szp, ctypes.c_uint64, ctypes.POINTER(_vp)])
declare("sslk_model_from_spec", [_vp, ctypes.c_char_p, _sz, _szp, ctypes.c_uint64, ctypes.POINTER(_vp)])
declare("sslk_model_destroy", [_vp], None)
declare("sslk_model_spec", [_vp, ctypes.c_char_p, _sz, _szp], ctypes.c_int)  # E_RANGE probes the size
declare("sslk_model_input_shape", [_vp, _szp, _szp])
declare("sslk_model_output_shape", [_vp, _szp, _szp])
declare("sslk_model_io_size", [_vp, _szp, _szp])
declare("sslk_model_forward", [_vp, c_float_p, _sz, c_float_p, ctypes.c_int])
declare("sslk_model_backward", [_vp, c_float_p, c_float_p])
declare("sslk_model_zero_grad", [_vp])
declare("sslk_model_param_count", [_vp, _szp])
declare("sslk_model_param", [_vp, _sz, ctypes.POINTER(ParamView)])
declare("sslk_model_num_scalars", [_vp, _szp])
declare("sslk_model_set_param", [_vp, ctypes.c_char_p, c_float_p, _sz])
declare("sslk_model_set_f64", [_vp, ctypes.c_int, ctypes.c_double])
declare("sslk_model_get_f64", [_vp, ctypes.c_int, ctypes.POINTER(ctypes.c_double)])
declare("sslk_model_init_params", [_vp, ctypes.c_int, ctypes.c_uint64])
declare("sslk_model_clone", [_vp, ctypes.POINTER(_vp)])
declare("sslk_model_save", [_vp, ctypes.c_char_p])
declare("sslk_model_load", [_vp, ctypes.c_char_p, ctypes.POINTER(_vp)])
declare("sslk_model_save_safetensors", [_vp, ctypes.c_char_p])
declare("sslk_model_load_safetensors", [_vp, ctypes.c_char_p])



class _StOptions(ctypes.Structure):
    """ctypes mirror of sslk_safetensors_options (experimental)."""
    _fields_ = [("struct_size", _sz), ("flags", ctypes.c_uint), ("prefix", ctypes.c_char_p)]


class _LayerInfo(ctypes.Structure):
    """ctypes mirror of sslk_layer_info (experimental)."""
    _fields_ = [("struct_size", _sz), ("name", ctypes.c_char_p), ("kind", ctypes.c_char_p), ("depth", _sz),
                ("out_ndim", _sz), ("out_shape", _sz * 3), ("params", ctypes.c_uint64), ("flops", ctypes.c_uint64)]


declare("sslk_safetensors_options_init", [ctypes.POINTER(_StOptions)])
declare("sslk_load_report_create", [_vp, ctypes.POINTER(_vp)])
declare("sslk_load_report_destroy", [_vp], None)
declare("sslk_load_report_count", [_vp, ctypes.c_int, _szp])
declare("sslk_load_report_name", [_vp, ctypes.c_int, _sz, ctypes.POINTER(ctypes.c_char_p)])
declare("sslk_model_load_safetensors_ex", [_vp, ctypes.c_char_p, ctypes.POINTER(_StOptions), _vp])
declare("sslk_model_save_safetensors_ex", [_vp, ctypes.c_char_p, ctypes.POINTER(_StOptions)])
declare("sslk_model_layer_count", [_vp, _szp])
declare("sslk_model_layer_info", [_vp, _sz, ctypes.POINTER(_LayerInfo)])

ST_NON_STRICT = 1
ST_SKIP_MISMATCHED = 2

LoadResult = collections.namedtuple("LoadResult", ["missing_keys", "unexpected_keys", "mismatched_keys"])
LoadResult.__doc__ = """What Model.load_safetensors matched, like torch's load_state_dict result:
missing_keys (model names the file lacks), unexpected_keys (file names the model lacks, or without
the prefix), mismatched_keys (names present in both with different shapes, skipped)."""


def _st_options(prefix, flags=0):
    o = _StOptions()
    lib.sslk_safetensors_options_init(ctypes.byref(o))
    o.flags = flags
    o.prefix = None if prefix is None else str(prefix).encode()
    return o


def _report_list(rep, k):
    n = _sz()
    lib.sslk_load_report_count(rep, k, ctypes.byref(n))
    out = []
    for i in range(n.value):
        p = ctypes.c_char_p()
        lib.sslk_load_report_name(rep, k, i, ctypes.byref(p))
        out.append(p.value.decode())
    return out


declare("sslk_optim_create", [_vp, ctypes.c_int, ctypes.POINTER(_vp)])
declare("sslk_optim_destroy", [_vp], None)
declare("sslk_optim_add_params", [_vp, ctypes.POINTER(ParamView), _sz, _sz])
declare("sslk_optim_counts", [_vp, _szp, _szp])
declare("sslk_optim_set_f64", [_vp, ctypes.c_int, ctypes.c_double])
declare("sslk_optim_group_set_f64", [_vp, _sz, ctypes.c_int, ctypes.c_double])
declare("sslk_optim_get_f64", [_vp, _sz, ctypes.c_int, ctypes.POINTER(ctypes.c_double)])
declare("sslk_optim_set_lr_scale", [_vp, ctypes.c_double])
declare("sslk_optim_step", [_vp])
declare("sslk_optim_zero_grad", [_vp])
declare("sslk_optim_steps", [_vp, ctypes.POINTER(ctypes.c_uint64)])
declare("sslk_optim_state_size", [_vp, _szp])
declare("sslk_optim_state_get", [_vp, ctypes.c_void_p, _sz])
declare("sslk_optim_state_set", [_vp, ctypes.c_void_p, _sz])
declare("sslk_schedule_warmup_cosine", [ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64,
                                        ctypes.c_double, ctypes.c_double, ctypes.POINTER(ctypes.c_double)])
declare("sslk_setting_find", [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)])

INIT = {"pytorch": 0, "kaiming_normal": 1, "kaiming_normal_out": 2}


def _key(domain, name):
    k = ctypes.c_int()
    lib.sslk_setting_find(domain.encode(), name.encode(), ctypes.byref(k))
    return k.value


def _borrow(owner, p, pv):
    # the view keeps the model's memory alive, also after close()
    return borrow(owner, p, tuple(pv.shape[k] for k in range(pv.ndim)))


def _set(domain, name, value):
    """(key, C value) of a setting, converted and range-checked."""
    info = setting_info(_key(domain, name))
    return info["key"], setting_value(info, value, name)


class Model(Owner):
    """An sslk_model: a sequence of layers with forward, backward and files."""

    _destroy_name = "sslk_model_destroy"

    def __init__(self, handle, ctx):
        self._adopt_ctx(ctx)
        self._h = handle
        self._ctx = ctx
        self._in_shape = None

    @classmethod
    def from_spec(cls, spec, input_shape, seed=0, ctx=None):
        """Build from a text spec, e.g. "conv:32:3:1:1,bn,relu,gap,linear:128";
        input_shape is (D,) or (C, H, W)."""
        ctx = ctx or default_ctx()
        shape = tuple(to_int(s, "input_shape", "size_t")
                      for s in (input_shape if np.ndim(input_shape) else (input_shape,)))
        if not 1 <= len(shape) <= 3:
            raise ValueError(f"input_shape must be (D,) or (C, H, W), got {shape}")
        arr = (_sz * 3)(*shape, *([0] * (3 - len(shape))))
        seed = to_int(seed, "seed", "uint64")
        h = _vp()
        lib.sslk_model_from_spec(ctx.handle, spec.encode(), len(shape), arr, seed, ctypes.byref(h))
        return cls(h, ctx)

    @classmethod
    def load(cls, path, ctx=None):
        """Read a native model file (written by save)."""
        ctx = ctx or default_ctx()
        h = _vp()
        lib.sslk_model_load(ctx.handle, str(path).encode(), ctypes.byref(h))
        return cls(h, ctx)


    def clone(self):
        h = _vp()
        lib.sslk_model_clone(self._h, ctypes.byref(h))
        return Model(h, self._ctx)

    # ---- description --------------------------------------------------------------
    @property
    def spec(self):
        n = _sz()
        lib.sslk_model_spec(self._h, None, 0, ctypes.byref(n))
        buf = ctypes.create_string_buffer(n.value + 1)
        lib.sslk_model_spec(self._h, buf, n.value + 1, ctypes.byref(n))
        return buf.value.decode()

    def _shape(self, fn):
        nd = _sz()
        s = (_sz * 3)()
        fn(self._h, ctypes.byref(nd), s)
        return tuple(s[i] for i in range(nd.value))

    @property
    def input_shape(self):
        return self._shape(lib.sslk_model_input_shape)

    @property
    def output_shape(self):
        return self._shape(lib.sslk_model_output_shape)

    @property
    def num_scalars(self):
        n = _sz()
        lib.sslk_model_num_scalars(self._h, ctypes.byref(n))
        return n.value

    def set(self, name, value):
        """Set a model setting by name ("bn_momentum", "bn_eps")."""
        lib.sslk_model_set_f64(self._h, *_set("model", name, value))

    def get(self, name):
        v = ctypes.c_double()
        lib.sslk_model_get_f64(self._h, _key("model", name), ctypes.byref(v))
        return v.value

    def init_params(self, scheme="pytorch", seed=0):
        lib.sslk_model_init_params(self._h, INIT[scheme], to_int(seed, "seed", "uint64"))

    # ---- running --------------------------------------------------------------------
    def forward(self, x, train=False):
        """y = model(x); x is (n, *input_shape) or (n, prod(input_shape))."""
        ins = self.input_shape
        x = as_f32(x, "x")
        n = x.shape[0] if x.ndim > 1 else 1
        numel = int(np.prod(ins))
        if x.size != n * numel:
            raise ValueError(f"x has shape {x.shape}, the model takes (n, {', '.join(map(str, ins))})")
        x2 = x.reshape(n, numel)
        outs = self.output_shape
        y = np.empty((n,) + outs, dtype=np.float32)
        lib.sslk_model_forward(self._h, x2.ctypes.data_as(c_float_p), n, y.ctypes.data_as(c_float_p),
                               1 if train else 0)
        self._last = (x.shape, n)
        return y

    def backward(self, grad_out):
        """Back-propagate d loss / d y of the last forward; returns d loss / d x
        (shaped like that x) and adds the parameter gradients to `grads`."""
        if getattr(self, "_last", None) is None:
            raise RuntimeError("backward() needs a forward() first")
        xshape, n = self._last
        g = as_f32(grad_out, "grad_out")
        if g.size != n * int(np.prod(self.output_shape)):
            raise ValueError(f"grad_out has shape {g.shape}, expected ({n}, *{self.output_shape})")
        gx = np.empty(xshape, dtype=np.float32)
        lib.sslk_model_backward(self._h, g.ctypes.data_as(c_float_p), gx.ctypes.data_as(c_float_p))
        return gx

    __call__ = forward

    def zero_grad(self):
        lib.sslk_model_zero_grad(self._h)

    # ---- parameters ---------------------------------------------------------------
    def param_views(self):
        """list of ParamView (sslk_param_view) structs, PyTorch state_dict order."""
        return collect_param_views(self, lib.sslk_model_param_count, lib.sslk_model_param)

    @property
    def params(self):
        """dict name -> numpy view (parameters and batch-norm running statistics)."""
        return {pv.name.decode(): _borrow(self, pv.data, pv) for pv in self.param_views()}

    @property
    def grads(self):
        """dict name -> numpy view of the accumulated gradient (trainable tensors)."""
        return {pv.name.decode(): _borrow(self, pv.grad, pv) for pv in self.param_views() if pv.grad}

    def set_param(self, name, value):
        pv = {p.name.decode(): p for p in self.param_views()}.get(name)
        if pv is None:
            raise KeyError(name)
        a = as_f32(value, name)
        lib.sslk_model_set_param(self._h, name.encode(), a.ctypes.data_as(c_float_p), a.size)

    def state_dict(self):
        """dict name -> numpy copy (what a PyTorch nn.Sequential state_dict holds, minus
        num_batches_tracked)."""
        return {k: np.array(v) for k, v in self.params.items()}

    def load_state_dict(self, d):
        for k, v in d.items():
            if not k.endswith("num_batches_tracked"):
                self.set_param(k, np.asarray(v))

    # ---- files ----------------------------------------------------------------------
    def save(self, path):
        lib.sslk_model_save(self._h, str(path).encode())

    def save_safetensors(self, path, prefix=None):
        """Write every tensor (F32; num_batches_tracked I64) with PyTorch state_dict names,
        each preceded by `prefix` ("backbone.") when given."""
        o = _st_options(prefix)
        lib.sslk_model_save_safetensors_ex(self._h, str(path).encode(), ctypes.byref(o))

    def load_safetensors(self, path, prefix=None, strict=True, skip_mismatched=False):
        """Load a safetensors state_dict by name (F32, F64, F16, BF16 converted to float32).
        prefix ("module.", "backbone.") is stripped from the file's names; a name without it is
        unexpected.  strict: every model tensor present, nothing unexpected, shapes equal, else
        sslkit.Error naming every offending tensor.  Non-strict: loads what matches; mis-shaped
        tensors still raise unless skip_mismatched.  Returns LoadResult(missing_keys,
        unexpected_keys, mismatched_keys).  On error the model is unchanged."""
        if skip_mismatched and strict:
            raise ValueError("skip_mismatched needs strict=False")
        o = _st_options(prefix, (0 if strict else ST_NON_STRICT) | (ST_SKIP_MISMATCHED if skip_mismatched else 0))
        rep = _vp()
        lib.sslk_load_report_create(self._ctx.handle, ctypes.byref(rep))
        try:
            lib.sslk_model_load_safetensors_ex(self._h, str(path).encode(), ctypes.byref(o), rep)
            return LoadResult(_report_list(rep, 1), _report_list(rep, 2), _report_list(rep, 3))
        finally:
            lib.sslk_load_report_destroy(rep)

    # ---- layer table -----------------------------------------------------------------
    def layers(self):
        """The layer table, depth first: dicts with name (PyTorch module path), kind (spec
        token), depth (residual nesting), out_shape, params (trainable scalars of the layer
        itself) and flops (per image; 2 x multiply-adds for linear / conv, see docs/models.md)."""
        n = _sz()
        lib.sslk_model_layer_count(self._h, ctypes.byref(n))
        out = []
        for i in range(n.value):
            li = _LayerInfo()
            li.struct_size = ctypes.sizeof(_LayerInfo)
            lib.sslk_model_layer_info(self._h, i, ctypes.byref(li))
            out.append({"name": li.name.decode(), "kind": li.kind.decode(), "depth": li.depth,
                        "out_shape": tuple(li.out_shape[k] for k in range(li.out_ndim)),
                        "params": li.params, "flops": li.flops})
        return out


OPTIM_KINDS = {"sgd": 1, "lars": 2, "adamw": 3}


def _views_of(p):
    if hasattr(p, "param_views"):
        return list(p.param_views())
    if isinstance(p, ctypes.Structure):
        return [p]
    return list(p)


def _param_owners(p):
    """The handle-owning objects whose tensors `p` (an add() argument) names."""
    if isinstance(p, Owner):
        return [p]
    views = [p] if isinstance(p, ctypes.Structure) else (p if isinstance(p, (list, tuple)) else [])
    return [o for o in (getattr(v, "_owner", None) for v in views) if isinstance(o, Owner)]


class Optimizer(Owner):
    """sslkit.Optimizer("sgd" | "lars" | "adamw", *params, **settings).

    params: Models, Losses or anything with param_views(), or lists of
    ParamView structs; each positional argument forms one parameter group.
    Settings by name (lr, momentum, weight_decay, eta, nesterov, beta1, ...)
    apply to every group; add(params, **settings) opens a group with its own."""

    _destroy_name = "sslk_optim_destroy"

    def __init__(self, kind, *params, ctx=None, **settings):
        if kind not in OPTIM_KINDS:
            raise ValueError(f"kind must be one of {sorted(OPTIM_KINDS)}, got {kind!r}")
        self.kind = kind
        self._ctx = self._adopt_ctx(ctx)
        h = _vp()
        lib.sslk_optim_create(self._ctx.handle, OPTIM_KINDS[kind], ctypes.byref(h))
        self._h = h
        self._owners = []
        self._groups = 0
        for k, v in settings.items():
            lib.sslk_optim_set_f64(h, *_set(kind, k, v))
        for p in params:
            self.add(p)


    @also_holds(lambda self, params, **_: _param_owners(params))
    def add(self, params, **settings):
        """Register params as a new group; settings override this group's values."""
        views = _views_of(params)
        if not all(isinstance(v, ParamView) for v in views):
            raise TypeError("param views must be sslkit.ParamView structs")
        arr = (ParamView * max(len(views), 1))(*views)
        g = self._groups
        lib.sslk_optim_add_params(self._h, arr, len(views), g)
        self._groups += 1
        self._owners.append(params)
        for o in {id(o): o for o in _param_owners(params)}.values():
            if o not in self._parents:
                self._depend_on(o)  # their tensors must outlive the optimizer, also past close()
        for k, v in settings.items():
            lib.sslk_optim_group_set_f64(self._h, g, *_set(self.kind, k, v))
        return g

    def set(self, name, value, group=None):
        if group is None:
            lib.sslk_optim_set_f64(self._h, *_set(self.kind, name, value))
        else:
            lib.sslk_optim_group_set_f64(self._h, to_int(group, "group", "size_t"), *_set(self.kind, name, value))

    def get(self, name, group=None):
        v = ctypes.c_double()
        g = _sz(-1).value if group is None else to_int(group, "group", "size_t")
        lib.sslk_optim_get_f64(self._h, g, _key(self.kind, name), ctypes.byref(v))
        return v.value

    def set_lr_scale(self, scale):
        lib.sslk_optim_set_lr_scale(self._h, float(scale))

    def step(self):
        lib.sslk_optim_step(self._h)

    def zero_grad(self):
        lib.sslk_optim_zero_grad(self._h)

    @property
    def steps(self):
        s = ctypes.c_uint64()
        lib.sslk_optim_steps(self._h, ctypes.byref(s))
        return s.value

    def state(self):
        """Optimizer state (momentum / moments, step counts) as bytes."""
        n = _sz()
        lib.sslk_optim_state_size(self._h, ctypes.byref(n))
        buf = ctypes.create_string_buffer(max(n.value, 1))
        lib.sslk_optim_state_get(self._h, buf, n.value)
        return buf.raw[:n.value]

    def load_state(self, blob):
        b = ctypes.create_string_buffer(bytes(blob), len(blob))
        lib.sslk_optim_state_set(self._h, b, len(blob))


def warmup_cosine(step, warmup_steps, total_steps, base, final=0.0):
    """Learning rate of the linear warm-up + cosine schedule at step (0-based)."""
    v = ctypes.c_double()
    lib.sslk_schedule_warmup_cosine(to_int(step, "step", "uint64"), to_int(warmup_steps, "warmup_steps", "uint64"),
                                    to_int(total_steps, "total_steps", "uint64"), float(base), float(final),
                                    ctypes.byref(v))
    return v.value
