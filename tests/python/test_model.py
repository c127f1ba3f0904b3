"""sslkit.Model / Optimizer against numpy reimplementations (forward, input and
parameter gradients of MLPs and a small conv net with batch-norm), safetensors
round trips with a numpy reader / writer, and PyTorch interchange when
python3-torch is installed."""
import json
import struct

import numpy as np
import pytest

import sslkit

# ---- numpy reference -----------------------------------------------------------


def parse(spec):
    out = []
    for tok in spec.split(","):
        f = tok.split(":")
        out.append((f[0], [float(a) if "." in a else int(a) for a in f[1:] if a != "nobias"],
                    "nobias" in f))
    return out


def conv_cols(x, k, s, p):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    cols = np.empty((n, c, k, k, ho, wo))
    for i in range(k):
        for j in range(k):
            cols[:, :, i, j] = xp[:, :, i:i + s * ho:s, j:j + s * wo:s]
    return cols, ho, wo


def ref_forward(spec, P, x, train, eps=1e-5):
    """Returns output and a tape for ref_backward.  P: name -> float64 array."""
    tape = []
    for idx, (kind, args, nobias) in enumerate(parse(spec)):
        pre = f"{idx}."
        if kind == "linear":
            xf = x.reshape(x.shape[0], -1)
            y = xf @ P[pre + "weight"].T + (0 if nobias else P[pre + "bias"])
            tape.append((kind, pre, xf, x.shape, nobias))
        elif kind == "conv":
            _, k, s, p = args
            cols, ho, wo = conv_cols(x, k, s, p)
            W = P[pre + "weight"]
            y = np.einsum("ncijhw,ocij->nohw", cols, W)
            if not nobias:
                y = y + P[pre + "bias"][None, :, None, None]
            tape.append((kind, pre, cols, x.shape, (k, s, p, nobias)))
        elif kind == "bn":
            axes = (0,) if x.ndim == 2 else (0, 2, 3)
            shp = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)
            if train:
                mu, var = x.mean(axis=axes), x.var(axis=axes)
            else:
                mu, var = P[pre + "running_mean"], P[pre + "running_var"]
            istd = 1 / np.sqrt(var + eps)
            xh = (x - mu.reshape(shp)) * istd.reshape(shp)
            y = xh * P[pre + "weight"].reshape(shp) + P[pre + "bias"].reshape(shp)
            tape.append((kind, pre, xh, istd, (axes, shp)))
        elif kind in ("relu", "leaky_relu", "abs"):
            a = 0.0 if kind == "relu" else (args[0] if kind == "leaky_relu" else -1.0)
            y = np.where(x > 0, x, a * x)
            tape.append((kind, pre, x, a, None))
        elif kind == "maxpool":
            k = args[0]
            n, c, h, w = x.shape
            ho, wo = h // k, w // k
            win = x[:, :, :ho * k, :wo * k].reshape(n, c, ho, k, wo, k).transpose(0, 1, 2, 4, 3, 5)
            win = win.reshape(n, c, ho, wo, k * k)
            am = win.argmax(-1)
            y = win.max(-1)
            tape.append((kind, pre, am, x.shape, k))
        elif kind == "flatten":
            y = x.reshape(x.shape[0], -1)
            tape.append((kind, pre, x.shape, None, None))
        elif kind == "gap":
            y = x.mean(axis=(2, 3))
            tape.append((kind, pre, x.shape, None, None))
        else:
            raise ValueError(kind)
        x = y
    return x, tape


def ref_backward(tape, P, g, train):
    G = {}
    for kind, pre, a, b, c in reversed(tape):
        if kind == "linear":
            G[pre + "weight"] = g.T @ a
            if not c:
                G[pre + "bias"] = g.sum(0)
            g = (g @ P[pre + "weight"]).reshape(b)
        elif kind == "conv":
            k, s, p, nobias = c
            W = P[pre + "weight"]
            G[pre + "weight"] = np.einsum("nohw,ncijhw->ocij", g, a)
            if not nobias:
                G[pre + "bias"] = g.sum(axis=(0, 2, 3))
            gcols = np.einsum("nohw,ocij->ncijhw", g, W)
            n, ci, h, w = b
            gx = np.zeros((n, ci, h + 2 * p, w + 2 * p))
            ho, wo = g.shape[2], g.shape[3]
            for i in range(k):
                for j in range(k):
                    gx[:, :, i:i + s * ho:s, j:j + s * wo:s] += gcols[:, :, i, j]
            g = gx[:, :, p:p + h, p:p + w]
        elif kind == "bn":
            xh, istd, (axes, shp) = a, b, c
            gam = P[pre + "weight"].reshape(shp)
            G[pre + "weight"] = (g * xh).sum(axis=axes)
            G[pre + "bias"] = g.sum(axis=axes)
            dxh = g * gam
            if train:
                m = np.prod([xh.shape[i] for i in axes])
                g = istd.reshape(shp) * (dxh - dxh.sum(axis=axes).reshape(shp) / m
                                         - xh * (dxh * xh).sum(axis=axes).reshape(shp) / m)
            else:
                g = dxh * istd.reshape(shp)
        elif kind in ("relu", "leaky_relu", "abs"):
            x, slope = a, b
            g = np.where(x > 0, g, slope * g)
        elif kind == "maxpool":
            am, shape, k = a, b, c
            n, ch, h, w = shape
            ho, wo = am.shape[2], am.shape[3]
            gx = np.zeros(shape)
            ii, jj = np.divmod(am, k)
            for oh in range(ho):
                for ow in range(wo):
                    nn_, cc = np.meshgrid(np.arange(n), np.arange(ch), indexing="ij")
                    gx[nn_, cc, oh * k + ii[:, :, oh, ow], ow * k + jj[:, :, oh, ow]] += g[:, :, oh, ow]
            g = gx
        elif kind == "flatten":
            g = g.reshape(a)
        elif kind == "gap":
            n, ch, h, w = a
            g = np.broadcast_to(g[:, :, None, None] / (h * w), a).copy()
    return g, G


CASES = [
    ("linear:8,bn,relu,linear:6,leaky_relu:0.1,linear:3", (5,), 7),
    ("linear:6,abs,linear:4:nobias,bn,linear:2", (4,), 6),
    ("conv:3:3:1:1,bn,relu,maxpool:2,conv:4:3:2:1,abs,flatten,linear:5", (2, 8, 8), 4),
    ("conv:4:3:1:0:nobias,bn,leaky_relu:0.2,gap,linear:3", (3, 7, 7), 5),
]


@pytest.mark.parametrize("spec,shape,n", CASES)
@pytest.mark.parametrize("train", [False, True])
def test_forward_and_grads_match_numpy(spec, shape, n, train):
    rng = np.random.default_rng(0)
    m = sslkit.Model.from_spec(spec, shape, seed=3)
    # non-trivial batch-norm state
    for k, v in m.params.items():
        if k.endswith("running_mean"):
            v[:] = rng.normal(size=v.shape)
        elif k.endswith("running_var"):
            v[:] = rng.uniform(0.5, 2.0, size=v.shape)
        elif k.endswith("weight") and v.ndim == 1:
            v[:] = rng.uniform(0.5, 1.5, size=v.shape)
    P = {k: np.array(v, dtype=np.float64) for k, v in m.params.items()}
    x = rng.normal(size=(n,) + shape).astype(np.float32)
    y = m.forward(x, train=train)
    yr, tape = ref_forward(spec, P, x.astype(np.float64), train)
    np.testing.assert_allclose(y, yr, rtol=1e-4, atol=1e-5)
    g = rng.normal(size=y.shape).astype(np.float32)
    m.zero_grad()
    gx = m.backward(g)
    gxr, G = ref_backward(tape, P, g.astype(np.float64), train)
    np.testing.assert_allclose(gx, gxr, rtol=1e-3, atol=1e-4)
    grads = m.grads
    assert set(grads) == set(G)
    for k in G:
        np.testing.assert_allclose(grads[k], G[k], rtol=1e-3, atol=1e-4, err_msg=k)
    if train:  # running statistics: (1 - 0.1) old + 0.1 batch (unbiased variance)
        for kind, pre, xh, istd, extra in tape:
            if kind == "bn":
                var_b = 1 / istd ** 2 - 1e-5
                cnt = np.prod([xh.shape[i] for i in extra[0]])
                want = 0.9 * P[pre + "running_var"] + 0.1 * var_b * cnt / (cnt - 1)
                np.testing.assert_allclose(m.params[pre + "running_var"], want, rtol=1e-4)


def test_backward_accumulates_and_zero_grad():
    m = sslkit.Model.from_spec("linear:3", (2,), seed=1)
    x = np.ones((2, 2), np.float32)
    m.forward(x)
    m.backward(np.ones((2, 3), np.float32))
    m.forward(x)
    m.backward(np.ones((2, 3), np.float32))
    np.testing.assert_allclose(m.grads["0.bias"], [4, 4, 4])
    m.zero_grad()
    assert not m.grads["0.bias"].any()


def test_errors_are_raised():
    with pytest.raises(sslkit.Error) as e:
        sslkit.Model.from_spec("linear:4,softmax", (3,))
    assert "'softmax'" in str(e.value) and "offset 9" in str(e.value)
    m = sslkit.Model.from_spec("linear:4", (3,))
    with pytest.raises(ValueError):
        m.forward(np.zeros((2, 5), np.float32))
    bad = np.zeros((2, 3), np.float32)
    bad[1, 2] = np.nan
    with pytest.raises(sslkit.Error) as e:
        m.forward(bad)
    assert e.value.status_name == "SSLK_E_NONFINITE"


# ---- safetensors with an independent numpy reader / writer ------------------------

def st_read(path):
    b = open(path, "rb").read()
    (hl,) = struct.unpack("<Q", b[:8])
    hdr = json.loads(b[8:8 + hl])
    data = b[8 + hl:]
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        dt = {"F32": "<f4", "F64": "<f8", "I64": "<i8"}[v["dtype"]]
        out[k] = np.frombuffer(data[s:e], dtype=dt).reshape(v["shape"])
    return out, hdr.get("__metadata__", {})


def st_write(path, tensors):
    hdr, off, blobs = {}, 0, []
    for k, a in tensors.items():
        a = np.ascontiguousarray(a)
        dt = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int64"): "I64"}[a.dtype]
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        hdr[k] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    h = json.dumps(hdr).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def test_safetensors_round_trip(tmp_path):
    spec = "conv:3:3:1:1,bn,relu,maxpool:2,flatten,linear:4"
    m = sslkit.Model.from_spec(spec, (2, 6, 6), seed=5)
    m.forward(np.random.default_rng(1).normal(size=(4, 2, 6, 6)).astype(np.float32), train=True)
    m.save_safetensors(tmp_path / "a.safetensors")
    t, meta = st_read(tmp_path / "a.safetensors")
    assert meta["sslkit_spec"] == spec
    assert t["1.num_batches_tracked"] == 1
    for k, v in m.params.items():
        np.testing.assert_array_equal(t[k], v)
    # write with numpy (float64, reversed order), load into a fresh model
    t2 = {k: (np.asarray(v, np.float64) * 0.5 if v.dtype == np.float32 else v) for k, v in reversed(t.items())}
    t2 = {k: (np.abs(v) if "running_var" in k else v) for k, v in t2.items()}
    st_write(tmp_path / "b.safetensors", t2)
    m2 = sslkit.Model.from_spec(spec, (2, 6, 6), seed=9)
    assert m2.load_safetensors(tmp_path / "b.safetensors") == ([], [], [])
    for k, v in m2.params.items():
        np.testing.assert_allclose(v, t2[k].astype(np.float32))
    # native format round trip
    m2.save(tmp_path / "m.sslk")
    m3 = sslkit.Model.load(tmp_path / "m.sslk")
    x = np.random.default_rng(2).normal(size=(3, 2, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(m2.forward(x), m3.forward(x))
    assert m3.spec == spec


# ---- optimizer --------------------------------------------------------------------

def test_optimizer_matches_numpy_sgd_and_restores_state():
    m = sslkit.Model.from_spec("linear:3,relu,linear:2", (4,), seed=2)
    ref = {k: np.array(v, np.float64) for k, v in m.params.items()}
    buf = {}
    opt = sslkit.Optimizer("sgd", m, lr=0.1, momentum=0.9, weight_decay=0.01)
    rng = np.random.default_rng(0)
    for step in range(3):
        x = rng.normal(size=(5, 4)).astype(np.float32)
        m.zero_grad()
        y = m.forward(x)
        m.backward(np.ones_like(y))
        for k, g in m.grads.items():
            d = g.astype(np.float64) + 0.01 * ref[k]
            buf[k] = d if step == 0 else 0.9 * buf[k] + d
            ref[k] = ref[k] - 0.1 * buf[k]
        opt.step()
        for k in ref:
            np.testing.assert_allclose(m.params[k], ref[k], rtol=1e-5, atol=1e-6)
    state = opt.state()
    assert opt.steps == 3
    opt2 = sslkit.Optimizer("sgd", m, lr=0.1, momentum=0.9, weight_decay=0.01)
    opt2.load_state(state)
    assert opt2.steps == 3
    bad = {k: v for k, v in m.grads.items()}
    bad["0.bias"][1] = np.inf
    with pytest.raises(sslkit.Error) as e:
        opt.step()
    assert "0.bias" in str(e.value)


def test_warmup_cosine():
    assert sslkit.warmup_cosine(0, 4, 14, 1.0) == pytest.approx(0.25)
    assert sslkit.warmup_cosine(9, 4, 14, 1.0, 0.0) == pytest.approx(0.5)


# ---- PyTorch interchange ------------------------------------------------------------

TORCH_SPEC = ("conv:4:3:1:1,bn,relu,res(conv:4:3:1:1,bn,relu,conv:4:3:1:1,bn|conv:4:1:1:0,bn),relu,"
              "maxpool:2,flatten,linear:6,bn,leaky_relu:0.1,linear:3")


def torch_model(torch):
    nn = torch.nn

    class Residual(nn.Module):
        def __init__(self, body, shortcut=None):
            super().__init__()
            self.body = nn.Sequential(*body)
            if shortcut:
                self.shortcut = nn.Sequential(*shortcut)
            else:
                self.shortcut = nn.Identity()

        def forward(self, x):
            return self.body(x) + self.shortcut(x)

    return nn.Sequential(
        nn.Conv2d(2, 4, 3, 1, 1), nn.BatchNorm2d(4), nn.ReLU(),
        Residual([nn.Conv2d(4, 4, 3, 1, 1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3, 1, 1),
                  nn.BatchNorm2d(4)], [nn.Conv2d(4, 4, 1, 1, 0), nn.BatchNorm2d(4)]),
        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 6), nn.BatchNorm1d(6),
        nn.LeakyReLU(0.1), nn.Linear(6, 3))


def test_pytorch_weights_give_pytorch_outputs(tmp_path):
    try:
        import torch
    except Exception as e:  # noqa: BLE001
        print(f"SKIP reason: torch not importable ({e})")
        pytest.skip(f"python3-torch not installed: {e}")
    torch.manual_seed(0)
    tm = torch_model(torch).double()
    with torch.no_grad():  # non-default batch-norm state
        for mod in tm.modules():
            if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                mod.running_mean.normal_()
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_()
    sd = {k: (v.numpy().astype(np.float32) if v.dtype == torch.float64 else v.numpy())
          for k, v in tm.state_dict().items()}
    st_write(tmp_path / "torch.safetensors", sd)
    m = sslkit.Model.from_spec(TORCH_SPEC, (2, 8, 8), seed=1)
    m.load_safetensors(tmp_path / "torch.safetensors")
    # same float32 weights in both, torch computing in double
    tm.load_state_dict({k: torch.from_numpy(np.asarray(v, np.float64) if v.dtype == np.float32 else v)
                        for k, v in sd.items()})
    x = np.random.default_rng(0).normal(size=(8, 2, 8, 8)).astype(np.float32)
    tm.eval()
    want = tm(torch.from_numpy(x.astype(np.float64))).detach().numpy()
    np.testing.assert_allclose(m.forward(x), want, rtol=1e-5, atol=1e-5)
    # train mode: batch statistics, and gradients
    tm.train()
    xt = torch.from_numpy(x.astype(np.float64))
    out = tm(xt)
    g = np.random.default_rng(1).normal(size=out.shape)
    out.backward(torch.from_numpy(g))
    y = m.forward(x, train=True)
    np.testing.assert_allclose(y, out.detach().numpy(), rtol=1e-5, atol=1e-5)
    m.zero_grad()
    m.backward(g.astype(np.float32))
    tg = {k: p.grad.numpy() for k, p in tm.named_parameters()}
    for k, v in m.grads.items():
        np.testing.assert_allclose(v, tg[k], rtol=1e-4, atol=1e-4, err_msg=k)
    # and back: sslkit -> safetensors -> torch (strict load)
    m.save_safetensors(tmp_path / "back.safetensors")
    back, _ = st_read(tmp_path / "back.safetensors")
    tm2 = torch_model(torch)
    tm2.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in back.items()}, strict=True)
    tm2.eval()
    np.testing.assert_allclose(m.forward(x), tm2(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-5)
