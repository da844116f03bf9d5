"""simrep.compare and simrep.matrix with the measures computed from the rows
(rsa, mutual_knn, cknna) and cka_lange: the same numbers as the CLI (one
library function behind both: equal to the last bit for the ranks and
neighbour counts, 1e-12 otherwise), options by keyword, echoed as the CLI
echoes them; strided and float32 views read in place give the same values.
"""

import numpy as np
import pytest

import simrep
from conftest import cli_json, random_pair

IDS = ["rsa", "mutual_knn", "cknna", "cka_lange"]


@pytest.mark.parametrize("opts", [{}, {"rsa_compare": "kendall", "rsa_rdm": "euclidean", "knn": 4},
                                  {"rsa_compare": "pearson", "rsa_rdm": "cosine", "knn": 2}])
def test_compare_equals_cli(tmp_path, opts):
    x, y = random_pair(3, n=200, p=6, q=5)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    flags = [a for k, v in opts.items() for a in ("--" + k.replace("_", "-"), str(v))]
    cli = cli_json(tmp_path / "x.npy", tmp_path / "y.npy", "-m", ",".join(IDS),
                   *flags)["measures"]
    py = simrep.compare(x, y, IDS, **opts)
    for mid in IDS:
        assert py[mid]["similarity"] == pytest.approx(cli[mid]["similarity"], abs=1e-12), mid
        for key in ("rdm", "compare", "k"):
            if key in cli[mid]:
                assert py[mid][key] == cli[mid][key] and type(py[mid][key]) is type(cli[mid][key]), (mid, key)


def test_views_and_dtypes():
    x, y = random_pair(4, n=180, p=6, q=5)
    a = simrep.compare(x, y, IDS)
    xf = np.asfortranarray(x.astype(np.float32))
    yf = np.asfortranarray(y.astype(np.float32))
    b = simrep.compare(xf, yf, IDS)
    c = simrep.compare(xf.astype(np.float64), yf.astype(np.float64), IDS)
    wide = np.zeros((180, 12))
    wide[:, ::2] = x  # a strided view
    d = simrep.compare(wide[:, ::2], y, IDS)
    for mid in IDS:
        assert b[mid]["similarity"] == pytest.approx(c[mid]["similarity"], abs=1e-12), mid
        assert d[mid]["similarity"] == pytest.approx(a[mid]["similarity"], abs=1e-12), mid


def test_matrix_equals_compare():
    arrays = [random_pair(s, n=150, p=5, q=4)[0] for s in range(3)]
    m = simrep.matrix(arrays, measures=IDS, rsa_compare="kendall")
    for i in range(3):
        for j in range(i + 1, 3):
            one = simrep.compare(arrays[i], arrays[j], IDS, rsa_compare="kendall")
            for mid in IDS:
                assert m["measures"][mid]["similarity"][i, j] == pytest.approx(one[mid]["similarity"], abs=1e-12)


def test_bad_options_are_refused():
    x, y = random_pair(5, n=50, p=4, q=4)
    with pytest.raises(simrep.InvalidArgument, match="pearson, spearman or kendall"):
        simrep.compare(x, y, ["rsa"], rsa_compare="tau")
    with pytest.raises(simrep.InvalidArgument, match="knn"):
        simrep.compare(x, y, ["cknna"], knn=1)
    with pytest.raises(simrep.Error, match="more than 50 samples"):
        simrep.compare(x, y, ["mutual_knn"], knn=50)


def test_cknna_reverse_is_y_against_x():
    x, y = random_pair(6, n=160, p=6, q=5)
    a = simrep.compare(x, y, ["cknna"])["cknna"]
    b = simrep.compare(y, x, ["cknna"])["cknna"]
    assert a["reverse"] == pytest.approx(b["similarity"], abs=1e-12)
    assert b["reverse"] == pytest.approx(a["similarity"], abs=1e-12)
    assert abs(a["similarity"] - b["similarity"]) > 1e-9  # not symmetric: the reason reverse is there
