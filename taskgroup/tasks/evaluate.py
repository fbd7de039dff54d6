"""Per-task test metrics of a network's (or an ensemble's) outputs on a split's labelled rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from taskgroup.tasks.metrics import task_metrics
from taskgroup.tasks.suite import Split, TaskSpec

__all__ = ["evaluate_outputs", "soft_to_output"]


def evaluate_outputs(
    outputs: Mapping[str, np.ndarray], data: Split, tasks: Sequence[TaskSpec]
) -> dict[str, dict[str, float]]:
    """``task -> metric -> value`` for each of ``tasks`` (aligned with ``data``'s columns) found in ``outputs``.

    Regression targets and predictions are mapped back to the target's original units (the suite stores them
    standardised), so RMSE reads in those units; R² is unchanged by the mapping.

    Parameters
    ----------
    outputs : mapping of str to numpy.ndarray
        Each task's raw head output on every row of ``data``, by task name; tasks not in it are skipped.
    data : Split
        The rows scored; only rows labelled for a task count for it.
    tasks : sequence of TaskSpec
        The specs of ``data``'s target columns, in column order.

    Returns
    -------
    dict of str to dict of str to float
        The :func:`~taskgroup.tasks.metrics.task_metrics` of each task found in ``outputs``.

    Raises
    ------
    InvalidArgument
        A task of unknown kind.
    """
    result = {}
    for c, task in enumerate(tasks):
        if task.name not in outputs:
            continue
        rows = data.mask[:, c].numpy()
        y = data.y[rows, c].numpy().astype(np.float64)
        out = np.asarray(outputs[task.name], dtype=np.float64)[rows]
        if task.kind == "regression":
            y = y * task.target_std + task.target_mean
            out = out * task.target_std + task.target_mean
        else:
            y = y.astype(int)
        result[task.name] = task_metrics(task.kind, y, out)
    return result


def soft_to_output(kind: str, soft: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """Averaged probabilities (or predictions) back in the (n, out_dim) raw-output form metrics expect.

    Used to score a teacher ensemble, whose prediction is the average of its members' probabilities:
    binary -> the logit of the average probability, multiclass -> log of the average probabilities.

    Parameters
    ----------
    kind : {"regression", "binary", "multiclass"}
    soft : numpy.ndarray
        Predictions (regression, shape (n,)), probabilities of the positive class (binary, shape (n,)) or per
        class (multiclass, shape (n, k)).
    eps : float, default 1e-7
        Probabilities are clipped to ``[eps, 1 - eps]`` first, so a probability of 0 or 1 gives a finite logit.

    Returns
    -------
    numpy.ndarray
        Shape (n, 1) for regression and binary, (n, k) for multiclass. Any kind other than regression and
        binary is treated as multiclass.
    """
    soft = np.asarray(soft, dtype=np.float64)
    if kind == "regression":
        return soft.reshape(-1, 1)
    p = np.clip(soft, eps, 1 - eps)
    if kind == "binary":
        return (np.log(p) - np.log1p(-p)).reshape(-1, 1)
    return np.log(p)
