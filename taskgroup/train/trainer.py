"""Fit one multi-task network: MT-DNN per-task or joint batches, pluggable loss weighting, optional soft targets.

The trainer only optimises and selects the best epoch on the validation split; it never touches files (the run
in :mod:`taskgroup.train.run` does checkpoints and manifests).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from taskgroup.errors import InvalidArgument
from taskgroup.train.batching import SAMPLINGS, choose_batching, joint_batches, per_task_batches
from taskgroup.measure.suite import Split, TaskSpec
from taskgroup.train.losses import distillation_loss, hard_loss, soft_loss
from taskgroup.train.weighting import LossWeighting, available_weightings, make_weighting

__all__ = ["FitConfig", "FitResult", "fit", "predict", "validation_loss"]


@dataclass(frozen=True)
class FitConfig:
    """Optimisation settings (all plain values, so a config round-trips through JSON).

    Attributes
    ----------
    epochs : int
    batch_size : int
    lr : float
        Adam learning rate.
    weight_decay : float
    batching : {"auto", "joint", "per_task"}
        See :mod:`taskgroup.train.batching`.
    sampling : {"proportional", "uniform"}
        Task sampling for per-task batches.
    weighting : str
        A registered loss weighting (``"equal"``, ``"uncertainty"``).
    patience : int or None
        Stop after this many epochs without a better validation loss (None: run all epochs).
    soft_weight : float
        Weight of the soft-target loss for tasks with a teacher; 0.5 is MT-DNN-KD's average.
    temperature : float
        Distillation temperature (1: none).
    """

    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    batching: str = "auto"
    sampling: str = "proportional"
    weighting: str = "equal"
    patience: int | None = None
    soft_weight: float = 0.5
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if int(self.epochs) < 1:
            raise InvalidArgument(f"epochs must be >= 1; got {self.epochs!r}.")
        if int(self.batch_size) < 1:
            raise InvalidArgument(f"batch_size must be >= 1; got {self.batch_size!r}.")
        if not self.lr > 0:
            raise InvalidArgument(f"lr must be > 0; got {self.lr!r}.")
        if self.sampling not in SAMPLINGS:
            raise InvalidArgument(f"Unknown task sampling {self.sampling!r}; accepted: {list(SAMPLINGS)}.")
        if self.weighting not in available_weightings():
            raise InvalidArgument(f"Unknown loss weighting {self.weighting!r}; accepted: {available_weightings()}.")
        if not 0.0 <= self.soft_weight <= 1.0:
            raise InvalidArgument(f"soft_weight must be in [0, 1]; got {self.soft_weight!r}.")
        if self.patience is not None and int(self.patience) < 1:
            raise InvalidArgument(f"patience must be >= 1 or None; got {self.patience!r}.")
        if not self.temperature > 0:
            raise InvalidArgument(f"temperature must be > 0; got {self.temperature!r}.")
        choose_batching({}, self.batching)  # validates the name

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FitResult:
    """What a fit did: the batching used, per-epoch validation loss, the epoch kept, final loss weights."""

    batching: str
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0
    weights: dict[str, float] = field(default_factory=dict)


def _task_losses(
    outputs: Mapping[str, torch.Tensor],
    y: torch.Tensor,
    mask: torch.Tensor,
    tasks: Sequence[tuple[int, TaskSpec]],
    soft: Mapping[str, torch.Tensor] | None,
    config: FitConfig,
) -> dict[str, torch.Tensor]:
    """Per-task loss on one batch (``y``, ``mask``: the batch's rows), rows without the task's label masked out."""
    losses = {}
    for c, task in tasks:
        m = mask[:, c]
        if not bool(m.any()):
            continue  # no label for this task in the batch: the task contributes nothing
        out = outputs[task.name]
        loss = hard_loss(task, out, y[:, c], m)
        if soft is not None and task.name in soft:
            # soft targets exist for every training row, labelled or not; they are used on the same rows as the
            # hard loss so that the average of the two is over the same examples
            s = soft_loss(task.kind, out, soft[task.name], m, config.temperature)
            loss = distillation_loss(loss, s, config.soft_weight)
        losses[task.name] = loss
    return losses


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray | torch.Tensor, batch_size: int = 4096) -> dict[str, np.ndarray]:
    """Raw outputs of every head in eval mode (dropout off), as numpy arrays."""
    was_training = model.training
    model.eval()
    x = x.float() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float32))
    parts: dict[str, list[np.ndarray]] = {}
    for i in range(0, max(1, x.shape[0]), batch_size):
        for t, out in model(x[i : i + batch_size]).items():
            parts.setdefault(t, []).append(out.numpy())
    model.train(was_training)
    return {t: np.concatenate(v) for t, v in parts.items()}


def validation_loss(model: nn.Module, data: Split, tasks: Sequence[TaskSpec]) -> float:
    """Sum over tasks of the mean hard loss on the labelled rows of ``data`` (columns in ``tasks`` order)."""
    outputs = predict(model, data.x)
    total = 0.0
    for c, task in enumerate(tasks):
        if bool(data.mask[:, c].any()):
            total += float(hard_loss(task, torch.as_tensor(outputs[task.name]), data.y[:, c], data.mask[:, c]))
    return total


def fit(
    model: nn.Module,
    train: Split,
    tasks: Sequence[TaskSpec],
    config: FitConfig = FitConfig(),
    *,
    val: Split | None = None,
    soft_targets: Mapping[str, np.ndarray] | None = None,
    seed: int = 0,
    weighting: LossWeighting | None = None,
) -> FitResult:
    """Train ``model`` in place on the tasks' labels of ``train``; keep the epoch with the lowest validation loss.

    Parameters
    ----------
    model : nn.Module
        Returns ``dict task -> output`` for at least ``tasks``.
    train, val : Split
        Training data and (optional) validation data for epoch selection.
    tasks : sequence of TaskSpec
        The tasks this network is trained on.
    config : FitConfig
    soft_targets : mapping task -> array, optional
        Teacher soft targets for the training examples (row-aligned with ``train.x``), for the tasks that have a
        teacher; the loss of those tasks becomes the MT-DNN-KD mix of hard and soft loss.
    seed : int
        Seeds batch order, dropout and the weighting's parameters.
    weighting : LossWeighting, optional
        An instance to use instead of ``config.weighting`` (for custom weightings).

    Returns
    -------
    FitResult
    """
    tasks = tuple(tasks)
    names = [t.name for t in tasks]
    n = len(train)
    if train.y.shape[1] != len(tasks):
        raise InvalidArgument(
            f"The training split has {train.y.shape[1]} label columns but {len(tasks)} tasks were given ({names}); "
            "pass suite.subset(tasks) splits so that columns match the tasks."
        )
    soft_targets = dict(soft_targets or {})
    for t, s in soft_targets.items():
        if t not in names:
            raise InvalidArgument(f"Soft targets given for task {t!r}, which this network does not train ({names}).")
        if np.asarray(s).shape[0] != n:
            raise InvalidArgument(f"Soft targets of task {t!r} have {np.asarray(s).shape[0]} rows; train has {n}.")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    weighting = weighting if weighting is not None else make_weighting(config.weighting, names, {t.name: t.kind for t in tasks})
    params = list(model.parameters()) + list(weighting.parameters())
    optimiser = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)

    soft = {t: torch.as_tensor(np.asarray(s, dtype=np.float32)) for t, s in soft_targets.items()}
    labelled = {t.name: np.flatnonzero(train.mask[:, c].numpy()) for c, t in enumerate(tasks)}
    batching = choose_batching(labelled, config.batching)
    column = {t.name: (c, t) for c, t in enumerate(tasks)}

    result = FitResult(batching=batching)
    best_loss, best_state, stale = np.inf, None, 0
    for epoch in range(int(config.epochs)):
        model.train()
        if batching == "per_task":
            steps = [([column[t]], idx) for t, idx in per_task_batches(labelled, config.batch_size, rng, config.sampling)]
        else:
            steps = [(list(column.values()), idx) for idx in joint_batches(n, config.batch_size, rng)]
        for step_tasks, idx in steps:
            rows = torch.as_tensor(idx)
            batch_soft = {t: v[rows] for t, v in soft.items()} or None
            losses = _task_losses(model(train.x[rows]), train.y[rows], train.mask[rows], step_tasks, batch_soft, config)
            if not losses:
                continue
            optimiser.zero_grad()
            weighting(losses).backward()
            optimiser.step()
        if val is None:
            continue
        loss = validation_loss(model, val, tasks)
        result.val_loss.append(loss)
        if loss < best_loss:
            best_loss, best_state, stale = loss, copy.deepcopy(model.state_dict()), 0
            result.best_epoch = epoch
        else:
            stale += 1
            if config.patience is not None and stale >= config.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        result.best_epoch = int(config.epochs) - 1
    result.weights = weighting.weights()
    return result
