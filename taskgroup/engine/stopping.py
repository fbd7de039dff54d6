"""Early stopping on the validation loss, for one network or a stack of many (a vector of losses).

What "the validation loss" of a network is, is :data:`STOPPING_CRITERIA`' choice (``TrainConfig.stopping``):

- ``"loss"`` (default): the sum of its tasks' mean losses on the validation rows.
- ``"calibrated"``: the sum of their calibrated losses, each classification head's loss at the temperature that
  minimises it on those rows that epoch (:mod:`taskgroup.tasks.calibration`; a regression head's loss as it is).
  A head trained on a few labels grows over-confident long before it stops improving, and its plain loss then
  rises while its accuracy does not: on the mnist suite this criterion trains its scarce-label single-task
  networks 1.4 to 1.9 accuracy points better (``benchmarks/results/training_variants.md``). It costs one
  temperature fit per head and epoch, and networks train one at a time under it (not stacked).
"""

from __future__ import annotations

import math

import torch

__all__ = ["EarlyStopping", "STOPPING_CRITERIA"]

STOPPING_CRITERIA: tuple[str, ...] = ("loss", "calibrated")


class EarlyStopping:
    """Best-validation-loss bookkeeping.

    Parameters
    ----------
    n : int
        Number of networks tracked together.
    patience : int or None
        A network stops after this many epochs without a lower validation loss; None: never stops early.
    """

    def __init__(self, n: int, patience: int | None) -> None:
        self.patience = patience
        self.best = torch.full((n,), math.inf, dtype=torch.float64)
        self.best_epoch = torch.zeros(n, dtype=torch.long)
        self.stopped = torch.zeros(n, dtype=torch.bool)

    def update(self, epoch: int, val_loss: torch.Tensor) -> torch.Tensor:
        """Record one epoch; returns which networks improved (their weights should be kept).

        A network that has stopped never improves again; a network stops once ``patience`` epochs have passed
        since its best one.

        Parameters
        ----------
        epoch : int
            The epoch's number.
        val_loss : torch.Tensor, shape (n,)
            Each network's validation loss this epoch.

        Returns
        -------
        torch.Tensor of bool, shape (n,)
            True where the loss is below the network's best so far and the network had not stopped.
        """
        val_loss = val_loss.detach().cpu().to(torch.float64)
        improved = (~self.stopped) & (val_loss < self.best)
        self.best = torch.where(improved, val_loss, self.best)
        self.best_epoch = torch.where(improved, torch.full_like(self.best_epoch, epoch), self.best_epoch)
        if self.patience is not None:
            self.stopped |= (epoch - self.best_epoch) >= self.patience
        return improved
