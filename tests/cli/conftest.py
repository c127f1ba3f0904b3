"""Fixtures of the CLI tests (tests/cli/test_cli_*.py).

The sslkit executable under test is $SSLKIT_CLI (meson test sets it to the
build's tools/sslkit); without it, the first in-tree build that has one
(build*/tools/sslkit under the source root, sorted by name, the same order in
which python/sslkit finds build*/lib/libsslkit.so), so `pytest tests/` from the
source root works after `meson compile -C build`.  With neither, the CLI
tests are skipped, not failed."""
import glob
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def find_cli():
    env = os.environ.get("SSLKIT_CLI")
    if env:
        return env
    for p in sorted(glob.glob(os.path.join(ROOT, "build*", "tools", "sslkit"))):
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


@pytest.fixture(scope="session")
def sslkit_cli():
    """Path of the sslkit executable (see the module docstring)."""
    exe = find_cli()
    if exe is None:
        pytest.skip("no sslkit executable: set SSLKIT_CLI or build with meson (build*/tools/sslkit)")
    if not os.access(exe, os.X_OK):
        pytest.fail(f"SSLKIT_CLI={exe} is not an executable file")
    return exe


@pytest.fixture(autouse=True)
def _module_cli(request, sslkit_cli):
    """The modules' helpers run the module global EXE: point it at the CLI."""
    request.module.EXE = sslkit_cli
