"""Per-task losses as pure functions: the hard-label loss, the soft-target loss and the MT-DNN-KD mix.

A head's raw output has shape (..., n, out_dim) (see :class:`taskgroup.tasks.TaskSpec`); leading dimensions
(a stack of networks) are kept, so one network and a stack of many use the same math. Soft targets:
regression -> the teachers' average prediction, shape (n,); binary -> the average probability of class 1,
shape (n,); multiclass -> average class probabilities, shape (n, k).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from taskgroup.errors import InvalidArgument
from taskgroup.tasks.suite import TaskSpec

__all__ = ["task_loss", "row_losses", "soft_loss", "distillation_loss", "output_to_soft"]


def task_loss(spec: TaskSpec, pred: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean hard-label loss of one task over its labelled rows.

    Parameters
    ----------
    spec : TaskSpec
    pred : Tensor, shape (..., n, out_dim)
        The task head's output; leading dimensions (e.g. a stack of networks) are kept.
    y : Tensor, shape (..., n)
        The task's column of ``Split.y`` (a leading stack dimension when each network reads its own rows).
    mask : Tensor of bool, shape (..., n)
        The task's column of ``Split.mask``, shaped like ``y``.

    Returns
    -------
    Tensor, shape (...)
        Mean over labelled rows; 0 when no row in the batch is labelled (the task then adds no gradient).
    """
    per_row = row_losses(spec, pred, y, mask)
    return per_row.sum(-1) / mask.to(per_row.dtype).sum(-1).clamp(min=1.0)


def row_losses(spec: TaskSpec, pred: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each row's hard-label loss, shape (..., n) like ``pred`` without its last dimension; 0 on unlabelled rows.

    The shapes are those of :func:`task_loss`, whose value is the mean of these over the labelled rows.
    """
    if spec.kind == "regression":
        per_row = (pred[..., 0] - y) ** 2
    elif spec.kind == "binary":
        per_row = F.binary_cross_entropy_with_logits(pred[..., 0], y.expand_as(pred[..., 0]), reduction="none")
    else:
        logp = torch.log_softmax(pred, dim=-1)
        index = y.long().clamp(min=0).expand(pred.shape[:-1]).unsqueeze(-1)
        per_row = -logp.gather(-1, index).squeeze(-1)
    # where() rather than multiply: a masked row's prediction may be anything, and 0 * inf would be NaN.
    return torch.where(mask, per_row, torch.zeros_like(per_row))


def output_to_soft(kind: str, output: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """A network's (n, out_dim) output in soft-target form: probabilities at ``temperature``, or values."""
    if kind == "regression":
        return output[..., 0]
    if kind == "binary":
        return torch.sigmoid(output[..., 0] / temperature)
    if kind == "multiclass":
        return torch.softmax(output / temperature, dim=-1)
    raise InvalidArgument(f"Unknown task kind {kind!r}; accepted: ['regression', 'binary', 'multiclass'].")


def soft_loss(
    kind: str, output: torch.Tensor, soft_target: torch.Tensor, mask: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """Mean loss of a student's output against a teacher ensemble's soft target over the rows in ``mask``.

    Classification: cross-entropy between the averaged teacher probabilities and the student's probabilities,
    both at ``temperature``, times ``temperature**2`` (Hinton et al. 2015) so the gradient keeps its scale as
    the temperature changes (no effect at the default 1). Regression: MSE against the average prediction.
    """
    if not temperature > 0:
        raise InvalidArgument(f"The distillation temperature must be > 0; got {temperature!r}.")
    if kind == "regression":
        per_row = (output[..., 0] - soft_target) ** 2
    elif kind == "binary":
        per_row = F.binary_cross_entropy_with_logits(output[..., 0] / temperature, soft_target, reduction="none")
    elif kind == "multiclass":
        per_row = -(soft_target * torch.log_softmax(output / temperature, dim=-1)).sum(-1)
    else:
        raise InvalidArgument(f"Unknown task kind {kind!r}; accepted: ['regression', 'binary', 'multiclass'].")
    if kind != "regression":
        per_row = per_row * temperature**2
    per_row = torch.where(mask, per_row, torch.zeros_like(per_row))
    return per_row.sum(-1) / mask.to(per_row.dtype).sum().clamp(min=1.0)


def distillation_loss(hard: torch.Tensor, soft: torch.Tensor, soft_weight: float = 0.5) -> torch.Tensor:
    """MT-DNN-KD's student loss for a task with a teacher: ``(1 - soft_weight) * hard + soft_weight * soft``.

    The default 0.5 is the paper's *average* of the two losses; the public MT-DNN code adds them instead
    (the same direction, twice the scale).
    """
    if not 0.0 <= soft_weight <= 1.0:
        raise InvalidArgument(f"soft_weight must be in [0, 1]; got {soft_weight!r}.")
    return (1.0 - soft_weight) * hard + soft_weight * soft
