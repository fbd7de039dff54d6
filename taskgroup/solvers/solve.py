"""``tg.solve``: pick networks within a budget, and ``minimum_budget``: the cheapest full cover."""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Mapping

import numpy as np

from taskgroup.errors import InfeasibleBudget, InvalidArgument, SolverError
from taskgroup.plan import Plan, plan_from_selection
from taskgroup.problem import Problem
from taskgroup.registry import MethodSpec
from taskgroup.solvers.bnb import solve_bnb
from taskgroup.solvers.greedy import greedy_fill, solve_greedy
from taskgroup.solvers.ilp import solve_ilp
from taskgroup.solvers.instance import Budget, SelectionInstance, fits, parse_budget
from taskgroup.solvers.model import MIP_SECONDS_PER_ENTRY, SelectionModel
from taskgroup.solvers.partition_dp import cached_table, dp_seconds, problem_table
from taskgroup.solvers.registry import Fallback, SolverResult, get_solver
from taskgroup.solvers.ties import drop_unused
from taskgroup.validation import check_number

__all__ = ["solve", "minimum_budget", "choose_method", "prefer_partition_dp", "AUTO_BNB_MAX_CANDIDATES"]

# Up to this many candidates (after dominance reduction) branch-and-bound needs fewer milliseconds than
# setting up the MIP; beyond it the MIP's tight LP relaxation wins by orders of magnitude
# (benchmarks/results/solvers.md).
AUTO_BNB_MAX_CANDIDATES = 12


def prefer_partition_dp(instance: SelectionInstance) -> bool:
    """Whether the partition DP's estimated time is below the integer program's.

    DP: :func:`~taskgroup.solvers.partition_dp.dp_seconds` (the numpy path's estimate, or the compiled kernels'
    work, about ``3^n`` block pairs times a factor that grows with the number of resources, plus loading them
    once per process), and nothing at all once the problem's table is computed
    (:func:`~taskgroup.solvers.partition_dp.problem_table`). MIP: the number of (network, task) entries times
    :data:`MIP_SECONDS_PER_ENTRY`.

    Parameters
    ----------
    instance : SelectionInstance
        The instance to solve.

    Returns
    -------
    bool
        True also when the problem's table is cached already.
    """
    if cached_table(instance.problem) is not None:
        return True
    mip_seconds = MIP_SECONDS_PER_ENTRY * float(np.isfinite(instance.WL).sum())
    return dp_seconds(instance) <= mip_seconds


def choose_method(instance: SelectionInstance) -> str:
    """The method ``auto`` uses: ``bnb`` for tiny instances, else the cheaper of ``partition-dp`` and ``ilp``
    by :func:`prefer_partition_dp`.

    Parameters
    ----------
    instance : SelectionInstance
        The instance to solve.

    Returns
    -------
    str
        ``"bnb"`` for at most :data:`AUTO_BNB_MAX_CANDIDATES` candidates, else ``"partition-dp"`` or ``"ilp"``.
    """
    if instance.m <= AUTO_BNB_MAX_CANDIDATES:
        return "bnb"
    return "partition-dp" if prefer_partition_dp(instance) else "ilp"


def minimum_budget(problem: Problem) -> dict[str, float]:
    """Per cost resource, the least total cost of a set of networks that serves every task.

    Exact: the least cost of each resource among the Pareto points of the partition DP's table (when
    :func:`prefer_partition_dp`), else an integer program per resource. With one resource the problem is
    feasible at exactly this budget and infeasible at any smaller one.

    Parameters
    ----------
    problem : Problem
        The problem.

    Returns
    -------
    dict
        Cost resource -> the least total cost of a full cover.
    """
    # Dominance never removes a cheaper way to serve a task, so the reduced instance has the same minima.
    unconstrained = SelectionInstance.build(problem, parse_budget(problem, None))
    if prefer_partition_dp(unconstrained):
        table = problem_table(problem)
        assert table is not None, "without a work cap the DP always builds its table"
        result = {}
        for r, name in enumerate(problem.cost_names):
            point = int(np.argmin(table.f_cost[table.points, r]))
            chosen = table.instance.problem_indices(table.networks(point))
            result[name] = float(problem.costs[chosen, r].sum())
        return result
    model = SelectionModel(unconstrained)
    result = {}
    for r, name in enumerate(problem.cost_names):
        cover = model.run(f"cost:{r}").chosen
        assert cover is not None, "every task has a candidate, so a cover exists"
        chosen = cover
        # Sum in problem order so the number equals what a plan built from these networks reports.
        result[name] = float(problem.costs[unconstrained.problem_indices(chosen), r].sum())
    return result


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
        ``"auto"`` (default: :func:`choose_method`), or a registered solver: ``"partition-dp"``,
        ``"exhaustive"``, ``"bnb"``, ``"ilp"``, ``"greedy"``, ``"ilp-scip"``, ``"ilp-cbc"``, ``"ilp-cpsat"``; see
        :func:`taskgroup.solvers.available_solvers`.
    time_limit : float, optional
        Seconds. When reached, the best plan found is returned with ``optimal=False`` and its bound.
    **options
        Passed to the solver (e.g. ``max_subsets`` for exhaustive, ``say`` for the MIP methods: a line every few
        seconds while the MIP runs). Ctrl-C stops a MIP within about a second (``KeyboardInterrupt``).

    Returns
    -------
    Plan
        Exact methods return the first optimal plan in the tie rule of :mod:`taskgroup.solvers.ties` (least
        objective, then least total cost); no plan contains a network that serves no task.

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
    deadline = math.inf if time_limit is None else started + time_limit
    instance = SelectionInstance.build(problem, b, reduce=method != "exhaustive", deadline=deadline)
    if spec is None:
        name = choose_method(instance)
        spec = get_solver(name)
    if not np.all(np.isfinite(instance.WL).any(axis=0)):
        _raise_infeasible(problem, budget_map)
    left = None if time_limit is None else max(0.01, time_limit - (time.perf_counter() - started))
    _check_options(spec, options)
    result = spec.function(instance, time_limit=left, **options)
    fell_back = []
    while result.fallback is not None:  # e.g. partition-dp -> ilp -> greedy under a tight time limit
        fell_back.append(f"{name}: {result.fallback.value}")
        name, result = _fall_back(instance, result, started, time_limit)
    label = f"{name} (fallback from {'; then from '.join(fell_back)})" if fell_back else name
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
    chosen = instance.problem_indices(drop_unused(instance.WL, result.chosen))
    if not fits(problem.costs[chosen].sum(axis=0), b):  # never hand out a plan over budget
        raise SolverError(f"The {name} solver returned networks {chosen} over the budget {budget_map}; this is a bug.")
    return plan_from_selection(
        problem,
        chosen,
        solver=label,
        budget={k: v for k, v in budget_map.items() if math.isfinite(v)},
        optimal=result.optimal,
        bound=result.bound,
        wall_time=elapsed,
        nodes=result.nodes,
    )


def _fall_back(
    instance: SelectionInstance, failed: SolverResult, started: float, time_limit: float | None
) -> tuple[str, SolverResult]:
    """The fallback policy: what answers when a solver could not (``failed.fallback`` says why).

    Returns the name of the method that answered and its result.
    """
    left = None if time_limit is None else max(0.01, time_limit - (time.perf_counter() - started))
    if failed.fallback is Fallback.TOO_LARGE:  # the DP cannot: the integer program gets the time left
        return "ilp", solve_ilp(instance, time_limit=left)
    if failed.fallback is Fallback.OVER_BUDGET:  # decide the instance exactly rather than hand out that set
        return "bnb", solve_bnb(instance, time_limit=left)
    if failed.fallback in (Fallback.NO_SOLUTION, Fallback.INTERRUPTED):
        # The time is spent (or the user wants the answer now): the greedy plan built without another MIP (which
        # would ignore the time limit); if greedy finds no cover either, feasibility stays undecided.
        return "greedy", SolverResult(greedy_fill(instance, []), optimal=False, nodes=failed.nodes)
    # NO_TIME: the best known plan is greedy's (its cover model, if it needs one, gets the same time limit);
    # the honest bound: every task at its best loss.
    result = solve_greedy(instance, time_limit=left)
    result.bound = float(np.min(instance.WL, axis=0).sum()) if result.chosen is not None else -math.inf
    return "greedy", result


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


def _check_options(spec: MethodSpec, options: Mapping[str, object]) -> None:
    """Options a solver does not take are named with the ones it does, before it runs."""
    parameters = inspect.signature(spec.function).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    accepted = [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "time_limit"]
    unknown = [k for k in options if k not in accepted]
    if unknown:
        raise InvalidArgument(f"Solver method {spec.name!r} has no option(s) {unknown}; its options: {accepted}.")
