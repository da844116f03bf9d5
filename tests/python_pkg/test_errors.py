"""Errors: ValueError / MemoryError / simrep.Error, with the library's message."""

import numpy as np
import pytest

import simrep
from simrep import _errors, _native
from conftest import random_pair


def test_out_of_memory_is_a_memory_error():
    # (p+q)^2 doubles = 2.9 TB for the scatter: the allocation fails.
    with pytest.raises(MemoryError, match="out of memory allocating") as e:
        simrep.Moments(300000, 300000)
    assert isinstance(e.value, simrep.Error) and e.value.status == _native.E_NOMEM


def test_bad_arguments_are_value_errors():
    x, y = random_pair(41, n=100)
    cases = [
        (dict(measures=["cca", "nope"]), "unknown measure 'nope'"),
        (dict(measures=[]), "no measures given"),
        # The library's messages (simrep_options_set), as the CLI's.
        (dict(epsilon=-1), r"epsilon must be a number in \[0, 1\) \(got -1\)"),
        (dict(svcca_keep=1.5), r"svcca_keep must be a fraction in \(0, 1\]"),
        (dict(svcca_keep=0.9, svcca_dims=3), "alternatives"),
        (dict(svcca_dims=0), r"svcca_dims must be a whole number in \[1, 10\^15\)"),
        (dict(svcca_dims=2.5), r"svcca_dims must be a whole number in \[1, 10\^15\)"),
        (dict(svcca_rule="median"), "svcca_rule must be variance or singular-values"),
        (dict(rbf_sigma=0), r"rbf_sigma must be a number in \[1e-4, 1e4\]"),
        (dict(pwcca_variant="x"), "pwcca_variant must be google or ding"),
        (dict(shape_alpha=1.5), r"shape_alpha must be a number in \[0, 1\]"),
        (dict(ridge=-1), "ridge must be a number >= 0"),
        (dict(epsilon=float("nan")), r"epsilon must be a number in \[0, 1\)"),
        (dict(rbf_sigma="abc"), r"rbf_sigma must be a number in \[1e-4, 1e4\]"),
        (dict(svcca_dims=True), "svcca_dims takes a number or a name"),
    ]
    for kwargs, msg in cases:
        with pytest.raises(ValueError, match=msg) as e:
            simrep.compare(x, y, **kwargs)
        assert isinstance(e.value, simrep.Error) and e.value.status == _native.E_INVALID
    with pytest.raises(TypeError):
        simrep.compare(x, y, threshold=3)  # not an option: Python's own error


def test_shapes():
    x, y = random_pair(42, n=100)
    with pytest.raises(ValueError, match=r"y has 99 samples but x has 100; rows of x and y must come from the same inputs$") as e:
        simrep.compare(x, y[:99])
    assert e.value.status == _native.E_SHAPE
    with pytest.raises(ValueError, match=r"x has shape \(100,\): expected a 2-D"):
        simrep.compare(x[:, 0], y)
    with pytest.raises(ValueError, match=r"y has shape \(100, 3, 3\).*reshape"):
        simrep.compare(x, y.reshape(100, 3, 3))
    with pytest.raises(ValueError, match="x has no features"):
        simrep.compare(x[:, :0], y)
    with pytest.raises(ValueError, match="dtype complex128 is not supported"):
        simrep.compare(x.astype(complex), y)


def test_conv_and_sequence_options_check_their_inputs():
    x, y = random_pair(43)
    for kw, msg in (({"conv": "nhwc"}, "takes 4-D maps"), ({"sequence": "per-step"}, "takes \\(N, T, D\\)"),
                    ({"conv": "nhcw"}, "conv is 'nhwc' or 'nchw'"), ({"conv_mode": "pool"}, "give conv=")):
        with pytest.raises(ValueError, match=msg):
            simrep.compare(x, y, **kw)


def test_library_errors_carry_the_message_and_status():
    x, y = random_pair(44, n=100)
    bad = x.copy()
    bad[17, 3] = np.nan
    with pytest.raises(simrep.Error, match=r"^x: NaN at row 17, column 3") as e:
        simrep.compare(bad, y, ["cca"])
    assert e.value.status == _native.E_NONFINITE and e.value.status_name == "NaN or Inf in the data"
    assert not isinstance(e.value, (ValueError, MemoryError))
    with pytest.raises(simrep.Error, match="^y: Inf at row 4, column 0$") as e:
        yb = y.copy()
        yb[4, 0] = np.inf
        simrep.compare(x, yb, ["cka_rbf"])
    assert (e.value.input, e.value.row, e.value.column) == (1, 4, 0)  # a rows measure says where too
    with pytest.raises(simrep.Error, match="every feature is constant, so CKA is undefined") as e:
        simrep.compare(x, np.ones_like(y), ["cka"])
    assert e.value.status == _native.E_DEGENERATE
    with pytest.raises(simrep.Error, match="cka_debiased needs n >= 4"):
        simrep.compare(x[:3], y[:3], ["cka_debiased"])


def test_structured_errors():
    """Which input, file, bytes and cell failed come from the library
    (simrep_ctx_error) as attributes; messages name the inputs as the caller
    named them (simrep_ctx_set_names): no message is parsed or rewritten."""
    x, y = random_pair(43, n=60)
    y[7, 2] = np.nan
    with pytest.raises(simrep.Error) as e:
        simrep.compare(x, y, ["cka"])
    assert (e.value.input, e.value.row, e.value.column) == (1, 7, 2)
    assert e.value.detail == "NaN at row 7, column 2" and str(e.value) == "y: NaN at row 7, column 2"
    m = simrep.Moments(x.shape[1], y.shape[1])
    with pytest.raises(simrep.Error, match="^y_block: NaN at row 7, column 2$") as e:
        m.update(x, y)
    assert e.value.input == 1
    with pytest.raises(ValueError, match="^x_block has 60 rows but y_block has 59$") as e:
        m.update(x, y[:59])
    assert e.value.input == 1
    # A matrix names its inputs (here the third) by the caller's names.
    z = x.copy()
    z[3, 0] = np.inf
    with pytest.raises(simrep.Error, match="^third: Inf at row 3, column 0$") as e:
        simrep.matrix([x, x[:, :5], z], names=["first", "second", "third"], measures=["cka"])
    assert e.value.input == 2
    # A constant side of a pair of the matrix: the pair's input, by name.
    with pytest.raises(simrep.Error, match="^second: every feature is constant") as e:
        simrep.matrix([x, np.ones_like(x), x[:, :4]], names=["first", "second", "third"], measures=["cka"])
    assert e.value.input == 1
    # compat.pwcca names the reference's arguments from the input index.
    from simrep.compat import pwcca
    with pytest.raises(simrep.Error, match="^acts2: NaN at row 7, column 2$"):
        pwcca.compute_pwcca(x.T, y.T)


def test_structured_errors_of_files(tmp_path):
    """A file shorter than its header: the file and the bytes that could not
    be read, as the library reports them."""
    x, _ = random_pair(44, n=50)
    np.save(tmp_path / "a.npy", x)
    raw = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "short.npy").write_bytes(raw[:-100])
    with pytest.raises(simrep.Error) as e:
        simrep.matrix([str(tmp_path / "a.npy"), str(tmp_path / "short.npy")], measures=["cka"])
    assert e.value.file == str(tmp_path / "short.npy")
    assert e.value.byte_range == (len(raw) - 100, len(raw))  # the bytes the header promises and the file lacks
    assert "truncated" in e.value.detail and not e.value.detail.startswith(str(tmp_path))


def test_from_status():
    e = _errors.from_status(_native.E_NOMEM, "", None)
    assert isinstance(e, MemoryError) and str(e) == "out of memory"
    assert type(_errors.from_status(_native.E_NUMERIC, "dgesdd failed")) is simrep.Error
