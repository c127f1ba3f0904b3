"""PyTorch reference for bench_models: the same train steps, printing
"<row> <median wall ms> <median process-CPU ms>" lines.  Usage: models_ref.py THREADS REPS [ROW]"""
import sys
import time

import torch
from torch import nn

threads, reps = int(sys.argv[1]), int(sys.argv[2])
only = int(sys.argv[3]) if len(sys.argv) > 3 else None
torch.set_num_threads(threads)


def conv4(cin):
    return nn.Sequential(
        nn.Conv2d(cin, 32, 3, 1, 1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, 1, 1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3, 1, 1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.Conv2d(64, 64, 3, 1, 1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


ROWS = [
    (nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                   nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10)), (256, 784)),
    (nn.Sequential(nn.Linear(2048, 2048), nn.BatchNorm1d(2048), nn.ReLU(), nn.Linear(2048, 2048)),
     (256, 2048)),
    (conv4(1), (256, 1, 28, 28)),
    (conv4(3), (256, 3, 32, 32)),
    # the trainer's default encoder on both views of a batch of 256
    (nn.Sequential(nn.Conv2d(1, 32, 5, 2, 2), nn.BatchNorm2d(32), nn.ReLU(),
                   nn.Conv2d(32, 64, 3, 2, 1), nn.BatchNorm2d(64), nn.ReLU(), nn.Flatten(),
                   nn.Linear(3136, 512), nn.BatchNorm1d(512), nn.ReLU()), (512, 1, 28, 28)),
]
OUT = [10, 2048, 10, 10, 512]

for i, (model, shape) in enumerate(ROWS):
    if only is not None and i != only:
        continue
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.rand(shape) - 0.5
    gy = torch.rand(shape[0], OUT[i]) * 0.01
    times, cpu = [], []
    for r in range(reps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad()
        out = model(x)
        out.backward(gy)
        opt.step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    times, cpu = sorted(times[1:]), sorted(cpu[1:])
    print(i, 1e3 * times[len(times) // 2], 1e3 * cpu[len(cpu) // 2], flush=True)
