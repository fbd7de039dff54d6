"""The restricted master LP of column generation (taskgroup/grouping/master_lp.py): its duals are optimal.

Column generation prices with the LP's duals and bounds every selection by ``sum(pi) + k * max_G P(G)``; a
proof needs those duals to be optimal ones (the LP is degenerate, so methods may return different optimal duals).
"""

import numpy as np
import pytest

from taskgroup.grouping.cover import GroupScorer
from taskgroup.grouping.master_lp import master_lp


def profit(scorer: GroupScorer, group: frozenset[int], pi: np.ndarray) -> float:
    """P(G) = sum over the group's tasks of max(0, v_t(G) - pi_t)."""
    values = scorer.values(group)
    return float(sum(max(0.0, values[t] - pi[t]) for t in group if np.isfinite(values[t])))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("k", [2, 3, 4])
def test_the_lp_duals_are_feasible_and_close_the_duality_gap(seed, k):
    n = 14
    rng = np.random.default_rng(seed)
    values = rng.normal(0.0, 1.0, (n, n))
    np.fill_diagonal(values, 0.0)
    scorer = GroupScorer(values, True, tuple(f"t{i}" for i in range(n)))
    # a partition into k groups (colgen keeps its incumbent among the columns, so the LP is feasible), then others
    partition = [frozenset(part.tolist()) for part in np.array_split(rng.permutation(n), k)]
    others = [frozenset(rng.choice(n, size=int(rng.integers(1, 8)), replace=False).tolist()) for _ in range(150)]
    columns = list(dict.fromkeys(partition + others))
    value, pi, mu, x = master_lp(scorer, columns, k)
    # primal: at most k groups, fractionally
    assert x.min() >= -1e-9 and x.sum() <= k + 1e-7
    # dual feasibility: no column's reduced profit is positive, and mu >= 0
    assert mu >= -1e-9
    assert max(profit(scorer, g, pi) for g in columns) <= mu + 1e-7
    # strong duality: the dual objective equals the LP value, so both are optimal
    assert sum(pi) + k * mu == pytest.approx(value, rel=1e-7, abs=1e-7)
    # the LP bounds every integer selection of its columns, the partition among them
    assert value >= scorer.value(partition) - 1e-7
