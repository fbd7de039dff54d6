"""Exact selection by dynamic programming over partitions of the tasks: every budget at once.

A plan serves each task by its best chosen network, so it splits the tasks into blocks, each served by one
network whose task set contains the block. With

    G[B] = Pareto set of (cost, sum_{t in B} w_t L_jt) over networks j that serve every task of B,
    F[M] = Pareto( G[B] (+) F[M \\ B] : B subset of M, B holds the lowest task of M ),  F[{}] = {(0, 0)},

``F[all tasks]`` is the exact budget frontier (the Pareto set of cost and objective; with several resources, of
every cost and the objective). Two blocks served by the same network cost that network twice and are never
better than the merged block, so nothing is lost. Work: ``3^n`` superset look-ups to build G and about
``3^n / 2`` block pairs, each combining two Pareto sets; points of equal cost are merged in a hash table
before each Pareto pass, and points over the budget are never formed. Memory: the tables, a few tens of bytes
per Pareto point (about 1-2 GB at 18 tasks on the benchmark's instances).

Ties follow :mod:`taskgroup.solvers.ties`: among the points within the budget, the least objective, then the
least total cost. The chosen networks are rebuilt from back pointers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from taskgroup.solvers.instance import SelectionInstance, budget_tolerance
from taskgroup.solvers.registry import Fallback, SolverResult
from taskgroup.solvers.ties import objective_tolerance

__all__ = ["PartitionTable", "partition_table", "solve_partition_dp", "dp_work", "DP_PAIRS_PER_SECOND", "DP_MAX_TASKS"]

# Block pairs (and superset look-ups) per second of the compiled kernel on this kind of machine, measured on
# the benchmark's instances (benchmarks/results/solvers.md); used to turn a time limit into a work cap.
DP_PAIRS_PER_SECOND = 1.0e8
# The tables have 2^n entries per kind: beyond this the memory alone rules the method out.
DP_MAX_TASKS = 24


# Seconds to import numba and load the compiled kernels from its cache, once per process.
DP_STARTUP_SECONDS = 0.5


def dp_startup_seconds() -> float:
    """:data:`DP_STARTUP_SECONDS` until the kernels are loaded in this process, then 0."""
    import sys

    kernels = sys.modules.get("taskgroup.solvers.kernels")
    loaded = kernels is not None and (kernels.partition_tables_grid.signatures or kernels.partition_tables.signatures)
    return 0.0 if loaded else DP_STARTUP_SECONDS


def dp_work(n_tasks: int, n_candidates: int, n_resources: int) -> float:
    """Estimated work of the partition DP, in block pairs: ``3^n`` (G) + ``3^n / 2`` pairs times the
    expected Pareto-set sizes, which grow with the number of resources; plus reading the candidates."""
    if n_tasks > DP_MAX_TASKS:
        return math.inf
    pareto = 2.0 * 4.0 ** (n_resources - 1)
    return 3.0**n_tasks * (1.0 + 0.5 * pareto) + n_candidates * n_tasks


@dataclass(frozen=True)
class PartitionTable:
    """The DP tables of an instance; ``points`` are the Pareto points of all tasks (indices into ``f_*``)."""

    instance: SelectionInstance
    points: np.ndarray
    f_cost: np.ndarray  # in units of instance.cost_unit
    f_loss: np.ndarray
    f_g: np.ndarray
    f_prev: np.ndarray
    g_net: np.ndarray

    def costs(self) -> np.ndarray:
        """Cost per resource of each point, in the problem's units."""
        return self.f_cost[self.points] * self.instance.cost_unit

    def objectives(self) -> np.ndarray:
        return self.f_loss[self.points]

    def best(self, budget: np.ndarray | None = None) -> int | None:
        """The point the tie rule picks within ``budget`` (default: the instance's), or None if none fits."""
        budget = self.instance.budget if budget is None else budget
        limit = (budget + budget_tolerance(budget)) / self.instance.cost_unit
        fit = np.all(self.f_cost[self.points] <= limit, axis=1)
        if not fit.any():
            return None
        loss = self.f_loss[self.points]
        least = float(loss[fit].min())
        tied = np.flatnonzero(fit & (loss <= least + objective_tolerance(least)))
        total = self.f_cost[self.points[tied]].sum(axis=1)
        return int(tied[np.argmin(total)])

    def networks(self, point: int) -> list[int]:
        """Instance indices of the networks of a point, rebuilt from the back pointers."""
        chosen = set()
        f = int(self.points[point])
        while f > 0:  # entry 0 is F[{}]
            chosen.add(int(self.g_net[self.f_g[f]]))
            f = int(self.f_prev[f])
        return sorted(chosen)


# The dense cost-level path is used when every cost is a whole number of quanta and a plan has at most this
# many levels (n blocks at the largest cost).
MAX_LEVELS = 1 << 16


def cost_quantum(costs: np.ndarray) -> float | None:
    """The largest q with every cost a whole multiple of it (to 1e-9 relative), if the level count stays small.

    Tried: the least cost divided by 1..64 (costs such as 0.5 and 1, or 1..10, are common); None otherwise.
    """
    least = float(costs.min())
    for divisor in range(1, 65):
        q = least / divisor
        ratio = costs / q
        if np.all(np.abs(ratio - np.rint(ratio)) <= 1e-9 * np.maximum(1.0, ratio)):
            return q if float(np.rint(ratio).max()) * 24 <= MAX_LEVELS else None
    return None


def partition_table(instance: SelectionInstance, work_cap: float = math.inf) -> PartitionTable | None:
    """Run the DP on ``instance`` (pruned by its budget); None when it would exceed ``work_cap`` block pairs."""
    from taskgroup.solvers.kernels import partition_tables, partition_tables_grid

    n = instance.n
    served = np.isfinite(instance.WL)
    masks = (served.astype(np.int64) << np.arange(n, dtype=np.int64)).sum(axis=1)
    WL = np.ascontiguousarray(np.where(served, instance.WL, 0.0))
    C = np.ascontiguousarray(instance.C / instance.cost_unit)
    budget = instance.budget
    limit = np.ascontiguousarray((budget + budget_tolerance(budget)) / instance.cost_unit)
    cap = np.int64(min(work_cap, 2**62))
    quantum = cost_quantum(C[:, 0]) if C.shape[1] == 1 else None
    if quantum is not None:
        levels = np.rint(C[:, 0] / quantum).astype(np.int64)
        level_limit = np.int64(min(np.floor(limit[0] / quantum + 1e-9), 2**40))
        done, _, _, _, g_net, f_start, f_level, f_loss, f_g, f_prev = partition_tables_grid(
            n, masks, levels, WL, level_limit, cap
        )
        f_cost = (f_level * quantum)[:, None]
    else:
        done, _, _, _, g_net, f_start, f_cost, f_loss, f_g, f_prev = partition_tables(n, masks, C, WL, limit, cap)
    if not done:
        return None
    full = (1 << n) - 1
    points = np.arange(f_start[full], f_start[full + 1])
    return PartitionTable(instance, points, f_cost, f_loss, f_g, f_prev, g_net)


def solve_partition_dp(instance: SelectionInstance, *, time_limit: float | None = None) -> SolverResult:
    """The optimum (cheapest among ties) by the partition DP.

    With a ``time_limit`` the DP stops once its work exceeds what the limit allows (at
    :data:`DP_PAIRS_PER_SECOND`); then, as beyond :data:`DP_MAX_TASKS` tasks, the result has no plan and
    ``fallback`` set, and :func:`taskgroup.solvers.solve` gives the integer program the time left.
    """
    if instance.m == 0 or not np.all(np.isfinite(instance.WL).any(axis=0)):
        return SolverResult(None, optimal=True, bound=math.inf)
    cap = math.inf if time_limit is None else time_limit * DP_PAIRS_PER_SECOND
    table = partition_table(instance, cap) if instance.n <= DP_MAX_TASKS else None
    if table is None:
        return SolverResult(None, optimal=False, fallback=Fallback.TOO_LARGE)
    point = table.best()
    if point is None:
        return SolverResult(None, optimal=True, bound=math.inf, nodes=len(table.points))
    chosen = table.networks(point)
    value = instance.objective(chosen)
    return SolverResult(chosen, optimal=True, bound=value, nodes=len(table.points))
