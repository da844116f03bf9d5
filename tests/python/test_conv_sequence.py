"""Conv feature maps (4-D) and sequences (3-D) through `simrep compare`,
against numpy: the reshaping conventions of every --conv-mode and
--sequence mode, the three --resize methods (each re-implemented here from
its definition in simrep.h, independently of the C code: np.interp for
interp, block means / explicit windows for pool-to, np.fft for dft), and
DFT-CCA against a direct complex CCA per frequency on np.fft.fft2
coefficients (complex covariance, complex Hermitian whitening by eigh).

Tolerances: the inputs are float64 (or float32 / float16 whose rounded
values are what the reference gets), and simrep does the same arithmetic in
another order, so 1e-9 separates round-off from any misread element (which
moves these measures by > 1e-3 on these sizes).  DFT-CCA goes through the
real 2k x 2k embedding of the complex matrices in C and through complex
LAPACK here: the same 1e-9.
"""

import numpy as np
import pytest

from conftest import assert_error, compare, ref, run, write_npy

TOL = 1e-9
LINEAR = "cca,cca_r2,svcca,pwcca,cka,cka_debiased,procrustes"


def conv_pair(n=40, h=4, w=5, p=6, q=5, seed=0):
    """NHWC maps x (n, h, w, p) and y (n, h, w, q) related through channels."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, p))
    y = np.einsum("nhwc,cd->nhwd", x, rng.standard_normal((p, q))) + 0.7 * rng.standard_normal((n, h, w, q))
    return x, y + 0.2


def check(j, x2, y2, measures=LINEAR, tol=TOL):
    for m in measures.split(","):
        expect = ref.compute(m, x2, y2)["similarity"]
        assert abs(j["measures"][m]["similarity"] - expect) < tol, (m, j["measures"][m], expect)


def to_nchw(a):
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2))


# ------------------------------------------------------------- conv modes

@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
@pytest.mark.parametrize("fortran", [False, True])
@pytest.mark.parametrize("mode", ["positions", "pool", "flatten"])
def test_conv_modes(tmp_path, layout, fortran, mode):
    # flatten has 120 features: n = 600 keeps the CCA well conditioned
    x, y = conv_pair(n=600 if mode == "flatten" else 40)
    n, h, w, p = x.shape
    if mode == "positions":
        x2, y2 = x.reshape(-1, p), y.reshape(-1, y.shape[3])
    elif mode == "pool":
        x2, y2 = x.mean(axis=(1, 2)), y.mean(axis=(1, 2))
    else:
        xs, ys = (x, y) if layout == "nhwc" else (to_nchw(x), to_nchw(y))
        x2, y2 = xs.reshape(n, -1), ys.reshape(n, -1)
    fx, fy = (x, y) if layout == "nhwc" else (to_nchw(x), to_nchw(y))
    px = write_npy(tmp_path / "x.npy", fx, fortran=fortran)
    py = write_npy(tmp_path / "y.npy", fy, fortran=fortran)
    j = compare(px, py, "--conv", layout, "--conv-mode", mode, measures=LINEAR)
    assert j["n"] == x2.shape[0]
    assert j["x"]["features"] == x2.shape[1] and j["x"]["shape"] == list(fx.shape)
    check(j, x2, y2)


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_conv_dtypes_and_blocks(tmp_path, dtype):
    """Blocks of the CLI (8192 rows here: positions of 2,048 images of
    2 x 2) end inside and between images; the values are the reference's on
    the dtype-rounded data."""
    x, y = conv_pair(n=2500, h=2, w=2, p=3, q=2, seed=1)
    xr, yr = x.astype(dtype), y.astype(dtype)
    px = write_npy(tmp_path / "x.npy", to_nchw(xr))
    py = write_npy(tmp_path / "y.npy", to_nchw(yr))
    j = compare(px, py, "--conv", "nchw", measures="cca,cka")
    check(j, xr.astype(np.float64).reshape(-1, 3), yr.astype(np.float64).reshape(-1, 2), "cca,cka")


def test_conv_errors(tmp_path):
    x, y = conv_pair(h=4, w=4)
    px = write_npy(tmp_path / "x.npy", x)
    r = run("compare", px, px)
    assert_error(r, 1, names=px, contains=["4-D", "(40, 4, 4, 6)", "--conv nhwc"])
    small = write_npy(tmp_path / "small.npy", x[:, :2, :2, :])
    r = run("compare", px, small, "--conv", "nhwc")
    assert_error(r, 1, contains=["small.npy", "x.npy", "(40, 2, 2, 6)", "(40, 4, 4, 6)", "--resize"])
    r = run("compare", px, px, "--resize", "interp")
    assert_error(r, 2, contains=["--conv"])
    r = run("compare", px, px, "--conv", "nhwc", "-m", "cca", "--conv-mode", "bogus")
    assert_error(r, 2, contains=["positions"])
    two = write_npy(tmp_path / "two.npy", x.reshape(40, -1))
    r = run("compare", two, two, "-m", "dftcca")
    assert_error(r, 2, contains=["--conv"])


# ----------------------------------------------------------------- resize

def interp_np(a, oh, ow):
    """svcca tutorial's interp2d upsampling: grid 0..h-1 sampled at i*h/oh,
    edge values beyond the last point (np.interp clamps the same way)."""
    n, h, w, c = a.shape
    sh = np.arange(oh) * h / oh
    sw = np.arange(ow) * w / ow
    t = np.apply_along_axis(lambda v: np.interp(sh, np.arange(h), v), 1, a)
    return np.apply_along_axis(lambda v: np.interp(sw, np.arange(w), v), 2, t)


def pool_np(a, oh, ow):
    """Adaptive average pooling windows [floor(i h / oh), ceil((i + 1) h / oh))."""
    n, h, w, c = a.shape
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        lo, hi = (i * h) // oh, -((-(i + 1) * h) // oh)
        for k in range(ow):
            lo2, hi2 = (k * w) // ow, -((-(k + 1) * w) // ow)
            out[:, i, k, :] = a[:, lo:hi, lo2:hi2, :].mean(axis=(1, 2))
    return out


def kept_index(n, m):
    """fft_resize's kept frequencies of an n-point axis for size m, in np.fft order."""
    f = np.fft.fftfreq(n, d=1.0 / n)
    return np.flatnonzero((f >= -m / 2.0) & (f < m / 2.0))


def dft_np(a, oh, ow):
    n, h, w, c = a.shape
    f = np.fft.fft2(a, axes=(1, 2))
    f = f[:, kept_index(h, oh)][:, :, kept_index(w, ow)]
    return np.real(np.fft.ifft2(f, axes=(1, 2))) * (oh * ow) / (h * w)


def test_resize_helpers_agree_where_they_must():
    """The numpy definitions themselves: integer-ratio adaptive pooling is
    block averaging, and every method is the identity at the same size."""
    a = np.random.default_rng(3).standard_normal((2, 6, 4, 3))
    assert np.allclose(pool_np(a, 3, 2), a.reshape(2, 3, 2, 2, 2, 3).mean(axis=(2, 4)))
    for fn in (interp_np, pool_np, dft_np):
        assert np.allclose(fn(a, 6, 4), a)


@pytest.mark.parametrize("method,big,small", [
    ("interp", (6, 6), (3, 3)), ("interp", (7, 5), (3, 4)),
    ("pool-to", (6, 6), (3, 3)), ("pool-to", (7, 5), (3, 4)),
    ("dft", (6, 6), (4, 4)), ("dft", (7, 5), (3, 4)), ("dft", (8, 8), (5, 5)),
])
@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
def test_resize(tmp_path, method, big, small, layout):
    rng = np.random.default_rng(4)
    n, p, q = 90, 3, 2
    xb = rng.standard_normal((n,) + big + (p,))
    ys = rng.standard_normal((n,) + small + (q,))
    if method == "interp":
        target = big
        x2 = xb
        y2 = interp_np(ys, *target)
    else:
        target = small
        x2 = (pool_np if method == "pool-to" else dft_np)(xb, *target)
        y2 = ys
    # tie y to x after resizing so the measures are far from trivial
    y2 = y2 + 0.5 * x2[..., :q] if method != "interp" else y2
    if method != "interp":
        ys = y2
    else:
        xb = xb + 0.5 * np.concatenate([y2, y2[..., :1]], axis=3)
        x2 = xb
    fx, fy = (xb, ys) if layout == "nhwc" else (to_nchw(xb), to_nchw(ys))
    px, py = write_npy(tmp_path / "x.npy", fx), write_npy(tmp_path / "y.npy", fy)
    j = compare(px, py, "--conv", layout, "--resize", method, measures="cca,cka,procrustes")
    assert j["n"] == n * target[0] * target[1]
    check(j, x2.reshape(-1, p), y2.reshape(-1, q), "cca,cka,procrustes")
    # the same with the inputs swapped: the resized side follows the sizes
    j = compare(py, px, "--conv", layout, "--resize", method, measures="cka")
    check(j, y2.reshape(-1, q), x2.reshape(-1, p), "cka")


def test_resize_with_pool_and_flatten(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((50, 4, 4, 3))
    y = rng.standard_normal((50, 2, 2, 2)) + pool_np(x, 2, 2)[..., :2]
    px, py = write_npy(tmp_path / "x.npy", x), write_npy(tmp_path / "y.npy", y)
    j = compare(px, py, "--conv", "nhwc", "--resize", "pool-to", "--conv-mode", "flatten", measures="cca,cka")
    check(j, pool_np(x, 2, 2).reshape(50, -1), y.reshape(50, -1), "cca,cka")
    j = compare(px, py, "--conv", "nhwc", "--conv-mode", "pool", measures="cka")  # no resize needed
    check(j, x.mean(axis=(1, 2)), y.mean(axis=(1, 2)), "cka")


# -------------------------------------------------------------- sequences

def seq_pair(n=80, t=5, d=4, e=3, seed=6):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, t, d)) + np.linspace(0, 1, t)[None, :, None]
    mix = rng.standard_normal((d, e))
    noise = np.linspace(0.2, 3.0, t)[None, :, None]  # similarity falls with t
    y = np.einsum("ntd,de->nte", x, mix) + noise * rng.standard_normal((n, t, e))
    return x, y


@pytest.mark.parametrize("fortran", [False, True])
def test_sequence_modes(tmp_path, fortran):
    x, y = seq_pair()
    n, t, d = x.shape
    px = write_npy(tmp_path / "x.npy", x, fortran=fortran)
    py = write_npy(tmp_path / "y.npy", y, fortran=fortran)
    j = compare(px, py, "--sequence", "flatten", measures=LINEAR)
    assert j["n"] == n * t
    check(j, x.reshape(-1, d), y.reshape(-1, 3))
    j = compare(px, py, "--sequence", "last", measures=LINEAR)
    check(j, x[:, -1], y[:, -1])
    j = compare(px, py, "--sequence", "first", measures=LINEAR)
    check(j, x[:, 0], y[:, 0])
    j = compare(px, py, "--sequence", "mean", measures=LINEAR)
    check(j, x.mean(axis=1), y.mean(axis=1))
    j = compare(px, py, "--sequence", "per-step", measures=LINEAR + ",cka_rbf")
    assert j["n"] == n
    for m in (LINEAR + ",cka_rbf").split(","):
        curve = [ref.compute(m, x[:, s], y[:, s])["similarity"] for s in range(t)]
        got = j["measures"][m]
        assert len(got["per_step"]) == t and len(got["per_step_distance"]) == t
        assert np.allclose(got["per_step"], curve, atol=TOL, rtol=0), (m, got["per_step"], curve)
        assert abs(got["similarity"] - np.mean(curve)) < TOL
        assert abs(got["distance"] - np.mean(got["per_step_distance"])) < TOL
    # the curve falls, as built
    assert j["measures"]["cca"]["per_step"][0] > j["measures"]["cca"]["per_step"][-1]


def test_sequence_table_and_unequal_t(tmp_path):
    x, y = seq_pair()
    px = write_npy(tmp_path / "x.npy", x)
    short = write_npy(tmp_path / "short.npy", y[:, :3])
    for mode in ("flatten", "per-step"):
        r = run("compare", px, short, "--sequence", mode)
        assert_error(r, 1, contains=["short.npy", "T = 3", "T = 5", "last or mean"])
    j = compare(px, short, "--sequence", "last", measures="cka")
    check(j, x[:, -1], y[:, 2], "cka")
    j = compare(px, short, "--sequence", "mean", measures="cka")
    check(j, x.mean(axis=1), y[:, :3].mean(axis=1), "cka")
    r = run("compare", px, px, "--sequence", "per-step", "-m", "cca")
    assert r.code == 0 and "per step" in r.stdout and "mean of 5 steps" in r.stdout, r
    r = run("compare", px, px)
    assert_error(r, 1, names=px, contains=["3-D", "--sequence"])


# ---------------------------------------------------------------- DFT-CCA

def complex_cca(a, b, eps=1e-10):
    """docs/measures.md's CCA with complex Hermitian covariances (np.cov conjugates)."""
    def kept(z):
        v = np.var(z, axis=0, ddof=1)
        return v > eps * v.max() if v.max() > 0 else np.zeros(z.shape[1], bool)
    ka, kb = kept(a), kept(b)
    if not ka.any() or not kb.any():
        return np.zeros(0)
    a, b = a[:, ka], b[:, kb]
    c = np.cov(np.concatenate([a, b], axis=1).T)
    p = a.shape[1]
    cxx, cxy, cyy = c[:p, :p], c[:p, p:], c[p:, p:]
    sx, sy = np.max(np.abs(cxx)), np.max(np.abs(cyy))
    cxx, cyy, cxy = cxx / sx, cyy / sy, cxy / np.sqrt(sx * sy)

    def invsqrt(m):
        lam, v = np.linalg.eigh(m)
        lam = np.maximum(lam, 0)
        return (v / np.sqrt(lam + eps)) @ v.conj().T
    arr = invsqrt(cxx) @ cxy @ invsqrt(cyy)
    return np.linalg.svd(arr, compute_uv=False)[:min(a.shape[1], b.shape[1])]


def dftcca_np(x, y):
    """fourier_ccas: fft2 over space, fft_resize to the common low
    frequencies, a CCA per (i, j) of the common grid; the mean of all."""
    h, w = min(x.shape[1], y.shape[1]), min(x.shape[2], y.shape[2])
    fx = np.fft.fft2(x, axes=(1, 2))[:, kept_index(x.shape[1], h)][:, :, kept_index(x.shape[2], w)]
    fy = np.fft.fft2(y, axes=(1, 2))[:, kept_index(y.shape[1], h)][:, :, kept_index(y.shape[2], w)]
    per = {}
    for i in range(h):
        for k in range(w):
            u = i if i < (h + 1) // 2 else i - h
            v = k if k < (w + 1) // 2 else k - w
            per[(u, v)] = complex_cca(fx[:, i, k, :], fy[:, i, k, :])
    allc = np.concatenate(list(per.values()))
    return allc.mean(), per


def dft_maps(n=70, h=4, w=4, p=3, q=2, seed=7):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, p))
    # y: a spatial convolution of x's channels plus noise (so frequencies differ)
    k = rng.standard_normal((3, 3, p, q)) * 0.5
    y = np.zeros((n, h, w, q))
    for a in range(3):
        for b in range(3):
            y += np.einsum("nhwc,cd->nhwd", np.roll(x, (a - 1, b - 1), axis=(1, 2)), k[a, b])
    return x, y + 0.8 * rng.standard_normal((n, h, w, q))


def check_dft(j, x, y):
    expect, per = dftcca_np(x, y)
    got = j["measures"]["dftcca"]
    assert abs(got["similarity"] - expect) < TOL, (got["similarity"], expect)
    assert abs(got["distance"] - (1 - expect)) < TOL
    seen = 0
    for fr in got["per_frequency"]:
        rho = per[(fr["u"], fr["v"])]
        assert np.allclose(fr["coefs"], rho, atol=TOL, rtol=0), (fr, rho)
        seen += fr["count"]
    assert seen == len(per)
    assert got["total"] == sum(len(v) for v in per.values())


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (4, 6)])
def test_dftcca_vs_numpy(tmp_path, shape):
    x, y = dft_maps(h=shape[0], w=shape[1])
    px, py = write_npy(tmp_path / "x.npy", x), write_npy(tmp_path / "y.npy", y)
    j = compare(px, py, "--conv", "nhwc", "--coefs", measures="dftcca")
    check_dft(j, x, y)
    assert j["measures"]["dftcca"]["grid"] == list(shape)
    # the same maps stored NCHW in Fortran order
    px2 = write_npy(tmp_path / "x2.npy", to_nchw(x), fortran=True)
    py2 = write_npy(tmp_path / "y2.npy", to_nchw(y))
    j2 = compare(px2, py2, "--conv", "nchw", measures="dftcca")
    assert abs(j2["measures"]["dftcca"]["similarity"] - j["measures"]["dftcca"]["similarity"]) < TOL


def test_dftcca_different_sizes(tmp_path):
    x, _ = dft_maps(h=6, w=6, seed=8)
    y = dft_np(x, 4, 4)[..., :2] + 0.5 * np.random.default_rng(9).standard_normal((70, 4, 4, 2))
    px, py = write_npy(tmp_path / "x.npy", x), write_npy(tmp_path / "y.npy", y)
    j = compare(px, py, "--conv", "nhwc", "--coefs", measures="dftcca")
    check_dft(j, x, y)
    assert j["measures"]["dftcca"]["grid"] == [4, 4]


def test_dftcca_shift_invariance(tmp_path):
    x, y = dft_maps(seed=10)
    px, py = write_npy(tmp_path / "x.npy", x), write_npy(tmp_path / "y.npy", y)
    base = compare(px, py, "--conv", "nhwc", measures="dftcca")["measures"]["dftcca"]["similarity"]
    for sx, sy in [((1, 2), (1, 2)), ((3, 0), (0, 1))]:  # both, and each its own shift
        qx = write_npy(tmp_path / "sx.npy", np.roll(x, sx, axis=(1, 2)))
        qy = write_npy(tmp_path / "sy.npy", np.roll(y, sy, axis=(1, 2)))
        got = compare(qx, qy, "--conv", "nhwc", measures="dftcca")["measures"]["dftcca"]["similarity"]
        assert abs(got - base) < TOL
    # while the positions CCA does change under a shift of one side
    qx = write_npy(tmp_path / "sx.npy", np.roll(x, (1, 2), axis=(1, 2)))
    a = compare(px, py, "--conv", "nhwc", measures="cca")["measures"]["cca"]["similarity"]
    b = compare(qx, py, "--conv", "nhwc", measures="cca")["measures"]["cca"]["similarity"]
    assert abs(a - b) > 1e-3


def test_dftcca_in_all_and_table(tmp_path):
    x, y = dft_maps(seed=11)
    px, py = write_npy(tmp_path / "x.npy", x), write_npy(tmp_path / "y.npy", y)
    j = compare(px, py, "--conv", "nhwc", measures="all+kernel")
    assert "dftcca" in j["measures"] and "cca" in j["measures"]
    r = run("compare", px, py, "--conv", "nhwc", "-m", "dftcca")
    assert r.code == 0 and "dftcca" in r.stdout and "4 x 4 frequencies" in r.stdout, r
    # constant maps: every non-DC frequency is dead, DC alone has the CCA
    const = np.repeat(np.repeat(x[:, :1, :1, :], 4, axis=1), 4, axis=2)
    pc = write_npy(tmp_path / "c.npy", const)
    j = compare(pc, pc, "--conv", "nhwc", measures="dftcca")
    d = j["measures"]["dftcca"]
    assert abs(d["similarity"] - 1) < 1e-9 and d["total"] == 3
    assert sum(1 for f in d["per_frequency"] if f["k"] > 0) == 1
