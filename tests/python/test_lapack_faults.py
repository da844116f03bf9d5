"""LAPACK failures through the CLI, forced (issue 10, item 13).

Real data rarely make dsyevd, dgesdd or dpotrf fail, so the library lets
a test choose calls that fail as a routine that did not converge does:
SIMREP_TEST_FAIL_LAPACK="ROUTINE[:M[xN]][#K]" (src/context.c, the hook the
C unit test tests/unit/test_faults.c drives directly).  For each measure
family and each place (preparing x, preparing y, the pair), the error line
names the right file(s), the measure and the routine, the exit code is 1,
and the measures that do not need what failed are still computed (issue
10, item 8).  Under `make check-asan` the same runs are leak-checked (a
leak would change the exit code).  x = a.npy (4 features), y = b.npy (6).
"""
import json

import numpy as np
import pytest

from conftest import run, write_npy
from lapack_fault_cases import CASES

N = 60


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(21)
    a = write_npy(tmp_path / "a.npy", rng.standard_normal((N, 4)))
    b = write_npy(tmp_path / "b.npy", rng.standard_normal((N, 6)))
    c = write_npy(tmp_path / "c.npy", rng.standard_normal((N, 5)))
    return a, b, c


def fail(spec):
    return {"SIMREP_TEST_FAIL_LAPACK": spec}


@pytest.mark.parametrize("measure,spec,place,routine", CASES)
def test_compare_names_the_place(measure, spec, place, routine, files):
    a, b, _ = files
    clean = run("compare", a, b, "-m", "cka", "--format", "json").json()["measures"]["cka"]["similarity"]
    r = run("compare", a, b, "-m", measure + ",cka", "--format", "json", env=fail(spec))
    assert r.code == 1, r
    lines = [l for l in r.stderr.splitlines() if l.startswith("simrep: error: ")]
    assert len(lines) == 1, r
    head = {"x": "%s: " % a, "y": "%s: " % b, "pair": "%s and %s: " % (a, b)}[place]
    assert lines[0].startswith("simrep: error: " + head + measure + ": "), r
    assert routine in lines[0], r
    # cka needs no LAPACK call: still computed, with its value.
    out = json.loads(r.stdout)["measures"]
    assert out["cka"]["similarity"] == pytest.approx(clean, rel=1e-12), r
    assert measure not in out, r


def test_compare_fault_elsewhere_changes_nothing(files):
    """A fault on a shape no call has, and pwcca's Cholesky failing once
    (its ridge retry recovers): the same values, exit 0."""
    a, b, _ = files
    clean = run("compare", a, b, "-m", "cca,pwcca", "--format", "json").json()["measures"]
    for spec in ("dsyevd:5", "dpotrf#1"):
        got = run("compare", a, b, "-m", "cca,pwcca", "--format", "json", env=fail(spec)).json()["measures"]
        for m in ("cca", "pwcca"):
            assert got[m]["similarity"] == pytest.approx(clean[m]["similarity"], abs=1e-9), spec


def manifest(tmp_path, files):
    m = tmp_path / "m.csv"
    m.write_text("name,path\nA,%s\nB,%s\nC,%s\n" % files)
    return m


def test_matrix_pair_failure_names_both_files(files, tmp_path):
    """A pair's LAPACK failure: the manifest, both names and files, the
    measure and the routine; the other measure's matrix is still written."""
    a, b, _ = files
    m = manifest(tmp_path, files)
    r = run("matrix", "--manifest", m, "-m", "procrustes,cka", "--format", "json", "--no-png", "-o",
            tmp_path / "out", env=fail("dgesdd:4x6"))
    assert r.code == 1, r
    lines = [l for l in r.stderr.splitlines() if l.startswith("simrep: error: ")]
    assert lines == ["simrep: error: %s: A (%s) against B (%s): procrustes: singular value decomposition (dgesdd) "
                     "of a 4 x 6 matrix did not converge" % (m, a, b)], r
    assert (tmp_path / "out" / "cka_heatmap.svg").exists(), r


@pytest.mark.parametrize("spec,row,name,path", [("dsyevd:4", 2, "A", 0), ("dsyevd:6", 3, "B", 1),
                                                ("dsyevd:5", 4, "C", 2)])
def test_matrix_preparation_failure_names_the_input(spec, row, name, path, files, tmp_path):
    """One input's eigendecomposition fails: an error line for each measure
    that needs it (cca, linreg: its manifest row, name and file, the
    measure, the routine), exit 1; cka's matrix is still written, equal to
    the run without the fault."""
    m = manifest(tmp_path, files)
    clean = run("matrix", "--manifest", m, "-m", "cka", "--format", "json", "--no-png").json()
    r = run("matrix", "--manifest", m, "-m", "cca,cka,linreg", "--format", "json", "--no-png", "-o",
            tmp_path / "out", env=fail(spec))
    assert r.code == 1, r
    lines = [l for l in r.stderr.splitlines() if l.startswith("simrep: error: ")]
    head = "simrep: error: %s:%d: %s: %s: " % (m, row, name, files[path])
    assert [l[:len(head) + 5] for l in lines] == [head + "cca: ", head + "linre"], r
    assert all("dsyevd" in l for l in lines), r
    got = json.loads(r.stdout)
    assert list(got["measures"]) == ["cka"], r
    assert got["measures"]["cka"] == clean["measures"]["cka"]
    assert (tmp_path / "out" / "cka_heatmap.svg").exists() and not (tmp_path / "out" / "cca_heatmap.svg").exists()
