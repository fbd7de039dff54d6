"""Training one candidate network: configuration, batches, early stopping, per-task results.

This is the one-at-a-time reference; :mod:`taskgroup.measure.vectorised` trains many candidates at once with
the same initial weights, the same batches and the same optimizer arithmetic. Both share
:func:`batch_order`, :func:`combine_losses` and :class:`EarlyStopping` so that the two cannot drift apart.
The trainer never touches the results store; the runner does.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

from taskgroup.errors import InvalidArgument
from taskgroup.measure.candidates import Candidate
from taskgroup.measure.models import DEFAULT_HIDDEN, SharedTrunkNet, derive_seed
from taskgroup.measure.store import NetworkResult  # the store's row type, defined where torch is not needed
from taskgroup.measure.suite import Split, TaskSuite, task_loss, task_metric

__all__ = ["TrainConfig", "NetworkResult", "batch_order", "combine_losses", "train_network", "evaluate_network"]


@dataclass(frozen=True)
class TrainConfig:
    """How every candidate is trained. Its :meth:`hash` keys results in the store.

    Parameters
    ----------
    hidden : tuple of int
        Full-size trunk widths (default (64, 64)).
    epochs : int
        Maximum epochs (default 50).
    batch_size : int
        Mini-batch size (default 128).
    lr : float
        Adam learning rate (default 1e-3).
    weight_decay : float
        Adam L2 penalty (default 0).
    patience : int
        Stop after this many epochs without a lower validation loss, and keep the best epoch's weights
        (default 10).
    reduction : {"sum", "mean"}
        Training loss of a multi-task network: the sum (default; as in Standley et al.'s code) or the mean
        (as in their paper) of the task losses.
    """

    hidden: tuple[int, ...] = DEFAULT_HIDDEN
    epochs: int = 50
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 10
    reduction: str = "sum"

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        checks = {
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0 and math.isfinite(self.lr),
            "weight_decay": self.weight_decay >= 0,
            "patience": self.patience >= 1,
            "hidden": len(self.hidden) >= 1 and min(self.hidden) >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise InvalidArgument(f"TrainConfig.{name}={getattr(self, name)!r} is not accepted (must be positive).")
        if self.reduction not in ("sum", "mean"):
            raise InvalidArgument(f"TrainConfig.reduction={self.reduction!r}; accepted: 'sum', 'mean'.")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


def batch_order(n: int, batch_size: int, epoch: int, seed: int) -> list[torch.Tensor]:
    """The mini-batches of one epoch: a permutation drawn from (seed, epoch), cut into batches."""
    g = torch.Generator().manual_seed(derive_seed(seed, "batches", epoch))
    perm = torch.randperm(n, generator=g)
    return list(perm.split(batch_size))


def combine_losses(losses: torch.Tensor, active: torch.Tensor, reduction: str) -> torch.Tensor:
    """Training loss from per-task losses.

    Parameters
    ----------
    losses : Tensor, shape (..., n_tasks)
    active : Tensor of bool, shape (..., n_tasks)
        Which tasks the network serves.
    reduction : "sum" or "mean"
    """
    # where() rather than multiply: an inactive head's loss may be inf/NaN and must not leak in.
    total = torch.where(active, losses, torch.zeros_like(losses)).sum(-1)
    if reduction == "mean":
        total = total / active.sum(-1).clamp(min=1)
    return total


class EarlyStopping:
    """Best-validation-loss bookkeeping for one or many networks (a vector of losses)."""

    def __init__(self, n: int, patience: int) -> None:
        self.patience = patience
        self.best = torch.full((n,), math.inf, dtype=torch.float64)
        self.best_epoch = torch.zeros(n, dtype=torch.long)
        self.stopped = torch.zeros(n, dtype=torch.bool)

    def update(self, epoch: int, val_loss: torch.Tensor) -> torch.Tensor:
        """Record one epoch; returns which networks improved (their weights should be kept)."""
        val_loss = val_loss.detach().to(torch.float64)
        improved = (~self.stopped) & (val_loss < self.best)
        self.best = torch.where(improved, val_loss, self.best)
        self.best_epoch = torch.where(improved, torch.full_like(self.best_epoch, epoch), self.best_epoch)
        self.stopped |= (epoch - self.best_epoch) >= self.patience
        return improved


def _task_losses(outputs: dict[str, torch.Tensor], suite: TaskSuite, split: Split, rows: Any) -> torch.Tensor:
    cols = []
    for t, spec in enumerate(suite.tasks):
        if spec.name in outputs:
            cols.append(task_loss(spec, outputs[spec.name], split.y[rows, t], split.mask[rows, t]))
        else:
            cols.append(torch.zeros((), dtype=split.y.dtype))
    return torch.stack(cols, -1)


def evaluate_network(net: SharedTrunkNet, suite: TaskSuite) -> dict[str, dict[str, float]]:
    """Per served task: validation and test loss and metric."""
    out: dict[str, dict[str, float]] = {}
    with torch.no_grad():
        for key in ("val", "test"):
            split = suite.split(key)
            pred = net(split.x)
            for t, spec in enumerate(suite.tasks):
                if spec.name not in pred:
                    continue
                row = out.setdefault(spec.name, {})
                row[f"{key}_loss"] = float(task_loss(spec, pred[spec.name], split.y[:, t], split.mask[:, t]))
                row[f"{key}_metric"] = float(task_metric(spec, pred[spec.name], split.y[:, t], split.mask[:, t]))
    return out


def train_network(suite: TaskSuite, candidate: Candidate, config: TrainConfig, seed: int) -> NetworkResult:
    """Train one candidate network alone (the reference for vectorised training).

    Returns a :class:`NetworkResult`; a network whose training or validation loss becomes NaN or infinite
    is returned with ``status="failed"`` and the epoch it happened in, not raised.
    """
    specs = [suite.task(t) for t in candidate.tasks]
    net = SharedTrunkNet(suite.n_features, specs, config.hidden, candidate.width, seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    active = torch.tensor([t.name in candidate.tasks for t in suite.tasks])
    stopper = EarlyStopping(1, config.patience)
    best_state = {k: v.clone() for k, v in net.state_dict().items()}
    result = NetworkResult(candidate.name, candidate.tasks, candidate.variant, seed)
    train = suite.train
    start = time.perf_counter()
    for epoch in range(config.epochs):
        net.train()
        for rows in batch_order(len(train), config.batch_size, epoch, seed):
            loss = combine_losses(_task_losses(net(train.x[rows]), suite, train, rows), active, config.reduction)
            if not torch.isfinite(loss):
                return _failed(result, f"training loss became {float(loss.detach())} in epoch {epoch}", epoch, start)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            val = combine_losses(_task_losses(net(suite.val.x), suite, suite.val, slice(None)), active, config.reduction)
        if not torch.isfinite(val):
            return _failed(result, f"validation loss became {float(val)} in epoch {epoch}", epoch, start)
        if stopper.update(epoch, val.reshape(1))[0]:
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        result.epochs = epoch + 1
        if stopper.stopped[0]:
            break
    net.load_state_dict(best_state)
    result.best_epoch = int(stopper.best_epoch[0])
    result.metrics = evaluate_network(net, suite)
    result.train_time = time.perf_counter() - start
    return result


def _failed(result: NetworkResult, reason: str, epoch: int, start: float) -> NetworkResult:
    result.status, result.reason, result.epochs = "failed", reason, epoch + 1
    result.train_time = time.perf_counter() - start
    return result


def candidates_by_variant(candidates: Sequence[Candidate]) -> dict[str, list[Candidate]]:
    """Group candidates by size variant (only same-size networks can be stacked)."""
    out: dict[str, list[Candidate]] = {}
    for c in candidates:
        out.setdefault(c.variant, []).append(c)
    return out
