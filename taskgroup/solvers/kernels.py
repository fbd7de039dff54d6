"""Compiled loops (numba) of the solvers: dominance within groups and the partition dynamic programme.

Compiled on first use and cached on disk (``cache=True``), so later processes load them in milliseconds.
The first compilation after an install is what a user waits for, so the kernels are plain loops over arrays:
numba compiles each numpy function used inside a kernel as well, and a slice assignment (``a[:k] = b``) took
2.5 s, ``np.argsort`` 1.4 s, a loop kernel 0.5 s (issue 24). Sorting is a merge sort written here; arrays are
copied by loops; the candidates' grouping by task set is computed by numpy before the kernels run.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["mark_dominated", "kernels_cached"]


@njit(cache=True)
def _filled(size, value):  # pragma: no cover - compiled
    out = np.empty(size)
    for i in range(size):
        out[i] = value
    return out


@njit(cache=True)
def _filled_int(size, value):  # pragma: no cover - compiled
    out = np.empty(size, np.int64)
    for i in range(size):
        out[i] = value
    return out


@njit(cache=True)
def _filled2(rows, columns, value):  # pragma: no cover - compiled
    out = np.empty((rows, columns))
    for i in range(rows):
        for q in range(columns):
            out[i, q] = value
    return out


@njit(cache=True)
def mark_dominated(order, starts, WL, C, dominated):  # pragma: no cover - compiled
    """Set ``dominated[j]`` for every candidate dominated by another of its group.

    Group g holds candidates ``order[starts[g]:starts[g + 1]]``. k dominates j when it is no worse on every
    cost and every task (``inf`` = not served); among identical candidates the first index survives.
    """
    n = WL.shape[1]
    r = C.shape[1]
    for g in range(len(starts) - 1):
        lo, hi = starts[g], starts[g + 1]
        for a in range(lo, hi):
            j = order[a]
            for b in range(lo, hi):
                k = order[b]
                if k == j or dominated[k]:  # k's own dominator dominates j too (transitivity)
                    continue
                le = True
                eq = True
                for q in range(r):
                    if C[k, q] > C[j, q]:
                        le = False
                        break
                    if C[k, q] != C[j, q]:
                        eq = False
                if not le:
                    continue
                for t in range(n):
                    if WL[k, t] > WL[j, t]:
                        le = False
                        break
                    if WL[k, t] != WL[j, t]:
                        eq = False
                if le and (not eq or k < j):
                    dominated[j] = True
                    break


@njit(cache=True)
def _before(cost, loss, a, b):  # pragma: no cover - compiled
    """Whether point a comes strictly before point b: lexicographically by cost columns, then by loss."""
    for q in range(cost.shape[1]):
        if cost[a, q] != cost[b, q]:
            return cost[a, q] < cost[b, q]
    return loss[a] < loss[b]


@njit(cache=True)
def _sorted_points(cost, loss, count):  # pragma: no cover - compiled
    """Indices of the first ``count`` points in :func:`_before` order; stable (a bottom-up merge sort)."""
    order = np.empty(count, np.int64)
    spare = np.empty(count, np.int64)
    for i in range(count):
        order[i] = i
    width = 1
    while width < count:
        for lo in range(0, count, 2 * width):
            mid = min(lo + width, count)
            hi = min(lo + 2 * width, count)
            a, b, out = lo, mid, lo
            while a < mid and b < hi:
                if _before(cost, loss, order[b], order[a]):
                    spare[out] = order[b]
                    b += 1
                else:
                    spare[out] = order[a]
                    a += 1
                out += 1
            while a < mid:
                spare[out] = order[a]
                a += 1
                out += 1
            while b < hi:
                spare[out] = order[b]
                b += 1
                out += 1
        order, spare = spare, order
        width *= 2
    return order


@njit(cache=True)
def _pareto(cost, loss, count, keep):  # pragma: no cover - compiled
    """Indices of the Pareto set of the first ``count`` (cost vector, loss) points, written into ``keep``.

    A point is dropped when another has every cost and the loss no larger (the first of equal points stays).
    Kept points come sorted lexicographically by cost: with one resource, ascending cost and strictly
    descending loss. Returns how many were kept.
    """
    r_count = cost.shape[1]
    order = _sorted_points(cost, loss, count)
    k = 0
    if r_count == 1:
        best = np.inf
        for i in order:
            if loss[i] < best:
                keep[k] = i
                k += 1
                best = loss[i]
        return k
    for i in order:
        dominated = False
        for a in range(k):
            p = keep[a]
            if loss[p] <= loss[i]:
                le = True
                for q in range(r_count):
                    if cost[p, q] > cost[i, q]:
                        le = False
                        break
                if le:
                    dominated = True
                    break
        if not dominated:
            keep[k] = i
            k += 1
    return k


@njit(cache=True)
def _grow2(a, size):  # pragma: no cover - compiled
    out = np.empty((size, a.shape[1]), a.dtype)
    for i in range(a.shape[0]):
        for q in range(a.shape[1]):
            out[i, q] = a[i, q]
    return out


@njit(cache=True)
def _grow1(a, size):  # pragma: no cover - compiled
    out = np.empty(size, a.dtype)
    for i in range(a.shape[0]):
        out[i] = a[i]
    return out


@njit(cache=True)
def _sorted_indices(values, count):  # pragma: no cover - compiled
    """The first ``count`` entries of ``values`` (distinct integers) in ascending order: an insertion sort, as
    they are nearly sorted already (Pareto indices come in cost order)."""
    out = np.empty(count, np.int64)
    for i in range(count):
        v = values[i]
        k = i
        while k > 0 and out[k - 1] > v:
            out[k] = out[k - 1]
            k -= 1
        out[k] = v
    return out


@njit(cache=True)
def _slot(cost, i, mask_bits):  # pragma: no cover - compiled
    h = np.uint64(1469598103934665603)
    for q in range(cost.shape[1]):
        h ^= np.uint64(np.int64(cost[i, q] * 1048576.0) & 0x7FFFFFFFFFFFFFFF)
        h *= np.uint64(1099511628211)
    return np.int64(h >> np.uint64(20)) & mask_bits


@njit(cache=True)
def partition_tables(n, net_start, net_list, trailing, C, WL, limit, work_cap):  # pragma: no cover - compiled
    """The partition dynamic programme (see :mod:`taskgroup.solvers.partition_dp`).

    The candidates come grouped by task set (:func:`by_task_set`); ``C`` holds their costs, ``WL`` its weighted losses
    (``inf`` where not served), ``limit`` the budget per resource with its tolerance (``inf``: none). Returns
    ``(done, g_start, g_cost, g_loss, g_net, f_start, f_cost, f_loss, f_g, f_prev)``: for each block B the
    Pareto set G[B] in ``[g_start[B], g_start[B + 1])``, and for each task set M the Pareto set F[M] in
    ``[f_start[M], f_start[M + 1])`` with back pointers (the G entry of the block holding M's lowest task, the F
    entry of the rest, -1 for the empty set). ``done`` is False when ``work_cap`` block pairs were exceeded.
    """
    r_count = C.shape[1]
    m = net_list.shape[0]
    size = 1 << n
    full = size - 1
    work = 0
    # G[B]: Pareto set of (cost, loss on B) over candidates whose task set contains B.
    buf_cost = np.empty((max(m, 1), r_count))
    buf_loss = np.empty(max(m, 1))
    buf_net = np.empty(max(m, 1), np.int64)
    keep = np.empty(max(m, 1), np.int64)
    g_start = _filled_int(size + 1, 0)
    g_cost = np.empty((max(1024, 2 * m), r_count))
    g_loss = np.empty(g_cost.shape[0])
    g_net = np.empty(g_cost.shape[0], np.int64)
    g_count = 0
    for B in range(1, size):
        g_start[B] = g_count
        comp = full ^ B
        sub = comp
        k = 0
        while True:
            S = B | sub
            for idx in range(net_start[S], net_start[S + 1]):
                j = net_list[idx]
                total = 0.0
                bits = B
                while bits:
                    total += WL[j, trailing[bits]]
                    bits &= bits - 1
                for q in range(r_count):
                    buf_cost[k, q] = C[j, q]
                buf_loss[k] = total
                buf_net[k] = j
                k += 1
            work += 1
            if sub == 0:
                break
            sub = (sub - 1) & comp
        if work > work_cap:
            return False, g_start, g_cost, g_loss, g_net, g_start, g_cost, g_loss, g_net, g_net
        kept = _pareto(buf_cost, buf_loss, k, keep) if k else 0
        if g_count + kept > g_loss.shape[0]:
            grown = 2 * (g_count + kept)
            g_cost, g_loss, g_net = _grow2(g_cost, grown), _grow1(g_loss, grown), _grow1(g_net, grown)
        for a in range(kept):
            i = keep[a]
            for q in range(r_count):
                g_cost[g_count, q] = buf_cost[i, q]
            g_loss[g_count] = buf_loss[i]
            g_net[g_count] = buf_net[i]
            g_count += 1
    g_start[size] = g_count
    # F[M]: Pareto set over partitions of M into blocks; M's lowest task is in the first block.
    f_start = _filled_int(size + 1, 0)
    cap = 1 << 16
    f_cost = _filled2(cap, r_count, 0.0)
    f_loss = _filled(cap, 0.0)
    f_g = _filled_int(cap, -1)
    f_prev = _filled_int(cap, -1)
    f_count = 1  # F[{}] = {(0, 0)}
    f_start[1] = 1
    bcap = 1 << 12
    b_cost = np.empty((bcap, r_count))
    b_loss = np.empty(bcap)
    b_g = np.empty(bcap, np.int64)
    b_prev = np.empty(bcap, np.int64)
    b_keep = np.empty(bcap, np.int64)
    hbits = np.int64(4 * bcap - 1)
    table = _filled_int(4 * bcap, -1)
    slots = np.empty(bcap, np.int64)
    new_cost = np.empty(r_count)
    for M in range(1, size):
        low = M & -M
        rest = M ^ low
        sub = rest
        k = 0
        while True:
            B = sub | low
            other = rest ^ sub
            f_lo, f_hi = f_start[other], f_start[other + 1]
            for g in range(g_start[B], g_start[B + 1]):
                work += f_hi - f_lo
                for f in range(f_lo, f_hi):
                    over = False
                    for q in range(r_count):
                        new_cost[q] = g_cost[g, q] + f_cost[f, q]
                        if new_cost[q] > limit[q]:
                            over = True
                    if over:
                        if r_count == 1:
                            break  # F sets are sorted by ascending cost: the rest are over too
                        continue
                    new_loss = g_loss[g] + f_loss[f]
                    if k == bcap:  # full: keep its Pareto set, and grow when that is still large
                        kept = _pareto(b_cost, b_loss, k, b_keep)
                        for a in range(k):
                            table[slots[a]] = -1
                        order = _sorted_indices(b_keep, kept)
                        for a in range(kept):
                            i = order[a]
                            for q in range(r_count):
                                b_cost[a, q] = b_cost[i, q]
                            b_loss[a] = b_loss[i]
                            b_g[a] = b_g[i]
                            b_prev[a] = b_prev[i]
                        k = kept
                        if k > bcap // 2:
                            bcap *= 2
                            b_cost, b_loss = _grow2(b_cost, bcap), _grow1(b_loss, bcap)
                            b_g, b_prev = _grow1(b_g, bcap), _grow1(b_prev, bcap)
                            b_keep, slots = np.empty(bcap, np.int64), _grow1(slots, bcap)
                            hbits = np.int64(4 * bcap - 1)
                            table = _filled_int(4 * bcap, -1)
                        for a in range(k):
                            s = _slot(b_cost, a, hbits)
                            while table[s] != -1:
                                s = (s + 1) & hbits
                            table[s] = a
                            slots[a] = s
                    # Merge points of equal cost in a hash table: only the least loss can be Pareto-optimal.
                    for q in range(r_count):
                        b_cost[k, q] = new_cost[q]
                    s = _slot(b_cost, k, hbits)
                    while True:
                        a = table[s]
                        if a == -1:
                            table[s] = k
                            slots[k] = s
                            b_loss[k] = new_loss
                            b_g[k] = g
                            b_prev[k] = f
                            k += 1
                            break
                        same = True
                        for q in range(r_count):
                            if b_cost[a, q] != new_cost[q]:
                                same = False
                                break
                        if same:
                            if new_loss < b_loss[a]:
                                b_loss[a] = new_loss
                                b_g[a] = g
                                b_prev[a] = f
                            break
                        s = (s + 1) & hbits
            if sub == 0:
                break
            sub = (sub - 1) & rest
        if work > work_cap:
            return False, g_start, g_cost, g_loss, g_net, f_start, f_cost, f_loss, f_g, f_prev
        kept = _pareto(b_cost, b_loss, k, b_keep) if k else 0
        for a in range(k):
            table[slots[a]] = -1
        if f_count + kept > f_loss.shape[0]:
            grown = 2 * (f_count + kept)
            f_cost, f_loss = _grow2(f_cost, grown), _grow1(f_loss, grown)
            f_g, f_prev = _grow1(f_g, grown), _grow1(f_prev, grown)
        for a in range(kept):
            i = b_keep[a]
            for q in range(r_count):
                f_cost[f_count, q] = b_cost[i, q]
            f_loss[f_count] = b_loss[i]
            f_g[f_count] = b_g[i]
            f_prev[f_count] = b_prev[i]
            f_count += 1
        f_start[M + 1] = f_count
    return True, g_start, g_cost, g_loss, g_net, f_start, f_cost, f_loss, f_g, f_prev


@njit(cache=True)
def partition_tables_grid(n, net_start, net_list, trailing, levels, WL, level_limit, work_cap):  # pragma: no cover
    """:func:`partition_tables` for one resource whose costs are integer multiples of a quantum.

    ``levels[j]`` is candidate j's cost in quanta and ``level_limit`` the budget in quanta. Each Pareto pass
    is then a dense array indexed by cost level (the least loss per level, then a sweep), a few nanoseconds
    per block pair instead of a search. Same return value, with costs in quanta.
    """
    m = net_list.shape[0]
    size = 1 << n
    full = size - 1
    top = level_limit
    largest = 0
    for j in range(m):
        largest = max(largest, levels[j])
    if top > n * largest:
        top = n * largest  # no partition has more than n blocks
    best = _filled(top + 1, np.inf)
    who = _filled_int(top + 1, -1)
    whence = _filled_int(top + 1, -1)
    work = 0
    g_start = _filled_int(size + 1, 0)
    g_level = np.empty(max(1024, 2 * m), np.int64)
    g_loss = np.empty(g_level.shape[0])
    g_net = np.empty(g_level.shape[0], np.int64)
    g_count = 0
    for B in range(1, size):
        g_start[B] = g_count
        comp = full ^ B
        sub = comp
        used = -1
        while True:
            S = B | sub
            for idx in range(net_start[S], net_start[S + 1]):
                j = net_list[idx]
                total = 0.0
                bits = B
                while bits:
                    total += WL[j, trailing[bits]]
                    bits &= bits - 1
                lv = levels[j]
                if lv <= top and (total < best[lv] or total == best[lv] and j < who[lv]):
                    best[lv] = total
                    who[lv] = j
                    used = max(used, lv)
            work += 1
            if sub == 0:
                break
            sub = (sub - 1) & comp
        if work > work_cap:
            return False, g_start, g_level, g_loss, g_net, g_start, g_level, g_loss, g_net, g_net
        if g_count + used + 1 > g_loss.shape[0]:
            grown = 2 * (g_count + used + 1)
            g_level, g_loss, g_net = _grow1(g_level, grown), _grow1(g_loss, grown), _grow1(g_net, grown)
        floor = np.inf
        for lv in range(used + 1):
            if best[lv] < floor:
                floor = best[lv]
                g_level[g_count] = lv
                g_loss[g_count] = best[lv]
                g_net[g_count] = who[lv]
                g_count += 1
            best[lv] = np.inf
            who[lv] = -1
    g_start[size] = g_count
    f_start = _filled_int(size + 1, 0)
    cap = 1 << 16
    f_level = _filled_int(cap, 0)
    f_loss = _filled(cap, 0.0)
    f_g = _filled_int(cap, -1)
    f_prev = _filled_int(cap, -1)
    f_count = 1
    f_start[1] = 1
    for M in range(1, size):
        low = M & -M
        rest = M ^ low
        sub = rest
        used = -1
        while True:
            B = sub | low
            other = rest ^ sub
            f_lo, f_hi = f_start[other], f_start[other + 1]
            for g in range(g_start[B], g_start[B + 1]):
                gl = g_level[g]
                gv = g_loss[g]
                work += f_hi - f_lo
                for f in range(f_lo, f_hi):
                    lv = gl + f_level[f]
                    if lv > top:
                        break  # F sets ascend in cost
                    v = gv + f_loss[f]
                    if v < best[lv]:
                        best[lv] = v
                        who[lv] = g
                        whence[lv] = f
                        if lv > used:
                            used = lv
            if sub == 0:
                break
            sub = (sub - 1) & rest
        if work > work_cap:
            return False, g_start, g_level, g_loss, g_net, f_start, f_level, f_loss, f_g, f_prev
        if f_count + used + 1 > f_loss.shape[0]:
            grown = 2 * (f_count + used + 1)
            f_level, f_loss = _grow1(f_level, grown), _grow1(f_loss, grown)
            f_g, f_prev = _grow1(f_g, grown), _grow1(f_prev, grown)
        floor = np.inf
        for lv in range(used + 1):
            if best[lv] < floor:
                floor = best[lv]
                f_level[f_count] = lv
                f_loss[f_count] = best[lv]
                f_g[f_count] = who[lv]
                f_prev[f_count] = whence[lv]
                f_count += 1
            best[lv] = np.inf
        f_start[M + 1] = f_count
    return True, g_start, g_level, g_loss, g_net, f_start, f_level, f_loss, f_g, f_prev


def kernels_cached(grid: bool = True) -> bool:
    """Whether the partition DP's grid kernel (``grid=False``: its kernel for costs off a grid) is loaded in this
    process or compiled in numba's disk cache for this source (then a fresh process loads it in milliseconds
    instead of compiling it).

    Parameters
    ----------
    grid : bool, default True
        Which kernel: the one for one resource on a cost grid, or the general one.

    Returns
    -------
    bool
        False also when numba's cache cannot be inspected.
    """
    kernel = partition_tables_grid if grid else partition_tables
    if kernel.signatures:
        return True
    try:  # numba's cache index for this function; empty when missing or written for another version of the source
        return bool(kernel._cache._cache_file._load_index())  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a numba internal: when it changes, assume nothing is cached
        return False
