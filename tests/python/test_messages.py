"""Messages (issue 10, items 14, 15, 16, 20): option values refused before
any data is read, measure lists and '--', file names that are not plain
text, and inputs in the wrong layout.

The contract is conftest.assert_error's: exit 2 for usage, 1 for data, one
line on stderr "simrep: error: ..." that names what is wrong.
"""

import json
import os
import subprocess

import numpy as np
import pytest

from conftest import assert_error, run, simrep_bin, write_npy

N = 50


def pair(tmp_path, n=N, p=5, q=4):
    rng = np.random.default_rng(14)
    x = rng.standard_normal((n, p))
    y = x[:, :q] + 0.3 * rng.standard_normal((n, q))
    return write_npy(tmp_path / "x.npy", x), write_npy(tmp_path / "y.npy", y)


# ------------------------------------------------- 14: option values

# Every option of the registry with the values it must refuse, as typed.
# Absurd: negative, 0 where the option is a count or a scale, NaN, Inf,
# huge, and the edges of each valid range.  test_absurd_table_is_complete
# keeps the table in step with the library's option table.
ABSURD = {
    "epsilon": ["-1", "-1e-300", "1", "1.5", "nan", "inf", "-inf", "1e308", "2e308"],
    "svcca_rule": ["", "variances", "1"],
    "svcca_keep": ["0", "-0.5", "1.0000001", "nan", "inf", "1e300"],
    "svcca_dims": ["0", "-1", "2.5", "nan", "inf", "1e15", "9223372036854775808", "99999999999999999999"],
    "pwcca_variant": ["", "nan", "0", "googl"],
    "rbf_sigma": ["0", "-1", "nan", "inf", "1e-5", "1e5", "1e308", "1e-320"],
    "shape_alpha": ["-0.1", "1.1", "nan", "inf"],
    "ridge": ["-1", "-1e-300", "nan", "inf", "2e308"],
    "rsa_rdm": ["", "1", "euclid"],
    "rsa_compare": ["", "1", "spearmann"],
    "knn": ["0", "-1", "1.5", "nan", "inf", "1e15", "18446744073709551617"],
    "rsa_memory": ["0", "-1", "0.01", "nan", "inf", "1e7"],
    "rbf_memory": ["-1", "-1e-300", "nan", "inf", "1048577", "1e300"],
    "precision": ["", "single", "64"],
}


def flag(name):
    return "--" + name.replace("_", "-")


def test_absurd_table_is_complete():
    """Every option a measure reads (simrep measures) has a row, and the
    table names no option the library does not have."""
    r = run("measures", "--format", "json")
    assert r.code == 0, r
    read = {o for m in json.loads(r.stdout)["measures"] for o in m["options"]}
    assert read <= set(ABSURD), "options without absurd values: %s" % sorted(read - set(ABSURD))
    for name in ABSURD:
        assert flag(name) in run("compare", "--help").stdout, name


CASES = [(name, v) for name, values in ABSURD.items() for v in values]


@pytest.mark.parametrize("name,value", CASES, ids=["%s=%s" % c for c in CASES])
def test_absurd_option_refused_before_data(name, value, tmp_path):
    """Refused at parse time: the inputs do not exist, yet the message is
    about the option (exit 2), quoting the value as typed (2**63 is not
    wrapped or rounded), for compare, matrix and validate alike."""
    missing = tmp_path / "missing.npy"
    r = run("compare", missing, missing, "-m", "all", flag(name), value)
    assert_error(r, 2, names=flag(name))
    assert "(got %s)" % value in r.stderr or "(got '%s')" % value in r.stderr, r
    assert "missing" not in r.stderr, r
    for cmd in ("matrix", "validate"):
        r = run(cmd, "--manifest", tmp_path / "missing.csv", "-m", "all", flag(name), value)
        assert_error(r, 2, names=flag(name))


@pytest.mark.parametrize("args", [("--epsilon", "0.999"), ("--epsilon", "0"), ("--rbf-sigma", "1e-4"),
                                  ("--rbf-sigma", "1e4"), ("--svcca-dims", "999999999999999"),
                                  ("--epsilon", "1e-400")])
def test_edges_accepted(args, tmp_path):
    """The valid ranges' edges run (1e-400 is the 0 it rounds to)."""
    x, y = pair(tmp_path)
    r = run("compare", x, y, "-m", "cca,svcca,cka_rbf,cka", "--format", "json", *args)
    assert r.code == 0, r
    for v in r.json()["measures"].values():
        assert 0 <= v["similarity"] <= 1 + 1e-12


# ------------------------------------------------- 15: -m lists and '--'

@pytest.mark.parametrize("spec,first", [("all,cca", "cca"), ("cca,all", "cca"), ("cka,all,cka", "cka"),
                                        ("all,all", "cca"), ("cka,cka,cca", "cka")])
def test_measure_list_duplicates_removed(spec, first, tmp_path):
    """'all' may be one item of the list; each measure is computed once, in
    the order first named."""
    x, y = pair(tmp_path)
    want = set(run("compare", x, y, "-m", "all", "--format", "json").json()["measures"])
    got = run("compare", x, y, "-m", spec, "--format", "json").json()["measures"]
    assert list(got)[0] == first
    names = [m.strip() for m in spec.split(",")]
    assert set(got) == (want if "all" in names else set(names))


def test_double_dash_ends_options(tmp_path):
    """A file named -x.npy is an input after '--'; before it, an unknown
    option whose message says to use '--'."""
    x, y = pair(tmp_path)
    dash = tmp_path / "-x.npy"
    dash.write_bytes(x.read_bytes())
    os.chdir(tmp_path)
    r = run("compare", "-m", "cka", "--format", "json", "--", "-x.npy", "y.npy")
    assert r.json()["x"]["path"] == "-x.npy"
    assert abs(r.json()["measures"]["cka"]["similarity"]
               - run("compare", "x.npy", "y.npy", "-m", "cka", "--format", "json").json()["measures"]["cka"][
                   "similarity"]) < 1e-15
    r = run("compare", "-x.npy", "y.npy")
    assert_error(r, 2, names="-x.npy", contains=("--",))
    r = run("info", "--", "-x.npy")
    assert r.code == 0 and r.stdout.startswith("-x.npy: npy"), r
    # After '--' nothing is an option: "--format" is a third input.
    assert_error(run("compare", "--", "x.npy", "y.npy", "--format"), 2)
    for cmd in ("matrix", "validate"):
        assert_error(run(cmd, "--", "x.npy"), 2, names="x.npy")
