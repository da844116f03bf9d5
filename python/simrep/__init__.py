"""simrep: how similar are two neural-network representations?

    import simrep
    simrep.compare(x, y, measures=["cca", "pwcca", "cka"])   # x: n x p, y: n x q
    m = simrep.Moments(p, q); m.update(xb, yb); ...; m.compare()
    r = simrep.matrix([a, b, c], names=[...], groups=[...], measures=["pwcca", "cka"])
    v = simrep.validate([a, b, c, d], scores=[0.9, 0.8, 0.7, 0.5])     # which measure tracks the score
    simrep.plot.heatmap(r, "pwcca").save("pwcca.svg")        # the CLI's figures (or ax=)

A thin layer over the simrep C library (ctypes over libsimrep.so, public API
only; see _native for how the library is found, SIMREP_LIBRARY overrides).
Computation runs in float64 in C with the GIL released; arrays are read in
place (float16/bfloat16/float32/float64, C/Fortran order, strided views).

Submodules: simrep.plot (figures drawn by the CLI's renderer, or into
matplotlib Axes), simrep.compat (drop-in google/svcca cca_core and pwcca),
simrep.torch (forward-hook capture of activations, streaming into Moments).
"""

from ._core import (ALL, ALL_KERNEL, CCA_FAMILY, DEFAULT_MEASURES, MEASURES, OPTIONS, Moments, SimrepWarning,  # noqa: F401
                    compare, measures, options)
from ._errors import Error, InvalidArgument, NotAvailable, OutOfMemory  # noqa: F401
from ._matrix import matrix  # noqa: F401
from ._validate import rank_test, validate  # noqa: F401
from . import plot  # noqa: F401
from ._native import lib as _lib, library_path  # noqa: F401

# The loaded library's version: SIMREP_VERSION of include/simrep.h, the one
# place it is written (setup.py gives the same to pip).
__version__ = _lib.simrep_version().decode()

__all__ = ["compare", "matrix", "validate", "rank_test", "plot", "Moments", "measures", "options", "MEASURES", "ALL", "ALL_KERNEL", "OPTIONS",
           "DEFAULT_MEASURES",
           "CCA_FAMILY", "Error",
           "InvalidArgument", "OutOfMemory", "NotAvailable", "SimrepWarning", "library_path"]
