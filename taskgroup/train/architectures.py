"""Multi-task architectures registered by name: ``shared`` (hard parameter sharing) and ``mmoe``.

Every architecture is an ``nn.Module`` built by ``factory(n_features, tasks, **options)`` (``tasks``: a sequence
of :class:`~taskgroup.measure.suite.TaskSpec`) whose ``forward(x)`` returns ``dict task -> raw output`` of shape
(n, out_dim), the convention of :func:`taskgroup.measure.suite.task_loss`. ``(name, n_features, tasks,
options)`` is all that is needed to rebuild a network, which is what checkpoints store. Options always include
``seed`` (initial weights) and ``dropout`` (the teachers of distillation differ in it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from taskgroup.errors import InvalidArgument
from taskgroup.measure.models import DEFAULT_HIDDEN, SharedTrunkNet, trunk_widths
from taskgroup.measure.suite import TaskSpec

__all__ = [
    "SharedBottom",
    "MMoE",
    "ArchitectureSpec",
    "register_architecture",
    "get_architecture",
    "build_network",
    "available_architectures",
]


def _check_dropout(dropout: float) -> float:
    if not 0.0 <= float(dropout) < 1.0:
        raise InvalidArgument(f"dropout must be in [0, 1); got {dropout!r}.")
    return float(dropout)


class SharedBottom(SharedTrunkNet):
    """Hard parameter sharing: the measurement family's shared MLP trunk + one linear head per task, plus dropout.

    This *is* :class:`taskgroup.measure.models.SharedTrunkNet` (same layers, same seeded initialisation, so a
    plan's network trains from the weights its candidate was measured with) with optional dropout after each
    trunk layer, which MT-DNN-KD's teacher ensembles vary.

    Parameters
    ----------
    n_features : int
    tasks : sequence of TaskSpec
    hidden : sequence of int
        Full-size trunk widths.
    width : float
        Width multiplier (1.0 full, 0.5 half).
    dropout : float
        Dropout rate after each trunk ReLU (0: none).
    seed : int
        Seed of the initial weights.
    """

    def __init__(
        self,
        n_features: int,
        tasks: Sequence[TaskSpec],
        hidden: Sequence[int] = DEFAULT_HIDDEN,
        width: float = 1.0,
        dropout: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(n_features, tasks, hidden=hidden, width=width, seed=seed)
        self.dropout = _check_dropout(dropout)
        if self.dropout > 0:
            # re-thread the already initialised Linear/ReLU modules with dropout after each ReLU
            layers: list[nn.Module] = []
            for module in self.trunk:
                layers.append(module)
                if isinstance(module, nn.ReLU):
                    layers.append(nn.Dropout(self.dropout))
            self.trunk = nn.Sequential(*layers)


def _mlp(sizes: Sequence[int], dropout: float) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return layers


class MMoE(nn.Module):
    """Multi-gate mixture of experts (Ma et al., KDD 2018).

    ``y_k = h_k(Σ_i g_k(x)_i f_i(x))`` with ``g_k(x) = softmax(W_gk x)``: shared expert MLPs ``f_i``, one linear
    softmax gate per task on the input, one tower ``h_k`` (MLP + output layer) per task.

    Parameters
    ----------
    n_features : int
    tasks : sequence of TaskSpec
    n_experts : int
        Number of experts (default 4).
    expert_hidden : sequence of int
        Layer widths of each expert; the last is the width the gates mix (default (32,)).
    tower_hidden : sequence of int
        Hidden widths of each task tower before its output layer (default (16,); empty: a linear tower).
    width : float
        Width multiplier applied to expert and tower widths (as ``SharedTrunkNet``'s).
    dropout : float
        Dropout after each expert and tower layer.
    seed : int
        Seed of the initial weights (PyTorch default initialisation drawn under this seed).
    """

    def __init__(
        self,
        n_features: int,
        tasks: Sequence[TaskSpec],
        n_experts: int = 4,
        expert_hidden: Sequence[int] = (32,),
        tower_hidden: Sequence[int] = (16,),
        width: float = 1.0,
        dropout: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if int(n_experts) < 1:
            raise InvalidArgument(f"MMoE needs n_experts >= 1; got {n_experts!r}.")
        if not tasks:
            raise InvalidArgument("A network needs at least one task head; got none.")
        experts = trunk_widths(expert_hidden, width)
        towers = trunk_widths(tower_hidden, width) if tower_hidden else ()
        self.dropout = _check_dropout(dropout)
        self.task_specs = tuple(tasks)
        with torch.random.fork_rng(devices=[]):
            # initial weights depend on the seed only, not on the global RNG state or on other networks
            torch.manual_seed(int(seed))
            self.experts = nn.ModuleList(
                [nn.Sequential(*_mlp([int(n_features), *experts], self.dropout)) for _ in range(int(n_experts))]
            )
            self.gates = nn.ModuleDict({t.name: nn.Linear(int(n_features), int(n_experts)) for t in tasks})
            self.towers = nn.ModuleDict(
                {
                    t.name: nn.Sequential(*_mlp([experts[-1], *towers], self.dropout),
                                          nn.Linear(([experts[-1], *towers])[-1], t.out_dim))
                    for t in tasks
                }
            )

    def gate_weights(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each task's softmax mixture over the experts, shape (n, n_experts)."""
        return {t: torch.softmax(g(x), dim=1) for t, g in self.gates.items()}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        experts = torch.stack([f(x) for f in self.experts], dim=1)  # (n, n_experts, width)
        return {
            t: self.towers[t](torch.einsum("ne,new->nw", gate, experts)) for t, gate in self.gate_weights(x).items()
        }


@dataclass(frozen=True)
class ArchitectureSpec:
    name: str
    factory: Callable[..., nn.Module]
    description: str


_REGISTRY: dict[str, ArchitectureSpec] = {}


def register_architecture(name: str, factory: Callable[..., nn.Module], description: str = "") -> None:
    """Register ``factory(n_features, tasks, **options) -> nn.Module`` under ``name`` (replacing an earlier one).

    The factory must accept ``seed`` and ``dropout`` options.
    """
    _REGISTRY[name] = ArchitectureSpec(name, factory, description)


def available_architectures() -> list[str]:
    return sorted(_REGISTRY)


def get_architecture(name: str) -> ArchitectureSpec:
    """The registered architecture ``name``; :class:`InvalidArgument` naming the accepted ones otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise InvalidArgument(f"Unknown architecture {name!r}; accepted: {available_architectures()}.") from None


def build_network(name: str, n_features: int, tasks: Sequence[TaskSpec], **options: Any) -> nn.Module:
    """Build the architecture registered under ``name`` for ``tasks``.

    Raises
    ------
    InvalidArgument
        An unknown architecture name, or options the architecture does not accept.
    """
    spec = get_architecture(name)
    try:
        return spec.factory(int(n_features), tuple(tasks), **options)
    except TypeError as exc:
        raise InvalidArgument(f"Bad options {sorted(options)} for architecture {name!r}: {exc}") from None


register_architecture("shared", SharedBottom, "hard sharing: the measurement MLP trunk + one linear head per task")
register_architecture("mmoe", MMoE, "multi-gate mixture of experts: shared experts, a softmax gate and tower per task")
