"""Exhaustive search: the reference every other solver is tested against.

It enumerates every set of networks that fits the budget, with no pruning beyond the budget itself, so
its answer depends on nothing but the definition of the problem.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from taskgroup.errors import InstanceTooLarge
from taskgroup.solvers.instance import SelectionInstance, budget_tolerance
from taskgroup.solvers.registry import SolverResult
from taskgroup.solvers.ties import precedes

__all__ = ["solve_exhaustive", "count_subsets_bound", "MAX_SUBSETS"]

MAX_SUBSETS = 2_000_000


def count_subsets_bound(instance: SelectionInstance) -> int:
    """An upper bound on the number of network sets within the budget: ``sum_{k<=K} C(m, k)``.

    ``K`` is the largest number of networks whose cheapest ones still fit every resource.

    Parameters
    ----------
    instance : SelectionInstance
        The instance with its budget.

    Returns
    -------
    int
    """
    m = instance.m
    limit = instance.budget + budget_tolerance(instance.budget)
    k_max = m
    for r in range(instance.C.shape[1]):
        cumulative = np.cumsum(np.sort(instance.C[:, r]))
        k_max = min(k_max, int(np.searchsorted(cumulative, limit[r], side="right")))
    return sum(math.comb(m, k) for k in range(1, k_max + 1))


def solve_exhaustive(
    instance: SelectionInstance, *, time_limit: float | None = None, max_subsets: int = MAX_SUBSETS
) -> SolverResult:
    """Enumerate every network set within the budget; refuse instances with more than ``max_subsets``.

    The best set is the first in the tie rule (:mod:`taskgroup.solvers.ties`): least objective, then least
    total cost.

    Parameters
    ----------
    instance : SelectionInstance
        The instance with its budget.
    time_limit : float, optional
        Seconds; the search stops after it, without a proof.
    max_subsets : int
        The most network sets :func:`count_subsets_bound` may allow.

    Returns
    -------
    SolverResult
        Optimal (the bound is the objective) unless the time limit stopped it; ``chosen`` None when no set
        within the budget serves every task.

    Raises
    ------
    InstanceTooLarge
        More than ``max_subsets`` sets to examine.
    """
    count = count_subsets_bound(instance)
    if count > max_subsets:
        raise InstanceTooLarge(
            f"Exhaustive search would examine up to {count:,} network sets ({instance.m} candidates within the "
            f"budget), more than max_subsets={max_subsets:,}; use method='bnb' or 'ilp' for instances this size."
        )
    WL, C = instance.WL, instance.C
    limit = instance.budget + budget_tolerance(instance.budget)
    deadline = math.inf if time_limit is None else time.perf_counter() + time_limit
    unit = instance.C / instance.cost_unit
    best: list[Any] = [math.inf, math.inf, None]  # objective, total cost (tie rule), chosen
    visited = 0
    timed_out = False

    def visit(start: int, current: np.ndarray, spent: np.ndarray, chosen: list[int], total_cost: float) -> None:
        nonlocal visited, timed_out
        for j in range(start, instance.m):
            if timed_out:
                return
            total = spent + C[j]
            if np.any(total > limit):
                continue
            visited += 1
            losses = np.minimum(current, WL[j])
            chosen.append(j)
            objective = float(losses.sum())
            plan_cost = total_cost + float(unit[j].sum())
            if precedes(objective, plan_cost, best[0], best[1]):
                best[0], best[1], best[2] = objective, plan_cost, list(chosen)
            visit(j + 1, losses, total, chosen, plan_cost)
            chosen.pop()
            if time.perf_counter() > deadline:
                timed_out = True

    visit(0, np.full(instance.n, np.inf), np.zeros(C.shape[1]), [], 0.0)
    return SolverResult(best[2], optimal=not timed_out, bound=best[0] if not timed_out else -math.inf, nodes=visited)
