"""Helpers shared by the reproduction tests (examples/reproduce): load a
program as a module, keep the default context's thread count, read a CSV
table, check a PNG + SVG figure pair."""
import csv
import importlib.util
import os
import sys

import pytest

import sslkit

_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "examples", "reproduce"))


def _load(name):
    if _DIR not in sys.path:
        sys.path.insert(0, _DIR)
    spec = importlib.util.spec_from_file_location(name, os.path.join(_DIR, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(autouse=True)
def _keep_threads():
    threads = sslkit.default_ctx().threads  # the programs set the default context's thread count
    yield
    sslkit.set_threads(threads)


def _csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def _figures(out, base):
    with open(os.path.join(out, base + ".png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(os.path.join(out, base + ".svg")) as f:
        assert "<svg" in f.read(4096)
