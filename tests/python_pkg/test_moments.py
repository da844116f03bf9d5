"""simrep.Moments: streaming equals one-shot, merging, pickling, errors."""

import pickle

import numpy as np
import pytest

import simrep
from conftest import golden_arrays, golden_cases, random_pair

LINEAR = [m for m in simrep.MEASURES if not simrep.measures()[m]["needs_rows"]]


def _close(a, b, tol):
    assert list(a) == list(b)
    for mid in a:
        for key in ("similarity", "distance"):
            assert abs(a[mid][key] - b[mid][key]) <= tol, (mid, key, a[mid][key], b[mid][key])
        for key in ("kept", "dims"):
            assert a[mid].get(key) == b[mid].get(key), (mid, key)


@pytest.mark.parametrize("case", golden_cases())
def test_uneven_chunks_equal_one_shot(case):
    """Chunks of 1, 7, 300, ... rows, in mixed dtypes and layouts: the exact
    pairwise merge gives the one-shot result to 1e-9 (the issue's bar)."""
    x, y = golden_arrays(case)
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    one = simrep.compare(x, y, LINEAR, coefs=True, warn=False)
    m = simrep.Moments(x.shape[1], y.shape[1])
    cuts = [0, 1, 8, 308, 309, 1000, 1733, len(x)]
    for i, (a, b) in enumerate(zip(cuts, cuts[1:])):
        xb, yb = x[a:b], y[a:b]
        if i % 2:
            xb, yb = np.asfortranarray(xb), yb.T.copy().T
        m.update(xb, yb)
    m.update(x[:0], y[:0])  # empty block: nothing
    assert m.n == len(x)
    got = m.compare(LINEAR, coefs=True, warn=False)
    _close(got, one, 1e-9)
    for mid in ("cca", "cca_r2", "svcca"):
        np.testing.assert_allclose(got[mid]["coefs"], one[mid]["coefs"], rtol=0, atol=1e-9)


def test_merge_and_copy():
    x, y = random_pair(21, n=500)
    parts = [simrep.Moments(12, 9) for _ in range(3)]
    for m, (a, b) in zip(parts, [(0, 100), (100, 101), (101, 500)]):
        m.update(x[a:b], y[a:b])
    total = parts[0].copy()
    total.merge(parts[1])
    total += parts[2]
    assert total.n == 500 and parts[0].n == 100
    _close(total.compare("cca,pwcca,cka,procrustes"), simrep.compare(x, y, "cca,pwcca,cka,procrustes"), 1e-9)
    mx, my = total.means()
    np.testing.assert_allclose(mx, x.mean(axis=0), atol=1e-12)
    s = total.scatter()
    xc = np.hstack([x, y]) - np.hstack([x, y]).mean(axis=0)
    np.testing.assert_allclose(s, xc.T @ xc, rtol=1e-10, atol=1e-9)
    with pytest.raises(ValueError, match="cannot merge"):
        total.merge(simrep.Moments(3, 9))


def test_pickle_roundtrip():
    x, y = random_pair(22, n=400)
    m = simrep.Moments(12, 9)
    m.update(x[:250], y[:250])
    m2 = pickle.loads(pickle.dumps(m))
    assert (m2.p, m2.q, m2.n) == (12, 9, 250)
    m.update(x[250:], y[250:])
    m2.update(x[250:], y[250:])
    _close(m2.compare("all".replace("all", ",".join(LINEAR))), m.compare(LINEAR), 0)
    st = m.state()
    m3 = simrep.Moments.from_state(12, 9, st)
    assert m3.n == 400
    with pytest.raises(ValueError, match=r"has \d+ values, got 9"):
        simrep.Moments.from_state(12, 9, st[:9])
    bad = st.copy()
    bad[0] = 5  # a header field of the state (its layout is the library's business)
    with pytest.raises(ValueError, match="moments state"):
        simrep.Moments.from_state(12, 9, bad)


def test_kernel_measure_needs_rows():
    m = simrep.Moments(3, 2)
    m.update(np.random.default_rng(0).standard_normal((20, 3)), np.random.default_rng(1).standard_normal((20, 2)))
    with pytest.raises(ValueError, match=r"cka_rbf needs the rows.*simrep.compare"):
        m.compare(["cca", "cka_rbf"])


def test_update_errors_name_the_block_and_leave_moments_unchanged():
    x, y = random_pair(23, n=100)
    m = simrep.Moments(12, 9)
    m.update(x[:50], y[:50])
    bad = y[50:].copy()
    bad[7, 2] = np.inf
    with pytest.raises(simrep.Error, match=r"^y_block: .*row 57, column 2") as e:
        m.update(x[50:], bad)
    assert e.value.status == 7 and not isinstance(e.value, ValueError)
    assert m.n == 50
    with pytest.raises(ValueError, match="x_block has 50 rows but y_block has 49"):
        m.update(x[50:], y[51:])
    with pytest.raises(ValueError, match="made for 12"):
        m.update(x[50:, :5], y[50:])
    with pytest.raises(ValueError, match="2-D"):
        m.update(x[50:, 0], y[50:])
    m.update(x[50:], y[50:])
    _close(m.compare(warn=False), simrep.compare(x, y, warn=False), 1e-9)
    with pytest.raises(ValueError):
        simrep.Moments(0, 3)
    m.close()
    with pytest.raises(ValueError, match="closed"):
        m.update(x, y)


def test_degenerate_moments():
    m = simrep.Moments(2, 2)
    m.update(np.ones((1, 2)), np.ones((1, 2)))
    with pytest.raises(simrep.Error, match="at least 2 samples") as e:
        m.compare(["cca"])
    assert e.value.status_name == "measure undefined for these data"


def _three(seed=31, n=420):
    x, y = random_pair(seed, n=n)
    rng = np.random.default_rng(seed)
    z = np.hstack([x[:, :3], y[:, :2]]) @ rng.standard_normal((5, 7)) + 0.4 * rng.standard_normal((n, 7))
    return [x, y.astype(np.float32), np.asfortranarray(z)]


def test_many_inputs_equal_pairs_and_matrix():
    """Moments(p1, p2, p3): streamed in uneven blocks, every pair equals
    simrep.compare of that pair and matrix() equals simrep.matrix; means,
    scatter, copy, merge and pickling carry the K inputs."""
    arrs = _three()
    feats = [a.shape[1] for a in arrs]
    m = simrep.Moments(*feats)
    assert m.features == tuple(feats) and m.inputs == 3 and "features=[12, 9, 7]" in repr(m)
    cuts = [0, 1, 90, 91, 300, 420]
    for a, b in zip(cuts, cuts[1:]):
        m.update(*[x[a:b] for x in arrs])
    ms = "cca,svcca,pwcca,cka,cka_debiased,procrustes"
    for i, j in ((0, 1), (2, 0), (1, 2)):
        _close(m.compare(ms, pair=(i, j), warn=False), simrep.compare(arrs[i], arrs[j], ms, warn=False), 1e-9)
    got = m.matrix(ms, names=["a", "b", "c"], groups=["g", "g", "h"])
    want = simrep.matrix(arrs, names=["a", "b", "c"], groups=["g", "g", "h"], measures=ms)
    assert got["n"] == want["n"] == 420 and got["kept"] == want["kept"]
    for mid in got["measures"]:
        for key in ("similarity", "distance"):
            np.testing.assert_allclose(got["measures"][mid][key], want["measures"][mid][key], rtol=0, atol=1e-12)
    for mid, summary in got["group_summary"].items():
        for part, values in summary.items():
            assert values == pytest.approx(want["group_summary"][mid][part], abs=1e-12), (mid, part)
    means = m.means()
    for mu, x in zip(means, arrs):
        np.testing.assert_allclose(mu, x.mean(axis=0, dtype=np.float64), atol=1e-6)
    joint = np.hstack([x.astype(np.float64) for x in arrs])
    xc = joint - joint.mean(axis=0)
    np.testing.assert_allclose(m.scatter(), xc.T @ xc, rtol=1e-6, atol=1e-6)
    half = simrep.Moments(*feats).update(*[x[:200] for x in arrs])
    rest = simrep.Moments(*feats).update(*[x[200:] for x in arrs])
    merged = half.copy().merge(rest)
    m2 = pickle.loads(pickle.dumps(merged))
    assert m2.features == tuple(feats) and m2.n == 420
    _close(m2.compare(ms, pair=(1, 2), warn=False), m.compare(ms, pair=(1, 2), warn=False), 1e-9)


def test_many_inputs_errors():
    m = simrep.Moments(3, 2, 4)
    with pytest.raises(ValueError, match="one block per input: 3 inputs, 2 blocks"):
        m.update(np.zeros((5, 3)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="give pair"):
        m.compare("cka")
    with pytest.raises(ValueError, match="two different inputs in 0..2"):
        m.compare("cka", pair=(1, 1))
    with pytest.raises(ValueError, match="two different inputs"):
        m.compare("cka", pair=(0, 3))
    with pytest.raises(ValueError, match="at least 2 inputs"):
        simrep.Moments(3)
    with pytest.raises(ValueError, match="input 2 = 0"):
        simrep.Moments(3, 2, 0)
    bad = np.ones((4, 4))
    bad[2, 1] = np.nan
    with pytest.raises(simrep.Error, match="block 2"):
        m.update(np.ones((4, 3)), np.ones((4, 2)), bad)
    assert m.n == 0
    with pytest.raises(ValueError, match="cka_rbf needs the rows"):
        m.matrix("cka,cka_rbf")
