"""Pluggable loss weighting: how per-task losses become the one number a step minimises.

A weighting is an ``nn.Module`` (it may own learnable parameters, which the trainer optimises with the
network) with ``forward(losses: dict task -> scalar tensor) -> scalar tensor``. Under MT-DNN's per-task
batches the dict holds one task; under joint batches it holds every task with labels in the batch.
Weightings are registered by name so the CLI and benchmarks can pick one by string. The reduction
(:data:`REDUCTIONS`) then divides the weighted sum by the number of tasks the network serves (``"mean"``) or
leaves it (``"sum"``); :func:`combine` applies both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from taskgroup.registry import Registry

__all__ = [
    "REDUCTIONS",
    "combine",
    "LossWeighting",
    "EqualWeighting",
    "UncertaintyWeighting",
    "LOSS_WEIGHTINGS",
    "register_weighting",
    "make_weighting",
    "available_weightings",
]


REDUCTIONS: tuple[str, ...] = ("sum", "mean")


def combine(weighting: LossWeighting, losses: Mapping[str, torch.Tensor], reduction: str, n_tasks: int) -> torch.Tensor:
    """The training objective of one step: the weighted sum of ``losses``, divided by ``n_tasks`` for "mean".

    Parameters
    ----------
    weighting : LossWeighting
        Combines the task losses.
    losses : mapping of str to torch.Tensor
        Scalar loss of each task present in the step.
    reduction : {"sum", "mean"}
        Any value other than ``"mean"`` leaves the weighted sum as it is.
    n_tasks : int
        The number of tasks the network serves.

    Returns
    -------
    torch.Tensor
        The scalar objective.
    """
    total = weighting(losses)
    return total / n_tasks if reduction == "mean" else total


class LossWeighting(nn.Module):
    """Base class: combine per-task losses into the training objective.

    Parameters
    ----------
    tasks : sequence of str
        The network's tasks.
    kinds : mapping of str to str
        Each task's kind (``"regression"``, ``"binary"``, ``"multiclass"``).
    """

    def __init__(self, tasks: Sequence[str], kinds: Mapping[str, str]):
        super().__init__()
        self.tasks = tuple(tasks)
        self.kinds = dict(kinds)

    def forward(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:  # pragma: no cover - abstract
        """The step's objective from its task losses; subclasses define it.

        Parameters
        ----------
        losses : mapping of str to torch.Tensor
            Scalar loss of each task present in the step, by task name.

        Returns
        -------
        torch.Tensor
            The scalar objective.
        """
        raise NotImplementedError

    def weights(self) -> dict[str, float]:
        """The current effective weight of each task's loss (for logs and reports).

        Returns
        -------
        dict of str to float
            1 for every task here; subclasses with learned weights override it.
        """
        return {t: 1.0 for t in self.tasks}


class EqualWeighting(LossWeighting):
    """Sum of the task losses present (every task weight 1): MT-DNN's choice."""

    def forward(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The sum of the task losses.

        Parameters
        ----------
        losses : mapping of str to torch.Tensor
            Scalar loss of each task present in the step, by task name.

        Returns
        -------
        torch.Tensor
            The scalar objective.
        """
        return torch.stack(list(losses.values())).sum()


class UncertaintyWeighting(LossWeighting):
    """Homoscedastic uncertainty weighting (Kendall, Gal and Cipolla, CVPR 2018).

    With a learned ``s_t = log σ_t²`` per task: regression contributes ``exp(-s_t) / 2 * L_t + s_t / 2`` and
    classification ``exp(-s_t) * L_t + s_t / 2`` (the paper's eq. 7 and 10 in log-variance form, which is
    numerically stable and unconstrained). ``s_t`` starts at 0.

    Parameters
    ----------
    tasks : sequence of str
        The network's tasks (one learned ``s_t`` each).
    kinds : mapping of str to str
        Each task's kind; regression tasks get the factor 1/2.
    """

    def __init__(self, tasks: Sequence[str], kinds: Mapping[str, str]):
        super().__init__(tasks, kinds)
        self.log_var = nn.Parameter(torch.zeros(len(self.tasks)))
        self._index = {t: i for i, t in enumerate(self.tasks)}

    def _factor(self, task: str) -> float:
        # Gaussian likelihood has the 1/2 in front of the squared error; softmax likelihood does not.
        return 0.5 if self.kinds[task] == "regression" else 1.0

    def forward(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The sum over the tasks present of their weighted losses plus ``s_t / 2``.

        Parameters
        ----------
        losses : mapping of str to torch.Tensor
            Scalar loss of each task present in the step, by task name.

        Returns
        -------
        torch.Tensor
            The scalar objective.
        """
        total = []
        for task, loss in losses.items():
            s = self.log_var[self._index[task]]
            total.append(self._factor(task) * torch.exp(-s) * loss + 0.5 * s)
        return torch.stack(total).sum()

    def weights(self) -> dict[str, float]:
        """The current effective weight of each task's loss: ``exp(-s_t)``, halved for regression.

        Returns
        -------
        dict of str to float
        """
        with torch.no_grad():
            return {t: float(self._factor(t) * torch.exp(-self.log_var[i])) for t, i in self._index.items()}


WeightingFactory = Callable[[Sequence[str], Mapping[str, str]], LossWeighting]

LOSS_WEIGHTINGS: Registry[WeightingFactory] = Registry("loss weighting")
"""The loss-weighting registry: ``factory(tasks, kinds) -> LossWeighting`` by name."""


def register_weighting(name: str, factory: WeightingFactory, description: str) -> None:
    """Register ``factory(tasks, kinds) -> LossWeighting`` under ``name`` (replacing an earlier one).

    Parameters
    ----------
    name : str
        The weighting's name (``TrainConfig.weighting``, the CLI's ``--weighting``).
    factory : callable
        ``factory(tasks, kinds) -> LossWeighting``.
    description : str
        One line.

    Raises
    ------
    InvalidArgument
        ``name`` is empty, or ``description`` is not one non-empty line.
    """
    LOSS_WEIGHTINGS.register(name, factory, description)


def available_weightings() -> list[str]:
    """The registered weighting names, sorted.

    Returns
    -------
    list of str
    """
    return LOSS_WEIGHTINGS.names()


def make_weighting(name: str, tasks: Sequence[str], kinds: Mapping[str, str]) -> LossWeighting:
    """Build the weighting registered under ``name`` for these tasks.

    Parameters
    ----------
    name : str
        A registered weighting.
    tasks : sequence of str
        The network's tasks.
    kinds : mapping of str to str
        Each task's kind.

    Returns
    -------
    LossWeighting

    Raises
    ------
    InvalidArgument
        For an unknown name, listing the registered ones.
    """
    return LOSS_WEIGHTINGS.get(name)(tasks, kinds)


register_weighting("equal", EqualWeighting, "every task's loss counts once (times its task weight)")
register_weighting(
    "uncertainty", UncertaintyWeighting, "learned homoscedastic uncertainty weights (Kendall et al. 2018)"
)
