"""95 % intervals of test Δm%: a paired bootstrap over test rows and training repeats.

Δm% compares networks with the single-task baselines on the same test rows, so one resample of the rows is used for
every network of a replicate (the comparison stays paired). With several training repeats each replicate also
resamples the repeats, independently for the group and for the baselines, so the interval covers both the noise of
a finite test set and that of training. The interval is the 2.5 % and 97.5 % percentiles of the replicates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from taskgroup.errors import InvalidArgument
from taskgroup.tasks import Split, TaskSpec, delta_m, evaluate_outputs
from taskgroup.uncertainty import bootstrap_rows, interval95

__all__ = ["INTERVAL_SAMPLES", "Outputs", "mean_metrics", "delta_m_intervals"]

#: Bootstrap replicates behind a percentile interval.
INTERVAL_SAMPLES = 400

#: One repeat of a group of networks: task -> the raw test output of the network serving it (all test rows).
Outputs = Mapping[str, np.ndarray]


def mean_metrics(repeats: Sequence[Mapping[str, Mapping[str, float]]]) -> dict[str, dict[str, float]]:
    """``task -> metric -> value`` averaged over repeats (each a ``task -> metric -> value`` mapping).

    Parameters
    ----------
    repeats : sequence of mapping task -> metric -> value
        One per repeat; the first's tasks and metrics are averaged, and every repeat must have them.

    Returns
    -------
    dict of str to dict of str to float

    Raises
    ------
    InvalidArgument
        No repeat.
    KeyError
        A repeat lacks a task or metric of the first.
    """
    if not repeats:
        raise InvalidArgument("mean_metrics needs at least one repeat; got none.")
    return {
        task: {name: float(np.mean([r[task][name] for r in repeats])) for name in metrics}
        for task, metrics in repeats[0].items()
    }


def delta_m_intervals(
    test: Split,
    tasks: Sequence[TaskSpec],
    groups: Mapping[str, Sequence[Outputs]],
    baselines: Sequence[Outputs],
    *,
    differences: Mapping[str, tuple[str, str]] | None = None,
    samples: int = INTERVAL_SAMPLES,
    seed: int = 0,
) -> dict[str, list[float]]:
    """The 95 % interval of each group's Δm% against the baselines, averaged over repeats.

    Parameters
    ----------
    test : Split
        The test split the outputs were computed on (its rows, labels and masks).
    tasks : sequence of TaskSpec
        The split's tasks, in column order.
    groups : mapping name -> sequence of Outputs
        Per group (e.g. ``"multitask"``, ``"all_in_one"``), one entry per training repeat.
    baselines : sequence of Outputs
        The single-task baselines, one entry per training repeat.
    differences : mapping name -> (group, group), optional
        Also intervals of ``Δm(first) - Δm(second)`` under the same replicates (paired), named by the keys.
    samples : int
        Bootstrap replicates.
    seed : int
        Seed of the resampling.

    Returns
    -------
    dict name -> [lo, hi]
        For each group, then each difference.

    Raises
    ------
    InvalidArgument
        No baselines or a group without repeats, or fewer than 2 replicates with a defined Δm%.
    """
    if not baselines or any(not repeats for repeats in groups.values()):
        raise InvalidArgument("delta_m_intervals needs at least one repeat of the baselines and of every group.")
    rng = np.random.default_rng(seed)
    replicates: dict[str, list[float]] = {name: [] for name in groups}
    for name in differences or {}:
        replicates[name] = []
    for rows in bootstrap_rows(len(test.y), samples, rng):
        index = torch.as_tensor(rows)
        # evaluate_outputs reads only the labels and masks of a split
        resample = Split(torch.zeros(len(rows), 0), test.y[index], test.mask[index])
        base = _resampled_metrics(baselines, rows, resample, tasks, rng)
        value = {
            name: delta_m(_resampled_metrics(repeats, rows, resample, tasks, rng), base)
            for name, repeats in groups.items()
        }
        for name, v in value.items():
            replicates[name].append(v)
        for name, (first, second) in (differences or {}).items():
            replicates[name].append(value[first] - value[second])
    return {name: list(interval95(values)) for name, values in replicates.items()}


def _resampled_metrics(
    repeats: Sequence[Outputs], rows: np.ndarray, resample: Split, tasks: Sequence[TaskSpec], rng: np.random.Generator
) -> dict[str, dict[str, float]]:
    """Metrics on the resampled rows, averaged over a resample of the repeats (when there are several)."""
    chosen = rng.integers(0, len(repeats), len(repeats)) if len(repeats) > 1 else [0]
    return mean_metrics(
        [evaluate_outputs({t: out[rows] for t, out in repeats[k].items()}, resample, tasks) for k in chosen]
    )
