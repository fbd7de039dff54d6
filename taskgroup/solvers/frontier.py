"""The budget frontier: the optimal objective as a function of the budget, as a staircase."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from os import PathLike

import numpy as np

from taskgroup.errors import InfeasibleBudget, InvalidArgument, SolverError
from taskgroup.plan import FRONTIER_COLUMNS, Frontier, Plan, plan_from_selection
from taskgroup.problem import Problem
from taskgroup.solvers.instance import SelectionInstance, budget_tolerance
from taskgroup.solvers.model import SelectionModel
from taskgroup.solvers.partition_dp import (
    DP_MAX_TASKS,
    DP_PAIRS_PER_SECOND,
    PartitionTable,
    dp_seconds,
    problem_table,
)
from taskgroup.solvers.solve import prefer_partition_dp, solve
from taskgroup.solvers.ties import drop_unused
from taskgroup.validation import check_number

__all__ = ["frontier", "plot_frontier", "FRONTIER_COLUMNS"]

# Improvements of the optimum smaller than this (relative) are not counted as steps: they are below the
# MIP backend's tolerances.
STEP_TOLERANCE = 1e-6


def frontier(
    problem: Problem,
    budgets: Sequence[float] | None = None,
    *,
    cost: str | None = None,
    method: str = "auto",
    time_limit: float | None = None,
) -> Frontier:
    """The best plan at every budget.

    Parameters
    ----------
    problem : Problem
    budgets : sequence of float, optional
        Budgets to solve at. By default the whole staircase is computed: the cheapest cover, then every
        budget at which the optimal objective improves, up to the unconstrained optimum.
    cost : str, optional
        The cost column the budget applies to (required when the problem has several; the others are
        not constrained).
    method : str
        Solver for given ``budgets``. The staircase comes from the partition DP's table (every budget in
        one pass) when :func:`~taskgroup.solvers.solve.prefer_partition_dp` estimates it cheaper, else from
        the integer program (an optimum per step, then the cheapest plan below it).
    time_limit : float, optional
        Seconds per solve.

    Returns
    -------
    Frontier
        One plan per budget (None where infeasible), in budget order; ``.to_frame()`` gives the table
        (``budget``, ``objective``, ``cost``, ``n_networks``, ``networks``, ``optimal``) and ``.plot(ax)`` draws it.
    """
    check_number(time_limit, "time_limit", "frontier", minimum=0, exclusive=True, optional=True)
    if cost is None:
        if len(problem.cost_names) != 1:
            raise InvalidArgument(
                f"The problem has cost columns {list(problem.cost_names)}; pass cost=<one of them> for the frontier."
            )
        cost = problem.cost_names[0]
    single = problem.with_costs(cost)
    if budgets is None:
        plans: list[Plan | None] = list(_staircase(single, time_limit))
        values = [plan.cost[cost] for plan in plans if plan is not None]
    else:
        values, plans = [float(b) for b in budgets], []
        for b in values:
            try:
                plans.append(solve(single, b, method=method, time_limit=time_limit))
            except InfeasibleBudget:
                plans.append(None)
    return Frontier(tuple(values), tuple(plans), cost, problem.higher_is_better)


def _staircase(problem: Problem, time_limit: float | None) -> list[Plan]:
    instance = SelectionInstance.build(problem, np.array([np.inf]))
    if prefer_partition_dp(instance):
        table = problem_table(problem, _work_cap(time_limit))
        if table is not None:
            return _staircase_from_table(problem, table)
        return _mip_staircase(problem, instance, time_limit)
    # prefer_partition_dp weighs the DP against one MIP solve; the staircase takes two solves per step, and how
    # many steps there are is known only at the end (34 at 6 tasks with measured costs). So the MIP goes first
    # until it has taken as long as the DP is estimated to take, then the DP finds every step at once: never
    # much over twice the faster of the two.
    switch = dp_seconds(instance, compiling=True) if instance.n <= DP_MAX_TASKS else None
    try:
        return _mip_staircase(problem, instance, time_limit, give_up_after=switch)
    except _HandOver:
        table = problem_table(problem, _work_cap(time_limit))
        return _mip_staircase(problem, instance, time_limit) if table is None else _staircase_from_table(problem, table)


class _HandOver(Exception):
    """The integer program's staircase has taken as long as the DP is estimated to take."""


def _mip_staircase(
    problem: Problem, instance: SelectionInstance, time_limit: float | None, give_up_after: float | None = None
) -> list[Plan]:
    """The steps from the integer program: an optimum per budget, then the cheapest plan better than it; raises
    :class:`_HandOver` when ``give_up_after`` seconds passed before the last step."""
    start = time.perf_counter()
    model = SelectionModel(instance)
    # The cheapest cover on the reduced instance: dominance never removes a cheaper way to serve a task, so
    # this is the exact minimum budget, without building the unreduced model minimum_budget() uses.
    cover = model.run("cost:0", time_limit).chosen
    if cover is None:  # every task has a candidate, so only the time limit leaves no cover
        raise SolverError(
            f"The integer program found no cover of all tasks within the time limit of {time_limit} s, so the "
            "frontier has no first step; give a longer time_limit or explicit budgets."
        )
    budget = float(problem.costs[instance.problem_indices(cover), 0].sum())
    unconstrained = float(np.min(instance.WL, axis=0).sum())
    plans: list[Plan] = []
    for _ in range(instance.m + 1):  # every step adds a distinct cheapest plan
        if give_up_after is not None and time.perf_counter() - start > give_up_after:
            raise _HandOver
        model.set_budget(np.array([budget]))
        result = model.run("loss", time_limit)
        if result.chosen is None:  # the time limit came first: the steps so far are all that is known
            break
        chosen = instance.problem_indices(drop_unused(instance.WL, result.chosen))
        plan = plan_from_selection(
            problem,
            chosen,
            solver="ilp",
            budget={problem.cost_names[0]: budget},
            optimal=result.optimal,
            bound=result.bound,
            nodes=result.nodes,
        )
        plans.append(plan)
        step = STEP_TOLERANCE * max(1.0, abs(plan.objective))
        if plan.objective <= unconstrained + step:
            break
        model.set_budget(np.array([np.inf]))
        model.set_objective_cap(plan.objective - step)
        cheaper = model.run("cost:0", time_limit)
        model.set_objective_cap(None)
        if cheaper.chosen is None or instance.objective(cheaper.chosen) >= plan.objective:
            break
        budget = float(problem.costs[instance.problem_indices(cheaper.chosen), 0].sum())
    return plans


def _work_cap(time_limit: float | None) -> float:
    return np.inf if time_limit is None else time_limit * DP_PAIRS_PER_SECOND


def _staircase_from_table(problem: Problem, table: PartitionTable) -> list[Plan]:
    """Every step of the frontier from the DP's Pareto points (ascending cost, descending objective)."""
    instance = table.instance
    costs = table.costs()[:, 0]
    points: list[tuple[float, float, list[int]]] = []  # (cost, value, selection) in ascending cost
    for point in np.argsort(costs, kind="stable"):
        selection = drop_unused(instance.WL, table.networks(int(point)))
        # the set's value, each task on its best network (a Pareto point may carry a worse assignment of a set)
        value, cost = instance.objective(selection), float(costs[point])
        if points and cost <= points[-1][0] + budget_tolerance(np.array([points[-1][0]]))[0]:
            # the same budget up to the order of summation (4e-16 apart): any budget that affords one affords the
            # other, so only the better is a step
            if value < points[-1][1]:
                points[-1] = (cost, value, selection)
            continue
        points.append((cost, value, selection))
    plans: list[Plan] = []
    last = np.inf
    for _, value, selection in points:
        if plans and value > last - STEP_TOLERANCE * max(1.0, abs(last)):
            continue
        chosen = instance.problem_indices(selection)
        budget = float(problem.costs[chosen, 0].sum())
        plans.append(
            plan_from_selection(
                problem,
                chosen,
                solver="partition-dp",
                budget={problem.cost_names[0]: budget},
                optimal=True,
                nodes=len(table.points),
            )
        )
        last = value
    return plans


def plot_frontier(
    frontier: Frontier,
    path: str | PathLike[str],
    *,
    markers: Mapping[str, tuple[float, float]] | None = None,
    title: str | None = None,
    ylabel: str | None = None,
) -> None:
    """Draw a frontier (from :func:`frontier`) with :meth:`Frontier.plot` and save it as PNG at ``path``.

    ``markers`` maps a label to a (cost, objective) point to mark, e.g. the all-in-one network, the
    independent single-task networks or the chosen plan.

    Parameters
    ----------
    frontier : Frontier
        From :func:`frontier`.
    path : path
        The PNG file to write.
    markers : dict of str to (float, float), optional
        Labelled (cost, objective) points to mark.
    title : str, optional
        The plot's title.
    ylabel : str, optional
        What the objective is (see :meth:`Frontier.plot`).

    Raises
    ------
    InvalidArgument
        If ``frontier`` is not a Frontier or has no feasible budget.
    """
    if not isinstance(frontier, Frontier):
        raise InvalidArgument(f"plot_frontier draws a Frontier (from tg.frontier); got {type(frontier).__name__}.")
    # A Figure without pyplot: no global backend switch and no figure left open in the caller's session.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.2), dpi=120)
    frontier.plot(figure.subplots(), markers=markers, title=title, ylabel=ylabel)
    figure.tight_layout()
    figure.savefig(path)
