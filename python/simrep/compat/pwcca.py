"""Drop-in replacement of google/svcca's pwcca.compute_pwcca.

    from simrep.compat import pwcca         # instead of: import pwcca

compute_pwcca(acts1, acts2, epsilon=0.) -> (similarity, weights, coefs), acts
neurons x datapoints, the projection-weighted CCA of Morcos et al. (2018)
with the reference's weights.  The reference only works when acts1 keeps no
more neurons than acts2 (the other branch indexes acts1 with acts2's mask
and raises IndexError); simrep computes, whatever the argument order, the
value the reference gives with the smaller layer first, so the result is
the reference's wherever the reference runs, and the same number when the
arguments are swapped (unless both keep as many neurons: then, as in the
reference, the weights come from acts1).  weights and coefs have one entry per canonical
correlation (min of the kept neurons); weights sum to 1.

epsilon, dead neurons, errors: as simrep.compat.cca_core (epsilon below
1e-15 is raised to 1e-15; a layer with every neuron dead, or NaN/Inf, is a
simrep.Error, never NaN).
"""

import numpy as np

from .._core import compare
from .. import _errors
from .cca_core import checked_acts, effective_epsilon

__all__ = ["compute_pwcca"]


def compute_pwcca(acts1, acts2, epsilon=0.):
    """(pwcca similarity, weights, canonical correlations) as the reference's compute_pwcca."""
    checked_acts(acts1, acts2)
    try:
        r = compare(acts1, acts2, ["pwcca"], features_first=True, epsilon=effective_epsilon(epsilon),
                    coefs=True, warn=False)["pwcca"]
    except _errors.Error as e:
        if e.input not in (0, 1):
            raise
        # The reference's argument names for the input at fault (the
        # library says which: simrep_ctx_error).
        raise type(e)("%s: %s" % (("acts1", "acts2")[e.input], e.detail), e.status) from None
    return np.float64(r["similarity"]), r["weights"], r["coefs"]
