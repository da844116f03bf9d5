"""The CCA family's warnings say what is true (issue 10, item 19), CLI.

A table of inputs, each compared with itself (and one against a narrow
file): what the warnings say is checked against what the values do.

- n <= the kept features: the centred samples span n - 1 directions, so
  at most n - 1 canonical correlations are non-zero and cca is at most
  (n - 1) / k: a 50 x 200 file against itself gives 0.245.  The warning
  says that bound (SIMREP_WARN_FEW_SAMPLES_RANK), not "biased toward 1"
  (which it said before).  Against a narrow file every rho is ~1 whatever
  the data (a side spanning the n - 1 directions contains the other).
- n < 10 kept (but n > kept): the old warning, values biased toward 1.
- a float64 covariance with condition number 1e14: the ridge (epsilon
  1e-10) shrinks the small directions' rho, the file against itself gives
  < 1, and a warning names how many directions (SIMREP_WARN_RIDGE; before,
  no warning at all).  Condition 1e6: ~1 and no warning.

The Python package's side: tests/python_pkg/test_warning_truth.py.
"""

import pytest

from conftest import run, write_npy
from warning_cases import FEW_TEXT, RANK_TEXT, RIDGE_TEXT, cases, matrix_inputs

CASES = cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_compare_warnings(tmp_path, name):
    x, y, want, unwanted, check = CASES[name]
    write_npy(tmp_path / "x.npy", x)
    write_npy(tmp_path / "y.npy", y)
    ypath = tmp_path / ("x.npy" if y is x else "y.npy")
    d = run("compare", tmp_path / "x.npy", ypath, "-m", "cca,cca_r2", "--format", "json").json()
    text = "\n".join(d.get("warnings", []))
    for w in want:
        assert w in text, (name, d.get("warnings"))
    for w in unwanted:
        assert w not in text, (name, d.get("warnings"))
    assert check(d["measures"]["cca"]["similarity"]), (name, d["measures"]["cca"])
    if name == "wide_self":  # the bound the warning states (+ the round-off the ridge whitens in the other 151)
        for m in ("cca", "cca_r2"):
            assert d["measures"][m]["similarity"] <= 49 / 200 + 1e-4
    if name == "cond_1e14_self":  # the count it names: directions below 99 x epsilon of the largest
        assert any(w.startswith(str(tmp_path / "x.npy") + ": ") and " of 20 directions" in w
                   for w in d["warnings"]), d["warnings"]
    # the table format prints the same lines on stderr, once per file
    t = run("compare", tmp_path / "x.npy", ypath, "-m", "cca")
    assert t.code == 0, t
    lines = [ln for ln in t.stderr.splitlines() if ln.startswith("simrep: warning:")]
    assert len(lines) == len(set(lines)) == len(d["warnings"]), t.stderr


def test_matrix_warnings(tmp_path):
    """matrix: inputs with n <= their kept features get the bound's line,
    the others with n < 10 x theirs the bias line, each listed once."""
    for name, a in matrix_inputs().items():
        write_npy(tmp_path / (name + ".npy"), a)
    man = tmp_path / "m.csv"
    man.write_text("name,path\nwide,wide.npy\nmid,mid.npy\nill,ill.npy\n")
    d = run("matrix", "--manifest", man, "-m", "cca", "--format", "json").json()
    rank = [w for w in d["warnings"] if RANK_TEXT in w]
    few = [w for w in d["warnings"] if FEW_TEXT in w]
    assert len(rank) == 1 and "wide" in rank[0] and "mid" not in rank[0], d["warnings"]
    assert len(few) == 1 and "mid" in few[0] and "wide" not in few[0], d["warnings"]
    assert any(w.startswith("ill: ") and RIDGE_TEXT in w for w in d["warnings"]), d["warnings"]
