#!/usr/bin/python3
"""Reference for bench_embed: the usual PyTorch embedding loop over an image
folder -- torchvision ImageFolder (PIL decode), Resize(256) + CenterCrop(224) +
ToTensor + Normalize(ImageNet), DataLoader(batch, shuffle=False,
num_workers=0), torchvision resnet18 with fc = Identity in eval mode under
torch.no_grad, torch.set_num_threads(THREADS).  One warm-up pass, then the
median of REPS passes.  Prints one line:
"images_per_s <wall> cpu_images_per_s <per process-CPU-second>".

    embed_ref.py DIR --threads T --reps R --batch B
"""
import argparse
import time

import torch
import torchvision
from torchvision import transforms as T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    tf = T.Compose([
        T.Resize(256),
        T.CenterCrop(224),
        T.ToTensor(),
        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    ds = torchvision.datasets.ImageFolder(a.dir, transform=tf)
    dl = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=False, num_workers=0)
    model = torchvision.models.resnet18()
    model.fc = torch.nn.Identity()
    model.eval()

    def one_pass():
        out = []
        with torch.no_grad():
            for x, _ in dl:
                out.append(model(x))
        return torch.cat(out)

    z = one_pass()  # warm-up
    assert z.shape == (len(ds), 512) and torch.isfinite(z).all()
    wall, cpu = [], []
    for _ in range(a.reps):
        t0, c0 = time.perf_counter(), time.process_time()
        one_pass()
        wall.append(len(ds) / (time.perf_counter() - t0))
        cpu.append(len(ds) / (time.process_time() - c0))
    wall.sort(), cpu.sort()
    print(f"images_per_s {wall[len(wall) // 2]:.2f} cpu_images_per_s {cpu[len(cpu) // 2]:.2f}")


if __name__ == "__main__":
    main()
