#!/usr/bin/python3
"""Regenerate the seed corpus of the data-reader fuzz targets (small valid
files plus a few broken ones).  Needs numpy and PIL; run from this folder."""
import io
import os
import struct

import numpy as np
from PIL import Image


def put(path, data):
    with open(path, "wb") as f:
        f.write(data)


def idx(type_, dims, data):
    return bytes([0, 0, type_, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


img = bytes((i * 7) % 256 for i in range(2 * 4 * 5))
put("corpus/idx/images.idx", idx(8, [2, 4, 5], img))
put("corpus/idx/labels.idx", idx(8, [3], bytes([1, 2, 9])))
put("corpus/idx/rgb.idx", idx(8, [1, 2, 2, 3], bytes(range(12))))
put("corpus/idx/truncated.idx", idx(8, [2, 4, 5], img[:-3]))
put("corpus/idx/huge.idx", idx(8, [0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], b""))
put("corpus/idx/float.idx", idx(0x0D, [2], b"\0" * 8))

rec10 = bytes([3]) + bytes((p * 3) % 256 for p in range(3072))
rec100 = bytes([4, 41]) + bytes((p * 5) % 256 for p in range(3072))
put("corpus/cifar/c10.bin", rec10 * 2)
put("corpus/cifar/c100.bin", rec100)
put("corpus/cifar/badlabel.bin", bytes([200]) + rec10[1:])
put("corpus/cifar/short.bin", rec10[:1000])


def npy(arr, fortran=False):
    b = io.BytesIO()
    np.save(b, np.asfortranarray(arr) if fortran else arr)
    return b.getvalue()


rng = np.random.default_rng(0)
put("corpus/npy/u8_nhwc.npy", npy(rng.integers(0, 255, (2, 3, 4, 3), dtype=np.uint8)))
put("corpus/npy/f4_nhw.npy", npy(rng.random((2, 4, 4), dtype=np.float32)))
put("corpus/npy/f8_big.npy", npy(rng.random((1, 2, 2)).astype(">f8")))
put("corpus/npy/labels_i8.npy", npy(np.array([3, 1, 4], dtype=np.int64)))
put("corpus/npy/fortran.npy", npy(np.zeros((2, 3, 4), dtype=np.uint8), fortran=True))
put("corpus/npy/truncated.npy", npy(np.zeros((2, 3, 4), dtype=np.uint8))[:-5])

im = Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
for name, kw in [("base.jpg", {}), ("progressive.jpg", {"progressive": True}),
                 ("q10_420.jpg", {"quality": 10, "subsampling": 2})]:
    b = io.BytesIO()
    im.save(b, "JPEG", **kw)
    put("corpus/jpeg/" + name, b.getvalue())
b = io.BytesIO()
im.convert("L").save(b, "JPEG")
put("corpus/jpeg/gray.jpg", b.getvalue())
put("corpus/jpeg/truncated.jpg", b.getvalue()[: len(b.getvalue()) // 2])

# issue 12 seeds, derived from the files above
prog = open("corpus/jpeg/progressive.jpg", "rb").read()
sos = [i for i in range(len(prog) - 1) if prog[i] == 0xFF and prog[i + 1] == 0xDA]
# two extraneous bytes before the first SOS: a warning, the image still decodes whole
put("corpus/jpeg/stray.jpg", prog[: sos[0]] + b"\x12\x34" + prog[sos[0]:])
# a warning before scan 2, then scan 3 names component 9: a fatal error after a warning
wf = bytearray(prog[: sos[1]] + b"\x12\x34" + prog[sos[1]:])
wf[sos[2] + 2 + 5] = 9
put("corpus/jpeg/warnfatal.jpg", bytes(wf))
good = npy(np.zeros((2, 3, 4), dtype=np.uint8))
put("corpus/npy/trailing.npy", good + b"\0\0\0\0")
put("corpus/npy/shape_no_comma.npy", npy(np.zeros(3, dtype=np.uint8)).replace(b"(3,)", b"(3) "))

# issue 15 seeds: CMYK (Adobe, YCCK inside libjpeg) and the PNG kinds of image folders
os.makedirs("corpus/png", exist_ok=True)
rgb = np.stack(np.meshgrid(np.arange(7) * 30, np.arange(5) * 50) + [np.full((5, 7), 90)], -1).astype(np.uint8)
b = io.BytesIO()
Image.fromarray(rgb).convert("CMYK").save(b, "JPEG", quality=90)
put("corpus/jpeg/cmyk.jpg", b.getvalue())
for name, im in (("rgb8", Image.fromarray(rgb)), ("rgba8", Image.fromarray(rgb).convert("RGBA")),
                 ("gray8", Image.fromarray(rgb[..., 0])), ("graya8", Image.fromarray(rgb[..., 0]).convert("LA")),
                 ("pal", Image.fromarray(rgb).convert("P")),
                 ("gray16", Image.fromarray(rgb[..., 1].astype(np.uint16) * 257).convert("I;16"))):
    b = io.BytesIO()
    im.save(b, "PNG")
    put(f"corpus/png/{name}.png", b.getvalue())
put("corpus/png/truncated.png", b.getvalue()[:40])
