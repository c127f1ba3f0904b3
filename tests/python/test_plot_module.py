"""Pictures come from the separate module libsslkit-plot.so.1, loaded on first
use: the library finds it by itself, and without it the picture calls fail
cleanly with SSLK_E_UNSUPPORTED while everything else keeps working."""
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import numpy as np, sslkit, sys
    m = sslkit.Model.from_spec("linear:8,relu,linear:3", (2,), seed=1)
    p = sslkit.splinecam(m, sslkit.Slice.from_box([0, 0], np.eye(2), 1.0))
    assert p.stats["regions"] > 1      # geometry itself needs no module
    try:
        p.plot(sys.argv[1], 64, 64)
    except sslkit.Error as e:
        print("ERROR", e.status_name, e.message)
    else:
        print("OK")
""")


def _run(tmp_path, env_module):
    env = dict(os.environ)
    env.pop("SSLKIT_PLOT_MODULE", None)
    if env_module is not None:
        env["SSLKIT_PLOT_MODULE"] = env_module
    out = tmp_path / "p.png"
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(out)], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip(), out


def test_module_found_beside_the_library(tmp_path):
    # no override: found next to libsslkit.so (build tree or libdir)
    said, out = _run(tmp_path, None)
    assert said == "OK"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_module_is_a_clean_unsupported(tmp_path):
    said, out = _run(tmp_path, str(tmp_path / "nowhere" / "libsslkit-plot.so.1"))
    assert said.startswith("ERROR SSLK_E_UNSUPPORTED"), said
    assert "libsslkit-plot.so.1" in said and "sslk_partition_plot" in said
    assert not out.exists()


def test_wrong_file_is_refused(tmp_path):
    # a shared object without the entry point (the core library itself)
    import sslkit
    said, _ = _run(tmp_path, sslkit._lib.lib._name)
    assert said.startswith("ERROR SSLK_E_UNSUPPORTED"), said
