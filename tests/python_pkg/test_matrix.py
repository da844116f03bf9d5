"""simrep.matrix against `simrep matrix` (the same numbers and group
summary), arrays against paths, and against simrep.compare pair by pair."""

import json
import os
import subprocess

import numpy as np
import pytest

import simrep
from conftest import REPO, simrep_bin

DATA = REPO / "examples" / "data"
NAMES = ["gen0", "gen1", "gen2", "mem0", "mem1"]
GROUPS = ["generalizing"] * 3 + ["memorizing"] * 2
LINEAR = ["cca", "svcca", "pwcca", "cka", "cka_debiased", "procrustes"]


def write_manifest(tmp_path, layer):
    m = tmp_path / "m.csv"
    m.write_text("name,path,group\n" + "".join("%s,%s,%s\n" % (n, DATA / ("%s.npz:%s" % (n, layer)), g)
                                               for n, g in zip(NAMES, GROUPS)))
    return m


def test_matches_the_cli(tmp_path):
    m = write_manifest(tmp_path, "relu2")
    proc = subprocess.run([str(simrep_bin()), "matrix", "--manifest", str(m), "-m", ",".join(LINEAR), "--format",
                           "json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    cli = json.loads(proc.stdout)
    got = simrep.matrix(["%s/%s.npz:relu2" % (DATA, n) for n in NAMES], names=NAMES, groups=GROUPS, measures=LINEAR)
    assert got["names"] == cli["names"] and got["groups"] == cli["groups"] and got["n"] == cli["n"]
    for mid in LINEAR:
        for part in ("similarity", "distance"):
            # The same library calls on the same blocks: equal to round-off.
            np.testing.assert_allclose(got["measures"][mid][part], np.array(cli["measures"][mid][part]),
                                       rtol=0, atol=1e-12, err_msg=mid)
        for key in ("within", "between", "within_pairs", "between_pairs"):
            assert got["group_summary"][mid][key].keys() == cli["group_summary"][mid][key].keys()
            for g, v in cli["group_summary"][mid][key].items():
                assert abs(got["group_summary"][mid][key][g] - v) <= 1e-12, (mid, key, g)


def test_arrays_paths_and_pairs_agree():
    arrays = [np.load(DATA / ("%s.npz" % n))["relu3"] for n in NAMES[:3]]
    # A Fortran-order copy and a strided view are read in place too.
    arrays[1] = np.asfortranarray(arrays[1])
    wide = np.repeat(arrays[2], 2, axis=1)
    arrays[2] = wide[:, ::2]
    ms = ["pwcca", "cka", "cka_rbf"]
    a = simrep.matrix(arrays, measures=ms)
    p = simrep.matrix({n: "%s/%s.npz:relu3" % (DATA, n) for n in NAMES[:3]}, measures=ms)
    assert p["names"] == NAMES[:3] and a["names"] == ["0", "1", "2"]
    # path specs as pathlib.Path and bytes too (and the layer named by the key)
    kinds = [DATA / ("%s.npz:relu3" % NAMES[0]), os.fsencode("%s/%s.npz:relu3" % (DATA, NAMES[1])),
             "%s/%s.npz:relu3" % (DATA, NAMES[2])]
    k = simrep.matrix(kinds, names=NAMES[:3], measures=ms)
    assert k["layer"] == p["layer"] == "relu3"
    for mid in ms:
        np.testing.assert_allclose(a["measures"][mid]["distance"], p["measures"][mid]["distance"], rtol=0, atol=1e-12)
        assert np.array_equal(k["measures"][mid]["distance"], p["measures"][mid]["distance"])
        d = a["measures"][mid]["distance"]
        assert np.all(np.diag(d) == 0) and np.array_equal(d, d.T)
        for i in range(3):
            for j in range(i + 1, 3):
                c = simrep.compare(arrays[i], arrays[j], measures=[mid], warn=False)[mid]
                assert abs(c["distance"] - d[i, j]) <= 1e-12, (mid, i, j)


def test_errors():
    x = np.random.default_rng(0).standard_normal((50, 4))
    with pytest.raises(simrep.InvalidArgument, match="at least 2 inputs"):
        simrep.matrix([x])
    with pytest.raises(simrep.InvalidArgument, match="has 49 samples but 0 has 50"):
        simrep.matrix([x, x[:49]])
    with pytest.raises(simrep.InvalidArgument, match="distinct"):
        simrep.matrix([x, x], names=["a", "a"])
    bad = x.copy()
    bad[7, 2] = np.nan
    with pytest.raises(simrep.Error, match="b: NaN at row 7, column 2"):
        simrep.matrix([x, bad], names=["a", "b"], measures=["cka"])
    with pytest.raises(simrep.Error, match="nope.npy"):
        simrep.matrix([x, "/nonexistent/nope.npy"])
