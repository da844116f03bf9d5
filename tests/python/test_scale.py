"""Scale invariance at any finite scale (issue 10, item 2), through the CLI.

Every measure is invariant to scaling an input by a constant (`simrep
measures` lists it), so data multiplied by any factor that keeps them finite
must give the unscaled values to 1e-9, in float16, float32 and float64,
through compare (every measure, one call per row of the table), matrix
(inputs at different scales in one manifest) and conv maps (dftcca), never
an error and never NaN (JSON null).  Before the library kept each input's
moments in power-of-two units (src/moments.c, "Scale"), cka and procrustes
were 0 or null from 1e150 and 1e-150, cka_debiased from 1e77, the CCA
family called valid data constant at 1e+-200, and cka drifted silently
where squares became subnormal.

Scales: float64 by powers of ten (one rounding of each value, 2^-53
relative, far below 1e-9), float32 and float16 by powers of two on values
that are exact in the dtype, so the scaled files hold exactly scaled data
(float16 spans 2^-14 .. 65504: the table stays inside it).
"""

import numpy as np
import pytest

from conftest import compare, run, write_npy

TOL = 1e-9


def measures_of_rows():
    """Every measure of samples x features inputs that the registry says is
    scale invariant (`simrep measures --format json`: invariant_to)."""
    info = run("measures", "--format", "json").json()["measures"]
    return [m["id"] for m in info if m["family"] != "maps" and "scale" in m["invariant_to"]]


def data(seed=0, n=120, p=7, q=5):
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, p))
    y = x[:, :q] @ r.standard_normal((q, q)) + 0.6 * r.standard_normal((n, q))
    return x, y


def exact_in(dtype, a):
    """a rounded to values that dtype holds exactly with room to scale:
    multiples of 1/64 for float16 (|a| < 8: 9 bits), 2^-20 for float32."""
    step = 64.0 if dtype == np.float16 else 2.0 ** 20
    return (np.round(a * step) / step).astype(dtype)


# (dtype, scale of x, scale of y): y unscaled when its scale is 1
TABLE = [
    (np.float64, 1e-300, 1), (np.float64, 1e-200, 1), (np.float64, 1e-150, 1), (np.float64, 1e-75, 1),
    (np.float64, 1e75, 1), (np.float64, 1e150, 1), (np.float64, 1e200, 1), (np.float64, 1e300, 1),
    (np.float64, 1e-300, 1e300), (np.float64, "max", "max"),
    (np.float32, 2.0 ** -100, 1), (np.float32, 2.0 ** 100, 2.0 ** -100),
    (np.float16, 2.0 ** -8, 1), (np.float16, 2.0 ** 11, 2.0 ** -8),
]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The unscaled values of every measure per dtype."""
    tmp = tmp_path_factory.mktemp("scale")
    x, y = data()
    out = {}
    ids = ",".join(measures_of_rows())
    for dt in (np.float64, np.float32, np.float16):
        xs, ys = exact_in(dt, x) if dt != np.float64 else x, exact_in(dt, y) if dt != np.float64 else y
        a, b = write_npy(tmp / ("x%s.npy" % dt.__name__), xs), write_npy(tmp / ("y%s.npy" % dt.__name__), ys)
        out[dt] = (xs, ys, compare(a, b, measures=ids)["measures"])
    return out


@pytest.mark.parametrize("dtype,sx,sy", TABLE, ids=lambda v: getattr(v, "__name__", str(v)))
def test_compare_scale_invariant(tmp_path, base, dtype, sx, sy):
    x, y, want = base[dtype]
    if sx == "max":  # the largest values float64 holds: even the column sums overflow
        sx, sy = 1.7e308 / np.abs(x).max(), 1.7e308 / np.abs(y).max()
    a = write_npy(tmp_path / "x.npy", (x.astype(np.float64) * sx).astype(dtype))
    b = write_npy(tmp_path / "y.npy", (y.astype(np.float64) * sy).astype(dtype))
    got = compare(a, b, measures=",".join(want))["measures"]
    for m, w in want.items():
        for key in ("similarity", "distance"):
            assert got[m][key] is not None, (m, got[m])
            assert abs(got[m][key] - w[key]) <= TOL, (m, key, got[m][key], w[key])


def test_matrix_scale_invariant(tmp_path):
    """One manifest holding the same arrays at 1, 1e-300, 1e300 and 1e150:
    every pair equals the unscaled pair (and the diagonal blocks are 1)."""
    x, y = data(seed=3)
    scales = [1, 1e-300, 1e300, 1e150]
    rows = ["name,path"]
    for i, s in enumerate(scales):
        write_npy(tmp_path / ("x%d.npy" % i), x * s)
        write_npy(tmp_path / ("y%d.npy" % i), y * s)
        rows += ["x%d,x%d.npy" % (i, i), "y%d,y%d.npy" % (i, i)]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    ids = ",".join(measures_of_rows())
    res = run("matrix", "--manifest", tmp_path / "m.csv", "-m", ids, "--format", "json").json()
    for m, v in res["measures"].items():
        sim = np.array(v["similarity"], dtype=float)
        assert np.isfinite(sim).all(), m
        # Entry (a, b) is input a (as x) against input b (as y); inputs
        # alternate x_i, y_i at different scales, so it depends only on which
        # of x and y a and b are: the same for every scale.  (Mirrored for a
        # symmetric measure; an asymmetric one, e.g. cknna and linreg,
        # gives both orders.  cknna's + 1e-6 leaves x against a scaled x just
        # below 1.)
        want = np.empty_like(sim)
        for a in range(len(sim)):
            for b in range(len(sim)):
                want[a, b] = 1.0 if a == b else sim[a % 2, b % 2 + (2 if a % 2 == b % 2 else 0)]
        assert np.abs(sim - want).max() <= TOL, (m, sim)


@pytest.mark.parametrize("sx,sy", [(1e-300, 1e300), (1e200, 1e-200)])
def test_dftcca_scale_invariant(tmp_path, sx, sy):
    r = np.random.default_rng(5)
    a = r.standard_normal((30, 4, 3, 3))
    b = a[..., :2] + 0.3 * r.standard_normal((30, 4, 3, 2))
    write_npy(tmp_path / "a.npy", a)
    write_npy(tmp_path / "b.npy", b)
    write_npy(tmp_path / "as.npy", a * sx)
    write_npy(tmp_path / "bs.npy", b * sy)
    want = compare(tmp_path / "a.npy", tmp_path / "b.npy", "--conv", "nhwc", measures="dftcca,cca,cka")
    got = compare(tmp_path / "as.npy", tmp_path / "bs.npy", "--conv", "nhwc", measures="dftcca,cca,cka")
    for m in want["measures"]:
        assert abs(got["measures"][m]["similarity"] - want["measures"][m]["similarity"]) <= TOL, m
