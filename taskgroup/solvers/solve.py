"""``tg.solve``: pick networks within a budget, and ``minimum_budget``: the cheapest full cover."""

from __future__ import annotations

import math
import time

import numpy as np

from taskgroup.errors import InfeasibleBudget, InvalidArgument, SolverError
from taskgroup.plan import Plan, plan_from_selection
from taskgroup.problem import Problem
from taskgroup.solvers.ilp import SelectionModel
from taskgroup.solvers.instance import Budget, SelectionInstance, fits, parse_budget
from taskgroup.solvers.registry import get_solver
from taskgroup.validation import check_number, keyword_only_after

__all__ = ["solve", "minimum_budget", "choose_method", "AUTO_BNB_MAX_CANDIDATES"]

# Up to this many candidates (after dominance reduction) branch-and-bound needs fewer milliseconds than
# setting up the MIP; beyond it the MIP's tight LP relaxation wins by orders of magnitude
# (benchmarks/results/solvers.md).
AUTO_BNB_MAX_CANDIDATES = 12


def choose_method(instance: SelectionInstance) -> str:
    """The method ``auto`` uses for an instance: ``bnb`` for tiny ones, ``ilp`` (HiGHS) otherwise."""
    return "bnb" if instance.m <= AUTO_BNB_MAX_CANDIDATES else "ilp"


def minimum_budget(problem: Problem) -> dict[str, float]:
    """Per cost resource, the least total cost of a set of networks that serves every task.

    Exact (an integer program solved to optimality). With one resource the problem is feasible at exactly
    this budget and infeasible at any smaller one.
    """
    unconstrained = SelectionInstance.build(problem, parse_budget(problem, None), reduce=False)
    model = SelectionModel(unconstrained)
    result = {}
    for r, name in enumerate(problem.cost_names):
        chosen = model.run(f"cost:{r}").chosen
        assert chosen is not None, "every task has a candidate, so a cover exists"
        # Sum in problem order so the number equals what a plan built from these networks reports.
        result[name] = float(problem.costs[unconstrained.problem_indices(chosen), r].sum())
    return result


@keyword_only_after(2)
def solve(
    problem: Problem,
    budget: Budget,
    *,
    method: str = "auto",
    time_limit: float | None = None,
    **options: object,
) -> Plan:
    """The best set of networks within the budget.

    Parameters
    ----------
    problem : Problem
    budget : float, mapping or sequence, or None
        One number when the problem has one cost column; otherwise one value per cost column (every
        resource is constrained). None means no budget.
    method : str
        ``"auto"`` (default), or a registered solver: ``"exhaustive"``, ``"bnb"``, ``"ilp"``, ``"greedy"``,
        ``"ilp-scip"``, ``"ilp-cbc"``, ``"ilp-cpsat"``; see :func:`taskgroup.solvers.available_solvers`.
    time_limit : float, optional
        Seconds. When reached, the best plan found is returned with ``optimal=False`` and its bound.
    **options
        Passed to the solver (e.g. ``max_subsets`` for exhaustive).

    Returns
    -------
    Plan

    Raises
    ------
    InfeasibleBudget
        If no set of networks within the budget serves every task; it carries the minimum budget.
    InstanceTooLarge
        If the exhaustive method is asked for an instance beyond its limit.
    InvalidArgument
        For an unknown method, a bad budget or a non-positive time limit.

    Examples
    --------
    >>> import taskgroup as tg
    >>> problem = tg.datasets.standley2020(setting=1, split="val")
    >>> plan = tg.solve(problem, budget=2.5)
    >>> plan.optimal, round(plan.cost["cost"], 1) <= 2.5
    (True, True)
    """
    if not isinstance(problem, Problem):
        raise InvalidArgument(f"solve expects a taskgroup Problem; got {type(problem).__name__}.")
    check_number(time_limit, "time_limit", "solve", minimum=0, exclusive=True, optional=True)
    b = parse_budget(problem, budget)
    budget_map = {c: float(v) for c, v in zip(problem.cost_names, b)}
    name = method
    spec = get_solver(method) if method != "auto" else None
    started = time.perf_counter()  # the reduction is part of solving, so it counts
    instance = SelectionInstance.build(problem, b, reduce=method != "exhaustive")
    if spec is None:
        name = choose_method(instance)
        spec = get_solver(name)
    if not np.all(np.isfinite(instance.WL).any(axis=0)):
        _raise_infeasible(problem, budget_map)
    result = spec.function(instance, time_limit=time_limit, **options)
    elapsed = time.perf_counter() - started
    if result.chosen is None:
        if result.optimal:
            _raise_infeasible(problem, budget_map)
        raise InfeasibleBudget(
            f"{name} found no plan within the budget {budget_map} before the time limit of {time_limit} s "
            "(feasibility not decided).",
            budget_map,
            {},
        )
    chosen = instance.problem_indices(result.chosen)
    if not fits(problem.costs[chosen].sum(axis=0), b):  # never hand out a plan over budget
        raise SolverError(f"The {name} solver returned networks {chosen} over the budget {budget_map}; this is a bug.")
    return plan_from_selection(
        problem,
        chosen,
        solver=name,
        budget={k: v for k, v in budget_map.items() if math.isfinite(v)},
        optimal=result.optimal,
        bound=result.bound,
        wall_time=elapsed,
        nodes=result.nodes,
    )


def _raise_infeasible(problem: Problem, budget: dict[str, float]) -> None:
    minimum = minimum_budget(problem)
    short = {k: v for k, v in minimum.items() if budget[k] < v and not fits(np.array([v]), np.array([budget[k]]))}
    if short:
        detail = ", ".join(f"{k}: budget {budget[k]:.10g} < minimum {minimum[k]:.10g}" for k in short)
        message = f"No set of networks within the budget serves every task ({detail})."
    else:
        message = (
            f"No set of networks serves every task within all of the budgets {budget} at once, although each "
            f"resource alone would allow it (per-resource minima {minimum})."
        )
    raise InfeasibleBudget(message, budget, minimum)
