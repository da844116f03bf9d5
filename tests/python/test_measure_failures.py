"""One measure's failure does not take the others down, and symmetric
measures do not depend on the argument order (issue 10, item 8), through
the CLI.

Before, n = 2 anti-correlated samples made pwcca's projection weights all
zero, and `-m all` printed nothing but that error (exit 1), in one argument
order and not the other.  Now each measure undefined for the data is an
error line of its own and a key of JSON "errors"; the others are printed
with the values they have alone (exit 1 all the same).
"""

import numpy as np
import pytest

from conftest import run, write_npy



def all_ids():
    """What -m all+kernel runs on samples x features inputs (the registry's list)."""
    info = run("measures", "--format", "json").json()["measures"]
    return [m["id"] for m in info if m.get("family") != "maps" and m["id"] != "dftcca"]


ALL = all_ids()


def anti(n, shift=1.0):
    x = np.arange(n, dtype=float)[:, None]
    return x, shift - x


def few(n, p, q, seed):
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, p))
    return x, x[:, :min(p, q)] @ r.standard_normal((min(p, q), q)) + r.standard_normal((n, q))


# (name, x, y, the measures undefined for (x, y), for (y, x)): pwcca's
# weights read the first side's raw means (the reference's "+ mu"), so with
# p = q they may exist in one order only; every other measure is symmetric.
CASES = [
    ("n2 anti-correlated p=q=1", *anti(2), {"pwcca", "cka_debiased"}, {"pwcca", "cka_debiased"}),
    ("n2 anti-correlated, shifted", *anti(2, 0.5), {"pwcca", "cka_debiased"}, {"cka_debiased"}),
    ("n3 p=2 q=3", *few(3, 2, 3, 1), {"cka_debiased"}, {"cka_debiased"}),
    ("n2 p=3 q=1", *few(2, 3, 1, 2), {"cka_debiased"}, {"cka_debiased"}),
]


def run_json(*args):
    r = run(*args)
    import json
    return r, (json.loads(r.stdout) if r.stdout.strip() else None)


@pytest.mark.parametrize("name,x,y,undefined_xy,undefined_yx", CASES, ids=[c[0] for c in CASES])
def test_undefined_measure_leaves_the_others(tmp_path, name, x, y, undefined_xy, undefined_yx):
    a = write_npy(tmp_path / "a.npy", x)
    b = write_npy(tmp_path / "b.npy", y)
    for first, second, undefined in ((a, b, undefined_xy), (b, a, undefined_yx)):
        r, js = run_json("compare", first, second, "-m", "all+kernel", "--format", "json")
        assert r.code == 1, r
        assert js is not None, r
        # exactly the measures that fail on their own (those named in the
        # case among them), each listed once
        alone_fail = {m for m in ALL if run("compare", first, second, "-m", m).code != 0}
        assert undefined <= alone_fail
        undefined = alone_fail
        assert set(js["errors"]) == undefined, js["errors"]
        assert set(js["measures"]) == set(ALL) - undefined
        lines = [l for l in r.stderr.splitlines() if l.startswith("simrep: error: ")]
        assert len(lines) == len(undefined), r.stderr
        for line in lines:
            assert str(first) in line or str(second) in line, line
        # each value is what the measure gives alone
        for m in js["measures"]:
            r1, alone = run_json("compare", first, second, "-m", m, "--format", "json")
            assert r1.code == 0, r1
            assert alone["measures"][m]["similarity"] == js["measures"][m]["similarity"], m
        for m in undefined:  # and alone it is the same error
            r1 = run("compare", first, second, "-m", m)
            assert r1.code == 1 and r1.stdout == "", r1
    # the table and CSV formats say the same
    undefined = {m for m in ALL if run("compare", a, b, "-m", m).code != 0}
    r = run("compare", a, b, "-m", "all+kernel")
    assert r.code == 1
    for m in undefined:
        assert [l for l in r.stdout.splitlines() if l.startswith(m + " ")][0].split()[1] == "-", r.stdout
    r = run("compare", a, b, "-m", "all+kernel", "--format", "csv")
    assert r.code == 1
    assert {l.split(",")[0] for l in r.stdout.splitlines()[1:]} == set(ALL) - undefined


# Symmetric definitions: the measures the registry says are invariant to
# exchanging x and y ("swap" in `simrep measures --format json`).  Not
# pwcca (its google weights are the smaller side's, x's on a tie; Ding's are
# x's), cknna (the reference's unbiased HSIC of K and L masked by their
# top-k rows, matrices that are not symmetric: reference_rows.py does the
# same), linreg (y from x is not x from y), svcca (its per-side dims).
SYMMETRIC = [m["id"] for m in run("measures", "--format", "json").json()["measures"]
             if m["id"] in ALL and "swap" in m["invariant_to"]]


@pytest.mark.parametrize("n,p,q", [(2, 1, 1), (3, 2, 3), (40, 3, 7), (40, 7, 3), (200, 12, 12), (9, 12, 5)])
def test_symmetric_measures_ignore_argument_order(tmp_path, n, p, q):
    x, y = few(n, p, q, n + p + q)
    a, b = write_npy(tmp_path / "a.npy", x), write_npy(tmp_path / "b.npy", y)
    r1, xy = run_json("compare", a, b, "-m", "all+kernel", "--format", "json")
    r2, yx = run_json("compare", b, a, "-m", "all+kernel", "--format", "json")
    assert r1.code == r2.code and set(xy.get("errors", {})) == set(yx.get("errors", {}))
    for m in SYMMETRIC:
        if m in xy["measures"]:
            assert abs(xy["measures"][m]["similarity"] - yx["measures"][m]["similarity"]) <= 1e-10, m
    if p != q and "pwcca" in xy["measures"]:  # the smaller side first whatever the order
        assert abs(xy["measures"]["pwcca"]["similarity"] - yx["measures"]["pwcca"]["similarity"]) <= 1e-10


def test_matrix_drops_only_the_undefined_measure(tmp_path):
    x, y = anti(2)
    write_npy(tmp_path / "a.npy", x)
    write_npy(tmp_path / "b.npy", y)
    write_npy(tmp_path / "c.npy", np.array([[2.0], [5.0]]))
    (tmp_path / "m.csv").write_text("name,path\na,a.npy\nb,b.npy\nc,c.npy\n")
    r, js = run_json("matrix", "--manifest", tmp_path / "m.csv", "-m", "cca,pwcca,cka,cka_debiased", "--format",
                     "json", "-o", tmp_path / "out")
    assert r.code == 1, r
    assert set(js["errors"]) == {"pwcca", "cka_debiased"}
    assert set(js["measures"]) == {"cca", "cka"}
    assert (tmp_path / "out" / "cka_similarity.csv").exists()
    assert not (tmp_path / "out" / "pwcca_similarity.csv").exists()
    assert any("pwcca" in l for l in r.stderr.splitlines() if l.startswith("simrep: error: "))
