"""The partition DP in numpy, for small instances whose costs lie on a coarse grid: nothing to compile.

The compiled kernels (:mod:`taskgroup.solvers.kernels`) cost a second or more to compile after an install, more
than small instances take to solve, so :func:`~taskgroup.solvers.partition_dp.partition_table` uses this path
when :func:`numpy_dp_fits` (issue 24). Same recursion as :mod:`taskgroup.solvers.partition_dp`, on one resource
whose costs are whole numbers of a quantum (``levels``): a task set's Pareto set is a dense vector over cost
levels, ``F[M][L]`` the least loss of a partition of M into blocks costing at most L quanta, and

    F[M][L] = min over blocks B holding M's lowest task, levels a:  G[B][a] + F[M \\ B][L - a]

with ``G[B][a]`` the least loss on B of a network of cost exactly a quanta that serves all of B. Task sets are
taken by number of tasks, so every ``F[M \\ B]`` is known; all task sets with k tasks and all their blocks are
one array operation. The networks of each frontier point are rebuilt afterwards, block by block.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["numpy_dp_fits", "numpy_partition_points", "numpy_seconds", "NUMPY_MAX_SECONDS", "NUMPY_SECONDS_PER_PAIR"]

# Up to this many estimated seconds the numpy path may run (above it the compiled kernels are faster even when
# they must be compiled first: 2.5-3 s after an install, benchmarks/results/solvers.md).
NUMPY_MAX_SECONDS = 1.5
# Seconds per block pair (3^n / 2 of them) with narrow cost vectors: 1.0-1.1e-7 at 14 tasks on levels 1 and 2
# (synthetic_problem), 15 and 16 tasks on one level, 11-13 tasks on 3-10 levels (2 busy cores, issue 24).
NUMPY_SECONDS_PER_PAIR = 1.1e-7


def numpy_seconds(n: int, levels: np.ndarray) -> float:
    """Estimated seconds of the numpy path: per block pair, a fixed part and one growing with the cost vectors'
    width (``n * largest + 1`` levels) times the number of levels a block may cost (``largest``).

    Parameters
    ----------
    n : int
        Tasks.
    levels : numpy.ndarray, shape (m,)
        Each candidate's cost in quanta (integers >= 1).

    Returns
    -------
    float
    """
    largest = int(levels.max())
    return 0.5 * 3.0**n * (0.5 + largest * (n * largest + 1) / 64) * NUMPY_SECONDS_PER_PAIR


def numpy_dp_fits(n: int, levels: np.ndarray) -> bool:
    """Whether the numpy path's estimated time on ``n`` tasks with costs of ``levels`` quanta is within its
    limit.

    Parameters
    ----------
    n : int
        Tasks.
    levels : numpy.ndarray, shape (m,)
        Each candidate's cost in quanta (integers >= 1).

    Returns
    -------
    bool
        :func:`numpy_seconds` is at most :data:`NUMPY_MAX_SECONDS`.
    """
    return numpy_seconds(n, levels) <= NUMPY_MAX_SECONDS


def _bits(count: int, width: int) -> np.ndarray:
    """(count, width) 0/1 matrix: row i holds the binary digits of i."""
    return (np.arange(count)[:, None] >> np.arange(width)[None, :]) & 1


def _submasks(positions: np.ndarray) -> np.ndarray:
    """(c, 2^s) bit masks: every subset of each row's bit ``positions`` (c, s); subset q holds the positions of
    q's set bits. Integer operations only (no matrix product: BLAS threads would spin on these small arrays)."""
    c, s = positions.shape
    masks = np.zeros((c, 1 << s), np.int64)
    for i in range(s):  # the subsets holding bit i are those without it, plus bit i
        half = 1 << i
        np.bitwise_or(masks[:, :half], np.left_shift(1, positions[:, i : i + 1]), out=masks[:, half : 2 * half])
    return masks


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
    size = 1 << n
    largest = int(levels.max())
    top = n * largest
    # G[B, a]: least loss on B of a network of a quanta serving B. The network reaching it is looked up only for
    # the blocks of the frontier's plans (_first_network), which re-adds the same losses in the same order.
    G = np.full(size * (largest + 1), np.inf)
    masks = (served.astype(np.int64) << np.arange(n, dtype=np.int64)).sum(axis=1)
    counts = served.sum(axis=1)
    for s in np.unique(counts):
        group = np.flatnonzero(counts == s)
        for chunk in _chunks(len(group), (1 << s) * s):
            rows = group[chunk]
            positions = _set_bits(masks[rows], n, s)
            sums = _subset_sums(np.take_along_axis(WL[rows], positions, axis=1))
            blocks = _submasks(positions)
            np.minimum.at(G, (blocks * (largest + 1) + levels[rows][:, None]).ravel(), sums.ravel())
    G = G.reshape(size, largest + 1)  # type: ignore[assignment]  # flat while filled, a table from here
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
        subs = _submasks(_set_bits(rest, n, k - 1))
        for chunk in _chunks(len(Ms), subs.shape[1] * width):
            B = subs[chunk] | low[chunk, None]  # (c, p)
            others = rest[chunk, None] ^ subs[chunk]  # (c, p): M \ B
            best = np.full((len(B), width), np.inf)
            for a in range(1, largest + 1):
                if len(finite_levels[a]) == 0:
                    continue
                g = G[B, a]  # (c, p)
                finite = np.isfinite(g)
                if finite.mean() > 0.25:
                    # One gather of just the columns needed, added to in place: a quarter of the time of
                    # gathering every column and summing into a new array (measured at 14 tasks).
                    sums = F[others, : width - a]  # (c, p, width - a)
                    np.add(sums, g[:, :, None], out=sums)
                    np.minimum(best[:, a:], sums.min(axis=1), out=best[:, a:])
                elif finite.any():  # few blocks have a network of this cost: only those pairs
                    row, col = np.nonzero(finite)
                    sums = g[row, col][:, None] + F[others[row, col], : width - a]
                    starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
                    rows = row[starts]
                    best[rows, a:] = np.minimum(best[rows, a:], np.minimum.reduceat(sums, starts, axis=0))
            F[Ms[chunk], :width] = best
            F[Ms[chunk], width:] = best[:, -1:]
    full = size - 1
    row = F[full]
    points = [L for L in range(top + 1) if math.isfinite(row[L]) and (L == 0 or row[L] < row[:L].min())]
    networks = [_rebuild(full, L, F, G, largest, (masks, levels, WL)) for L in points]
    return np.array(points, dtype=np.int64), row[points], networks


def _rebuild(
    M: int, L: int, F: np.ndarray, G: np.ndarray, largest: int, candidates: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> list[int]:
    """The networks of ``F[M, L]``: block by block, the first (block, level) whose sum reproduces the value.
    ``candidates`` are the networks' task masks, levels and weighted losses."""
    chosen = set()
    while M:
        low = M & -M
        rest = M ^ low
        positions = np.flatnonzero((rest >> np.arange(rest.bit_length())) & 1)
        subs = _submasks(positions[None, :])[0]  # every submask of rest
        found = None
        for a in range(1, min(largest, L) + 1):  # the same float sums as the DP, so equality is exact
            hits = np.flatnonzero(G[subs | low, a] + F[rest ^ subs, L - a] == F[M, L])
            if len(hits):
                found = (int(subs[hits[0]]) | low, a)
                break
        assert found is not None, "a value of F is always reproduced by one of its terms"
        B, a = found
        chosen.add(_first_network(B, a, float(G[B, a]), *candidates))
        M, L = M ^ B, L - a
    return sorted(chosen)


def _subset_sums(values: np.ndarray) -> np.ndarray:
    """(c, 2^s): for each row of ``values`` (c, s) the sum over each subset of its columns, subset q holding the
    columns of q's set bits (as in :func:`_submasks`); each sum adds the values in column order starting from
    0.0, the order :func:`_first_network` repeats."""
    c, s = values.shape
    sums = np.zeros((c, 1 << s))
    for i in range(s):
        half = 1 << i
        np.add(sums[:, :half], values[:, i : i + 1], out=sums[:, half : 2 * half])
    return sums


def _first_network(B: int, a: int, value: float, masks: np.ndarray, levels: np.ndarray, WL: np.ndarray) -> int:
    """The first network (index order) of ``a`` quanta serving every task of block ``B`` whose loss on ``B``,
    summed as :func:`_subset_sums` sums it, is ``value`` (``G[B, a]``)."""
    candidates = np.flatnonzero(((masks & B) == B) & (levels == a))
    sums = np.zeros(len(candidates))
    for t in np.flatnonzero((B >> np.arange(B.bit_length())) & 1):
        sums += WL[candidates, t]
    return int(candidates[np.flatnonzero(sums == value)[0]])


def _chunks(count: int, width: int, limit: int = 2_000_000) -> list[slice]:
    """Slices of ``range(count)`` of rows of ``width`` elements, at most ``limit`` elements each (one row at least)."""
    step = max(1, limit // max(1, width))
    return [slice(i, min(i + step, count)) for i in range(0, count, step)]
