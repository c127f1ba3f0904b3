"""Smoke test of `sslkit model` (new, info, convert): the native and
safetensors files it writes are read back independently (safetensors header
with json, tensors with numpy) and round trips keep every value.
The executable comes from the sslkit_cli fixture (tests/cli/conftest.py)."""
import json
import os
import struct
import subprocess
import tempfile

import numpy as np

EXE = None  # the sslkit executable, set by conftest.py
SPEC = "conv:4:3:1:1,bn,relu,res(conv:4:3:1:1,bn),gap,linear:3"


def run(*args, ok=True):
    r = subprocess.run([EXE, "model", *args], capture_output=True, text=True, timeout=120)
    if ok and r.returncode != 0:
        raise AssertionError(f"sslkit model {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r


def st_read(path):
    b = open(path, "rb").read()
    (hl,) = struct.unpack("<Q", b[:8])
    hdr = json.loads(b[8:8 + hl])
    out = {}
    for k, v in hdr.items():
        if k != "__metadata__":
            s, e = v["data_offsets"]
            dt = {"F32": "<f4", "I64": "<i8"}[v["dtype"]]
            out[k] = np.frombuffer(b[8 + hl + s:8 + hl + e], dtype=dt).reshape(v["shape"])
    return out, hdr["__metadata__"]


def test_cli_model():
    with tempfile.TemporaryDirectory() as d:
        a, st, b = (os.path.join(d, f) for f in ("a.sslk", "a.safetensors", "b.sslk"))
        run("new", "--spec", SPEC, "--input", "2,6,6", "--seed", "4", a)
        info = run("info", a).stdout
        assert f"spec: {SPEC}" in info and "output: 3" in info, info
        assert "3.body.0.weight" in info and "4 x 4 x 3 x 3" in info, info
        run("convert", a, st)
        t, meta = st_read(st)
        assert meta["sslkit_spec"] == SPEC
        assert t["0.weight"].shape == (4, 2, 3, 3) and t["5.weight"].shape == (3, 4)
        # PyTorch-default init bound 1 / sqrt(fan_in)
        assert np.abs(t["0.weight"]).max() <= 1 / np.sqrt(18) and np.abs(t["0.weight"]).max() > 0.5 / np.sqrt(18)
        assert np.all(t["1.running_var"] == 1) and t["1.num_batches_tracked"] == 0
        run("convert", st, b, "--spec", SPEC, "--input", "2,6,6")
        assert run("info", a).stdout == run("info", b).stdout
        r = run("convert", st, b, ok=False)
        assert r.returncode == 2 and "--spec" in r.stderr, r.stderr
        r = run("new", "--spec", "conv:4:3:1:1,softmax", "--input", "2,6,6", b, ok=False)
        assert r.returncode == 1 and "'softmax' at offset 13" in r.stderr, r.stderr
        r = run("info", os.path.join(d, "missing.sslk"), ok=False)
        assert r.returncode == 1 and "SSLK_E_IO" in r.stderr, r.stderr
