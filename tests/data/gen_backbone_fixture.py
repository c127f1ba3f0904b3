"""Write tests/data/backbone_tiny.npz, the torch-free fixture of
tests/python/test_backbones.py: a two-block ResNet in miniature built from
torchvision's BasicBlock (bias-free 3x3 stem, padded max-pool, a
downsampling block, adaptive average pooling with overlapping bins, fc),
its tensors under libsslkit's names for the same spec, an input batch, and
torchvision's outputs (eval and train mode) and input gradient.

Run once with Debian's python3-torch / python3-torchvision:
    /usr/bin/python3 tests/data/gen_backbone_fixture.py
"""
import os

import numpy as np
import torch
from torch import nn
from torchvision.models.resnet import BasicBlock

SPEC = ("conv:4:3:1:1:nobias,bn,relu,maxpool:3:2:1,"
        "res(conv:4:3:1:1:nobias,bn,relu,conv:4:3:1:1:nobias,bn),relu,"
        "res(conv:8:3:2:1:nobias,bn,relu,conv:8:3:1:1:nobias,bn|conv:8:1:2:0:nobias,bn),relu,"
        "adaptive_avgpool:2,flatten,linear:3")
INPUT = (3, 9, 9)


def build():
    torch.manual_seed(14)
    down = nn.Sequential(nn.Conv2d(4, 8, 1, 2, bias=False), nn.BatchNorm2d(8))
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, 1, 1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
        BasicBlock(4, 4), BasicBlock(4, 8, stride=2, downsample=down),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 3))
    for mod in net.modules():  # batch-norm away from its identity initialisation
        if isinstance(mod, nn.BatchNorm2d):
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.3, 0.3)
            mod.running_mean.uniform_(-0.3, 0.3)
            mod.running_var.uniform_(0.5, 2.0)
    return net


# libsslkit's names for SPEC, in state_dict order (the block's relu after the
# add is its own layer, so the indices skip it)
NAMES = (["0.weight"] + [f"1.{s}" for s in ("weight", "bias", "running_mean", "running_var")]
         + ["4.body.0.weight"] + [f"4.body.1.{s}" for s in ("weight", "bias", "running_mean", "running_var")]
         + ["4.body.3.weight"] + [f"4.body.4.{s}" for s in ("weight", "bias", "running_mean", "running_var")]
         + ["6.body.0.weight"] + [f"6.body.1.{s}" for s in ("weight", "bias", "running_mean", "running_var")]
         + ["6.body.3.weight"] + [f"6.body.4.{s}" for s in ("weight", "bias", "running_mean", "running_var")]
         + ["6.shortcut.0.weight"] + [f"6.shortcut.1.{s}" for s in ("weight", "bias", "running_mean", "running_var")]
         + ["10.weight", "10.bias"])


def main():
    net = build()
    tensors = [v.detach().numpy().copy() for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")]
    assert len(tensors) == len(NAMES)
    g = torch.Generator().manual_seed(5)
    x = torch.rand((2,) + INPUT, generator=g) * 2 - 1
    coef = torch.rand((2, 3), generator=g) * 2 - 1
    net.eval()
    y_eval = net(x).detach().numpy()
    net.train()
    xr = x.clone().requires_grad_(True)
    y_train = net(xr)
    (y_train * coef).sum().backward()
    out = {"param/" + n: t for n, t in zip(NAMES, tensors)}
    out.update(x=x.numpy(), coef=coef.numpy(), y_eval=y_eval, y_train=y_train.detach().numpy(),
               gx_train=xr.grad.numpy(), spec=np.array(SPEC))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "backbone_tiny.npz")
    np.savez(path, **out)
    print("wrote", path)


if __name__ == "__main__":
    main()
