"""The compiled loop (numba) of the pricing search: depth-first branch-and-bound over tasks for one group size.

The search and its bound are described in :mod:`taskgroup.grouping.pricing`. The depth-first stack lives in
arrays the caller owns, so a search stopped after a node budget resumes where it stopped (the caller checks its
deadline between calls). Compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["FREE", "INSIDE", "OUTSIDE", "search_size"]

FREE, INSIDE, OUTSIDE = 0, 1, 2
_EPS = 1e-9


@njit(cache=True)
def _is_skipped(state, skip_masks):  # pragma: no cover - compiled
    """Whether the leaf ``state`` (its INSIDE tasks) is one of the rows of ``skip_masks``."""
    n = state.shape[0]
    for row in range(skip_masks.shape[0]):
        same = True
        for t in range(n):
            if skip_masks[row, t] != (state[t] == INSIDE):
                same = False
                break
        if same:
            return True
    return False


@njit(cache=True)
def _top_sum(values, count):  # pragma: no cover - compiled
    """The sum of the ``count`` largest of ``values``."""
    ordered = np.sort(values)
    total = 0.0
    for j in range(count):
        total += ordered[len(values) - 1 - j]
    return total


@njit(cache=True)
def _node_bound(state, inflow, inflow_matrix, ranked, shift, s, weight):  # pragma: no cover
    """The node bound of :mod:`taskgroup.grouping.pricing`; fills ``weight[f]`` for free tasks (else -inf).

    ``ranked[t]``: t's sources, best first (t itself excluded), so a target's best and worst free sources are
    read off by a scan instead of a sort. Returns -inf for a node that cannot be completed to ``s`` tasks.
    """
    n = state.shape[0]
    members = 0
    n_free = 0
    for t in range(n):
        if state[t] == INSIDE:
            members += 1
        elif state[t] == FREE:
            n_free += 1
    r = s - members
    weight[:] = -np.inf
    if n_free < r:
        return -np.inf
    scale = 1.0 / (s - 1)
    total = 0.0
    # a member's value is max(0, alpha + scale * x), x the sum of its sources still to join, between the sum of
    # its r worst and r best free sources; max(0, .) lies under its chord over that range, which is linear in
    # x (slope lam): the members then compete for the same r places instead of each taking its own best r
    lam = np.zeros(n)
    for c in range(n):
        if state[c] == OUTSIDE:
            continue
        # a member's r places are all to fill; a free task, once in, takes one of them itself
        count = r if state[c] == INSIDE else r - 1
        top = 0.0
        taken = 0
        row = ranked[c]
        j = 0
        while taken < count:
            u = row[j]
            if state[u] == FREE:
                top += inflow_matrix[u, c]
                taken += 1
            j += 1
        alpha = inflow[c] * scale + shift[c]
        high = alpha + top * scale
        if state[c] == FREE:
            weight[c] = max(high, 0.0)  # its value with its best sources, if it joins
            continue
        if high <= 0.0:
            continue  # a member that stays at 0 whatever joins
        bottom = 0.0
        taken = 0
        j = n - 2
        while taken < r:
            u = row[j]
            if state[u] == FREE:
                bottom += inflow_matrix[u, c]
                taken += 1
            j -= 1
        low = alpha + bottom * scale
        if low >= 0.0:
            lam[c] = 1.0
            total += alpha
        else:
            lam[c] = high / (high - low)
            total -= lam[c] * bottom * scale
    if r == 0:
        return total
    # every free task that joins raises the members' chords
    free_weights = np.empty(n_free)
    m = 0
    for f in range(n):
        if state[f] != FREE:
            continue
        extra = 0.0
        for i in range(n):
            if lam[i] > 0.0:
                extra += lam[i] * inflow_matrix[f, i]
        weight[f] += extra * scale
        free_weights[m] = weight[f]
        m += 1
    return total + _top_sum(free_weights, r)


@njit(cache=True)
def search_size(
    inflow_matrix,
    ranked,
    shift,
    s,
    skip_masks,
    stack_state,
    stack_inflow,
    stack_bound,
    top,
    best,
    best_state,
    pruned,
    tolerance,
    node_budget,
    collected,
    n_collected,
):  # pragma: no cover - compiled
    """Run the search for size ``s`` for at most ``node_budget`` nodes, from the stack's first ``top`` entries.

    Returns ``(top, best, pruned, improved, nodes, n_collected)``: the stack height left (0 = finished), the
    best leaf value (its state written to ``best_state`` when ``improved``), and the largest bound of a node
    pruned only by ``tolerance`` (every pruned subtree is worth at most ``max(best, pruned)``).

    With rows in ``collected`` the search instead lists every leaf worth more than ``best`` (which stays
    fixed) into ``collected[n_collected:]``; when they do not fit it stops and returns ``n_collected`` one
    past the capacity.
    """
    collect = collected.shape[0] > 0
    # listing keeps every leaf worth more than `best` by more than round-off, even by less than _EPS
    eps = 1e-12 * (1.0 + abs(best)) if collect else _EPS
    n = shift.shape[0]
    weight = np.empty(n)
    improved = False
    nodes = 0
    while top > 0 and nodes < node_budget:
        top -= 1
        state = stack_state[top].copy()
        inflow = stack_inflow[top].copy()
        parent_bound = stack_bound[top]
        if parent_bound <= best + eps + tolerance:
            if parent_bound > best + eps:
                pruned = max(pruned, parent_bound)
            continue
        nodes += 1
        members = 0
        for t in range(n):
            if state[t] == INSIDE:
                members += 1
        if members == s:
            if not _is_skipped(state, skip_masks):
                value = 0.0
                for t in range(n):
                    if state[t] == INSIDE:
                        value += max(inflow[t] / (s - 1) + shift[t], 0.0)
                if collect and value > best + eps:
                    if n_collected == collected.shape[0]:
                        return top, best, pruned, improved, nodes, n_collected + 1
                    for t in range(n):
                        collected[n_collected, t] = state[t] == INSIDE
                    n_collected += 1
                elif not collect and value > best + _EPS:
                    best = value
                    best_state[:] = state
                    improved = True
            continue
        bound = _node_bound(state, inflow, inflow_matrix, ranked, shift, s, weight)
        if bound <= best + eps + tolerance:
            if bound > best + eps:
                pruned = max(pruned, bound)
            continue
        task = int(np.argmax(weight))
        # exclude pushed first, include explored first (depth-first toward a good incumbent)
        stack_state[top] = state
        stack_state[top, task] = OUTSIDE
        stack_inflow[top] = inflow
        stack_bound[top] = bound
        stack_state[top + 1] = state
        stack_state[top + 1, task] = INSIDE
        stack_inflow[top + 1] = inflow + inflow_matrix[task]
        stack_bound[top + 1] = bound
        top += 2
    return top, best, pruned, improved, nodes, n_collected
