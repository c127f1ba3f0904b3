"""sslkit.linalg_info(): the kernel set in use and the machine it was chosen
for (issue 16).  Checked against what the test itself reads from the CPU
(/proc/cpuinfo flags) and from BLIS (BLIS_ARCH_DEBUG is not needed: the
arch name comes from the same libblis the package loads)."""
import os
import platform
import subprocess
import sys

import sslkit

SETS = {"blis", "avx2", "avx512", "neon"}


def cpu_flags():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def test_info_names_a_set_the_cpu_can_run():
    info = sslkit.linalg_info()
    for key in ("kernels", "default", "override", "cpu_isa", "blis_version", "blis_arch",
                "sgemm_tile", "dgemm_tile", "gemm_threading"):
        assert key in info, key
    assert info["kernels"] in SETS and info["default"] in SETS
    flags = cpu_flags()
    if platform.machine() == "x86_64" and flags:
        want = "avx512" if {"avx512f", "avx512dq", "avx512bw", "avx512vl"} <= flags else \
               "avx2" if {"avx2", "fma"} <= flags else "none"
        assert info["cpu_isa"] == want
        if info["kernels"] == "avx512":
            assert info["sgemm_tile"] == "24x16" and info["dgemm_tile"] == "14x16"
    assert info["blis_version"].split(".")[0].isdigit()
    rows, cols = info["sgemm_tile"].split("x")
    assert int(rows) > 0 and int(cols) > 0


def run_with(value, var="SSLKIT_KERNELS"):
    """linalg_info() and whether a Context can be made, in a fresh process with
    var=value (the choice is made once per process)."""
    code = ("import sslkit, json\n"
            "ok = True\n"
            "try:\n    sslkit.Context()\n"
            "except sslkit.Error as e:\n    ok = e.status_name\n"
            "print(json.dumps([sslkit.linalg_info(), ok]))\n")
    env = dict(os.environ, **{var: value})
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    import json
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_override_forces_blis_and_reports_it():
    info, ok = run_with("blis")
    assert ok is True
    assert info["kernels"] == "blis" and info["override"] == "blis"


def test_override_forces_avx512_where_the_cpu_has_it():
    base = sslkit.linalg_info()
    info, ok = run_with("avx512")
    if base["cpu_isa"] == "avx512" and platform.machine() == "x86_64":
        assert ok is True and info["kernels"] == "avx512"
        assert info["sgemm_tile"] == "24x16"
    else:
        assert ok == "SSLK_E_UNSUPPORTED" and info["override"] == "invalid:avx512"


def test_unknown_override_is_refused_by_context_creation():
    info, ok = run_with("fastest")
    assert ok == "SSLK_E_INVALID_ARG"
    assert info["override"] == "invalid:fastest"
    assert info["kernels"] == info["default"]  # products still run, on the default set


def test_gemm_threading_default_override_and_refusal():
    if "SSLKIT_GEMM_THREADING" not in os.environ:
        assert sslkit.linalg_info()["gemm_threading"] == "auto"
    for mode in ("split", "blis", "auto"):
        info, ok = run_with(mode, "SSLKIT_GEMM_THREADING")
        assert ok is True and info["gemm_threading"] == mode
    info, ok = run_with("openmp", "SSLKIT_GEMM_THREADING")
    assert ok == "SSLK_E_INVALID_ARG" and info["gemm_threading"] == "invalid:openmp"


def test_gemm_threading_modes_give_the_same_bits():
    """A 4-thread product under each mode (split blocks, BLIS's own threads)
    and at 1 thread: bit for bit the same, and equal to numpy in float64 up
    to float rounding."""
    import numpy as np
    code = ("import sslkit, numpy as np, sys\n"
            "rng = np.random.default_rng(5)\n"
            "x = rng.standard_normal((300, 257)).astype(np.float32)\n"
            "out = []\n"
            "for t in (1, 4):\n"
            "    ctx = sslkit.Context(threads=t)\n"
            "    m = sslkit.Model.from_spec('linear:333', (257,), seed=3, ctx=ctx)\n"
            "    out.append(m.forward(x, train=False))\n"
            "p = m.params\n"
            "ref = x.astype(np.float64) @ p['0.weight'].T.astype(np.float64) + p['0.bias']\n"
            "out.append(ref.astype(np.float32))\n"
            "np.save(sys.argv[1], np.stack(out))\n")
    import tempfile
    res = {}
    with tempfile.TemporaryDirectory() as d:
        for mode in ("split", "blis"):
            f = os.path.join(d, mode + ".npy")
            env = dict(os.environ, SSLKIT_GEMM_THREADING=mode)
            subprocess.run([sys.executable, "-c", code, f], env=env, check=True, capture_output=True)
            res[mode] = np.load(f)
    assert np.array_equal(res["split"][0], res["split"][1])
    assert np.array_equal(res["blis"][1], res["split"][1])
    assert np.array_equal(res["blis"][0], res["blis"][1])
    np.testing.assert_allclose(res["blis"][1], res["blis"][2], rtol=1e-4, atol=1e-4)
