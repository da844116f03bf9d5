"""Saved Moments states are checked on load (issue 10, item 6): a pickle or
state with NaN/Inf, a bad count, a negative or forged scatter, or a bad
scale exponent is refused with a message (it used to give cka = inf, and
the CCA family raised SystemError from LAPACK); merging past 2^53 samples
is refused (62 self-merges wrapped n to 0).
"""

import pickle

import numpy as np
import pytest

import simrep


def moments(p=3, q=2, n=20):
    r = np.random.default_rng(0)
    x = r.standard_normal((n, p))
    m = simrep.Moments(p, q)
    m.update(x, x[:, :q] + r.standard_normal((n, q)))
    return m


# (offset in the state of a 3 + 2 feature Moments, value): layout of
# simrep_moments_save: K, p, q, n, T (4), mean (5), U (10), scatter (25), exponents (2),
# unit roundoffs (2)
N_AT, T_AT, MEAN, U_AT, S_AT, E_AT, R_AT = 3, 4, 8, 13, 23, 48, 50
CORRUPT = [(N_AT, -1.0), (N_AT, 2.5), (N_AT, 1e17), (N_AT, np.nan), (T_AT, np.inf), (MEAN + 1, np.nan),
           (U_AT + 3, -np.inf), (S_AT, -1.0), (S_AT + 1, 1e300), (S_AT + 24, np.inf), (E_AT, 0.5), (E_AT + 1, 1e6),
           (R_AT, -2.0 ** -24), (R_AT + 1, 1e-7), (R_AT, np.nan)]


@pytest.mark.parametrize("at,value", CORRUPT)
def test_corrupt_state_refused(at, value):
    m = moments()
    state = m.state()
    assert state.size == R_AT + 2
    state[at] = value
    with pytest.raises(simrep.Error) as e:
        simrep.Moments.from_state(3, 2, state)
    assert "corrupt" in str(e.value) or "does not match" in str(e.value)
    # the same through a pickle whose state bytes were damaged
    fn, args = m.__reduce__()
    state_bytes = bytearray(args[-1])
    state_bytes[8 * at:8 * at + 8] = np.float64(value).tobytes()

    class Damaged:
        def __reduce__(self):
            return fn, args[:-1] + (bytes(state_bytes),)

    with pytest.raises(simrep.Error):
        pickle.loads(pickle.dumps(Damaged()))


def test_inf_state_never_reaches_the_measures():
    m = moments()
    s = m.state()
    s[T_AT] = np.inf
    with pytest.raises(simrep.Error) as e:
        simrep.Moments.from_state(3, 2, s).compare(["cka", "cca", "pwcca"])
    assert not isinstance(e.value, SystemError)


def test_self_merge_count_overflow():
    m = moments()
    for k in range(62):
        try:
            m.merge(m)
        except simrep.Error as e:
            assert "2^53" in str(e)
            break
    else:
        pytest.fail("62 self-merges accepted")
    assert k == 48 and m.n == 20 << 48
