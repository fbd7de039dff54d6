"""Early stopping on the validation loss, for one network or a stack of many (a vector of losses)."""

from __future__ import annotations

import math

import torch

__all__ = ["EarlyStopping"]


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
