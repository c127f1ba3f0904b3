"""Smoke test of `sslkit police`: box and .npy vertex regions, the printed
verification (one SplineCam region inside, affinity ~1e-16), the picture and
the frozen model file, and usage errors.
The executable comes from the sslkit_cli fixture (tests/cli/conftest.py)."""
import os
import re
import subprocess
import tempfile

import numpy as np

EXE = None  # the sslkit executable, set by conftest.py
SPEC = "linear:16,leaky_relu:0.01,linear:16,leaky_relu:0.01,linear:1"
failures = []


def run(*args):
    return subprocess.run([EXE, "police", *args], capture_output=True, text=True, timeout=300)


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def test_cli_police():
    failures.clear()
    with tempfile.TemporaryDirectory() as d:
        pic, frozen = os.path.join(d, "p.png"), os.path.join(d, "f.sslk")
        r = run("--spec", SPEC, "--steps", "40", "--threads", "1", "--box", "0,0,1.5,1.5",
                "--picture", pic, "--save", frozen)
        check(r.returncode == 0, f"box run exit {r.returncode}: {r.stderr}")
        check("1 inside the region" in r.stdout, "box run: one region inside")
        m = re.search(r"affinity error\s+(\S+) absolute, (\S+) relative", r.stdout)
        check(m is not None and float(m.group(2)) < 1e-9, "box run: affinity < 1e-9")
        check(os.path.exists(pic) and open(pic, "rb").read(8) == b"\x89PNG\r\n\x1a\n", "picture is a PNG")
        check(os.path.getsize(frozen) > 0 if os.path.exists(frozen) else False, "frozen model written")
        V = os.path.join(d, "tri.npy")
        np.save(V, np.array([[-0.5, -0.5], [0.7, -0.2], [0.1, 0.8]], np.float32))
        r = run("--spec", SPEC, "--steps", "20", "--threads", "1", "--vertices", V, "--picture", pic)
        check(r.returncode == 0 and "3 vertices, affine rank 2" in r.stdout and "1 inside the region" in r.stdout,
              f"npy run: {r.stdout} {r.stderr}")
        check(run("--box", "1,2,3").returncode == 2, "bad --box is a usage error")
        check(run("--box", "0,0,1,1", "--vertices", V).returncode == 2, "--box with --vertices is a usage error")
        r = run("--spec", "linear:4,relu,linear:1", "--steps", "1", "--vertices", os.path.join(d, "missing.npy"))
        check(r.returncode == 1, "missing vertex file fails")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)
