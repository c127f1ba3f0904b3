"""Fashion-MNIST-X: the Fashion-MNIST test images with one known factor of
variation each (ImageNet-X's idea with factors we control), for
examples/reproduce/fmnist_x.py.

Every image gets exactly one factor (or "none"); the assignment is a seeded
permutation into equal groups, and the per-image parameters are drawn from a
generator seeded by (seed, factor), so the set is a function of the seed.
The transforms act on 28 x 28 uint8 images (white object on black):

- smaller: scaled by SMALL_SCALE about the centre (2 x 2 supersampled
  bilinear, so thin parts do not vanish), black padding.
- larger: scaled by LARGE_SCALE about the centre, the border cut off.
- pose: rotated about the centre by ROT_MIN..ROT_MAX degrees, either sign.
- darker: pixel values x DARK_GAIN.
- brighter: gamma 255 (x / 255)^BRIGHT_GAMMA: the object brightens, the
  black background stays black.
- partial_view: a OCC_SIDE-pixel square of gray OCC_GRAY hides part of the
  object (placed at random inside the central 20 x 20 pixels).
- background: the black background (pixels < BG_THRESHOLD) is replaced by
  sinusoidal stripes of random frequency, direction and phase; object pixels
  are kept.

Nothing here is a library API: the program imports it by path."""
import struct
import zlib

import numpy as np

FACTORS = ("none", "smaller", "larger", "pose", "darker", "brighter", "partial_view", "background")

SMALL_SCALE = 0.55
LARGE_SCALE = 1.6
ROT_MIN, ROT_MAX = 30.0, 60.0
DARK_GAIN = 0.35
BRIGHT_GAMMA = 0.35
OCC_SIDE, OCC_GRAY = 12, 100
BG_THRESHOLD = 20
BG_MEAN, BG_AMP = 45.0, 35.0
BG_FREQ = (0.15, 0.35)  # cycles per pixel


def warp(images, inv, supersample=1):
    """Bilinear resampling of images (n, H, W) under the inverse maps inv
    (n, 2, 2): output pixel p takes the source value at c + inv (p - c), c the
    image centre; outside the source is black.  supersample s averages s x s
    sub-pixel positions (anti-aliasing when shrinking).  Returns float64."""
    x = np.asarray(images, dtype=np.float64)
    n, H, W = x.shape
    inv = np.broadcast_to(np.asarray(inv, dtype=np.float64), (n, 2, 2))
    cy, cx = (H - 1) / 2.0, (W - 1) / 2.0
    out = np.zeros_like(x)
    idx = np.arange(n)[:, None, None]
    offs = (np.arange(supersample) + 0.5) / supersample - 0.5
    for oy in offs:
        for ox in offs:
            dy = (np.arange(H)[:, None] + oy - cy)[None]
            dx = (np.arange(W)[None, :] + ox - cx)[None]
            # rounding to 1e-9 keeps exact integer positions (e.g. 90 degrees) exact
            sy = np.round(inv[:, 0, 0, None, None] * dy + inv[:, 0, 1, None, None] * dx + cy, 9)
            sx = np.round(inv[:, 1, 0, None, None] * dy + inv[:, 1, 1, None, None] * dx + cx, 9)
            y0, x0 = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
            wy, wx = sy - y0, sx - x0
            for yy, xx, w in ((y0, x0, (1 - wy) * (1 - wx)), (y0, x0 + 1, (1 - wy) * wx),
                              (y0 + 1, x0, wy * (1 - wx)), (y0 + 1, x0 + 1, wy * wx)):
                ok = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
                out += np.where(ok, x[idx, np.clip(yy, 0, H - 1), np.clip(xx, 0, W - 1)], 0.0) * w
    return out / (supersample * supersample)


def _u8(v):
    return np.clip(np.round(v), 0, 255).astype(np.uint8)


def scale(images, s, supersample=1):
    """Scale about the centre by s (> 1 enlarges)."""
    return _u8(warp(images, np.eye(2) / s, supersample))


def rotate(images, degrees):
    """Rotate each image about its centre by degrees[i] (counter-clockwise on screen)."""
    t = np.radians(np.asarray(degrees, dtype=np.float64))
    c, s = np.cos(t), np.sin(t)
    # inverse rotation in (row, col) coordinates with rows pointing down
    inv = np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)
    return _u8(warp(images, inv))


def occlude(images, tops, lefts, side=OCC_SIDE, gray=OCC_GRAY):
    out = np.array(images, dtype=np.uint8, copy=True)
    for i, (t, l) in enumerate(zip(tops, lefts)):
        out[i, t:t + side, l:l + side] = gray
    return out


def stripes(n, H, W, rng):
    """n sinusoidal stripe textures (uint8) of random frequency, angle and phase."""
    f = rng.uniform(*BG_FREQ, size=n)[:, None, None]
    th = rng.uniform(0, np.pi, size=n)[:, None, None]
    ph = rng.uniform(0, 2 * np.pi, size=n)[:, None, None]
    yy, xx = np.mgrid[0:H, 0:W]
    return _u8(BG_MEAN + BG_AMP * np.sin(2 * np.pi * f * (xx * np.cos(th) + yy * np.sin(th)) + ph))


def apply_factor(images, factor, rng):
    """Images (n, H, W) uint8 with factor (a name of FACTORS) applied; the
    random parameters are drawn from rng."""
    x = np.asarray(images, dtype=np.uint8)
    n, H, W = x.shape
    if factor == "none":
        return x.copy()
    if factor == "smaller":
        return scale(x, SMALL_SCALE, supersample=2)
    if factor == "larger":
        return scale(x, LARGE_SCALE)
    if factor == "pose":
        return rotate(x, rng.uniform(ROT_MIN, ROT_MAX, n) * rng.choice([-1.0, 1.0], n))
    if factor == "darker":
        return _u8(x * DARK_GAIN)
    if factor == "brighter":
        return _u8(255.0 * (x / 255.0) ** BRIGHT_GAMMA)
    if factor == "partial_view":
        lo, hi = (H - 20) // 2, (H + 20) // 2 - OCC_SIDE
        return occlude(x, rng.integers(lo, hi + 1, n), rng.integers(lo, hi + 1, n))
    if factor == "background":
        return np.where(x < BG_THRESHOLD, stripes(n, H, W, rng), x).astype(np.uint8)
    raise ValueError(f"unknown factor {factor!r} (known: {', '.join(FACTORS)})")


def assign(n, seed):
    """Factor index (into FACTORS) of each of n images: a seeded permutation
    into len(FACTORS) groups of equal size (+-1)."""
    f = np.empty(n, dtype=np.int64)
    f[np.random.default_rng(seed).permutation(n)] = np.arange(n) % len(FACTORS)
    return f


def build(images, seed):
    """(Fashion-MNIST-X images, factor index per image, one-hot factor matrix
    (n, len(FACTORS)) uint8) from clean test images (n, H, W) uint8."""
    x = np.asarray(images, dtype=np.uint8)
    f = assign(x.shape[0], seed)
    out = np.empty_like(x)
    for k, name in enumerate(FACTORS):
        sel = np.flatnonzero(f == k)
        out[sel] = apply_factor(x[sel], name, np.random.default_rng([seed, k]))
    onehot = np.zeros((x.shape[0], len(FACTORS)), dtype=np.uint8)
    onehot[np.arange(x.shape[0]), f] = 1
    return out, f, onehot


def write_png_gray(path, img):
    """An 8-bit grayscale PNG (uncompressed filter 0 rows, zlib stream)."""
    img = np.ascontiguousarray(img, dtype=np.uint8)
    h, w = img.shape

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)


def example_grid(images, seed, zoom=3, gap=2):
    """One row per factor, one column per image: images (m, H, W) with each
    factor applied, enlarged zoom x (nearest), separated by gray lines."""
    x = np.asarray(images, dtype=np.uint8)
    m, H, W = x.shape
    cell_h, cell_w = H * zoom + gap, W * zoom + gap
    grid = np.full((len(FACTORS) * cell_h + gap, m * cell_w + gap), 128, dtype=np.uint8)
    for k, name in enumerate(FACTORS):
        t = apply_factor(x, name, np.random.default_rng([seed, k, 1]))
        for j in range(m):
            big = np.kron(t[j], np.ones((zoom, zoom), dtype=np.uint8))
            grid[gap + k * cell_h:gap + k * cell_h + H * zoom, gap + j * cell_w:gap + j * cell_w + W * zoom] = big
    return grid
