"""PyTorch exchange (issue 14): Model.load_safetensors(path, prefix, strict) and
save_safetensors(path, prefix), checked against an independent numpy reader /
writer (always on) and against torch (load_state_dict results, .half() /
.bfloat16() conversions, strict round trips; skipped visibly without torch).
Checkpoints go through tools/pth2safetensors.py, the documented converter."""
import importlib.util
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import sslkit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PTH2ST = os.path.join(ROOT, "tools", "pth2safetensors.py")

# nn.Sequential(Conv2d(2,4,3,1,1), BatchNorm2d(4), ReLU(), Residual(...), ReLU(), <gap>, Linear(4,3))
SPEC = "conv:4:3:1:1,bn,relu,res(conv:4:3:1:1,bn),relu,gap,linear:3"
SHAPE = (2, 6, 6)


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
    return out


def st_write(path, tensors):
    """tensors: name -> (dtype name, raw bytes, shape)."""
    hdr, off, blobs = {}, 0, []
    for k, (dt, raw, shape) in tensors.items():
        hdr[k] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    h = json.dumps(hdr).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def f32(a):
    a = np.ascontiguousarray(a, dtype="<f4")
    return ("F32", a.tobytes(), a.shape)


def bf16_bits(a):
    """round-to-nearest-even float32 -> bfloat16 bits (what torch's .bfloat16() does for finite values)."""
    u = np.ascontiguousarray(a, np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")


def model(seed=0):
    m = sslkit.Model.from_spec(SPEC, SHAPE, seed=seed)
    m.forward(np.random.default_rng(seed).normal(size=(4,) + SHAPE).astype(np.float32), train=True)
    return m


# ---- always on (numpy reference) ------------------------------------------------------------

def test_prefix_strict_nonstrict_numpy(tmp_path):
    a, b = model(1), model(2)
    p = tmp_path / "a.safetensors"
    a.save_safetensors(p, prefix="module.")
    t = st_read(p)
    assert sorted(t) == sorted(["module." + k for k in a.params] + ["module.1.num_batches_tracked",
                                                                     "module.3.body.1.num_batches_tracked"])
    assert t["module.1.num_batches_tracked"] == 1
    with pytest.raises(sslkit.Error) as e:
        b.load_safetensors(p)
    assert e.value.status_name == "SSLK_E_NOT_FOUND"
    assert f"{len(a.params)} missing: '0.weight'" in str(e.value) and "'module.0.weight'" in str(e.value)
    r = b.load_safetensors(p, prefix="module.")
    assert r == sslkit.LoadResult([], [], []) and r.missing_keys == []
    for k, v in a.params.items():
        np.testing.assert_array_equal(b.params[k], v)
    # an extra projector and a missing tensor, non-strict
    c = model(3)
    ten = {"backbone." + k: f32(v) for k, v in a.params.items() if k != "6.bias"}
    ten["projector.0.weight"] = f32(np.ones((8, 3)))
    st_write(tmp_path / "x.safetensors", ten)
    with pytest.raises(sslkit.Error) as e:
        c.load_safetensors(tmp_path / "x.safetensors", prefix="backbone.")
    assert "1 missing: '6.bias'; 1 unexpected: 'projector.0.weight'" in str(e.value)
    keep = np.array(c.params["6.bias"])
    r = c.load_safetensors(tmp_path / "x.safetensors", prefix="backbone.", strict=False)
    assert r.missing_keys == ["6.bias"] and r.unexpected_keys == ["projector.0.weight"] and r.mismatched_keys == []
    np.testing.assert_array_equal(c.params["6.bias"], keep)
    np.testing.assert_array_equal(c.params["6.weight"], a.params["6.weight"])
    # a wrong shape: refused in both modes, skipped on request
    ten = {k: f32(v) for k, v in a.params.items()}
    ten["6.weight"] = f32(np.zeros((4, 3)))
    st_write(tmp_path / "s.safetensors", ten)
    for strict in (True, False):
        with pytest.raises(sslkit.Error) as e:
            c.load_safetensors(tmp_path / "s.safetensors", strict=strict)
        assert e.value.status_name == "SSLK_E_SHAPE" and "'6.weight' is 4 x 3 in the file, 3 x 4 in the model" in str(e.value)
    r = c.load_safetensors(tmp_path / "s.safetensors", strict=False, skip_mismatched=True)
    assert r.mismatched_keys == ["6.weight"]
    with pytest.raises(ValueError):
        c.load_safetensors(tmp_path / "s.safetensors", skip_mismatched=True)


def test_half_precision_numpy(tmp_path):
    a = model(4)
    rng = np.random.default_rng(0)
    ten, want = {}, {}
    for i, (k, v) in enumerate(a.params.items()):
        x = (rng.normal(size=v.shape) * 3).astype(np.float32)
        if "running_var" in k:
            x = np.abs(x)
        if i % 2:
            h = x.astype("<f2")  # numpy's float16 -> float32 is exact
            h.flat[0] = np.float16(2.0 ** -24) if "running_var" in k else np.float16(-(2.0 ** -24))  # a subnormal
            ten[k], want[k] = ("F16", h.tobytes(), v.shape), h.astype(np.float32)
        else:
            bits = bf16_bits(x)
            ten[k], want[k] = ("BF16", bits.tobytes(), v.shape), (bits.astype(np.uint32) << 16).view(np.float32)
    st_write(tmp_path / "h.safetensors", ten)
    a.load_safetensors(tmp_path / "h.safetensors")
    for k, v in want.items():
        np.testing.assert_array_equal(a.params[k], v.reshape(a.params[k].shape), err_msg=k)


def test_layer_table():
    m = sslkit.Model.from_spec(SPEC, SHAPE)
    t = m.layers()
    assert [r["name"] for r in t] == ["0", "1", "2", "3", "3.body.0", "3.body.1", "4", "5", "6"]
    conv = t[0]  # 4 x 2 x 3 x 3 + 4 parameters; 2 x (4 x 6 x 6 outputs) x 18 MACs
    assert conv["kind"] == "conv" and conv["params"] == 76 and conv["flops"] == 2 * 144 * 18
    assert conv["out_shape"] == (4, 6, 6) and t[4]["depth"] == 1 and t[8]["out_shape"] == (3,)
    assert sum(r["params"] for r in t) == m.num_scalars


def test_from_spec_backbone_table():
    m = sslkit.Model.from_spec("resnet18", (3, 32, 32), seed=3)
    assert m.output_shape == (1000,) and m.num_scalars == 11689512  # torchvision's resnet18 count
    t = m.layers()
    assert t[0]["name"] == "conv1" and t[0]["out_shape"] == (64, 16, 16)
    assert t[0]["flops"] == 2 * 64 * 16 * 16 * 3 * 7 * 7
    # at 224 x 224 conv + fc make 1,814,073,344 multiply-adds (torchvision: "1.81 GFLOPS"); every map
    # here is 7x smaller each way, so the convs do 1/49 of theirs and the fc (512,000) the same
    macs = sum(r["flops"] // 2 for r in t if r["kind"] in ("conv", "linear"))
    assert macs == (1814073344 - 512000) // 49 + 512000


# ---- against torch ----------------------------------------------------------------------------

def torch_net(torch):
    nn = torch.nn

    class Residual(nn.Module):
        def __init__(self, *body):
            super().__init__()
            self.body = nn.Sequential(*body)
            self.shortcut = nn.Identity()

        def forward(self, x):
            return self.body(x) + self.shortcut(x)

    return nn.Sequential(nn.Conv2d(2, 4, 3, 1, 1), nn.BatchNorm2d(4), nn.ReLU(),
                         Residual(nn.Conv2d(4, 4, 3, 1, 1), nn.BatchNorm2d(4)), nn.ReLU(),
                         nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()), nn.Linear(4, 3))


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def trained_torch(torch, seed=0):
    torch.manual_seed(seed)
    tm = torch_net(torch)
    tm.train()
    tm(torch.randn(8, *SHAPE))  # running statistics and num_batches_tracked = 1
    tm.eval()
    return tm


def _pth2st():
    spec = importlib.util.spec_from_file_location("pth2safetensors", PTH2ST)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def pth_to_st(tmp_path, obj, name, *args, subprocess_run=False):
    """obj saved with torch.save, converted by tools/pth2safetensors.py (in this
    process; as a script when subprocess_run)."""
    torch = pytest.importorskip("torch")
    pth = tmp_path / (name + ".pth")
    torch.save(obj, pth)
    out = tmp_path / (name + ".safetensors")
    if subprocess_run:
        r = subprocess.run([sys.executable, PTH2ST, str(pth), str(out), *args], capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0 and "tensors" in r.stdout, r.stderr
    else:
        _pth2st().main([str(pth), str(out), *args])
    return out


def test_export_loads_strict_in_torch(tmp_path, torch):
    m = model(5)
    m.save_safetensors(tmp_path / "e.safetensors", prefix="encoder.")
    sd = {k[len("encoder."):]: torch.from_numpy(np.array(v)) for k, v in st_read(tmp_path / "e.safetensors").items()}
    tm = torch_net(torch)
    tm.load_state_dict(sd, strict=True)
    tm.eval()
    assert int(tm[1].num_batches_tracked) == 1
    x = np.random.default_rng(1).normal(size=(5,) + SHAPE).astype(np.float32)
    np.testing.assert_allclose(m.forward(x), tm(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_module_prefix_checkpoint(tmp_path, torch):
    tm = trained_torch(torch, 1)
    wrapped = {"epoch": 3, "state_dict": {"module." + k: v for k, v in tm.state_dict().items()}}
    p = pth_to_st(tmp_path, wrapped, "dp")
    m = sslkit.Model.from_spec(SPEC, SHAPE, seed=9)
    with pytest.raises(sslkit.Error):
        m.load_safetensors(p)
    assert m.load_safetensors(p, prefix="module.") == ([], [], [])
    x = np.random.default_rng(2).normal(size=(6,) + SHAPE).astype(np.float32)
    np.testing.assert_allclose(m.forward(x), tm(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-5)
    # the counter came along: export and compare
    m.save_safetensors(tmp_path / "back.safetensors")
    assert st_read(tmp_path / "back.safetensors")["3.body.1.num_batches_tracked"] == 1


def test_projector_missing_wrong_shape_like_torch(tmp_path, torch):
    tm = trained_torch(torch, 2)
    proj = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.BatchNorm1d(8))
    sd = {**{"backbone." + k: v for k, v in tm.state_dict().items()},
          **{"projector." + k: v for k, v in proj.state_dict().items()}}
    p = pth_to_st(tmp_path, sd, "ssl")
    m = sslkit.Model.from_spec(SPEC, SHAPE, seed=9)
    with pytest.raises(sslkit.Error) as e:
        m.load_safetensors(p, prefix="backbone.")
    for k in proj.state_dict():
        assert f"'projector.{k}'" in str(e.value)
    r = m.load_safetensors(p, prefix="backbone.", strict=False)
    assert r.unexpected_keys == ["projector." + k for k in proj.state_dict()] and r.missing_keys == []
    # a missing tensor: the same missing list as torch's own non-strict load
    sd = {k: v for k, v in tm.state_dict().items() if k != "3.body.0.weight"}
    p = pth_to_st(tmp_path, sd, "miss")
    m = sslkit.Model.from_spec(SPEC, SHAPE, seed=9)
    with pytest.raises(sslkit.Error) as e:
        m.load_safetensors(p)
    assert "1 missing: '3.body.0.weight'" in str(e.value)
    theirs = torch_net(torch).load_state_dict(sd, strict=False)
    assert m.load_safetensors(p, strict=False).missing_keys == theirs.missing_keys == ["3.body.0.weight"]
    # a wrong shape, named
    sd = dict(tm.state_dict())
    sd["6.weight"] = torch.zeros(3, 5)
    p = pth_to_st(tmp_path, sd, "shape")
    with pytest.raises(sslkit.Error) as e:
        m.load_safetensors(p, strict=False)
    assert "'6.weight' is 3 x 5 in the file, 3 x 4 in the model" in str(e.value)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_low_precision_equals_torch_float(tmp_path, torch, dtype):
    tm = trained_torch(torch, 3)
    dt = getattr(torch, dtype)
    sd = {k: (v.to(dt) if v.is_floating_point() else v) for k, v in tm.state_dict().items()}
    p = pth_to_st(tmp_path, {"model": sd}, dtype)
    m = sslkit.Model.from_spec(SPEC, SHAPE, seed=9)
    m.load_safetensors(p)
    for k, v in m.params.items():
        np.testing.assert_array_equal(v, sd[k].float().numpy(), err_msg=k)
    # and the outputs of that float32 model
    tm.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()})
    x = np.random.default_rng(3).normal(size=(4,) + SHAPE).astype(np.float32)
    np.testing.assert_allclose(m.forward(x), tm(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


# ---- torchvision ResNets (helper 14a's backbones) ----------------------------------------------

def tv_resnet18(torch, seed, cifar=False):
    tv = pytest.importorskip("torchvision")
    torch.manual_seed(seed)
    net = tv.models.resnet18()
    if cifar:  # the SSL libraries' CIFAR variant: 3x3 stride-1 stem, no max-pool
        net.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        net.maxpool = torch.nn.Identity()
    with torch.no_grad():  # non-default batch-norm state, as after training
        for mod in net.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.normal_(0, 0.1)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0, 0.1)
                mod.num_batches_tracked.fill_(7)
    return net.eval()


@pytest.mark.parametrize("spec,size,cifar", [("resnet18", 64, False), ("resnet18-cifar", 32, True)])
def test_torchvision_resnet18_round_trip(tmp_path, torch, spec, size, cifar):
    net = tv_resnet18(torch, 5, cifar)
    p = pth_to_st(tmp_path, net.state_dict(), "tv")
    m = sslkit.Model.from_spec(spec, (3, size, size), seed=1)
    assert m.load_safetensors(p) == ([], [], [])
    x = np.random.default_rng(4).normal(size=(2, 3, size, size)).astype(np.float32)
    want = net(torch.from_numpy(x)).detach().numpy()
    got = m.forward(x)
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()
    # export, then torch's strict load gives the same network
    m.save_safetensors(tmp_path / "back.safetensors")
    back = st_read(tmp_path / "back.safetensors")
    net2 = tv_resnet18(torch, 6, cifar)
    net2.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in back.items()}, strict=True)
    assert int(net2.layer2[0].downsample[1].num_batches_tracked) == 7
    np.testing.assert_allclose(net2(torch.from_numpy(x)).detach().numpy(), want, rtol=1e-6, atol=1e-6)


def test_torchvision_ssl_checkpoint_headless(tmp_path, torch):
    """An SSL checkpoint: backbone.* (with fc) and projector.*, half precision."""
    net = tv_resnet18(torch, 7)
    sd = {"backbone." + k: (v.half() if v.is_floating_point() else v) for k, v in net.state_dict().items()}
    sd.update({"projector.0.weight": torch.randn(16, 512), "projector.0.bias": torch.zeros(16)})
    p = pth_to_st(tmp_path, {"state_dict": sd, "epoch": 100}, "ssl", subprocess_run=True)  # the script itself
    m = sslkit.Model.from_spec("resnet18-headless", (3, 32, 32))
    with pytest.raises(sslkit.Error) as e:
        m.load_safetensors(p, prefix="backbone.")
    for k in ("backbone.fc.weight", "backbone.fc.bias", "projector.0.weight", "projector.0.bias"):
        assert f"'{k}'" in str(e.value)
    r = m.load_safetensors(p, prefix="backbone.", strict=False)
    assert r.missing_keys == [] and sorted(r.unexpected_keys) == sorted(
        ["backbone.fc.weight", "backbone.fc.bias", "projector.0.weight", "projector.0.bias"])
    for k, v in m.params.items():
        np.testing.assert_array_equal(v, sd["backbone." + k].float().numpy(), err_msg=k)
