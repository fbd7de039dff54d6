"""``tg.grouping.group``: pick ``n_networks`` task groups from an affinity matrix, by a registered method.

Methods work on the matrix directly and generate groups on demand, so they scale past the ~16 tasks at which
listing all ``2^n`` groups (:func:`group_problem` + :func:`tg.solve`) stops being practical:

=================  =====  ==========================================================================
name               exact  what it does
=================  =====  ==========================================================================
``enumerate``      yes    every group as a candidate, then the core ILP (up to 16 tasks)
``colgen``         yes*   column generation with exact pricing; proves optimality when the bound closes
``greedy-merge``   no     agglomerative merging of the best pair of groups
``beam``           no     the same, keeping the ``width`` best selections per level
``local-search``   no     iterated local search: add/remove/move/swap a task, merge/split groups
``graph-cluster``  no     greedy modularity communities of the positive affinity graph (networkx)
=================  =====  ==========================================================================

(*) within its time limit (``time_limit=None``, the default, means no limit: column generation then runs
until its bound closes or its iteration cap); otherwise the plan carries the proven bound and its gap. Every
plan reports a valid bound, the smallest of: each task with its best partner; the group-size bound
(:meth:`GroupScorer.size_bound`: a group of ``s`` tasks serves at most ``s`` of them); and for ``colgen`` its
Lagrangian bound from the LP duals.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from taskgroup.errors import Interrupted, InvalidArgument
from taskgroup.estimate.matrix import AffinityLike, as_affinity
from taskgroup.grouping.affinity_problem import SINGLETON_MODES
from taskgroup.grouping.clustering import modularity_groups
from taskgroup.grouping.colgen import PROOF_TOLERANCE, column_generation
from taskgroup.grouping.cover import Group, GroupScorer
from taskgroup.grouping.heuristics import beam_merge, greedy_merge, local_search
from taskgroup.interrupts import interrupt_flag
from taskgroup.plan import Plan
from taskgroup.registry import MethodSpec, Registry
from taskgroup.validation import check_number

__all__ = [
    "group",
    "select_groups",
    "GroupingResult",
    "MethodSpec",
    "GROUPING_METHODS",
    "register_grouping",
    "available_grouping_methods",
    "ENUMERATE_MAX_TASKS",
]

ENUMERATE_MAX_TASKS = 16
# colgen's start: local search until this many kicks in a row find nothing better, within this share of the time
# limit. Where it converges (30 tasks: 1-2 s) the share does not matter; on a 60-task N(0, 1) matrix at k = 3 a
# fixed count of 10 kicks stopped at 13.05, while going on reaches 14.09 in about 9 s, which colgen's own master
# MIP plans reached only after 1-2 minutes (benchmarks/results/solvers.md, item 5s).
START_PATIENCE = 10
START_SHARE = 0.5


@dataclass
class GroupingResult:
    """What a grouping method returns: the groups, a proven upper bound on V (inf if none), a proof flag.

    Attributes
    ----------
    groups : list of frozenset of int
        The chosen groups (task indices).
    upper_bound : float
        A proven upper bound on the objective V (inf if none).
    optimal : bool
        Whether the groups are proven optimal.
    nodes : int
        Search nodes (method-specific work count).
    """

    groups: list[Group]
    upper_bound: float = math.inf
    optimal: bool = False
    nodes: int = 0
    interrupted: bool = False


GroupingFunction = Callable[..., GroupingResult]


GROUPING_METHODS: Registry[MethodSpec] = Registry("grouping method", extra_names=["auto"])
"""The grouping-method registry (``"auto"`` is accepted by :func:`group` but is not a method: it picks one)."""


def register_grouping(name: str, function: GroupingFunction, *, exact: bool, description: str) -> None:
    """Register ``function(scorer, k, *, time_limit, seed, **options) -> GroupingResult`` under ``name``.

    A method that can run long may take a ``say`` keyword (a callable given progress lines); :func:`select_groups`
    passes its own ``say`` to it.

    ``time_limit`` reaches the function as seconds or None (no limit): a method must then stop by a rule of its
    own (convergence, a round or iteration cap).

    Parameters
    ----------
    name : str
        The method's name (``method=`` of :func:`group` and :func:`select_groups`).
    function : callable
        ``function(scorer, k, *, time_limit, seed, **options) -> GroupingResult``.
    exact : bool
        Whether the method proves optimality.
    description : str
        One line.
    """
    GROUPING_METHODS.register(name, MethodSpec(name, function, exact, description), description)


def available_grouping_methods() -> dict[str, MethodSpec]:
    """Registered grouping methods by name.

    Returns
    -------
    dict
        Name -> :class:`MethodSpec` (function, exactness, description).
    """
    return {name: GROUPING_METHODS.get(name) for name in GROUPING_METHODS}


def group(
    matrix: AffinityLike,
    n_networks: int,
    *,
    method: str = "auto",
    singletons: str = "exclude",
    higher_is_better: bool | None = None,
    orient: str = "source",
    time_limit: float | None = None,
    seed: int = 0,
    say: Callable[[str], None] | None = None,
    **options: Any,
) -> Plan:
    """At most ``n_networks`` groups covering every task, each task served by its best group (groups may overlap).

    Parameters
    ----------
    matrix : DataFrame, dict of dicts, or path
        ``matrix.loc[source, target]`` (see :func:`as_affinity`).
    n_networks : int
        Number of networks (groups), >= 1.
    method : str
        ``"auto"`` (``enumerate`` up to 16 tasks, else ``colgen``) or a name in :data:`GROUPING_METHODS`.
    singletons : {"exclude", "diagonal"}
        As in :func:`group_problem`.
    higher_is_better : bool, optional
        Default: ``matrix.attrs["higher_is_better"]`` if present, else True.
    orient : {"source", "target"}
        Row orientation of ``matrix``.
    time_limit : float, optional
        Seconds the method may take; None (the default): no limit, as in :func:`tg.solve`. The iterative
        methods then stop by their own rules (local search after its rounds of kicks, column generation when
        its bound closes or after its iteration cap), which at 30-40 tasks can take minutes: give a limit there.
    seed : int
        For the randomised methods (local search).
    say : callable, optional
        Given a progress line every few seconds by the methods that can run long (``colgen``: its local-search
        start's kicks and value, then iteration, value, bound, gap; ``local-search``: kicks and value); the others
        are quick and report nothing.
    **options
        Method options (``width`` for beam).

    Returns
    -------
    Plan
        Networks named ``"a+b"``, ``plan.score`` the total value in the matrix's sense, ``plan.bound`` the
        proven bound in loss sense (``-bound`` on the score), ``plan.optimal`` when proven.

    Raises
    ------
    InvalidArgument
        For a bad matrix, an unknown method, option or singleton mode, or ``n_networks`` < 1.
    Interrupted
        Ctrl-C during ``colgen``: its ``partial`` is the best plan so far, with its proven bound.

    Examples
    --------
    >>> import taskgroup as tg
    >>> plan = tg.grouping.group(tg.datasets.tag2021("celeba", "tag"), 3, method="colgen")
    >>> plan.optimal
    True
    """
    frame = as_affinity(matrix, orient=orient)
    if singletons not in SINGLETON_MODES:
        raise InvalidArgument(f"singletons={singletons!r} is not accepted; use one of {list(SINGLETON_MODES)}.")
    if singletons == "exclude" and len(frame) < 2:
        raise InvalidArgument("singletons='exclude' needs at least 2 tasks to form a group.")
    check_number(n_networks, "n_networks", "group", minimum=1, integer=True)
    check_number(time_limit, "time_limit", "group", minimum=0, exclusive=True, optional=True)
    hib = _higher_is_better(matrix, higher_is_better)
    S = frame.to_numpy() if hib else -frame.to_numpy()
    scorer = GroupScorer(S, singletons == "diagonal", tuple(frame.index), higher_is_better=hib)
    return select_groups(scorer, n_networks, method=method, time_limit=time_limit, seed=seed, say=say, **options)


def select_groups(
    predictor: GroupScorer,
    n_networks: int,
    *,
    method: str = "auto",
    higher_is_better: bool | None = None,
    time_limit: float | None = None,
    seed: int = 0,
    say: Callable[[str], None] | None = None,
    **options: Any,
) -> Plan:
    """At most ``n_networks`` groups chosen over *every* group of the tasks, valued by a predictor; no list of ``2^n``.

    The candidates are implicit: each group's per-task values come from ``predictor`` (a
    :class:`~taskgroup.grouping.cover.GroupScorer`: TAG/CS affinity, HOA from pairs via
    :func:`~taskgroup.estimate.hoa.hoa_predictor`, or a model fitted on measured groups via
    :func:`~taskgroup.estimate.fitted.fit_group_predictor`), and measured groups override predictions.
    ``colgen`` prices new groups by asking the predictor for the best group under the LP duals and
    reports a valid (Lagrangian) bound and its gap.

    Parameters
    ----------
    predictor : GroupScorer
        Values in the higher-is-better sense (negated, weighted losses for loss predictors).
    n_networks : int
        Number of networks (groups), >= 1.
    method : str
        ``"auto"`` (``enumerate`` up to 16 tasks, else ``colgen``) or a name in :data:`GROUPING_METHODS`.
    higher_is_better : bool, optional
        Sense of the returned plan: False reports losses (``-value / weight``), True scores. Default: the
        predictor's own ``higher_is_better`` (True for an affinity, False for a loss predictor).
    time_limit : float, optional
        Seconds the method may take; None (the default): no limit, as in :func:`tg.solve`. The iterative
        methods then stop by their own rules (local search after its rounds of kicks, column generation when
        its bound closes or after its iteration cap), which at 30-40 tasks can take minutes: give a limit there.
    seed : int
        For the randomised methods.
    say : callable, optional
        Given a progress line every few seconds by the methods that can run long (``colgen``: its local-search
        start's kicks and value, then iteration, value, bound, gap; ``local-search``: kicks and value); the others
        are quick and report nothing.
    **options
        Method options (``width`` for beam).

    Returns
    -------
    Plan
        Networks named ``"a+b"``; ``plan.bound`` the proven bound in loss sense, ``plan.optimal`` when proven.
        Entries of measured groups are not flagged as predicted.

    Raises
    ------
    InvalidArgument
        For an unknown method or option, ``n_networks`` < 1, or a bad time limit.
    Interrupted
        Ctrl-C during ``colgen``: its ``partial`` is the best plan so far, with its proven bound.
    """
    check_number(n_networks, "n_networks", "select_groups", minimum=1, integer=True)
    check_number(time_limit, "time_limit", "select_groups", minimum=0, exclusive=True, optional=True)
    name = method
    if method == "auto":
        name = "enumerate" if predictor.n <= ENUMERATE_MAX_TASKS else "colgen"
    spec = GROUPING_METHODS.get(name)
    options = _method_options(name, spec.function, options, say)
    started = time.perf_counter()
    result = spec.function(
        predictor,
        int(n_networks),
        time_limit=None if time_limit is None else float(time_limit),
        seed=seed,
        **options,
    )
    elapsed = time.perf_counter() - started
    value = predictor.value(result.groups)
    upper = min(result.upper_bound, predictor.trivial_bound(), predictor.size_bound(int(n_networks)))
    optimal = result.optimal or upper - value <= PROOF_TOLERANCE * max(1.0, abs(value))
    plan = predictor.plan(
        result.groups,
        k=int(n_networks),
        higher_is_better=predictor.higher_is_better if higher_is_better is None else bool(higher_is_better),
        solver=name,
        upper_bound=upper,
        optimal=optimal,
        wall_time=elapsed,
        nodes=result.nodes,
    )
    if result.interrupted:
        raise Interrupted("interrupted: the best plan so far, with its proven bound", plan)
    return plan


def _method_options(
    name: str, function: GroupingFunction, options: dict[str, Any], say: Callable[[str], None] | None
) -> dict[str, Any]:
    """``options`` plus ``say`` where the method takes it; options the method does not take are refused, naming
    the ones it does (not a TypeError from deep inside)."""
    parameters = inspect.signature(function).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        accepted = [p for p in list(parameters)[2:] if p not in ("time_limit", "seed", "say")]
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise InvalidArgument(
                f"Grouping method {name!r} takes no option(s) {unknown}; its options: {accepted or 'none'}."
            )
    return {**options, "say": say} if say is not None and "say" in parameters else options


def _higher_is_better(matrix: Any, given: bool | None) -> bool:
    if given is not None:
        return bool(given)
    attrs = getattr(matrix, "attrs", None)
    return bool(attrs.get("higher_is_better", True)) if isinstance(attrs, dict) else True


# ---------------------------------------------------------------------- registered methods
def _enumerate(scorer: GroupScorer, k: int, *, time_limit: float | None, seed: int) -> GroupingResult:
    from taskgroup.solvers import solve

    if scorer.n > ENUMERATE_MAX_TASKS:
        from taskgroup.errors import InstanceTooLarge

        raise InstanceTooLarge(
            f"method='enumerate' lists every group and takes up to {ENUMERATE_MAX_TASKS} tasks; this matrix has "
            f"{scorer.n}. Use method='colgen' or a heuristic."
        )
    groups = scorer.all_groups()
    problem = scorer.listed_problem(groups)
    plan = solve(problem, budget=k, method="ilp", time_limit=time_limit)
    chosen = [groups[problem.network_index(n)] for n in plan.networks]
    return GroupingResult(chosen, -plan.bound if math.isfinite(plan.bound) else math.inf, plan.optimal, plan.nodes)


def _greedy(scorer: GroupScorer, k: int, *, time_limit: float | None, seed: int) -> GroupingResult:
    return GroupingResult(greedy_merge(scorer, k))


def _beam(scorer: GroupScorer, k: int, *, time_limit: float | None, seed: int, width: int = 5) -> GroupingResult:
    if not isinstance(width, int) or width < 1:
        raise InvalidArgument(f"width={width!r} is not accepted; give an integer >= 1.")
    return GroupingResult(beam_merge(scorer, k, width=width))


def _local(
    scorer: GroupScorer, k: int, *, time_limit: float | None, seed: int, say: Callable[[str], None] | None = None
) -> GroupingResult:
    groups, tried = local_search(scorer, k, seed=seed, time_limit=time_limit, say=say)
    return GroupingResult(groups, nodes=tried)


def _cluster(scorer: GroupScorer, k: int, *, time_limit: float | None, seed: int) -> GroupingResult:
    return GroupingResult(modularity_groups(scorer, k))


def _colgen(
    scorer: GroupScorer,
    k: int,
    *,
    time_limit: float | None,
    seed: int,
    say: Callable[[str], None] | None = None,
) -> GroupingResult:
    started = time.perf_counter()
    # a good starting selection makes the master's integer solution and the bound meet sooner
    start_limit = None if time_limit is None else START_SHARE * time_limit
    with interrupt_flag("keeping the best plan so far after the current iteration") as interrupted:
        start, _ = local_search(
            scorer,
            k,
            seed=seed,
            time_limit=start_limit,
            max_rounds=None,
            patience=START_PATIENCE,
            say=None if say is None else lambda line: say(f"colgen start: {line}"),
            stop=interrupted.is_set,
        )
        remaining = None if time_limit is None else max(0.1, time_limit - (time.perf_counter() - started))
        result = column_generation(scorer, k, start, time_limit=remaining, say=say, stop=interrupted.is_set)
    optimal = result.upper_bound - result.value <= PROOF_TOLERANCE * max(1.0, abs(result.value))
    return GroupingResult(result.groups, result.upper_bound, optimal, result.iterations, interrupted.is_set())


register_grouping("enumerate", _enumerate, exact=True, description="every group listed, then the core ILP (n <= 16)")
register_grouping("colgen", _colgen, exact=True, description="column generation with exact pricing; bound and gap")
register_grouping("greedy-merge", _greedy, exact=False, description="agglomerative merging of the best pair")
register_grouping("beam", _beam, exact=False, description="agglomerative merging with a beam of selections")
register_grouping("local-search", _local, exact=False, description="iterated local search over overlapping groups")
register_grouping("graph-cluster", _cluster, exact=False, description="greedy modularity clustering (networkx)")
