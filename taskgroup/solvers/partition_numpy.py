"""The partition DP in numpy, for small instances whose costs lie on a coarse grid: nothing to compile.

The compiled kernels (:mod:`taskgroup.solvers.kernels`) cost a second or more to compile after an install, more
than small instances take to solve, so :func:`~taskgroup.solvers.partition_dp.partition_table` uses this path
when :func:`numpy_dp_fits` (issue 24). Same recursion as :mod:`taskgroup.solvers.partition_dp`, on one resource
whose costs are whole numbers of a quantum (``levels``): a task set's Pareto set is a dense vector over cost
levels, ``F[M][L]`` the least loss of a partition of M into blocks costing at most L quanta, and

    F[M][L] = min over blocks B holding M's lowest task, levels a:  G[B][a] + F[M \\ B][L - a]

with ``G[B][a]`` the least loss on B of a network of cost exactly a quanta that serves all of B. Task sets are
taken by number of tasks, so every ``F[M \\ B]`` is known; all task sets with k tasks and all their blocks are
one array operation. Back pointers (block and level) rebuild the networks of each frontier point.
"""

from __future__ import annotations

import math

import numpy as np
from threadpoolctl import threadpool_limits

__all__ = ["numpy_dp_fits", "numpy_partition_points", "numpy_seconds", "NUMPY_DP_MAX_WORK", "NUMPY_WORK_PER_SECOND"]

# Work (block pairs times cost levels times levels of a network) up to which the numpy path runs: 1.4e8 at 14
# tasks of synthetic_problem (costs 0.5 and 1: levels 1 and 2), about 1.5 s, where the compiled kernels needed
# 2.5-3 s to compile first (benchmarks/results/solvers.md).
NUMPY_DP_MAX_WORK = 2.0e8
# Of that work per second, measured on synthetic_problem(14).
NUMPY_WORK_PER_SECOND = 1.0e8


def _work(n: int, levels: np.ndarray) -> float:
    largest = int(levels.max())
    return 0.5 * 3.0**n * (n * largest + 1) * largest


def numpy_dp_fits(n: int, levels: np.ndarray) -> bool:
    """Whether the numpy path's work on ``n`` tasks with costs of ``levels`` quanta is within its limit.

    Parameters
    ----------
    n : int
        Tasks.
    levels : numpy.ndarray, shape (m,)
        Each candidate's cost in quanta (integers >= 1).

    Returns
    -------
    bool
        The estimated work is at most :data:`NUMPY_DP_MAX_WORK`.
    """
    return _work(n, levels) <= NUMPY_DP_MAX_WORK


def numpy_seconds(n: int, levels: np.ndarray) -> float:
    """Estimated seconds of the numpy path.

    Parameters
    ----------
    n : int
        Tasks.
    levels : numpy.ndarray, shape (m,)
        Each candidate's cost in quanta (integers >= 1).

    Returns
    -------
    float
        The estimated work over :data:`NUMPY_WORK_PER_SECOND`.
    """
    return _work(n, levels) / NUMPY_WORK_PER_SECOND


def _bits(count: int, width: int) -> np.ndarray:
    """(count, width) 0/1 matrix: row i holds the binary digits of i."""
    return (np.arange(count)[:, None] >> np.arange(width)[None, :]) & 1


def _place(picks: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(c, 2^s) bit masks: the digits of each row of ``picks`` placed on each row of bit ``positions`` (c, s).

    A float matrix product, exact below 2^53, and much faster than shifting a (c, 2^s, s) array.
    """
    return (np.exp2(positions.astype(float)) @ picks.T.astype(float)).astype(np.int64)


def _set_bits(masks: np.ndarray, n: int, k: int) -> np.ndarray:
    """Positions of the k set bits of each mask, ascending: (len(masks), k)."""
    on = ((masks[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)
    return np.nonzero(on)[1].reshape(len(masks), k)


def numpy_partition_points(
    n: int, served: np.ndarray, WL: np.ndarray, levels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
    """Every Pareto point of all tasks: cost levels (ascending), losses (descending) and the networks of each.

    ``served`` (m, n) says which tasks each candidate serves, ``WL`` their weighted losses (any value where not
    served) and ``levels`` (m,) their costs in quanta (integers >= 1).

    Parameters
    ----------
    n : int
        Tasks.
    served : numpy.ndarray of bool, shape (m, n)
    WL : numpy.ndarray, shape (m, n)
    levels : numpy.ndarray of int, shape (m,)

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, list of list of int)
        The points' cost levels, their losses, and each point's network indices.
    """
    # The matrix products here are small and many: BLAS threads only spin on them (0.6 s with one thread against
    # 2 s of CPU with two at 14 tasks, measured on 2 busy cores).
    with threadpool_limits(limits=1, user_api="blas"):
        return _partition_points(n, served, WL, levels)


def _partition_points(
    n: int, served: np.ndarray, WL: np.ndarray, levels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
    size = 1 << n
    largest = int(levels.max())
    top = n * largest
    # G[B, a]: least loss on B of a network of a quanta serving B; who[B, a] the first such network.
    G = np.full(size * (largest + 1), np.inf)
    who = np.full(size * (largest + 1), np.iinfo(np.int64).max, np.int64)
    masks = (served.astype(np.int64) << np.arange(n, dtype=np.int64)).sum(axis=1)
    counts = served.sum(axis=1)
    for final in (False, True):  # the least losses first; then, against them, the first network reaching each
        for s in np.unique(counts):
            picks = _bits(1 << s, s).astype(np.int64)  # (2^s, s): every subset of a network's s tasks
            group = np.flatnonzero(counts == s)
            for chunk in _chunks(len(group), (1 << s) * s):
                rows = group[chunk]
                positions = _set_bits(masks[rows], n, s)
                values = np.take_along_axis(WL[rows], positions, axis=1)
                blocks = _place(picks, positions)  # (c, 2^s)
                sums = (values @ picks.T.astype(float)).ravel()
                cells = (blocks * (largest + 1) + levels[rows][:, None]).ravel()
                if not final:
                    np.minimum.at(G, cells, sums)
                else:
                    hit = sums == G[cells]
                    np.minimum.at(who, cells[hit], np.repeat(rows, 1 << s)[hit])
    G = G.reshape(size, largest + 1)  # type: ignore[assignment]  # flat while filled, a table from here
    who = who.reshape(size, largest + 1)  # type: ignore[assignment]
    G[0] = np.inf
    # F[M, L]; the networks are found afterwards, for the frontier's points only, by finding a block and level
    # that reproduce each value (the same float operations give the same sum), which is cheaper than pointers.
    F = np.full((size, top + 1), np.inf)
    F[0] = 0.0
    everything = np.arange(size, dtype=np.int64)
    popcount = _bits(size, n).sum(axis=1)
    finite_levels = [np.flatnonzero(np.isfinite(G[:, a]).any()) for a in range(largest + 1)]
    for k in range(1, n + 1):
        Ms = everything[popcount == k]
        low = Ms & -Ms
        rest = Ms ^ low
        width = k * largest + 1  # a set of k tasks costs at most k * largest quanta
        # the 2^(k-1) submasks of each rest: the bits of 0..2^(k-1)-1 placed on rest's set bits
        picks = _bits(1 << (k - 1), k - 1).astype(np.int64)
        subs = _place(picks, _set_bits(rest, n, k - 1))
        for chunk in _chunks(len(Ms), subs.shape[1] * width):
            B = subs[chunk] | low[chunk, None]  # (c, p)
            Fo = F[rest[chunk, None] ^ subs[chunk], :width]  # (c, p, width)
            best = np.full((len(B), width), np.inf)
            for a in range(1, largest + 1):
                if len(finite_levels[a]) == 0:
                    continue
                g = G[B, a]  # (c, p)
                finite = np.isfinite(g)
                if finite.mean() > 0.25:
                    np.minimum(best[:, a:], (g[:, :, None] + Fo[:, :, : width - a]).min(axis=1), out=best[:, a:])
                elif finite.any():  # few blocks have a network of this cost: only those pairs
                    row, col = np.nonzero(finite)
                    sums = g[row, col][:, None] + Fo[row, col, : width - a]
                    starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
                    rows = row[starts]
                    best[rows, a:] = np.minimum(best[rows, a:], np.minimum.reduceat(sums, starts, axis=0))
            F[Ms[chunk], :width] = best
            F[Ms[chunk], width:] = best[:, -1:]
    full = size - 1
    row = F[full]
    points = [L for L in range(top + 1) if math.isfinite(row[L]) and (L == 0 or row[L] < row[:L].min())]
    networks = [_rebuild(full, L, F, G, who, largest) for L in points]
    return np.array(points, dtype=np.int64), row[points], networks


def _rebuild(M: int, L: int, F: np.ndarray, G: np.ndarray, who: np.ndarray, largest: int) -> list[int]:
    """The networks of ``F[M, L]``: block by block, the first (block, level) whose sum reproduces the value."""
    chosen = set()
    while M:
        low = M & -M
        rest = M ^ low
        positions = np.flatnonzero((rest >> np.arange(rest.bit_length())) & 1)
        subs = _place(_bits(1 << len(positions), len(positions)), positions[None, :])[0]  # every submask of rest
        found = None
        for a in range(1, min(largest, L) + 1):  # the same float sums as the DP, so equality is exact
            hits = np.flatnonzero(G[subs | low, a] + F[rest ^ subs, L - a] == F[M, L])
            if len(hits):
                found = (int(subs[hits[0]]) | low, a)
                break
        assert found is not None, "a value of F is always reproduced by one of its terms"
        B, a = found
        chosen.add(int(who[B, a]))
        M, L = M ^ B, L - a
    return sorted(chosen)


def _chunks(count: int, width: int, limit: int = 2_000_000) -> list[slice]:
    """Slices of ``range(count)`` of rows of ``width`` elements, at most ``limit`` elements each (one row at least)."""
    step = max(1, limit // max(1, width))
    return [slice(i, min(i + step, count)) for i in range(0, count, step)]
