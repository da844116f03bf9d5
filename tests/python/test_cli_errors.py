"""Bad inputs and the CLI's output formats.

Every bad input is generated in tmp_path by the test.  The contract: exit 2
for usage errors, 1 for bad data or files; one line on stderr starting
"simrep: error: " and naming the file; never a crash or a hang (each call is
timed; 5 s is only there to catch a hang, they all take milliseconds).
"""

import json
import re
import struct
import zipfile

import numpy as np
import pytest

from conftest import (SANITIZED, assert_error, compare, npy_bytes, npy_raw, ref, run, spec_path, write_npy,
                      write_safetensors, write_safetensors_raw)

N = 50
HANG = 5.0
# Issue 6 asks for an answer "in well under a second": measured, the slowest
# case takes 0.05 s (0.15 s on the ASan build); the bound leaves room for a
# loaded machine.
FAST = 3.0 if SANITIZED else 1.0


def good(tmp_path, n=N, p=4, name="good.npy", seed=0):
    rng = np.random.default_rng(seed)
    return write_npy(tmp_path / name, rng.standard_normal((n, p)))


def hdr(descr="<f8", fortran="False", shape="(50, 3)"):
    return "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)


def raw_file(tmp_path, content, name="bad.npy"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def data_f8(n=N, p=3):
    return np.random.default_rng(1).standard_normal((n, p)).tobytes()


# ------------------------------------------------------ bad .npy files
# Each maker returns the bad file; it is passed as X against a good Y, the
# message must name the bad file, and `contains` must be in stderr.

def with_value(value, row, col, dtype="<f8"):
    def make(tmp_path):
        a = np.random.default_rng(2).standard_normal((N, 3)).astype(dtype)
        a[row, col] = value
        return write_npy(tmp_path / "bad.npy", a)
    return make


def zip_corrupt(tmp_path):
    a = np.random.default_rng(3).standard_normal((2000, 8))
    path = tmp_path / "bad.npz"
    np.savez_compressed(path, x=a)
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("x.npy")
    b = bytearray(path.read_bytes())
    # The local header is 30 bytes + name + extra; damage the middle of the
    # deflate stream.
    name_len, extra_len = struct.unpack("<HH", b[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    mid = start + info.compress_size // 2
    b[mid:mid + 64] = b"\xff" * 64
    path.write_bytes(bytes(b))
    return "%s:x" % path


def zip_truncated(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x=np.random.default_rng(4).standard_normal((N, 4)))
    b = path.read_bytes()
    path.write_bytes(b[:len(b) // 2])
    return "%s:x" % path


def zip_missing_key(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x=np.random.default_rng(4).standard_normal((N, 4)), z=np.zeros((N, 2)))
    return "%s:nokey" % path


def zip_lying_member(tmp_path):
    """A stored member whose npy header claims more data than the member holds."""
    path = tmp_path / "bad.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("x.npy", npy_raw(hdr(shape="(5000, 3)"), data_f8()))
    return "%s:x" % path


def st(header, data=b"", header_len=None):
    def make(tmp_path):
        h = header if isinstance(header, bytes) else json.dumps(header).encode()
        return "%s:t" % write_safetensors_raw(tmp_path / "bad.safetensors", h, data, header_len)
    return make


def st_tensor(dtype="F64", shape=(N, 3), offsets=None, nbytes=None):
    nbytes = N * 3 * 8 if nbytes is None else nbytes
    offsets = [0, nbytes] if offsets is None else offsets
    return {"t": {"dtype": dtype, "shape": list(shape), "data_offsets": offsets}}


def st_missing_name(tmp_path):
    path = write_safetensors(tmp_path / "bad.safetensors",
                             {"t": ("F64", np.random.default_rng(5).standard_normal((N, 3)))})
    return "%s:other" % path


def nonexistent(tmp_path):
    return tmp_path / "does_not_exist.npy"


def directory(tmp_path):
    d = tmp_path / "adir.npy"
    d.mkdir()
    return d


def constant_layer(tmp_path):
    return write_npy(tmp_path / "bad.npy", np.full((N, 3), 2.5))


def ndim(shape):
    def make(tmp_path):
        return write_npy(tmp_path / "bad.npy", np.random.default_rng(6).standard_normal(shape))
    return make


def raw(content_fn):
    return lambda tmp_path: raw_file(tmp_path, content_fn())


def dtype_file(dt):
    def make(tmp_path):
        a = np.arange(N * 3).reshape(N, 3).astype(dt)
        return write_npy(tmp_path / "bad.npy", a)
    return make


# (id, maker, extra CLI args, contains)
BAD_FILES = [
    ("empty_file", raw(lambda: b""), (), ()),
    ("wrong_magic", raw(lambda: b"\x93NUMPX\x01\x00" + b"\x00" * 120), (), ()),
    ("text_file", raw(lambda: b"1,2,3\n4,5,6\n"), (), ()),
    ("truncated_magic", raw(lambda: b"\x93NUM"), (), ()),
    ("truncated_header", raw(lambda: npy_raw(hdr())[:30]), (), ()),
    ("header_len_beyond_file", raw(lambda: npy_raw(hdr(), header_len=60000)), (), ()),
    ("header_len_beyond_file_v2", raw(lambda: npy_raw(hdr(), version=(2, 0), header_len=0xFFFFFFF0)), (), ()),
    ("malformed_header_dict", raw(lambda: npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (50, 3", data_f8())), (), ()),
    ("header_not_a_dict", raw(lambda: npy_raw("[1, 2, 3]", data_f8())), (), ()),
    ("header_missing_shape", raw(lambda: npy_raw("{'descr': '<f8', 'fortran_order': False, }", data_f8())), (), ()),
    ("header_missing_descr", raw(lambda: npy_raw("{'fortran_order': False, 'shape': (50, 3), }", data_f8())), (), ()),
    ("header_bad_fortran", raw(lambda: npy_raw(hdr(fortran="'yes'"), data_f8())), (), ()),
    ("header_shape_not_ints", raw(lambda: npy_raw(hdr(shape="(50, 'a')"), data_f8())), (), ()),
    ("unknown_version", raw(lambda: npy_raw(hdr(), data_f8(), version=(9, 0))), (), ()),
    ("truncated_data", raw(lambda: npy_raw(hdr(), data_f8()[:-17])), (), ()),
    ("no_data", raw(lambda: npy_raw(hdr())), (), ()),
    ("shape_overflow", raw(lambda: npy_raw(hdr(shape="(4611686018427387904, 4611686018427387904)"), data_f8())), (), ()),
    ("shape_product_overflow", raw(lambda: npy_raw(hdr(shape="(1099511627776, 1099511627776)"), data_f8())), (), ()),
    ("shape_bytes_overflow", raw(lambda: npy_raw(hdr(shape="(2305843009213693952, 4)"), data_f8())), (), ()),
    ("shape_huge_number", raw(lambda: npy_raw(hdr(shape="(99999999999999999999999999, 3)"), data_f8())), (), ()),
    ("negative_dims", raw(lambda: npy_raw(hdr(shape="(-5, 3)"), data_f8())), (), ()),
    ("zero_rows", raw(lambda: npy_raw(hdr(shape="(0, 3)"))), (), ()),
    ("zero_features", raw(lambda: npy_raw(hdr(shape="(50, 0)"))), (), ()),
    ("complex128", dtype_file(np.complex128), (), ()),
    ("complex64", dtype_file(np.complex64), (), ()),
    ("int32", dtype_file(np.int32), (), ()),
    ("int64", dtype_file(np.int64), (), ()),
    ("uint8", dtype_file(np.uint8), (), ()),
    ("bool", dtype_file(np.bool_), (), ()),
    ("longdouble", dtype_file(np.longdouble), (), ()),
    ("string_U", raw(lambda: npy_raw(hdr(descr="<U5"), b"\0" * (N * 3 * 20))), (), ()),
    ("bytes_S", raw(lambda: npy_raw(hdr(descr="|S8"), b"\0" * (N * 3 * 8))), (), ()),
    ("object", raw(lambda: npy_raw(hdr(descr="|O"), b"\0" * (N * 3 * 8))), (), ()),
    ("structured", raw(lambda: npy_raw("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (50, 3), }", data_f8())), (), ()),
    ("bogus_descr", raw(lambda: npy_raw(hdr(descr="<q9"), data_f8())), (), ()),
    ("scalar", ndim(()), (), ()),
    ("1d", ndim((N,)), (), ()),
    ("3d", ndim((N, 4, 5)), (), ("--sequence",)),
    ("4d", ndim((N, 3, 4, 4)), (), ("--conv",)),
    ("nan", with_value(np.nan, 17, 2), (), ()),
    ("inf", with_value(np.inf, 17, 2), (), ()),
    ("neg_inf_f32", with_value(-np.inf, 17, 2, "<f4"), (), ()),
    ("nan_f16_be", with_value(np.nan, 17, 2, ">f2"), (), ()),
    ("constant_layer", constant_layer, ("-m", "cca"), ()),
    ("constant_layer_pwcca", constant_layer, ("-m", "pwcca"), ()),
    ("constant_layer_svcca", constant_layer, ("-m", "svcca"), ()),
    ("corrupt_deflate", zip_corrupt, (), ()),
    ("truncated_npz", zip_truncated, (), ()),
    ("missing_npz_key", zip_missing_key, (), ("nokey",)),
    ("npz_lying_member", zip_lying_member, (), ()),
    ("st_huge_header_len", st(st_tensor(), data_f8(), header_len=2 ** 63), (), ()),
    ("st_header_len_max", st(st_tensor(), data_f8(), header_len=2 ** 64 - 1), (), ()),
    ("st_header_beyond_file", st(st_tensor(), data_f8(), header_len=100000), (), ()),
    ("st_offsets_beyond_file", st(st_tensor(offsets=[0, 10 ** 9]), data_f8()), (), ()),
    ("st_offsets_reversed", st(st_tensor(offsets=[1200, 0]), data_f8()), (), ()),
    ("st_offsets_huge", st(st_tensor(offsets=[2 ** 63, 2 ** 63 + 1200]), data_f8()), (), ()),
    ("st_offsets_vs_shape", st(st_tensor(nbytes=N * 3 * 8 - 8), data_f8()), (), ()),
    ("st_malformed_json", st(b'{"t": {"dtype": "F64", "shape": [50, 3], "data_offsets": [0, 1200]', data_f8()), (), ()),
    ("st_not_json", st(b"\x00\x01\x02garbage", data_f8()), (), ()),
    ("st_shape_negative", st(st_tensor(shape=(-50, 3)), data_f8()), (), ()),
    ("st_dtype_int", st(st_tensor(dtype="I32", nbytes=N * 3 * 4), data_f8()), (), ()),
    ("st_dtype_bogus", st(st_tensor(dtype="F7"), data_f8()), (), ()),
    ("st_3d", st({"t": {"dtype": "F64", "shape": [N, 3, 1], "data_offsets": [0, N * 3 * 8]}}, data_f8()), (), ("--sequence",)),
    ("st_missing_name", st_missing_name, (), ("other",)),
    ("st_empty", st(b"", b"", header_len=None), (), ()),
    ("nonexistent", nonexistent, (), ()),
    ("directory", directory, (), ()),
]


NAMES_EITHER = {"zero_rows"}


@pytest.mark.parametrize("case", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_file(case, tmp_path):
    name, maker, args, contains = case
    bad = maker(tmp_path)
    if not isinstance(bad, str):
        bad = str(bad)
    y = good(tmp_path)
    # Whatever the position, the bad side is the one named.  A (0, 3) array
    # is also a sample-count mismatch, which may be reported on either side.
    for xs, ys in ((bad, y), (y, bad)):
        r = run("compare", xs, ys, *args, timeout=HANG * 4)
        assert r.elapsed < FAST, r
        assert_error(r, 1, names=None if name in NAMES_EITHER else spec_path(bad), contains=contains)
        if name in NAMES_EITHER:
            assert spec_path(bad) in r.stderr or str(y) in r.stderr, r


@pytest.mark.parametrize("case", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_file_info(case, tmp_path):
    """simrep info on the same files: an error (exit 1) for broken ones; files
    that parse but hold something compare refuses (a dtype, an ndim, NaN)
    may be described instead (exit 0).  Never a crash or a hang."""
    name, maker, args, contains = case
    bad = spec_path(maker(tmp_path))
    r = run("info", bad, timeout=HANG * 4)
    assert r.elapsed < FAST, r
    assert 0 <= r.code < 128, r
    if r.code != 0:
        assert_error(r, 1, names=bad)


@pytest.mark.parametrize("value,label", [(np.nan, "nan"), (np.inf, "inf")])
def test_nonfinite_names_row_and_column(value, label, tmp_path):
    """The message names the row and the column (0- or 1-based: 17/18, 2/3)."""
    bad = with_value(value, 17, 2)(tmp_path)
    r = run("compare", bad, good(tmp_path, p=3))
    assert_error(r, 1, names=bad)
    msg = r.stderr.splitlines()[0].lower()
    assert re.search(r"row\D{0,3}(17|18)\b", msg), msg
    assert re.search(r"col(umn)?\D{0,3}(2|3)\b", msg), msg


def test_nonfinite_late_row(tmp_path):
    """A NaN far into the file (past the first read block) names its row."""
    a = np.random.default_rng(7).standard_normal((30000, 3))
    a[29876, 1] = np.nan
    bad = write_npy(tmp_path / "bad.npy", a)
    r = run("compare", bad, good(tmp_path, n=30000, p=2), "-m", "cka")
    assert_error(r, 1, names=bad)
    assert re.search(r"row\D{0,3}(29876|29877)\b", r.stderr.lower()), r


def test_mismatched_samples(tmp_path):
    x = good(tmp_path, n=50, name="x.npy")
    y = good(tmp_path, n=49, name="y.npy")
    r = run("compare", x, y)
    assert_error(r, 1)
    assert str(x) in r.stderr or str(y) in r.stderr, r
    assert "50" in r.stderr and "49" in r.stderr, r


def test_features_first_mismatch(tmp_path):
    """Transposed layout: the sample count is the second dimension."""
    x = write_npy(tmp_path / "x.npy", np.random.default_rng(8).standard_normal((4, 50)))
    y = write_npy(tmp_path / "y.npy", np.random.default_rng(9).standard_normal((5, 49)))
    assert_error(run("compare", x, y, "--features-first"), 1)


@pytest.mark.parametrize("n,measure", [(1, "cca"), (1, "cka"), (1, "procrustes"), (1, "cka_rbf"),
                                       (3, "cka_debiased")])
def test_too_few_samples(n, measure, tmp_path):
    x = good(tmp_path, n=n, p=2, name="x.npy")
    y = good(tmp_path, n=n, p=2, name="y.npy", seed=1)
    r = run("compare", x, y, "-m", measure)
    assert_error(r, 1)


def test_constant_layer_cka_does_not_crash(tmp_path):
    """CKA of a constant layer is 0/0: an error or a finite number, never NaN."""
    x = constant_layer(tmp_path)
    r = run("compare", x, good(tmp_path, p=3), "-m", "cka,cka_debiased,procrustes", "--format", "json")
    assert 0 <= r.code <= 1, r
    if r.code == 1:
        assert_error(r, 1, names=x)
    else:
        assert "nan" not in r.stdout.lower(), r


# ------------------------------------------------------ usage errors (exit 2)

USAGE = [
    ("no_args", ()),
    ("unknown_command", ("frobnicate",)),
    ("compare_no_files", ("compare",)),
    ("compare_one_file", ("compare", "{x}")),
    ("compare_three_files", ("compare", "{x}", "{y}", "{x}")),
    ("unknown_option", ("compare", "{x}", "{y}", "--frobnicate")),
    ("unknown_measure", ("compare", "{x}", "{y}", "-m", "cca,nosuch")),
    ("empty_measure", ("compare", "{x}", "{y}", "-m", "")),
    ("m_without_value", ("compare", "{x}", "{y}", "-m")),
    ("bad_format", ("compare", "{x}", "{y}", "--format", "xml")),
    ("bad_epsilon", ("compare", "{x}", "{y}", "--epsilon", "abc")),
    ("bad_sigma", ("compare", "{x}", "{y}", "--rbf-sigma", "1.0x")),
    ("negative_sigma", ("compare", "{x}", "{y}", "--rbf-sigma", "-1")),
    ("bad_variant", ("compare", "{x}", "{y}", "--pwcca-variant", "foo")),
    ("bad_rule", ("compare", "{x}", "{y}", "--svcca-rule", "foo")),
    ("keep_and_dims", ("compare", "{x}", "{y}", "--svcca-keep", "0.9", "--svcca-dims", "3")),
    ("keep_above_1", ("compare", "{x}", "{y}", "--svcca-keep", "1.5")),
    ("dims_not_int", ("compare", "{x}", "{y}", "--svcca-dims", "2.5")),
    ("info_no_file", ("info",)),
]


@pytest.mark.parametrize("case", USAGE, ids=[c[0] for c in USAGE])
def test_usage_error(case, tmp_path):
    name, args = case
    x, y = good(tmp_path, name="x.npy"), good(tmp_path, name="y.npy", seed=1)
    args = [a.format(x=x, y=y) for a in args]
    r = run(*args, timeout=HANG * 4)
    assert r.elapsed < FAST, r
    assert_error(r, 2)
    assert r.stdout == "", r


# ------------------------------------------------------ output formats

@pytest.fixture
def pair(tmp_path):
    rng = np.random.default_rng(50)
    z = rng.standard_normal((200, 3))
    x = z @ rng.standard_normal((3, 6)) + 0.3 * rng.standard_normal((200, 6))
    y = z @ rng.standard_normal((3, 5)) + 0.3 * rng.standard_normal((200, 5))
    return write_npy(tmp_path / "x.npy", x), write_npy(tmp_path / "y.npy", y), x, y


def test_json_shape(pair):
    fx, fy, x, y = pair
    j = compare(fx, fy, "--coefs", measures="all+kernel")
    assert set(j) >= {"n", "x", "y", "measures", "warnings"}
    assert j["n"] == 200
    assert j["x"] == {"path": str(fx), "features": 6, "kept": 6}
    assert j["y"] == {"path": str(fy), "features": 5, "kept": 5}
    # "all+kernel": every measure of two matrices in the library's catalogue (dftcca needs conv maps).
    catalogue = [m["id"] for m in run("measures", "--format", "json").json()["measures"] if m["family"] != "maps"]
    assert list(j["measures"]) == catalogue
    assert set(ref.ALL_MEASURES) <= set(catalogue)
    for mid, m in j["measures"].items():
        assert isinstance(m["similarity"], (int, float)) and isinstance(m["distance"], (int, float)), mid
    assert j["measures"]["svcca"]["dims"][0] <= 6
    assert len(j["measures"]["cca"]["coefs"]) == 5
    assert len(j["measures"]["pwcca"]["weights"]) == 5
    assert j["measures"]["pwcca"]["variant"] == "google"
    assert "coefs" not in compare(fx, fy, measures="cca")["measures"]["cca"]


def test_measure_order_follows_m(pair):
    fx, fy, _, _ = pair
    j = compare(fx, fy, measures="procrustes,cka,cca")
    assert set(j["measures"]) == {"procrustes", "cka", "cca"}


def test_csv(pair):
    fx, fy, _, _ = pair
    r = run("compare", fx, fy, "-m", "all+kernel", "--format", "csv")
    assert r.code == 0, r
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "measure,similarity,distance"
    rows = [l.split(",") for l in lines[1:]]
    catalogue = [m["id"] for m in run("measures", "--format", "json").json()["measures"] if m["family"] != "maps"]
    assert [row[0] for row in rows] == catalogue
    j = compare(fx, fy, measures="all+kernel")
    for mid, s, d in rows:
        assert abs(float(s) - j["measures"][mid]["similarity"]) <= 1e-9, (mid, s)
        assert abs(float(d) - j["measures"][mid]["distance"]) <= 1e-9, (mid, d)


def test_table(pair):
    fx, fy, _, _ = pair
    r = run("compare", fx, fy, "-m", "all+kernel")
    assert r.code == 0, r
    j = compare(fx, fy)
    for mid, m in j["measures"].items():
        line = [l for l in r.stdout.splitlines() if re.search(r"(^|\s)%s(\s|$)" % mid, l)]
        assert line, "table lacks %s:\n%s" % (mid, r.stdout)
        nums = [float(t) for t in re.findall(r"-?\d+\.\d+(?:[eE][-+]?\d+)?", line[0])]
        assert any(abs(v - m["similarity"]) <= 1e-3 for v in nums), (mid, line[0])


def test_default_is_table_with_default_measures(pair):
    fx, fy, _, _ = pair
    r = run("compare", fx, fy)
    assert r.code == 0, r
    for mid in ("cca", "svcca", "pwcca", "cka"):
        assert mid in r.stdout
    assert "cka_debiased" not in r.stdout and "procrustes" not in r.stdout


def test_measures_command():
    r = run("measures")
    assert r.code == 0, r
    for mid in ref.ALL_MEASURES:
        assert re.search(r"(^|\W)%s(\W|$)" % mid, r.stdout, re.M), mid
    # descriptions carry the references
    for word in ("Kornblith", "Raghu", "Morcos"):
        assert word in r.stdout, word


def test_info_npz(tmp_path):
    path = tmp_path / "acts.npz"
    np.savez(path, layer1=np.zeros((123, 7), "<f4"), layer2=np.zeros((123, 9, 2), ">f8"))
    r = run("info", path)
    assert r.code == 0, r
    out = r.stdout
    for key, shape in (("layer1", ("123", "7")), ("layer2", ("123", "9", "2"))):
        line = [l for l in out.splitlines() if key in l]
        assert line, (key, out)
        for s in shape:
            assert re.search(r"\b%s\b" % s, line[0]), (key, line[0])
    assert "f4" in out or "float32" in out
    assert "f8" in out or "float64" in out


def test_info_deflated_npz_and_fortran(tmp_path):
    path = tmp_path / "acts.npz"
    np.savez_compressed(path, a=np.asfortranarray(np.zeros((11, 3))))
    r = run("info", path)
    assert r.code == 0, r
    assert "a" in r.stdout and "11" in r.stdout
    assert re.search(r"fortran|column|F\b|deflat|compress", r.stdout, re.I), r.stdout


def test_info_npy_and_safetensors(tmp_path):
    f = write_npy(tmp_path / "a.npy", np.zeros((17, 5), ">f2"))
    r = run("info", f)
    assert r.code == 0 and "17" in r.stdout and "5" in r.stdout, r
    s = write_safetensors(tmp_path / "m.safetensors",
                          {"enc.h": ("BF16", np.zeros((13, 4), np.float32)), "dec.h": ("F32", np.zeros((13, 6)))})
    r = run("info", s)
    assert r.code == 0, r
    assert "enc.h" in r.stdout and "dec.h" in r.stdout
    assert "BF16" in r.stdout.upper() or "bfloat16" in r.stdout
    assert "13" in r.stdout


def test_info_json(tmp_path):
    """info --format json: one object with the same facts as the table, for
    each format; the keys a script reads are asserted here."""
    npz = tmp_path / "acts.npz"
    np.savez(npz, layer1=np.zeros((123, 7), "<f4"), seq=np.zeros((5, 9, 2), ">f8"),
             maps=np.asfortranarray(np.zeros((4, 3, 2, 2), "<f2")), ints=np.zeros((3, 2), "<c8"))
    j = json.loads(run("info", "--format", "json", npz).stdout)
    assert j["path"] == str(npz) and j["format"] == "npz" and j["count"] == 4
    a = {e["name"]: e for e in j["arrays"]}
    assert a["layer1"]["shape"] == [123, 7] and a["layer1"]["dtype"] == "float32"
    assert a["layer1"]["reads_as"] == "samples x features" and a["layer1"]["compressed"] is False
    assert a["layer1"]["data_bytes"] == 123 * 7 * 4 and a["layer1"]["order"] == "C"
    assert a["seq"]["big_endian"] is True and a["seq"]["dtype_in_file"] == ">f8" and a["seq"]["reads_as"] == "sequences"
    assert a["maps"]["order"] == "F" and a["maps"]["reads_as"] == "conv feature maps"
    assert a["ints"]["dtype"] is None and a["ints"]["dtype_in_file"] == "<c8"
    assert a["ints"]["reads_as"] == "unsupported dtype"
    st = write_safetensors(tmp_path / "m.safetensors", {"enc.h": ("BF16", np.zeros((13, 4), np.float32))})
    j = json.loads(run("info", st, "--format", "json").stdout)
    assert j["format"] == "safetensors" and j["arrays"][0]["dtype"] == "bfloat16" and "compressed" not in j["arrays"][0]
    f = write_npy(tmp_path / "-x.npy", np.zeros((17, 5)))
    j = json.loads(run("info", "--format", "json", "--", f).stdout)
    assert j["format"] == "npy" and j["arrays"] == [dict(j["arrays"][0], name="", shape=[17, 5])]
    # the table and the JSON list the same arrays
    assert run("info", npz).stdout.count("shape (") == 4


@pytest.mark.parametrize("args, says", [
    (("info", "--format"), "needs a value"),
    (("info", "--format", "xml", "a.npy"), "table or json"),
    (("info", "-x.npy"), "'--' ends the options"),
    (("info", "a.npy", "b.npy"), "exactly one FILE"),
    (("info",), "exactly one FILE"),
])
def test_info_usage(args, says):
    assert_error(run(*args), 2, contains=(says,))


@pytest.mark.parametrize("args", [("--help",), ("compare", "--help"), ("-h",)])
def test_help(args):
    r = run(*args)
    assert r.code == 0, r
    assert "compare" in r.stdout


def test_paths_with_spaces_and_colons(tmp_path):
    """A .npy path containing ':' and spaces is still a path (only the
    .npz:/.safetensors: suffix selects a key)."""
    d = tmp_path / "run 1:ckpt"
    d.mkdir()
    x = good(d, name="x.npy")
    y = good(d, name="y.npy", seed=3)
    r = run("compare", x, y, "-m", "cka", "--format", "json")
    assert r.code == 0, r
    assert json.loads(r.stdout)["x"]["path"] == str(x)
