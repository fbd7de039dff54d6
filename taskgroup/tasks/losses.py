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

    Parameters
    ----------
    spec : TaskSpec
        The task (its kind picks the loss).
    pred : torch.Tensor, shape (..., n, out_dim)
        The task head's output.
    y : torch.Tensor, shape (..., n)
        Targets (class indices for classification).
    mask : torch.Tensor of bool, shape (..., n)
        Which rows are labelled.

    Returns
    -------
    torch.Tensor, shape (..., n)
        Squared error (regression) or cross-entropy (binary, multiclass) per row; 0 where ``mask`` is False.
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
    """A network's (n, out_dim) output in soft-target form: probabilities at ``temperature``, or values.

    Parameters
    ----------
    kind : {"regression", "binary", "multiclass"}
    output : torch.Tensor, shape (..., n, out_dim)
        A head's raw output.
    temperature : float, default 1.0
        Logits are divided by it before the sigmoid or softmax (not used for regression).

    Returns
    -------
    torch.Tensor
        Regression: the value, shape (..., n); binary: ``sigmoid(z / T)``, shape (..., n); multiclass:
        ``softmax(z / T)``, shape (..., n, k).

    Raises
    ------
    InvalidArgument
        An unknown ``kind``.
    """
    if kind == "regression":
        return output[..., 0]
    if kind == "binary":
        return torch.sigmoid(output[..., 0] / temperature)
    if kind == "multiclass":
        return torch.softmax(output / temperature, dim=-1)
    raise InvalidArgument(f"Unknown task kind {kind!r}; accepted: ['regression', 'binary', 'multiclass'].")


def soft_loss(
    kind: str,
    output: torch.Tensor,
    soft_target: torch.Tensor,
    mask: torch.Tensor | None = None,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Mean distillation term of a student's output against a teacher's soft target (Hinton et al. 2015).

    Per row ``i`` with student logits ``z_i`` and teacher probabilities ``p_i`` (already at temperature ``T``):

    - multiclass: ``T² · KL(p_i || softmax(z_i / T)) = T² · Σ_k p_ik (log p_ik − log softmax(z_i / T)_k)``;
    - binary: the same with two classes, ``q_i = sigmoid(z_i / T)``:
      ``T² · (p_i log(p_i / q_i) + (1 − p_i) log((1 − p_i) / (1 − q_i)))``;
    - regression: ``(z_i − p_i)²`` with ``p_i`` the teacher's prediction (no temperature).

    ``T²`` keeps the gradient's scale as ``T`` changes. KL differs from the cross-entropy against ``p`` by the
    teacher's entropy, a constant, so the gradient is the same; KL is 0 when the student matches the teacher.

    Parameters
    ----------
    kind : {"regression", "binary", "multiclass"}
    output : Tensor, shape (..., n, out_dim)
        The student head's raw output.
    soft_target : Tensor, shape (n,) or (n, k)
        See the module docstring.
    mask : Tensor of bool, shape (n,), optional
        The rows to average over (default: every row; a teacher sees every row, labelled or not).
    temperature : float
        ``T > 0``.

    Returns
    -------
    Tensor, shape (...)
        The mean over the rows in ``mask``; 0 when there are none.

    Raises
    ------
    InvalidArgument
        ``temperature <= 0`` or an unknown kind.
    """
    if not temperature > 0:
        raise InvalidArgument(f"The distillation temperature must be > 0; got {temperature!r}.")
    if kind == "regression":
        per_row = (output[..., 0] - soft_target) ** 2
    elif kind == "binary":
        p = soft_target.expand_as(output[..., 0])
        cross = F.binary_cross_entropy_with_logits(output[..., 0] / temperature, p, reduction="none")
        entropy = -(torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p))
        per_row = (cross - entropy) * temperature**2
    elif kind == "multiclass":
        logq = torch.log_softmax(output / temperature, dim=-1)
        per_row = (torch.xlogy(soft_target, soft_target) - soft_target * logq).sum(-1) * temperature**2
    else:
        raise InvalidArgument(f"Unknown task kind {kind!r}; accepted: ['regression', 'binary', 'multiclass'].")
    if mask is None:
        return per_row.mean(-1)
    per_row = torch.where(mask, per_row, torch.zeros_like(per_row))
    return per_row.sum(-1) / mask.to(per_row.dtype).sum().clamp(min=1.0)


def distillation_loss(hard: torch.Tensor | None, soft: torch.Tensor, soft_weight: float = 0.5) -> torch.Tensor:
    """A student's loss for a task with a teacher: ``(1 - w) * hard + w * soft`` with ``w = soft_weight``.

    ``hard`` is the mean hard-label loss over the batch's labelled rows (:func:`task_loss`), ``soft`` the mean
    distillation term over every row of the batch (:func:`soft_loss`, which carries the ``T²``). With no labelled
    row in the batch (``hard`` None) the loss is the soft term alone, ``w * soft``. ``w = 0.5`` is MT-DNN-KD's
    *average* of the two losses (the public MT-DNN code adds them instead: the same direction, twice the scale).

    Parameters
    ----------
    hard : torch.Tensor or None
        The hard-label loss (a scalar), or None when the batch has no labelled row for the task.
    soft : torch.Tensor
        The distillation term (a scalar).
    soft_weight : float, default 0.5
        ``w`` in [0, 1].

    Returns
    -------
    torch.Tensor
        The combined scalar loss.

    Raises
    ------
    InvalidArgument
        ``soft_weight`` outside [0, 1].
    """
    if not 0.0 <= soft_weight <= 1.0:
        raise InvalidArgument(f"soft_weight must be in [0, 1]; got {soft_weight!r}.")
    if hard is None:
        return soft_weight * soft
    return (1.0 - soft_weight) * hard + soft_weight * soft
