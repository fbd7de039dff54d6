"""The objective of choosing groups from an affinity matrix, for methods that generate groups on demand.

Everything here maximises ``V = sum_t max_{G chosen, t in G} v_t(G)`` over at most ``k`` groups covering every
task, where ``v_t(G)`` is the mean of ``S[u, t]`` over the other members (``S`` is the matrix in the
higher-is-better sense; a one-task group gets ``S[t, t]`` when singletons are allowed). It is the same
objective as ``tg.solve(group_problem(...), budget=k)``: the plan's loss-sense objective is ``-V``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from taskgroup.estimate.grouping import group_name
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
    """

    S: np.ndarray
    singletons: bool
    tasks: tuple[str, ...] = ()
    _cache: dict[Group, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        return self.S.shape[0]

    @property
    def min_size(self) -> int:
        return 1 if self.singletons else 2

    def values(self, group: Group) -> np.ndarray:
        """Per task, its value in ``group``; ``-inf`` outside it (and for a forbidden singleton)."""
        cached = self._cache.get(group)
        if cached is not None:
            return cached
        out = np.full(self.n, -np.inf)
        idx = np.fromiter(group, dtype=int)
        if len(idx) == 1:
            if self.singletons:
                out[idx[0]] = self.S[idx[0], idx[0]]
        elif len(idx) > 1:
            sums = self.S[idx].sum(axis=0)
            out[idx] = (sums[idx] - self.S[idx, idx]) / (len(idx) - 1)
        if len(self._cache) > 2_000_000:  # keep memory bounded on very long runs
            self._cache.clear()
        self._cache[group] = out
        return out

    def best(self, groups: Iterable[Group]) -> np.ndarray:
        """Per task, its best value among ``groups`` (``-inf`` if uncovered)."""
        rows = [self.values(g) for g in groups]
        if not rows:
            return np.full(self.n, -np.inf)
        return np.max(rows, axis=0)

    def value(self, groups: Iterable[Group]) -> float:
        """``V`` of a selection (``-inf`` if some task is uncovered)."""
        return float(self.best(groups).sum())

    def valid(self, groups: Sequence[Group], k: int) -> bool:
        return (
            0 < len(groups) <= k
            and all(len(g) >= self.min_size for g in groups)
            and bool(np.all(np.isfinite(self.best(groups))))
        )

    def trivial_bound(self) -> float:
        """An upper bound on ``V`` for any number of groups: each task with its best single partner.

        A mean over other members is at most their maximum, so ``v_t(G) <= max_{u != t} S[u, t]``.
        """
        S = self.S.copy()
        diag = np.diag(S).copy()
        np.fill_diagonal(S, -np.inf)
        best = S.max(axis=0) if self.n > 1 else np.full(self.n, -np.inf)
        if self.singletons:
            best = np.maximum(best, diag)
        return float(best.sum())

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
        """The :class:`Plan` of ``groups``, in the original sense of the matrix (``plan.score``)."""
        groups = sorted(set(groups), key=lambda g: (len(g), sorted(g)))
        names = [group_name([self.tasks[i] for i in sorted(g)]) for g in groups]
        values = np.array([self.values(g) for g in groups])
        # Problem losses: negated scores for higher-is-better, plain losses otherwise; S = -losses in both.
        losses = np.where(np.isfinite(values), -values, np.nan)
        problem = Problem(
            self.tasks,
            names,
            np.ones(len(groups)),
            losses,
            higher_is_better=higher_is_better,
            predicted=~np.isnan(losses),
        )
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
