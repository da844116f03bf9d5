"""Array names longer than 255 bytes (issue 10, item 17): `info` left npz
members (and safetensors tensors) with such names out without a word, and
they could not be opened.  Now they are listed, shortened to their first
252 bytes and "..." with their length, and open by the whole name or by
that shown form when no other long name starts alike.
"""

import json

import numpy as np
import pytest

from conftest import assert_error, compare, run, write_npy, write_safetensors

LONG = "block_" + "a" * 300          # 306 bytes
TWIN = LONG[:252] + "b" * 60         # the same first 252 bytes
HUGE = "h" * 20000                   # far past any fixed buffer


@pytest.fixture
def files(tmp_path):
    r = np.random.default_rng(0)
    arrays = {LONG: r.standard_normal((40, 3)), TWIN: r.standard_normal((40, 4)), HUGE: r.standard_normal((40, 2)),
              "short": r.standard_normal((40, 5))}
    np.savez(tmp_path / "a.npz", **arrays)
    np.savez_compressed(tmp_path / "c.npz", **arrays)
    write_safetensors(tmp_path / "a.safetensors", {k: ("F64", v) for k, v in arrays.items()})
    y = write_npy(tmp_path / "y.npy", r.standard_normal((40, 3)))
    return tmp_path, arrays, y


@pytest.mark.parametrize("name", ["a.npz", "c.npz", "a.safetensors"])
def test_long_names_listed_and_opened(files, name):
    tmp, arrays, y = files
    f = tmp / name
    r = run("info", f)
    assert r.code == 0, r
    assert "4 arrays" in r.stdout
    for key in (LONG, TWIN, HUGE):
        shown = key[:252] + "..."
        assert any(l.strip().startswith(shown) and "name of %d bytes" % len(key) in l
                   for l in r.stdout.splitlines()), r.stdout
    # JSON: the shortened name as in the table, name_bytes the whole length
    j = json.loads(run("info", f, "--format", "json").stdout)
    assert j["count"] == 4
    got = sorted((a["name"], a["name_bytes"]) for a in j["arrays"])
    want = sorted((k[:252] + "..." if len(k) > 255 else k, len(k.encode())) for k in arrays)
    assert got == want
    # by the whole name: the array itself
    for key in (LONG, TWIN, HUGE):
        got = compare("%s:%s" % (f, key), y, measures="cka")
        want = compare(write_npy(tmp / "w.npy", arrays[key]), y, measures="cka")
        assert got["measures"] == want["measures"]
        assert got["x"]["features"] == arrays[key].shape[1]
    # by the shown form when unique, an error naming both otherwise
    got = compare("%s:%s" % (f, HUGE[:252] + "..."), y, measures="cka")
    assert got["x"]["features"] == 2
    assert_error(run("compare", "%s:%s" % (f, LONG[:252] + "..."), y), 1, names=f, contains=("whole",))
