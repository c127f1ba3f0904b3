"""`sslkit model` and PyTorch exchange (issue 14): the layer table of `info`
(parameters and FLOPs hand-derived), `convert` with --prefix both ways,
strict refusals naming every tensor and --non-strict reports.  Files are read
and written independently with json + numpy.  EXE comes from conftest.py."""
import json
import os
import struct
import subprocess
import tempfile

import numpy as np

EXE = None  # the sslkit executable, set by conftest.py
SPEC = "conv:4:3:1:1,bn,relu,res(conv:4:3:1:1,bn),relu,gap,linear:3"


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
            out[k] = np.frombuffer(b[8 + hl + s:8 + hl + e], dtype={"F32": "<f4", "I64": "<i8"}[v["dtype"]])
            out[k] = out[k].reshape(v["shape"])
    return out


def st_write(path, tensors):
    hdr, off, blobs = {}, 0, []
    for k, a in tensors.items():
        raw = np.ascontiguousarray(a).tobytes()
        hdr[k] = {"dtype": {np.dtype("<f4"): "F32", np.dtype("<i8"): "I64"}[a.dtype], "shape": list(a.shape),
                  "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    h = json.dumps(hdr).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def rows(info):
    """layer rows of the table: name -> (kind, output, params, flops)."""
    out, on = {}, False
    for line in info.splitlines():
        if line.startswith("layer "):
            on = True
            continue
        if on and line.startswith("total"):
            out["total"] = tuple(int(x) for x in line.split()[1:])
            break
        if on:
            f = line.split()
            out[f[0]] = (f[1], " ".join(f[2:-2]), int(f[-2]), int(f[-1]))
    return out


def test_info_layer_table():
    with tempfile.TemporaryDirectory() as d:
        a = os.path.join(d, "a.sslk")
        run("new", "--spec", SPEC, "--input", "2,6,6", a)
        r = rows(run("info", a).stdout)
        # conv 2 -> 4, 3x3 on 6x6: 4*2*9 + 4 = 76 params, 2 x (4*6*6 outputs) x 18 MACs = 5184 FLOPs
        assert r["0"] == ("conv", "4 x 6 x 6", 76, 5184)
        assert r["1"] == ("bn", "4 x 6 x 6", 8, 288)
        assert r["3.body.0"] == ("conv", "4 x 6 x 6", 148, 2 * 144 * 36)
        assert r["5"] == ("gap", "4", 0, 144)
        assert r["6"] == ("linear", "3", 15, 24)
        assert r["total"] == (255, sum(v[3] for k, v in r.items() if k != "total"))


def test_convert_with_prefix_both_ways():
    with tempfile.TemporaryDirectory() as d:
        a, st, b, c = (os.path.join(d, f) for f in ("a.sslk", "a.safetensors", "b.sslk", "c.safetensors"))
        run("new", "--spec", SPEC, "--input", "2,6,6", "--seed", "3", a)
        run("convert", a, st, "--prefix", "backbone.")
        t = st_read(st)
        assert len(t) == 16 and all(k.startswith("backbone.") for k in t)
        assert t["backbone.3.body.1.num_batches_tracked"] == 0
        run("convert", st, b, "--spec", SPEC, "--input", "2,6,6", "--prefix", "backbone.")
        assert run("info", a).stdout == run("info", b).stdout
        # without the prefix: refused, every model tensor named as missing
        r = run("convert", st, b, "--spec", SPEC, "--input", "2,6,6", ok=False)
        assert r.returncode == 1 and "SSLK_E_NOT_FOUND" in r.stderr and "14 missing: '0.weight'" in r.stderr
        # an extra projector: strict names it, --non-strict loads and lists it
        t["projector.0.weight"] = np.ones((2, 3), "<f4")
        del t["backbone.6.bias"]
        st_write(c, t)
        r = run("convert", c, b, "--spec", SPEC, "--input", "2,6,6", "--prefix", "backbone.", ok=False)
        assert r.returncode == 1 and "1 missing: '6.bias'; 1 unexpected: 'projector.0.weight'" in r.stderr, r.stderr
        r = run("convert", c, b, "--spec", SPEC, "--input", "2,6,6", "--prefix", "backbone.", "--non-strict")
        assert "13 tensors loaded; 1 missing (kept): 6.bias; 1 unexpected (ignored): projector.0.weight" in r.stderr
        r = run("convert", c, b, "--spec", SPEC, "--skip-mismatched", ok=False)
        assert r.returncode == 2 and "--non-strict" in r.stderr
        r = run("convert", st, c, "--prefix", "x.", ok=False)
        assert r.returncode == 2 and "ambiguous" in r.stderr


def test_info_resnet18_totals():
    with tempfile.TemporaryDirectory() as d:
        a = os.path.join(d, "r18.safetensors")
        run("new", "--spec", "resnet18", "--input", "3,224,224", a)
        out = run("info", a, "--spec", "resnet18").stdout
        r = rows(out)
        assert r["conv1"] == ("conv", "64 x 112 x 112", 9408, 2 * 64 * 112 * 112 * 147)
        # torchvision's resnet18: 11,689,512 parameters, 1.81 G multiply-adds
        assert r["total"][0] == 11689512
        assert "conv + linear multiply-adds: 1.81 G" in out, out
