"""The tie rule every solver follows, in one place.

Plans are ordered by

1. the objective (total weighted loss; lower first), equal when within :func:`objective_tolerance`;
2. the *total cost*: the sum over resources of the plan's cost divided by the resource's unit, the largest
   cost of any network of the problem on that resource (so resources in different units weigh alike, and the
   unit does not depend on the budget); lower first, when lower by more than :data:`COST_RTOL` (relative);
3. anything still tied (equal objective and equal total cost, e.g. duplicate candidates) is broken by each
   method deterministically: the same input gives the same plan.

Every plan also loses the networks that serve no task (each task is served by its best chosen network, the
first in problem order on equal losses): they never change the objective and only cost. With costs > 0 the
cheapest plan among the optimal ones never contains such a network, so this pass only matters for
heuristics and for plans found under a time limit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "OBJECTIVE_RTOL",
    "COST_RTOL",
    "objective_tolerance",
    "cost_tolerance",
    "cost_units",
    "precedes",
    "drop_unused",
]

# Objectives closer than this (relative) are ties. Sums of the same losses in another order differ by a few
# ulps; MIP backends re-scored exactly land within 1e-9 of the proven optimum (mip_abs_gap=0).
OBJECTIVE_RTOL = 1e-9
# Total costs closer than this (relative) are equal: above the MIP backend's feasibility tolerance (1e-9), so
# that its proof that no tied plan is cheaper by more than this is a proof (taskgroup.solvers.ilp).
COST_RTOL = 1e-8


def objective_tolerance(value: float) -> float:
    """Absolute tolerance under which two objectives near ``value`` are equal.

    Parameters
    ----------
    value : float
        An objective.

    Returns
    -------
    float
        ``OBJECTIVE_RTOL * max(1, |value|)``.
    """
    return OBJECTIVE_RTOL * max(1.0, abs(float(value)))


def cost_tolerance(value: float) -> float:
    """Absolute tolerance under which two total costs near ``value`` are equal.

    Parameters
    ----------
    value : float
        A total cost.

    Returns
    -------
    float
        ``COST_RTOL * max(1, |value|)``.
    """
    return COST_RTOL * max(1.0, abs(float(value)))


def cost_units(costs: np.ndarray) -> np.ndarray:
    """Per resource, the unit of the total cost: the largest cost of any network (costs are > 0).

    Parameters
    ----------
    costs : numpy.ndarray, shape (n_networks, n_resources)

    Returns
    -------
    numpy.ndarray, shape (n_resources,)
    """
    return np.asarray(costs, dtype=float).max(axis=0)


def precedes(objective: float, cost: float, best_objective: float, best_cost: float) -> bool:
    """Whether a plan with (``objective``, total ``cost``) comes strictly before the best one so far.

    Parameters
    ----------
    objective, cost : float
        The plan's objective and total cost.
    best_objective, best_cost : float
        The best plan's so far (``inf`` objective: none yet).

    Returns
    -------
    bool
        A lower objective beyond the tolerance, or a tied objective and a lower total cost beyond the tolerance.
    """
    if not math.isfinite(best_objective):
        return objective < best_objective
    tol = objective_tolerance(best_objective)
    if objective < best_objective - tol:
        return True
    return objective <= best_objective + tol and cost < best_cost - cost_tolerance(best_cost)


def drop_unused(WL: np.ndarray, chosen: Sequence[int]) -> list[int]:
    """``chosen`` (sorted) without the networks that serve no task.

    ``WL`` holds weighted losses (``inf`` where a network does not serve a task) in problem order; each task
    goes to its best chosen network, the first on equal losses, as in :func:`taskgroup.plan.plan_from_selection`.

    Parameters
    ----------
    WL : numpy.ndarray, shape (n_networks, n_tasks)
        Weighted losses.
    chosen : sequence of int
        Network indices.

    Returns
    -------
    list of int
        The chosen networks that serve at least one task, sorted.
    """
    chosen = sorted(int(j) for j in chosen)
    if not chosen:
        return chosen
    best = np.argmin(WL[chosen], axis=0)
    used = set(best.tolist())
    return [j for k, j in enumerate(chosen) if k in used]
