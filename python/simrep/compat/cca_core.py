"""Drop-in replacement of google/svcca's cca_core.get_cca_similarity.

    from simrep.compat import cca_core      # instead of: import cca_core

Same signature, same dictionary (the 16 keys, plus cca_dirns1/2 with
compute_dirns=True), same values: acts are neurons x datapoints as in the
reference.  The covariances are accumulated by simrep's streaming moments and
the CCA is simrep_cca_details_compute, which follows the reference step by
step (rescale by max |Sigma|, drop dead neurons, (Sigma + eps I)^(-1/2),
dgesdd of Wx Sxy Wy); the reference's u, v, invsqrt matrices come back
unchanged, so every key equals the reference's to round-off.

Where it departs from the reference, deliberately:
  - epsilon = 0 (the reference's default).  The reference then keeps every
    neuron, even constant ones, inverts with np.linalg.pinv (which discards
    directions below 1e-15 of the largest) and takes an eigen square root of
    the result, which gives NaN when round-off makes an eigenvalue negative.
    Here an epsilon below EPSILON_FLOOR = 1e-15 (pinv's own cut-off) is
    raised to it: on data without (near-)constant neurons the values are the
    reference's (the 1e-15 ridge moves them by ~1e-15 / smallest rescaled
    eigenvalue); constant neurons are reported dropped in x_idxs / y_idxs
    instead of giving NaN or a spurious zero correlation.
  - A neuron is kept when its rescaled variance is > epsilon (the reference:
    >= epsilon); they differ only at exact equality.
  - A layer whose neurons are all dead: simrep.Error (the reference returns
    a dictionary of zeros with other keys).  NaN/Inf in acts: simrep.Error.
  - Shape problems raise ValueError (the reference: AssertionError), with the
    reference's two checks: equal datapoints, fewer neurons than datapoints.
  - compute_dirns=True works with compute_coefs=False (the reference raises
    NameError), and threshold=0 gives "mean" over the first correlation
    instead of the mean of an empty slice (NaN).
  - verbose is accepted and ignored: nothing is printed (the reference
    prints its progress; there are no separate steps to report here).
  - neuron_means1/2 are float64 whatever the input dtype (the reference
    returns them in the input's dtype); everything is computed in float64.
"""

import numpy as np

from .. import _arrays, _native
from .._core import Moments
from .._errors import InvalidArgument

EPSILON_FLOOR = 1e-15  # numpy pinv's default rcond: the reference's own effective cut-off at epsilon = 0

__all__ = ["get_cca_similarity", "sum_threshold", "EPSILON_FLOOR"]


def sum_threshold(array, threshold):
    """The reference's sum_threshold: the first i with sum(array[:i]) /
    sum(array) >= threshold (None if there is none)."""
    if not 0 <= threshold <= 1:
        raise InvalidArgument("threshold must be in [0, 1] (got %r)" % (threshold,))
    total = np.sum(array)
    for i in range(len(array)):
        if total > 0 and np.sum(array[:i]) / total >= threshold:
            return i
    return None


def _acts(a, name):
    arr, code = _arrays.to_array(a, name)
    if arr.ndim != 2:
        raise InvalidArgument("%s has shape %s: expected a 2-D neurons x datapoints array"
                              % (name, tuple(arr.shape)))
    return arr, code


def checked_acts(acts1, acts2):
    """Both inputs as (array, simrep dtype), with the reference's two shape
    checks (ValueError here, AssertionError there)."""
    a1, c1 = _acts(acts1, "acts1")
    a2, c2 = _acts(acts2, "acts2")
    if a1.shape[1] != a2.shape[1]:
        raise InvalidArgument("dimensions don't match: acts1 has %d datapoints, acts2 has %d (acts are neurons "
                              "x datapoints)" % (a1.shape[1], a2.shape[1]))
    for name, a in (("acts1", a1), ("acts2", a2)):
        if not a.shape[0] < a.shape[1]:
            raise InvalidArgument("%s has shape %s: input must be number of neurons by datapoints, with fewer "
                                  "neurons than datapoints" % (name, a.shape))
    return (a1, c1), (a2, c2)


def _moments(acts1, acts2):
    """Moments of the two activation matrices (neurons x datapoints), read
    in place as datapoints x neurons views; shapes checked as the reference
    does.  Returns the Moments and each input as (array, simrep dtype)."""
    (a1, c1), (a2, c2) = checked_acts(acts1, acts2)
    m = Moments(a1.shape[0], a2.shape[0])
    mx, kx = _arrays.describe(a1.T, c1)
    my, ky = _arrays.describe(a2.T, c2)
    try:
        m._update_views(mx, my, ("acts1", "acts2"))
    except BaseException:
        m.close()
        raise
    return m, (a1, c1), (a2, c2)


def effective_epsilon(epsilon):
    epsilon = float(epsilon)
    if not epsilon >= 0:
        raise InvalidArgument("epsilon must be >= 0 (got %r)" % (epsilon,))
    return max(epsilon, EPSILON_FLOOR)


def get_cca_similarity(acts1, acts2, epsilon=0., threshold=0.98, compute_coefs=True, compute_dirns=False,
                       verbose=True):
    """The CCA of acts1 (neurons1 x datapoints) and acts2 (neurons2 x
    datapoints), as google/svcca's cca_core.get_cca_similarity returns it.

    Keys: coef_x, invsqrt_xx, full_coef_x, full_invsqrt_xx, coef_y,
    invsqrt_yy, full_coef_y, full_invsqrt_yy, neuron_means1, neuron_means2
    (with compute_coefs), cca_coef1, cca_coef2, x_idxs, y_idxs, mean, sum,
    and cca_dirns1, cca_dirns2 with compute_dirns.  See the module doc for
    the few deliberate differences (epsilon = 0, errors instead of NaN)."""
    if not 0 <= threshold <= 1:
        raise InvalidArgument("threshold must be in [0, 1] (got %r)" % (threshold,))
    eps = effective_epsilon(epsilon)
    m, in1, in2 = _moments(acts1, acts2)
    try:
        d = m.cca_details(epsilon=eps)
    finally:
        m.close()
    numx, numy = d["p"], d["q"]
    x_idxs = np.zeros(numx, dtype=bool)
    x_idxs[d["kept_x"]] = True
    y_idxs = np.zeros(numy, dtype=bool)
    y_idxs[d["kept_y"]] = True

    out = {}
    coef_x = d["u"].T
    coef_y = d["vt"]
    full_coef_x = np.zeros((numx, numx))
    full_coef_x[np.ix_(x_idxs, x_idxs)] = coef_x
    full_invsqrt_xx = np.zeros((numx, numx))
    full_invsqrt_xx[np.ix_(x_idxs, x_idxs)] = d["wx"]
    full_coef_y = np.zeros((numy, numy))
    full_coef_y[np.ix_(y_idxs, y_idxs)] = coef_y
    full_invsqrt_yy = np.zeros((numy, numy))
    full_invsqrt_yy[np.ix_(y_idxs, y_idxs)] = d["wy"]
    neuron_means1 = d["mean_x"].reshape(-1, 1)
    neuron_means2 = d["mean_y"].reshape(-1, 1)
    if compute_coefs:
        out["coef_x"] = coef_x
        out["invsqrt_xx"] = d["wx"]
        out["full_coef_x"] = full_coef_x
        out["full_invsqrt_xx"] = full_invsqrt_xx
        out["coef_y"] = coef_y
        out["invsqrt_yy"] = d["wy"]
        out["full_coef_y"] = full_coef_y
        out["full_invsqrt_yy"] = full_invsqrt_yy
        out["neuron_means1"] = neuron_means1
        out["neuron_means2"] = neuron_means2

    s = d["rho"]
    idx = sum_threshold(s, threshold)
    if idx == 0:
        idx = 1  # threshold 0: the reference takes the mean of nothing (NaN)
    out["cca_coef1"] = s
    out["cca_coef2"] = s
    out["x_idxs"] = x_idxs
    out["y_idxs"] = y_idxs
    out["mean"] = (np.mean(s[:idx]), np.mean(s[:idx]))
    out["sum"] = (np.sum(s), np.sum(s))

    if compute_dirns:
        a1f = _float64(*in1)
        a2f = _float64(*in2)
        out["cca_dirns1"] = (full_coef_x @ full_invsqrt_xx) @ (a1f - neuron_means1) + neuron_means1
        out["cca_dirns2"] = (full_coef_y @ full_invsqrt_yy) @ (a2f - neuron_means2) + neuron_means2
    return out


def _float64(arr, code):
    """The activations as float64 values (the directions need the data)."""
    if code == _native.BF16:  # arr holds the 16-bit patterns
        bits = arr.astype(np.uint32) & 0xFFFF
        return (bits << 16).view(np.float32).astype(np.float64)
    return arr.astype(np.float64)
