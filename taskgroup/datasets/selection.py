"""Seeded synthetic selection problems shaped like Standley et al.'s: every task subset plus half-size singles.

Used by the solver scaling benchmark and by tests that need instances larger than the published ones.
"""

from __future__ import annotations

import itertools

import numpy as np

from taskgroup.errors import InvalidArgument
from taskgroup.naming import network_name
from taskgroup.problem import Problem

__all__ = ["synthetic_problem"]


def synthetic_problem(
    n_tasks: int,
    seed: int = 0,
    *,
    affinity_scale: float = 0.15,
    capacity_penalty: float = 0.03,
    half_penalty: float = 0.08,
    noise: float = 0.02,
    max_group_size: int | None = None,
) -> Problem:
    """A problem with all task subsets as full networks (cost 1) and half-size singles (cost 0.5).

    Task t alone has loss ``base_t ~ U(0.5, 1.5)``. In a group S its loss is::

        base_t * (1 - mean_{u in S, u != t} A[t, u]) * (1 + capacity_penalty * (|S| - 1)) * (1 + eps)

    with a symmetric pairwise affinity ``A ~ N(0, affinity_scale^2)`` (positive: u helps t), a penalty for
    sharing capacity among more tasks and multiplicative noise ``eps ~ N(0, noise^2)``. The half-size single
    network of t has loss ``base_t * (1 + half_penalty) * (1 + eps)``.

    Parameters
    ----------
    n_tasks : int
        Number of tasks, 1..20.
    seed : int
        Seed of the generator; the same seed gives the same problem.
    affinity_scale : float, default 0.15
        Standard deviation of the pairwise affinities ``A``.
    capacity_penalty : float, default 0.03
        Relative loss added per extra task sharing a network.
    half_penalty : float, default 0.08
        Relative loss of a half-size single network over the task's base loss.
    noise : float, default 0.02
        Standard deviation of the multiplicative noise ``eps``.
    max_group_size : int, optional
        Only groups up to this size (default: all subsets).

    Returns
    -------
    Problem
        Tasks ``t0..t{n-1}``; first the ``n`` half-size singles (``t0_half``, ...), then every group by size.

    Raises
    ------
    InvalidArgument
        ``n_tasks`` is not an integer in 1..20.
    """
    if not isinstance(n_tasks, (int, np.integer)) or not 1 <= n_tasks <= 20:
        raise InvalidArgument(f"n_tasks must be an integer in 1..20; got {n_tasks!r}.")
    rng = np.random.default_rng(seed)
    tasks = [f"t{i}" for i in range(n_tasks)]
    base = rng.uniform(0.5, 1.5, size=n_tasks)
    A = rng.normal(0.0, affinity_scale, size=(n_tasks, n_tasks))
    A = (A + A.T) / 2
    largest = n_tasks if max_group_size is None else max_group_size
    names, costs, rows = [], [], []
    for t in range(n_tasks):
        row = np.full(n_tasks, np.nan)
        row[t] = base[t] * (1 + half_penalty) * (1 + rng.normal(0, noise))
        names.append(f"{tasks[t]}_half")
        costs.append(0.5)
        rows.append(row)
    for size in range(1, largest + 1):
        for group in itertools.combinations(range(n_tasks), size):
            row = np.full(n_tasks, np.nan)
            for t in group:
                others = [u for u in group if u != t]
                help_ = A[t, others].mean() if others else 0.0
                row[t] = base[t] * (1 - help_) * (1 + capacity_penalty * (size - 1)) * (1 + rng.normal(0, noise))
            names.append(network_name(tasks[t] for t in group))
            costs.append(1.0)
            rows.append(row)
    return Problem(tasks, names, np.array(costs), np.array(rows))
