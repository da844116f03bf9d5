"""Drop-in replacements of the google/svcca reference code.

    from simrep.compat import cca_core, pwcca

cca_core.get_cca_similarity and pwcca.compute_pwcca keep the reference's
signatures, return structures and values (see each module for the few
deliberate differences: no NaN, clear errors, either argument order).
"""

from . import cca_core, pwcca  # noqa: F401
