"""Greedy cost-effectiveness heuristic: fast, no optimality claim.

Networks are added one at a time, each time the one with the largest loss reduction per unit of
(normalised) cost that still fits, until none improves. It runs twice, from nothing and from a cheap cover
of all tasks, and keeps the better result (by the tie rule of :mod:`taskgroup.solvers.ties`).

The cover is the classic greedy set cover (most newly served tasks per unit cost). Only when neither run
finds a plan within the budget is the exact cheapest cover solved (an integer program), which guarantees a
plan whenever one exists. The exact cover used to be solved on every call: at 12 tasks (4,107 candidates)
that MIP took 2.5 s of greedy's 2.6 s. With a time limit, the cover model gets the time left; stopped by it
before finding a cover, greedy returns no plan and leaves feasibility undecided.
"""

from __future__ import annotations

import math
import time

import numpy as np

from taskgroup.solvers.instance import SelectionInstance, budget_tolerance
from taskgroup.solvers.model import SelectionModel, mip_out_of_time
from taskgroup.solvers.registry import SolverResult

__all__ = ["solve_greedy", "greedy_fill", "greedy_cover", "cheapest_cover", "virtual_losses", "cost_scale"]


def virtual_losses(WL: np.ndarray) -> np.ndarray:
    """Per task, a stand-in loss for "not served yet" that is worse than any real loss on the task.

    Parameters
    ----------
    WL : numpy.ndarray, shape (m, n)
        Weighted losses, ``inf`` where not served; every task served by some network.

    Returns
    -------
    numpy.ndarray, shape (n,)
        ``worst + (worst - best) + |worst| + 1`` per task.
    """
    finite = np.where(np.isfinite(WL), WL, np.nan)
    worst, best = np.nanmax(finite, axis=0), np.nanmin(finite, axis=0)
    return worst + (worst - best) + np.abs(worst) + 1.0


def cost_scale(instance: SelectionInstance) -> np.ndarray:
    """Per resource, the unit that makes costs comparable: the budget, or the mean cost without one.

    Parameters
    ----------
    instance : SelectionInstance
        The instance with its budget.

    Returns
    -------
    numpy.ndarray, shape (n_resources,)
    """
    return np.where(np.isfinite(instance.budget), instance.budget, instance.C.mean(axis=0))


def cheapest_cover(instance: SelectionInstance, resource: int = 0, *, time_limit: float | None = None) -> SolverResult:
    """The cover of all tasks with the least cost on ``resource`` within the budget, by the integer program.

    Returns the model's :class:`SolverResult`: ``chosen`` the cover (proven cheapest when ``optimal``); or
    ``chosen=None`` with ``optimal=True`` when no cover exists, ``optimal=False`` when ``time_limit`` seconds
    (None: no limit) came first, or would have before the model reached its root LP (:func:`mip_out_of_time`).

    Parameters
    ----------
    instance : SelectionInstance
        The instance with its budget.
    resource : int, default 0
        The cost column minimised.
    time_limit : float, optional
        Seconds.

    Returns
    -------
    SolverResult
    """
    if not np.all(np.isfinite(instance.WL).any(axis=0)):
        return SolverResult(None, optimal=True, bound=math.inf)
    if mip_out_of_time(instance, time_limit):
        return SolverResult(None, optimal=False, bound=-math.inf)
    return SelectionModel(instance).run(f"cost:{resource}", time_limit)


def greedy_cover(instance: SelectionInstance) -> list[int] | None:
    """Serve every task greedily: most newly served tasks per unit of (normalised) cost, within the budget.

    Parameters
    ----------
    instance : SelectionInstance
        The instance with its budget.

    Returns
    -------
    list of int or None
        A cover, or None when the greedy choice runs out of budget first (a cover may still exist).
    """
    served = np.isfinite(instance.WL)
    unit = (instance.C / cost_scale(instance)).sum(axis=1)
    limit = instance.budget + budget_tolerance(instance.budget)
    spent = np.zeros(instance.C.shape[1])
    missing = np.ones(instance.n, dtype=bool)
    chosen: list[int] = []
    while missing.any():
        new = served[:, missing].sum(axis=1)
        ok = (new > 0) & np.all(spent + instance.C <= limit, axis=1)
        if not ok.any():
            return None
        j = int(np.argmax(np.where(ok, new / unit, -1.0)))
        chosen.append(j)
        spent = spent + instance.C[j]
        missing &= ~served[j]
    return chosen


def greedy_fill(instance: SelectionInstance, start: list[int]) -> list[int] | None:
    """Add networks to ``start`` by loss reduction per unit cost while one improves and fits.

    A task not yet served counts at :func:`virtual_losses`, so serving it is a reduction too.

    Parameters
    ----------
    instance : SelectionInstance
        The instance with its budget.
    start : list of int
        Instance indices to start from (within the budget).

    Returns
    -------
    list of int or None
        The networks chosen (``start`` first), or None when they leave a task unserved.
    """
    WL, C = instance.WL, instance.C
    unit = (C / cost_scale(instance)).sum(axis=1)
    limit = instance.budget + budget_tolerance(instance.budget)
    chosen = list(start)
    current = WL[chosen].min(axis=0) if chosen else np.full(instance.n, np.inf)
    stand_in = virtual_losses(WL)
    spent = C[chosen].sum(axis=0)
    available = np.ones(instance.m, dtype=bool)
    available[chosen] = False
    while True:
        ok = available & np.all(spent + C <= limit, axis=1)
        if not ok.any():
            break
        effective = np.where(np.isfinite(current), current, stand_in)
        gain = np.maximum(effective - WL, 0.0).sum(axis=1)
        ratio = np.where(ok, gain / unit, -1.0)
        j = int(np.argmax(ratio))
        if ratio[j] <= 0:
            break
        chosen.append(j)
        available[j] = False
        spent = spent + C[j]
        current = np.minimum(current, WL[j])
    return chosen if np.all(np.isfinite(current)) else None


def solve_greedy(instance: SelectionInstance, *, time_limit: float | None = None) -> SolverResult:
    """Best of greedy-from-nothing and greedy-from-a-cover; ``optimal`` is always False.

    When neither finds a plan, the exact cover model decides, within what is left of ``time_limit``: no plan
    with ``optimal=True`` means none exists, with ``optimal=False`` that the time limit came first.

    Parameters
    ----------
    instance : SelectionInstance
        The instance with its budget.
    time_limit : float, optional
        Seconds, for the exact cover model only.

    Returns
    -------
    SolverResult
        The better plan in the tie rule, with no bound.
    """
    started = time.perf_counter()
    candidates = [greedy_fill(instance, [])]
    cover = greedy_cover(instance)
    if cover is not None:
        candidates.append(greedy_fill(instance, cover))
    found = [c for c in candidates if c is not None]
    if not found:
        left = None if time_limit is None else max(0.0, time_limit - (time.perf_counter() - started))
        exact = cheapest_cover(instance, time_limit=left)
        if exact.chosen is None:  # proven: no cover within the budget; or undecided at the time limit
            return SolverResult(None, optimal=exact.optimal, bound=math.inf if exact.optimal else -math.inf)
        filled = greedy_fill(instance, exact.chosen)
        assert filled is not None, "a cover within the budget fills within the budget"
        found = [filled]
    best: list[int] = found[0]
    for plan in found[1:]:
        if instance.precedes(plan, best):
            best = plan
    return SolverResult(sorted(best), optimal=False, bound=-math.inf, nodes=len(best))
