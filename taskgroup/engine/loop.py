"""The one training loop: batches, loss weighting, soft targets, early stopping, hooks, device.

:func:`fit` trains any model that follows the model protocol (``forward(x) -> {task: (n, out_dim)}``) on a
split whose label columns are ``tasks``, and keeps the epoch with the lowest validation loss. Everything that
trains in taskgroup calls it: candidate measurement (one network at a time; :mod:`taskgroup.engine.stacked`
is the same arithmetic for many networks at once), the TAG/CS affinity run (a :class:`Hook` that measures
before chosen steps), ESA's short runs (a shorter schedule), and the plan's networks, teachers and distilled
students (soft targets).

Per step: the batch's inputs, labels and masks are moved to ``config.device``; each task with a label in the
batch adds its :func:`~taskgroup.tasks.task_loss`; a task with a teacher adds the distillation term on every row
of the batch, labelled or not (:func:`~taskgroup.tasks.distillation_loss`: ``(1 - w) · hard + w · T² · KL``, the
soft term alone on a batch without its labels); the loss weighting and the reduction make them one number;
Adam takes a step. Batch order comes from ``numpy_rng(seed, "batches", epoch)``; dropout draws from torch's
generator seeded from ``(seed, "dropout")`` inside a fork, so the caller's random state never changes.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from taskgroup.engine.batching import choose_batching, joint_batches, per_task_batches
from taskgroup.engine.config import TrainConfig
from taskgroup.engine.seeding import numpy_rng, seeded
from taskgroup.engine.stopping import EarlyStopping
from taskgroup.engine.weighting import LossWeighting, combine, make_weighting
from taskgroup.errors import InvalidArgument
from taskgroup.tasks.calibration import calibrated_loss
from taskgroup.tasks.losses import distillation_loss, row_losses, soft_loss, task_loss
from taskgroup.tasks.metrics import primary_metric, task_metrics
from taskgroup.tasks.replicates import metric_replicates
from taskgroup.tasks.suite import Split, TaskSpec
from taskgroup.uncertainty import BOOTSTRAP_SAMPLES, bootstrap_counts, bootstrap_se

__all__ = ["Batch", "Hook", "FitResult", "fit", "predict", "score", "batch_plan", "labelled_rows"]


@dataclass
class Batch:
    """One training step's data, on the training device.

    Attributes
    ----------
    x, y, mask : Tensor
        Inputs, label columns (one per task of the fit) and label masks of the batch's rows.
    rows : Tensor
        Row indices into the training split.
    columns : list of int
        The task columns this step trains (all of them for joint batches, one for MT-DNN per-task batches).
    soft : dict task -> Tensor
        Teacher soft targets of the rows, for tasks with a teacher.
    """

    x: torch.Tensor
    y: torch.Tensor
    mask: torch.Tensor
    rows: torch.Tensor
    columns: list[int]
    soft: dict[str, torch.Tensor] = field(default_factory=dict)


class Hook:
    """Something that watches the loop; every method does nothing unless overridden."""

    def on_step(self, step: int, model: nn.Module, batch: Batch, losses_of: Any) -> None:
        """Before step ``step``'s update. ``losses_of(outputs) -> {task: loss}`` computes the step's task losses.

        Parameters
        ----------
        step : int
            The optimiser step about to be taken, counted over the whole fit.
        model : torch.nn.Module
            The network being trained (in training mode).
        batch : Batch
            The step's batch.
        losses_of : callable
            ``losses_of(outputs) -> {task: loss tensor}`` for outputs of ``model`` on the batch.
        """

    def on_epoch_end(self, epoch: int, model: nn.Module, val_loss: float | None) -> None:
        """After each epoch's validation.

        Parameters
        ----------
        epoch : int
            The epoch just finished.
        model : torch.nn.Module
            The network being trained.
        val_loss : float or None
            The epoch's validation loss (sum over tasks); None without a validation split.
        """


@dataclass
class FitResult:
    """What a fit did.

    Attributes
    ----------
    status : "ok" or "failed"
        "failed" when a training or validation loss became NaN or infinite (``reason`` says where).
    epochs : int
        Epochs run.
    best_epoch : int
        The epoch whose weights were kept (the last one without a validation split).
    val_loss : list of float
        The early-stopping criterion per epoch: the validation loss summed over tasks (each head's calibrated
        loss under ``TrainConfig.stopping="calibrated"``).
    batching : str
        The batching used ("joint" or "per_task").
    weights : dict
        Final loss weight per task.
    train_time : float
        Seconds.
    """

    status: str = "ok"
    reason: str = ""
    epochs: int = 0
    best_epoch: int = 0
    val_loss: list[float] = field(default_factory=list)
    batching: str = "joint"
    weights: dict[str, float] = field(default_factory=dict)
    train_time: float = 0.0

    def summary(self) -> dict[str, Any]:
        """How the kept weights were reached, as plain data for a checkpoint's extras.

        Returns
        -------
        dict
            ``best_epoch``, ``batching``, ``loss_weights`` and ``train_seconds``.
        """
        return {
            "best_epoch": self.best_epoch,
            "batching": self.batching,
            "loss_weights": dict(self.weights),
            "train_seconds": self.train_time,
        }


def labelled_rows(data: Split, tasks: Sequence[TaskSpec]) -> dict[str, np.ndarray]:
    """task -> indices of the rows labelled for it.

    Parameters
    ----------
    data : Split
        The rows.
    tasks : sequence of TaskSpec
        The specs of ``data``'s target columns, in column order.

    Returns
    -------
    dict of str to numpy.ndarray
        Sorted row indices per task name.
    """
    return {t.name: np.flatnonzero(data.mask[:, c].numpy()) for c, t in enumerate(tasks)}


def batch_plan(
    n: int, labelled: Mapping[str, np.ndarray], config: TrainConfig, batching: str, seed: int, epoch: int
) -> list[tuple[list[int], np.ndarray]]:
    """One epoch's steps as ``(task columns, row indices)``, drawn from ``numpy_rng(seed, "batches", epoch)``.

    Parameters
    ----------
    n : int
        Rows of the training split.
    labelled : mapping of str to numpy.ndarray
        Rows labelled per task (:func:`labelled_rows`), in column order.
    config : TrainConfig
        Its batch size and task sampling.
    batching : {"joint", "per_task"}
        Resolved batching; anything but ``"per_task"`` gives joint batches.
    seed : int
        The network's seed.
    epoch : int
        The epoch (each draws its own batches).

    Returns
    -------
    list of (list of int, numpy.ndarray)
        Per step, the task columns it trains (every column for joint batches, one for per-task batches) and its
        row indices.

    Raises
    ------
    InvalidArgument
        A batch size below 1 or an unknown task sampling.
    """
    rng = numpy_rng(seed, "batches", epoch)
    if batching == "per_task":
        column = {t: c for c, t in enumerate(labelled)}
        return [([column[t]], idx) for t, idx in per_task_batches(labelled, config.batch_size, rng, config.sampling)]
    return [(list(range(len(labelled))), idx) for idx in joint_batches(n, config.batch_size, rng)]


def _step_losses(
    outputs: Mapping[str, torch.Tensor], batch: Batch, tasks: Sequence[TaskSpec], config: TrainConfig
) -> dict[str, torch.Tensor]:
    losses = {}
    for c, task in enumerate(tasks):
        m = batch.mask[:, c]
        labelled = c in batch.columns and bool(m.any())
        hard = task_loss(task, outputs[task.name], batch.y[:, c], m) if labelled else None
        if task.name in batch.soft:
            # a teacher sees every row of the batch, labelled or not (and in per-task batches, rows drawn for
            # another task): the soft term averages over all of them, the hard term over the labelled rows
            soft = soft_loss(task.kind, outputs[task.name], batch.soft[task.name], temperature=config.temperature)
            losses[task.name] = distillation_loss(hard, soft, config.soft_weight)
        elif hard is not None:
            losses[task.name] = hard
    return losses


@torch.no_grad()
def predict(model: nn.Module, x: Any, *, batch_size: int = 4096, device: str = "cpu") -> dict[str, np.ndarray]:
    """Raw outputs of every head in eval mode (dropout off), as numpy arrays.

    ``x`` is a tensor, an array or a :class:`Split` (whose inputs may be a Dataset, read batch by batch).

    Parameters
    ----------
    model : torch.nn.Module
        The network (its training mode is restored afterwards).
    x : tensor, array or Split
        Model inputs, shape (n, ...); an array of floats is converted to float32, of integers kept as they are.
    batch_size : int, default 4096
        Rows per forward pass.
    device : str, default "cpu"
        Where the batches go (the model must be there already).

    Returns
    -------
    dict of str to numpy.ndarray
        Each head's raw output on every row, shape (n, out_dim), by task name.
    """
    if isinstance(x, Split):
        data = x
    else:
        if not isinstance(x, torch.Tensor):
            arr = np.asarray(x)
            x = torch.as_tensor(arr if arr.dtype.kind in "iu" else arr.astype(np.float32))
        data = Split(x, torch.zeros(len(x), 0), torch.zeros(len(x), 0, dtype=torch.bool))
    was_training = model.training
    model.eval()
    parts: dict[str, list[np.ndarray]] = {}
    for i in range(0, max(1, len(data)), batch_size):
        for t, out in model(data.inputs(slice(i, i + batch_size)).to(device)).items():
            parts.setdefault(t, []).append(out.detach().cpu().numpy())
    model.train(was_training)
    return {t: np.concatenate(v) for t, v in parts.items()}


def score(
    outputs: Mapping[str, np.ndarray],
    data: Split,
    tasks: Sequence[TaskSpec],
    *,
    detail: bool = False,
    errors: bool = False,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Per task in ``outputs``: the mean loss and the primary metric over the split's labelled rows.

    With ``detail`` (what a measurement records), also every metric of
    :data:`~taskgroup.tasks.METRICS_BY_KIND` (by name; RMSE in the standardised units the suite trains on, which
    changes no ratio between two networks) and, for classification heads, the temperature that minimises the loss
    on these rows with the loss at that temperature (``temperature``, ``calibrated_loss``;
    :mod:`taskgroup.tasks.calibration`). Early stopping calls it without: that runs every epoch.

    With ``errors``, also ``loss_se``: the bootstrap standard error of the mean loss over the labelled rows
    (:data:`~taskgroup.uncertainty.BOOTSTRAP_SAMPLES` resamples drawn from ``numpy_rng(seed, "bootstrap", task)``),
    the part of a measured loss's error that comes from evaluating on a finite split. (All resamples at once: a
    few milliseconds per network.) With ``errors`` and ``detail``, also ``calibrated_loss_se`` (the same bootstrap
    of the loss at the fitted temperature) and ``replicates``: each metric on every resample
    (:func:`~taskgroup.tasks.replicates.metric_replicates`), drawn from ``numpy_rng(0, "replicates", task)``, so
    that the resamples depend only on the task and its rows, never on the network or the seed, and the metric
    objective compares two networks on the same resamples (a paired bootstrap).

    Parameters
    ----------
    outputs : mapping of str to numpy.ndarray
        Each head's raw output on every row of ``data`` (:func:`predict`); tasks not in it are skipped.
    data : Split
        The rows scored.
    tasks : sequence of TaskSpec
        The specs of ``data``'s target columns, in column order.
    detail : bool, default False
        Add every metric and the calibrated loss.
    errors : bool, default False
        Add the bootstrap standard error ``loss_se`` (and, with ``detail``, ``calibrated_loss_se`` and
        ``replicates``).
    seed : int, default 0
        Seed of the bootstrap.

    Returns
    -------
    dict of str to dict
        Per task: ``loss`` and ``metric`` (NaN without a labelled row), plus what ``detail`` and ``errors`` add
        when the task has labelled rows (floats, and ``replicates``: metric name -> array of shape
        (:data:`~taskgroup.uncertainty.BOOTSTRAP_SAMPLES`,)).
    """
    result = {}
    for c, task in enumerate(tasks):
        if task.name not in outputs:
            continue
        m = data.mask[:, c]
        out = torch.as_tensor(np.asarray(outputs[task.name], dtype=np.float32))
        loss = float(task_loss(task, out, data.y[:, c], m))
        rows = m.numpy()
        y, head = data.y[rows, c].numpy(), np.asarray(outputs[task.name])[rows]
        values: dict[str, Any] = {"loss": loss, "metric": primary_metric(task.kind, y, head)}
        if errors and rows.any():
            per_row = row_losses(task, out, data.y[:, c], m).numpy()[rows].astype(np.float64)
            values["loss_se"] = bootstrap_se(per_row, numpy_rng(seed, "bootstrap", task.name))
        if detail and rows.any():
            values.update(task_metrics(task.kind, y, head))
            values["calibrated_loss"], values["temperature"] = calibrated_loss(task.kind, y, head, loss)
        if errors and detail and rows.any():
            calibrated = row_losses(task, out / values["temperature"], data.y[:, c], m).numpy()[rows]
            values["calibrated_loss_se"] = bootstrap_se(
                calibrated.astype(np.float64), numpy_rng(seed, "bootstrap", task.name)
            )
            counts = bootstrap_counts(int(rows.sum()), BOOTSTRAP_SAMPLES, numpy_rng(0, "replicates", task.name))
            values["replicates"] = metric_replicates(task.kind, y, head, counts)
        result[task.name] = values
    return result


def _validation_loss(model: nn.Module, data: Split, tasks: Sequence[TaskSpec], config: TrainConfig) -> float:
    """The early-stopping criterion: the sum over tasks of the mean hard loss on the labelled rows, each at its
    calibrated temperature under ``stopping="calibrated"`` (:mod:`taskgroup.engine.stopping`)."""
    calibrated = config.stopping == "calibrated"
    scores = score(predict(model, data, device=config.device), data, tasks, detail=calibrated)
    # (a regression head's calibrated loss is its loss; a head with no labelled rows has only the plain one)
    return float(sum(s.get("calibrated_loss", s["loss"]) if calibrated else s["loss"] for s in scores.values()))


def fit(
    model: nn.Module,
    train: Split,
    tasks: Sequence[TaskSpec],
    config: TrainConfig = TrainConfig(),
    *,
    val: Split | None = None,
    seed: int = 0,
    soft_targets: Mapping[str, Any] | None = None,
    weighting: LossWeighting | None = None,
    hooks: Sequence[Hook] = (),
) -> FitResult:
    """Train ``model`` in place on the tasks' labels of ``train``; keep the epoch with the lowest validation loss.

    Parameters
    ----------
    model : nn.Module
        Returns ``{task: output}`` for at least ``tasks``; moved to ``config.device``.
    train, val : Split
        Training data and (optional) validation data for early stopping and epoch selection. Label columns
        are ``tasks`` in order (``suite.subset(names).train``).
    tasks : sequence of TaskSpec
    config : TrainConfig
    seed : int
        Batch order, dropout, and the weighting's parameters.
    soft_targets : mapping task -> array, optional
        Teacher soft targets for every training row, for the tasks that have a teacher.
    weighting : LossWeighting, optional
        An instance to use instead of ``config.weighting``.
    hooks : sequence of Hook
        Called before each step's update and after each epoch.

    Returns
    -------
    FitResult
        ``status="failed"`` (not raised) when a loss becomes NaN or infinite; the model then holds its best
        weights so far.

    Raises
    ------
    InvalidArgument
        Label columns that do not match ``tasks``, or soft targets for unknown tasks or of the wrong length.
    """
    tasks = tuple(tasks)
    names = [t.name for t in tasks]
    n = len(train)
    if train.y.shape[1] != len(tasks):
        raise InvalidArgument(
            f"The training split has {train.y.shape[1]} label columns but {len(tasks)} tasks were given ({names}); "
            "pass suite.subset(tasks) splits so that columns match the tasks."
        )
    device = torch.device(config.device)
    soft: dict[str, torch.Tensor] = {}
    for t, s in dict(soft_targets or {}).items():
        if t not in names:
            raise InvalidArgument(f"Soft targets given for task {t!r}, which this network does not train ({names}).")
        s = torch.as_tensor(np.asarray(s, dtype=np.float32))
        if s.shape[0] != n:
            raise InvalidArgument(f"Soft targets of task {t!r} have {s.shape[0]} rows; train has {n}.")
        soft[t] = s
    model.to(device)
    with seeded(seed, "weighting"):
        weighting = (
            weighting
            if weighting is not None
            else make_weighting(config.weighting, names, {t.name: t.kind for t in tasks})
        )
    weighting.to(device)
    optimiser = torch.optim.Adam(
        [*model.parameters(), *weighting.parameters()], lr=config.lr, weight_decay=config.weight_decay
    )
    labelled = labelled_rows(train, tasks)
    result = FitResult(batching=choose_batching(labelled, config.batching))
    stopper = EarlyStopping(1, config.patience)
    best_state = copy.deepcopy(model.state_dict())
    start = time.perf_counter()
    step = 0
    with seeded(seed, "dropout", device=device):
        for epoch in range(config.epochs):
            model.train()
            for columns, idx in batch_plan(n, labelled, config, result.batching, seed, epoch):
                rows = torch.as_tensor(idx)
                batch = Batch(
                    train.inputs(rows).to(device),
                    train.y[rows].to(device),
                    train.mask[rows].to(device),
                    rows,
                    columns,
                    {t: v[rows].to(device) for t, v in soft.items()},
                )

                def losses_of(outputs: Mapping[str, torch.Tensor], batch: Batch = batch) -> dict[str, torch.Tensor]:
                    return _step_losses(outputs, batch, tasks, config)

                for hook in hooks:
                    hook.on_step(step, model, batch, losses_of)
                losses = losses_of(model(batch.x))
                step += 1
                if not losses:
                    continue
                loss = combine(weighting, losses, config.reduction, len(tasks))
                if not torch.isfinite(loss):
                    return _failed(
                        model,
                        best_state,
                        result,
                        f"training loss became {float(loss.detach())} in epoch {epoch}",
                        epoch,
                        start,
                    )
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
            result.epochs = epoch + 1
            val_loss = None
            if val is not None:
                val_loss = _validation_loss(model, val, tasks, config)
                if not np.isfinite(val_loss):
                    return _failed(
                        model, best_state, result, f"validation loss became {val_loss} in epoch {epoch}", epoch, start
                    )
                result.val_loss.append(val_loss)
                if stopper.update(epoch, torch.tensor([val_loss]))[0]:
                    best_state = copy.deepcopy(model.state_dict())
            for hook in hooks:
                hook.on_epoch_end(epoch, model, val_loss)
            if bool(stopper.stopped[0]):
                break
    if val is not None:
        model.load_state_dict(best_state)
        result.best_epoch = int(stopper.best_epoch[0])
    else:
        result.best_epoch = result.epochs - 1
    result.weights = weighting.weights()
    result.train_time = time.perf_counter() - start
    return result


def _failed(
    model: nn.Module, best_state: dict[str, Any], result: FitResult, reason: str, epoch: int, start: float
) -> FitResult:
    model.load_state_dict(best_state)
    result.status, result.reason, result.epochs = "failed", reason, epoch + 1
    result.train_time = time.perf_counter() - start
    return result
