"""The GIL is released while the library computes (ctypes.CDLL does so for
every foreign call).  OPENBLAS_NUM_THREADS=1 (conftest) keeps each call on
one core.

One or two threads run large compares while the main thread runs a
pure-Python loop; the loop's progress is read just before and just after
each foreign call.  With the GIL held during a call the loop could not run
a single bytecode until it returns (share ~0); released, it runs at a good
fraction of its solo speed however busy the 2-core machine is.  (Timing
ratios of two compares were rejected: too noisy on a shared machine.)
Checked to fail when the library is loaded with ctypes.PyDLL (GIL held).
"""

import sys
import threading
import time

import numpy as np
import pytest

import simrep
from simrep import _native


def _big(seed, n=10000, p=250):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, p)), rng.standard_normal((n, p))


MEASURES = ["cca", "pwcca", "cka", "procrustes"]


class Timed:
    """Stands in for the CDLL: runs before() and after() around each
    simrep_compare foreign call (so nothing else sits inside the span)."""

    def __init__(self, real, before, after):
        self.real, self.before, self.after = real, before, after

    def __getattr__(self, name):
        f = getattr(self.real, name)
        if name != "simrep_compare":
            return f

        def call(*args):
            self.before()
            st = f(*args)
            self.after()
            return st
        return call


@pytest.mark.parametrize("threads", [1, 2])
def test_python_runs_during_compares(monkeypatch, threads):
    """threads compares run concurrently; during each library call the main
    thread's Python loop keeps counting."""
    data = [_big(seed) for seed in range(threads)]
    simrep.compare(data[0][0][:2000], data[0][1][:2000], MEASURES, warn=False)  # warm up BLAS
    counter = [0]

    def spin(done):
        """The loop whose progress is measured: the same code solo and
        during the calls, so the two rates compare."""
        while not done[0]:
            counter[0] += 1

    done = [False]
    timer = threading.Timer(0.2, done.__setitem__, (0, True))
    t0 = time.perf_counter()
    timer.start()
    spin(done)
    solo_rate = counter[0] / (time.perf_counter() - t0)

    local = threading.local()
    spans = []
    lock = threading.Lock()

    def before():
        local.c0, local.t0 = counter[0], time.perf_counter()

    def after():
        with lock:
            spans.append((local.t0, time.perf_counter(), counter[0] - local.c0))

    monkeypatch.setattr(_native, "lib", Timed(_native.lib, before, after))
    results = [None] * threads

    def work(i):
        results[i] = simrep.compare(*data[i], MEASURES, warn=False)

    old_interval = sys.getswitchinterval()
    # A held GIL could still leak one switch interval of counting between
    # before() and the foreign call; keep that leak far below the threshold.
    sys.setswitchinterval(1e-4)
    try:
        ths = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        done = [False]

        def watch():
            for th in ths:
                th.join()
            done[0] = True

        watcher = threading.Thread(target=watch)
        for th in ths:
            th.start()
        watcher.start()
        spin(done)
        watcher.join()
    finally:
        sys.setswitchinterval(old_interval)
    assert all(results) and len(spans) == threads
    for t0, t1, counted in spans:
        span = t1 - t0
        assert span > 0.03, "the call was too short to tell (%.3f s)" % span
        share = counted / (solo_rate * span)
        # Held GIL: ~0 (the loop cannot run a bytecode while a call lasts).
        # Released: ~1 with a free core, ~0.3-0.7 when sharing the 2 cores.
        assert share > 0.1, "the Python loop ran at %.0f%% of its solo speed during a call" % (100 * share)
    alone = simrep.compare(*data[-1], ["cka"], warn=False)
    assert abs(alone["cka"]["similarity"] - results[-1]["cka"]["similarity"]) <= 1e-12
