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
    """
    soft = np.asarray(soft, dtype=np.float64)
    if kind == "regression":
        return soft.reshape(-1, 1)
    p = np.clip(soft, eps, 1 - eps)
    if kind == "binary":
        return (np.log(p) - np.log1p(-p)).reshape(-1, 1)
    return np.log(p)
