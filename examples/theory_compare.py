"""Fashion-MNIST: four representations under one kNN / linear-probe protocol.

Rows of the printed table (docs/theory.md "Fashion-MNIST comparison"):

- raw pixels (784, scaled to [0, 1]);
- closed-form SSL (sslkit.closed_form_ssl) on random Fourier features
  (sslkit.random_features) of two augmented views per image: random shifts of
  up to --shift pixels plus N(0, --noise^2) pixel noise;
- Laplacian eigenmaps (sslkit.laplacian_eigenmaps) of the train and test
  images together: transductive (the test images shape the graph, never with
  their labels) since eigenmaps have no out-of-sample map;
- an encoder trained by sslkit.Trainer (VICReg, short run on the same training
  images, labels unused), or the encoder of a run directory given with --run.

Every row is evaluated on the first --n-train training images and the first
--n-test test images with sslkit.knn_eval (k = 20, cosine, t = 0.07) and
sslkit.linear_probe (L2 chosen on a held-out split).  "fit s" is the time to
build the representation of train + test (features, fit, apply / embed;
training included), not the evaluation.

Run: PYTHONPATH=python SSLKIT_LIBRARY=build/lib/libsslkit.so /usr/bin/python3 examples/theory_compare.py
     (or `meson compile -C build theory-compare`); --help lists the sizes.
"""
import argparse
import json
import sys
import time

import numpy as np

import sslkit


def load(split, n):
    """The first n images of a Fashion-MNIST split: (Dataset subset, pixels n x 784 in [0, 1], labels)."""
    ds = sslkit.Dataset.open("fashion-mnist", split=split)
    n = min(n, len(ds))
    sub = ds.subset(np.arange(n))
    x = np.stack([sub[i].reshape(-1) for i in range(n)]).astype(np.float32) / 255.0
    return sub, x, sub.labels


def views(x, m, shift, noise, seed):
    """m augmented views (N, m, 784) of images x (N, 784): an integer shift in
    [-shift, shift]^2 per view (zero fill) plus Gaussian pixel noise."""
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    img = x.reshape(n, 28, 28)
    out = np.empty((n, m, 28 * 28), np.float32)
    pad = np.pad(img, ((0, 0), (shift, shift), (shift, shift)))
    for a in range(m):
        dy, dx = rng.integers(-shift, shift + 1, size=(2, n))
        for s_y in range(-shift, shift + 1):
            for s_x in range(-shift, shift + 1):
                sel = (dy == s_y) & (dx == s_x)
                if sel.any():
                    out[sel, a] = pad[sel, shift - s_y:shift - s_y + 28, shift - s_x:shift - s_x + 28].reshape(-1, 784)
        out[:, a] += rng.normal(0.0, noise, size=(n, 784)).astype(np.float32)
    return out


def closed_form(args, x_tr, x_te):
    v = views(x_tr, 2, args.shift, args.noise, args.seed)
    n = x_tr.shape[0]
    # Features of train views, train images and test images in one call: the
    # same random frequencies (same seed) for all of them.
    feats = sslkit.random_features(np.concatenate([v.reshape(2 * n, -1), x_tr, x_te]), args.rf_dim,
                                   sigma=args.rf_sigma, seed=args.seed)
    rep = sslkit.closed_form_ssl(feats[:2 * n], m=2, k=args.cf_k, lam=args.cf_lambda, center=True)
    return rep(feats[2 * n:2 * n + n]), rep(feats[2 * n + n:]), f"{rep.collapsed} of {rep.shape[1]} collapsed"


def spectral(args, x_tr, x_te):
    emb, ev = sslkit.laplacian_eigenmaps(np.concatenate([x_tr, x_te]), k=args.spectral_k, neighbors=args.neighbors,
                                         laplacian="random_walk")
    n = x_tr.shape[0]
    return emb[:n], emb[n:], f"lambda {ev[0]:.4f} .. {ev[-1]:.4f}"


def encoder(args, ds_tr, ds_te):
    if args.run:
        tr = sslkit.Trainer.resume(args.run, data=ds_tr)
        note = f"run {args.run}, {tr.epochs_done} epochs"
    else:
        tr = sslkit.Trainer(args.method, data=ds_tr, encoder=args.encoder, epochs=args.epochs, batch=args.batch,
                            seed=args.seed)
        tr.fit()
        note = f"{args.method}, {args.epochs} epochs on {len(ds_tr)} images"
    return tr.embed(ds_tr), tr.embed(ds_te), note


def evaluate(z_tr, y_tr, z_te, y_te, args):
    # The same protocol for every row: only the features change.
    knn = sslkit.knn_eval(z_tr, y_tr, z_te, y_te, k=20, t=0.07, nclasses=10)["top1"]
    probe = sslkit.linear_probe(z_tr, y_tr, z_te, y_te, nclasses=10, max_iter=args.probe_iter)["top1"]
    return knn, probe


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-train", type=int, default=10000, help="first N training images (fit + evaluation)")
    p.add_argument("--n-test", type=int, default=2000, help="first N test images")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shift", type=int, default=2, help="closed form: largest shift of a view, pixels")
    p.add_argument("--noise", type=float, default=0.05, help="closed form: pixel noise std of a view")
    p.add_argument("--rf-dim", type=int, default=2048, help="closed form: random Fourier features")
    p.add_argument("--rf-sigma", type=float, default=6.0, help="closed form: Gaussian kernel bandwidth")
    p.add_argument("--cf-k", type=int, default=64, help="closed form: directions kept")
    p.add_argument("--cf-lambda", type=float, default=1e-3, help="closed form: Tikhonov weight")
    p.add_argument("--spectral-k", type=int, default=32, help="eigenmaps: dimensions")
    p.add_argument("--neighbors", type=int, default=10, help="eigenmaps: kNN graph degree")
    p.add_argument("--method", default="vicreg", help="trained encoder: method preset")
    p.add_argument("--encoder", default=None, help="trained encoder: model spec (default: the preset's CNN)")
    p.add_argument("--epochs", type=int, default=5, help="trained encoder: epochs over the n-train images")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--run", default=None, help="use the encoder of this run directory instead of training")
    p.add_argument("--probe-iter", type=int, default=300, help="linear probe: L-BFGS iterations")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    sslkit.set_threads(args.threads)

    ds_tr, x_tr, y_tr = load("train", args.n_train)
    ds_te, x_te, y_te = load("test", args.n_test)

    def raw(*_):
        return x_tr, x_te, "pixels in [0, 1]"

    rows = []
    for name, make, inputs in (("raw pixels", raw, (x_tr, x_te)),
                               ("closed-form SSL, random features", closed_form, (x_tr, x_te)),
                               ("Laplacian eigenmaps (transductive)", spectral, (x_tr, x_te)),
                               ("trained encoder", encoder, (ds_tr, ds_te))):
        t0 = time.perf_counter()
        z_tr, z_te, note = make(args, *inputs)
        fit = time.perf_counter() - t0
        knn, probe = evaluate(z_tr, y_tr, z_te, y_te, args)
        rows.append(dict(representation=name, dim=int(z_tr.shape[1]), fit_s=0.0 if make is raw else fit,
                         knn_top1=knn, probe_top1=probe, note=note))
        print(f"  done: {name} ({time.perf_counter() - t0:.1f} s with evaluation)", file=sys.stderr, flush=True)

    print(f"Fashion-MNIST, {len(y_tr)} train / {len(y_te)} test images, {args.threads} threads; "
          "kNN k=20 cosine t=0.07, linear probe (L2 by held-out split)")
    print(f"{'representation':36s} {'dim':>5s} {'fit s':>8s} {'kNN top-1':>10s} {'probe top-1':>12s}  note")
    for r in rows:
        print(f"{r['representation']:36s} {r['dim']:5d} {r['fit_s']:8.1f} {r['knn_top1']:10.4f} "
              f"{r['probe_top1']:12.4f}  {r['note']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(n_train=len(y_tr), n_test=len(y_te), threads=args.threads, rows=rows), f, indent=1)
    return rows


if __name__ == "__main__":
    main()
