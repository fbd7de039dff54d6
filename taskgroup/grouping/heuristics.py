"""Heuristics that pick ``k`` groups for many tasks (16..40) without listing all ``2^n`` groups.

- :func:`greedy_merge`: agglomerative; start from one group per task, merge the pair that helps most.
- :func:`beam_merge`: the same, keeping the ``width`` best selections at each level.
- :func:`local_search`: iterated local search over selections of at most ``k`` possibly overlapping groups,
  with moves add / remove / move / swap a task, merge two groups, split a group, open a new pair; random
  kicks between descents. Starts from :func:`greedy_merge`.

All maximise ``V`` of :mod:`taskgroup.grouping.cover` and make no optimality claim.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from itertools import combinations

import numpy as np

from taskgroup.errors import InvalidArgument
from taskgroup.grouping.cover import Group, GroupScorer

__all__ = ["greedy_merge", "beam_merge", "local_search", "PROGRESS_EVERY"]

#: Seconds between the progress lines of a long search (local search, and column generation in
#: :mod:`taskgroup.grouping.colgen`).
PROGRESS_EVERY = 5.0


def _baseline(scorer: GroupScorer) -> np.ndarray:
    """Stand-in value of a task still alone when singletons are not allowed: its mean over all partners.

    (A lexicographic rule "fix lone tasks first" makes early merges by necessity and misses planted
    clusters; valuing a lone task at its average partner lets merges be chosen on their merit.)
    """
    n = scorer.n
    return (scorer.S.sum(axis=0) - np.diag(scorer.S)) / max(n - 1, 1)


def _key(scorer: GroupScorer, groups: Sequence[Group]) -> tuple[int, float]:
    """Merge key: V with lone tasks (when not allowed) at their :func:`_baseline` value; larger is better."""
    best = scorer.best(groups)
    finite = np.isfinite(best)
    if not finite.all():
        best = np.where(finite, best, _baseline(scorer))
    return 0, float(best.sum())


def _merge_children(scorer: GroupScorer, groups: list[Group]) -> Iterator[tuple[tuple[int, float], list[Group]]]:
    for a, b in combinations(range(len(groups)), 2):
        child = [g for i, g in enumerate(groups) if i not in (a, b)] + [groups[a] | groups[b]]
        yield _key(scorer, child), child


def _done(scorer: GroupScorer, groups: list[Group], k: int) -> bool:
    return len(groups) <= k and bool(np.all(np.isfinite(scorer.best(groups))))


def greedy_merge(scorer: GroupScorer, k: int) -> list[Group]:
    """Merge the best pair of groups until at most ``k`` valid groups remain (a partition of the tasks).

    Parameters
    ----------
    scorer : GroupScorer
        The group values.
    k : int
        The most groups.

    Returns
    -------
    list of frozenset of int
        :func:`beam_merge` with width 1.
    """
    return beam_merge(scorer, k, width=1)


def beam_merge(scorer: GroupScorer, k: int, width: int = 5) -> list[Group]:
    """Agglomerative merging keeping the ``width`` best selections (by :func:`_key`) at every level.

    Parameters
    ----------
    scorer : GroupScorer
        The group values.
    k : int
        The most groups.
    width : int, default 5
        Selections kept per level.

    Returns
    -------
    list of frozenset of int
        The best finished selection seen at any level (a partition of the tasks).
    """
    beam: list[list[Group]] = [[frozenset([t]) for t in range(scorer.n)]]
    finished: list[tuple[tuple[int, float], list[Group]]] = []
    while beam:
        for state in beam:
            if _done(scorer, state, k):
                finished.append(((0, scorer.value(state)), state))
        pool: dict[frozenset[Group], tuple[tuple[int, float], list[Group]]] = {}
        for state in beam:
            if len(state) <= 1:
                continue
            for key, child in _merge_children(scorer, state):
                pool.setdefault(frozenset(child), (key, child))
        ranked = sorted(pool.values(), key=lambda kc: (kc[0][0], -kc[0][1]))
        # Keep merging down to one group: a merge can still raise V, and every level's finished states count.
        beam = [child for _, child in ranked[:width]]
    best = min(finished, key=lambda kc: (kc[0][0], -kc[0][1]))
    return best[1]


def _neighbours(scorer: GroupScorer, groups: list[Group], k: int, rng: np.random.Generator) -> Iterator[list[Group]]:
    """Every move of the neighbourhood, in a random order of move types and groups."""
    n, lo = scorer.n, scorer.min_size
    order = list(range(len(groups)))
    rng.shuffle(order)
    tasks = list(range(n))
    rng.shuffle(tasks)

    def replace(i: int, g: Group) -> list[Group]:
        return [g if j == i else h for j, h in enumerate(groups)]

    moves = ["add", "remove", "move", "swap", "merge", "split", "open"]
    rng.shuffle(moves)
    for move in moves:
        if move == "add":
            for i in order:
                for t in tasks:
                    if t not in groups[i]:
                        yield replace(i, groups[i] | {t})
        elif move == "remove":
            for i in order:
                if len(groups[i]) > lo:
                    for t in groups[i]:
                        yield replace(i, groups[i] - {t})
        elif move == "move":
            for i in order:
                if len(groups[i]) > lo:
                    for t in groups[i]:
                        for j in order:
                            if j != i and t not in groups[j]:
                                child = replace(i, groups[i] - {t})
                                child[j] = groups[j] | {t}
                                yield child
        elif move == "swap":
            for i, j in combinations(order, 2):
                for t in groups[i] - groups[j]:
                    for u in groups[j] - groups[i]:
                        child = replace(i, (groups[i] - {t}) | {u})
                        child[j] = (groups[j] - {u}) | {t}
                        yield child
        elif move == "merge":
            for i, j in combinations(order, 2):
                yield [g for x, g in enumerate(groups) if x not in (i, j)] + [groups[i] | groups[j]]
        elif move == "split" and len(groups) < k:
            for i in order:
                yield from ([g for x, g in enumerate(groups) if x != i] + parts for parts in _splits(scorer, groups[i]))
        elif move == "open" and len(groups) < k:
            for t, u in combinations(tasks, 2):
                yield groups + [frozenset((t, u))]


def _splits(scorer: GroupScorer, group: Group) -> Iterator[list[Group]]:
    """Two-way splits of a group seeded by each pair of members (others join the closer seed)."""
    members = sorted(group)
    if len(members) < 2 * scorer.min_size:
        return
    W = scorer.S + scorer.S.T
    for a, b in combinations(members, 2):
        left, right = {a}, {b}
        for m in members:
            if m not in (a, b):
                (left if W[a, m] >= W[b, m] else right).add(m)
        if len(left) >= scorer.min_size and len(right) >= scorer.min_size:
            yield [frozenset(left), frozenset(right)]


def _descend(
    scorer: GroupScorer, groups: list[Group], k: int, rng: np.random.Generator, halted: Callable[[], bool]
) -> tuple[list[Group], float, int]:
    """First-improvement descent to a local optimum; returns the selection, its V and the moves tried."""
    value = scorer.value(groups)
    tried = 0
    improved = True
    while improved and not halted():
        improved = False
        for child in _neighbours(scorer, groups, k, rng):
            tried += 1
            if len(child) > k or any(len(g) < scorer.min_size for g in child):
                continue
            v = scorer.value(child)
            if v > value + 1e-12 * max(1.0, abs(value)):
                groups, value, improved = _dedupe(child), v, True
                break
            if tried % 512 == 0 and halted():
                break
    return groups, value, tried


def _dedupe(groups: list[Group]) -> list[Group]:
    return list(dict.fromkeys(groups))


def _kick(scorer: GroupScorer, groups: list[Group], k: int, rng: np.random.Generator, strength: int) -> list[Group]:
    """A random perturbation that keeps every task covered: random task moves between groups."""
    groups = list(groups)
    for _ in range(strength):
        i = int(rng.integers(len(groups)))
        t = int(rng.integers(scorer.n))
        if t in groups[i]:
            continue
        # move t into group i from one of its groups, if that one stays large enough
        holders = [j for j, g in enumerate(groups) if t in g and len(g) > scorer.min_size]
        groups[i] = groups[i] | {t}
        if holders:
            j = holders[int(rng.integers(len(holders)))]
            groups[j] = groups[j] - {t}
    return _dedupe(groups)


def local_search(
    scorer: GroupScorer,
    k: int,
    *,
    start: list[Group] | None = None,
    seed: int = 0,
    time_limit: float | None = None,
    max_rounds: int | None = 50,
    patience: int | None = None,
    say: Callable[[str], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> tuple[list[Group], int]:
    """Iterated local search from ``start`` (default: :func:`greedy_merge`); returns the best and moves tried.

    It stops after ``max_rounds`` kicks (each followed by a descent to a local optimum), after ``patience`` kicks
    in a row that found nothing better, or at ``time_limit`` seconds, whichever comes first; without a time limit
    the rounds alone stop it and the same seed gives the same answer. ``max_rounds=0`` is a descent from
    ``start``.

    Parameters
    ----------
    scorer : GroupScorer
        The group values.
    k : int
        The most groups.
    start : list of frozenset of int, optional
        A valid selection to start from.
    seed : int, default 0
        Seed of the move order and kicks.
    time_limit : float, optional
        Seconds.
    max_rounds : int or None, default 50
        Kicks (None: no cap; give ``patience`` or ``time_limit`` then).
    patience : int, optional
        Kicks in a row without a better selection after which it stops (None: no such rule).
    say : callable(str), optional
        Given a line with the kicks so far, the best value and the time every :data:`PROGRESS_EVERY` seconds.
    stop : callable() -> bool, optional
        Asked between kicks and every 512 moves; once it returns True the best selection so far comes back, as
        at the time limit (Ctrl-C under :func:`~taskgroup.interrupts.interrupt_flag`).

    Returns
    -------
    (list of frozenset of int, int)
        The best selection and the number of moves tried.

    Raises
    ------
    InvalidArgument
        ``max_rounds``, ``patience`` and ``time_limit`` all None (nothing would stop it).
    """
    if max_rounds is None and patience is None and time_limit is None:
        raise InvalidArgument("local_search needs max_rounds, patience or time_limit to stop; all three are None.")
    rng = np.random.default_rng(seed)
    started = reported = time.perf_counter()
    deadline = math.inf if time_limit is None else started + time_limit
    rounds_cap = math.inf if max_rounds is None else max_rounds

    def halted() -> bool:
        return time.perf_counter() >= deadline or (stop is not None and stop())

    current = start if start is not None else greedy_merge(scorer, k)
    current, value, tried = _descend(scorer, current, k, rng, halted)
    best, best_value = current, value
    rounds = idle = 0
    while rounds < rounds_cap and not halted() and (patience is None or idle < patience):
        rounds += 1
        idle += 1
        kicked = _kick(scorer, best, k, rng, strength=max(2, scorer.n // 8))
        if not scorer.valid(kicked, k):
            continue
        candidate, v, t = _descend(scorer, kicked, k, rng, halted)
        tried += t
        if v > best_value + 1e-12 * max(1.0, abs(best_value)):
            best, best_value, idle = candidate, v, 0
        if say is not None and time.perf_counter() - reported >= PROGRESS_EVERY:
            reported = time.perf_counter()
            say(f"local search: {rounds} kicks, value {best_value:.6g}, {reported - started:.0f} s")
    return best, tried
