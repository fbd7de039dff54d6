"""Exact selection as an integer program (:class:`~taskgroup.solvers.model.SelectionModel`), with the tie rule.

When the model cannot answer (no time to reach its root LP, no solution before the time limit, or a backend
that accepted a set over budget within its own tolerance) the result says so in ``fallback`` and
:func:`taskgroup.solvers.solve` decides what answers instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from taskgroup.errors import SolverError
from taskgroup.interrupts import interrupt_requested
from taskgroup.solvers.instance import SelectionInstance, fits
from taskgroup.solvers.model import SelectionModel, mip_out_of_time
from taskgroup.solvers.registry import Fallback, SolverResult
from taskgroup.solvers.tie_bound import no_cheaper_tie
from taskgroup.solvers.ties import cost_tolerance, objective_tolerance

__all__ = ["solve_ilp"]


def solve_ilp(
    instance: SelectionInstance,
    *,
    time_limit: float | None = None,
    backend: str = "highs",
    say: Callable[[str], None] | None = None,
) -> SolverResult:
    """Minimise the total weighted loss of ``instance`` within its budget with a MIP backend.

    Ties (:mod:`taskgroup.solvers.ties`): see :func:`_cheapest_tied`. Ctrl-C: see
    :meth:`~taskgroup.solvers.model.SelectionModel.run`; a solve stopped under
    :func:`~taskgroup.interrupts.interrupt_flag` answers as at the time limit, without the tie rule's search.

    Parameters
    ----------
    instance : SelectionInstance
        The instance with its budget.
    time_limit : float, optional
        Seconds.
    backend : {"highs", "scip", "cbc", "cpsat"}, default "highs"
        The OR-Tools MIP backend.
    say : callable(str), optional
        Receives a line every :data:`~taskgroup.solvers.model.SAY_EVERY` seconds while the MIP runs (a
        shorter solve says nothing), e.g. ``tg.solve(problem, budget, method="ilp", say=print)``.

    Returns
    -------
    SolverResult
        With a ``fallback`` when the backend could not answer (no time left, no solution found, or a set over
        the budget within the backend's tolerance).

    Raises
    ------
    InvalidArgument
        An unknown backend.
    SolverError
        OR-Tools lacks the backend, or the backend stopped with an unexpected status.
    """
    started = time.perf_counter()
    if mip_out_of_time(instance, time_limit):
        return SolverResult(None, optimal=False, fallback=Fallback.NO_TIME)
    model = SelectionModel(instance, backend)
    result = model.run("loss", time_limit, say=say)
    if result.chosen is None and not result.optimal:
        result.fallback = Fallback.INTERRUPTED if interrupt_requested() else Fallback.NO_SOLUTION
        return result
    if result.chosen is not None and not fits(instance.C[result.chosen].sum(axis=0), instance.budget):
        # CBC, SCIP and CP-SAT accept a set over budget within their own feasibility tolerance (about 1e-6)
        return SolverResult(None, optimal=False, nodes=result.nodes, fallback=Fallback.OVER_BUDGET)
    if result.chosen is not None:  # the backend's own objective carries its tolerances; re-score exactly
        result.bound = min(result.bound, instance.objective(result.chosen))
        left = None if time_limit is None else time_limit - (time.perf_counter() - started)
        if (left is None or left > 0.01) and not interrupt_requested():
            result.chosen = _cheapest_tied(model, result.chosen, left)
    return result


def _cheapest_tied(model: SelectionModel, chosen: list[int], time_limit: float | None) -> list[int]:
    """The cheapest plan (tie rule) whose objective ties the one of ``chosen``, or ``chosen`` itself.

    Three steps, each only when the one before cannot settle it (issue 24):

    1. :func:`_cheaper_single`: when a cheaper plan can hold one network only (``k = 2`` networks of equal
       cost), the networks are scanned.
    2. :func:`~taskgroup.solvers.tie_bound.no_cheaper_tie`: a dual bound over the plans cheaper than
       ``chosen`` (column generation on their LP relaxation, a few small LPs) proves that none ties; where
       costs are equal, a cheaper plan has fewer networks and the bound is that of one network fewer, far
       above the optimum on measured losses. About 2 % of the first solve on a 27-task selection at ``k = 3``
       where the probe below took 80 %.
    3. A probe: the same model with the objective capped at the tie and the total cost capped below
       ``chosen``'s by the tie rule's cost tolerance, minimising the loss (minimising the total cost under the
       objective cap alone has a weak relaxation and took twice the first solve). Only when the probe finds a
       cheaper tied plan (or cannot decide) does a second solve minimise the total cost under the objective cap.
    """
    started = time.perf_counter()
    instance = model.instance
    value = instance.objective(chosen)
    cost = instance.total_cost(chosen)
    single = _cheaper_single(instance, value, cost)
    if single is not None:
        return _first_by_rule(instance, chosen, single or None)
    if no_cheaper_tie(instance, chosen, time_limit):
        return chosen
    left = None if time_limit is None else time_limit - (time.perf_counter() - started)
    if left is not None and left <= 0.01:
        return chosen
    model.set_objective_cap(value + objective_tolerance(value))
    try:
        model.set_total_cost_cap(cost - cost_tolerance(cost))
        try:
            probe = model.run("loss", left)
        finally:
            model.set_total_cost_cap(None)
        if probe.chosen is None:  # proven: no plan as good costs less; or the time limit came first
            return chosen
        left = None if time_limit is None else time_limit - (time.perf_counter() - started)
        if left is not None and left <= 0.01:
            return _first_by_rule(instance, chosen, probe.chosen)
        cheaper = model.run("total_cost", left).chosen
    except SolverError:
        # CP-SAT rejects the capped model (continuous y with a fractional cap, status MODEL_INVALID): HiGHS
        # decides the tie instead.
        if model.backend == "highs":
            raise
        return _cheapest_tied(SelectionModel(instance, "highs"), chosen, time_limit)
    finally:
        model.set_objective_cap(None)
    return _first_by_rule(instance, _first_by_rule(instance, chosen, probe.chosen), cheaper)


def _cheaper_single(instance: SelectionInstance, value: float, cost: float) -> list[int] | None:
    """When any two networks together cost more than a plan cheaper than ``cost`` may (the tie rule's total
    cost), a cheaper plan tied with ``value`` is a single network serving every task: the cheapest such network
    within the budget (``[j]``), ``[]`` when there is none (proven: no cheaper tie), and None when two networks
    could fit (the probe decides).

    Exact, and a scan of the networks instead of a MIP: on a 27-task selection of 3,185 groups at ``k = 2`` the
    probe cost 0.8 of the first solve (issue 24).
    """
    per_network = (instance.C / instance.cost_unit).sum(axis=1)
    cap = cost - cost_tolerance(cost)
    if len(per_network) < 2 or float(np.sort(per_network)[:2].sum()) <= cap:
        return None
    losses = instance.WL.sum(axis=1)  # inf where a network leaves a task unserved
    tied = np.flatnonzero(
        (per_network <= cap) & np.isfinite(losses) & (losses <= value + objective_tolerance(value))
    ).tolist()
    tied = [j for j in tied if fits(instance.C[j], instance.budget)]
    if not tied:
        return []
    return [min(tied, key=lambda j: (per_network[j], j))]


def _first_by_rule(instance: SelectionInstance, chosen: list[int], other: list[int] | None) -> list[int]:
    """Whichever of ``chosen`` (a plan known to fit) and ``other`` (None: no plan) comes first in the tie rule and
    fits the budget; ``chosen`` when neither comes strictly first."""
    if other is not None and fits(instance.C[other].sum(axis=0), instance.budget) and instance.precedes(other, chosen):
        return other
    return chosen
