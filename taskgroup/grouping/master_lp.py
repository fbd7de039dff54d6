"""The restricted master LP of column generation over groups (:mod:`taskgroup.grouping.colgen`).

::

    max  sum_{G,t} v_t(G) y[G,t]
    s.t. sum_G y[G,t] = 1          for every task t        (duals pi_t)
         y[G,t] <= x[G],  sum_G x[G] <= k  (duals mu),  x, y >= 0
"""

from __future__ import annotations

import numpy as np

from taskgroup.errors import SolverError
from taskgroup.grouping.cover import Group, GroupScorer

__all__ = ["master_lp"]

# HiGHS's interior point, whose crossover ends at a basic optimum: the same value and optimal duals as dual simplex
# (values equal to 1e-15 relative on the LPs of colgen at 30 and 60 tasks), but at 60 tasks, where these LPs have
# ~900-1,500 columns and dominate colgen's heuristic phase, it takes a third to a half of simplex's time (1,489
# columns: 5.6 s against 16.8 s CPU); at 30 tasks (<= 400 columns) the two are within 0.1 s
# (benchmarks/results/solvers.md, 5lp)
_METHOD = "highs-ipm"


def master_lp(scorer: GroupScorer, columns: list[Group], k: int) -> tuple[float, np.ndarray, float, np.ndarray]:
    """The restricted master LP over ``columns`` (HiGHS interior point through scipy, built as sparse arrays).

    Parameters
    ----------
    scorer : GroupScorer
        The group values.
    columns : list of frozenset of int
        The groups of the LP; together they must cover every task.
    k : int
        The most groups.

    Returns
    -------
    (float, ndarray, float, ndarray)
        The LP value, the task duals ``pi``, the dual ``mu`` of the group count, and each column's ``x``.

    Raises
    ------
    SolverError
        When HiGHS stops without an optimum.
    """
    # imported here: scipy.optimize costs ~0.6 s, which `import taskgroup` should not pay
    import scipy.optimize
    import scipy.sparse

    n, m = scorer.n, len(columns)
    group_of, task_of, gain = [], [], []
    for g, group in enumerate(columns):
        values = scorer.values(group)
        for t in group:
            if np.isfinite(values[t]):
                group_of.append(g)
                task_of.append(t)
                gain.append(values[t])
    links = len(gain)
    rows = np.arange(links)
    # variables: x (one per column), then y (one per column and task it can serve). No x <= 1: it never binds
    # usefully (y <= x and sum_G y = 1), and without it the duals (pi, mu) make sum(pi) + k * max_G P(G) equal
    # the LP value at convergence. y <= 1 is implied; a bound would take dual weight.
    linking = scipy.sparse.csr_matrix(
        (
            np.concatenate([np.ones(links), -np.ones(links), np.ones(m)]),
            (np.concatenate([rows, rows, np.full(m, links)]), np.concatenate([m + rows, group_of, np.arange(m)])),
        ),
        shape=(links + 1, m + links),
    )
    cover = scipy.sparse.csr_matrix((np.ones(links), (task_of, m + rows)), shape=(n, m + links))
    result = scipy.optimize.linprog(
        np.concatenate([np.zeros(m), -np.asarray(gain, dtype=float)]),
        A_ub=linking,
        b_ub=np.concatenate([np.zeros(links), [float(k)]]),
        A_eq=cover,
        b_eq=np.ones(n),
        bounds=(0.0, None),
        method=_METHOD,
    )
    if result.status != 0:
        raise SolverError(f"The restricted master LP stopped: {result.message}")
    # linprog minimises -V: the duals of the maximisation are the negated marginals
    return -float(result.fun), -np.asarray(result.eqlin.marginals), -float(result.ineqlin.marginals[-1]), result.x[:m]
