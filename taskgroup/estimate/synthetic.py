"""Seeded synthetic affinity matrices with planted clusters (for benchmarks and tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from taskgroup.errors import InvalidArgument

__all__ = ["planted_affinity"]


def planted_affinity(
    n_tasks: int = 40,
    n_clusters: int = 5,
    *,
    within: float = 1.0,
    between: float = -0.5,
    noise: float = 0.3,
    seed: int = 0,
) -> tuple[pd.DataFrame, np.ndarray]:
    """An asymmetric affinity ``matrix.loc[source, target]`` whose tasks fall into planted clusters.

    ``A[u, t] = within + noise * e`` for u, t in one cluster and ``between + noise * e`` otherwise
    (``e ~ N(0, 1)``); the diagonal is 0. Clusters are as equal in size as possible, tasks shuffled.

    Returns
    -------
    (DataFrame, ndarray)
        The matrix (tasks ``t00``, ``t01``, ...) and each task's planted cluster label.
    """
    if not isinstance(n_tasks, int) or not isinstance(n_clusters, int) or not 1 <= n_clusters <= n_tasks:
        raise InvalidArgument(f"Need integers 1 <= n_clusters <= n_tasks; got n_tasks={n_tasks!r}, n_clusters={n_clusters!r}.")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n_tasks) % n_clusters)
    same = labels[:, None] == labels[None, :]
    A = np.where(same, within, between) + noise * rng.standard_normal((n_tasks, n_tasks))
    np.fill_diagonal(A, 0.0)
    names = [f"t{i:02d}" for i in range(n_tasks)]
    return pd.DataFrame(A, index=names, columns=names), labels
