"""PyTorch reference for bench_backbones: torchvision's ResNets (headless: fc =
Identity; the CIFAR variant has a 3x3 stride-1 stem and no max-pool), the same
inference pass (eval, no_grad) and train step (train-mode forward, backward,
SGD momentum) as bench_backbones, in a fresh process so ru_maxrss is this
row's peak.  Prints one line:
"<infer ms> <train ms> <train process-CPU ms> <peak RSS MiB> <infer process-CPU ms>" (medians).
Usage: backbones_ref.py THREADS REPS ROW BATCH   (ROW: 0 resnet18-cifar, 1 resnet18, 2 resnet50)"""
import resource
import sys
import time

import torch
import torchvision
from torch import nn

threads, reps, row, batch = (int(a) for a in sys.argv[1:5])
torch.set_num_threads(threads)
torch.manual_seed(0)

if row == 0:
    model, side = torchvision.models.resnet18(), 32
    model.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    model.maxpool = nn.Identity()
elif row == 1:
    model, side = torchvision.models.resnet18(), 224
else:
    model, side = torchvision.models.resnet50(), 224
model.fc = nn.Identity()

x = torch.rand(batch, 3, side, side) - 0.5
gy = torch.rand(batch, 2048 if row == 2 else 512) * 0.01
opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)


def median_ms(fn):
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    wall.sort(), cpu.sort()
    return 1e3 * wall[len(wall) // 2], 1e3 * cpu[len(cpu) // 2]


def infer():
    with torch.no_grad():
        model(x)


def train():
    opt.zero_grad()
    model(x).backward(gy)
    opt.step()


model.eval()
infer_ms, infer_cpu = median_ms(infer)
model.train()
train_ms, train_cpu = median_ms(train)
rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print(f"{infer_ms:.2f} {train_ms:.2f} {train_cpu:.2f} {rss_mib:.1f} {infer_cpu:.2f}", flush=True)
