"""Train the networks a plan chose: hard sharing (MT-DNN), MMoE, and distillation from ensemble teachers (MT-DNN-KD).

>>> import taskgroup as tg
>>> from taskgroup.datasets import load_suite
>>> suite = load_suite("digits")
>>> config = tg.train.RunConfig(fit=tg.engine.TrainConfig(model="mmoe"), distill=True)
>>> report = tg.train.train_plan(plan, suite, "run/", config)  # doctest: +SKIP
>>> outputs = tg.train.predict_tasks(report.manifest, x)  # doctest: +SKIP

Every network trains on the one engine (:mod:`taskgroup.engine`: model families or your own factory, the loop,
loss weighting, early stopping). Modules here, one job each: ``distill`` (teacher ensembles, soft targets),
``manifest`` (checkpoints, deployment manifest), ``run`` (a whole plan, resumable). Serving the result (ONNX
export, predictions from raw inputs, the plan's cost on a machine) is :mod:`taskgroup.serve`.
"""

from taskgroup.manifest import (
    load_checkpoint,
    load_network,
    predict_tasks,
    read_manifest,
    save_checkpoint,
    write_manifest,
)
from taskgroup.tasks.metrics import delta_m
from taskgroup.train.distill import TeacherConfig, average_soft, train_teacher_ensemble
from taskgroup.train.run import RunConfig, TrainReport, check_plan, train_plan

__all__ = [
    "train_plan",
    "check_plan",
    "RunConfig",
    "TrainReport",
    "TeacherConfig",
    "train_teacher_ensemble",
    "average_soft",
    "delta_m",
    "save_checkpoint",
    "load_checkpoint",
    "write_manifest",
    "read_manifest",
    "load_network",
    "predict_tasks",
]
