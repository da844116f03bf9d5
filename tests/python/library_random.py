"""The library's random streams (src/stats.c's splitmix64 streams) in Python,
so the tests can draw the same bootstrap weights, permutations and rank-test
resamples as the library and check its statistics against numpy brute force.

stream(seed, s, i) is the state of stream s at index i; below(state, n)
draws an integer in [0, n) and returns the next state with it.
"""

M64 = (1 << 64) - 1


def splitmix(x):
    """One splitmix64 step: (next state, output)."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return x, z ^ (z >> 31)


def stream(seed, s, index):
    """The state that starts draw `index` of stream `s` under `seed`."""
    x = seed ^ ((s * 0xD1B54A32D192ED03) & M64)
    x, a = splitmix(x)
    x = a ^ ((index * 0x8CB92BA72F3D8DD7) & M64)
    x, _ = splitmix(x)
    return x


def below(state, n):
    """(next state, an integer in [0, n)) by the multiply-shift rule."""
    state, z = splitmix(state)
    return state, (z * n) >> 64


def draws(seed, s, index, g):
    """Multiplicities of g items drawn g times with replacement: the
    library's bootstrap (stream s = 2, index = the resample; the buckets of
    src/stats.c, the units of src/rowstats.c)."""
    import numpy as np
    st, w = stream(seed, s, index), np.zeros(g, dtype=np.int64)
    for _ in range(g):
        st, k = below(st, g)
        w[k] += 1
    return w


def permutation(seed, s, index, m):
    """A Fisher-Yates permutation of m items from stream s, never the
    identity (redrawn): stats.c's segments (s = 3), rowstats.c's units
    (s = 18)."""
    st = stream(seed, s, index)
    while True:
        sigma = list(range(m))
        for a in range(m - 1, 0, -1):
            st, j = below(st, a + 1)
            sigma[a], sigma[j] = sigma[j], sigma[a]
        if sigma != list(range(m)) or m < 2:
            return sigma
