"""Train the networks a plan chose: hard sharing (MT-DNN), MMoE, and distillation from ensemble teachers (MT-DNN-KD).

>>> import taskgroup as tg
>>> from taskgroup.datasets import load_suite
>>> suite = load_suite("digits")
>>> config = tg.train.RunConfig(fit=tg.engine.TrainConfig(model="mmoe"), distill=True)
>>> report = tg.train.train_plan(plan, suite, "run/", config)  # doctest: +SKIP
>>> outputs = tg.train.predict_tasks(report.manifest, x)  # doctest: +SKIP

Every network trains on the one engine (:mod:`taskgroup.engine`: model families or your own factory, the loop,
loss weighting, early stopping). Modules here, one job each: ``distill`` (teachers and their soft targets),
``run`` (a whole plan, resumable), ``compress`` (a trained plan distilled into fewer networks, ``taskgroup
distill``: ``tg.train.compress.distill(manifest, "all-in-one", out)``). Checkpoints and the deployment manifest
are :mod:`taskgroup.manifest`; serving the result (ONNX export, predictions from raw inputs, the plan's cost on a
machine) is :mod:`taskgroup.serve`.
"""

from taskgroup.checkpoints import load_checkpoint, save_checkpoint
from taskgroup.manifest import load_network, predict_tasks, read_manifest, write_manifest
from taskgroup.tasks.metrics import delta_m
from taskgroup.train.compress import DistillConfig, DistillReport
from taskgroup.train.distill import TeacherConfig, Teachers, average_soft, plan_teachers, single_task_teachers
from taskgroup.train.run import RunConfig, TrainReport, check_plan, train_plan

__all__ = [
    "train_plan",
    "check_plan",
    "RunConfig",
    "TrainReport",
    "TeacherConfig",
    "DistillConfig",
    "DistillReport",
    "Teachers",
    "plan_teachers",
    "single_task_teachers",
    "average_soft",
    "delta_m",
    "save_checkpoint",
    "load_checkpoint",
    "write_manifest",
    "read_manifest",
    "load_network",
    "predict_tasks",
]
