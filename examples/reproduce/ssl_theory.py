"""Reproduction 9: closed-form / spectral SSL (the theory tools).

Part A, the regimes of "The SSL Interplay: Augmentations, Inductive Bias, and
Generalization" (Cabannes, Kiani, Balestriero, LeCun, Bietti, ICML 2023) on
its three-eigenfunction toy: eigenfunctions f_i of the augmentation operator
with eigenvalues tau = (0.9, 0.75, 0.5) and RKHS norms c = (0.4, 0.25, 0.125).
The paper's claim: which functions a regularised SSL objective learns is set
by the interplay of augmentation (tau) and inductive bias (the norm penalty
lambda): as lambda grows the learned one-dimensional representation moves
from the most invariant function (augmentation regime) to a compromise
(interplay) to the simplest one (architecture regime) and finally collapses.
With beta = 1 and the loss convention of docs/theory.md, mu_i = tau_i -
lambda c_i / 2, so the selected f_i changes at lambda = 2, 4 and 8.
sslkit.closed_form_ssl_moments is fitted on the population moments
(Sigma = diag(1/c), Sigma_X = diag(tau/c)) over a lambda sweep, and
sslkit.closed_form_ssl on N sampled inputs x 2 views whose coordinates have
exactly those moments in expectation (view a = sqrt(tau) s + sqrt(1 - tau)
e_a, scaled by 1/sqrt(c)).

Part B, spectral embedding vs trained encoder: examples/theory_compare.py
(raw pixels, closed-form SSL on random Fourier features, Laplacian eigenmaps,
a VICReg encoder trained by sslkit.Trainer) run unchanged at the sizes
below, its rows written as a table and a bar chart.

Writes ssl_regimes.csv / .md (the sweep) and ssl_regimes.png / .svg (the
ranked invariance spectrum and the selected eigenfunction vs lambda),
ssl_compare.csv / .md and ssl_compare.png / .svg (kNN and probe top-1).

Run (full scale; part B dominates, minutes on 2 cores):
    PYTHONPATH=python SSLKIT_LIBRARY=build/lib/libsslkit.so.1 /usr/bin/python3 \
        examples/reproduce/ssl_theory.py --out docs/figures/reproduce
Tiny scale (seconds; tests/python/test_reproduce_geom.py): add --tiny.
Seeds: sampled toy 400, theory_compare --seed 0 (its views, features and
Trainer seed).
"""
import argparse
import importlib.util
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

import sslkit  # noqa: E402

TAU = np.array([0.9, 0.75, 0.5])
NORM = np.array([0.4, 0.25, 0.125])  # c_i = ||f_i||^2


def selected(theta, exact=True):
    """Index of the eigenfunction a k = 1 map uses, -1 when collapsed.  The map
    is psi = sum_i theta_i f_i / sqrt(c_i); from population moments exactly one
    weight is non-zero (exact), from samples the dominant one is taken."""
    w = np.abs(theta.reshape(-1)) / np.sqrt(NORM)
    nz = np.flatnonzero(w > 1e-6)
    if exact and nz.size > 1:
        raise RuntimeError(f"a k = 1 map mixes eigenfunctions {nz}")
    return int(np.argmax(w)) if nz.size else -1


def sampled_views(n, seed):
    """(n, 2, 3) views with E[Sigma] = diag(1/c), E[Sigma_X] = diag(tau/c)."""
    rng = np.random.default_rng(seed)
    s = rng.standard_normal((n, 1, 3))
    e = rng.standard_normal((n, 2, 3))
    z = np.sqrt(TAU) * s + np.sqrt(1 - TAU) * e
    return (z / np.sqrt(NORM)).astype(np.float32)


def regimes(lambdas, n_samples, seed):
    S, SX = np.diag(1 / NORM), np.diag(TAU / NORM)
    views = sampled_views(n_samples, seed)
    rows = []
    for lam in lambdas:
        pop = sslkit.closed_form_ssl_moments(S, SX, k=3, lam=lam)
        pop1 = sslkit.closed_form_ssl_moments(S, SX, k=1, lam=lam)
        smp = sslkit.closed_form_ssl(views, k=1, lam=lam)
        mu = np.sort(pop.spectrum)[::-1]
        rows.append(dict(lam=float(lam), mu1=float(mu[0]), mu2=float(mu[1]), mu3=float(mu[2]),
                         analytic_mu1=float(np.max(TAU - lam * NORM / 2)),
                         selected_population=selected(pop1.theta) + 1,
                         selected_sampled=selected(smp.theta, exact=False) + 1))
    return rows


def crossings(rows, key):
    """lambdas (midpoints of the sweep) where the selected eigenfunction changes."""
    out = []
    for a, b in zip(rows, rows[1:]):
        if a[key] != b[key]:
            out.append(((a["lam"] + b["lam"]) / 2, a[key], b[key]))
    return out


def compare(argv, out):
    path = os.path.join(C.ROOT, "examples", "theory_compare.py")
    spec = importlib.util.spec_from_file_location("theory_compare", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main(argv)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=".", help="directory for the tables and figures")
    p.add_argument("--tiny", action="store_true", help="seconds-scale run (tests)")
    p.add_argument("--samples", type=int, default=None, help="sampled toy: inputs (2 views each)")
    p.add_argument("--no-compare", action="store_true", help="skip part B (needs Fashion-MNIST)")
    p.add_argument("--compare-args", default=None, help="arguments passed to theory_compare.py (one string)")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    a.samples = a.samples or (2000 if a.tiny else 200000)
    sslkit.set_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    C.commit()  # the source the run starts from
    t0 = time.perf_counter()
    lambdas = np.round(np.arange(0, 10.001, 0.25 if a.tiny else 0.05), 6)
    rows = regimes(lambdas, a.samples, 400)
    cols = ["lam", "mu1", "mu2", "mu3", "analytic_mu1", "selected_population", "selected_sampled"]
    header = (f"Interplay toy, tau = {tuple(TAU)}, c = {tuple(NORM)}, beta = 1, k = 1; sampled: {a.samples} inputs x "
              f"2 views, seed 400; commit {C.commit()}")
    C.write_table(os.path.join(a.out, "ssl_regimes"), rows, cols, header)
    lam = np.array([r["lam"] for r in rows])
    C.plot_curves(os.path.join(a.out, "ssl_regimes"), "interplay toy: invariance spectrum and selected f_i",
                  "lambda", "mu (ranked) / selected i (0 = collapse)",
                  lam, [[r[k] for r in rows] for k in ("mu1", "mu2", "mu3", "selected_population",
                                                         "selected_sampled")],
                  ["mu 1st", "mu 2nd", "mu 3rd", "f selected (population)", "f selected (sampled)"])
    for key in ("selected_population", "selected_sampled"):
        steps = [f"lambda ~ {x:.3g} (f{u} -> {'f' + str(v) if v else 'collapse'})" for x, u, v in crossings(rows, key)]
        print(key, "changes at", ", ".join(steps))
    result = dict(regimes=rows)
    if not a.no_compare:
        cargs = (a.compare_args.split() if a.compare_args else
                 (["--n-train", "400", "--n-test", "200", "--rf-dim", "256", "--cf-k", "16", "--spectral-k", "8",
                   "--epochs", "1", "--batch", "64", "--encoder", "flatten,linear:64,bn,relu", "--probe-iter", "60"]
                  if a.tiny else ["--n-train", "5000", "--n-test", "2000"]))
        crow = compare(cargs + ["--threads", str(a.threads)], a.out)
        for r in crow:
            r["fit_s"] = round(r["fit_s"], 1)
        ccols = ["representation", "dim", "fit_s", "knn_top1", "probe_top1", "note"]
        C.write_table(os.path.join(a.out, "ssl_compare"), crow, ccols,
                      f"theory_compare.py {' '.join(cargs)}; commit {C.commit()}")
        labels = ["pixels", "closed form", "eigenmaps", "encoder"]
        C.plot_bars(os.path.join(a.out, "ssl_compare"), "kNN top-1 (bars) on Fashion-MNIST", "top-1",
                    [r["knn_top1"] for r in crow], labels)
        C.plot_bars(os.path.join(a.out, "ssl_compare_probe"), "linear-probe top-1 on Fashion-MNIST", "top-1",
                    [r["probe_top1"] for r in crow], labels)
        result["compare"] = crow
    print(f"total {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
