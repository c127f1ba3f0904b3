"""Issue 16: the trainer's pin_threads setting from Python (by name): bounds,
the CPUs a step actually runs on (os.sched_getaffinity of the calling
thread, which runs the step), and the caller's CPUs restored after fit."""
import os

import numpy as np
import pytest

import sslkit


def tiny_trainer(**kw):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (64, 8, 8)).astype(np.uint8)
    y = (np.arange(64) % 4).astype(np.int32)
    return sslkit.Trainer("vicreg", data=(x, y), encoder="flatten,linear:16,bn,relu", projector="linear:16",
                          ctx=sslkit.Context(threads=1), batch=16, epochs=1, monitor_every=0, **kw)


def test_pin_threads_bounds():
    tr = tiny_trainer()
    assert tr.get("pin_threads") == 0
    for bad in (2, -1):
        with pytest.raises(sslkit.Error):
            tr.set("pin_threads", bad)
    tr.set("pin_threads", 1)
    assert tr.get("pin_threads") == 1


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux CPU affinity")
def test_pin_threads_runs_the_step_on_the_first_cpu_and_restores():
    before = sorted(os.sched_getaffinity(0))
    if len(before) < 2:
        pytest.skip("one CPU: nothing to split")
    tr = tiny_trainer(pin_threads=1, workers=1)
    seen = []
    tr.fit(1, step_callback=lambda p: seen.append(sorted(os.sched_getaffinity(0))))
    assert seen and all(s == [before[0]] for s in seen)
    assert sorted(os.sched_getaffinity(0)) == before
    # threads + workers beyond the CPUs: refused, nothing pinned
    tr2 = tiny_trainer(pin_threads=1, workers=len(before))
    with pytest.raises(sslkit.Error, match="pin_threads needs"):
        tr2.fit(1)
    assert sorted(os.sched_getaffinity(0)) == before
