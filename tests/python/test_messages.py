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

from conftest import SANITIZED, assert_error, run, simrep_bin, write_npy

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
    "noise_ulps": ["-1", "-1e-300", "nan", "inf", "1000001", "1e300"],
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


@pytest.mark.parametrize("args", [["--"], ["--", "x.npy"], ["x.npy"], ["--features-first", "--no-png"], ["--bogus"],
                                  ["--manifest"], ["--format", "svg", "--manifest", "m.csv"], ["--threads", "0"],
                                  ["--max-memory", "1x"], ["-m", "nope"]])
def test_matrix_and_validate_read_their_common_arguments_alike(args):
    """One parser for what matrix and validate share (cli/matrix.c
    mx_common_option): the same message, the command's name aside."""
    m, v = run("matrix", *args), run("validate", *args)
    assert m.code == v.code == 2, (m, v)
    assert m.stderr.replace("matrix", "CMD") == v.stderr.replace("validate", "CMD"), (m, v)


# ------------------------------------------------- 16: names that are not plain text

# File names as bytes: Latin-1 (not UTF-8), a newline, a quote and a
# backslash, an escape sequence, a truncated UTF-8 sequence, an encoded
# surrogate (not UTF-8 either), and valid UTF-8 that must stay as it is.
ODD_NAMES = [b"lat\xe9in.npy", b"new\nline.npy", b'quo"te\\.npy', b"esc\x1b[31m.npy", b"trunc\xe2\x82.npy",
             b"sur\xed\xa0\x80.npy", "caf\u00e9 \u5c64.npy".encode()]


def run_bytes(*args):
    """simrep with byte arguments; (exit code, stdout bytes, stderr bytes)."""
    p = subprocess.run([bytes(simrep_bin())] + [a if isinstance(a, bytes) else str(a).encode() for a in args],
                       capture_output=True, timeout=120, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    return p.returncode, p.stdout, p.stderr


def one_error_line(code, err, want_code):
    assert code == want_code, err
    lines = err.split(b"\n")
    assert len(lines) == 2 and lines[1] == b"" and lines[0].startswith(b"simrep: error: "), err
    assert not any(c < 0x20 and c != 9 for c in lines[0]), err
    return lines[0]


@pytest.mark.parametrize("name", ODD_NAMES, ids=[repr(n) for n in ODD_NAMES])
def test_odd_file_names(name, tmp_path):
    """JSON stays JSON, and gives the name back: bytes that are not UTF-8
    are \\udcXX (Python's os.fsdecode reading, so os.fsencode returns the
    bytes); errors and warnings stay one line; info's lines too."""
    d = bytes(tmp_path)
    rng = np.random.default_rng(16)
    x = rng.standard_normal((N, 5))
    x[:, 4] = 1.0  # a dead feature: a warning naming the file
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        np.save(f, x)
    y = os.path.join(d, b"y.npy")
    np.save(os.fsdecode(y), x[:, :3] + 0.1 * rng.standard_normal((N, 3)))
    code, out, err = run_bytes("compare", path, y, "-m", "cca,cka", "--format", "json")
    assert code == 0, err
    j = json.loads(out)
    assert os.fsencode(j["x"]["path"]) == path
    assert any(os.fsencode(w).startswith(path) for w in j["warnings"]), j
    # The same warning on stderr, on one line.
    code, out, err = run_bytes("compare", path, y, "-m", "cca")
    assert code == 0 and err.count(b"\n") == 1 and err.startswith(b"simrep: warning: "), err
    assert out.count(b"\n") == run_bytes("compare", y, y, "-m", "cca")[1].count(b"\n"), out
    # A file that does not exist, and bad data, named on one line.
    one_error_line(*run_bytes("compare", path + b"-missing", y)[::2], 1)
    bad = x.copy()
    bad[7, 2] = np.nan
    with open(path, "wb") as f:
        np.save(f, bad)
    line = one_error_line(*run_bytes("compare", path, y)[::2], 1)
    assert b"row 7" in line
    # info: one line per array, the name first.
    code, out, err = run_bytes("info", path)
    assert code == 0 and out.count(b"\n") == 2, out


def test_odd_names_in_matrix(tmp_path):
    """A manifest with such names and paths: the JSON loads and gives them
    back; the SVG figures are well-formed XML (U+FFFD for the bytes that are
    not UTF-8) and index.html is UTF-8."""
    import xml.etree.ElementTree as ET
    d = bytes(tmp_path)
    rng = np.random.default_rng(17)
    z = rng.standard_normal((N, 3))
    rows = [b"name,path"]
    for k, name in enumerate(ODD_NAMES[:4]):
        with open(os.path.join(d, name), "wb") as f:
            np.save(f, z @ rng.standard_normal((3, 4)) + 0.1 * rng.standard_normal((N, 4)))
        q = lambda s: b'"' + s.replace(b'"', b'""') + b'"'
        rows.append(q(b"n" + name[:-4]) + b"," + q(name))
    (tmp_path / "m.csv").write_bytes(b"\n".join(rows) + b"\n")
    out_dir = tmp_path / "out"
    code, out, err = run_bytes("matrix", "--manifest", tmp_path / "m.csv", "-m", "cka", "--format", "json",
                               "-o", out_dir, "--no-png")
    assert code == 0, err
    j = json.loads(out)
    assert [os.fsencode(n) for n in j["names"]] == [b"n" + n[:-4] for n in ODD_NAMES[:4]]
    assert [os.fsencode(i["path"]) for i in j["inputs"]] == [os.path.join(d, n) for n in ODD_NAMES[:4]]
    svgs = sorted(out_dir.glob("*.svg"))
    assert svgs
    for svg in svgs:
        ET.parse(svg)
    (out_dir / "index.html").read_bytes().decode("utf-8")


# ------------------------------------------------- 20: the wrong layout

def layer_pair(tmp_path, n=200, p=64, q=64, transpose=True, q_samples=None):
    """Two related layers of n samples (q_samples for y), saved features x
    samples (the google/svcca layout) when transpose."""
    rng = np.random.default_rng(20)
    z = rng.standard_normal((n, 3))
    x = z @ rng.standard_normal((3, p)) + 0.3 * rng.standard_normal((n, p))
    y = z @ rng.standard_normal((3, q)) + 0.3 * rng.standard_normal((n, q))
    y = y[:q_samples] if q_samples else y
    t = (lambda a: a.T.copy()) if transpose else (lambda a: a)
    return write_npy(tmp_path / "x.npy", t(x)), write_npy(tmp_path / "y.npy", t(y))


# (case, layer_pair arguments, --features-first given, exit code, what stderr says)
LAYOUTS = [
    # Features x samples of the same width read as samples x features: 64
    # "samples" of 200 "features" each, CKA 0.06 for 0.92.  A warning.
    ("transposed_same_width", dict(), False, 0, "give --features-first"),
    ("transposed_given", dict(), True, 0, None),
    ("plain", dict(transpose=False), False, 0, None),
    ("plain_wide", dict(n=40, transpose=False, p=30, q=30), False, 0, None),
    # Features x samples of different widths: the sample counts differ, and
    # read the other way round they would pair.
    ("transposed_other_width", dict(q=48), False, 1, "add --features-first"),
    ("plain_given_wrongly", dict(transpose=False, q=48), True, 1, "leave out --features-first"),
    # Different samples either way: no hint.
    ("unrelated", dict(transpose=False, q=48, q_samples=150), False, 1, "!features-first"),
]


@pytest.mark.parametrize("case", LAYOUTS, ids=[c[0] for c in LAYOUTS])
def test_layout(case, tmp_path):
    name, kw, given, code, says = case
    x, y = layer_pair(tmp_path, **kw)
    ff = ["--features-first"] if given else []
    r = run("compare", x, y, "-m", "cka,cca", "--format", "json", *ff)
    if code:
        assert_error(r, code, names="y.npy")
    else:
        assert r.code == 0, r
        warned = [w for w in r.json()["warnings"] if "--features-first" in w]
        assert len(warned) == (1 if says else 0), r
        r = run("compare", x, y, "-m", "cka", *ff)  # the table: on stderr
        assert ("simrep: warning: " in r.stderr and "--features-first" in r.stderr) == bool(says), r
    if says and not says.startswith("!"):
        assert says in r.stderr, r
    if says and says.startswith("!"):
        assert says[1:] not in r.stderr, r
    # matrix: the same warning once for the inputs, the same error.
    (tmp_path / "m.csv").write_text("name,path\na,x.npy\nb,y.npy\n")
    r = run("matrix", "--manifest", tmp_path / "m.csv", "-m", "cka,cca", "--format", "json", *ff)
    if code:
        assert_error(r, code, names="y.npy")
        if says and not says.startswith("!"):
            assert says in r.stderr, r
    else:
        assert len([w for w in r.json()["warnings"] if "--features-first" in w]) == (1 if says else 0), r


# ------------------------------------------------- 13: every error names its input

@pytest.mark.skipif(SANITIZED, reason="AddressSanitizer reserves far more address space than the limit")
def test_out_of_memory_names_the_inputs(tmp_path):
    """The pair's moments do not fit under RLIMIT_AS: the error names both
    files (it is about neither alone)."""
    import resource
    rng = np.random.default_rng(13)
    x = write_npy(tmp_path / "wide_x.npy", rng.standard_normal((20, 3000)))
    y = write_npy(tmp_path / "wide_y.npy", rng.standard_normal((20, 3000)))

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (250 << 20, 250 << 20))
    p = subprocess.run([str(simrep_bin()), "compare", str(x), str(y), "-m", "cka"], capture_output=True, text=True,
                       timeout=120, preexec_fn=limit, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    assert p.returncode == 1, p.stderr
    # Refused up front (the need against the limit) or when an allocation
    # fails: either way about both files.
    assert p.stderr.startswith("simrep: error: %s and %s: " % (x, y)), p.stderr
    assert "out of memory" in p.stderr or "address-space limit" in p.stderr, p.stderr
    assert p.stderr.count("\n") == 1, p.stderr


def test_cka_rbf_errors_name_the_file_and_bandwidth(tmp_path):
    """Most rows identical: the median distance is 0; the error names the
    file and the bandwidth, whichever side it is."""
    x, _ = pair(tmp_path)
    a = np.zeros((N, 3))
    a[:5] = np.arange(15).reshape(5, 3)
    dup = write_npy(tmp_path / "dup.npy", a)
    for args in ((x, dup), (dup, x)):
        r = run("compare", *args, "-m", "cka_rbf", "--rbf-sigma", "0.5")
        assert_error(r, 1, names="dup.npy", contains=("sigma = 0.5", "median"))
        assert r.stderr.startswith("simrep: error: %s: cka_rbf" % dup), r
