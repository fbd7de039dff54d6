"""Tasks and data, with no training: task specs, suites, losses and metrics as pure functions, preprocessing.

``measure/``, ``estimate/`` and ``train/`` import from here; nothing here imports them.

- :class:`TaskSpec`, :class:`Split`, :class:`TaskSuite` (``suite.py``): data, tasks, splits, label masks and the
  preprocessing record of the inputs.
- :func:`task_loss`, :func:`soft_loss`, :func:`distillation_loss` (``losses.py``): the losses, once.
- :func:`primary_metric`, :func:`task_metrics`, :func:`delta_m` (``metrics.py``): the metrics, once.
- :func:`evaluate_outputs` (``evaluate.py``): per-task metrics of a network's outputs on a split.
"""

from taskgroup.tasks.evaluate import evaluate_outputs, soft_to_output
from taskgroup.tasks.losses import distillation_loss, output_to_soft, soft_loss, task_loss
from taskgroup.tasks.metrics import (
    HIGHER_IS_BETTER,
    PRIMARY_METRIC,
    accuracy,
    delta_m,
    primary_metric,
    r2_score,
    rmse,
    roc_auc,
    task_metrics,
)
from taskgroup.tasks.suite import Split, TaskSpec, TaskSuite, apply_preprocessing
from taskgroup.tasks.tables import PREPROCESSING_KINDS, SPLITS, TASK_KINDS

__all__ = [
    "TaskSpec",
    "Split",
    "TaskSuite",
    "SPLITS",
    "TASK_KINDS",
    "PREPROCESSING_KINDS",
    "apply_preprocessing",
    "task_loss",
    "soft_loss",
    "distillation_loss",
    "output_to_soft",
    "accuracy",
    "roc_auc",
    "rmse",
    "r2_score",
    "task_metrics",
    "primary_metric",
    "PRIMARY_METRIC",
    "HIGHER_IS_BETTER",
    "delta_m",
    "evaluate_outputs",
    "soft_to_output",
]
