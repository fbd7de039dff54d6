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

The table without a budget answers every budget, so :func:`problem_table` keeps the one of the most recent
problem (by content) for the process: many budgets on one problem, its frontier and its minimum budget cost one
DP (issue 24).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from taskgroup.problem import Problem
from taskgroup.solvers.instance import SelectionInstance, budget_tolerance
from taskgroup.solvers.partition_numpy import numpy_dp_fits, numpy_partition_points, numpy_seconds
from taskgroup.solvers.registry import Fallback, SolverResult
from taskgroup.solvers.ties import objective_tolerance

__all__ = [
    "PartitionTable",
    "partition_table",
    "problem_table",
    "cached_table",
    "solve_partition_dp",
    "dp_work",
    "dp_seconds",
    "kernels_loaded",
    "uses_numpy",
    "DP_PAIRS_PER_SECOND",
    "DP_MAX_TASKS",
]

# Block pairs (and superset look-ups) per second of the compiled kernel on this kind of machine, measured on
# the benchmark's instances (benchmarks/results/solvers.md); used to turn a time limit into a work cap.
DP_PAIRS_PER_SECOND = 1.0e8
# The tables have 2^n entries per kind: beyond this the memory alone rules the method out.
DP_MAX_TASKS = 24


# Seconds to import numba and load the compiled kernels from its cache, once per process: about 0.4 s of CPU
# (numba 0.13 s, the scipy BLAS numba loads 0.1 s, its compiler context and the kernel), issue 24.
DP_STARTUP_SECONDS = 0.5


# Seconds to compile the kernel a problem needs into an empty numba cache (6.4 s for the general kernel on this
# kind of machine, measured with NUMBA_CACHE_DIR set to an empty folder); once per installation.
DP_COMPILE_SECONDS = 6.0


def kernels_loaded() -> bool:
    """Whether the partition DP's compiled kernels are loaded in this process (then they cost nothing to start).

    Returns
    -------
    bool
    """
    import sys

    kernels = sys.modules.get("taskgroup.solvers.kernels")
    return kernels is not None and bool(kernels.partition_tables_grid.signatures or kernels.partition_tables.signatures)


def dp_seconds(instance: SelectionInstance, *, compiling: bool = False) -> float:
    """Estimated seconds of the DP on ``instance`` in this process: the numpy path's (:func:`uses_numpy`), else
    the kernels' work at :data:`DP_PAIRS_PER_SECOND` plus :data:`DP_STARTUP_SECONDS` when they are not loaded.

    Parameters
    ----------
    instance : SelectionInstance
    compiling : bool, default False
        Also count :data:`DP_COMPILE_SECONDS` when the kernel the instance needs is neither loaded nor in numba's
        disk cache.

    Returns
    -------
    float
    """
    levels = _levels(instance)
    if levels is not None and uses_numpy(instance):
        return numpy_seconds(instance.n, levels)
    compiled = dp_work(instance.n, instance.m, instance.C.shape[1]) / DP_PAIRS_PER_SECOND
    if kernels_loaded():
        return compiled
    if compiling:
        from taskgroup.solvers.kernels import kernels_cached

        compiled += 0.0 if kernels_cached(grid=levels is not None) else DP_COMPILE_SECONDS
    return compiled + DP_STARTUP_SECONDS


def uses_numpy(instance: SelectionInstance, work_cap: float = math.inf) -> bool:
    """Whether the DP of ``instance`` runs in numpy (:mod:`taskgroup.solvers.partition_numpy`): one resource on
    a cost grid and :func:`~taskgroup.solvers.partition_numpy.numpy_dp_fits`, and faster than the kernels by the
    estimates: against their work alone when they are loaded, plus loading them from numba's disk cache when
    they are there, and always when they are not (compiling them takes seconds). Numba is imported only to look
    at its cache, so e.g. ``synthetic_problem(14)`` (costs 0.5 and 1) never imports it (issue 24).

    Parameters
    ----------
    instance : SelectionInstance
    work_cap : float, default inf
        The most block pairs (the numpy path's time counts as that many at :data:`DP_PAIRS_PER_SECOND`).

    Returns
    -------
    bool
    """
    levels = _levels(instance)
    if levels is None or not numpy_dp_fits(instance.n, levels):
        return False
    seconds = numpy_seconds(instance.n, levels)
    if seconds * DP_PAIRS_PER_SECOND > work_cap:
        return False
    compiled = dp_work(instance.n, instance.m, 1) / DP_PAIRS_PER_SECOND
    if kernels_loaded():
        return seconds <= compiled
    if seconds <= compiled + DP_STARTUP_SECONDS:
        return True
    from taskgroup.solvers.kernels import kernels_cached

    return not kernels_cached()


def _levels(instance: SelectionInstance) -> np.ndarray | None:
    """Costs in quanta (:func:`cost_quantum`) when there is one resource on a grid, else None."""
    if instance.C.shape[1] != 1 or instance.m == 0:
        return None
    C = instance.C[:, 0] / instance.cost_unit[0]
    quantum = cost_quantum(C)
    return None if quantum is None else np.rint(C / quantum).astype(np.int64)


def dp_work(n_tasks: int, n_candidates: int, n_resources: int) -> float:
    """Estimated work of the partition DP, in block pairs: ``3^n`` (G) + ``3^n / 2`` pairs times the
    expected Pareto-set sizes, which grow with the number of resources; plus reading the candidates.

    Parameters
    ----------
    n_tasks, n_candidates, n_resources : int

    Returns
    -------
    float
        ``inf`` beyond :data:`DP_MAX_TASKS` tasks.
    """
    if n_tasks > DP_MAX_TASKS:
        return math.inf
    pareto = 2.0 * 4.0 ** (n_resources - 1)
    return 3.0**n_tasks * (1.0 + 0.5 * pareto) + n_candidates * n_tasks


@dataclass(frozen=True)
class PartitionTable:
    """The DP tables of an instance; ``points`` are the Pareto points of all tasks (indices into ``f_*``).

    Attributes
    ----------
    instance : SelectionInstance
        The instance the DP ran on.
    points : numpy.ndarray of int
        Entries of the ``f_*`` arrays that are Pareto points of the set of all tasks.
    f_cost : numpy.ndarray, shape (entries, r)
        Each entry's cost, in units of ``instance.cost_unit``.
    f_loss : numpy.ndarray
        Each entry's total weighted loss.
    f_g, f_prev : numpy.ndarray of int
        Back pointers: the block (an entry of ``g_net``) an entry adds, and the entry it extends (entry 0 is the
        empty set).
    g_net : numpy.ndarray of int
        The instance index of each block's network.
    """

    instance: SelectionInstance
    points: np.ndarray
    f_cost: np.ndarray  # in units of instance.cost_unit
    f_loss: np.ndarray
    f_g: np.ndarray
    f_prev: np.ndarray
    g_net: np.ndarray

    def costs(self) -> np.ndarray:
        """Cost per resource of each point, in the problem's units.

        Returns
        -------
        numpy.ndarray, shape (points, r)
        """
        return self.f_cost[self.points] * self.instance.cost_unit

    def objectives(self) -> np.ndarray:
        """Total weighted loss of each point.

        Returns
        -------
        numpy.ndarray, shape (points,)
        """
        return self.f_loss[self.points]

    def best(self, budget: np.ndarray | None = None) -> int | None:
        """The point the tie rule picks within ``budget`` (default: the instance's), or None if none fits.

        Parameters
        ----------
        budget : numpy.ndarray, shape (r,), optional

        Returns
        -------
        int or None
            A position in :attr:`points`.
        """
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
        """Instance indices of the networks of a point, rebuilt from the back pointers.

        Parameters
        ----------
        point : int
            A position in :attr:`points`.

        Returns
        -------
        list of int
            Sorted.
        """
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
    """Run the DP on ``instance`` (pruned by its budget); None when it would exceed ``work_cap`` block pairs.

    Parameters
    ----------
    instance : SelectionInstance
        The instance (at most :data:`DP_MAX_TASKS` tasks).
    work_cap : float, default inf
        The most block pairs.

    Returns
    -------
    PartitionTable or None
    """
    n = instance.n
    served = np.isfinite(instance.WL)
    WL = np.ascontiguousarray(np.where(served, instance.WL, 0.0))
    C = np.ascontiguousarray(instance.C / instance.cost_unit)
    if uses_numpy(instance, work_cap):
        return _numpy_table(instance, served, WL, C)
    from taskgroup.solvers.kernels import partition_tables, partition_tables_grid

    masks = (served.astype(np.int64) << np.arange(n, dtype=np.int64)).sum(axis=1)
    groups = by_task_set(masks, n)
    budget = instance.budget
    limit = np.ascontiguousarray((budget + budget_tolerance(budget)) / instance.cost_unit)
    cap = np.int64(min(work_cap, 2**62))
    quantum = cost_quantum(C[:, 0]) if C.shape[1] == 1 else None
    if quantum is not None:
        levels = np.rint(C[:, 0] / quantum).astype(np.int64)
        level_limit = np.int64(min(np.floor(limit[0] / quantum + 1e-9), 2**40))
        done, _, _, _, g_net, f_start, f_level, f_loss, f_g, f_prev = partition_tables_grid(
            n, *groups, levels, WL, level_limit, cap
        )
        f_cost = (f_level * quantum)[:, None]
    else:
        done, _, _, _, g_net, f_start, f_cost, f_loss, f_g, f_prev = partition_tables(n, *groups, C, WL, limit, cap)
    if not done:
        return None
    full = (1 << n) - 1
    points = np.arange(f_start[full], f_start[full + 1])
    return PartitionTable(instance, points, f_cost, f_loss, f_g, f_prev, g_net)


def _numpy_table(instance: SelectionInstance, served: np.ndarray, WL: np.ndarray, C: np.ndarray) -> PartitionTable:
    """The table of the numpy path (every point of all tasks, no budget), in :class:`PartitionTable`'s form: each
    point is a chain of entries, one per network, back to the empty set (entry 0)."""
    levels = _levels(instance)
    assert levels is not None, "uses_numpy checked the grid"
    _, _, networks = numpy_partition_points(instance.n, served, WL, levels)
    f_cost, f_loss, f_g, f_prev, g_net, points = [0.0], [0.0], [-1], [-1], [], []
    for chosen in networks:
        previous = 0
        for j in chosen:
            g_net.append(j)
            f_g.append(len(g_net) - 1)
            f_prev.append(previous)
            f_cost.append(float(C[chosen, 0].sum()))
            f_loss.append(instance.objective(chosen))
            previous = len(f_g) - 1
        points.append(previous)
    return PartitionTable(
        instance,
        np.array(points, dtype=np.int64),
        np.array(f_cost)[:, None],
        np.array(f_loss),
        np.array(f_g, dtype=np.int64),
        np.array(f_prev, dtype=np.int64),
        np.array(g_net, dtype=np.int64),
    )


def by_task_set(masks: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates grouped by task set, for the kernels (numpy, so that nothing here needs compiling).

    ``net_list[net_start[S]:net_start[S + 1]]`` are the candidates whose task set is exactly the bit mask S, in
    index order; ``trailing[S]`` is the index of S's lowest task (its number of trailing zero bits; 0 for S = 0).
    """
    size = 1 << n
    net_start = np.zeros(size + 1, np.int64)
    np.cumsum(np.bincount(masks, minlength=size), out=net_start[1:])
    net_list = np.argsort(masks, kind="stable").astype(np.int64)
    sets = np.arange(size, dtype=np.int64)
    trailing = np.zeros(size, np.int64)
    trailing[1:] = np.log2(sets[1:] & -sets[1:]).round().astype(np.int64)
    return net_start, net_list, trailing


# The most recent problem's table: (content key, table). One entry, because a table at 18 tasks holds ~1 GB.
_CACHE: list[tuple[bytes, PartitionTable]] = []


def _problem_key(problem: Problem) -> bytes:
    """A digest of what the DP reads: losses (NaN = not served), weights and costs, with their shapes."""
    digest = hashlib.blake2b(digest_size=20)
    for array in (problem.losses, problem.weights, problem.costs):
        digest.update(repr(array.shape).encode())
        digest.update(np.ascontiguousarray(array, dtype=float).tobytes())
    digest.update(b"higher" if problem.higher_is_better else b"lower")
    return digest.digest()


def cached_table(problem: Problem) -> PartitionTable | None:
    """The table :func:`problem_table` already computed for a problem with this content, else None.

    Parameters
    ----------
    problem : Problem

    Returns
    -------
    PartitionTable or None
    """
    if _CACHE and problem.n_tasks <= DP_MAX_TASKS and _CACHE[0][0] == _problem_key(problem):
        return _CACHE[0][1]
    return None


def problem_table(problem: Problem, work_cap: float = math.inf) -> PartitionTable | None:
    """The DP table of ``problem`` without a budget (every budget's answer), computed once per process.

    The table of the most recent problem is kept, keyed by the problem's content (so ``problem.with_costs(...)``
    of a one-cost problem finds it too). None when the DP would exceed ``work_cap`` block pairs; nothing is
    kept then.

    Parameters
    ----------
    problem : Problem
    work_cap : float, default inf
        The most block pairs.

    Returns
    -------
    PartitionTable or None
    """
    table = cached_table(problem)
    if table is not None:
        return table
    instance = SelectionInstance.build(problem, np.full(len(problem.cost_names), np.inf))
    table = partition_table(instance, work_cap)
    if table is not None:
        _CACHE[:] = [(_problem_key(problem), table)]
    return table


def solve_partition_dp(instance: SelectionInstance, *, time_limit: float | None = None) -> SolverResult:
    """The optimum (cheapest among ties) by the partition DP.

    The answer is read from the problem's table without a budget (:func:`problem_table`, computed once per
    problem). With a ``time_limit`` the DP stops once its work exceeds what the limit allows (at
    :data:`DP_PAIRS_PER_SECOND`); then, as beyond :data:`DP_MAX_TASKS` tasks, the result has no plan and
    ``fallback`` set, and :func:`taskgroup.solvers.solve` gives the integer program the time left.

    Parameters
    ----------
    instance : SelectionInstance
        The instance with its budget.
    time_limit : float, optional
        Seconds.

    Returns
    -------
    SolverResult
    """
    if instance.m == 0 or not np.all(np.isfinite(instance.WL).any(axis=0)):
        return SolverResult(None, optimal=True, bound=math.inf)
    cap = math.inf if time_limit is None else time_limit * DP_PAIRS_PER_SECOND
    table = problem_table(instance.problem, cap) if instance.n <= DP_MAX_TASKS else None
    if table is not None:
        point = table.best(instance.budget)
        if point is None:
            return SolverResult(None, optimal=True, bound=math.inf, nodes=len(table.points))
        position = {int(p): k for k, p in enumerate(instance.index)}
        wanted = table.instance.problem_indices(table.networks(point))
        if all(p in position for p in wanted):
            chosen = sorted(position[p] for p in wanted)
            return SolverResult(chosen, optimal=True, bound=instance.objective(chosen), nodes=len(table.points))
        # The budget's own reduction removed a network of the answer (a tied duplicate, or a pairwise dominance
        # the larger unconstrained instance did not look for): the DP on this instance decides.
        table = partition_table(instance, cap)
    if table is None:
        return SolverResult(None, optimal=False, fallback=Fallback.TOO_LARGE)
    point = table.best()
    if point is None:
        return SolverResult(None, optimal=True, bound=math.inf, nodes=len(table.points))
    chosen = table.networks(point)
    value = instance.objective(chosen)
    return SolverResult(chosen, optimal=True, bound=value, nodes=len(table.points))
