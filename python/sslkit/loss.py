"""Self-supervised losses with exact gradients.

    >>> v, ga, gb = sslkit.Loss("vicreg").compute(za, zb)
    >>> v, g1, g2, g3 = sslkit.Loss("infonce", temperature=0.5).compute(z1, z2, z3)
    >>> v, gz = sslkit.Loss("infonce").compute(z, sample_ids)          # rows with equal ids are positives
    >>> diet = sslkit.Loss("diet", num_samples=N, dim=K)
    >>> v, gz = diet.compute(z, indices); diet.param_grads["head.weight"]
    >>> msn = sslkit.Loss("msn", num_prototypes=K, dim=d, prior="power_law", tau=0.25)
    >>> v, ga = msn.compute(anchors, targets)     # anchors (V*n, d) or (V, n, d), targets (n, d)
    >>> msn.terms   # {"cross_entropy": ..., "prior_kl": ..., "entropy": ...}
    >>> v, ga, gb = sslkit.Loss("barlow_twins", lambd=0.0051).compute(za, zb)
    >>> v, gp1, gp2, _, _ = sslkit.Loss("negcos", symmetric=1).compute(p1, p2, z1, z2)  # SimSiam
    >>> dino = sslkit.Loss("dino", teacher_temp=0.07, warmup_teacher_temp_epochs=30)
    >>> dino.set("epoch", e); v, *g = dino.compute(s1, s2, l1, l2, t1, t2)  # students, then 2 teachers
    >>> dino.center     # the centre (float64 copy); dino.center = saved restores it
    >>> swav = sslkit.Loss("swav", num_prototypes=K, dim=d)
    >>> v, g1, g2, *gsmall = swav.compute(z1, z2, *small_crops, queue=[q1, q2])  # queue optional

Settings are keyword arguments named like the C enums (introspected with
sslkit.settings(domain)); enum choices also accept their names, e.g.
var_branch_reduction="sum", prior="power_law", kl_direction="reverse",
precision="double".  MSN's prior may also be a probability vector.
"""
import ctypes

import numpy as np

from ._lib import (Owner, ParamView, as_f32, borrow, c_double_p, c_float_p, choices as _choices, collect_param_views,
                   ctx_handle, declare, lib, setting_value, settings as _settings)

_vp = ctypes.c_void_p
_sz = ctypes.c_size_t
_i64p = ctypes.POINTER(ctypes.c_int64)
_fpp = ctypes.POINTER(c_float_p)


class _Batch(ctypes.Structure):
    _fields_ = [("struct_size", _sz), ("views", _fpp), ("num_views", _sz), ("n", _sz),
                ("d", _sz), ("indices", _i64p), ("targets", c_float_p)]


declare("sslk_loss_create", [_vp, ctypes.c_int, ctypes.POINTER(_vp)])
declare("sslk_loss_destroy", [_vp], None)
declare("sslk_loss_kind_domain", [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)])
declare("sslk_loss_set_f64", [_vp, ctypes.c_int, ctypes.c_double])
declare("sslk_loss_set_i64", [_vp, ctypes.c_int, ctypes.c_int64])
declare("sslk_loss_get_f64", [_vp, ctypes.c_int, c_double_p])
declare("sslk_loss_set_prior", [_vp, c_float_p, _sz])
declare("sslk_loss_set_prior_f64", [_vp, c_double_p, _sz])
declare("sslk_loss_compute", [_vp, ctypes.POINTER(_Batch), c_double_p, _fpp])
declare("sslk_loss_num_terms", [_vp, ctypes.POINTER(_sz)])
declare("sslk_loss_term_name", [_vp, _sz, ctypes.POINTER(ctypes.c_char_p)])
declare("sslk_loss_term_value", [_vp, _sz, c_double_p])
declare("sslk_loss_param_count", [_vp, ctypes.POINTER(_sz)])
declare("sslk_loss_param", [_vp, _sz, ctypes.POINTER(ParamView)])
declare("sslk_loss_zero_grad", [_vp])
declare("sslk_loss_compute_negatives", [_vp, c_float_p, c_float_p, _sz, _sz, c_float_p, _sz, c_double_p,
                                        c_float_p, c_float_p])
declare("sslk_loss_compute_swav_queue", [_vp, ctypes.POINTER(_Batch), _fpp, _sz, c_double_p, _fpp])
declare("sslk_negqueue_create", [_vp, _sz, _sz, ctypes.c_int, ctypes.POINTER(_vp)])
declare("sslk_negqueue_destroy", [_vp], None)
declare("sslk_negqueue_push", [_vp, c_float_p, _sz, _sz])
declare("sslk_negqueue_rows", [_vp, ctypes.POINTER(c_float_p), ctypes.POINTER(_sz)])
declare("sslk_loss_dino_center_size", [_vp, ctypes.POINTER(_sz)])  # issue 21, DINO
declare("sslk_loss_dino_get_center", [_vp, c_double_p, _sz])
declare("sslk_loss_dino_set_center", [_vp, c_double_p, _sz])

KINDS = {"vicreg": 1, "vicreg_logdet": 2, "vicreg_pairdist": 3, "infonce": 4,
         "infonce_symmetric": 5, "diet": 6, "msn": 7, "xent": 8,
         "barlow_twins": 9, "negcos": 10,  # issue 21
         "dino": 11, "moco": 13}  # issue 21c
KINDS["swav"] = 12  # issue 21b

def _loss_choices():
    """setting name -> {value name: value} over every loss domain, read from the
    library's tables (sslk_setting_choice), never copied by hand."""
    out = dict(_choices("loss"))
    for kind in KINDS.values():
        dom = ctypes.c_char_p()
        lib.sslk_loss_kind_domain(kind, ctypes.byref(dom))
        for name, names in _choices(dom.value.decode()).items():
            if out.setdefault(name, names) != names:
                raise RuntimeError(f"loss setting {name!r} names its values differently across kinds")
    return out


CHOICES = _loss_choices()


class Loss(Owner):
    """One loss of a given kind (see KINDS) with its settings as keywords."""

    _destroy_name = "sslk_loss_destroy"

    def __init__(self, kind, ctx=None, **settings):
        if kind not in KINDS:
            raise ValueError(f"unknown loss kind {kind!r}; one of {sorted(KINDS)}")
        self.kind = kind
        self._adopt_ctx(ctx)
        self._ctx = ctx
        h = _vp()
        lib.sslk_loss_create(ctx_handle(ctx), KINDS[kind], ctypes.byref(h))
        self._h = h
        dom = ctypes.c_char_p()
        lib.sslk_loss_kind_domain(KINDS[kind], ctypes.byref(dom))
        self.domain = dom.value.decode()
        self._info = dict(_settings(self.domain))
        self._info.update(_settings("loss"))
        convention = settings.pop("convention", None)
        if convention is not None:  # a named preset (sslkit.conventions), overridden by explicit settings
            from .conventions import preset
            settings = {**preset(kind, convention), **settings}
        self.convention = convention
        self._position_terms = None
        prior = settings.pop("prior", None)
        for k, v in settings.items():
            self.set(k, v)
        if prior is not None:  # after num_prototypes, which a prior vector must match
            self.set("prior", prior)


    # ---- settings -------------------------------------------------------------
    def set(self, name, value):
        """Set one setting by name; MSN's prior also takes a probability vector."""
        if name == "prior" and not isinstance(value, (str, int, np.integer)):
            if np.asarray(value).dtype == np.float64:  # kept in double (sslk_loss_set_prior_f64)
                p = np.ascontiguousarray(value, dtype=np.float64)
                if p.ndim != 1:
                    raise ValueError(f"prior must be 1-D, got shape {p.shape}")
                lib.sslk_loss_set_prior_f64(self._h, p.ctypes.data_as(c_double_p), p.shape[0])
                return
            p = as_f32(value, "prior", ndim=1)
            lib.sslk_loss_set_prior(self._h, p.ctypes.data_as(c_float_p), p.shape[0])
            return
        if name not in self._info:
            raise KeyError(f"{self.kind} has no setting {name!r}; settings: {sorted(self._info)}")
        info = self._info[name]
        v = setting_value(info, value, name)  # a choice's name becomes its value
        if info["type"] is int:
            lib.sslk_loss_set_i64(self._h, info["key"], v)
        else:
            lib.sslk_loss_set_f64(self._h, info["key"], v)

    def get(self, name):
        """Current value of a setting (int for integer settings)."""
        info = self._info[name]
        v = ctypes.c_double()
        lib.sslk_loss_get_f64(self._h, info["key"], ctypes.byref(v))
        return int(v.value) if info["type"] is int else v.value

    @property
    def settings(self):
        return {k: self.get(k) for k in self._info}

    # ---- compute --------------------------------------------------------------
    def compute(self, *inputs, indices=None, targets=None, negatives=None, queue=None, grad=True):
        """Value and gradients.  Inputs by kind:
        vicreg*, infonce_symmetric: (za, zb) -> (v, ga, gb); vicreg* also on (batch, ..., dim)
            inputs: the mean of the per-position losses (lightly's VICRegLoss)
        infonce: (z1, z2, ...) -> (v, g1, g2, ...), or (z, ids) -> (v, gz)
        diet: (z, indices) or (z1, z2, ..., indices) -> (v, g1, ...)
        msn: (anchors, targets) with anchors (V*n, d) or (V, n, d) -> (v, ganchors)
        barlow_twins: (za, zb) -> (v, ga, gb)
        negcos: (p, z) -> (v, gp, gz), or with symmetric=1 (p1, p2, z1, z2) -> (v, gp1, gp2, gz1, gz2);
            the targets z are stop-gradient: gz are zeros
        dino: (s_1, ..., s_S, t_1, ..., t_T) student views then teacher_views (2) teacher views
            -> (v, gs_1, ..., gs_S, gt_1, ..., gt_T); the teacher is stop-gradient (gt zeros), and
            every call moves the centre (center_momentum = 1 freezes it)
        infonce with negatives=(m, d) array or NegativeQueue: (za, zb) -> (v, ga, gb), the
            MoCo / lightly memory-bank form (za rows are the anchors, zb their positives).
        moco (version=2) with negatives=queue: (q, k) -> (v, gq, gk); version=3: (q, k) or
            (q1, q2, k1, k2) -> (v, gq..., gk...); the keys k are stop-gradient: gk are zeros
        swav: (z1, ..., zV) -> (v, g1, ..., gV); queue = one (m, d) array or NegativeQueue per
            assigned crop (in view order), or an (A, m, d) array: past embeddings prepended
            to that crop's scores before Sinkhorn (constants).
        With grad=False only the value is returned (no parameter gradients)."""
        if negatives is not None:
            return self._compute_negatives(inputs, negatives, grad)
        self._position_terms = None
        if (self.kind.startswith("vicreg") and len(inputs) == 2 and indices is None and targets is None
                and grad and np.ndim(inputs[0]) > 2):
            from .conventions import over_positions  # (batch, ..., dim): lightly's mean over positions
            return over_positions(self, *inputs)
        arrays = list(inputs)
        if arrays and indices is None:
            last = np.asarray(arrays[-1])
            if last.ndim == 1 and last.dtype.kind in "iu":
                indices = arrays.pop()
        if self.kind == "msn":
            if targets is None:
                if len(arrays) != 2:
                    raise ValueError("msn: compute(anchors, targets)")
                arrays, targets = arrays[:1], arrays[1]
            targets = as_f32(targets, "targets", ndim=2)
            a = np.asarray(arrays[0], dtype=np.float32)
            n, d = targets.shape
            shape_in = a.shape
            if a.ndim == 3:
                a = a.reshape(-1, a.shape[-1])
            if a.ndim != 2 or a.shape[1] != d or a.shape[0] % n:
                raise ValueError(f"msn: anchors {shape_in} do not stack views of targets {targets.shape}")
            a = np.ascontiguousarray(a)
            views = [a[v * n:(v + 1) * n] for v in range(a.shape[0] // n)]
        else:
            views = [as_f32(z, f"z{i}", ndim=2) for i, z in enumerate(arrays)]
            shape_in = None
        if not views:
            raise ValueError("compute needs at least one input array")
        n, d = views[0].shape
        for i, z in enumerate(views):
            if z.shape != (n, d):
                raise ValueError(f"input {i} has shape {z.shape}, expected {(n, d)}")
        V = len(views)
        vptr = (c_float_p * V)(*[z.ctypes.data_as(c_float_p) for z in views])
        b = _Batch(ctypes.sizeof(_Batch), ctypes.cast(vptr, _fpp), V, n, d, None, None)
        if indices is not None:
            idx = np.ascontiguousarray(np.asarray(indices), dtype=np.int64)
            if idx.ndim != 1 or idx.shape[0] != n:
                raise ValueError(f"indices must have shape ({n},), got {idx.shape}")
            b.indices = idx.ctypes.data_as(_i64p)
        if targets is not None:
            b.targets = targets.ctypes.data_as(c_float_p)
        val = ctypes.c_double()
        if queue is not None:
            return self._compute_queue(b, views, queue, grad)
        if not grad:
            lib.sslk_loss_compute(self._h, ctypes.byref(b), ctypes.byref(val), None)
            return val.value
        if self.kind == "msn":
            gall = np.empty((V * n, d), np.float32)
            grads = [gall[v * n:(v + 1) * n] for v in range(V)]
        else:
            grads = [np.empty((n, d), np.float32) for _ in range(V)]
        gptr = (c_float_p * V)(*[g.ctypes.data_as(c_float_p) for g in grads])
        lib.sslk_loss_compute(self._h, ctypes.byref(b), ctypes.byref(val), ctypes.cast(gptr, _fpp))
        if self.kind == "msn":
            return val.value, gall.reshape(shape_in)
        return (val.value, *grads)

    __call__ = compute

    def _compute_negatives(self, inputs, negatives, grad):
        if len(inputs) != 2:
            raise ValueError("compute(za, zb, negatives=...) takes two views")
        za, zb = (as_f32(z, f"z{i}", ndim=2) for i, z in enumerate(inputs))
        if za.shape != zb.shape:
            raise ValueError(f"za {za.shape} and zb {zb.shape} differ")
        neg = negatives.rows if isinstance(negatives, NegativeQueue) else as_f32(negatives, "negatives", ndim=2)
        if neg.ndim != 2 or neg.shape[1] != za.shape[1]:
            raise ValueError(f"negatives {neg.shape} do not have d = {za.shape[1]} columns")
        n, d = za.shape
        val = ctypes.c_double()
        ga = np.empty((n, d), np.float32) if grad else None
        gb = np.empty((n, d), np.float32) if grad else None
        ptr = (lambda a: a.ctypes.data_as(c_float_p) if a is not None else None)
        lib.sslk_loss_compute_negatives(self._h, ptr(za), ptr(zb), n, d, ptr(np.ascontiguousarray(neg)),
                                        neg.shape[0], ctypes.byref(val), ptr(ga), ptr(gb))
        return (val.value, ga, gb) if grad else val.value

    def _compute_queue(self, b, views, queue, grad):
        if self.kind != "swav":
            raise ValueError(f"queue= is SwAV's (a {self.kind} loss takes negatives= or nothing)")
        qs = [q.rows if isinstance(q, NegativeQueue) else as_f32(q, f"queue[{i}]", ndim=2)
              for i, q in enumerate(queue)]
        mask = self.get("crops_for_assign")
        A = sum((mask >> v) & 1 for v in range(len(views)))
        if len(qs) != A:  # the library reads one block per assigned crop
            raise ValueError(f"queue has {len(qs)} blocks, crops_for_assign = {mask} assigns {A} of the "
                             f"{len(views)} views: one (m, d) block each")
        m = qs[0].shape[0] if qs else 0
        for i, q in enumerate(qs):
            if q.shape != (m, b.d):
                raise ValueError(f"queue[{i}] has shape {q.shape}, expected {(m, b.d)}")
        qs = [np.ascontiguousarray(q) for q in qs]
        qptr = (c_float_p * max(len(qs), 1))(*[q.ctypes.data_as(c_float_p) for q in qs])
        val = ctypes.c_double()
        grads = [np.empty((b.n, b.d), np.float32) for _ in views] if grad else []
        gptr = (c_float_p * len(views))(*[g.ctypes.data_as(c_float_p) for g in grads]) if grad else None
        lib.sslk_loss_compute_swav_queue(self._h, ctypes.byref(b), ctypes.cast(qptr, _fpp), m, ctypes.byref(val),
                                         ctypes.cast(gptr, _fpp) if grad else None)
        return (val.value, *grads) if grad else val.value

    @property
    def terms(self):
        """dict of the named components of the last compute call (averaged over the
        positions of a (batch, ..., dim) VICReg call)."""
        if self._position_terms is not None:
            return dict(self._position_terms)
        cnt = _sz()
        lib.sslk_loss_num_terms(self._h, ctypes.byref(cnt))
        out = {}
        for i in range(cnt.value):
            nm = ctypes.c_char_p()
            v = ctypes.c_double()
            lib.sslk_loss_term_name(self._h, i, ctypes.byref(nm))
            lib.sslk_loss_term_value(self._h, i, ctypes.byref(v))
            out[nm.value.decode()] = v.value
        return out

    # ---- DINO centre (state kept between calls) ----------------------------------
    @property
    def center(self):
        """DINO: a float64 copy of the centre (K,), or None before the first compute."""
        k = _sz()
        lib.sslk_loss_dino_center_size(self._h, ctypes.byref(k))
        if k.value == 0:
            return None
        c = np.empty(k.value, np.float64)
        lib.sslk_loss_dino_get_center(self._h, c.ctypes.data_as(c_double_p), k.value)
        return c

    @center.setter
    def center(self, value):
        c = np.ascontiguousarray(value, dtype=np.float64)
        if c.ndim != 1:
            raise ValueError(f"center must be 1-D, got shape {c.shape}")
        lib.sslk_loss_dino_set_center(self._h, c.ctypes.data_as(c_double_p), c.shape[0])

    # ---- owned parameters -----------------------------------------------------
    def param_views(self):
        """list of ParamView structs of the owned tensors (DIET head, MSN prototypes),
        for sslkit.Optimizer."""
        return collect_param_views(self, lib.sslk_loss_param_count, lib.sslk_loss_param)

    def _view(self, p, pv):
        # the array keeps this Loss's memory alive, also after close()
        return borrow(self, p, tuple(pv.shape[k] for k in range(pv.ndim)))

    @property
    def params(self):
        """dict name -> numpy VIEW of the owned parameter (writes go to the library)."""
        return {pv.name.decode(): self._view(pv.data, pv) for pv in self.param_views()}

    @property
    def param_grads(self):
        """dict name -> numpy VIEW of the accumulated parameter gradient."""
        return {pv.name.decode(): self._view(pv.grad, pv) for pv in self.param_views()}

    def zero_grad(self):
        """Zero the owned parameters' gradients (they accumulate over compute calls)."""
        lib.sslk_loss_zero_grad(self._h)


class NegativeQueue(Owner):
    """Negatives kept between steps for Loss("infonce").compute(za, zb, negatives=queue):
    MoCo's queue / lightly's MemoryBankModule.  init="random" starts full of unit-length
    Gaussian rows (lightly), "empty" with none.  push(rows) enqueues from the write
    pointer; rows that reach past the end are dropped and the pointer returns to 0."""

    _destroy_name = "sslk_negqueue_destroy"

    def __init__(self, capacity, dim, init="random", ctx=None):
        inits = {"random": 0, "empty": 1}
        if init not in inits:
            raise ValueError(f"init must be one of {sorted(inits)}, got {init!r}")
        self._adopt_ctx(ctx)
        self.dim = int(dim)
        h = _vp()
        lib.sslk_negqueue_create(ctx_handle(ctx), int(capacity), self.dim, inits[init], ctypes.byref(h))
        self._h = h

    def push(self, rows):
        """Enqueue rows (n x dim), e.g. the positives (keys) of the step just computed."""
        r = as_f32(rows, "rows", ndim=2)
        lib.sslk_negqueue_push(self._h, r.ctypes.data_as(c_float_p), r.shape[0], r.shape[1])

    @property
    def rows(self):
        """A copy of the stored rows (count x dim)."""
        p = c_float_p()
        cnt = _sz()
        lib.sslk_negqueue_rows(self._h, ctypes.byref(p), ctypes.byref(cnt))
        if cnt.value == 0:
            return np.empty((0, self.dim), np.float32)
        return np.ctypeslib.as_array(p, shape=(cnt.value, self.dim)).copy()

    def __len__(self):
        return int(self.rows.shape[0])
