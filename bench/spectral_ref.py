#!/usr/bin/python3
"""Reference for bench_spectral: scikit-learn's SpectralEmbedding with the
settings equivalent to libsslkit's (affinity="nearest_neighbors",
n_neighbors = NEIGHBORS + 1 because sklearn's kNN graph counts the point
itself and its normalised Laplacian ignores that self-loop; ARPACK), timed
on the same features, and the agreement with libsslkit's embedding: cosines
of the principal angles between the two k-dimensional column spaces.
usage: spectral_ref.py FEATURES.npy OURS.npy NEIGHBORS THREADS
Prints one JSON object.  The thread count must be fixed before numpy loads its
BLAS, so the caller sets OMP/BLIS/OPENBLAS_NUM_THREADS."""
import json
import sys
import time

import numpy as np

feat, ours, neighbors, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
X = np.load(feat)
E = np.load(ours).astype(np.float64)
try:
    from sklearn.manifold import SpectralEmbedding
except ImportError:
    print(json.dumps({"sklearn": None}))
    sys.exit(0)
t0 = time.perf_counter()
ref = SpectralEmbedding(n_components=E.shape[1], affinity="nearest_neighbors", n_neighbors=neighbors + 1,
                        eigen_solver="arpack", random_state=0,
                        n_jobs=threads if threads > 1 else None).fit_transform(X)
t = time.perf_counter() - t0
qa, _ = np.linalg.qr(E)
qb, _ = np.linalg.qr(ref.astype(np.float64))
cos = np.linalg.svd(qa.T @ qb, compute_uv=False)
# per-vector agreement where eigenvalues are distinct: |cos| of matching columns
col = [abs(float(np.dot(E[:, c], ref[:, c]) / np.linalg.norm(E[:, c]) / np.linalg.norm(ref[:, c])))
       for c in range(E.shape[1])]
print(json.dumps({"sklearn": t, "cos_min": float(cos.min()), "cos_mean": float(cos.mean()),
                  "col_min": min(col), "col_median": float(np.median(col))}))
