"""MT-DNN-KD teachers: per task, an ensemble of K networks differing in dropout and seed; soft targets.

For a task with a teacher, each of the K ensemble members is a single-task network of the run's model, member
``k`` with dropout ``dropouts[k % len(dropouts)]`` (built-in families; a model factory of your own is used as it
is, so its members differ in seed only) and its own seed (MT-DNN-KD fine-tunes one teacher
ensemble per task). The soft target of an example is the average of the members' class probabilities
(binary: probability of class 1; regression: the average prediction).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from taskgroup.engine import TrainConfig, build_model, fit, predict
from taskgroup.engine.families import BuiltinFactory
from taskgroup.errors import InvalidArgument
from taskgroup.tasks import TaskSuite, output_to_soft

__all__ = ["TeacherConfig", "EnsembleOutputs", "average_soft", "train_teacher_ensemble"]


@dataclass(frozen=True)
class TeacherConfig:
    """How teacher ensembles are built.

    Attributes
    ----------
    n_teachers : int
        Ensemble size K (MT-DNN-KD: 3).
    dropouts : tuple of float
        Dropout of member k is ``dropouts[k % len(dropouts)]`` (MT-DNN-KD: 0.1, 0.2, 0.3).
    """

    n_teachers: int = 3
    dropouts: tuple[float, ...] = (0.1, 0.2, 0.3)

    def __post_init__(self) -> None:
        if not isinstance(self.n_teachers, (int, np.integer)) or self.n_teachers < 1:
            raise InvalidArgument(f"The teacher count must be an integer >= 1; got {self.n_teachers!r}.")
        if not self.dropouts or any(not 0.0 <= d < 1.0 for d in self.dropouts):
            raise InvalidArgument(
                f"Teacher dropouts must be a non-empty list of rates in [0, 1); got {self.dropouts!r}."
            )


@dataclass
class EnsembleOutputs:
    """One task's teacher ensemble.

    Attributes
    ----------
    task : str
    soft : dict split -> array
        Soft targets at the distillation temperature (what the student learns from).
    probs : dict split -> array
        The ensemble's prediction at temperature 1 (what the ensemble is scored on).
    """

    task: str
    soft: dict[str, np.ndarray]
    probs: dict[str, np.ndarray]


def average_soft(kind: str, member_outputs: Sequence[np.ndarray], temperature: float = 1.0) -> np.ndarray:
    """The ensemble's soft target: the mean over members of their probabilities (or predictions)."""
    if not member_outputs:
        raise InvalidArgument("average_soft needs at least one member's outputs.")
    probs = [
        output_to_soft(kind, torch.as_tensor(np.asarray(o, dtype=np.float32)), temperature).numpy()
        for o in member_outputs
    ]
    return np.mean(np.stack(probs), axis=0)


def train_teacher_ensemble(
    suite: TaskSuite,
    task: str,
    *,
    config: TrainConfig,
    teacher: TeacherConfig = TeacherConfig(),
    seed: int = 0,
    say: Callable[[str], None] | None = None,
) -> EnsembleOutputs:
    """Train K single-task members for ``task`` and return their averaged soft targets on every split.

    Parameters
    ----------
    suite : TaskSuite
    task : str
        The task the ensemble teaches.
    config : TrainConfig
        The model and optimisation of each member (``dropout`` is set per member for built-in families);
        ``config.temperature`` is the temperature of the soft targets (the student's distillation temperature).
    teacher : TeacherConfig
    seed : int
        Member k uses seed ``seed + 1000 * (k + 1)``, so members differ from each other and from the student.
    """
    one = suite.subset([task])
    spec = one.tasks[0]
    factory = config.factory()
    outputs: dict[str, list[np.ndarray]] = {name: [] for name in one.splits}
    for k in range(teacher.n_teachers):
        member_seed = seed + 1000 * (k + 1)
        dropout = float(teacher.dropouts[k % len(teacher.dropouts)])
        member = factory.with_options(dropout=dropout) if isinstance(factory, BuiltinFactory) else factory
        model = build_model(member, one.tasks, "full", one.example_batch(), member_seed)
        fitted = fit(model, one.train, one.tasks, config, val=one.val, seed=member_seed)
        if fitted.status != "ok":
            raise InvalidArgument(f"Teacher {k + 1} for task {task!r} failed to train: {fitted.reason}.")
        for name, split in one.splits.items():
            outputs[name].append(predict(model, split, device=config.device)[task])
        if say:
            say(f"teacher {k + 1}/{teacher.n_teachers} for {task} (dropout {dropout})")
    return EnsembleOutputs(
        task=task,
        soft={name: average_soft(spec.kind, outs, config.temperature) for name, outs in outputs.items()},
        probs={name: average_soft(spec.kind, outs, 1.0) for name, outs in outputs.items()},
    )
