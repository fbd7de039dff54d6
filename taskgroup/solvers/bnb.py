"""Exact branch-and-bound over sets of networks.

Search tree: candidates are taken in a fixed order (most loss reduction per unit cost first); a node is a
set of chosen networks, and its children add one later candidate that fits the remaining budget.

Pruning, all admissible (they never cut off a strictly better plan):

- dominance: a candidate that improves no task of the current set is never added (it only costs);
- per-task bound: each task ends at least at its best loss among the current set and the candidates still
  available;
- knapsack bound: adding networks lowers the (stand-in) total by at most the sum of their individual
  improvements, which is at most the fractional-knapsack value of those improvements within the remaining
  budget (per resource; the tightest resource counts).

Ties follow :mod:`taskgroup.solvers.ties` (least objective, then least total cost): a node whose bound equals
the incumbent's objective is still explored while it costs less than the incumbent.

The incumbent starts from the greedy heuristic, so pruning is effective from the first node. Standley et
al.'s solver has the dominance rule but no bound; the bound is what makes budgets far above the cheapest
cover tractable.
"""

from __future__ import annotations

import math
import time

import numpy as np

from taskgroup.solvers.greedy import cost_scale, solve_greedy, virtual_losses
from taskgroup.solvers.instance import SelectionInstance, budget_tolerance
from taskgroup.solvers.registry import SolverResult
from taskgroup.solvers.ties import objective_tolerance, precedes

__all__ = ["solve_bnb", "fractional_knapsack"]


def fractional_knapsack(values: np.ndarray, costs: np.ndarray, capacity: float) -> float:
    """Maximum of ``sum v_i x_i`` with ``sum c_i x_i <= capacity``, ``0 <= x_i <= 1`` (all c_i > 0).

    Parameters
    ----------
    values : numpy.ndarray
        ``v_i``.
    costs : numpy.ndarray
        ``c_i``, each > 0.
    capacity : float
        Infinite: every item fits.

    Returns
    -------
    float
        Items by value per cost, the last one taken in part.
    """
    if not math.isfinite(capacity):
        return float(values.sum())
    order = np.argsort(-values / costs, kind="stable")
    v, c = values[order], costs[order]
    filled = np.cumsum(c)
    k = int(np.searchsorted(filled, capacity, side="right"))
    total = float(v[:k].sum())
    if k < len(v):
        room = capacity - (filled[k - 1] if k else 0.0)
        total += float(v[k]) * room / float(c[k])
    return total


def solve_bnb(instance: SelectionInstance, *, time_limit: float | None = None) -> SolverResult:
    """Branch-and-bound to a proven optimum (or the best plan and root bound at the time limit).

    It starts from the greedy plan (:func:`~taskgroup.solvers.greedy.solve_greedy`).

    Parameters
    ----------
    instance : SelectionInstance
        The instance with its budget.
    time_limit : float, optional
        Seconds.

    Returns
    -------
    SolverResult
        ``chosen`` None with ``optimal`` True when no plan within the budget serves every task.
    """
    m = instance.m
    if m == 0 or not np.all(np.isfinite(instance.WL).any(axis=0)):
        return SolverResult(None, optimal=True, bound=math.inf)
    start = solve_greedy(instance, time_limit=time_limit)
    if start.chosen is None:
        return start  # greedy's cover model proved that no plan fits, or stopped at the time limit

    stand_in = virtual_losses(instance.WL)
    unit = (instance.C / cost_scale(instance)).sum(axis=1)
    worth = np.maximum(stand_in - instance.WL, 0.0).sum(axis=1) / unit
    order = np.argsort(-worth, kind="stable")
    WL, C = instance.WL[order], instance.C[order]
    limit_slack = budget_tolerance(instance.budget)
    r_count = C.shape[1]

    best_value = instance.objective(start.chosen)
    best_cost = instance.total_cost(start.chosen)
    best_set = [int(np.flatnonzero(order == j)[0]) for j in start.chosen]
    unit_cost = (C / instance.cost_unit).sum(axis=1)
    deadline = math.inf if time_limit is None else time.perf_counter() + time_limit
    nodes = 0
    timed_out = False
    root_bound = -math.inf

    def bound(current: np.ndarray, available: np.ndarray, remaining: np.ndarray) -> float:
        sub = WL[available]
        per_task = np.minimum(current, sub.min(axis=0))
        if not np.all(np.isfinite(per_task)):
            return math.inf  # some task can no longer be served
        effective = np.where(np.isfinite(current), current, stand_in)
        gains = np.maximum(effective[None, :] - sub, 0.0).sum(axis=1)
        reach = min(fractional_knapsack(gains, C[available, r], remaining[r]) for r in range(r_count))
        return max(float(per_task.sum()), float(effective.sum()) - reach)

    def visit(first: int, current: np.ndarray, remaining: np.ndarray, chosen: list[int], spent: float) -> None:
        nonlocal best_value, best_cost, best_set, nodes, timed_out, root_bound
        nodes += 1
        if nodes & 255 == 0 and time.perf_counter() > deadline:
            timed_out = True
        if timed_out:
            return
        if chosen and np.all(np.isfinite(current)):
            value = float(current.sum())
            if precedes(value, spent, best_value, best_cost):
                best_value, best_cost, best_set = value, spent, list(chosen)
        fits_now = np.all(C[first:] <= remaining + limit_slack, axis=1)
        improves = np.any(WL[first:] < current, axis=1)
        available = first + np.flatnonzero(fits_now & improves)
        if len(available) == 0:
            return
        lower = bound(current, available, remaining)
        if not chosen:
            root_bound = lower
        tie = objective_tolerance(best_value)
        if lower > best_value + tie or (lower >= best_value - tie and spent >= best_cost):
            return  # nothing below can be better, nor as good and cheaper (adding networks only costs)
        for j in available:
            visit(int(j) + 1, np.minimum(current, WL[j]), remaining - C[j], chosen + [int(j)], spent + unit_cost[j])
            if timed_out:
                return

    visit(0, np.full(instance.n, np.inf), instance.budget.astype(float), [], 0.0)
    chosen = sorted(int(order[k]) for k in best_set)
    if timed_out:
        return SolverResult(chosen, optimal=False, bound=min(root_bound, best_value), nodes=nodes)
    return SolverResult(chosen, optimal=True, bound=best_value, nodes=nodes)
