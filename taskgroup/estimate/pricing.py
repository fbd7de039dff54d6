r"""Exact pricing for column generation over groups: a combinatorial branch-and-bound over tasks.

Pricing asks, for task duals ``pi``, for ``P* = max_G P(G)`` with ``P(G) = sum_{t in G} max(0, v_t(G) - pi_t)``
(:mod:`taskgroup.estimate.colgen`). For a predicted group of ``s >= 2`` tasks the predictor is pairwise,
``v_t(G) = offset[s, t] + sum_{u in G \ {t}} S[u, t] / (s - 1)``, so per size ``s`` this is a quadratic
selection. The search fixes tasks in (set ``I``) or out, one at a time, and bounds a node by letting every task
take the best sources still available to it::

    ub_t = offset[s, t] - pi_t + (sum_{u in I} S[u, t] + top_r {S[u, t] : u free, u != t}) / (s - 1)

with ``r = s - |I|`` members still to add (``r - 1`` for a free ``t``, which takes one of the places itself);
the node's bound is ``sum_{t in I} max(0, ub_t)`` plus the ``r`` largest ``max(0, ub_f)`` of the free tasks.
Sizes are searched in decreasing order of their root bound, against one incumbent, and a size whose root bound
is below the incumbent is skipped. Stopped early (a deadline or node limit), the search still returns a valid
upper bound: the largest bound among its unexplored nodes. Measured groups are not valued here (their measured
values replace the prediction); the caller prices them by listing and this search skips them at the leaves.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from taskgroup.estimate.cover import Group

__all__ = ["PricingResult", "price_pairwise"]

_EPS = 1e-9
# a member counts linearly (plus its slack) when the slack is at most this share of its value range
SLACK_SHARE = 0.25


@dataclass
class PricingResult:
    """The best groups found (``(P(G), G)``, best first), a valid upper bound on ``P*``, and nodes searched."""

    found: list[tuple[float, Group]]
    bound: float
    nodes: int

    @property
    def exact(self) -> bool:
        best = self.found[0][0] if self.found else 0.0
        return self.bound <= max(best, 0.0) + 1e-7 * (1.0 + abs(best))


def _top_and_bottom_sums(values: np.ndarray, counts: np.ndarray, n_bottom: int) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``values``, the sum of its ``counts[j]`` largest entries; and for the first ``n_bottom``
    columns, the sum of their ``counts[j]`` smallest entries (one sort serves both)."""
    rows, columns = values.shape
    if rows == 0:
        return np.zeros(columns), np.zeros(n_bottom)
    ascending = np.sort(values, axis=0)
    zero = np.zeros((1, columns))
    top = np.vstack([zero, np.cumsum(ascending[::-1], axis=0)])
    bottom = np.vstack([zero[:, :n_bottom], np.cumsum(ascending[:, :n_bottom], axis=0)])
    counts = np.minimum(counts, rows)
    return top[counts, np.arange(columns)], bottom[counts[:n_bottom], np.arange(n_bottom)]


class _SizeSearch:
    """Depth-first branch-and-bound for one group size ``s``."""

    def __init__(self, S: np.ndarray, shift: np.ndarray, s: int, skip: Collection[Group]) -> None:
        self.n = S.shape[0]
        self.inflow_matrix = S.copy()
        np.fill_diagonal(self.inflow_matrix, 0.0)  # a task is not its own source
        self.source_matrix = S.copy()
        np.fill_diagonal(self.source_matrix, -np.inf)  # ... nor one of the places it could take from
        self.shift = shift  # offset[s, t] - pi_t
        self.s = s
        self.skip = skip

    def bound(self, inside: np.ndarray, free: np.ndarray, inflow: np.ndarray) -> tuple[float, np.ndarray]:
        """The node bound, and each free task's weight in it (for branching)."""
        s, r = self.s, self.s - len(inside)
        if len(free) < r:
            return -math.inf, np.empty(0)
        candidates = np.concatenate([inside, free])
        counts = np.concatenate([np.full(len(inside), r), np.full(len(free), r - 1)])
        sources = self.source_matrix[np.ix_(free, candidates)]
        tops, bottoms = _top_and_bottom_sums(sources, counts, len(inside))
        ub = (inflow[candidates] + tops) / (s - 1) + self.shift[candidates]
        ub_free = np.maximum(ub[len(inside) :], 0.0)
        # a member whose value stays >= 0 whatever joins ("sure") counts linearly, so the free tasks that
        # would raise it compete for the same r places instead of each member taking its own best r
        alpha = inflow[inside] / (s - 1) + self.shift[inside]
        lowest = bottoms / (s - 1)
        ub_inside = ub[: len(inside)]
        slack = np.maximum(-(alpha + lowest), 0.0)  # max(0, c) <= c + slack whatever joins
        linear = slack <= SLACK_SHARE * np.maximum(ub_inside - alpha - lowest, 0.0)
        linear &= ub_inside > 0.0
        weight = ub_free + self.inflow_matrix[np.ix_(free, inside[linear])].sum(axis=1) / (s - 1)
        total = float((alpha + slack)[linear].sum()) + float(np.maximum(ub_inside[~linear], 0.0).sum())
        if r > 0:
            total += float(np.sort(weight)[::-1][:r].sum())
        return total, weight

    def leaf_value(self, inside: np.ndarray, inflow: np.ndarray) -> float:
        v = inflow[inside] / (self.s - 1) + self.shift[inside]
        return float(np.maximum(v, 0.0).sum())

    def run(self, incumbent: float, deadline: float, node_limit: int) -> tuple[float, Group | None, float, int]:
        """Best value found above ``incumbent`` (and its group), a valid upper bound for this size, nodes."""
        best, best_group = incumbent, None
        stack = [(np.empty(0, dtype=int), np.arange(self.n), np.zeros(self.n), math.inf)]
        nodes = 0
        while stack:
            if nodes >= node_limit or time.perf_counter() > deadline:
                # unexplored nodes: their parents' bounds still hold
                return best, best_group, max(best, max(b for *_, b in stack)), nodes
            inside, free, inflow, parent_bound = stack.pop()
            if parent_bound <= best + _EPS:
                continue
            nodes += 1
            if len(inside) == self.s:
                group = frozenset(inside.tolist())
                if group not in self.skip:
                    value = self.leaf_value(inside, inflow)
                    if value > best + _EPS:
                        best, best_group = value, group
                continue
            bound, ub_free = self.bound(inside, free, inflow)
            if bound <= best + _EPS:
                continue
            pick = int(np.argmax(ub_free))
            task = free[pick]
            rest = np.delete(free, pick)
            # exclude pushed first, include explored first (depth-first toward a good incumbent)
            stack.append((inside, rest, inflow, bound))
            stack.append((np.append(inside, task), rest, inflow + self.inflow_matrix[task], bound))
        return best, best_group, best, nodes


def price_pairwise(
    S: np.ndarray,
    offset: np.ndarray,
    pi: np.ndarray,
    sizes: range,
    *,
    incumbent: float = 0.0,
    skip: Collection[Group] = (),
    deadline: float = math.inf,
    node_limit: int = 200_000,
) -> PricingResult:
    """``max P(G)`` over predicted groups whose size is in ``sizes`` (all >= 2), with a valid upper bound.

    Parameters
    ----------
    S : ndarray (n, n)
        ``S[source, target]``, higher is better.
    offset : ndarray (n + 1, n)
        The size term ``offset[s, t]``.
    pi : ndarray (n,)
        Task duals.
    sizes : range
        Group sizes to search (each >= 2).
    incumbent : float
        A value already reached (e.g. by heuristic pricing or a measured group); only better groups are sought.
    skip : collection of groups
        Groups not to value by prediction (measured ones).
    deadline : float
        ``time.perf_counter()`` value at which to stop; the bound stays valid.
    node_limit : int
        Nodes per size before stopping that size (the bound stays valid).

    Returns
    -------
    PricingResult
        Groups that beat ``incumbent`` (best first) and an upper bound on ``max(incumbent, P*)``.
    """
    n = S.shape[0]
    source = S.copy()
    np.fill_diagonal(source, -np.inf)
    ranked = -np.sort(-source, axis=0)[:-1]  # (n-1, n): each target's sources, best first
    top_mean = np.cumsum(ranked, axis=0) / np.arange(1, n)[:, None]  # top_mean[s-2, t]: s-1 best sources
    roots = []
    for s in sizes:
        caps = np.maximum(top_mean[s - 2] + offset[s] - pi, 0.0)
        roots.append((float(np.sort(caps)[::-1][:s].sum()), s))
    best, found, bound, nodes = incumbent, [], incumbent, 0
    for root, s in sorted(roots, reverse=True):
        if root <= best + _EPS:
            break  # sorted: no later size can do better either
        search = _SizeSearch(S, offset[s] - pi, s, skip)
        value, group, size_bound, used = search.run(best, deadline, node_limit)
        nodes += used
        bound = max(bound, min(size_bound, root))
        if group is not None:
            found.append((value, group))
            best = value
    found.sort(key=lambda vg: -vg[0])
    return PricingResult(found, max(bound, best), nodes)
