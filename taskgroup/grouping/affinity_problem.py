"""Affinity matrix -> network-selection problem whose candidates are task groups.

A candidate network is a group ``G`` of tasks. Its value on task ``t in G`` follows the TAG rule (Fifty et
al. 2021): the mean of ``matrix[u, t]`` over the other members ``u in G \\ {t}``. For a pair matrix (``matrix[u,
t]`` = t's value in the network {t, u}) the same rule is Standley et al.'s higher-order approximation. Each
task is served by its best chosen group and groups may overlap, which is exactly the Standley objective, so
``tg.solve(problem, budget=k)`` picks ``k`` groups with any exact solver.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np

from taskgroup.errors import InstanceTooLarge, InvalidArgument
from taskgroup.estimate.matrix import AffinityLike, as_affinity
from taskgroup.naming import network_name
from taskgroup.problem import Problem
from taskgroup.validation import check_number

__all__ = ["group_problem", "group_values", "group_name", "SINGLETON_MODES", "MAX_ENUMERATED_TASKS"]

SINGLETON_MODES = ("exclude", "diagonal")

# 2^20 groups x 20 tasks is ~170 MB of float64; past that, use tg.grouping.group (candidates on demand).
MAX_ENUMERATED_TASKS = 20


def group_name(tasks: Sequence[str]) -> str:
    """The candidate name of a group: its task names joined by ``+`` in task order.

    Parameters
    ----------
    tasks : sequence of str
        The group's task names, in task order.

    Returns
    -------
    str
    """
    return network_name(tasks)


def group_values(values: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Per task, its value in the group ``members`` (a boolean mask); NaN for tasks outside the group.

    ``values[u, t]`` is ``matrix.loc[source u, target t]``. A member's value is the mean over the other
    members; a group of one gets its diagonal entry.

    Parameters
    ----------
    values : ndarray (n, n)
        ``values[source, target]``.
    members : ndarray (n,) of bool
        The group.

    Returns
    -------
    ndarray (n,)
        Each member's value; NaN outside the group.
    """
    members = np.asarray(members, dtype=bool)
    size = int(members.sum())
    out = np.full(values.shape[0], np.nan)
    if size == 1:
        t = int(np.flatnonzero(members)[0])
        out[t] = values[t, t]
        return out
    column_sums = members.astype(float) @ values  # sum over member sources, per target
    idx = np.flatnonzero(members)
    out[idx] = (column_sums[idx] - np.diag(values)[idx]) / (size - 1)
    return out


def group_problem(
    matrix: AffinityLike,
    *,
    singletons: str = "exclude",
    higher_is_better: bool | None = None,
    orient: str = "source",
    max_size: int | None = None,
    cost_value: float = 1.0,
) -> Problem:
    """The selection problem whose candidates are all task groups, scored from a pairwise matrix.

    Parameters
    ----------
    matrix : DataFrame, dict of dicts, or path
        Square matrix ``matrix.loc[source, target]`` (see :func:`as_affinity`): a TAG/CS affinity, or a pair
        matrix (target's value when trained with source; diagonal = target alone).
    singletons : {"exclude", "diagonal"}
        ``"exclude"``: no one-task groups (as the TAG paper does; needs at least 2 tasks). ``"diagonal"``:
        one-task groups are candidates scored by the matrix diagonal (e.g. the single-task value).
    higher_is_better : bool, optional
        True for affinities and accuracies (negated into losses; plans report scores); False for losses.
        Default: ``matrix.attrs["higher_is_better"]`` when the matrix carries it (``tg.datasets.tag2021``
        does), else True.
    orient : {"source", "target"}
        Row orientation of ``matrix`` (``"target"`` for the TAG notebooks' ``dict[target][source]``).
    max_size : int, optional
        Largest group size to list. Default: all tasks.
    cost_value : float
        Cost of every group network, > 0. With the default 1, a budget of
        ``k`` means at most ``k`` networks.

    Returns
    -------
    Problem
        One candidate per group, named ``"a+b+c"``; every entry is flagged as predicted.

    Raises
    ------
    InvalidArgument
        For a bad matrix (see :func:`as_affinity`), an unknown ``singletons`` mode, ``singletons="exclude"``
        with one task, a ``max_size`` below the smallest allowed group, or a ``cost_value`` that is not > 0.
    InstanceTooLarge
        With more than :data:`MAX_ENUMERATED_TASKS` tasks and no ``max_size``; use :func:`tg.grouping.group`.

    Examples
    --------
    >>> import taskgroup as tg
    >>> A = tg.datasets.tag2021("taskonomy", "tag")
    >>> plan = tg.solve(tg.grouping.group_problem(A), budget=2)
    >>> plan.optimal
    True
    """
    if singletons not in SINGLETON_MODES:
        raise InvalidArgument(f"singletons={singletons!r} is not accepted; use one of {list(SINGLETON_MODES)}.")
    check_number(cost_value, "cost_value", "group_problem", minimum=0, exclusive=True)
    frame = as_affinity(matrix, orient=orient)
    if higher_is_better is None:
        attrs = getattr(matrix, "attrs", None)
        higher_is_better = bool(attrs.get("higher_is_better", True)) if isinstance(attrs, dict) else True
    tasks = list(frame.index)
    n = len(tasks)
    smallest = 1 if singletons == "diagonal" else 2
    if n < smallest:
        raise InvalidArgument(
            f"singletons='exclude' needs at least 2 tasks to form a group; the matrix has {n} ({tasks})."
        )
    if max_size is None:
        if n > MAX_ENUMERATED_TASKS:
            raise InstanceTooLarge(
                f"Listing every group of {n} tasks means {2**n - 1} candidates; group_problem lists groups for up "
                f"to {MAX_ENUMERATED_TASKS} tasks. Pass max_size, or use tg.grouping.group(matrix, k, method=...) "
                "which generates candidates on demand."
            )
        max_size = n
    check_number(max_size, "max_size", "group_problem", minimum=smallest, integer=True)
    values = frame.to_numpy()
    sign = -1.0 if higher_is_better else 1.0
    names, rows = [], []
    for size in range(smallest, min(max_size, n) + 1):
        for combo in combinations(range(n), size):
            mask = np.zeros(n, dtype=bool)
            mask[list(combo)] = True
            names.append(group_name([tasks[i] for i in combo]))
            rows.append(group_values(values, mask))
    losses = sign * np.array(rows)  # NaN stays NaN outside each group
    return Problem(
        tasks,
        names,
        np.full(len(names), float(cost_value)),
        losses,
        higher_is_better=higher_is_better,
        predicted=~np.isnan(losses),
    )
