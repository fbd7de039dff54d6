"""Measure the groups most able to change the plan: an upper confidence bound on plan value, one network at a time.

:func:`ucb_select` repeats, until ``max_measured`` networks are measured:

1. fit the group posterior (:func:`~taskgroup.estimate.posterior.fit_group_posterior`) on everything measured;
2. find the plan of ``k`` groups that is best when every unmeasured group is ``optimism`` standard deviations better
   than predicted (measured groups at their measured losses): the plan with the highest upper confidence bound;
3. if that plan holds unmeasured groups, measure the one whose optimism carries most of the plan's optimistic value;
   if every group of it is measured, no unmeasured group can beat it even optimistically, and the selection stops.

The answer is the best plan under the posterior median with measured groups at their measured losses, with a
:class:`~taskgroup.estimate.certificate.Certificate`. Every step measures one group never measured before, so a
measured group is never measured twice; given the same measurements the steps are deterministic (the enumeration
is exact, the swap search seeded), so a run resumed from a results store retraces the interrupted one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from taskgroup.errors import InvalidArgument, InvalidProblem
from taskgroup.estimate.certificate import Certificate, certify
from taskgroup.estimate.posterior import GroupPosterior, fit_group_posterior
from taskgroup.grouping.plansearch import best_plan
from taskgroup.naming import network_name
from taskgroup.plan import Plan, plan_from_selection
from taskgroup.problem import Problem
from taskgroup.validation import check_number

__all__ = ["ucb_select", "AcquisitionResult", "posterior_plan"]

GroupLosses = dict[tuple[str, ...], dict[str, float]]
MeasureGroups = Callable[[list[tuple[str, ...]]], Mapping[tuple[str, ...], Mapping[str, float]]]


@dataclass
class AcquisitionResult:
    """What :func:`ucb_select` did.

    Attributes
    ----------
    plan : Plan
        The best plan under the posterior median, measured groups at measured losses; entries of unmeasured
        networks are flagged as predicted. It carries no bound: see ``certificate``.
    certificate : Certificate
    measured : dict
        Every measured group's per-task losses, in measurement order.
    steps : list of dict
        Per measurement: ``measured`` (networks so far), ``group`` (the network measured), ``optimistic``
        (the loss of the optimistic plan that asked for it).
    certified : bool
        Whether the selection stopped before ``max_measured`` because the optimistic plan (every network at its
        posterior value plus ``optimism`` standard deviations) was fully measured. It is a stopping reason under
        the model, not a proof of optimality: ``certificate`` says what is proven and what is only predicted.
    posterior : GroupPosterior
        The final model.
    """

    plan: Plan
    certificate: Certificate
    measured: GroupLosses
    steps: list[dict[str, Any]] = field(default_factory=list)
    certified: bool = False
    posterior: GroupPosterior | None = None


def ucb_select(
    measure_groups: MeasureGroups,
    tasks: Sequence[str],
    n_networks: int,
    *,
    max_measured: int,
    optimism: float = 1.0,
    weights: Sequence[float] | None = None,
    seed: int = 0,
    initial: Sequence[Sequence[str]] = (),
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> AcquisitionResult:
    """Choose ``n_networks`` groups of ``tasks``, measuring at most ``max_measured`` networks (see the module).

    Parameters
    ----------
    measure_groups : callable
        ``measure_groups([("a", "b")]) -> {("a", "b"): {"a": 0.3, "b": 0.5}}`` (losses > 0); task tuples in the
        order of ``tasks``. :func:`taskgroup.strategies.suite_measurer` makes one from a suite or an objective and a
        results store, so an interrupted selection resumes from what the store holds.
    tasks : sequence of str
        The tasks (2 .. :data:`~taskgroup.estimate.posterior.MAX_POSTERIOR_TASKS`, distinct).
    n_networks : int
        Networks in the plan.
    max_measured : int
        Most networks to measure (>= 1).
    optimism : float
        Standard deviations of optimism of the upper confidence bound (>= 0; 0 exploits the median only).
    weights : sequence of float, optional
        Task weights of the objective (default 1).
    seed : int
        Seed of the swap search's random starts (used only where plans are too many to enumerate).
    initial : sequence of task sequences
        Groups measured first, in one call, before the acquisition chooses (counted in the budget): e.g. every
        single-task network, which ``taskgroup run`` needs to weigh each task by its single-task loss.
    on_step : callable, optional
        Called with each step's record (progress reporting).

    Returns
    -------
    AcquisitionResult

    Raises
    ------
    InvalidArgument
        Bad tasks, ``k``, budget or optimism; a ``measure_groups`` answer that misses a requested group or member.
    InstanceTooLarge
        More tasks than the posterior enumerates.
    """
    tasks = [str(t) for t in tasks]
    if len(tasks) < 2 or len(set(tasks)) != len(tasks):
        raise InvalidArgument(f"tasks must be 2 or more distinct names; got {tasks!r}.")
    check_number(n_networks, "n_networks", "ucb_select", minimum=1, integer=True)
    k = n_networks
    check_number(max_measured, "max_measured", "ucb_select", minimum=1, integer=True)
    check_number(optimism, "optimism", "ucb_select", minimum=0)
    measured: GroupLosses = {}
    steps: list[dict[str, Any]] = []
    first: list[tuple[str, ...]] = []
    for group in initial:
        members = [group] if isinstance(group, str) else list(group)
        if not members or len(set(members)) != len(members) or any(t not in tasks for t in members):
            raise InvalidArgument(f"initial group {group!r} is not accepted: give distinct tasks among {tasks}.")
        ordered = tuple(t for t in tasks if t in members)
        if ordered not in first:
            first.append(ordered)
    if len(first) > max_measured:
        raise InvalidArgument(
            f"max_measured={max_measured} is below the {len(first)} initial groups; give at least {len(first)}."
        )
    if first:
        _measure(measure_groups, first, measured)
        for done in first:
            record = {"measured": len(steps) + 1, "group": network_name(done), "optimistic": float("nan")}
            steps.append(record)
            if on_step is not None:
                on_step(record)
    posterior = fit_group_posterior(tasks, measured, weights=weights)
    previous: tuple[tuple[int, ...], ...] = ()
    certified = False
    while len(measured) < max_measured:
        hopeful = posterior.values(optimism)
        plan, value, _ = best_plan(hopeful, k, seed=seed, starts=previous)
        previous = (plan,)
        open_rows = [g for g in plan if not posterior.measured[g]]
        if not open_rows:
            certified = True
            break
        # The group whose optimism carries most of the plan's optimistic value: measuring it moves the bound most.
        served = hopeful[list(plan)].argmax(axis=0)
        lift = np.subtract(hopeful, posterior.values(0.0), out=np.zeros_like(hopeful), where=posterior.members)
        carried = {g: float(lift[g, served == i].sum()) for i, g in enumerate(plan) if g in open_rows}
        row = max(open_rows, key=lambda g: (carried[g], -g))
        group = tuple(tasks[t] for t in sorted(posterior.groups[row]))
        _measure(measure_groups, [group], measured)
        record = {"measured": len(measured), "group": network_name(group), "optimistic": -value}
        steps.append(record)
        if on_step is not None:
            on_step(record)
        posterior = fit_group_posterior(tasks, measured, weights=weights)
    chosen = posterior_plan(posterior, k, seed=seed)
    certificate = certify(posterior, chosen, k)
    return AcquisitionResult(_as_plan(posterior, chosen, k), certificate, measured, steps, certified, posterior)


def posterior_plan(posterior: GroupPosterior, n_networks: int, *, seed: int = 0) -> tuple[int, ...]:
    """Rows of the best ``n_networks`` groups under the posterior median (measured groups at measured losses).

    Parameters
    ----------
    posterior : GroupPosterior
        The fitted model.
    n_networks : int
        Groups in the plan.
    seed : int, default 0
        Seed of the random starts of the plan search (:func:`~taskgroup.grouping.plansearch.best_plan`).

    Returns
    -------
    tuple of int
        The plan's rows of ``posterior.groups``, sorted.

    Raises
    ------
    InvalidProblem
        If no ``k`` groups serve every task (cannot happen: the model predicts every group).
    """
    plan, value, _ = best_plan(posterior.values(0.0), n_networks, seed=seed)
    if not np.isfinite(value):
        raise InvalidProblem(f"No {n_networks} groups serve every task.")
    return plan


def _measure(measure_groups: MeasureGroups, groups: list[tuple[str, ...]], into: GroupLosses) -> None:
    repeated = [g for g in groups if g in into]
    if repeated:  # the loop only asks for unmeasured groups; this guards the promise
        raise InvalidArgument(f"Groups {repeated} are measured already; a group is never measured twice.")
    answer = measure_groups(list(groups))
    for g in groups:
        if g not in answer or set(answer[g]) != set(g):
            raise InvalidArgument(
                f"measure_groups did not return a loss for every member of {g}; it returned "
                f"{dict(answer.get(g, {}))!r}."
            )
        into[g] = {t: float(v) for t, v in answer[g].items()}


def _as_plan(posterior: GroupPosterior, rows: tuple[int, ...], k: int) -> Plan:
    tasks = list(posterior.tasks)
    losses = posterior.losses(0.0)[list(rows)]
    names = [network_name(tasks[t] for t in sorted(posterior.groups[g])) for g in rows]
    problem = Problem(
        tasks,
        names,
        np.ones(len(rows)),
        np.where(np.isfinite(losses), losses, np.nan),
        posterior.weights,
        predicted=np.array([posterior.members[g] & ~posterior.measured[g] for g in rows]),
    )
    # No bound on the plan itself: the certificate's bounds hold under the model only, and say so.
    return plan_from_selection(problem, list(range(len(rows))), solver="ucb-posterior", budget={"cost": float(k)})
