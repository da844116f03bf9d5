"""The LAPACK failures the CLI (test_lapack_faults.py) and Python
(tests/python_pkg/test_lapack_faults.py) tests force, one per measure
family and place: (measure, SIMREP_TEST_FAIL_LAPACK, the place that fails,
the routine the message names).  x has 4 features, y 6: "dsyevd:4" is x's
eigendecomposition, "dsyevd:6" y's, "dgesdd:4x6" the pair's SVD (the CCA
family's and Procrustes'), "dpotrf" pwcca's Cholesky (its ridge retry
fails too)."""

CASES = [
    ("cca", "dsyevd:4", "x", "dsyevd"),
    ("cca", "dsyevd:6", "y", "dsyevd"),
    ("cca", "dgesdd:4x6", "pair", "dgesdd"),
    ("svcca", "dsyevd:4", "x", "dsyevd"),
    ("svcca", "dgesdd:4x6", "pair", "dgesdd"),
    ("pwcca", "dsyevd:6", "y", "dsyevd"),
    ("pwcca", "dgesdd", "pair", "dgesdd"),
    ("pwcca", "dpotrf", "pair", "dpotrf"),
    ("procrustes", "dgesdd:4x6", "pair", "dgesdd"),
    ("procrustes_angular", "dgesdd", "pair", "dgesdd"),
    ("linreg", "dsyevd:4", "x", "dsyevd"),
    ("linreg", "dsyevd:6", "y", "dsyevd"),
]
