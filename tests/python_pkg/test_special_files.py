"""A pipe or device given as a path is refused at once (issue 10, item 4):
simrep.matrix on a FIFO without a writer used to block
forever in open().  The CLI side is tests/python/test_special_files.py."""

import os
import time

import numpy as np
import pytest

import simrep


@pytest.mark.parametrize("where", ["matrix", "Moments via matrix paths"])
def test_fifo_refused_at_once(tmp_path, where):
    p = tmp_path / "pipe.npy"
    os.mkfifo(p)
    good = np.random.default_rng(0).standard_normal((30, 3))
    t = time.monotonic()
    with pytest.raises(simrep.Error) as e:
        simrep.matrix([good, str(p)] if where == "matrix" else [str(p), good, good])
    assert time.monotonic() - t < 2.0
    assert "pipe" in str(e.value) and "regular file" in str(e.value)
