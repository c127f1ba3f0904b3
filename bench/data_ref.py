#!/usr/bin/python3
"""Reference for bench_data: PIL decode + torchvision transforms doing the same
two-view recipe (VICReg/BYOL-style: random resized crop, flip, colour jitter
0.4/0.4/0.2/0.1 p 0.8, grayscale p 0.2, blur p 1.0 / 0.1, solarise p 0 / 0.2,
to tensor, normalise).  Prints one line: "images_per_s <wall> cpu_images_per_s <per CPU-second>"
(CPU time of this process and its worker processes, robust to a loaded machine).

    data_ref.py jpeg DIR --size 224 --workers W --n N [--recipe simclr]
    data_ref.py idx  FILE.gz --size 28 --workers W --n N     (Fashion-MNIST images)
    data_ref.py rand --hw 32 --size 32 --workers W --n N      (CIFAR-sized random images)
Workers: 1 = in-process loop; W > 1 = torch DataLoader with W worker processes.
"""
import argparse
import gzip
import os
import resource
import time

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T


def recipe(size, blur_p, sol_p, gray):
    mean, std = ([0.5], [0.25]) if gray else ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    k = max(3, (size // 10) | 1)  # odd kernel ~10% of the side (SimCLR rule)
    return T.Compose([
        T.RandomResizedCrop(size, scale=(0.08, 1.0), interpolation=T.InterpolationMode.BILINEAR),
        T.RandomHorizontalFlip(),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.RandomApply([T.GaussianBlur(k, sigma=(0.1, 2.0))], p=blur_p),
        T.RandomSolarize(128, p=sol_p),
        T.ToTensor(),
        T.Normalize(mean, std),
    ])


def simclr(size):
    """SimCLR's training view: crop 0.08-1, flip, jitter 0.4/0.4/0.4/0.1 p 0.8,
    grayscale 0.2, blur p 0.5 with a kernel of 10% of the side (views >= 96)."""
    k = (size // 10) | 1
    return T.Compose([
        T.RandomResizedCrop(size, scale=(0.08, 1.0), interpolation=T.InterpolationMode.BILINEAR),
        T.RandomHorizontalFlip(),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.RandomApply([T.GaussianBlur(k, sigma=(0.1, 2.0))], p=0.5 if size >= 96 else 0.0),
        T.ToTensor(),
        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])


class Two(torch.utils.data.Dataset):
    def __init__(self, load, n_items, size, gray, name="vicreg"):
        self.load, self.n = load, n_items
        if name == "simclr":
            self.v1 = self.v2 = simclr(size)
        else:
            self.v1, self.v2 = recipe(size, 1.0, 0.0, gray), recipe(size, 0.1, 0.2, gray)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        img = self.load(i)
        return self.v1(img), self.v2(img)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["jpeg", "idx", "rand"])
    ap.add_argument("path", nargs="?")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--hw", type=int, default=32)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--recipe", default="vicreg", choices=["vicreg", "simclr"])
    a = ap.parse_args()
    torch.set_num_threads(1)
    gray = False
    if a.mode == "jpeg":
        files = sorted(os.path.join(a.path, f) for f in os.listdir(a.path) if f.endswith(".jpg"))
        load = lambda i: Image.open(files[i % len(files)]).convert("RGB")  # noqa: E731
    elif a.mode == "idx":
        raw = gzip.open(a.path).read()
        n, h, w = np.frombuffer(raw[4:16], dtype=">u4")
        imgs = np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, h, w)
        load = lambda i: Image.fromarray(imgs[i % len(imgs)], mode="L")  # noqa: E731
        gray = True
    else:
        imgs = np.random.default_rng(0).integers(0, 256, (1024, a.hw, a.hw, 3), dtype=np.uint8)
        load = lambda i: Image.fromarray(imgs[i % len(imgs)])  # noqa: E731
    ds = Two(load, a.n, a.size, gray, a.recipe)

    def cpu():
        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

    if a.workers <= 1:
        ds[0]  # warm-up
        c0 = cpu()
        t = time.perf_counter()
        for i in range(a.n):
            ds[i]
        dt = time.perf_counter() - t
    else:
        dl = torch.utils.data.DataLoader(ds, batch_size=32, num_workers=a.workers,
                                         worker_init_fn=lambda _: torch.set_num_threads(1))
        c0 = cpu()
        t = time.perf_counter()
        it = iter(dl)
        for _ in it:
            pass
        dt = time.perf_counter() - t
        del it  # joins the worker processes so their CPU time is counted
    print(f"images_per_s {a.n / dt:.1f} cpu_images_per_s {a.n / (cpu() - c0):.1f}")


if __name__ == "__main__":
    main()
