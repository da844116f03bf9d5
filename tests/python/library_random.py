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
