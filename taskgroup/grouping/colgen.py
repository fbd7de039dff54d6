"""Column generation over groups: an upper bound on the best selection of ``k`` groups, and often a proof.

Restricted master: the facility-location LP over the groups generated so far
(:func:`~taskgroup.grouping.master_lp.master_lp`), with duals ``pi_t`` (each task served once) and ``mu`` (at
most ``k`` groups).

Pricing: a group's reduced profit is ``P(G) - mu`` with ``P(G) = sum_{t in G} max(0, v_t(G) - pi_t)``. For
*any* ``pi``, every selection of at most ``k`` groups has ``V <= sum_t pi_t + k * max(0, max_G P(G))``
(each task is served once, so ``V = sum pi + sum_{G chosen} sum_{t served by G} (v_t(G) - pi_t)``); with an
exact (or upper-bounded) pricing step this is a valid bound at every iteration.

The master is driven first by heuristic pricing (:func:`~taskgroup.grouping.local_pricing.improve_groups`, a
batched add/drop search from the LP's columns and every task's best pair, its best local optima then improved by
swaps, :func:`~taskgroup.grouping.local_pricing.swap_groups`) until it finds no column that improves the LP; the
master MIP over those columns then gives the selection, and only then does exact pricing run, for the bound. The
first master MIP runs earlier, during that phase, once the LP's gain per CPU second has tailed off
(:func:`_gain_waning`: at 60 tasks each LP then costs seconds for a small rise) or half the time limit is spent:
the first plan need not wait for the phase's slow tail. The
LP holds at most :data:`LP_COLUMNS` columns, past which the longest unused leave it (the MIP keeps every one).
Exact pricing lists every group for up to :data:`ENUMERATE_MAX_TASKS` tasks, and otherwise is a branch-and-bound
over tasks per group size (:mod:`taskgroup.grouping.pricing`), whose bound is used when it stops early. It is
exact while a few more calls of its last one's length fit in the time left; past that, each call may leave its
bound on ``P*`` a share (:data:`PRICING_TOLERANCE`) of the remaining gap above the LP value above ``P*``, for a
smaller search.
(On N(0, 1) affinities the LP bound itself is tight or nearly so: what an exact pricing gives at the converged
LP duals is most of the bound, and a tolerance ladder searched most of the same tree again call after call.)
Since any duals give a bound, pricing can also run at smoothed duals (Wentges, ``smoothing > 0``): a convex
combination of the LP's duals and the best duals so far, which start at the duals of the group-size bound
(:meth:`GroupScorer.size_duals`), so the bound starts no worse than that one. The LP duals are the default: after
the heuristic phase the LP is near its optimum over every group, where they give the LP bound itself. The master
LP is HiGHS (through scipy), the master MIP the core ILP.

Proof by reduced-profit fixing: the LP bound alone rarely meets an integer selection exactly (and the smoothed
bound only approaches it), so once the gap is small, and after an exact pricing, the search lists every group
whose ``P(G)`` at the best duals exceeds ``value - sum(pi) - (k - 1) max_G P(G)`` (:func:`_fixing_threshold`):
only such groups can be part of a selection better than ``value``. With all of them among the columns, the
master MIP's optimum is the optimum over every group. This closes small integrality gaps too (the LP bound of
the planted 40-task benchmark at k = 4 is 0.3 % above the optimum) without branching.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Container

import numpy as np

from taskgroup.errors import InfeasibleBudget
from taskgroup.grouping.cover import Group, GroupScorer
from taskgroup.grouping.exact_pricing import FIXING_CAPACITY, ExactPricing, profit
from taskgroup.grouping.heuristics import PROGRESS_EVERY, local_search
from taskgroup.grouping.local_pricing import improve_groups, swap_groups
from taskgroup.grouping.master_lp import master_lp

__all__ = ["column_generation", "ColumnGenerationResult", "ENUMERATE_MAX_TASKS", "PROOF_TOLERANCE"]

ENUMERATE_MAX_TASKS = 16
# a proof by reduced-profit fixing is attempted once the gap is at most this share of the value ...
PROOF_GAP = 0.15
# ... or once three exact pricings in a row each closed less than this share of the gap
STALL_SHARE = 0.03
# A master MIP's selection that beats the incumbent is improved by local search until this many kicks in a row
# find nothing better (as colgen's start, taskgroup.grouping.group.START_PATIENCE).
POLISH_PATIENCE = 10
# exact pricing may leave its bound on P* this share of the gap above the LP value (divided by k) above P* ...
PRICING_TOLERANCE = 0.25
# ... when fewer than this many calls as long as the last one fit in the time left (else it is exact)
EXACT_PRICINGS_LEFT = 4
# relative tolerance under which a bound counts as closed (the LP and MIP tolerances are ~1e-9..1e-7)
PROOF_TOLERANCE = 1e-6
# master rounds priced by the heuristic alone (while it finds columns) before each exact pricing
HEURISTIC_ROUNDS = 50
# ... and HEURISTIC_PATIENCE rounds in a row that raise the LP by less than HEURISTIC_GAIN of its value end them
HEURISTIC_GAIN = 1e-4
HEURISTIC_PATIENCE = 50
# the first master MIP (the first plan) runs during the first phase once the LP's gain per CPU second over its last
# GAIN_WINDOW rounds falls below GAIN_SHARE of the phase's own gain per CPU second (the tail, where each round's LP
# costs seconds and adds little: see _gain_waning), or once FIRST_PLAN_SHARE of the time limit is spent, leaving
# the rest to that MIP
GAIN_SHARE = 0.2
GAIN_WINDOW = 2
FIRST_PLAN_SHARE = 0.5
# past LP_COLUMNS columns in the LP, those unused (x = 0) in the last COLUMN_AGE solves leave it, longest unused
# first (they stay in the master MIP); below it every column stays
LP_COLUMNS = 500
COLUMN_AGE = 10
# local optima of heuristic pricing improved further by swaps, per round
SWAP_SEEDS = 10
_EPS = 1e-7


class ColumnGenerationResult:
    """Best selection found, its value, the proven upper bound on V, and iteration counts.

    Parameters
    ----------
    groups : list of frozenset of int
        The best selection found.
    value : float
        Its ``V``.
    upper_bound : float
        A proven upper bound on ``V`` over every selection of at most ``k`` groups.
    iterations : int
        Column-generation iterations run: rounds that price at the (smoothed) duals and may lower the bound; the
        cheap heuristic-only rounds that drive the LP between them are not counted.
    columns : int
        Groups in the master problem at the end.
    """

    def __init__(self, groups: list[Group], value: float, upper_bound: float, iterations: int, columns: int) -> None:
        self.groups = groups
        self.value = value
        self.upper_bound = upper_bound
        self.iterations = iterations
        self.columns = columns


def _improve_column(scorer: GroupScorer, group: Group, pi: np.ndarray) -> tuple[float, Group]:
    """Heuristic pricing: add/remove single tasks while P(G) grows."""
    best = float(profit(scorer.values(group), pi))
    improved = True
    while improved:
        improved = False
        for t in range(scorer.n):
            child = group - {t} if t in group else group | {t}
            if len(child) < scorer.min_size:
                continue
            p = float(profit(scorer.values(child), pi))
            if p > best + _EPS:
                best, group, improved = p, child, True
    return best, group


def column_generation(
    scorer: GroupScorer,
    k: int,
    start: list[Group],
    *,
    time_limit: float | None = None,
    max_iterations: int = 500,
    smoothing: float = 0.0,
    say: Callable[[str], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> ColumnGenerationResult:
    """Column generation from the groups ``start`` (a valid selection); see the module docstring.

    Each round first prices heuristically at the LP duals (up to :data:`HEURISTIC_ROUNDS` rounds while it finds
    columns), then solves the master MIP over new columns, then prices exactly. Exact pricing can be stabilised by
    Wentges smoothing: it runs at ``alpha * centre + (1 - alpha) * pi_LP``, the centre being the duals with the
    best Lagrangian bound so far (``alpha = smoothing``; 0, the default, prices at the LP duals). When the
    groups found there do not improve the LP (mispricing), ``alpha`` is halved, and set to 0 once small, so the
    loop still ends with the LP optimum over every group. ``time_limit=None`` means no limit: the loop then ends
    when the LP is optimal over every group, the bound closes, or after ``max_iterations``.

    A master MIP selection better than the incumbent is improved by local search (until :data:`POLISH_PATIENCE`
    kicks in a row find nothing better) before it becomes the incumbent; the groups it ends with join the columns.

    Once the gap is small (:data:`PROOF_GAP` of the value) or the bound stalls, a proof is attempted by
    reduced-profit fixing (:func:`_fixing_threshold`): every group a better selection could use is listed into
    the master, whose integer optimum is then the optimum over every group.

    ``say``, if given, receives a progress line on the iteration, columns, value, bound, gap and time left once
    :data:`~taskgroup.grouping.heuristics.PROGRESS_EVERY` seconds have passed since the start or the last line
    (also while a master MIP runs: the line then starts with how long it has run), and a last line at the end when
    any was given: a quick run stays silent.

    ``stop``, if given, is asked before each iteration; once it returns True the loop ends as at the time limit,
    without the final master solve, and the best selection so far comes back with its bound (Ctrl-C). A master
    MIP running then is stopped too, when ``stop`` is the flag of :func:`~taskgroup.interrupts.interrupt_flag`
    (:meth:`~taskgroup.solvers.model.SelectionModel.run`).

    Parameters
    ----------
    scorer : GroupScorer
        The group values.
    k : int
        The most groups.
    start : list of frozenset of int
        A valid selection to start from.
    time_limit : float, optional
        Seconds.
    max_iterations : int, default 500
        Most iterations (as counted in :class:`ColumnGenerationResult`).
    smoothing : float, default 0.0
        The initial Wentges ``alpha``.
    say : callable(str), optional
        Progress lines.
    stop : callable() -> bool, optional
        Asked before each iteration.

    Returns
    -------
    ColumnGenerationResult
    """
    from taskgroup.solvers import solve

    started = time.perf_counter()
    deadline = math.inf if time_limit is None else started + time_limit
    n = scorer.n
    columns: dict[Group, None] = dict.fromkeys(start)
    S = scorer.S.copy()
    np.fill_diagonal(S, -np.inf)
    for t in range(n):  # every task's best partner: cheap, useful columns
        columns.setdefault(frozenset((t, int(np.argmax(S[:, t])))), None)
    pricing = ExactPricing(scorer, listing=n <= ENUMERATE_MAX_TASKS)
    offset = scorer.size_offsets
    upper = scorer.trivial_bound()
    best_pi: np.ndarray | None = None
    best_profit = 0.0
    size_bound, size_pi = scorer.size_duals(k)
    if np.all(np.isfinite(size_pi)):
        # the size bound's duals certify it (P(G) <= lam for every G): a good first stability centre
        lam = (size_bound - float(size_pi.sum())) / k
        upper, best_pi, best_profit = min(upper, size_bound), size_pi, max(0.0, lam)
    incumbent, incumbent_value = list(start), scorer.value(start)

    def integer_master() -> bool:
        """Solve the master as a MIP over the columns; keep its selection if better. True when proven optimal.
        A long MIP says so; Ctrl-C stops it as the time limit would (HiGHS then gives no selection)."""
        nonlocal incumbent, incumbent_value
        groups = list(columns)
        problem = scorer.listed_problem(groups)
        remaining = None if time_limit is None else max(1.0, deadline - time.perf_counter())
        solving = time.perf_counter()

        def still_solving(line: str) -> None:  # the solver's cadence is the lines' own; its wording is ours
            report(f"master MIP over {len(groups)} columns still solving after {time.perf_counter() - solving:.0f} s; ")

        try:
            plan = solve(problem, budget=k, method="ilp", time_limit=remaining, say=still_solving)
        except InfeasibleBudget:
            if not stopped():
                raise
            return False  # Ctrl-C stopped the MIP before it held a selection, and greedy found none within k
        chosen = [groups[problem.network_index(name)] for name in plan.networks]
        if scorer.value(chosen) <= incumbent_value:
            return plan.optimal
        if not stopped():
            # a better selection from the master is a new place for local search to start from (its groups
            # are columns too): where the bound cannot close (unstructured matrices of 60 tasks), the plan is
            # only as good as the search around the incumbents
            left = None if time_limit is None else max(0.0, deadline - time.perf_counter())
            chosen, _ = local_search(
                scorer, k, start=chosen, max_rounds=None, patience=POLISH_PATIENCE, time_limit=left
            )
            for g in chosen:
                columns.setdefault(g, None)
        incumbent, incumbent_value = chosen, scorer.value(chosen)
        return plan.optimal

    def prove(capacity: int | None = FIXING_CAPACITY, seconds: float = math.inf) -> bool:
        """List every group a better selection could use into the master; True when its optimum is proven.

        More than ``capacity`` such groups (None: no limit where pricing lists every group), or a listing
        longer than ``seconds``, drop the attempt.
        """
        assert best_pi is not None, "proving follows at least one pricing round"
        threshold = _fixing_threshold(incumbent_value, best_pi, best_profit, k)
        listed = pricing.above(best_pi, threshold, min(deadline, time.perf_counter() + seconds), capacity, stopped)
        if listed is None:
            return False  # too many such groups, or out of time
        for g in listed:
            columns.setdefault(g, None)
        return integer_master()

    def closed() -> bool:
        return upper - incumbent_value <= PROOF_TOLERANCE * max(1.0, abs(incumbent_value))

    reported = started  # when the last progress line went out

    def report(doing: str = "", final: bool = False) -> None:
        """A progress line when one is due; ``doing``, a step in progress that keeps its own cadence, starts it."""
        nonlocal reported
        now = time.perf_counter()
        if say is None or (now - reported < PROGRESS_EVERY and not doing and not (final and reported > started)):
            return
        reported = now
        # relative, as the plan's own gap is, so that the lines and the final summary read alike
        gap = max(0.0, upper - incumbent_value) / max(abs(incumbent_value), 1e-12)
        left = "" if final or time_limit is None else f" ({max(0.0, deadline - now):.0f} s left)"
        say(
            f"colgen: {doing}{'done after ' if final else ''}{iterations} iterations, {len(columns)} columns, "
            f"value {incumbent_value:.6g}, bound {max(upper, incumbent_value):.6g}, "
            f"gap {gap:.2%}, {now - started:.0f} s{left}"
        )

    alpha = smoothing
    iterations = 0
    proven = False
    attempted_gap = math.inf
    stalls = 0  # consecutive exact pricings that closed less than STALL_SHARE of the gap
    stopped = stop or (lambda: False)
    heuristic_rounds = 0  # master rounds priced by the heuristic alone since the last exact pricing
    heuristic_lp, flat_rounds = -math.inf, 0  # the LP value when it last grew, and rounds since
    phase: list[tuple[float, float]] = []  # (CPU seconds, LP value) at each LP solve of the heuristic phase
    master_columns = 0  # columns at the last integer master
    pricing_seconds = 0.0  # the last exact pricing's time
    priced_at: np.ndarray | None = None  # the duals of the last exact pricing
    best_exact = False  # whether best_profit is P* at best_pi (not a bound left above it by a tolerance)
    # the LP's columns, each with the LP solves since it was last used (x > 0); `columns` keeps every group
    # generated, for the master MIP. Past LP_COLUMNS, columns unused for COLUMN_AGE solves leave the LP (pricing
    # brings back any that would improve it): on 60 tasks the LP over every generated group took ~90 % of the time
    active: dict[Group, int] = dict.fromkeys(columns, 0)
    while iterations < max_iterations and time.perf_counter() < deadline and not closed() and not stopped():
        for g in incumbent:  # they cover every task: the LP stays feasible
            active.setdefault(g, 0)
        order = list(active)
        lp_value, pi_lp, mu, x = master_lp(scorer, order, k)
        for g, used in zip(order, x):
            active[g] = 0 if used > _EPS else active[g] + 1
        if len(active) > LP_COLUMNS:
            # the longest unused leave, down to the limit; below it none do (a column dropped while the duals
            # still move is often found again a few rounds later, and the rounds cycle)
            kept = set(incumbent)
            idle = sorted((g for g in active if active[g] > COLUMN_AGE and g not in kept), key=lambda g: -active[g])
            for g in idle[: len(active) - LP_COLUMNS]:
                del active[g]
        if lp_value >= upper - _EPS * (1 + abs(upper)):
            break  # the LP over the columns meets a proven bound: nothing left to gain from pricing
        if lp_value > heuristic_lp + HEURISTIC_GAIN * max(1.0, abs(lp_value)):
            heuristic_lp, flat_rounds = lp_value, 0
        else:
            flat_rounds += 1
        phase.append((time.process_time(), lp_value))
        if master_columns == 0 and (
            _gain_waning(phase) or time.perf_counter() - started >= FIRST_PLAN_SHARE * (deadline - started)
        ):
            # the first plan, early: the phase's gain has tailed off, or a time limit keeps a share of itself for
            # the MIP that makes the plan. The phase then goes on by its own rules, as it would have without this
            # MIP (ending it here instead moved exact pricing to less converged duals: a worse 30-task bound)
            master_columns = len(columns)
            integer_master()
            if closed() or stopped():
                break
        if heuristic_rounds < HEURISTIC_ROUNDS and flat_rounds < HEURISTIC_PATIENCE:
            # drive the master with cheap columns first: exact pricing is worth its cost only at duals that the
            # heuristic cannot improve on (or no longer improves the LP by much: degenerate duals)
            heuristic_rounds += 1
            seeds = [g for g, used in zip(order, x) if used > _EPS] + order[-4 * n :] + incumbent
            added = _heuristic_columns(scorer, offset, pi_lp, mu, seeds, active)
            if added:
                columns.update(dict.fromkeys(added))
                active.update(dict.fromkeys(added, 0))
                report()
                continue
        heuristic_rounds, flat_rounds, heuristic_lp, phase = 0, 0, -math.inf, []
        if len(columns) > master_columns:
            # the columns the heuristic converged on often hold a better selection: the gap, and so the
            # pricing tolerance, are measured from it
            master_columns = len(columns)
            integer_master()
            if closed() or stopped():  # Ctrl-C during the MIP: no pricing round after it
                break
        iterations += 1
        at_lp = best_pi is None or alpha == 0.0
        pi = pi_lp if best_pi is None or alpha == 0.0 else alpha * best_pi + (1 - alpha) * pi_lp
        # heuristic pricing at the smoothed duals: recent columns and every task's best pair, grown greedily
        seeds = list(active)[-4 * n :] + [frozenset((t, int(np.argmax(S[:, t] - pi[t])))) for t in range(n)]
        heuristic = {}
        for group in seeds:
            p, g = _improve_column(scorer, group, pi)
            heuristic[g] = p
        known = sorted(((p, g) for g, p in heuristic.items()), key=lambda pg: -pg[0])
        if not at_lp and float(pi.sum()) + k * max(0.0, known[0][0]) >= upper:
            # exact pricing cannot lower the bound here (P* >= the heuristic's best); keep its columns only
            found, max_profit = known[:n], math.inf
        else:
            gap = upper - incumbent_value
            # the bound need not be exact: a share of what pricing can still close buys a smaller search, and the
            # share shrinks with the bound, call after call. But a smaller share searches most of the last tree
            # again (an exact search costs only ~1.5x one with a quarter of the gap as tolerance, measured on
            # N(0, 1) affinities), so the call is exact while a few calls of the last one's length fit in the
            # time left, and at the duals of the last call (it added no column: the LP did not move)
            repeated = priced_at is not None and np.array_equal(pi, priced_at)
            affordable = EXACT_PRICINGS_LEFT * pricing_seconds < deadline - time.perf_counter()
            share = 0.0 if repeated or affordable else PRICING_TOLERANCE
            tolerance = share * max(upper - max(lp_value, incumbent_value), 0.0) / k
            pricing_started = time.perf_counter()
            found, max_profit = pricing.price(pi, deadline, known[:n], tolerance, stopped)
            pricing_seconds = time.perf_counter() - pricing_started
            priced_at = pi
            best_found = max([0.0] + [p for p, _ in found])
            exact = max_profit <= best_found + _EPS * (1.0 + abs(best_found))
            bound = float(pi.sum()) + k * max(0.0, max_profit)
            if bound < upper:
                upper, best_pi, best_profit, best_exact = bound, pi, max(0.0, max_profit), exact
            stalls = stalls + 1 if gap - (upper - incumbent_value) < STALL_SHARE * gap else 0
        # a group improves the LP if its reduced profit at the LP's own duals is positive
        candidates = {g: p for p, g in [*known[:n], *found]}
        added = [g for g in candidates if g not in active and profit(scorer.values(g), pi_lp) > mu + _EPS]
        for g in added:
            columns[g] = None
            active[g] = 0
        gap = upper - incumbent_value
        # a proof lists every group above a threshold below the best reduced profit: it costs more than one
        # exact pricing, so it is tried only with time for a few of those left
        affordable = deadline - time.perf_counter() > 3 * pricing_seconds
        # ... and, unless the bound stalls, only from an exact pricing: above P* + tolerance its threshold lists
        # far more groups than FIXING_CAPACITY, which the search finds out only after about as long as pricing
        ready = best_exact or stalls >= 3
        if (
            best_pi is not None
            and affordable
            and ready
            and (gap <= PROOF_GAP * max(1.0, abs(incumbent_value)) or stalls >= 3)
        ):
            if gap <= attempted_gap / 2:  # retry only once the gap halved
                attempted_gap = gap
                # an attempt that fails costs its whole listing: it may take a few exact pricings' time
                if prove(seconds=3 * pricing_seconds + 1.0):
                    proven = True
                    break
        if not added and at_lp and max_profit <= mu + _EPS:
            # exact pricing at the LP duals found nothing: the LP is optimal over all groups
            upper = min(upper, lp_value + _EPS * (1 + abs(lp_value)))
            break
        if not added and not at_lp:
            alpha = 0.0 if alpha < 0.1 else alpha / 2  # mispricing: move toward the LP duals
        report()
    if not proven and not closed() and not stopped():
        master_optimal = integer_master()
        if not closed() and master_optimal and best_pi is not None:
            proven = prove(capacity=None)  # the last attempt: every group, where they are listed
    if proven:
        upper = incumbent_value
    report(final=True)
    return ColumnGenerationResult(incumbent, incumbent_value, max(upper, incumbent_value), iterations, len(columns))


def _heuristic_columns(
    scorer: GroupScorer, offset: np.ndarray, pi: np.ndarray, mu: float, seeds: list[Group], columns: Container[Group]
) -> list[Group]:
    """New groups that improve the master LP at duals ``(pi, mu)`` (``P(G) > mu``), found by
    :func:`~taskgroup.grouping.local_pricing.improve_groups` from ``seeds`` and every task's best pair, the
    best :data:`SWAP_SEEDS` of them improved by :func:`~taskgroup.grouping.local_pricing.swap_groups`; when that
    finds none, by swaps from every seed (the LP's columns among them sit at ``P = mu``: a swap away from one
    is the likeliest improving group, and exact pricing, which would find it otherwise, costs seconds)."""
    n = scorer.n
    pair = np.maximum(scorer.S - pi[None, :], 0.0)
    pair = pair + pair.T
    np.fill_diagonal(pair, -np.inf)
    starts = [frozenset((t, int(np.argmax(pair[t])))) for t in range(n)] + [g for g in seeds if len(g) >= 2]
    found, profits = improve_groups(scorer.S, offset, pi, _masks(starts, n))
    # the best few local optima, improved further by swaps (costlier moves, so not from every seed)
    best = found[np.argsort(-profits)]
    best = best[np.sort(np.unique(best, axis=0, return_index=True)[1])][:SWAP_SEEDS]
    swapped, _ = swap_groups(scorer.S, offset, pi, best)
    added = _improving(scorer, np.concatenate([found, swapped]), pi, mu, columns)
    if not added:
        swapped, _ = swap_groups(scorer.S, offset, pi, _masks([g for g in seeds if len(g) >= 2], n))
        added = _improving(scorer, swapped, pi, mu, columns)
    return added


def _gain_waning(phase: list[tuple[float, float]]) -> bool:
    """Whether a heuristic phase's LP gain has tailed off: over its last :data:`GAIN_WINDOW` rounds, the LP rose
    by less than :data:`GAIN_SHARE` of the phase's average gain per CPU second.

    ``phase`` holds ``(CPU seconds, LP value)`` at each LP solve since the phase began. The LP value of column
    generation rises with diminishing returns (the tailing-off effect): while the rate falls, continuing the phase
    for as long again as it has run adds at most ``GAIN_SHARE`` of what it gained so far, so the columns already
    hold most of what the phase will find, and the master MIP over them gives the first plan without waiting for
    the rest (the phase then goes on). Both rates are per CPU
    second of this process, so neither the instance's scale nor the machine's speed or load moves the point where
    the phase ends. A phase whose LP has not risen by :data:`HEURISTIC_GAIN` of its value (degenerate rounds, or
    the solver's noise) is left to :data:`HEURISTIC_PATIENCE`, and a window of more than one round lets a single
    degenerate round pass.
    """
    if len(phase) <= GAIN_WINDOW:
        return False
    (start, first), (recent, before), (now, last) = phase[0], phase[-1 - GAIN_WINDOW], phase[-1]
    if last - first <= HEURISTIC_GAIN * max(1.0, abs(last)):
        return False
    overall = (last - first) / max(now - start, 1e-9)
    return (last - before) / max(now - recent, 1e-9) < GAIN_SHARE * overall


def _masks(groups: list[Group], n: int) -> np.ndarray:
    """The distinct ``groups`` as rows of a boolean membership matrix."""
    unique = list(dict.fromkeys(groups))
    masks = np.zeros((len(unique), n), dtype=bool)
    for row, g in enumerate(unique):
        masks[row, list(g)] = True
    return masks


def _improving(
    scorer: GroupScorer, masks: np.ndarray, pi: np.ndarray, mu: float, columns: Container[Group]
) -> list[Group]:
    """The groups among ``masks`` not yet in ``columns`` whose ``P(G)`` (valued by the scorer) exceeds ``mu``."""
    added = []
    for row in np.unique(masks, axis=0):
        g = frozenset(np.flatnonzero(row).tolist())
        if g not in columns and profit(scorer.values(g), pi) > mu + _EPS:
            added.append(g)
    return added


def _fixing_threshold(value: float, pi: np.ndarray, max_profit: float, k: int) -> float:
    """Reduced-profit fixing: a selection worth more than ``value`` uses only groups with ``P(G)`` above this.

    For any duals ``pi``, a selection ``J`` of at most ``k`` groups has ``V(J) <= sum(pi) + sum_{G in J} P(G)``
    (each task is served once), and every ``P(G) <= max_profit``. So ``V(J) > value`` needs, for each ``G`` in
    ``J``, ``P(G) > value - sum(pi) - (k - 1) * max_profit``. The threshold returned is lowered by a small
    margin for the solvers' tolerances, which only lists more groups.
    """
    threshold = value - float(pi.sum()) - (k - 1) * max_profit
    return threshold - 1e-7 * (1.0 + abs(threshold))
