"""The budget frontier: the optimal objective as a function of the budget, as a staircase."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from os import PathLike

import numpy as np
import pandas as pd

from taskgroup.errors import InfeasibleBudget, InvalidArgument, SolverError
from taskgroup.plan import Plan, plan_from_selection
from taskgroup.problem import Problem
from taskgroup.solvers.ilp import SelectionModel
from taskgroup.solvers.instance import SelectionInstance
from taskgroup.solvers.partition_dp import DP_PAIRS_PER_SECOND, PartitionTable, partition_table
from taskgroup.solvers.solve import prefer_partition_dp, solve
from taskgroup.solvers.ties import drop_unused

__all__ = ["frontier", "plot_frontier", "FRONTIER_COLUMNS"]

FRONTIER_COLUMNS = ["budget", "objective", "cost", "n_networks", "networks", "optimal", "plan"]

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
) -> pd.DataFrame:
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
    pandas.DataFrame
        One row per budget: ``budget``, ``objective`` (NaN if infeasible), ``cost``, ``n_networks``,
        ``networks`` (names joined by ``", "``), ``optimal``, and ``plan`` (the :class:`Plan`, or None). For
        higher-is-better problems a ``score`` column holds the objective in the original sense.
    """
    if cost is None:
        if len(problem.cost_names) != 1:
            raise InvalidArgument(
                f"The problem has cost columns {list(problem.cost_names)}; pass cost=<one of them> for the frontier."
            )
        cost = problem.cost_names[0]
    single = problem.with_costs(cost)
    if budgets is None:
        plans = _staircase(single, time_limit)
        rows = [_row(plan.cost[cost], plan) for plan in plans]
    else:
        rows = []
        for b in budgets:
            try:
                rows.append(_row(float(b), solve(single, b, method=method, time_limit=time_limit)))
            except InfeasibleBudget:
                rows.append(_row(float(b), None))
    frame = pd.DataFrame(rows, columns=FRONTIER_COLUMNS)
    if problem.higher_is_better:
        frame.insert(2, "score", -frame["objective"])
    frame.attrs["cost_column"] = cost
    return frame


def _row(budget: float, plan: Plan | None) -> list:
    if plan is None:
        return [budget, math.nan, math.nan, 0, "", False, None]
    (total,) = plan.cost.values()
    return [budget, plan.objective, total, len(plan.networks), ", ".join(plan.networks), plan.optimal, plan]


def _staircase(problem: Problem, time_limit: float | None) -> list[Plan]:
    instance = SelectionInstance.build(problem, np.array([np.inf]))
    if prefer_partition_dp(instance):
        table = partition_table(instance, _work_cap(time_limit))
        if table is not None:
            return _staircase_from_table(problem, table)
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
    order = np.argsort(table.costs()[:, 0], kind="stable")
    plans: list[Plan] = []
    last = np.inf
    for point in order:
        value = float(table.objectives()[point])
        if plans and value > last - STEP_TOLERANCE * max(1.0, abs(last)):
            continue
        chosen = instance.problem_indices(drop_unused(instance.WL, table.networks(int(point))))
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
    frame: pd.DataFrame,
    path: str | PathLike[str],
    *,
    markers: Mapping[str, tuple[float, float]] | None = None,
    title: str | None = None,
) -> None:
    """Draw a frontier (from :func:`frontier`) as a staircase of cost vs objective and save it as PNG.

    ``markers`` maps a label to a (cost, objective) point to mark, e.g. the all-in-one network, the
    independent single-task networks or the chosen plan.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = frame.dropna(subset=["objective"])
    if data.empty:
        raise InvalidArgument("The frontier has no feasible budget to plot.")
    value = "score" if "score" in data.columns else "objective"
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    x = data["budget"].to_numpy(dtype=float)
    y = data[value].to_numpy(dtype=float)
    ax.step(x, y, where="post", color="tab:blue", label="optimal plan")
    ax.plot(x, y, "o", color="tab:blue", markersize=4)
    for (label, (cx, cy)), colour in zip((markers or {}).items(), ["tab:red", "tab:green", "tab:orange", "tab:purple"]):
        ax.plot([cx], [cy], "D", color=colour, markersize=7, label=label)
    ax.set_xlabel(f"budget ({frame.attrs.get('cost_column', 'cost')})")
    ax.set_ylabel("total score (higher is better)" if value == "score" else "total weighted loss (lower is better)")
    ax.set_title(title or "Budget frontier")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
