#!/usr/bin/env python3
"""mpi suite driver: runs tests/mpi/mpi_train under mpirun and checks the outcome.

  run_mpi.py MPIRUN EXE equal METHOD NP   P ranks equal one process (exit 0)
  run_mpi.py MPIRUN EXE overlap METHOD NP the overlapped all-reduce gives the blocking one's bits
  run_mpi.py MPIRUN EXE kill|stall NP     a rank dies / stalls: the job ends with an
                                          error within a bound, the checkpoint loads
"""
import os
import subprocess
import sys
import tempfile
import time


def mpirun(mpirun_exe, np_, args, timeout):
    cmd = [mpirun_exe, "--oversubscribe", "-np", str(np_), "--bind-to", "none", "-x", "SSLKIT_DIST_TIMEOUT"] + args
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    sys.stdout.write(p.stdout)
    sys.stdout.write(p.stderr)
    return p.returncode, p.stdout + p.stderr, time.monotonic() - t0


def main():
    mpirun_exe, exe, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    os.environ.setdefault("SSLKIT_DIST_TIMEOUT", "120")
    if mode == "overlap":
        method, np_ = sys.argv[4], int(sys.argv[5])
        rc, out, _ = mpirun(mpirun_exe, np_, [exe, "overlap", method], 240)
        assert rc == 0, f"mpirun -np {np_} overlap {method}: exit {rc}"
        assert out.count("bitwise equal") == np_, "every rank must report equal bits"
        return
    if mode == "equal":
        method, np_ = sys.argv[4], int(sys.argv[5])
        rc, out, _ = mpirun(mpirun_exe, np_, [exe, "equal", method], 240)
        assert rc == 0, f"mpirun -np {np_} {method}: exit {rc}"
        assert f"{method} on {np_} ranks" in out, "rank 0 did not report the comparison"
        assert out.count("loaded ") == np_, "every rank must report the rows its loader read"
        return
    np_ = int(sys.argv[4])
    with tempfile.TemporaryDirectory() as d:
        os.environ["SSLKIT_DIST_TIMEOUT"] = "5"
        # bound: the stall case waits the 5 s timeout; the kill case ends when mpirun sees the death
        rc, out, secs = mpirun(mpirun_exe, np_, [exe, mode, d], 120)
        assert rc != 0, "the job must fail when a rank dies or stalls"
        assert secs < 60, f"the job took {secs:.1f} s to fail"
        if mode == "stall":
            assert "SSLK_E_DIST" in out and "waited" in out, "rank 0 must name the collective that timed out"
        else:
            assert "signal 9" in out or "SSLK_E_DIST" in out, "no clear error for the killed rank"
        p = subprocess.run([exe, "load", d], capture_output=True, text=True, timeout=60)
        sys.stdout.write(p.stdout + p.stderr)
        assert p.returncode == 0, "the last checkpoint must stay loadable"
        print(f"{mode}: job failed with exit {rc} after {secs:.1f} s; checkpoint loads")


if __name__ == "__main__":
    main()
