"""Exact selection as an integer program (:class:`~taskgroup.solvers.model.SelectionModel`), with the tie rule.

When the model cannot answer (no time to reach its root LP, no solution before the time limit, or a backend
that accepted a set over budget within its own tolerance) the result says so in ``fallback`` and
:func:`taskgroup.solvers.solve` decides what answers instead.
"""

from __future__ import annotations

import time

from taskgroup.errors import SolverError
from taskgroup.solvers.instance import SelectionInstance, fits
from taskgroup.solvers.model import SelectionModel, mip_out_of_time
from taskgroup.solvers.registry import Fallback, SolverResult
from taskgroup.solvers.ties import objective_tolerance

__all__ = ["solve_ilp"]


def solve_ilp(instance: SelectionInstance, *, time_limit: float | None = None, backend: str = "highs") -> SolverResult:
    """Minimise the total weighted loss of ``instance`` within its budget with a MIP backend.

    Ties (:mod:`taskgroup.solvers.ties`): a second solve of the same model, with the objective capped at the
    first optimum, minimises the total cost; its plan replaces the first when its exact objective is still
    within the tie tolerance of the optimum and it costs less.
    """
    started = time.perf_counter()
    if mip_out_of_time(instance, time_limit):
        return SolverResult(None, optimal=False, fallback=Fallback.NO_TIME)
    model = SelectionModel(instance, backend)
    result = model.run("loss", time_limit)
    if result.chosen is None and not result.optimal:
        result.fallback = Fallback.NO_SOLUTION
        return result
    if result.chosen is not None and not fits(instance.C[result.chosen].sum(axis=0), instance.budget):
        # CBC, SCIP and CP-SAT accept a set over budget within their own feasibility tolerance (about 1e-6)
        return SolverResult(None, optimal=False, nodes=result.nodes, fallback=Fallback.OVER_BUDGET)
    if result.chosen is not None:  # the backend's own objective carries its tolerances; re-score exactly
        result.bound = min(result.bound, instance.objective(result.chosen))
        left = None if time_limit is None else time_limit - (time.perf_counter() - started)
        if left is None or left > 0.01:
            result.chosen = _cheapest_tied(model, result.chosen, left)
    return result


def _cheapest_tied(model: SelectionModel, chosen: list[int], time_limit: float | None) -> list[int]:
    """The cheapest plan (tie rule) whose objective ties the one of ``chosen``, or ``chosen`` itself."""
    instance = model.instance
    value = instance.objective(chosen)
    model.set_objective_cap(value + objective_tolerance(value))
    try:
        cheaper = model.run("total_cost", time_limit).chosen
    except SolverError:
        # CP-SAT rejects the capped model (continuous y with a fractional cap, status MODEL_INVALID): HiGHS
        # decides the tie instead.
        if model.backend == "highs":
            raise
        return _cheapest_tied(SelectionModel(instance, "highs"), chosen, time_limit)
    finally:
        model.set_objective_cap(None)
    if (
        cheaper is not None
        and fits(instance.C[cheaper].sum(axis=0), instance.budget)
        and instance.precedes(cheaper, chosen)
    ):
        return cheaper
    return chosen
