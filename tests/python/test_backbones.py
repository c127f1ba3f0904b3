"""Backbones against torchvision (Debian's python3-torchvision 0.14): the
same weights copied by name give the same outputs (eval 1e-4 relative,
train mode with batch statistics 1e-3), input and parameter gradients
(1e-3) and running statistics; padded max-pool and adaptive average
pooling against torch.nn.functional; a committed fixture keeps one
torchvision case always on without torch; the trainer takes a backbone
as its encoder."""
import os

import copy

import numpy as np
import pytest

import sslkit

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "data", "backbone_tiny.npz")


def _rel(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / max(np.abs(np.asarray(b)).max(), 1e-12))


# ---- always on: the committed fixture --------------------------------------------------

def test_fixture_tiny_resnet_matches_torchvision_without_torch():
    f = np.load(FIXTURE)
    spec = str(f["spec"])
    m = sslkit.Model.from_spec(spec, f["x"].shape[1:])
    assert m.spec == spec
    for k in f.files:
        if k.startswith("param/"):
            m.set_param(k[len("param/"):], f[k])
    x = f["x"]
    assert _rel(m.forward(x), f["y_eval"]) < 1e-5
    y = m.forward(x, train=True)
    assert _rel(y, f["y_train"]) < 1e-4
    gx = m.backward(f["coef"])
    assert _rel(gx, f["gx_train"]) < 1e-4


# ---- torchvision ---------------------------------------------------------------------------

def _torch():
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision")
    torch.set_num_threads(1)
    return torch, tv


def _torchvision_model(torch, tv, spec):
    """torchvision's model for a backbone token, CIFAR stems the way solo-learn makes them."""
    name, *opts = spec.split("-")
    ctor = getattr(tv.models, name)
    classes = next((int(o[2:]) for o in opts if o.startswith("fc")), 1000)
    torch.manual_seed(len(spec))
    net = ctor(num_classes=classes)
    if "cifar" in opts:
        pad = 2 if "pad2" in opts else 1
        net.conv1 = torch.nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=pad, bias=False)
        net.maxpool = torch.nn.Identity()
    if "headless" in opts:
        net.fc = torch.nn.Identity()
    for mod in net.modules():  # batch-norm away from its identity initialisation
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(2.5, 3.5)  # ReLU inputs away from 0 (see CASES)
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.5, 2.0)
    return net


# (token, input side).  A float32 network has ReLU inputs within rounding of
# 0 for most inputs; where one takes the other side in two implementations a
# gradient changes by O(1 %) (torch's own float32 and float64 ResNet-50
# train-mode gradients differ by 1-2 % with batch-norm shifts near 0).
# Batch-norm shifts near 3 (_torchvision_model) and, for eval mode, running
# statistics set to the batch's, keep pre-activations away from 0 so that
# both float32 results take the same branches and must agree tightly.
CASES = [("resnet18", 64), ("resnet34", 64), ("resnet50", 64), ("resnet18-cifar-fc10", 32),
         ("resnet18-cifar-pad2-headless", 32), ("resnet50-cifar-headless", 32)]


def _running_stats_from(torch, net, x):
    """Set every batch-norm's running statistics to those of the batch x."""
    bns = [mod for mod in net.modules() if isinstance(mod, torch.nn.BatchNorm2d)]
    for mod in bns:
        mod.momentum = 1.0
    net.train()
    with torch.no_grad():
        net(torch.from_numpy(x))
    for mod in bns:
        mod.momentum = 0.1
        mod.num_batches_tracked.zero_()


def _close_grads(g, gt, tol, ref32=None):
    """Every parameter gradient within tol of the reference gt, relative to its
    largest entry -- or, for tensors whose gradient vanishes by structure (a bias
    whose shift a later train-mode batch-norm removes: ~1e-7, pure rounding),
    to 1 % of the largest gradient of the model.  With ref32 (torch float32's
    gradients, gt then being torch float64's) a tensor may also be within twice
    torch float32's own error."""
    top = max(float(np.abs(v).max()) for v in gt.values())
    for k, v in gt.items():
        scale = max(float(np.abs(v).max()), 1e-2 * top)
        err = float(np.abs(g[k] - v).max())
        bound = tol * scale
        if ref32 is not None:
            bound = max(bound, 2 * float(np.abs(ref32[k] - v).max()))
        assert err <= bound, f"{k}: max error {err:.3g}, scale {scale:.3g}, bound {bound:.3g}"


def _grads(torch, net, m, x, coef, train):
    """Input and parameter gradients of sum(coef * y) from both, y of both."""
    net.train(train)
    net.zero_grad()
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = net(xt)
    (yt * torch.from_numpy(coef)).sum().backward()
    m.zero_grad()
    y = m.forward(x, train=train)
    gx = m.backward(coef)
    return y, yt.detach().numpy(), gx, xt.grad.numpy(), m.grads, {k: p.grad.numpy() for k, p in net.named_parameters()}


def _torch_grads(torch, net, x, coef, train):
    """torch's output, input and parameter gradients of sum(coef * y) in the
    network's own precision (float64 for a .double() copy)."""
    net.train(train)
    net.zero_grad()
    dt = next(net.parameters()).dtype
    xt = torch.from_numpy(x).to(dt).requires_grad_(True)
    yt = net(xt)
    (yt * torch.from_numpy(coef).to(dt)).sum().backward()
    return (yt.detach().numpy(), xt.grad.numpy(),
            {k: p.grad.numpy() for k, p in net.named_parameters()})


@pytest.mark.parametrize("spec,side", CASES)
def test_backbone_matches_torchvision(spec, side):
    torch, tv = _torch()
    net = _torchvision_model(torch, tv, spec)
    m = sslkit.Model.from_spec(spec, (3, side, side), ctx=sslkit.Context(threads=1))
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (2, 3, side, side)).astype(np.float32)
    _running_stats_from(torch, net, x)
    sd = net.state_dict()
    ours = m.state_dict()
    want = {k for k in sd if not k.endswith("num_batches_tracked")}
    assert set(ours) == want  # every tensor, by torchvision's name
    assert list(ours) == [k for k in sd if k in want]  # in state_dict order
    for k in want:
        assert ours[k].shape == tuple(sd[k].shape), k
        m.set_param(k, sd[k].numpy())
    n_out = m.output_shape[0]
    coef = rng.uniform(-1, 1, (2, n_out)).astype(np.float32)

    # eval mode: outputs, input and parameter gradients (running statistics)
    y, yt, gx, gxt, g, gt = _grads(torch, net, m, x, coef, False)
    assert _rel(y, yt) < 1e-4
    assert _rel(gx, gxt) < 1e-4
    _close_grads(g, gt, 1e-4)

    # train mode: batch statistics, then the running statistics both updated.
    # torch's float64 result is the reference; the tolerance is 1e-3 or, where
    # torch's own float32 gradient is further than that from its float64 one
    # (batch 2 on 4x4 maps: per-channel statistics over 32 values amplify
    # rounding), twice torch float32's error.
    net64 = copy.deepcopy(net).double()
    y64, gx64, gt64 = _torch_grads(torch, net64, x, coef, True)
    y, yt, gx, gxt, g, gt = _grads(torch, net, m, x, coef, True)
    assert _rel(y, y64) < max(1e-3, 2 * _rel(yt, y64))
    assert _rel(gx, gx64) < max(1e-3, 2 * _rel(gxt, gx64))
    _close_grads(g, gt64, 1e-3, ref32=gt)
    after = m.state_dict()
    for k, v in net.state_dict().items():
        if "running" in k:
            assert _rel(after[k], v.numpy()) < 1e-4, k


def test_composed_spec_and_init_like_torchvision():
    torch, tv = _torch()
    m = sslkit.Model.from_spec("resnet18-cifar-headless,linear:64,bn,relu,linear:32", (3, 32, 32))
    assert m.output_shape == (32,)
    sd = m.state_dict()
    assert sd["head.0.weight"].shape == (64, 512) and "head.1.running_var" in sd and "head.3.bias" in sd
    # torchvision's init: conv kaiming normal fan_out, fc U(+-1/sqrt(fan_in)), bn 1 / 0
    net = tv.models.resnet18()
    for k, v in net.state_dict().items():
        if k.endswith("num_batches_tracked") or k.startswith("fc") or k.startswith("conv1"):
            continue
        ours = sd[k]
        t = v.numpy()
        if t.ndim == 4:
            assert abs(ours.std() / t.std() - 1) < 0.1 + 3 / np.sqrt(t.size), k
        else:
            assert np.array_equal(ours, t), k
    full = sslkit.Model.from_spec("resnet18", (3, 32, 32)).state_dict()
    bound = 1 / np.sqrt(512)
    assert np.abs(full["fc.weight"]).max() <= bound and np.abs(full["fc.bias"]).max() <= bound
    assert abs(full["fc.weight"].std() / (bound / np.sqrt(3)) - 1) < 0.01


@pytest.mark.parametrize("k,s,p,shape", [(3, 2, 1, (2, 3, 7, 7)), (2, 2, 1, (1, 2, 5, 6)), (3, 1, 1, (2, 1, 4, 4)),
                                         (5, 2, 2, (1, 2, 9, 8))])
def test_padded_maxpool_matches_torch(k, s, p, shape):
    torch, _ = _torch()
    rng = np.random.default_rng(k * 10 + p)
    x = rng.standard_normal(shape).astype(np.float32)
    m = sslkit.Model.from_spec(f"maxpool:{k}:{s}:{p}", shape[1:])
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = torch.nn.functional.max_pool2d(xt, k, s, p)
    assert m.output_shape == tuple(yt.shape[1:])
    np.testing.assert_array_equal(m.forward(x), yt.detach().numpy())
    coef = rng.standard_normal(yt.shape).astype(np.float32)
    (yt * torch.from_numpy(coef)).sum().backward()
    np.testing.assert_allclose(m.backward(coef), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("out,shape", [((1, 1), (2, 3, 5, 7)), ((3, 3), (2, 2, 7, 7)), ((2, 3), (1, 2, 5, 4)),
                                       ((4, 4), (1, 1, 3, 3)), ((5, 2), (2, 2, 7, 9))])
def test_adaptive_avgpool_matches_torch(out, shape):
    torch, _ = _torch()
    rng = np.random.default_rng(out[0] * 7 + out[1])
    x = rng.standard_normal(shape).astype(np.float32)
    m = sslkit.Model.from_spec(f"adaptive_avgpool:{out[0]}:{out[1]}", shape[1:])
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = torch.nn.functional.adaptive_avg_pool2d(xt, out)
    assert m.output_shape == tuple(yt.shape[1:])
    np.testing.assert_allclose(m.forward(x), yt.detach().numpy(), rtol=1e-6, atol=1e-6)
    coef = rng.standard_normal(yt.shape).astype(np.float32)
    (yt * torch.from_numpy(coef)).sum().backward()
    np.testing.assert_allclose(m.backward(coef), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


# ---- round trips and the trainer -----------------------------------------------------------

def test_backbone_spec_names_survive_clone_and_files(tmp_path):
    m = sslkit.Model.from_spec("resnet18-cifar-headless-zeroinit,linear:16", (3, 16, 16), seed=4)
    assert m.spec == "resnet18-cifar-headless-zeroinit,linear:16"
    assert not m.state_dict()["layer1.0.bn2.weight"].any()
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 16, 16)).astype(np.float32)
    y = m.forward(x)
    m.save(tmp_path / "m.sslk")
    for other in (m.clone(), sslkit.Model.load(tmp_path / "m.sslk")):
        assert other.spec == m.spec
        assert list(other.state_dict()) == list(m.state_dict())
        np.testing.assert_array_equal(other.forward(x), y)


def test_trainer_accepts_a_backbone_encoder():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (32, 8, 8)).astype(np.uint8)
    y = (np.arange(32) % 4).astype(np.int32)
    tr = sslkit.Trainer("vicreg", data=(x, y), encoder="resnet18-cifar", projector="linear:16,bn,relu,linear:16",
                        batch=16, warmup_epochs=0, epochs=1)
    seen = []
    tr.fit(1, callback=lambda p: seen.append(p["loss"]))
    assert len(seen) == 1 and np.isfinite(seen[0])
    z = tr.embed((x, y))
    assert z.shape == (32, 1000) and np.isfinite(z).all()
