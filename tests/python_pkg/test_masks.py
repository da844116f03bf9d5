"""simrep.compare(..., sequence=, mask=) is the CLI's --sequence/--mask: the
same library code, so the same numbers (to 1e-12: identical arithmetic,
only the block sizes may differ) whether the arrays are numpy (C or Fortran
order, float16/32/64), torch tensors (a bool mask tensor too) or path specs,
and the same errors."""

import numpy as np
import pytest

import simrep
from conftest import cli_json

MEASURES = ["cca", "svcca", "cka", "cka_debiased", "procrustes"]


def _padded(n=50, t=7, d=5, e=4, seed=4):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, t + 1, size=n)
    valid = np.arange(t)[None, :] < lengths[:, None]
    x = rng.standard_normal((n, t, d))
    y = np.tanh(x[..., :e]) + 0.4 * rng.standard_normal((n, t, e))
    x[~valid], y[~valid] = 99.0, -99.0
    return x, y, valid, lengths


@pytest.mark.parametrize("mode", ["flatten", "first", "last", "mean"])
def test_python_equals_cli(tmp_path, mode):
    x, y, valid, lengths = _padded()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.asfortranarray(y.astype(np.float32)))
    np.savez(tmp_path / "m.npz", attention_mask=valid.astype(np.int64), lengths=lengths)
    cli = cli_json(tmp_path / "x.npy", tmp_path / "y.npy", "--sequence", mode, "--mask",
                   str(tmp_path / "m.npz") + ":attention_mask", "-m", ",".join(MEASURES))
    y32 = np.asfortranarray(y.astype(np.float32))
    torch = pytest.importorskip("torch")
    for xs, ys, mask in ((x, y32, valid), (np.asfortranarray(x), y32, lengths),
                         (torch.from_numpy(x), torch.from_numpy(y32.copy()), torch.from_numpy(valid)),
                         (str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), str(tmp_path / "m.npz") + ":lengths")):
        got = simrep.compare(xs, ys, MEASURES, sequence=mode, mask=mask, warn=False)
        for m in MEASURES:
            assert abs(got[m]["similarity"] - cli["measures"][m]["similarity"]) < 1e-12, (mode, m, type(xs))


def test_mask_dtypes_and_errors():
    x, y, valid, lengths = _padded()
    want = simrep.compare(x, y, ["cka"], sequence="mean", mask=valid)["cka"]["similarity"]
    for mask in (valid.astype(np.uint8), valid.astype(np.float32), valid.astype(np.int32), lengths.astype(np.int16),
                 np.asfortranarray(valid), valid[:, ::1]):
        assert simrep.compare(x, y, ["cka"], sequence="mean", mask=mask)["cka"]["similarity"] == pytest.approx(
            want, abs=1e-14)
    with pytest.raises(simrep.InvalidArgument, match=r"mask: value -1 at \[2, 0\]"):
        bad = valid.astype(np.int8)
        bad[2, 0] = -1
        simrep.compare(x, y, sequence="mean", mask=bad)
    with pytest.raises(simrep.InvalidArgument, match="mask: length 8 at"):
        simrep.compare(x, y, sequence="flatten", mask=lengths + 1)
    with pytest.raises(simrep.Error, match="dtype <c8 is not a mask's"):
        simrep.compare(x, y, sequence="flatten", mask=valid.astype(np.complex64))
    with pytest.raises(simrep.InvalidArgument, match="x is 2-D and y is 2-D; sequence='mean' takes"):
        simrep.compare(x[:, 0], y[:, 0], sequence="mean", mask=valid)
