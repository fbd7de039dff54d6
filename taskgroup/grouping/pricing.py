r"""Exact pricing for column generation over groups: a combinatorial branch-and-bound over tasks.

Pricing asks, for task duals ``pi``, for ``P* = max_G P(G)`` with ``P(G) = sum_{t in G} max(0, v_t(G) - pi_t)``
(:mod:`taskgroup.grouping.colgen`). For a predicted group of ``s >= 2`` tasks the predictor is pairwise,
``v_t(G) = offset[s, t] + sum_{u in G \ {t}} S[u, t] / (s - 1)``, so per size ``s`` this is a quadratic
selection. The search fixes tasks in (set ``I``) or out, one at a time, and bounds a node as follows, with
``r = s - |I|`` members still to add. A member ``c`` is worth ``max(0, a_c + x_c / (s - 1))``, ``a_c`` its
value from the members so far and ``x_c`` the sum of ``S[u, c]`` over the ``r`` tasks that join, which lies
between the sum of its ``r`` worst and ``r`` best free sources; ``max(0, .)`` lies under its chord over that
range, which is linear in ``x_c`` with a slope ``lam_c`` in ``[0, 1]``. So every free task ``f`` that joins adds
``sum_c lam_c S[f, c] / (s - 1)`` to the members: the members share the same ``r`` places instead of each taking
its own best ``r`` (the concave envelope, never looser than that). A free task, if it joins, is worth at most
``max(0, ub_f)``::

    ub_f = offset[s, f] - pi_f + (sum_{u in I} S[u, f] + top_{r-1} {S[u, f] : u free, u != f}) / (s - 1)

and the node's bound is the members' chord constants plus the ``r`` largest free-task weights (``max(0,
ub_f)`` plus what ``f`` adds to the members). Sizes are searched in decreasing order of their root bound,
against one incumbent, and a size whose root bound is below the incumbent is skipped. Stopped early (a deadline
or node limit), the search still returns a valid upper bound: the largest bound among its unexplored nodes.
Measured groups are not valued here (their measured values replace the prediction); the caller prices them by
listing and this search skips them at the leaves.

The search loop is compiled (:mod:`taskgroup.grouping.pricing_kernel`). With a ``tolerance`` it leaves out
subtrees that cannot beat the best group by more than that (a bound within the tolerance of ``P*``, for fewer
nodes). :func:`groups_above` runs the same search to list every group above a threshold instead of the best
one (column generation's proof by reduced-profit fixing).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np

from taskgroup.grouping.cover import Group

__all__ = ["PricingResult", "price_pairwise", "groups_above"]

_EPS = 1e-9
_Stop = Callable[[], bool] | None


@dataclass
class PricingResult:
    """The best groups found (``(P(G), G)``, best first), a valid upper bound on ``P*``, and nodes searched.

    Attributes
    ----------
    found : list of (float, frozenset of int)
        Reduced profits and groups, best first.
    bound : float
        An upper bound on the best reduced profit ``P*`` over every group.
    nodes : int
        Search nodes visited.
    """

    found: list[tuple[float, Group]]
    bound: float
    nodes: int

    @property
    def exact(self) -> bool:
        best = self.found[0][0] if self.found else 0.0
        return self.bound <= max(best, 0.0) + 1e-7 * (1.0 + abs(best))


class _SizeSearch:
    """Depth-first branch-and-bound for one group size ``s`` (the compiled loop in
    :mod:`taskgroup.grouping.pricing_kernel`), run in node chunks so a deadline can stop it."""

    CHUNK = 20_000  # nodes per compiled call: ~0.05-0.1 s, so a deadline is overrun by at most that

    def __init__(self, S: np.ndarray, shift: np.ndarray, s: int, skip: Collection[Group]) -> None:
        self.n = S.shape[0]
        self.inflow_matrix = S.copy()
        np.fill_diagonal(self.inflow_matrix, 0.0)  # a task is not its own source
        source = S.copy()
        np.fill_diagonal(source, -np.inf)  # ... nor one of the places it could take from
        # ranked[t]: t's sources, best first, t itself (-inf) left off the end
        self.ranked = np.ascontiguousarray(np.argsort(-source, axis=0, kind="stable").T[:, : self.n - 1])
        self.shift = np.ascontiguousarray(shift, dtype=float)  # offset[s, t] - pi_t
        self.s = s
        self.skip_masks = np.zeros((0, self.n), dtype=np.bool_)
        sized = [g for g in skip if len(g) == s]
        if sized:
            self.skip_masks = np.zeros((len(sized), self.n), dtype=np.bool_)
            for row, g in enumerate(sized):
                self.skip_masks[row, list(g)] = True

    def run(
        self, incumbent: float, deadline: float, node_limit: int, tolerance: float = 0.0, stop: _Stop = None
    ) -> tuple[float, Group | None, float, int]:
        """Best value found above ``incumbent`` (and its group), a valid upper bound for this size, nodes.

        Subtrees whose bound is within ``tolerance`` of the best value are not searched; the returned bound
        accounts for them.
        """
        best, inside, bound, nodes, _ = self._search(incumbent, deadline, node_limit, tolerance, 0, stop)
        group = frozenset(np.flatnonzero(inside).tolist()) if inside is not None else None
        return best, group, bound, nodes

    def above(self, threshold: float, deadline: float, capacity: int, stop: _Stop = None) -> list[Group] | None:
        """Every group of this size worth more than ``threshold``; None when stopped or more than ``capacity``."""
        _, _, bound, _, rows = self._search(threshold, deadline, math.inf, 0.0, capacity, stop)
        if rows is None or bound > threshold:  # more groups than fit, or stopped before the end
            return None
        return [frozenset(np.flatnonzero(row).tolist()) for row in rows]

    def _search(
        self, best: float, deadline: float, node_limit: float, tolerance: float, capacity: int, stop: _Stop = None
    ) -> tuple[float, np.ndarray | None, float, int, np.ndarray | None]:
        """Best value, its membership mask (None if none beat ``best``), a valid bound, nodes, and (with a
        ``capacity``) the masks of the groups above ``best`` (None when more than ``capacity``)."""
        # imported here: loading numba costs ~0.5 s, which `import taskgroup` should not pay
        from taskgroup.grouping.pricing_kernel import INSIDE, search_size

        n = self.n
        stack_state = np.zeros((n + 2, n), dtype=np.int8)
        stack_inflow = np.zeros((n + 2, n))
        stack_bound = np.full(n + 2, math.inf)
        best_state = np.zeros(n, dtype=np.int8)
        collected = np.zeros((capacity, n), dtype=np.bool_)
        top, best, pruned, nodes, count, found = 1, float(best), -math.inf, 0, 0, False
        stopped = stop or (lambda: False)
        while top > 0 and nodes < node_limit and count <= capacity and time.perf_counter() <= deadline:
            if stopped():
                break
            top, best, pruned, improved, used, count = search_size(
                self.inflow_matrix,
                self.ranked,
                self.shift,
                self.s,
                self.skip_masks,
                stack_state,
                stack_inflow,
                stack_bound,
                top,
                best,
                best_state,
                pruned,
                float(tolerance),
                int(min(self.CHUNK, node_limit - nodes)),
                collected,
                count,
            )
            nodes += used
            found = found or improved
        bound = max(best, pruned)
        if top > 0:  # stopped early: the unexplored nodes' parents' bounds still hold
            bound = max(bound, float(stack_bound[:top].max()))
        rows = collected[:count] if count <= capacity else None
        return best, best_state == INSIDE if found else None, bound, nodes, rows


def _root_bounds(S: np.ndarray, offset: np.ndarray, pi: np.ndarray, sizes: range) -> list[tuple[float, int]]:
    """``(root bound, s)`` per size, largest first: every task with its ``s - 1`` best sources."""
    n = S.shape[0]
    source = S.copy()
    np.fill_diagonal(source, -np.inf)
    ranked = -np.sort(-source, axis=0)[:-1]  # (n-1, n): each target's sources, best first
    top_mean = np.cumsum(ranked, axis=0) / np.arange(1, n)[:, None]  # top_mean[s-2, t]: s-1 best sources
    roots = []
    for s in sizes:
        caps = np.maximum(top_mean[s - 2] + offset[s] - pi, 0.0)
        roots.append((float(np.sort(caps)[::-1][:s].sum()), s))
    return sorted(roots, reverse=True)


def price_pairwise(
    S: np.ndarray,
    offset: np.ndarray,
    pi: np.ndarray,
    sizes: range,
    *,
    incumbent: float = 0.0,
    skip: Collection[Group] = (),
    deadline: float = math.inf,
    node_limit: int = 2_000_000,
    tolerance: float = 0.0,
    stop: _Stop = None,
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
        Nodes per size before stopping that size (the bound stays valid); the default takes a few seconds.
    tolerance : float
        Subtrees that cannot beat the best group by more than this are not searched (the bound accounts for
        them): a bound within ``tolerance`` of ``P*`` for fewer nodes.
    stop : callable() -> bool, optional
        Asked between node chunks (a Ctrl-C flag); once it returns True the search stops as at the deadline.

    Returns
    -------
    PricingResult
        Groups that beat ``incumbent`` (best first) and an upper bound on ``max(incumbent, P*)``.
    """
    best, found, bound, nodes = incumbent, [], incumbent, 0
    for root, s in _root_bounds(S, offset, pi, sizes):
        if root <= best + _EPS:
            break  # sorted: no later size can do better either
        if root <= best + tolerance:
            bound = max(bound, root)  # ... nor by more than the tolerance
            break
        search = _SizeSearch(S, offset[s] - pi, s, skip)
        value, group, size_bound, used = search.run(best, deadline, node_limit, tolerance, stop)
        nodes += used
        bound = max(bound, min(size_bound, root))
        if group is not None:
            found.append((value, group))
            best = value
    found.sort(key=lambda vg: -vg[0])
    return PricingResult(found, max(bound, best), nodes)


def groups_above(
    S: np.ndarray,
    offset: np.ndarray,
    pi: np.ndarray,
    sizes: range,
    threshold: float,
    *,
    skip: Collection[Group] = (),
    deadline: float = math.inf,
    capacity: int = 5_000,
    stop: _Stop = None,
) -> list[Group] | None:
    """Every predicted group whose size is in ``sizes`` with ``P(G) > threshold`` (the same search, listing).

    Parameters
    ----------
    S, offset, pi, sizes, skip, deadline, stop
        As in :func:`price_pairwise`.
    threshold : float
        Groups worth more than this are listed.
    capacity : int
        The most groups to list.

    Returns
    -------
    list of groups, or None
        None when there are more than ``capacity`` of them or the deadline stopped the search.
    """
    listed: list[Group] = []
    for root, s in _root_bounds(S, offset, pi, sizes):
        if root <= threshold:
            break  # sorted: no later size has a group above the threshold either
        if len(listed) >= capacity:
            return None  # a group may remain above the threshold, and none would fit
        groups = _SizeSearch(S, offset[s] - pi, s, skip).above(threshold, deadline, capacity - len(listed), stop)
        if groups is None:
            return None
        listed += groups
    return listed
