"""conv= / conv_mode= / sequence= in simrep.compare give the CLI's numbers
(--conv, --conv-mode, --sequence) on the same arrays."""

import subprocess
import json

import numpy as np
import pytest

import simrep
from conftest import simrep_bin

MS = ["cca", "pwcca", "cka", "procrustes"]


def cli(tmp_path, x, y, *flags):
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    proc = subprocess.run([str(simrep_bin()), "compare", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"),
                           "-m", ",".join(MS), "--format", "json"] + list(flags),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["measures"]


def close(py, cl, what):
    for mid in MS:
        # The same library arithmetic on the same values, blocked differently.
        assert abs(py[mid]["similarity"] - cl[mid]["similarity"]) <= 1e-10, (what, mid)


@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
@pytest.mark.parametrize("mode", ["positions", "pool", "flatten"])
def test_conv_modes(tmp_path, layout, mode):
    r = np.random.default_rng(5)
    x = r.standard_normal((120, 4, 3, 5)).astype(np.float32)  # NHWC
    y = (x[..., :4] @ r.standard_normal((4, 6)) + 0.5 * r.standard_normal((120, 4, 3, 6))).astype(np.float32)
    if layout == "nchw":
        x, y = x.transpose(0, 3, 1, 2).copy(), y.transpose(0, 3, 1, 2).copy()
    py = simrep.compare(x, y, MS, conv=layout, conv_mode=mode, warn=False)
    close(py, cli(tmp_path, x, y, "--conv", layout, "--conv-mode", mode), (layout, mode))


@pytest.mark.parametrize("mode", ["flatten", "per-step", "last", "mean"])
def test_sequence_modes(tmp_path, mode):
    r = np.random.default_rng(6)
    x = r.standard_normal((150, 5, 4))
    y = np.concatenate([x[..., :3], r.standard_normal((150, 5, 2))], axis=2) + 0.3 * r.standard_normal((150, 5, 5))
    py = simrep.compare(x, y, MS, sequence=mode, warn=False)
    cl = cli(tmp_path, x, y, "--sequence", mode)
    close(py, cl, mode)
    if mode == "per-step":
        for mid in MS:
            np.testing.assert_allclose(py[mid]["per_step"], cl[mid]["per_step"], rtol=0, atol=1e-10)
            np.testing.assert_allclose(py[mid]["per_step_distance"], cl[mid]["per_step_distance"], rtol=0,
                                       atol=1e-10)
            assert len(py[mid]["per_step"]) == 5
