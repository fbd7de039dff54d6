"""Adaptive measurement: train only the groups the selection relies on, within a budget of K networks.

:func:`adaptive_select` alternates (as MTG-Net's active learning does, but measuring what the *plan* needs):

1. measure a seeded initial design: every single-task network (optional) and random groups that cover every
   task (sizes 2 .. ``max_initial_size``);
2. fit the group predictor (:func:`~taskgroup.estimate.fitted.fit_group_predictor`) on everything measured,
   optimistic by ``optimism`` standard errors on each pair term (an upper confidence bound);
3. choose ``n_networks`` groups over *all* groups on those predictions, measured groups at their measured losses
   (:func:`~taskgroup.grouping.group.select_groups`);
4. measure the chosen groups that are still predicted; repeat from 2 until the chosen plan consists only of
   measured networks (then no predicted group, even optimistically, beats it) or ``max_measured``
   networks have been measured.

The answer is the best plan among the measured groups (exact ILP): every network in it has been trained.
Pure exploitation (``optimism=0``) stops at the first plan that confirms itself; on the planted 24-task
benchmark it stays far from the best plan, while ``optimism=1`` finds it within ~150 networks (HOA needs 300).

``measure_groups(groups)`` is any callable that measures a list of task tuples and returns their per-task
losses; :func:`suite_measurer` makes one from a suite and a results store (:func:`taskgroup.measure.measure`),
so groups already in the store are read back, not trained again, and an interrupted run resumes.

Up to 12 tasks, :func:`adaptive_measure` and the ``adaptive`` strategy of ``taskgroup run`` choose what to measure
with :func:`~taskgroup.strategies.acquisition.ucb_select` instead (a Bayesian model of every group with a
certificate; lower regret on the fully measured tables of ``benchmarks/results/strategies.md``); beyond 12 tasks
the strategy uses :func:`adaptive_select`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

import numpy as np

from taskgroup.errors import InfeasibleBudget, InvalidArgument, MeasurementError
from taskgroup.estimate.fitted import fit_group_predictor
from taskgroup.estimate.posterior import MAX_POSTERIOR_TASKS
from taskgroup.grouping.cover import GroupScorer
from taskgroup.grouping.group import GROUPING_METHODS, select_groups
from taskgroup.naming import network_name
from taskgroup.plan import Plan
from taskgroup.strategies.acquisition import AcquisitionResult, ucb_select
from taskgroup.strategies.base import Estimate, StrategyConfig
from taskgroup.validation import check_number

__all__ = [
    "adaptive_strategy",
    "adaptive_measure",
    "adaptive_select",
    "AdaptiveResult",
    "initial_design",
    "suite_measurer",
]

GroupLosses = dict[tuple[str, ...], dict[str, float]]
MeasureGroups = Callable[[list[tuple[str, ...]]], Mapping[tuple[str, ...], Mapping[str, float]]]


@dataclass
class AdaptiveResult:
    """What :func:`adaptive_select` did.

    Attributes
    ----------
    plan : Plan or None
        The best plan among the measured groups only (exact ILP, loss sense), or None if they cannot serve
        every task with ``n_networks`` networks.
    predicted_plan : Plan
        The last plan chosen on the (optimistic) predictions with measurements overriding them. When
        ``converged`` every network in it is measured and it scores as ``plan``.
    measured : dict
        Every measured group's per-task losses, in measurement order.
    rounds : list of dict
        Per round: ``measured`` (networks so far), ``predicted_objective``, ``networks``, ``unmeasured``.
    converged : bool
        Whether the plan consists only of measured networks (else the network budget ran out).
    """

    plan: Plan | None
    predicted_plan: Plan
    measured: GroupLosses
    rounds: list[dict[str, Any]] = field(default_factory=list)
    converged: bool = False


def initial_design(
    tasks: Sequence[str], n_groups: int, max_size: int, *, singles: bool, seed: int
) -> list[tuple[str, ...]]:
    """Singles (optional) and ``n_groups`` random groups: shuffled sweeps cut into sizes 2..max_size.

    Each sweep covers every task once, so ``n_groups >= ceil(n / max_size)`` puts every task in a group.

    Parameters
    ----------
    tasks : sequence of str
        The tasks.
    n_groups : int
        Distinct random groups to draw (of size 2 or more); the caller keeps it within the number of such groups.
    max_size : int
        The largest group size drawn (a group may be one larger, so that no sweep leaves one task alone).
    singles : bool
        Put every single task first.
    seed : int
        Seed of the draws.

    Returns
    -------
    list of tuple of str
        The singles (if any), then the groups in the order drawn, each in the order of ``tasks``.
    """
    rng = np.random.default_rng(seed)
    n = len(tasks)
    design: list[tuple[str, ...]] = [(t,) for t in tasks] if singles else []
    groups: dict[frozenset[int], None] = {}
    while len(groups) < n_groups:
        order = list(rng.permutation(n))
        while len(order) >= 2 and len(groups) < n_groups:
            size = int(rng.integers(2, max_size + 1))
            if len(order) - size == 1:  # never leave one task alone at the end of a sweep
                size += 1 if size < len(order) else -1
            chunk, order = order[:size], order[size:]
            groups.setdefault(frozenset(int(i) for i in chunk), None)
    design += [tuple(tasks[i] for i in sorted(g)) for g in groups]
    return design


def adaptive_select(
    measure_groups: MeasureGroups,
    tasks: Sequence[str],
    n_networks: int,
    *,
    max_measured: int,
    singles: bool = True,
    initial_groups: int | None = None,
    max_initial_size: int = 3,
    alpha: float = 0.1,
    optimism: float = 1.0,
    method: str = "local-search",
    time_limit: float | None = None,
    seed: int = 0,
    say: Callable[[str], None] | None = None,
) -> AdaptiveResult:
    """Choose ``n_networks`` groups of ``tasks`` measuring at most ``max_measured`` networks (see module).

    Parameters
    ----------
    measure_groups : callable
        ``measure_groups([("a", "b"), ("c",)]) -> {("a", "b"): {"a": 0.3, "b": 0.5}, ("c",): {"c": 0.4}}``;
        task tuples in the order of ``tasks``.
    tasks : sequence of str
        The tasks (2 or more, distinct).
    n_networks : int
        Networks in the deployed plan (groups; each costs 1).
    max_measured : int
        Most networks to measure in all (the initial design included).
    singles : bool
        Measure every single-task network first (then one-task groups are candidates).
    initial_groups : int, optional
        Random groups in the initial design (default: the number of tasks).
    max_initial_size : int
        Largest random group of the initial design (default 3: small groups pin down pair terms; random
        groups of up to twice the plan's mean size fitted worse in the benchmark).
    alpha : float
        Ridge penalty of the fitted predictor.
    optimism : float
        Standard errors of optimism in the predictor (see :func:`fit_group_predictor`): the plan favours
        rarely measured combinations, so measuring it explores; measured groups are then known exactly.
        0 trusts the fit (pure exploitation; it tends to stop at the first self-confirming plan).
    method : str
        Grouping method of :func:`select_groups` (``"local-search"`` default; ``"colgen"`` for a bound,
        ``"enumerate"`` exact up to 16 tasks). With a ``time_limit`` a method may choose differently from run to
        run; without one every method is deterministic for a seed, so a resumed run retraces the interrupted
        one exactly.
    time_limit : float, optional
        Seconds per selection; None (the default): no limit, as everywhere (local search stops after its
        rounds of kicks, column generation when its bound closes or after its iteration cap).
    seed : int
        Seed of the initial design and the randomised methods.
    say : callable, optional
        Given one line per round: networks measured, the predicted objective, chosen groups still predicted.

    Returns
    -------
    AdaptiveResult

    Raises
    ------
    InvalidArgument
        Bad tasks, n_networks, method, or a ``max_measured`` smaller than the initial design (the message says
        how many that is); a ``measure_groups`` answer that misses a requested group or member.
    """
    tasks = [str(t) for t in tasks]
    n = len(tasks)
    if n < 2 or len(set(tasks)) != n:
        raise InvalidArgument(f"tasks must be 2 or more distinct names; got {tasks!r}.")
    for name, value in (("n_networks", n_networks), ("max_measured", max_measured)):
        check_number(value, name, "adaptive_select", minimum=1, integer=True)
    check_number(time_limit, "time_limit", "adaptive_select", minimum=0, exclusive=True, optional=True)
    GROUPING_METHODS.get(method)  # an unknown name raises, listing the methods
    max_size = max_initial_size
    if not isinstance(max_size, int) or not 2 <= max_size <= n:
        raise InvalidArgument(f"max_initial_size={max_initial_size!r} is not accepted; give 2 .. {n}.")
    n_groups = n if initial_groups is None else int(initial_groups)
    if n_groups < math.ceil(n / max_size):
        raise InvalidArgument(
            f"initial_groups={initial_groups!r} cannot cover {n} tasks with groups of at most "
            f"{max_size}; give at least {math.ceil(n / max_size)}."
        )
    design = initial_design(tasks, n_groups, max_size, singles=singles, seed=seed)
    if max_measured < len(design):
        raise InvalidArgument(
            f"max_measured={max_measured} is below the initial design ({len(design)} networks: "
            f"{n if singles else 0} singles + {len(design) - (n if singles else 0)} random groups); give at least "
            f"{len(design)}, or fewer initial_groups / singles=False."
        )
    measured: GroupLosses = {}
    _measure(measure_groups, design, measured)
    rounds: list[dict[str, Any]] = []
    while True:
        predictor = fit_group_predictor(tasks, measured, alpha=alpha, optimism=optimism)
        plan = select_groups(
            predictor,
            n_networks,
            method=method,
            seed=seed,
            time_limit=time_limit,
        )
        members = {d.name: d.trained_tasks for d in plan.details}
        needed = [
            g for g in (tuple(t for t in tasks if t in members[name]) for name in plan.networks) if g not in measured
        ]
        record = {
            "round": len(rounds) + 1,
            "measured": len(measured),
            "predicted_objective": plan.objective,
            "networks": list(plan.networks),
            "unmeasured": len(needed),
        }
        rounds.append(record)
        if say is not None:
            say(
                f"round {record['round']}: {record['measured']} networks measured, predicted objective "
                f"{record['predicted_objective']:.4g}, {record['unmeasured']} chosen group(s) still predicted"
            )
        left = max_measured - len(measured)
        if not needed or left <= 0:
            break
        _measure(measure_groups, needed[:left], measured)
    return AdaptiveResult(_measured_plan(predictor, n_networks), plan, measured, rounds, converged=not needed)


def _measure(measure_groups: MeasureGroups, groups: list[tuple[str, ...]], into: GroupLosses) -> None:
    answer = measure_groups(list(groups))
    for g in groups:
        if g not in answer or set(answer[g]) != set(g):
            raise InvalidArgument(
                f"measure_groups did not return a loss for every member of {g}; it returned "
                f"{dict(answer.get(g, {}))!r}."
            )
        into[g] = {t: float(v) for t, v in answer[g].items()}


def _measured_plan(predictor: GroupScorer, budget: int) -> Plan | None:
    """The exact best plan among the measured groups alone (None if they cannot serve every task)."""
    from taskgroup.errors import InvalidProblem
    from taskgroup.solvers import solve

    groups = [g for g in predictor.measured if len(g) >= predictor.min_size]
    try:
        return solve(predictor.listed_problem(groups), budget=budget, method="ilp")
    except (InfeasibleBudget, InvalidProblem):  # some task in no measured group, or too few networks
        return None


def suite_measurer(
    suite: Any,
    store: str | PathLike[str] | Any,
    *,
    config: Any = None,
    split: str = "val",
    say: Callable[[str], None] | None = None,
    tasks: Sequence[str] | None = None,
    **measure_options: Any,
) -> MeasureGroups:
    """``measure_groups`` for :func:`adaptive_select` that measures through :func:`taskgroup.measure.measure`.

    Each call measures exactly the requested groups (full-size networks) with the results store; what the store
    already holds for this suite (or objective) and configuration is read back, not measured again, so rerunning
    an interrupted adaptive selection resumes it. Losses are means over seeds on ``split``.

    Parameters
    ----------
    suite : TaskSuite or callable
        A suite, or the user's ``objective(tasks, variant, seed)`` (the black-box route; then ``tasks`` is
        required and ``config`` does not apply).
    store : path or ResultStore
    config : TrainConfig, optional
        With a suite: how networks are trained.
    split : {"val", "test"}
    say : callable, optional
        Given one line per measurement call that trained networks, naming them.
    tasks : sequence of str, optional
        With an objective: its tasks, in the order names are built from.
    **measure_options
        Passed to :func:`taskgroup.measure.measure` (``seeds``, ``executor``, ``progress``, ``settings``, ...).

    Returns
    -------
    callable
        ``measure_groups(groups) -> {group: {task: loss}}``.

    Raises
    ------
    MeasurementError
        When a requested network failed (diverged or raised), naming it and the reason.
    """
    from taskgroup.measure import ResultStore, measure

    if split not in ("val", "test"):
        raise InvalidArgument(f"split={split!r}; accepted: 'val', 'test'.")
    objective = callable(suite) and not hasattr(suite, "task_names")
    if objective:
        if tasks is None or config is not None:
            raise InvalidArgument("With an objective, give tasks=[...] and no config (the objective trains itself).")
        order = list(tasks)
        options = {"tasks": order, **measure_options}
    else:
        from taskgroup.engine import TrainConfig

        order = list(suite.task_names)
        options = {"config": config or TrainConfig(), **measure_options, "half_singles": False}
    db = store if isinstance(store, ResultStore) else ResultStore(store)

    def measure_groups(groups: list[tuple[str, ...]]) -> dict[tuple[str, ...], dict[str, float]]:
        names = {network_name(t for t in order if t in g): g for g in groups}
        trained: list[str] = []

        def record(results: list[Any]) -> None:
            trained.extend(r.network for r in results)

        results = measure(suite, db, candidates=list(names), on_result=record, **options)
        if say is not None and trained:
            say(f"trained {', '.join(sorted(set(trained)))}")
        mine = results[results["network"].isin(list(names))]
        failed = mine[mine["status"] != "ok"]
        if not failed.empty:
            listing = "; ".join(f"{r.network} (seed {r.seed}): {r.reason}" for r in failed.itertuples())
            raise MeasurementError(f"Adaptive measurement needs these networks, and they failed: {listing}.")
        losses = mine.groupby(["network", "task"])[f"{split}_loss"].mean()
        return {g: {t: float(losses[(name, t)]) for t in g} for name, g in names.items()}

    return measure_groups


def adaptive_measure(
    source: Any,
    store: str | PathLike[str] | Any,
    *,
    max_measured: int,
    n_networks: int,
    seed: int = 0,
    config: Any = None,
    tasks: Sequence[str] | None = None,
    optimism: float = 1.0,
    say: Callable[[str], None] | None = None,
    **measure_options: Any,
) -> AcquisitionResult:
    """Measure at most ``max_measured`` networks of a suite or objective for a plan of ``n_networks``.

    The networks are chosen one at a time by :func:`~taskgroup.strategies.acquisition.ucb_select` (the group
    posterior's upper confidence bound on plan value) and trained through :func:`suite_measurer` into ``store``:
    what the store holds is read back, never trained again, so rerunning an interrupted call resumes it and
    retraces the same steps. ``taskgroup measure --strategy adaptive`` calls this.

    Parameters
    ----------
    source : TaskSuite or callable
        A suite, or the user's ``objective(tasks, variant, seed)`` (then ``tasks`` is required).
    store : path or ResultStore
        The results store.
    max_measured, n_networks : int
        Most networks to measure; networks of the plan to choose (both >= 1).
    seed : int
        Seed of the plan search's random starts (used only where plans are too many to enumerate).
    config : TrainConfig, optional
        With a suite: how networks train (default ``default_train_config(suite)``, as ``taskgroup run``).
    tasks : sequence of str, optional
        With an objective: its tasks.
    optimism : float
        Standard deviations of optimism of the acquisition (>= 0).
    say : callable, optional
        Given one progress line per measured network.
    **measure_options
        Passed to :func:`taskgroup.measure.measure` (``seeds``, ``executor``, ``progress``, ``settings``, ...).

    Returns
    -------
    AcquisitionResult
        The plan (``result.plan``), its certificate and every measured group.

    Raises
    ------
    InvalidArgument
        Bad budgets or options, an objective without ``tasks``.
    InstanceTooLarge
        More than 12 tasks (the posterior lists every group); use :func:`adaptive_select` there.
    MeasurementError
        A requested network failed.
    """
    from taskgroup.measure import ResultStore

    for name, value in (("max_measured", max_measured), ("n_networks", n_networks)):
        check_number(value, name, "adaptive_measure", minimum=1, integer=True)
    objective = callable(source) and not hasattr(source, "task_names")
    if objective:
        if not tasks:
            raise InvalidArgument("With an objective, give tasks=[...] (the tasks it trains).")
        order, route = list(tasks), {"tasks": list(tasks), **measure_options}
    else:
        if tasks is not None:
            raise InvalidArgument("tasks=... applies to an objective; load the suite with the tasks you want.")
        from taskgroup.engine.defaults import default_train_config

        order, route = list(source.task_names), {"config": config or default_train_config(source), **measure_options}
    db = store if isinstance(store, ResultStore) else ResultStore(store)

    def step(record: dict[str, Any]) -> None:
        if say is not None:
            say(
                f"measured {record['measured']}/{max_measured}: {record['group']} "
                f"(optimistic plan loss {record['optimistic']:.4g})"
            )

    return ucb_select(
        suite_measurer(source, db, **route),
        order,
        n_networks,
        max_measured=max_measured,
        optimism=optimism,
        seed=seed,
        on_step=step,
    )


def adaptive_strategy(source: Any, store: str | PathLike[str], config: StrategyConfig) -> Estimate:
    """Measure only the groups a plan of ``config.n_networks`` networks relies on.

    Up to 12 tasks the networks are chosen by :func:`~taskgroup.strategies.acquisition.ucb_select` (the group
    posterior's upper confidence bound on plan value; its certificate goes to ``config.say``) after every
    single-task network (a run weighs tasks by their single-task losses), beyond that by :func:`adaptive_select`
    (the fitted predictor, no list of groups; it measures the singles first too).

    At most ``config.max_measured`` networks are measured, through either route: a suite (trained with
    ``config.train``) or an objective (``config.measure_options`` gives its ``tasks``). Resumable like any
    measurement: what the store holds is read back, not measured again.

    Parameters
    ----------
    source : TaskSuite or callable
        The suite, or the user's ``objective(tasks, variant, seed)``.
    store : path or ResultStore
        The results store.
    config : StrategyConfig
        ``max_measured`` (an integer >= 1), ``n_networks`` (an integer >= 1; default: half the tasks, rounded
        up), ``seed``, how to measure.

    Returns
    -------
    Estimate
        The problem of the measured networks and their pair affinity.

    Raises
    ------
    InvalidArgument
        ``max_measured`` missing, either budget not an integer >= 1; an objective without ``tasks``.
    """
    from taskgroup.estimate.pairs import pair_affinity
    from taskgroup.measure import ResultStore, measure
    from taskgroup.problem import Problem

    for name in ("max_measured", "n_networks"):
        value = getattr(config, name)
        if (name == "max_measured" or value is not None) and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise InvalidArgument(f"strategy 'adaptive' needs {name} as an integer >= 1; got {value!r}.")
    options: dict[str, Any] = {"seeds": config.seeds, "executor": config.executor, "progress": config.progress}
    options.update(config.measure_options)
    objective = callable(source) and not hasattr(source, "task_names")
    if objective:
        tasks = list(options.get("tasks") or [])
        route = options
    else:
        tasks = list(source.task_names)
        route = {"config": config.train, **options}
    max_measured: int = config.max_measured  # type: ignore[assignment]  # checked >= 1 above
    db = store if isinstance(store, ResultStore) else ResultStore(store)
    n_networks = config.n_networks or math.ceil(len(tasks) / 2)  # default: a plan that shares networks
    measured: Mapping[tuple[str, ...], Any]
    if len(tasks) <= MAX_POSTERIOR_TASKS:
        result = ucb_select(
            suite_measurer(source, db, **route),
            tasks,
            n_networks,
            max_measured=max_measured,
            seed=config.seed,
            # a run weighs each task by its single-task loss (the relative objective) and normalises costs by them
            initial=[(t,) for t in tasks],
        )
        config.say(result.certificate.describe())
        measured = result.measured
    else:  # the posterior lists every group; beyond its limit the fitted predictor chooses without listing
        measured = adaptive_select(
            suite_measurer(source, db, **route),
            tasks,
            n_networks,
            max_measured=max_measured,
            seed=config.seed,
            say=config.say,
        ).measured
    names = sorted(network_name(t for t in tasks if t in g) for g in measured)
    # Everything named is in the store by now: this reads it back without training anything.
    measure(
        source, db, candidates=names, **{**route, "progress": False, **({} if objective else {"half_singles": False})}
    )
    run = {} if objective else {"suite": source.fingerprint(), "config": config.train.hash()}
    table = db.table("val", None if objective else config.cost, **run)
    table = table[table["network"].isin(names)]
    cost = [c for c in table.columns if c not in ("network", "task", "loss", "loss_std", "seeds", "loss_se")]
    problem = Problem.from_frame(table, cost=cost, tasks=db.task_order(table, **run))
    return Estimate(problem, pair_affinity(problem))
