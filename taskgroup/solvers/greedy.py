"""Greedy cost-effectiveness heuristic: fast, no optimality claim.

Networks are added one at a time, each time the one with the largest loss reduction per unit of
(normalised) cost that still fits, until none improves. It runs twice, from nothing and from the cheapest
cover of all tasks (which guarantees a feasible plan whenever one exists), and keeps the better result.
"""

from __future__ import annotations

import math

import numpy as np

from taskgroup.solvers.ilp import SelectionModel
from taskgroup.solvers.instance import SelectionInstance, budget_tolerance
from taskgroup.solvers.registry import SolverResult

__all__ = ["solve_greedy", "greedy_fill", "cheapest_cover", "virtual_losses", "cost_scale"]


def virtual_losses(WL: np.ndarray) -> np.ndarray:
    """Per task, a stand-in loss for "not served yet" that is worse than any real loss on the task."""
    finite = np.where(np.isfinite(WL), WL, np.nan)
    worst, best = np.nanmax(finite, axis=0), np.nanmin(finite, axis=0)
    return worst + (worst - best) + np.abs(worst) + 1.0


def cost_scale(instance: SelectionInstance) -> np.ndarray:
    """Per resource, the unit that makes costs comparable: the budget, or the mean cost without one."""
    return np.where(np.isfinite(instance.budget), instance.budget, instance.C.mean(axis=0))


def cheapest_cover(instance: SelectionInstance, resource: int = 0) -> list[int] | None:
    """The cover of all tasks with the least cost on ``resource`` within the budget, or None if none exists."""
    if not np.all(np.isfinite(instance.WL).any(axis=0)):
        return None
    return SelectionModel(instance).run(f"cost:{resource}").chosen


def greedy_fill(instance: SelectionInstance, start: list[int]) -> list[int] | None:
    """Add networks to ``start`` by loss reduction per unit cost while one improves and fits."""
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
    """Best of greedy-from-nothing and greedy-from-the-cheapest-cover; ``optimal`` is always False."""
    candidates = [greedy_fill(instance, [])]
    cover = cheapest_cover(instance)
    if cover is not None:
        candidates.append(greedy_fill(instance, cover))
    found = [c for c in candidates if c is not None]
    if not found:  # no cover exists within the budget (the cover model proved it)
        return SolverResult(None, optimal=True, bound=math.inf)
    best = min(found, key=instance.objective)
    return SolverResult(sorted(best), optimal=False, bound=-math.inf, nodes=len(best))
