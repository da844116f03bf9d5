"""Token masks (--mask) on padded (N, T, D) sequences through `simrep
compare` and `simrep matrix`, against numpy on the valid tokens: flatten
(every token a sample, in (n, t) order: numpy's x[mask]), first / last
(the first / last valid step of each sequence, whatever the padding side)
and mean (over the valid steps).  Padding holds large garbage, so a read of
a padded step moves every measure far beyond the tolerance (1e-9: the same
float64 arithmetic in another order, as in test_conv_sequence.py).  Then the
mask files a user gets wrong, each with its message: wrong shape, values
other than 0/1, all padding, lengths past T, a sequence without a token
where one is needed, per-step.
"""

import numpy as np
import pytest

from conftest import assert_error, compare, ref, run, write_npy, write_safetensors

TOL = 1e-9
LINEAR = "cca,cca_r2,svcca,pwcca,cka,cka_debiased,procrustes"


def padded_pair(n=70, t=6, d=4, e=3, seed=5):
    """x (n, t, d), y (n, t, e) related token by token, lengths 1..t (right
    padding), the padded steps filled with garbage of scale 1e3."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, t + 1, size=n)
    lengths[:3] = (t, 1, 2)
    x = rng.standard_normal((n, t, d)) + np.linspace(0, 1, t)[None, :, None]
    y = np.tanh(x @ rng.standard_normal((d, e))) + 0.5 * rng.standard_normal((n, t, e))
    valid = np.arange(t)[None, :] < lengths[:, None]
    x[~valid] = 1e3 * rng.standard_normal(((~valid).sum(), d))
    y[~valid] = 1e3 * rng.standard_normal(((~valid).sum(), e))
    return x, y, valid, lengths


def by_mode(a, valid, mode):
    """The reference: a's valid tokens under mode, from the boolean mask."""
    if mode == "flatten":
        return a[valid]
    t = np.arange(valid.shape[1])
    if mode == "first":
        return a[np.arange(len(a)), np.where(valid, t, valid.shape[1]).min(axis=1)]
    if mode == "last":
        return a[np.arange(len(a)), np.where(valid, t, -1).max(axis=1)]
    return (a * valid[:, :, None]).sum(axis=1) / valid.sum(axis=1)[:, None]


def check(j, x2, y2, measures=LINEAR):
    for m in measures.split(","):
        expect = ref.compute(m, x2, y2)["similarity"]
        assert abs(j["measures"][m]["similarity"] - expect) < TOL, (m, j["measures"][m], expect)


def shuffled_mask(valid, seed=9):
    """A permutation of the steps of each row: applied to the activations
    and the mask together, it moves the tokens to random positions (left
    padding and gaps)."""
    rng = np.random.default_rng(seed)
    perm = np.array([rng.permutation(valid.shape[1]) for _ in range(len(valid))])
    return perm


@pytest.mark.parametrize("kind", ["bool", "uint8", "int64", "lengths", "lengths-npz", "safetensors", "gaps"])
def test_mask_modes_equal_numpy(tmp_path, kind):
    x, y, valid, lengths = padded_pair()
    if kind == "gaps":
        perm = shuffled_mask(valid)
        rows = np.arange(len(x))[:, None]
        x, y, valid = x[rows, perm], y[rows, perm], valid[rows, perm]
    px = write_npy(tmp_path / "x.npy", x, fortran=kind == "uint8")
    py = write_npy(tmp_path / "y.npy", y.astype(np.float32), fortran=kind == "int64")
    y = y.astype(np.float32).astype(np.float64)
    if kind in ("bool", "gaps"):
        mask = write_npy(tmp_path / "mask.npy", valid)
    elif kind == "uint8":
        mask = write_npy(tmp_path / "mask.npy", valid.astype(np.uint8), fortran=True)
    elif kind == "int64":  # a tokenizer's attention_mask
        mask = write_npy(tmp_path / "mask.npy", valid.astype(np.int64))
    elif kind == "lengths":
        mask = write_npy(tmp_path / "len.npy", lengths.astype(np.int32))
    elif kind == "lengths-npz":
        np.savez_compressed(tmp_path / "batch.npz", input_ids=np.zeros(3), lengths=lengths)
        mask = str(tmp_path / "batch.npz") + ":lengths"
    else:
        mask = str(write_safetensors(tmp_path / "m.safetensors", {"attention_mask": ("BOOL", valid)})) + \
            ":attention_mask"
    for mode in ("flatten", "first", "last", "mean"):
        j = compare(px, py, "--sequence", mode, "--mask", mask, measures=LINEAR)
        assert j["n"] == (valid.sum() if mode == "flatten" else len(x))
        check(j, by_mode(x, valid, mode), by_mode(y, valid, mode))


def test_mask_table_rbf_and_different_t(tmp_path):
    """The table names the mask; cka_rbf reads the same token rows; inputs
    of different T pair up under a lengths mask (the same tokens)."""
    x, y, valid, lengths = padded_pair(n=40)
    px = write_npy(tmp_path / "x.npy", x)
    py = write_npy(tmp_path / "y.npy", y)
    mask = write_npy(tmp_path / "len.npy", lengths)
    j = compare(px, py, "--sequence", "flatten", "--mask", mask, measures="cka,cka_rbf")
    check(j, x[valid], y[valid], "cka,cka_rbf")
    assert "masked by" in j["x"]["layout"] and "tokens" in j["x"]["layout"], j["x"]
    r = run("compare", px, py, "--sequence", "mean", "--mask", mask)
    assert r.code == 0 and "masked by" in r.stdout and "len.npy" in r.stdout, r
    # a longer y (more padding after every sequence) gives the same tokens
    longer = np.concatenate([y, 7e2 * np.ones((len(y), 3, y.shape[2]))], axis=1)
    pl = write_npy(tmp_path / "long.npy", longer)
    j = compare(px, pl, "--sequence", "flatten", "--mask", mask, measures="cka")
    check(j, x[valid], y[valid], "cka")
    r = run("compare", px, pl, "--sequence", "flatten", "-m", "cka")
    assert_error(r, 1, contains=["T = 9", "T = 6", "--mask"])


def test_mask_matrix_equals_numpy(tmp_path):
    x, y, valid, lengths = padded_pair(n=60)
    rng = np.random.default_rng(2)
    z = x @ rng.standard_normal((4, 5)) + rng.standard_normal((60, 6, 5))
    for name, a in (("x", x), ("y", y), ("z", z)):
        write_npy(tmp_path / (name + ".npy"), a)
    man = tmp_path / "m.csv"
    man.write_text("name,path\nx,x.npy\ny,y.npy\nz,z.npy\n")
    mask = write_npy(tmp_path / "mask.npy", valid)
    arrays = [x, y, z]
    for mode in ("flatten", "last", "mean"):
        r = run("matrix", "--manifest", man, "-m", "cka,pwcca", "--format", "json", "--sequence", mode,
                "--mask", mask)
        d = r.json()
        for m in ("cka", "pwcca"):
            sim = np.array(d["measures"][m]["similarity"])
            for i in range(3):
                for k in range(i + 1, 3):
                    want = ref.compute(m, by_mode(arrays[i], valid, mode), by_mode(arrays[k], valid, mode))
                    assert abs(sim[i, k] - want["similarity"]) < TOL, (mode, m, i, k)


def test_mask_errors(tmp_path):
    x, y, valid, lengths = padded_pair(n=30)
    px = write_npy(tmp_path / "x.npy", x)
    py = write_npy(tmp_path / "y.npy", y)

    def err(mask_array, code, *contains, mode="flatten", name="mask.npy"):
        m = write_npy(tmp_path / name, mask_array) if mask_array is not None else tmp_path / name
        r = run("compare", px, py, "--sequence", mode, "--mask", m)
        assert_error(r, code, names=m.name, contains=contains)

    err(valid[:, :5], 1, "(N, T) = (30, 5)", "x.npy", "(30, 6, 4)")
    err(valid[:29], 1, "(N, T) = (29, 6)")
    err(lengths[:20], 1, "20 lengths", "one length per sequence")
    err(lengths + 1, 1, "length 7 at", "T = 6 steps")
    bad = valid.astype(np.uint8)
    bad[4, 2] = 2
    err(bad, 1, "value 2 at [4, 2]", "1 for a token and 0 for padding")
    half = valid.astype(np.float32)
    half[0, 0] = 0.5
    err(half, 1, "value 0.5 at [0, 0]")
    err(np.zeros_like(valid), 1, "every position is padding")
    err(valid[:, :, None], 1, "a mask is (N, T)", "(30, 6, 1)")
    err(np.zeros(30, dtype=np.complex64), 1, "dtype", "not a mask's")
    err(-lengths, 1, "length -")
    err(None, 1, "cannot open", name="missing.npy")
    holes = valid.copy()
    holes[3] = False
    err(holes, 1, "sequence 3 has no token", "--sequence mean", mode="mean")
    j = compare(px, py, "--sequence", "flatten", "--mask", write_npy(tmp_path / "holes.npy", holes), measures="cka")
    check(j, x[holes], y[holes], "cka")  # flatten skips the empty sequence
    mask = write_npy(tmp_path / "ok.npy", valid)
    r = run("compare", px, py, "--sequence", "per-step", "--mask", mask)
    assert_error(r, 2, contains=["per-step", "flatten", "ok.npy"])
    r = run("compare", px, py, "--mask", mask)
    assert_error(r, 2, contains=["--mask", "--sequence"])
    r = run("compare", px, py, "--sequence", "mean", "--mask", mask, "--mask", mask)
    assert_error(r, 2, contains=["--mask given twice"])
    r = run("compare", px, py, "--sequence", "mean", "--mask", str(tmp_path / "b.npz") + ":attention_mask")
    assert_error(r, 1, contains=["b.npz"])
    np.savez(tmp_path / "b.npz", other=valid)
    r = run("compare", px, py, "--sequence", "mean", "--mask", str(tmp_path / "b.npz") + ":attention_mask")
    assert_error(r, 1, contains=["attention_mask", "other"])
    flat = write_npy(tmp_path / "flat.npy", y[:, 0])
    r = run("compare", px, flat, "--sequence", "flatten", "--mask", mask)
    assert_error(r, 1, contains=["samples"])
    r = run("compare", px, flat, "--sequence", "mean", "--mask", mask, "-m", "cka")  # 2-D inputs ignore it
    assert r.code == 0, r
    r = run("matrix", "--manifest", tmp_path / "none.csv", "--sequence", "mean", "--mask", tmp_path / "nope.npy")
    assert_error(r, 1, contains=["nope.npy"])
