"""Mini-batch schedules as pure functions of labelled-example indices and a numpy Generator.

Two regimes (MT-DNN, Liu et al. 2019):

* ``per_task`` — Algorithm 1, for tasks with their own data sets: each task's labelled examples are packed into
  mini-batches, the batches of all tasks are shuffled together, and each step trains one task on one batch.
  With ``sampling="proportional"`` (the paper's) every batch is used once per epoch, so a task is sampled in
  proportion to its size; ``sampling="uniform"`` gives every task the same number of batches per epoch
  (the mean count; small tasks are cycled through with fresh shuffles, large ones subsampled).
* ``joint`` — when all tasks label the same inputs: plain batches of examples, every task's loss on each,
  with missing labels masked per example.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from taskgroup.errors import InvalidArgument

__all__ = ["BATCHINGS", "SAMPLINGS", "label_overlap", "choose_batching", "per_task_batches", "joint_batches"]

BATCHINGS = ("auto", "joint", "per_task")
SAMPLINGS = ("proportional", "uniform")


def label_overlap(labelled: Mapping[str, np.ndarray]) -> float:
    """|examples labelled for every task| / |examples of the task with the fewest labels|.

    1.0 when the tasks share their inputs, also when some tasks are labelled on only part of them (a task with
    100 labels among another's 1,500 images); 0 when every task has its own data set.

    Parameters
    ----------
    labelled : mapping of str to array of int
        Indices of the examples labelled for each task.

    Returns
    -------
    float
        In [0, 1]; 0 when some task has no label (or there is no task).
    """
    sets = [set(np.asarray(v).tolist()) for v in labelled.values()]
    smallest = min((len(s) for s in sets), default=0)
    if smallest == 0:
        return 0.0
    return len(set.intersection(*sets)) / smallest


def choose_batching(labelled: Mapping[str, np.ndarray], batching: str = "auto") -> str:
    """Resolve ``"auto"``: joint batches when the tasks share their inputs (:func:`label_overlap` >= 0.5), else
    per-task.

    A few missing labels (masked per example) keep a suite joint; tasks with their own data sets share few
    or no examples and are trained as in MT-DNN's Algorithm 1.

    Parameters
    ----------
    labelled : mapping of str to array of int
        Indices of the examples labelled for each task.
    batching : {"auto", "joint", "per_task"}, default "auto"

    Returns
    -------
    str
        ``"joint"`` or ``"per_task"`` (one task is always joint).

    Raises
    ------
    InvalidArgument
        An unknown ``batching``.
    """
    if batching not in BATCHINGS:
        raise InvalidArgument(f"Unknown batching {batching!r}; accepted: {list(BATCHINGS)}.")
    if batching != "auto":
        return batching
    return "joint" if len(labelled) == 1 or label_overlap(labelled) >= 0.5 else "per_task"


def _chunks(idx: np.ndarray, batch_size: int) -> list[np.ndarray]:
    return [idx[i : i + batch_size] for i in range(0, len(idx), batch_size)]


def per_task_batches(
    labelled: Mapping[str, np.ndarray], batch_size: int, rng: np.random.Generator, sampling: str = "proportional"
) -> list[tuple[str, np.ndarray]]:
    """One epoch of MT-DNN Algorithm 1: ``(task, example indices)`` batches of all tasks, shuffled together.

    Parameters
    ----------
    labelled : mapping task -> indices of the examples labelled for the task
    batch_size : int
    rng : numpy Generator (the only source of randomness)
    sampling : {"proportional", "uniform"}
        Proportional: every labelled example once per epoch; uniform: every task gets the mean number of batches
        (a small task cycles through fresh shuffles, a large one is cut short).

    Returns
    -------
    list of (str, numpy.ndarray)
        The epoch's batches in random order (tasks without labels get none).

    Raises
    ------
    InvalidArgument
        An unknown ``sampling``, or ``batch_size`` below 1.
    """
    if sampling not in SAMPLINGS:
        raise InvalidArgument(f"Unknown task sampling {sampling!r}; accepted: {list(SAMPLINGS)}.")
    if batch_size < 1:
        raise InvalidArgument(f"batch_size must be >= 1; got {batch_size!r}.")
    per_task = {t: _chunks(rng.permutation(np.asarray(idx)), batch_size) for t, idx in labelled.items() if len(idx)}
    if sampling == "uniform" and per_task:
        target = max(1, int(round(np.mean([len(b) for b in per_task.values()]))))
        for t, idx in labelled.items():
            if t not in per_task:
                continue
            batches = list(per_task[t])
            while len(batches) < target:  # cycle through fresh shuffles of a small task
                batches += _chunks(rng.permutation(np.asarray(idx)), batch_size)
            per_task[t] = batches[:target]
    schedule = [(t, b) for t, batches in per_task.items() for b in batches]
    order = rng.permutation(len(schedule))
    return [schedule[i] for i in order]


def joint_batches(n_examples: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of plain shuffled mini-batches over all examples.

    Parameters
    ----------
    n_examples : int
        Rows to batch.
    batch_size : int
        Rows per batch (the last may be smaller).
    rng : numpy.random.Generator
        The shuffle's source.

    Returns
    -------
    list of numpy.ndarray
        Row indices per batch; together a permutation of ``0..n_examples-1``.

    Raises
    ------
    InvalidArgument
        ``batch_size`` below 1.
    """
    if batch_size < 1:
        raise InvalidArgument(f"batch_size must be >= 1; got {batch_size!r}.")
    return _chunks(rng.permutation(n_examples), batch_size)
