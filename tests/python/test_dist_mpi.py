"""Context(dist="mpi") under mpirun, with and without mpi4py (issue 17)."""
import os
import shutil
import subprocess
import sys

import pytest

import sslkit

SCRIPT = r'''
import numpy as np, sslkit
ctx = sslkit.Context(threads=1, dist="mpi")
rank, world = sslkit.dist.get_dist(ctx)
rng = np.random.default_rng(3)
za = rng.standard_normal((10, 6)).astype(np.float32)
zb = (za + 0.3 * rng.standard_normal((10, 6))).astype(np.float32)
lo, hi = 10 * rank // world, 10 * (rank + 1) // world
v, ga, gb = sslkit.Loss("vicreg", ctx=ctx).compute(za[lo:hi], zb[lo:hi])
v1, ga1, gb1 = sslkit.Loss("vicreg", ctx=sslkit.Context(threads=1)).compute(za, zb)
assert abs(v - v1) <= 1e-5 * abs(v1), (v, v1)
assert np.allclose(ga, ga1[lo:hi], rtol=1e-5, atol=1e-7)
print(f"rank {rank} of {world}: vicreg {v:.9g} == one process {v1:.9g}")
'''


@pytest.mark.parametrize("no_mpi4py", ["0", "1"])
def test_context_dist_mpi(tmp_path, no_mpi4py):
    mpirun = shutil.which("mpirun")
    if not mpirun or not sslkit.dist_mpi.available():
        pytest.skip("mpirun or the library's mpi feature missing")
    if no_mpi4py == "0":
        pytest.importorskip("mpi4py")
    script = tmp_path / "ranks.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               SSLKIT_NO_MPI4PY=no_mpi4py, SSLKIT_DIST_TIMEOUT="60",
               PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(sslkit.__file__))),
               SSLKIT_LIBRARY=os.environ.get("SSLKIT_LIBRARY", ""))
    p = subprocess.run([mpirun, "--oversubscribe", "-np", "2", "-x", "PYTHONPATH", "-x", "SSLKIT_LIBRARY",
                        "-x", "SSLKIT_NO_MPI4PY", "-x", "SSLKIT_DIST_TIMEOUT", sys.executable, str(script)],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "rank 0 of 2" in p.stdout and "rank 1 of 2" in p.stdout, p.stdout


def test_context_dist_values():
    assert sslkit.dist.get_dist(sslkit.Context(dist="none")) == (0, 1)
    assert sslkit.dist.get_dist(sslkit.Context()) == (0, 1)
    with pytest.raises(ValueError, match="dist='tcp'"):
        sslkit.Context(dist="tcp")
    assert sslkit.dist_mpi.available() in (True, False)
    if not sslkit.dist_mpi.available():
        with pytest.raises(sslkit.Error, match="mpi"):
            sslkit.Context(dist="mpi")
