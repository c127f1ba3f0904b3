"""PyTorch + torchvision reference for bench_train: the same VICReg step
(load, augment with torchvision, forward, loss, backward, AdamW) on
Fashion-MNIST.  Prints images/s.  Usage: train_ref.py THREADS STEPS SPEC"""
import gzip
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.transforms as T


def build(spec, c, h, w):
    layers, shape = [], (c, h, w)
    for item in spec.split(","):
        p = item.split(":")
        if p[0] == "conv":
            oc, k, s, pad = map(int, p[1:5])
            layers.append(nn.Conv2d(shape[0], oc, k, s, pad, bias=len(p) < 6))
            hh = (shape[1] + 2 * pad - k) // s + 1
            shape = (oc, hh, hh)
        elif p[0] == "bn":
            layers.append(nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0]))
        elif p[0] == "relu":
            layers.append(nn.ReLU())
        elif p[0] == "maxpool":
            k = int(p[1])
            layers.append(nn.MaxPool2d(k))
            shape = (shape[0], shape[1] // k, shape[2] // k)
        elif p[0] == "gap":
            layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
            shape = (shape[0],)
        elif p[0] == "flatten":
            layers.append(nn.Flatten())
            shape = (int(np.prod(shape)),)
        elif p[0] == "linear":
            if len(shape) == 3:
                layers.append(nn.Flatten())
                shape = (int(np.prod(shape)),)
            layers.append(nn.Linear(shape[0], int(p[1]), bias=len(p) < 3))
            shape = (int(p[1]),)
        else:
            raise ValueError(item)
    return nn.Sequential(*layers), shape[0]


def vicreg(a, b):
    n, d = a.shape
    inv = F.mse_loss(a, b)
    a = a - a.mean(0)
    b = b - b.mean(0)
    sa, sb = torch.sqrt(a.var(0) + 1e-4), torch.sqrt(b.var(0) + 1e-4)
    var = (F.relu(1 - sa).mean() + F.relu(1 - sb).mean()) / 2
    ca, cb = (a.T @ a) / (n - 1), (b.T @ b) / (n - 1)
    off = lambda m: m.pow(2).sum() - m.diagonal().pow(2).sum()
    return 25 * inv + 25 * var + (off(ca) + off(cb)) / d


def main():
    threads, steps, spec = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    torch.set_num_threads(threads)
    raw = gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").read()
    imgs = torch.from_numpy(np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 1, 28, 28).copy())
    aug = T.Compose([T.RandomResizedCrop(28, scale=(0.25, 1.0), antialias=True), T.RandomHorizontalFlip(),
                     T.RandomApply([T.ColorJitter(0.4, 0.4)], p=0.8)])
    enc, d = build(spec, 1, 28, 28)
    proj = nn.Sequential(nn.Linear(d, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, 512))
    opt = torch.optim.AdamW(list(enc.parameters()) + list(proj.parameters()), lr=2e-3, weight_decay=1e-4)
    perm = torch.randperm(imgs.shape[0])
    B = 256
    t0 = None
    for s in range(steps + 1):
        idx = perm[s * B:(s + 1) * B]
        batch = imgs[idx]
        views = []
        for _ in range(2):
            v = torch.stack([aug(x) for x in batch]).float() / 255.0
            views.append((v - 0.286) / 0.353)
        z = proj(enc(torch.cat(views)))
        loss = vicreg(z[:B], z[B:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if s == 0:
            t0 = time.perf_counter()
    print(steps * B / (time.perf_counter() - t0))


if __name__ == "__main__":
    main()
