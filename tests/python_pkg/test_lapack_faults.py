"""LAPACK failures and out of memory through the Python package: the
messages name the inputs (issue 10, item 13).

SIMREP_TEST_FAIL_LAPACK="ROUTINE[:M[xN]][#K]" (read when the library
creates a context: src/context.c) makes the chosen calls fail as a routine
that did not converge does.  For each family and place (preparing x,
preparing y, the pair): simrep.compare's error names x, y, or "x and y",
and the routine, and the other measures are computed (issue 10, item 8);
simrep.matrix's names the input (its name and path) or both, and leaves
the failing measure out (its error in "errors").  Out of
memory for the pair's moments (under RLIMIT_AS, in a child process) names
both inputs too.  x has 4 features, y 6.
"""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import simrep
from conftest import REPO
from lapack_fault_cases import CASES

N = 60


@pytest.fixture
def xy():
    rng = np.random.default_rng(21)
    return rng.standard_normal((N, 4)), rng.standard_normal((N, 6))


@pytest.mark.parametrize("measure,spec,place,routine", CASES)
def test_compare_names_the_place(measure, spec, place, routine, xy, monkeypatch):
    x, y = xy
    place = "x and y" if place == "pair" else place
    clean = simrep.compare(x, y, ["cka"], warn=False)["cka"]["similarity"]
    monkeypatch.setenv("SIMREP_TEST_FAIL_LAPACK", spec)
    with pytest.raises(simrep.Error) as e:
        simrep.compare(x, y, [measure], warn=False)
    assert e.value.status == simrep._native.E_NUMERIC
    assert str(e.value).startswith(place + ": "), e.value
    assert routine in str(e.value) and routine in e.value.detail, e.value
    assert e.value.input == {"x": 0, "y": 1}.get(place), e.value
    # With cka: cka computed, the measure in .errors with the same message.
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = simrep.compare(x, y, [measure, "cka"])
    assert r["cka"]["similarity"] == pytest.approx(clean, rel=1e-12)
    assert measure not in r and str(r.errors[measure]).startswith(place + ": ")
    assert any(measure in str(m.message) and routine in str(m.message) for m in w)


@pytest.mark.parametrize("spec,place", [("dsyevd:4", "{a}: "), ("dsyevd:6", "{b}: "), ("dgesdd:4x6", "{a} and {b}: ")])
def test_compare_of_paths_names_the_files(spec, place, xy, tmp_path, monkeypatch):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    np.save(a, xy[0])
    np.save(b, xy[1])
    monkeypatch.setenv("SIMREP_TEST_FAIL_LAPACK", spec)
    with pytest.raises(simrep.Error) as e:
        simrep.compare(str(a), b, ["cca"], warn=False)
    assert str(e.value).startswith(place.format(a=a, b=b)), e.value
    r = simrep.compare(str(a), b, ["cca", "cka"], warn=False)
    assert "cka" in r and str(r.errors["cca"]).startswith(place.format(a=a, b=b)), r.errors


@pytest.mark.parametrize("spec,place", [("dsyevd:4", "0 ({a})"), ("dsyevd:6", "1 ({b})"),
                                        ("dgesdd:4x6", "0 ({a}) and 1 ({b})")])
def test_matrix_names_the_files(spec, place, xy, tmp_path, monkeypatch):
    """simrep.matrix: the failing measure alone is left out, its error in
    "errors" (and a warning) naming the input (its name and path) or both;
    cka is computed as without the fault.  Every measure failing raises."""
    x, y = xy
    a, b = str(tmp_path / "a.npy"), str(tmp_path / "b.npy")
    np.save(a, x)
    np.save(b, y)
    clean = simrep.matrix([a, b], measures=["cka"], warn=False)["measures"]["cka"]["similarity"]
    monkeypatch.setenv("SIMREP_TEST_FAIL_LAPACK", spec)
    want = place.format(a=a, b=b) + ": "
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = simrep.matrix([a, b], measures=["cca", "cka"])
    assert list(r["measures"]) == ["cka"]
    np.testing.assert_array_equal(r["measures"]["cka"]["similarity"], clean)
    assert list(r["errors"]) == ["cca"] and r["errors"]["cca"].startswith(want), r["errors"]
    assert spec.split(":")[0] in r["errors"]["cca"]
    assert any("cca is undefined" in str(m.message) for m in w)
    with pytest.raises(simrep.Error) as e:
        simrep.matrix([a, b], measures=["cca"], warn=False)
    assert str(e.value).startswith(want), e.value
    # Arrays (no paths): their names.
    with pytest.raises(simrep.Error) as e:
        simrep.matrix({"first": x, "second": y}, measures=["cca"], warn=False)
    want = {"dsyevd:4": "first: ", "dsyevd:6": "second: ", "dgesdd:4x6": "first and second: "}[spec]
    assert str(e.value).startswith(want), e.value


CHILD = r"""
import resource, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import simrep
rng = np.random.default_rng(13)
x, y = rng.standard_normal((20, 3000)), rng.standard_normal((20, 3000))
simrep.compare(x[:, :10], y[:, :10], ["cka"], warn=False)  # everything loaded
with open("/proc/self/status") as f:
    vm = [int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize:")][0]
# The pair's 6000 x 6000 moments (288 MB) do not fit in 150 MB more.
resource.setrlimit(resource.RLIMIT_AS, (vm + (150 << 20), vm + (150 << 20)))
try:
    simrep.compare(x, y, ["cka"], warn=False)
except simrep.OutOfMemory as e:
    print(str(e))
"""


def test_out_of_memory_names_both_inputs():
    p = subprocess.run([sys.executable, "-c", CHILD, str(REPO / "python")], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("x and y: out of memory"), (p.stdout, p.stderr)
