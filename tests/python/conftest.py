import os
import sys

# Import the in-tree package (python/sslkit) rather than an installed one.
_PKG = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "python"))
sys.path.insert(0, _PKG)
# and for the interpreters some tests start, whatever the working directory
# (meson runs pytest from python/, `pytest tests/` runs from the source root)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_PKG, os.environ.get("PYTHONPATH")) if p)
