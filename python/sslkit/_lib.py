"""Loading libsslkit and declaring its functions for ctypes.

Lookup order: $SSLKIT_LIBRARY, then an in-tree build (build*/lib/libsslkit.so
next to this source tree), then the system loader (libsslkit.so.1).
Every function is declared once in a table (`declare`) so argument types are
checked by ctypes, and every sslk_status result is turned into sslkit.Error.
"""
import ctypes
import ctypes.util
import glob
import os

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


def declare(name, argtypes, restype="status"):
    """Declare one C function.  restype "status" installs the error check."""
    f = getattr(lib, name)
    f.argtypes = argtypes
    if restype == "status":
        f.restype = ctypes.c_int
        f.errcheck = _errcheck
    else:
        f.restype = restype
    return f


# ---- core -----------------------------------------------------------------
declare("sslk_version_number", [], ctypes.c_uint)
declare("sslk_version_string", [], ctypes.c_char_p)
declare("sslk_ctx_create", [ctypes.POINTER(ctypes.c_void_p)])
declare("sslk_ctx_destroy", [ctypes.c_void_p], None)
declare("sslk_ctx_set_threads", [ctypes.c_void_p, ctypes.c_int])
declare("sslk_ctx_get_threads", [ctypes.c_void_p], ctypes.c_int)
declare("sslk_ctx_set_seed", [ctypes.c_void_p, ctypes.c_uint64], None)
declare("sslk_setting_info", [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_char_p),
                              c_int_p, c_double_p, c_double_p, c_double_p])
declare("sslk_setting_find", [ctypes.c_char_p, ctypes.c_char_p, c_int_p])
declare("sslk_setting_list", [ctypes.c_char_p, c_int_p, ctypes.c_size_t, c_size_p])
declare("sslk_setting_doc", [ctypes.c_int], ctypes.c_char_p)


class Context:
    """Owns one sslk_ctx.  Most users never touch it: module-level functions use
    a default context whose thread count is set by sslkit.set_threads()."""

    def __init__(self, threads=None, seed=0):
        self._refs = 0        # live handles made from this context (retain/release)
        self._doomed = False  # __del__ ran while handles were alive
        h = ctypes.c_void_p()
        lib.sslk_ctx_create(ctypes.byref(h))
        self._h = h
        if threads is not None:
            lib.sslk_ctx_set_threads(h, int(threads))
        lib.sslk_ctx_set_seed(h, int(seed))

    @property
    def handle(self):
        return self._h

    @property
    def threads(self):
        return lib.sslk_ctx_get_threads(self._h)

    @threads.setter
    def threads(self, n):
        lib.sslk_ctx_set_threads(self._h, int(n))

    # Handles free their memory through the context, so it must outlive them.
    # Python's cyclic GC finalises objects in a cycle in any order; owners of
    # handles therefore retain() the context and release() it after destroying
    # their handle, and the context is destroyed by whichever comes last.
    def retain(self):
        self._refs += 1

    def release(self):
        self._refs -= 1
        if self._doomed and self._refs == 0:
            self._destroy()

    def _destroy(self):
        h = getattr(self, "_h", None)
        if h is not None and h.value:
            lib.sslk_ctx_destroy(h)
            self._h = None

    def __del__(self):
        if getattr(self, "_refs", 0) > 0:
            self._doomed = True
        else:
            self._destroy()


_default_ctx = None


def default_ctx():
    """The process-wide default Context (thread count from $SSLKIT_THREADS, else 1)."""
    global _default_ctx
    if _default_ctx is None:
        _default_ctx = Context(threads=int(os.environ.get("SSLKIT_THREADS", "1")))
    return _default_ctx


def set_threads(n):
    """Thread count used by module-level functions (0 = all processors)."""
    default_ctx().threads = n


class Owner:
    """Base of every class that owns one library handle made from a Context.

    A handle frees its memory through its context, so the context must outlive
    it, also when the cyclic GC finalises both in any order: the owner retains
    the context (the default one when None) before creating its handle and
    releases it after destroying the handle.  Subclasses name their
    destructor in _destroy_name and call _adopt_ctx(ctx) first."""

    _destroy_name = None

    def _adopt_ctx(self, ctx):
        ctx = ctx if ctx is not None else default_ctx()
        ctx.retain()
        self.__dict__["_owner_ctx"] = ctx
        return ctx

    def close(self):
        """Destroy the handle now (also done when the object is collected)."""
        h = self.__dict__.get("_h")
        if h is not None and h.value:
            getattr(lib, self._destroy_name)(h)
            self._h = None
        ctx = self.__dict__.pop("_owner_ctx", None)
        if ctx is not None:
            ctx.release()

    def __del__(self):
        self.close()


def ctx_handle(ctx=None):
    return (ctx or default_ctx()).handle


# ---- parameter views (include/sslkit/param.h) --------------------------------
class ParamView(ctypes.Structure):
    """ctypes mirror of sslk_param_view: one trainable tensor of a model or loss."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("name", ctypes.c_char_p), ("data", c_float_p),
                ("grad", c_float_p), ("count", ctypes.c_size_t), ("ndim", ctypes.c_int),
                ("shape", ctypes.c_size_t * 4), ("flags", ctypes.c_uint)]


def collect_param_views(handle, count_fn, get_fn):
    """All views of an owner through its `*_param_count` / `*_param` pair."""
    n = ctypes.c_size_t()
    count_fn(handle, ctypes.byref(n))
    out = []
    for i in range(n.value):
        pv = ParamView()
        pv.struct_size = ctypes.sizeof(ParamView)
        get_fn(handle, i, ctypes.byref(pv))
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


def setting_info(key):
    name = ctypes.c_char_p()
    dom = ctypes.c_char_p()
    t = ctypes.c_int()
    lo, hi, de = ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
    lib.sslk_setting_info(key, ctypes.byref(name), ctypes.byref(dom), ctypes.byref(t),
                          ctypes.byref(lo), ctypes.byref(hi), ctypes.byref(de))
    return {"key": key, "name": name.value.decode(), "domain": dom.value.decode(),
            "type": _TYPES[t.value], "lo": lo.value, "hi": hi.value, "default": de.value,
            "doc": lib.sslk_setting_doc(key).decode()}


def settings(domain):
    """dict name -> info for every setting of a domain (e.g. "vicreg")."""
    n = ctypes.c_size_t()
    lib.sslk_setting_list(domain.encode(), None, 0, ctypes.byref(n))
    keys = (ctypes.c_int * max(n.value, 1))()
    lib.sslk_setting_list(domain.encode(), keys, n.value, ctypes.byref(n))
    out = {}
    for i in range(n.value):
        info = setting_info(keys[i])
        out[info["name"]] = info
    return out
