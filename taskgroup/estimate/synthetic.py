"""Seeded synthetic instances with planted clusters (for benchmarks and tests): affinity matrices, and
per-task losses of any group of tasks (a cheap stand-in for training networks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from taskgroup.errors import InvalidArgument

__all__ = ["planted_affinity", "planted_group_losses", "PlantedGroupLosses"]


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

    Parameters
    ----------
    n_tasks, n_clusters : int
        Tasks and planted clusters.
    within, between : float
        Mean affinity inside a cluster and across clusters.
    noise : float
        Standard deviation of the Gaussian noise on every entry.
    seed : int
        The random seed.
    """
    labels, A = _planted_pairs(n_tasks, n_clusters, within, between, noise, np.random.default_rng(seed))
    names = [f"t{i:02d}" for i in range(n_tasks)]
    return pd.DataFrame(A, index=names, columns=names), labels


@dataclass(frozen=True)
class PlantedGroupLosses:
    r"""A cheap generator of per-task losses for *any* group of tasks, with documented structure.

    Model (losses, lower is better), for task ``t`` in group ``G``::

        L_t(G) = b_t * (1 - mean_{u in G \ {t}} A[u, t] + capacity * log|G| + conflict * max(0, c(G) - 2))

    with ``L_t({t}) = b_t``, where ``b_t ~ U(0.5, 1)`` is the single-task loss; ``A[u, t] = within`` for two tasks
    of one planted cluster and ``between`` otherwise, plus ``N(0, pair_noise^2)`` per ordered pair (asymmetric
    pair interactions); ``capacity * log|G|`` is the cost of sharing one network among more tasks; ``c(G)`` is
    the number of planted clusters present in ``G`` — a higher-order effect no pairwise model captures.
    :meth:`measure` adds ``N(0, (noise * b_t)^2)`` measurement noise (a seeded function of the group, so measuring
    the same group again gives the same number); :meth:`expected` is the noise-free loss (the "test" loss of an
    infinite test set).

    Attributes
    ----------
    tasks : tuple of str
    labels : numpy.ndarray
        Each task's planted cluster.
    base : numpy.ndarray
        ``b_t``, the single-task losses.
    A : numpy.ndarray
        ``A[u, t]``, the transfer from ``u`` to ``t``.
    capacity, conflict, noise : float
        The coefficients of the model above.
    seed : int
        Seed of the measurement noise.
    """

    tasks: tuple[str, ...]
    labels: np.ndarray
    base: np.ndarray
    A: np.ndarray
    capacity: float
    conflict: float
    noise: float
    seed: int

    def _indices(self, group: Sequence[str]) -> np.ndarray:
        index = {t: i for i, t in enumerate(self.tasks)}
        unknown = [t for t in group if t not in index]
        if unknown or not group or len(set(group)) != len(group):
            raise InvalidArgument(
                f"Group {list(group)!r} is not accepted: give distinct tasks among {list(self.tasks)}."
            )
        return np.array(sorted(index[t] for t in group))

    def expected(self, group: Sequence[str]) -> dict[str, float]:
        """Noise-free loss of every member of ``group``.

        Parameters
        ----------
        group : sequence of str
            Distinct tasks.

        Returns
        -------
        dict of str to float

        Raises
        ------
        InvalidArgument
            An empty group, an unknown task or a repeated one.
        """
        idx = self._indices(group)
        if len(idx) == 1:
            return {self.tasks[idx[0]]: float(self.base[idx[0]])}
        transfer = (self.A[np.ix_(idx, idx)].sum(axis=0) - np.diag(self.A)[idx]) / (len(idx) - 1)
        clusters = len(set(self.labels[idx].tolist()))
        factor = 1 - transfer + self.capacity * np.log(len(idx)) + self.conflict * max(0, clusters - 2)
        return {self.tasks[i]: float(self.base[i] * f) for i, f in zip(idx, factor)}

    def measure(self, group: Sequence[str]) -> dict[str, float]:
        """The loss a measurement of ``group`` returns: expected plus seeded noise (same group, same number).

        Parameters
        ----------
        group : sequence of str
            Distinct tasks.

        Returns
        -------
        dict of str to float

        Raises
        ------
        InvalidArgument
            An empty group, an unknown task or a repeated one.
        """
        idx = self._indices(group)
        mask = sum(1 << int(i) for i in idx)
        rng = np.random.default_rng([self.seed, 7919, mask])
        expected = self.expected(group)
        return {
            t: v + self.noise * float(self.base[self.tasks.index(t)]) * float(rng.standard_normal())
            for t, v in expected.items()
        }


def planted_group_losses(
    n_tasks: int = 24,
    n_clusters: int = 4,
    *,
    within: float = 0.25,
    between: float = -0.1,
    pair_noise: float = 0.08,
    capacity: float = 0.03,
    conflict: float = 0.05,
    noise: float = 0.01,
    seed: int = 0,
) -> PlantedGroupLosses:
    """A :class:`PlantedGroupLosses` with ``n_tasks`` tasks in ``n_clusters`` planted clusters (see its model).

    Parameters
    ----------
    n_tasks, n_clusters : int
        Tasks and planted clusters.
    within, between, pair_noise, capacity, conflict, noise : float
        The model's terms (see :class:`PlantedGroupLosses`).
    seed : int
        The random seed.

    Returns
    -------
    PlantedGroupLosses
        The generator; ``measure(group)`` gives a group's per-task losses.
    """
    rng = np.random.default_rng(seed)
    labels, A = _planted_pairs(n_tasks, n_clusters, within, between, pair_noise, rng)
    base = rng.uniform(0.5, 1.0, n_tasks)
    tasks = tuple(f"t{i:02d}" for i in range(n_tasks))
    return PlantedGroupLosses(tasks, labels, base, A, capacity, conflict, noise, seed)


def _planted_pairs(
    n_tasks: int, n_clusters: int, within: float, between: float, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled cluster labels (sizes as equal as possible) and the pair matrix ``within``/``between`` + noise."""
    if not isinstance(n_tasks, int) or not isinstance(n_clusters, int) or not 1 <= n_clusters <= n_tasks:
        raise InvalidArgument(
            f"Need integers 1 <= n_clusters <= n_tasks; got n_tasks={n_tasks!r}, n_clusters={n_clusters!r}."
        )
    labels = rng.permutation(np.arange(n_tasks) % n_clusters)
    same = labels[:, None] == labels[None, :]
    A = np.where(same, within, between) + noise * rng.standard_normal((n_tasks, n_tasks))
    np.fill_diagonal(A, 0.0)
    return labels, A
