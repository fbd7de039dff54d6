"""Train the networks a plan chose: hard sharing (MT-DNN), MMoE, and distillation from ensemble teachers (MT-DNN-KD).

>>> import taskgroup as tg
>>> from taskgroup.datasets import load_suite
>>> suite = load_suite("digits")
>>> report = tg.train.train_plan(plan, suite, "run/", tg.train.RunConfig(architecture="mmoe", distill=True))  # doctest: +SKIP
>>> outputs = tg.train.predict_tasks(report.manifest, x)  # doctest: +SKIP

Modules, one job each: ``architectures`` (registered networks), ``weighting`` (registered loss weightings),
``batching`` (MT-DNN per-task and joint batch schedules), ``losses`` (hard, soft and distillation losses),
``trainer`` (fit one network), ``distill`` (teacher ensembles, soft targets), ``metrics`` (pure metric
functions, Δm%), ``evaluate`` (metrics of outputs on a split), ``profiling`` (parameters, FLOPs, latency),
``manifest`` (checkpoints, deployment manifest), ``run`` (a whole plan, resumable).
"""

from taskgroup.train.architectures import (
    MMoE,
    SharedBottom,
    available_architectures,
    build_network,
    register_architecture,
)
from taskgroup.train.distill import TeacherConfig, average_soft, train_teacher_ensemble
from taskgroup.train.evaluate import evaluate_outputs
from taskgroup.train.losses import distillation_loss, hard_loss, soft_loss
from taskgroup.train.manifest import (
    load_checkpoint,
    load_network,
    predict_tasks,
    read_manifest,
    save_checkpoint,
    write_manifest,
)
from taskgroup.train.metrics import accuracy, delta_m, r2_score, rmse, roc_auc, task_metrics
from taskgroup.train.run import RunConfig, TrainReport, check_plan, train_plan
from taskgroup.train.trainer import FitConfig, FitResult, fit, predict
from taskgroup.train.weighting import (
    EqualWeighting,
    LossWeighting,
    UncertaintyWeighting,
    available_weightings,
    make_weighting,
    register_weighting,
)

__all__ = [
    "train_plan",
    "check_plan",
    "RunConfig",
    "TrainReport",
    "FitConfig",
    "FitResult",
    "fit",
    "predict",
    "TeacherConfig",
    "train_teacher_ensemble",
    "average_soft",
    "SharedBottom",
    "MMoE",
    "build_network",
    "register_architecture",
    "available_architectures",
    "LossWeighting",
    "EqualWeighting",
    "UncertaintyWeighting",
    "make_weighting",
    "register_weighting",
    "available_weightings",
    "hard_loss",
    "soft_loss",
    "distillation_loss",
    "accuracy",
    "roc_auc",
    "rmse",
    "r2_score",
    "task_metrics",
    "delta_m",
    "evaluate_outputs",
    "save_checkpoint",
    "load_checkpoint",
    "write_manifest",
    "read_manifest",
    "load_network",
    "predict_tasks",
]
