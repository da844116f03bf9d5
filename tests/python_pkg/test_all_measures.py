""""all" in Python is the library's rule (issue 10, item 11): the measures
linear in n; "all+kernel" adds the O(n^2) measures of the rows."""
import numpy as np

import simrep


def test_all_asks_the_library():
    rows = simrep.measures()
    assert simrep.ALL == tuple(i for i, m in rows.items() if m["time_in_n"] == 1 and m["family"] != "maps")
    assert "cka_rbf" not in simrep.ALL and "cka" in simrep.ALL
    assert simrep.ALL_KERNEL == simrep.MEASURES
    x = np.random.default_rng(2).normal(size=(40, 4))
    assert tuple(simrep.compare(x, x[:, ::-1], "all", warn=False)) == simrep.ALL
    assert tuple(simrep.compare(x, x[:, ::-1], "all+kernel", knn=3, warn=False)) == simrep.ALL_KERNEL
    assert tuple(simrep.compare(x, x[:, ::-1], ["all", "cka_rbf"], warn=False)) == simrep.ALL + ("cka_rbf",)
