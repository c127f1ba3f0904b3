#!/usr/bin/python3
"""Regenerate the seed corpus of the loss fuzz target (tests/fuzz/fuzz_loss.c):
every kind at a few shapes and flag sets, settings at their defaults, ordinary
float values, plus seeds with NaN / Inf / huge / denormal values.  Run from
this folder."""
import os
import random

rng = random.Random(12)
os.makedirs("corpus/loss", exist_ok=True)
# byte layout: kind, n (index into 0,1,2,3,4,5,7,12), d (same), flags, then
# one byte per setting (2 = default), then float codes (>= 12: ordinary)
shapes = [(2, 2), (4, 3), (1, 1), (5, 6)]
flag_sets = [0, 4 | 16, 8 | 32 | 64]
for kind in range(7):
    for si, (ns, ds) in enumerate(shapes):
        for fi, flags in enumerate(flag_sets):
            body = [rng.randrange(12, 255) for _ in range(400)]
            data = bytes([kind, ns, ds, flags] + [2] * 12 + body)
            with open(f"corpus/loss/k{kind}_s{si}_f{fi}.bin", "wb") as f:
                f.write(data)
    # hostile values: specials sprinkled in (codes 0..11) and raw bits (255)
    body = [rng.randrange(0, 256) for _ in range(400)]
    with open(f"corpus/loss/k{kind}_special.bin", "wb") as f:
        f.write(bytes([kind, 4, 3, 4 | 16] + [2] * 12 + body))
    # bounds of every setting (0 = low end, 1 = high end)
    for lohi in (0, 1):
        body = [rng.randrange(12, 255) for _ in range(400)]
        with open(f"corpus/loss/k{kind}_bound{lohi}.bin", "wb") as f:
            f.write(bytes([kind, 3, 2, 0] + [lohi] * 12 + body))
# issue 21, DINO (kind byte 9): 3 views (flags % 3 == 2: 2, or 38 = double precision
# and one gradient skipped) with teacher_views = 1
# (its 7th setting byte 0 = the low end), so the 2 students + 1 teacher compute;
# also the temperatures at their low end (logits / 1e-3: the overflow refusal)
for si, (ns, ds) in enumerate(shapes):
    for lo in (0, 1):
        body = [rng.randrange(12, 255) for _ in range(400)]
        temps = [0, 0, 0] if lo else [2, 2, 2]
        with open(f"corpus/loss/k9_dino_s{si}_t{lo}.bin", "wb") as f:
            f.write(bytes([9, ns, ds, 38 if lo else 2] + temps + [2, 2, 2, 0] + body))
