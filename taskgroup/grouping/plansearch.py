r"""The best ``k`` groups on a table of values, and a Lagrangian upper bound on what any ``k`` groups can reach.

``values[g, t]`` is task ``t``'s value (higher is better; ``-inf`` where group ``g`` does not serve ``t``). A plan of
``k`` groups is worth ``sum_t max_{g in plan} values[g, t]`` and must serve every task.

:func:`best_plan` enumerates every set of ``k`` groups when there are at most ``exhaustive_limit`` of them (exact),
and otherwise runs a best-improvement swap search (replace one group by the best other group, vectorised over all
groups) from several starts. :func:`lagrangian_bound` is a valid upper bound for *any* multipliers: relaxing
"each task served once" with multipliers ``mu_t`` gives::

    max over plans  <=  sum_t mu_t + (sum of the k largest  r_g),   r_g = sum_t max(0, values[g, t] - mu_t)

which a subgradient descent on ``mu`` (started from the plan's per-task values) tightens.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np

__all__ = ["best_plan", "plan_value", "lagrangian_bound", "EXHAUSTIVE_LIMIT"]

EXHAUSTIVE_LIMIT = 300_000
"""Most sets of ``k`` groups :func:`best_plan` enumerates; beyond it, the swap search."""

# A task nobody serves costs this much per task: plans that serve more tasks always rank first.
_UNSERVED = -1e12


def plan_value(values: np.ndarray, plan: tuple[int, ...] | list[int]) -> float:
    """``sum_t max_{g in plan} values[g, t]`` (``-inf`` when some task is not served).

    Parameters
    ----------
    values : numpy.ndarray, shape (G, n)
        Per group and task, the value (``-inf`` where the group does not serve the task).
    plan : sequence of int
        Rows of ``values``.

    Returns
    -------
    float
    """
    return float(values[list(plan)].max(axis=0).sum())


def best_plan(
    values: np.ndarray,
    n_networks: int,
    *,
    seed: int = 0,
    starts: tuple[tuple[int, ...], ...] = (),
    restarts: int = 8,
    exhaustive_limit: int = EXHAUSTIVE_LIMIT,
) -> tuple[tuple[int, ...], float, bool]:
    """The best set of ``k`` groups (rows of ``values``) serving every task.

    Parameters
    ----------
    values : ndarray (G, n)
        Per group and task, the value (higher is better); ``-inf`` where the group does not serve the task.
    n_networks : int
        Groups in the plan (at most ``G``).
    seed : int
        Seed of the random starts of the swap search.
    starts : tuple of tuple of int
        Plans to start the swap search from too (e.g. the previous round's plan).
    restarts : int
        Random starts of the swap search.
    exhaustive_limit : int
        Enumerate every set when there are at most this many.

    Returns
    -------
    (tuple of int, float, bool)
        The plan's rows (sorted), its value (``-inf`` if no set of ``k`` groups serves every task) and whether it
        is proven best (enumeration).
    """
    G = values.shape[0]
    k = min(n_networks, G)
    finite = np.where(np.isfinite(values), values, _UNSERVED)
    if math.comb(G, k) <= exhaustive_limit:
        best, best_value = _enumerate(finite, k)
        return best, _honest(values, best), True
    rng = np.random.default_rng(seed)
    candidates = [tuple(s) for s in starts if len(set(s)) == k]
    candidates.append(_greedy(finite, k))
    candidates += [tuple(int(i) for i in rng.choice(G, size=k, replace=False)) for _ in range(restarts)]
    best, best_value = (), -math.inf
    for start in candidates:
        plan, value = _swap_search(finite, list(start))
        if value > best_value + 1e-12:
            best, best_value = plan, value
    return best, _honest(values, best), False


def _honest(values: np.ndarray, plan: tuple[int, ...]) -> float:
    value = plan_value(values, plan)
    return value if np.isfinite(value) else -math.inf


def _enumerate(finite: np.ndarray, k: int) -> tuple[tuple[int, ...], float]:
    G = finite.shape[0]
    best: tuple[int, ...] = ()
    best_value = -math.inf
    chunk: list[tuple[int, ...]] = []
    for combo in combinations(range(G), k):
        chunk.append(combo)
        if len(chunk) == 20_000:
            best, best_value = _best_of(finite, chunk, best, best_value)
            chunk = []
    if chunk:
        best, best_value = _best_of(finite, chunk, best, best_value)
    return best, best_value


def _best_of(
    finite: np.ndarray, combos: list[tuple[int, ...]], best: tuple[int, ...], best_value: float
) -> tuple[tuple[int, ...], float]:
    idx = np.array(combos)
    totals = finite[idx].max(axis=1).sum(axis=1)
    i = int(np.argmax(totals))
    if totals[i] > best_value:
        return tuple(int(g) for g in idx[i]), float(totals[i])
    return best, best_value


def _greedy(finite: np.ndarray, k: int) -> tuple[int, ...]:
    current = np.full(finite.shape[1], _UNSERVED * 10)
    plan: list[int] = []
    for _ in range(k):
        gains = np.maximum(current[None, :], finite).sum(axis=1)
        gains[plan] = -np.inf
        g = int(np.argmax(gains))
        plan.append(g)
        current = np.maximum(current, finite[g])
    return tuple(plan)


def _swap_search(finite: np.ndarray, plan: list[int]) -> tuple[tuple[int, ...], float]:
    value = float(finite[plan].max(axis=0).sum())
    improved = True
    while improved:
        improved = False
        for i in range(len(plan)):
            others = [g for j, g in enumerate(plan) if j != i]
            base = finite[others].max(axis=0) if others else np.full(finite.shape[1], _UNSERVED * 10)
            totals = np.maximum(base[None, :], finite).sum(axis=1)
            totals[others] = -np.inf
            g = int(np.argmax(totals))
            if totals[g] > value + 1e-12:
                plan[i], value, improved = g, float(totals[g]), True
    return tuple(sorted(plan)), value


def lagrangian_bound(values: np.ndarray, n_networks: int, mu: np.ndarray, *, iterations: int = 300) -> float:
    """An upper bound on the value of every set of ``k`` groups serving every task (see the module).

    Parameters
    ----------
    values : ndarray (G, n)
        As in :func:`best_plan`.
    n_networks : int
        Groups in a plan.
    mu : ndarray (n,)
        Starting multipliers (a good start: the per-task values of a good plan).
    iterations : int
        Subgradient steps; every step's bound is valid, the smallest is returned.

    Returns
    -------
    float
    """
    finite = np.where(np.isfinite(values), values, -np.inf)
    mu = np.asarray(mu, dtype=float).copy()
    k = min(n_networks, finite.shape[0])
    scale = float(np.abs(mu).mean()) or 1.0
    best = math.inf
    for step in range(iterations):
        excess = np.maximum(finite - mu[None, :], 0.0)
        r = excess.sum(axis=1)
        top = np.argpartition(-r, k - 1)[:k]
        best = min(best, float(mu.sum() + r[top].sum()))
        grad = 1.0 - (excess[top] > 0).sum(axis=0)
        norm = float(np.linalg.norm(grad))
        if norm == 0:
            break
        mu = mu - (0.1 * scale / math.sqrt(step + 1)) * grad / norm
    return best
