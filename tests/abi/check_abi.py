#!/usr/bin/env python3
"""Compare the built library with the committed abidw baseline.  Added
functions are fine (--no-added-syms filters them, exit 0); any change to an
existing function or type (bit 4, e.g. a parameter type) or a removal (bit 8)
fails, as does an abidiff error (bits 1, 2).  Symbols of the SSLKIT_EXPERIMENTAL
version node carry no promise and are left out."""
import argparse
import subprocess
import sys
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--abidiff", required=True)
ap.add_argument("--baseline", required=True)
ap.add_argument("--lib", required=True)
ap.add_argument("--headers", required=True)
a = ap.parse_args()
with tempfile.NamedTemporaryFile("w", suffix=".abignore", delete=False) as supp:
    supp.write("[suppress_function]\n  symbol_version = SSLKIT_EXPERIMENTAL\n")
r = subprocess.run([a.abidiff, "--headers-dir2", a.headers, "--drop-private-types", "--no-added-syms",
                    "--suppressions", supp.name, a.baseline, a.lib], capture_output=True, text=True)
print(r.stdout)
print(r.stderr, file=sys.stderr)
bits = r.returncode
if bits & 1 or bits & 2:
    print(f"abidiff failed to run (exit {bits})")
    sys.exit(1)
if bits & 8 or bits & 4:
    print("ABI CHANGE against tests/abi/libsslkit.abi: released functions and types must not change")
    sys.exit(1)
print("ABI compatible with the baseline")
