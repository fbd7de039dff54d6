"""Heuristic pricing for column generation: a batched best-improvement search over groups.

Column generation asks for groups with a large reduced profit ``P(G) = sum_{t in G} max(0, v_t(G) - pi_t)``
(:mod:`taskgroup.grouping.colgen`). Exact pricing (:mod:`taskgroup.grouping.pricing`) is a branch-and-bound
whose cost grows fast with the number of tasks, so the master is first driven by this search: from many seed
groups at once, add or drop the one task that raises ``P`` most, until no move does. Groups are valued by the
pairwise predictor (``offset[|G|, t] + mean_{u in G \\ {t}} S[u, t]``), in numpy over all seeds and moves
together; the caller values what comes back with the scorer (measured groups override predictions). It proves
nothing: the bound still comes from exact pricing.
"""

from __future__ import annotations

import numpy as np

__all__ = ["improve_groups", "swap_groups"]

_EPS = 1e-9


def _profits(inflow: np.ndarray, members: np.ndarray, size: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """P of groups given their members' inflow sums; ``shift[..., t] = offset[size, t] - pi_t``."""
    value = inflow / np.maximum(size - 1, 1)[..., None] + shift
    return np.where(members, np.maximum(value, 0.0), 0.0).sum(axis=-1)


def improve_groups(
    S: np.ndarray, offset: np.ndarray, pi: np.ndarray, seeds: np.ndarray, max_steps: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Best-improvement add/drop search on ``P`` from every seed group at once.

    Parameters
    ----------
    S : ndarray (n, n)
        ``S[source, target]``, higher is better (the diagonal is not used).
    offset : ndarray (n + 1, n)
        The size term ``offset[s, t]`` of a predicted group of ``s`` tasks.
    pi : ndarray (n,)
        Task duals.
    seeds : ndarray (m, n) of bool
        Start groups, each of at least 2 tasks.
    max_steps : int, optional
        Moves per seed at most (default ``2 n``).

    Returns
    -------
    (ndarray (m, n) of bool, ndarray (m,))
        The local optima (groups of at least 2 tasks) and their predicted ``P``.
    """
    n = S.shape[0]
    inflow_matrix, shift_by_size = _search_terms(S, offset, pi)
    members = np.array(seeds, dtype=bool, copy=True)
    eye = np.eye(n, dtype=bool)
    active = np.ones(len(members), dtype=bool)
    for _ in range(2 * n if max_steps is None else max_steps):
        rows = np.flatnonzero(active)
        if len(rows) == 0:
            break
        current = members[rows]
        size = current.sum(axis=1)
        inflow = current.astype(float) @ inflow_matrix
        profit = _profits(inflow, current, size, shift_by_size[size])
        sign = np.where(current, -1.0, 1.0)  # toggling u drops a member or adds a task
        moved_size = (size[:, None] + sign).astype(int)  # (m, u)
        moved_inflow = inflow[:, None, :] + sign[:, :, None] * inflow_matrix[None, :, :]
        moved_members = current[:, None, :] ^ eye[None, :, :]
        moved = _profits(moved_inflow, moved_members, moved_size, shift_by_size[np.clip(moved_size, 0, n)])
        moved[moved_size < 2] = -np.inf
        best = np.argmax(moved, axis=1)
        gain = moved[np.arange(len(rows)), best] - profit
        better = gain > _EPS
        active[rows[~better]] = False
        members[rows[better], best[better]] ^= True
    return members, _group_profits(members, inflow_matrix, shift_by_size)


def _search_terms(S: np.ndarray, offset: np.ndarray, pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What both searches value moves with: ``S`` without its diagonal (a task is not its own source) and the
    size term less the duals, ``(n + 1, n)``."""
    inflow_matrix = S.copy()
    np.fill_diagonal(inflow_matrix, 0.0)
    return inflow_matrix, offset - pi[None, :]


def _group_profits(members: np.ndarray, inflow_matrix: np.ndarray, shift_by_size: np.ndarray) -> np.ndarray:
    """``P`` of each group (rows of ``members``)."""
    size = members.sum(axis=1)
    return _profits(members.astype(float) @ inflow_matrix, members, size, shift_by_size[size])


def swap_groups(
    S: np.ndarray, offset: np.ndarray, pi: np.ndarray, seeds: np.ndarray, max_steps: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Best-improvement search on ``P`` over adds, drops and swaps (one member out, one task in), seed by seed.

    :func:`improve_groups` stops where no single add or drop helps; on unstructured affinities that leaves groups
    well below the best reduced profit, which exact pricing then finds at a cost of seconds per call. A swap
    keeps the size and so the denominator of every member's mean, the move such local optima miss. Each step
    values all ``|G| (n - |G|)`` swaps at once (``O(n^3)``), so this runs on a few seeds, not on all of them.

    Parameters
    ----------
    S, offset, pi
        As in :func:`improve_groups`.
    seeds : ndarray (m, n) of bool
        Start groups, each of at least 2 tasks.
    max_steps : int, optional
        Moves per seed at most (default ``2 n``).

    Returns
    -------
    (ndarray (m, n) of bool, ndarray (m,))
        The local optima and their predicted ``P``.
    """
    n = S.shape[0]
    inflow_matrix, shift_by_size = _search_terms(S, offset, pi)
    eye = np.eye(n, dtype=bool)
    members = np.array(seeds, dtype=bool, copy=True)
    for row in range(len(members)):
        group = members[row]
        for _ in range(2 * n if max_steps is None else max_steps):
            size = int(group.sum())
            inflow = group.astype(float) @ inflow_matrix
            profit = float(_profits(inflow, group, np.asarray(size), shift_by_size[size]))
            # adds and drops (as improve_groups)
            sign = np.where(group, -1.0, 1.0)
            toggled_size = (size + sign).astype(int)
            toggled = _profits(
                inflow[None, :] + sign[:, None] * inflow_matrix,
                group[None, :] ^ eye,
                toggled_size,
                shift_by_size[np.clip(toggled_size, 0, n)],
            )
            toggled[toggled_size < 2] = -np.inf
            # swaps: out[i] leaves, into[j] joins
            out, into = np.flatnonzero(group), np.flatnonzero(~group)
            best_toggle = int(np.argmax(toggled))
            best_gain, move = float(toggled[best_toggle]) - profit, (best_toggle, -1)
            if len(into):
                swapped_inflow = (
                    inflow[None, None, :] - inflow_matrix[out][:, None, :] + inflow_matrix[into][None, :, :]
                )
                swapped_members = np.broadcast_to(group, (len(out), len(into), n)).copy()
                swapped_members[np.arange(len(out)), :, out] = False
                swapped_members[:, np.arange(len(into)), into] = True
                swapped = _profits(swapped_inflow, swapped_members, np.asarray(size), shift_by_size[size])
                i, j = np.unravel_index(int(np.argmax(swapped)), swapped.shape)
                if float(swapped[i, j]) - profit > best_gain:
                    best_gain, move = float(swapped[i, j]) - profit, (int(out[i]), int(into[j]))
            if best_gain <= _EPS:
                break
            group[move[0]] ^= True
            if move[1] >= 0:
                group[move[1]] = True
    return members, _group_profits(members, inflow_matrix, shift_by_size)
