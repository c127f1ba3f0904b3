"""`sslkit version --verbose` reports the dense kernels (issue 16): the same
key=value set as sslk_linalg_info, one "key: value" line each, and follows
SSLKIT_KERNELS."""
import os
import subprocess


def run(cli, *args, **env):
    return subprocess.run([cli, "version", *args], capture_output=True, text=True,
                          env=dict(os.environ, **env))


def fields(out):
    return dict(line.strip().split(": ", 1) for line in out.splitlines()[1:])


def test_verbose_lists_kernel_set_isa_and_blis(sslkit_cli):
    r = run(sslkit_cli, "--verbose")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("sslkit ")
    f = fields(r.stdout)
    assert f["kernels"] in {"blis", "avx2", "avx512", "neon"}
    assert f["override"] == "none"
    assert {"default", "cpu_isa", "blis_version", "blis_arch", "sgemm_tile", "dgemm_tile"} <= set(f)


def test_plain_version_is_one_line_and_forced_set_shows(sslkit_cli):
    r = run(sslkit_cli)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 1
    r = run(sslkit_cli, "--verbose", SSLKIT_KERNELS="blis")
    f = fields(r.stdout)
    assert f["kernels"] == "blis" and f["override"] == "blis"
    r = run(sslkit_cli, "--verbose", SSLKIT_KERNELS="bogus")
    assert fields(r.stdout)["override"] == "invalid:bogus"
    assert run(sslkit_cli, "--frobnicate").returncode == 2
