"""Metrics as pure functions over numpy arrays, and Δm% against single-task baselines.

Each formula exists once here; evaluation code (measurement, training, the stacked path) only gathers
predictions and calls these. :func:`primary_metric` is the one number per task the results store keeps
(R² for regression, accuracy otherwise; higher is better); :func:`task_metrics` the full set a trained
plan reports.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from taskgroup.errors import InvalidArgument

__all__ = [
    "accuracy",
    "roc_auc",
    "rmse",
    "r2_score",
    "task_metrics",
    "primary_metric",
    "PRIMARY_METRIC",
    "HIGHER_IS_BETTER",
    "METRICS_BY_KIND",
    "delta_m",
]

#: Metric name -> whether a larger value is better (sets the sign in :func:`delta_m`).
HIGHER_IS_BETTER: dict[str, bool] = {"accuracy": True, "auc": True, "rmse": False, "r2": True}

#: Task kind -> the metrics reported for it.
METRICS_BY_KIND: dict[str, tuple[str, ...]] = {
    "binary": ("accuracy", "auc"),
    "multiclass": ("accuracy", "auc"),
    "regression": ("rmse", "r2"),
}


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of exact label matches.

    Parameters
    ----------
    y_true, y_pred : array of int, shape (n,)
        True and predicted class ids.

    Returns
    -------
    float
        In [0, 1] (NaN for no rows).

    Raises
    ------
    InvalidArgument
        The arrays differ in length.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    _check_same_length(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def _binary_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney form of the ROC AUC, with average ranks so tied scores count one half."""
    y_true = np.asarray(y_true).astype(bool)
    n_pos = int(y_true.sum())
    n_neg = y_true.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")  # undefined with one class present; callers see NaN rather than a made-up 0.5
    order = np.argsort(score, kind="mergesort")
    sorted_scores = np.asarray(score)[order]
    ranks = np.empty(score.size, dtype=float)
    # average rank over runs of equal scores
    _, start, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = start + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC; for more than two classes the unweighted mean of one-vs-rest AUCs (sklearn's ``macro``/``ovr``).

    Parameters
    ----------
    y_true : array of int, shape (n,)
        Class ids (0/1 for binary tasks).
    scores : array, shape (n,) or (n, k)
        Scores or probabilities of the positive class (binary), or per class (multiclass).

    Returns
    -------
    float
        NaN when the labels hold a single class (AUC is undefined), or, for multiclass, the mean over the
        classes present both as positive and negative.
    """
    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 1 or (scores.ndim == 2 and scores.shape[1] == 1):
        s = scores.reshape(-1)
        _check_same_length(y_true, s)
        return _binary_auc(y_true, s)
    _check_same_length(y_true, scores)
    if scores.shape[1] == 2:
        return _binary_auc(y_true == 1, scores[:, 1])
    per_class = [_binary_auc(y_true == k, scores[:, k]) for k in range(scores.shape[1])]
    per_class = [a for a in per_class if np.isfinite(a)]
    return float(np.mean(per_class)) if per_class else float("nan")


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error.

    Parameters
    ----------
    y_true, y_pred : array of float, shape (n,)
        Targets and predictions.

    Returns
    -------
    float
        ``sqrt(mean((y_true - y_pred)^2))`` (NaN for no rows).

    Raises
    ------
    InvalidArgument
        The arrays differ in length.
    """
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    _check_same_length(y_true, y_pred)
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` (NaN for constant targets).

    Parameters
    ----------
    y_true, y_pred : array of float, shape (n,)
        Targets and predictions.

    Returns
    -------
    float
        At most 1; negative when the predictions are worse than the targets' mean.

    Raises
    ------
    InvalidArgument
        The arrays differ in length.
    """
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    _check_same_length(y_true, y_pred)
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    if ss_tot == 0.0:
        return float("nan")
    return 1.0 - float(np.sum((y_true - y_pred) ** 2)) / ss_tot


def task_metrics(kind: str, y_true: np.ndarray, output: np.ndarray) -> dict[str, float]:
    """The metrics of :data:`METRICS_BY_KIND` for one task from its network's raw output.

    Parameters
    ----------
    kind : {"regression", "binary", "multiclass"}
    y_true : array, shape (n,)
        Labels of the examples that have one (missing labels already removed).
    output : array, shape (n,) or (n, k)
        The head's prediction: the value (regression), the logit (binary) or per-class logits (multiclass).

    Returns
    -------
    dict of str to float
        Regression: ``rmse`` and ``r2``; classification: ``accuracy`` and ``auc`` (a binary prediction is the
        positive class when the logit is above 0).

    Raises
    ------
    InvalidArgument
        An unknown ``kind``, or labels and output of different lengths.
    """
    output = np.asarray(output, dtype=float)
    if kind == "regression":
        pred = output.reshape(-1)
        return {"rmse": rmse(y_true, pred), "r2": r2_score(y_true, pred)}
    if kind == "binary":
        logit = output.reshape(-1)
        return {
            "accuracy": accuracy(np.asarray(y_true).astype(int), (logit > 0).astype(int)),
            "auc": roc_auc(y_true, logit),
        }
    if kind == "multiclass":
        # one-vs-rest AUC ranks by class probability (as sklearn), not by a raw logit that ignores the others
        z = output - output.max(axis=1, keepdims=True)
        prob = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        return {"accuracy": accuracy(y_true, output.argmax(axis=1)), "auc": roc_auc(y_true, prob)}
    raise InvalidArgument(f"Unknown task kind {kind!r}; accepted: {sorted(METRICS_BY_KIND)}.")


#: Task kind -> the metric the measurement store keeps beside the loss.
PRIMARY_METRIC: dict[str, str] = {"regression": "r2", "binary": "accuracy", "multiclass": "accuracy"}


def primary_metric(kind: str, y_true: np.ndarray, output: np.ndarray) -> float:
    """The :data:`PRIMARY_METRIC` of one task from its head's raw output on the labelled rows.

    R² is unchanged by the standardisation of regression targets, so standardised targets and outputs may be
    passed as they are. With no labelled row the metric is NaN.

    Parameters
    ----------
    kind : {"regression", "binary", "multiclass"}
    y_true : array, shape (n,)
        Labels of the labelled rows.
    output : array, shape (n,) or (n, k)
        The head's raw output on those rows.

    Returns
    -------
    float
        R² for regression, accuracy for classification; NaN with no labelled row.

    Raises
    ------
    InvalidArgument
        An unknown ``kind``, or labels and output of different lengths.
    """
    if len(np.asarray(y_true)) == 0:
        return float("nan")
    output = np.asarray(output, dtype=float)
    if kind == "regression":
        return r2_score(y_true, output.reshape(-1))
    if kind == "binary":
        return accuracy(np.asarray(y_true).astype(int), (output.reshape(-1) > 0).astype(int))
    if kind == "multiclass":
        return accuracy(np.asarray(y_true).astype(int), output.argmax(axis=1))
    raise InvalidArgument(f"Unknown task kind {kind!r}; accepted: {sorted(METRICS_BY_KIND)}.")


def delta_m(
    results: Mapping[str, Mapping[str, float]],
    baseline: Mapping[str, Mapping[str, float]],
    higher_is_better: Mapping[str, bool] | None = None,
) -> float:
    """LibMTL's Δm%: mean over tasks and metrics of the signed relative change against the baseline, in percent.

    ``Δm% = 100/T Σ_t 1/M_t Σ_m s_m (M_tm - B_tm) / |B_tm|`` with ``s_m = +1`` when higher is better and ``-1``
    otherwise, so a positive Δm% is an improvement over the single-task baselines (LibMTL's convention).
    Dividing by ``|B|`` rather than ``B`` keeps the sign meaningful for metrics that can be negative (R²).

    Parameters
    ----------
    results, baseline : mapping task -> mapping metric -> value
        Only the tasks and metrics in ``results`` are compared; each must exist in ``baseline``.
    higher_is_better : mapping metric -> bool, optional
        Defaults to :data:`HIGHER_IS_BETTER`.

    Returns
    -------
    float
        Δm in percent; positive is better than the baseline.

    Raises
    ------
    InvalidArgument
        A task or metric missing from the baseline, an unknown metric direction, a zero baseline value, or no
        metric to compare.
    """
    hib = dict(HIGHER_IS_BETTER if higher_is_better is None else higher_is_better)
    per_task = []
    for task, metrics in results.items():
        if task not in baseline:
            raise InvalidArgument(f"No baseline for task {task!r}; baseline tasks are {sorted(baseline)}.")
        changes = []
        for name, value in metrics.items():
            if name not in hib:
                raise InvalidArgument(f"Unknown direction for metric {name!r}; known metrics: {sorted(hib)}.")
            if name not in baseline[task]:
                raise InvalidArgument(f"Baseline of task {task!r} lacks metric {name!r}.")
            base = float(baseline[task][name])
            if base == 0.0:
                raise InvalidArgument(f"Baseline {name} of task {task!r} is 0; the relative change is undefined.")
            sign = 1.0 if hib[name] else -1.0
            changes.append(sign * (float(value) - base) / abs(base))
        if changes:
            per_task.append(float(np.mean(changes)))
    if not per_task:
        raise InvalidArgument("delta_m needs at least one task with at least one metric.")
    return 100.0 * float(np.mean(per_task))


def _check_same_length(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[0] != b.shape[0]:
        raise InvalidArgument(f"Labels and predictions differ in length: {a.shape[0]} vs {b.shape[0]}.")
