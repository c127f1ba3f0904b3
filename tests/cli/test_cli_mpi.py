"""`mpirun -np P sslkit train` (issue 17): the run on 2 ranks follows the
one-process run epoch by epoch (loss history to 1e-5; SGD, see
tests/mpi/mpi_train.c), rank 0 alone writes and reports, a 2-rank checkpoint
resumes on 3 ranks, and --dist takes only mpi or none.  Skipped (visibly)
without mpirun or a build with the mpi feature."""
import csv
import os
import shutil
import subprocess
import tempfile

import pytest

from test_cli_train import SMALL, run, write_data

EXE = None  # the sslkit executable, set by conftest.py
ROOT_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
ARGS = ["--method", "simclr", "--epochs", "3", "--steps-per-epoch", "3", "--set", "optimizer=sgd", "--lr", "0.05",
        "--projector", "linear:16,bn,relu,linear:16", "--no-eval"]


def losses(run_dir):
    with open(os.path.join(run_dir, "history.csv")) as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


def mpi_env():
    """Environment of processes that start MPI.  In the sanitizer run (.ci/asan)
    their leak check is off, as for the Python interpreter (tests/meson.build):
    OpenMPI's components, unloaded by MPI_Finalize, leave allocations that
    LeakSanitizer reports from an "<unknown module>", so no suppression can name
    them.  Leaks of the trainer's own code stay checked by the unit suite
    (train_dist runs it on the in-process fake)."""
    env = dict(os.environ, **ROOT_ENV)
    if "ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] += ":detect_leaks=0"
    return env


def mpirun(np_, *args):
    mpi = shutil.which("mpirun")
    fwd = [a for v in ("ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS") if v in os.environ for a in ("-x", v)]
    r = subprocess.run([mpi, "--oversubscribe", *fwd, "-np", str(np_), EXE, *args], capture_output=True,
                       text=True, timeout=300, env=mpi_env())
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def test_cli_mpi_train_and_resume():
    import test_cli_train
    test_cli_train.EXE = EXE
    if not shutil.which("mpirun"):
        pytest.skip("mpirun missing (install-deps.sh installs OpenMPI)")
    with tempfile.TemporaryDirectory() as d:
        write_data(d)
        one, two = os.path.join(d, "one"), os.path.join(d, "two")
        run("train", "--data", d, "--out", one, *ARGS, *SMALL)
        r = subprocess.run([EXE, "train", "--dist", "mpi", "--data", os.path.join(d, "nowhere")],
                           capture_output=True, text=True, timeout=120, env=mpi_env())
        if "without the 'mpi' feature" in r.stderr:
            pytest.skip("libsslkit built without the mpi feature")
        out = mpirun(2, "train", "--data", d, "--out", two, *ARGS, *SMALL)
        assert "data-parallel over 2 MPI ranks" in out.stderr
        assert (out.stdout + out.stderr).count("simclr epoch 3/3") == 1, "rank 0 alone reports"
        l1, l2 = losses(one), losses(two)
        assert len(l1) == len(l2) == 3
        for a, b in zip(l1, l2):
            assert abs(a - b) <= 1e-5 * abs(a), (l1, l2)
        # the 2-rank checkpoint continues on 3 ranks
        mpirun(3, "resume", two, "--epochs", "4", "--data", d, "--no-eval", "--threads", "1")
        assert len(losses(two)) == 4


def test_cli_dist_option_refused():
    import test_cli_train
    test_cli_train.EXE = EXE
    r = run("train", "--dist", "tcp", "--data", "nowhere", ok=False)
    assert r.returncode == 2 and "--dist takes mpi or none" in r.stderr
