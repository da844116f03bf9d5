"""Ctrl-C during a long library call (issue 10, item 7): KeyboardInterrupt
within about a second (it used to come when the call returned: 25 s in the
issue, 90 s for the cka_rbf below), the package still usable afterwards,
and nothing left running.  Each case runs in a child Python that sends
itself SIGINT 1 s into the call.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO

SCRIPT = textwrap.dedent("""
    import os, signal, sys, threading, time
    import numpy as np, simrep
    r = np.random.default_rng(0)
    if %(n)d > 100000:  # values do not matter to the time: one float32 array, twice
        x = y = np.ones((%(n)d, %(p)d), dtype=np.float32)
    else:
        x = r.standard_normal((%(n)d, %(p)d)); y = x + r.standard_normal(x.shape)
    fired = []
    def fire():
        time.sleep(1.0)
        fired.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)
    threading.Thread(target=fire, daemon=True).start()
    try:
        %(call)s
        print("finished")
    except KeyboardInterrupt:
        print("interrupted %%.3f" %% (time.monotonic() - fired[0]))
    # still usable, and no call left running
    print(round(simrep.compare(r.standard_normal((300, 3)), r.standard_normal((300, 2)),
                               measures=["cka"])["cka"]["similarity"], 3) > 0)
    print(threading.active_count() <= 2)
""")

CASES = {
    "compare cka_rbf": (20000, 16, 'simrep.compare(x, y, measures=["cka_rbf"])'),
    "Moments.update": (3000000, 24, 'm = simrep.Moments(24, 24); m.update(x, y); m.update(x, y); m.update(x, y)'),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_keyboard_interrupt_within_a_second(case):
    n, p, call = CASES[case]
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"), OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", SCRIPT % {"n": n, "p": p, "call": call}], capture_output=True,
                         text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split()
    assert lines[0] == "interrupted", out.stdout
    assert float(lines[1]) < 1.5, out.stdout  # one tile row or block: ~0.1 s; a loaded machine needs the margin
    assert lines[2:] == ["True", "True"], out.stdout
