"""Loading libsslkit and declaring its functions for ctypes.

Lookup order: $SSLKIT_LIBRARY, then an in-tree build (build*/lib/libsslkit.so
next to this source tree), then the system loader (libsslkit.so.1).
Every function is declared once in a table (`declare`) so argument types are
checked by ctypes, and every sslk_status result is turned into sslkit.Error.
"""
import ctypes
import ctypes.util
import functools
import glob
import inspect
import math
import operator
import os
import threading

import numpy as np

c_size_p = ctypes.POINTER(ctypes.c_size_t)
c_float_p = ctypes.POINTER(ctypes.c_float)
c_double_p = ctypes.POINTER(ctypes.c_double)
c_int_p = ctypes.POINTER(ctypes.c_int)
c_int64_p = ctypes.POINTER(ctypes.c_int64)
c_uint8_p = ctypes.POINTER(ctypes.c_uint8)


class Error(RuntimeError):
    """A libsslkit call failed.  `status` is the sslk_status value, `status_name`
    its name (e.g. "SSLK_E_SHAPE") and `message` the library's sentence."""

    def __init__(self, status, status_name, message, func=None):
        self.status = status
        self.status_name = status_name
        self.message = message
        self.func = func
        super().__init__(f"{status_name}: {message}" if message else status_name)


class ClosedError(Error, ValueError):
    """A method of an object was called after its close().  An sslkit.Error
    with status SSLK_E_STATE, and a ValueError like a closed file's."""

    def __init__(self, message):
        super().__init__(8, "SSLK_E_STATE", message)


# ---- integers crossing into C ---------------------------------------------------
# ctypes converts a Python int modulo 2^bits, so 2**64 + 64 would arrive as 64.
_INT_RANGES = {"int": (-2**31, 2**31 - 1), "uint": (0, 2**32 - 1), "int32": (-2**31, 2**31 - 1),
               "int64": (-2**63, 2**63 - 1), "uint64": (0, 2**64 - 1), "size_t": (0, 2**64 - 1)}


def to_int(value, name, ctype="int64", flag=False):
    """value as a Python int that fits the C type `ctype`, or ValueError /
    TypeError naming `name`.  Floats are accepted only when integral (3.0);
    bools only when flag=True (a 0/1 setting)."""
    if isinstance(value, (bool, np.bool_)):
        if not flag:
            raise TypeError(f"{name} must be an integer, got the bool {bool(value)}")
        v = int(value)
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or value != math.floor(value):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        v = int(value)
    else:
        try:
            v = operator.index(value)
        except TypeError:
            raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}") from None
    lo, hi = _INT_RANGES[ctype]
    if not lo <= v <= hi:
        raise ValueError(f"{name} = {v} is out of range for the C type {ctype} [{lo}, {hi}]")
    return v


def setting_value(info, value, name=None):
    """A setting value converted for its C setter: float for real settings, a
    checked int for integer ones (bools only for 0/1 flags); a choice-valued
    setting also takes the name of a value (its "choices", from the C table)."""
    name = name or info["name"]
    if isinstance(value, str):
        choices = info.get("choices") or {}
        if value not in choices:
            if not choices:
                raise TypeError(f"{name} takes a number, got the string {value!r}")
            raise ValueError(f"{name}={value!r}: choices are {sorted(choices)}")
        return choices[value]
    if info["type"] is int:
        return to_int(value, name, "int64", flag=info["lo"] == 0 and info["hi"] == 1)
    return float(value)


def _candidates():
    env = os.environ.get("SSLKIT_LIBRARY")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    for p in sorted(glob.glob(os.path.join(root, "build*", "lib", "libsslkit.so"))):
        yield p
    found = ctypes.util.find_library("sslkit")
    if found:
        yield found
    yield "libsslkit.so.1"


def _load():
    errors = []
    for cand in _candidates():
        try:
            return ctypes.CDLL(cand)
        except OSError as e:
            errors.append(f"{cand}: {e}")
    raise OSError("libsslkit not found; set SSLKIT_LIBRARY or build with meson. Tried:\n  "
                  + "\n  ".join(errors))


lib = _load()
lib.sslk_status_str.restype = ctypes.c_char_p
lib.sslk_status_str.argtypes = [ctypes.c_int]
lib.sslk_last_error.restype = ctypes.c_char_p
lib.sslk_last_error.argtypes = []


def _errcheck(result, func, args):
    if result != 0:
        name = lib.sslk_status_str(result).decode()
        msg = lib.sslk_last_error().decode(errors="replace")
        raise Error(result, name, msg, func.__name__)
    return result


_CTYPE_NAMES = {ctypes.c_int: "int", ctypes.c_uint: "uint", ctypes.c_int32: "int32", ctypes.c_int64: "int64",
                ctypes.c_uint64: "uint64", ctypes.c_size_t: "size_t"}
_raw = {}  # name -> the ctypes function behind lib.<name>


def declare(name, argtypes, restype="status"):
    """Declare one C function.  restype "status" installs the error check.
    Integer arguments are range-checked before the call (ctypes would wrap
    them silently), so lib.<name> becomes a thin checking wrapper."""
    f = _raw.get(name) or getattr(lib, name)
    _raw[name] = f
    f.argtypes = argtypes
    if restype == "status":
        f.restype = ctypes.c_int
        f.errcheck = _errcheck
    else:
        f.restype = restype
    checks = [(i, _CTYPE_NAMES[t]) for i, t in enumerate(argtypes) if t in _CTYPE_NAMES]
    if not checks:
        setattr(lib, name, f)
        return f

    def call(*args):
        for i, ct in checks:
            v = args[i] if i < len(args) else None
            if isinstance(v, int):
                lo, hi = _INT_RANGES[ct]
                if not lo <= v <= hi:
                    raise ValueError(f"{name}: argument {i + 1} = {v} is out of range for {ct} [{lo}, {hi}]")
        return f(*args)
    call.__name__ = name
    setattr(lib, name, call)
    return call


# ---- core -----------------------------------------------------------------
declare("sslk_version_number", [], ctypes.c_uint)
declare("sslk_version_string", [], ctypes.c_char_p)
declare("sslk_ctx_create", [ctypes.POINTER(ctypes.c_void_p)])
declare("sslk_ctx_destroy", [ctypes.c_void_p], None)
declare("sslk_ctx_set_threads", [ctypes.c_void_p, ctypes.c_int])
declare("sslk_ctx_get_threads", [ctypes.c_void_p], ctypes.c_int)
declare("sslk_ctx_set_seed", [ctypes.c_void_p, ctypes.c_uint64], None)
declare("sslk_ctx_set_i64", [ctypes.c_void_p, ctypes.c_int, ctypes.c_int64])  # since 1.2
declare("sslk_ctx_get_i64", [ctypes.c_void_p, ctypes.c_int, c_int64_p])
declare("sslk_setting_info", [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_char_p),
                              c_int_p, c_double_p, c_double_p, c_double_p])
declare("sslk_setting_find", [ctypes.c_char_p, ctypes.c_char_p, c_int_p])
declare("sslk_setting_list", [ctypes.c_char_p, c_int_p, ctypes.c_size_t, c_size_p])
declare("sslk_setting_doc", [ctypes.c_int], ctypes.c_char_p)
declare("sslk_setting_choice", [ctypes.c_int, ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p)])  # since 1.2
declare("sslk_setting_choice_find", [ctypes.c_int, ctypes.c_char_p, c_int64_p])


_CTX_LIMITS = ("max_alloc_bytes", "max_image_pixels", "max_file_bytes")


class _Lifetime:
    """The one lifetime and locking rule of every object owning a C handle.

    * Dependants: a handle that points into another's memory (an optimizer into
      its model's tensors, a subset or loader into its dataset, a trainer into
      its dataset, every handle into its context) and each numpy view of C
      memory count as dependants of their owner.
    * close() marks the object closed at once (every later method raises
      ClosedError) and frees the C handle when no dependant is left; otherwise
      the last dependant to go frees it.  __del__ is close(), so the cyclic GC
      may finalise parents and children in any order.
    * Every method that passes the handle to C runs under the object's lock
      (and its parents' locks, taken together in one fixed order), and close()
      takes the lock too: a handle shared by threads is used by one at a time,
      as the C API requires, and never freed under a running call."""

    _destroy_name = None

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        d = self.__dict__
        d["_lock"] = threading.RLock()  # serialises calls on the handle
        d["_mu"] = threading.RLock()    # guards _deps / _closed; never held across C calls
        d["_deps"] = 0
        d["_closed"] = False
        d["_freed"] = False
        d["_parents"] = []
        return self

    def _retain(self):
        with self._mu:
            self._deps += 1

    def _release(self):
        with self._mu:
            self._deps -= 1
            go = self._closed and self._deps == 0 and not self._freed
            if go:
                self._freed = True
        if go:
            self._free()

    def _depend_on(self, parent):
        """Keep parent's C memory alive until this object is freed."""
        parent._retain()
        self._parents.append(parent)

    def close(self):
        """Close now: later use raises ClosedError; the C handle is freed at
        once, or when the last object depending on it goes."""
        d = self.__dict__
        if "_lock" not in d:  # __new__ never ran (failed construction)
            return
        with self._lock:  # waits for a call running on another thread
            with self._mu:
                if self._closed:
                    return
                self._closed = True
                go = self._deps == 0 and not self._freed
                if go:
                    self._freed = True
            if go:
                self._free()

    def __del__(self):
        self.close()

    def _free(self):
        raise NotImplementedError

    def _check_open(self, what):
        if self.__dict__.get("_closed", True):
            raise ClosedError(f"{type(self).__name__}.{what}: this {type(self).__name__} was closed")


class Context(_Lifetime):
    """Owns one sslk_ctx.  Most users never touch it: module-level functions use
    a default context whose thread count is set by sslkit.set_threads().

    limits={"max_alloc_bytes": n, "max_image_pixels": n, "max_file_bytes": n}
    sets the memory budget (0 = no limit); see set_limit().  Configure a
    context before handles made from it are used on several threads: every
    call reads its settings."""

    def __init__(self, threads=None, seed=0, limits=None, dist=None):
        if dist not in (None, "none", "mpi"):
            raise ValueError(f"Context: dist={dist!r}, expected None, 'none' or 'mpi'")
        h = ctypes.c_void_p()
        lib.sslk_ctx_create(ctypes.byref(h))
        self._h = h
        if threads is not None:
            lib.sslk_ctx_set_threads(h, to_int(threads, "threads", "int"))
        lib.sslk_ctx_set_seed(h, to_int(seed, "seed", "uint64"))
        for k, v in (limits or {}).items():
            self.set_limit(k, v)
        # dist="mpi": one rank of an mpirun job (sslkit.dist_mpi); None / "none": single process
        if dist == "mpi":
            from .dist_mpi import attach
            attach(self)

    @property
    def handle(self):
        self._check_open("handle")
        return self._h

    @property
    def threads(self):
        self._check_open("threads")
        return lib.sslk_ctx_get_threads(self._h)

    @threads.setter
    def threads(self, n):
        self._check_open("threads")
        lib.sslk_ctx_set_threads(self._h, to_int(n, "threads", "int"))

    @staticmethod
    def _limit_key(name):
        info = settings("ctx").get(name)
        if info is None:
            raise KeyError(f"unknown context limit {name!r}; limits: {list(_CTX_LIMITS)}")
        return info["key"]

    def set_limit(self, name, n):
        """Set one limit ("max_alloc_bytes", "max_image_pixels", "max_file_bytes");
        0 means no limit.  Handles read it at each call."""
        self._check_open("set_limit")
        lib.sslk_ctx_set_i64(self._h, self._limit_key(name), to_int(n, name, "int64"))

    @property
    def limits(self):
        """dict name -> current value of every context limit (0 = none)."""
        self._check_open("limits")
        out = {}
        for name in _CTX_LIMITS:
            v = ctypes.c_int64()
            lib.sslk_ctx_get_i64(self._h, self._limit_key(name), ctypes.byref(v))
            out[name] = v.value
        return out

    # Handles free their memory through the context: each Owner retains its
    # context (a dependant), so the sslk_ctx goes after the last of them.
    def retain(self):
        self._retain()

    def release(self):
        self._release()

    def _free(self):
        h = self.__dict__.get("_h")
        if h is not None and h.value:
            lib.sslk_ctx_destroy(h)
        self._h = None


_default_ctx = None
_default_mu = threading.Lock()


def default_ctx():
    """The process-wide default Context (thread count from $SSLKIT_THREADS, else 1)."""
    global _default_ctx
    with _default_mu:
        if _default_ctx is None or _default_ctx._closed:
            _default_ctx = Context(threads=int(os.environ.get("SSLKIT_THREADS", "1")))
        return _default_ctx


def set_threads(n):
    """Thread count used by module-level functions (0 = all processors)."""
    default_ctx().threads = n


# Methods of Owner subclasses that reach C only through these dunders, besides
# the public ones; everything else starting with "_" is internal.
_GUARDED_DUNDERS = ("__len__", "__getitem__", "__call__")


def _lock_set(objs):
    """objs and all their parents (transitively), in one global order (id)."""
    seen = {}
    todo = list(objs)
    while todo:
        o = todo.pop()
        if id(o) not in seen:
            seen[id(o)] = o
            todo.extend(o.__dict__.get("_parents", ()))
    return [seen[k] for k in sorted(seen)]


class hold:
    """with hold(a, b, ...): lock a, b and their parents in one fixed order and
    check that a, b, ... are open.  Every call passing handles to C runs in
    one; taking all locks at once (never one inside another) cannot deadlock."""

    __slots__ = ("objs", "what", "held")

    def __init__(self, *objs, what="call"):
        self.objs = [o for o in objs if isinstance(o, Owner)]
        self.what = what

    def __enter__(self):
        while True:
            held = _lock_set(self.objs)
            for o in held:
                o._lock.acquire()
            if _lock_set(self.objs) == held:  # parents added meanwhile: retake
                break
            for o in reversed(held):
                o._lock.release()
        self.held = held
        try:
            for o in self.objs:
                o._check_open(self.what)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for o in reversed(self.held):
            o._lock.release()
        return False


def guarded(fn, extra=None):
    """fn(self, ...) run under hold(self, *extra(self, ...))."""
    if getattr(fn, "_sslk_guarded", False):
        return fn

    @functools.wraps(fn)
    def call(self, *args, **kwargs):
        others = extra(self, *args, **kwargs) if extra is not None else ()
        with hold(self, *others, what=fn.__name__):
            return fn(self, *args, **kwargs)
    call._sslk_guarded = True
    return call


def also_holds(extra):
    """Decorator for a method that passes other objects' handles to C too:
    extra(self, *args, **kwargs) names them; all are locked together."""
    def deco(fn):
        fn._sslk_extra = extra
        return fn
    return deco


class Owner(_Lifetime):
    """Base of every class that owns one library handle made from a Context.

    Subclasses name their destructor in _destroy_name, call _adopt_ctx(ctx)
    first in __init__ and _depend_on(parent) for each handle theirs points
    into.  Their public methods and properties (and __len__, __getitem__,
    __call__) are wrapped at class creation to run under hold(self): closed
    objects raise ClosedError and one handle is used by one thread at a time.
    Generators lock each step themselves (hold(self))."""

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        for name, attr in list(cls.__dict__.items()):
            if name.startswith("_") and name not in _GUARDED_DUNDERS:
                continue
            if name == "close":
                continue
            if isinstance(attr, property):
                setattr(cls, name, property(attr.fget and guarded(attr.fget), attr.fset and guarded(attr.fset),
                                            attr.fdel, attr.__doc__))
            elif inspect.isfunction(attr) and not inspect.isgeneratorfunction(attr):
                setattr(cls, name, guarded(attr, getattr(attr, "_sslk_extra", None)))

    def _adopt_ctx(self, ctx):
        ctx = ctx if ctx is not None else default_ctx()
        ctx.retain()  # making a handle needs ctx.handle, which refuses a closed context
        self.__dict__["_owner_ctx"] = ctx
        return ctx

    def _free(self):
        h = self.__dict__.get("_h")
        if h is not None and h.value:
            getattr(lib, self._destroy_name)(h)
        self.__dict__["_h"] = None
        parents, self.__dict__["_parents"] = self._parents, []
        for p in parents:
            p._release()
        ctx = self.__dict__.pop("_owner_ctx", None)
        if ctx is not None:
            ctx.release()


def ctx_handle(ctx=None):
    return (ctx or default_ctx()).handle


class _Borrow:
    """The base object of a numpy array over C memory: it counts as a
    dependant of the owner, so the memory outlives every view of it (numpy
    keeps the base alive for views of views and slices too)."""

    __slots__ = ("__array_interface__", "_owner", "__weakref__")

    def __init__(self, owner, address, shape, typestr):
        owner._retain()
        self._owner = owner
        self.__array_interface__ = {"data": (address, False), "shape": shape, "typestr": typestr,
                                    "version": 3}

    def __del__(self):
        self._owner._release()


def borrow(owner, pointer, shape, dtype=np.float32):
    """A writable numpy view of `shape` at `pointer` (library memory of owner)."""
    addr = ctypes.cast(pointer, ctypes.c_void_p).value
    if not addr:
        raise ValueError(f"{type(owner).__name__}: no memory to view (NULL)")
    return np.asarray(_Borrow(owner, addr, tuple(int(s) for s in shape), np.dtype(dtype).str))


# ---- parameter views (include/sslkit/param.h) --------------------------------
class ParamView(ctypes.Structure):
    """ctypes mirror of sslk_param_view: one trainable tensor of a model or loss."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("name", ctypes.c_char_p), ("data", c_float_p),
                ("grad", c_float_p), ("count", ctypes.c_size_t), ("ndim", ctypes.c_int),
                ("shape", ctypes.c_size_t * 4), ("flags", ctypes.c_uint)]


def collect_param_views(owner, count_fn, get_fn):
    """All views of an owner through its `*_param_count` / `*_param` pair; each
    struct remembers its owner (pv._owner) so an Optimizer can keep it alive."""
    n = ctypes.c_size_t()
    count_fn(owner._h, ctypes.byref(n))
    out = []
    for i in range(n.value):
        pv = ParamView()
        pv.struct_size = ctypes.sizeof(ParamView)
        get_fn(owner._h, i, ctypes.byref(pv))
        pv._owner = owner
        out.append(pv)
    return out


# ---- array helpers --------------------------------------------------------
def as_f32(a, name, ndim=None):
    """C-contiguous float32 copy-or-view of a; checks ndim."""
    arr = np.ascontiguousarray(a, dtype=np.float32)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    return arr


def as_f64(a, name, ndim=None):
    arr = np.ascontiguousarray(a, dtype=np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    return arr


def as_i32(a, name, ndim=None):
    arr = np.asarray(a)
    if arr.dtype.kind not in "iub":
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.int32)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    return arr


def ptr(arr, ctype):
    return arr.ctypes.data_as(ctypes.POINTER(ctype))


# ---- settings introspection ------------------------------------------------
_TYPES = {1: float, 2: int}


_SSLK_E_NOT_FOUND = 15


def setting_choices(key, lo, hi):
    """dict name -> value of a choice-valued integer setting (from the library's
    tables, sslk_setting_choice), or None when its values have no names."""
    nm = ctypes.c_char_p()
    out = {}
    try:
        for v in range(int(lo), int(hi) + 1):
            lib.sslk_setting_choice(key, v, ctypes.byref(nm))
            out[nm.value.decode()] = v
    except Error as e:
        if e.status == _SSLK_E_NOT_FOUND and not out:
            return None
        raise
    return out


def setting_info(key):
    name = ctypes.c_char_p()
    dom = ctypes.c_char_p()
    t = ctypes.c_int()
    lo, hi, de = ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
    lib.sslk_setting_info(key, ctypes.byref(name), ctypes.byref(dom), ctypes.byref(t),
                          ctypes.byref(lo), ctypes.byref(hi), ctypes.byref(de))
    typ = _TYPES[t.value]
    return {"key": key, "name": name.value.decode(), "domain": dom.value.decode(),
            "type": typ, "lo": lo.value, "hi": hi.value, "default": de.value,
            "doc": lib.sslk_setting_doc(key).decode(),
            "choices": setting_choices(key, lo.value, hi.value) if typ is int else None}


def choices(domain):
    """dict setting name -> {value name: value} of a domain's choice-valued settings."""
    return {n: i["choices"] for n, i in settings(domain).items() if i["choices"]}


def settings(domain):
    """dict name -> info for every setting of a domain (e.g. "vicreg")."""
    return dict(_settings_of(domain))


@functools.lru_cache(maxsize=None)
def _settings_of(domain):  # the tables are constant for the loaded library
    n = ctypes.c_size_t()
    lib.sslk_setting_list(domain.encode(), None, 0, ctypes.byref(n))
    keys = (ctypes.c_int * max(n.value, 1))()
    lib.sslk_setting_list(domain.encode(), keys, n.value, ctypes.byref(n))
    out = {}
    for i in range(n.value):
        info = setting_info(keys[i])
        out[info["name"]] = info
    return out
