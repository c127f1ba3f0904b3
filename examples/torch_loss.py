"""A libsslkit loss inside a PyTorch training loop.

For users who keep their models in PyTorch: the loss value and its exact
gradient come from libsslkit (C, BLIS), wrapped in a torch.autograd.Function
whose backward returns the library's gradient scaled by the incoming one.
The script trains a small MLP with VICReg on two noisy views of random data
for a few steps and checks the gradient against PyTorch's own VICReg.

Run: PYTHONPATH=python SSLKIT_LIBRARY=build/lib/libsslkit.so /usr/bin/python3 examples/torch_loss.py
"""
import numpy as np
import torch
import torch.nn.functional as F

import sslkit


class SslkitPairLoss(torch.autograd.Function):
    """loss(za, zb) by a two-view libsslkit loss (vicreg, vicreg_logdet, infonce ...)."""

    @staticmethod
    def forward(ctx, za, zb, loss):
        value, ga, gb = loss.compute(za.detach().cpu().numpy(), zb.detach().cpu().numpy())
        ctx.save_for_backward(torch.from_numpy(np.asarray(ga)).to(za), torch.from_numpy(np.asarray(gb)).to(zb))
        return za.new_tensor(value)

    @staticmethod
    def backward(ctx, grad_out):
        ga, gb = ctx.saved_tensors
        return grad_out * ga, grad_out * gb, None


def torch_vicreg(a, b):
    """The official VICReg formula, for the check below."""
    n, d = a.shape
    inv = F.mse_loss(a, b)
    a, b = a - a.mean(0), b - b.mean(0)
    sa, sb = torch.sqrt(a.var(0) + 1e-4), torch.sqrt(b.var(0) + 1e-4)
    var = (F.relu(1 - sa).mean() + F.relu(1 - sb).mean()) / 2
    ca, cb = (a.T @ a) / (n - 1), (b.T @ b) / (n - 1)
    off = lambda m: m.pow(2).sum() - m.diagonal().pow(2).sum()
    return 25 * inv + 25 * var + (off(ca) + off(cb)) / d


def main():
    torch.manual_seed(0)
    loss = sslkit.Loss("vicreg")
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.BatchNorm1d(64), torch.nn.ReLU(),
                                torch.nn.Linear(64, 16))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = torch.randn(256, 32)
    for step in range(20):
        va = x + 0.1 * torch.randn_like(x)
        vb = x + 0.1 * torch.randn_like(x)
        z = model(torch.cat([va, vb]))
        za, zb = z[:256], z[256:]
        value = SslkitPairLoss.apply(za, zb, loss)
        if step == 0:  # the library's gradient equals autograd through PyTorch's formula
            ga_lib = torch.autograd.grad(value, za, retain_graph=True)[0]
            ga_ref = torch.autograd.grad(torch_vicreg(za, zb), za, retain_graph=True)[0]
            print(f"max |grad(sslkit) - grad(torch)| = {(ga_lib - ga_ref).abs().max().item():.2e}")
        opt.zero_grad()
        value.backward()
        opt.step()
        if step % 5 == 0 or step == 19:
            print(f"step {step:2d}  vicreg {value.item():.4f}  terms {loss.terms}")


if __name__ == "__main__":
    main()
