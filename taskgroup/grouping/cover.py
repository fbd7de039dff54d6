r"""The objective of choosing groups from a group predictor, for methods that generate groups on demand.

Everything here maximises ``V = sum_t max_{G chosen, t in G} v_t(G)`` over at most ``k`` groups covering every
task. The predictor is::

    v_t(G) = measured_t(G)                                   if G was measured,
             offset[|G|, t] + mean_{u in G \ {t}} S[u, t]     for a group of 2+ tasks,
             S[t, t]                                          for a one-task group (when allowed),

``S`` in the higher-is-better sense. With ``offset = 0`` and no measurements this is TAG's rule on an affinity
matrix and Standley et al.'s HOA on a (negated) pair-loss matrix; a fitted model
(:mod:`taskgroup.estimate.fitted`) adds the size term. It is the same objective as
``tg.solve(group_problem(...), budget=k)`` on the listed groups: the plan's loss-sense objective is ``-V``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from taskgroup.grouping.affinity_problem import group_name
from taskgroup.plan import Plan, plan_from_selection
from taskgroup.problem import Problem

__all__ = ["GroupScorer", "Group"]

Group = frozenset[int]


@dataclass
class GroupScorer:
    """Values of groups under one matrix, cached.

    Parameters
    ----------
    S : ndarray (n, n)
        ``S[source, target]`` in the higher-is-better sense.
    singletons : bool
        Whether one-task groups are allowed (scored by the diagonal).
    tasks : tuple of str
        Task names (for plans).
    offset : ndarray (n + 1, n), optional
        ``offset[s, t]`` added to t's value in every predicted group of ``s >= 2`` tasks (default 0).
    measured : dict, optional
        ``{group: values}`` with per-task values (``-inf`` outside the group) that replace the prediction.
    weights : ndarray (n,), optional
        Task weights already folded into the values (``v_t = -w_t L_t`` for losses); plans divide them out.
    higher_is_better : bool
        The sense plans report values in: scores (True, an affinity) or losses (False, the default).
    """

    S: np.ndarray
    singletons: bool
    tasks: tuple[str, ...] = ()
    offset: np.ndarray | None = None
    measured: dict[Group, np.ndarray] = field(default_factory=dict)
    weights: np.ndarray | None = None
    higher_is_better: bool = False
    _cache: dict[Group, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        return self.S.shape[0]

    @property
    def min_size(self) -> int:
        return 1 if self.singletons else 2

    @property
    def size_offsets(self) -> np.ndarray:
        """``offset`` as the pricing kernels take it: shape ``(n + 1, n)``, zeros when there is none."""
        return np.zeros((self.n + 1, self.n)) if self.offset is None else self.offset

    def values(self, group: Group) -> np.ndarray:
        """Per task, its value in ``group``; ``-inf`` outside it (and for a forbidden singleton).

        A measured group has its measured values; a predicted one of two or more tasks gives t the mean of
        ``S[u, t]`` over the other members (plus ``offset[|G|, t]``); a one-task group the diagonal.

        Parameters
        ----------
        group : frozenset of int
            Task indices.

        Returns
        -------
        numpy.ndarray, shape (n,)
            Cached: callers must not change it.
        """
        cached = self._cache.get(group)
        if cached is not None:
            return cached
        out = np.full(self.n, -np.inf)
        idx = np.fromiter(group, dtype=int)
        if len(idx) == 1 and not self.singletons:
            pass  # a forbidden singleton serves nothing, measured or not
        elif group in self.measured:
            out = self.measured[group]
        elif len(idx) == 1:
            out[idx[0]] = self.S[idx[0], idx[0]]
        elif len(idx) > 1:
            sums = self.S[idx].sum(axis=0)
            out[idx] = (sums[idx] - self.S[idx, idx]) / (len(idx) - 1)
            if self.offset is not None:
                out[idx] += self.offset[len(idx), idx]
        if len(self._cache) > 2_000_000:  # keep memory bounded on very long runs
            self._cache.clear()
        self._cache[group] = out
        return out

    def best(self, groups: Iterable[Group]) -> np.ndarray:
        """Per task, its best value among ``groups`` (``-inf`` if uncovered).

        Parameters
        ----------
        groups : iterable of frozenset of int
            Groups of task indices.

        Returns
        -------
        numpy.ndarray, shape (n,)
        """
        rows = [self.values(g) for g in groups]
        if not rows:
            return np.full(self.n, -np.inf)
        return np.max(rows, axis=0)

    def value(self, groups: Iterable[Group]) -> float:
        """``V`` of a selection (``-inf`` if some task is uncovered).

        Parameters
        ----------
        groups : iterable of frozenset of int
            Groups of task indices.

        Returns
        -------
        float
            The sum over tasks of :meth:`best`.
        """
        return float(self.best(groups).sum())

    def valid(self, groups: Sequence[Group], k: int) -> bool:
        """Whether ``groups`` is a feasible selection: 1 to ``k`` groups, each allowed, covering every task.

        Parameters
        ----------
        groups : sequence of frozenset of int
            Groups of task indices.
        k : int
            The most groups.

        Returns
        -------
        bool
        """
        return (
            0 < len(groups) <= k
            and all(len(g) >= self.min_size for g in groups)
            and bool(np.all(np.isfinite(self.best(groups))))
        )

    def trivial_bound(self) -> float:
        """An upper bound on ``V`` for any number of groups: each task with its best single partner.

        A mean over other members is at most their maximum, so a predicted ``v_t(G) <= max_{u != t} S[u, t]
        + max_s offset[s, t]``; measured groups count with their measured values.

        Returns
        -------
        float
            ``-inf`` when some task can be served by no group.
        """
        S = self.S.copy()
        diag = np.diag(S).copy()
        np.fill_diagonal(S, -np.inf)
        best = S.max(axis=0) if self.n > 1 else np.full(self.n, -np.inf)
        if self.offset is not None and self.n > 1:
            best = best + self.offset[2:].max(axis=0)
        if self.singletons:
            best = np.maximum(best, diag)
        for group in self.measured:
            best = np.maximum(best, self.values(group))
        return float(best.sum())

    def size_caps(self) -> np.ndarray:
        """``caps[s, t]``: no group of ``s`` tasks gives t more (``-inf`` where none can serve t).

        A predicted group of size ``s >= 2`` gives at most ``offset[s, t]`` plus the mean of t's ``s - 1``
        best sources; a one-task group its diagonal (when allowed); measured groups their measured values.

        Returns
        -------
        numpy.ndarray, shape (n + 1, n)
            Row ``s`` for groups of ``s`` tasks (row 0, and row 1 without singletons, are ``-inf``).
        """
        n = self.n
        caps = np.full((n + 1, n), -np.inf)
        if n > 1:
            S = self.S.copy()
            np.fill_diagonal(S, -np.inf)
            ranked = -np.sort(-S, axis=0)[:-1]  # (n-1, n): sources of each target, best first
            caps[2:] = np.cumsum(ranked, axis=0) / np.arange(1, n)[:, None]
            if self.offset is not None:
                caps[2:] += self.offset[2:]
        if self.singletons:
            caps[1] = np.diag(self.S)
        for group in self.measured:
            if len(group) >= self.min_size:
                caps[len(group)] = np.maximum(caps[len(group)], self.values(group))
        return caps

    def size_bound(self, k: int, iterations: int = 200) -> float:
        """An upper bound on ``V`` with at most ``k`` groups, from group sizes alone (see :meth:`size_duals`).

        Parameters
        ----------
        k : int
            The most groups.
        iterations : int, default 200
            Steps of the ternary search over the multiplier.

        Returns
        -------
        float
        """
        return self.size_duals(k, iterations)[0]

    def size_duals(self, k: int, iterations: int = 200) -> tuple[float, np.ndarray]:
        """The group-size bound on ``V`` with at most ``k`` groups, and task duals that certify it.

        A group ``G`` serves at most ``|G|`` tasks, so if task t is served by a group of size ``s_t``,
        ``sum_t 1 / s_t <= k``; and ``v_t <= caps[s_t, t]`` (:meth:`size_caps`). For any ``lam >= 0`` the
        Lagrangian ``lam k + sum_t pi_t`` with ``pi_t = max_s (caps[s, t] - lam / s)`` bounds ``V``; it is convex
        in ``lam``, which a ternary search minimises (every evaluated point is a valid bound; the smallest is
        returned). It is much tighter than the column-generation LP when ``k`` is below the number of natural
        clusters. The returned ``pi`` are valid column-generation duals: every group has
        ``P(G) = sum_{t in G} max(0, v_t(G) - pi_t) <= lam``, so ``sum(pi) + k max_G P(G)`` is at most the bound
        (column generation starts its stabilisation there).

        Parameters
        ----------
        k : int
            The most groups.
        iterations : int, default 200
            Steps of the ternary search over the multiplier.

        Returns
        -------
        (float, numpy.ndarray)
            The bound and the duals ``pi`` (shape (n,)); ``-inf`` for both when some task can be served by no
            group.
        """
        caps = self.size_caps()
        sizes = np.arange(1, self.n + 1)[:, None]
        usable = caps[1:]
        if not np.all(np.isfinite(usable).any(axis=0)):
            return -math.inf, np.full(self.n, -math.inf)  # some task can be served by no group at all
        finite = usable[np.isfinite(usable)]

        def duals(lam: float) -> np.ndarray:
            return np.max(usable - lam / sizes, axis=0)

        def lagrangian(lam: float) -> float:
            return lam * k + float(duals(lam).sum())

        lo, hi = 0.0, 2.0 * self.n * (float(finite.max() - finite.min()) + 1.0)
        best, best_lam = min((lagrangian(lo), lo), (lagrangian(hi), hi))
        for _ in range(iterations):
            a, b = lo + (hi - lo) / 3, hi - (hi - lo) / 3
            fa, fb = lagrangian(a), lagrangian(b)
            best, best_lam = min((best, best_lam), (fa, a), (fb, b))
            if fa < fb:
                hi = b
            else:
                lo = a
        return best, duals(best_lam)

    def listed_problem(self, groups: Sequence[Group], *, higher_is_better: bool = False) -> Problem:
        """The explicit :class:`Problem` whose candidates are ``groups`` (cost 1 each), valued as here.

        Problem losses are the negated values divided by the task weights (negated scores when
        ``higher_is_better``); entries of groups that are not measured are flagged as predicted.

        Parameters
        ----------
        groups : sequence of frozenset of int
            The candidates, named by their tasks.
        higher_is_better : bool, default False
            Build a problem of scores.

        Returns
        -------
        Problem

        Raises
        ------
        InvalidProblem
            The groups leave a task unserved, or repeat a group (names repeat).
        """
        names = [group_name([self.tasks[i] if self.tasks else str(i) for i in sorted(g)]) for g in groups]
        values = np.array([self.values(g) for g in groups]).reshape(len(groups), self.n)
        weights = np.ones(self.n) if self.weights is None else self.weights
        losses = np.where(np.isfinite(values), -values / weights, np.nan)
        measured = np.array([g in self.measured for g in groups], dtype=bool)[:, None]
        return Problem(
            self.tasks if self.tasks else [str(i) for i in range(self.n)],
            names,
            np.ones(len(groups)),
            losses,
            weights,
            higher_is_better=higher_is_better,
            predicted=~np.isnan(losses) & ~measured,
        )

    def all_groups(self, max_size: int | None = None) -> list[Group]:
        """Every allowed group of up to ``max_size`` tasks (default all), by size then task order.

        Parameters
        ----------
        max_size : int, optional
            The largest group size.

        Returns
        -------
        list of frozenset of int
        """
        top = self.n if max_size is None else min(max_size, self.n)
        return [frozenset(c) for s in range(self.min_size, top + 1) for c in combinations(range(self.n), s)]

    def plan(
        self,
        groups: Sequence[Group],
        *,
        k: int,
        higher_is_better: bool,
        solver: str,
        upper_bound: float = math.inf,
        optimal: bool = False,
        wall_time: float = 0.0,
        nodes: int = 0,
    ) -> Plan:
        """The :class:`Plan` of ``groups``, in the original sense of the matrix (``plan.score``).

        Parameters
        ----------
        groups : sequence of frozenset of int
            The selected groups (repeats dropped).
        k : int
            The budget in groups, recorded as ``{"cost": k}``.
        higher_is_better : bool
            Report scores rather than losses.
        solver : str
            The method, recorded in the plan.
        upper_bound : float, default inf
            An upper bound on ``V``, recorded as the plan's bound.
        optimal : bool, default False
            Whether the selection is proven optimal.
        wall_time : float, default 0.0
        nodes : int, default 0

        Returns
        -------
        Plan

        Raises
        ------
        InvalidArgument
            A task none of the groups serves.
        """
        groups = sorted(set(groups), key=lambda g: (len(g), sorted(g)))
        problem = self.listed_problem(groups, higher_is_better=higher_is_better)
        return plan_from_selection(
            problem,
            list(range(len(groups))),
            solver=solver,
            budget={"cost": float(k)},
            optimal=optimal,
            bound=-upper_bound,
            wall_time=wall_time,
            nodes=nodes,
        )
