#!/usr/bin/env python3
"""Convert a PyTorch checkpoint (.pth / .pt / .tar) to safetensors with torch only.

    python3 tools/pth2safetensors.py ckpt.pth out.safetensors [--key state_dict] [--dtype f32|keep]

Debian 12 has no `safetensors` package: this writes the format by hand
(u64 little-endian header length, JSON header padded with spaces to 8 bytes,
then each tensor's raw little-endian bytes, contiguous, in key order).
The state_dict is found under --key when given, else the checkpoint itself
when it maps names to tensors, else the first of "state_dict", "model",
"module", "teacher", "student", "backbone" that does.  Non-tensor entries are
skipped (and listed).  --dtype keep (default) keeps F16 / BF16 / F64 tensors
as they are (sslkit converts them on load); f32 converts floating tensors.
"""
import argparse
import json
import struct
import sys



def _dtypes(torch):
    return {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
            torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
            torch.bool: "BOOL"}


def tensor_bytes(torch, t):
    """Raw little-endian bytes of a tensor in C order."""
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: same bits as int16
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def save_state_dict(sd, path, metadata=None):
    """Write a {name: tensor} dict as a safetensors file."""
    import torch
    names = _dtypes(torch)
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for k, t in sd.items():
        if t.dtype not in names:
            raise ValueError(f"tensor '{k}' has dtype {t.dtype}, which this writer does not map")
        raw = tensor_bytes(torch, t)
        header[k] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def find_state_dict(torch, ck, key=None):
    def is_sd(d):
        return isinstance(d, dict) and d and any(isinstance(v, torch.Tensor) for v in d.values())
    if key is not None:
        for part in key.split("/"):
            ck = ck[part]
        return ck
    if is_sd(ck):
        return ck
    for k in ("state_dict", "model", "module", "teacher", "student", "backbone"):
        if isinstance(ck, dict) and is_sd(ck.get(k)):
            return ck[k]
    raise SystemExit("no state_dict found in the checkpoint; name it with --key")


def main(argv=None):
    if sys.byteorder != "little":
        raise SystemExit("this writer assumes a little-endian machine")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pth")
    ap.add_argument("out")
    ap.add_argument("--key", help="where the state_dict sits in the checkpoint (a/b for nested dicts)")
    ap.add_argument("--dtype", choices=["keep", "f32"], default="keep")
    a = ap.parse_args(argv)
    import torch
    ck = torch.load(a.pth, map_location="cpu")
    sd = find_state_dict(torch, ck, a.key)
    skipped = [k for k, v in sd.items() if not isinstance(v, torch.Tensor)]
    sd = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    if a.dtype == "f32":
        sd = {k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}
    save_state_dict(sd, a.out, {"format": "pt"})
    print(f"{a.out}: {len(sd)} tensors" + (f"; skipped non-tensors: {', '.join(skipped)}" if skipped else ""))


if __name__ == "__main__":
    main()
