"""The candidate network family: a shared MLP trunk and one linear head per task.

``SharedTrunkNet(n_features, tasks, hidden=(64, 64), width=1.0, seed=0)``

- ``net.trunk``: ``nn.Sequential`` of ``Linear -> ReLU`` blocks, widths ``round(h * width)`` for ``h`` in
  ``hidden``. These are the *shared* parameters (``net.shared_parameters()``).
- ``net.heads``: ``nn.ModuleDict`` task name -> ``nn.Linear(last_width, spec.out_dim)``, the *task-specific*
  parameters (``net.task_parameters(name)``).
- ``net(x)`` returns ``{task: output (n, out_dim)}``; ``net.features(x)`` the trunk output.

Initial weights are a pure function of ``(seed, layer)`` for the trunk and of ``(seed, task name)`` for a
head, not of construction order: the network for tasks {a, c} starts with exactly the trunk of the network for
{a, b, c} and the same heads for a and c. This is what lets many candidates be stacked and trained at once
(``taskgroup.measure.vectorised``) with the same initial weights as training each one alone, and it makes
comparisons between candidates use common random numbers.

The width multiplier gives the paper's half-size networks (``VARIANTS = {"full": 1.0, "half": 0.5}``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from taskgroup.errors import InvalidArgument
from taskgroup.measure.suite import TaskSpec

__all__ = ["SharedTrunkNet", "VARIANTS", "DEFAULT_HIDDEN", "derive_seed", "trunk_widths", "init_linear_"]

VARIANTS: dict[str, float] = {"full": 1.0, "half": 0.5}
DEFAULT_HIDDEN: tuple[int, ...] = (64, 64)


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed from a base seed and labels, stable across processes and Python versions."""
    text = repr((int(seed), *map(str, parts))).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1


def trunk_widths(hidden: Sequence[int], width: float) -> tuple[int, ...]:
    """Hidden widths after the multiplier (at least 1 unit per layer)."""
    if width <= 0:
        raise InvalidArgument(f"width multiplier must be > 0; got {width}.")
    if not hidden or any(int(h) < 1 for h in hidden):
        raise InvalidArgument(f"hidden must be a non-empty list of positive layer widths; got {list(hidden)}.")
    return tuple(max(1, int(round(int(h) * width))) for h in hidden)


def init_linear_(layer: nn.Linear, seed: int) -> None:
    """PyTorch's default nn.Linear initialisation (uniform in +-1/sqrt(fan_in)) drawn from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    bound = 1.0 / math.sqrt(layer.in_features)
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=g)
        layer.bias.uniform_(-bound, bound, generator=g)


class SharedTrunkNet(nn.Module):
    """A shared-trunk multi-task MLP with one linear head per task.

    Parameters
    ----------
    n_features : int
        Input width.
    tasks : sequence of TaskSpec
        One head per task, of width ``spec.out_dim``.
    hidden : sequence of int
        Full-size trunk widths (default (64, 64)).
    width : float
        Width multiplier (1.0 full, 0.5 half).
    seed : int
        Seed of the initial weights (see the module docstring for how it is derived per layer and head).
    """

    def __init__(
        self,
        n_features: int,
        tasks: Sequence[TaskSpec],
        hidden: Sequence[int] = DEFAULT_HIDDEN,
        width: float = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not tasks:
            raise InvalidArgument("A network needs at least one task head; got none.")
        names = [t.name for t in tasks]
        if len(set(names)) != len(names):
            raise InvalidArgument(f"Task names repeat: {names}.")
        bad = [n for n in names if "." in n or not n]
        if bad:
            raise InvalidArgument(f"Task names {bad} cannot name a head (no '.' and not empty).")
        self.n_features = int(n_features)
        self.task_specs = tuple(tasks)
        self.hidden = tuple(int(h) for h in hidden)
        self.width = float(width)
        self.seed = int(seed)
        widths = trunk_widths(self.hidden, self.width)
        layers: list[nn.Module] = []
        fan_in = self.n_features
        for w in widths:
            layers += [nn.Linear(fan_in, w), nn.ReLU()]
            fan_in = w
        self.trunk = nn.Sequential(*layers)
        self.heads = nn.ModuleDict({t.name: nn.Linear(fan_in, t.out_dim) for t in tasks})
        self.reset_parameters(seed)

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(self.heads.keys())

    @property
    def trunk_layers(self) -> list[nn.Linear]:
        return [m for m in self.trunk if isinstance(m, nn.Linear)]

    def reset_parameters(self, seed: int) -> None:
        """Initialise every layer from ``seed``: trunk layer ``l`` from (seed, "trunk", l, width), head ``t``
        from (seed, "head", t, width)."""
        self.seed = int(seed)
        for index, layer in enumerate(self.trunk_layers):
            init_linear_(layer, derive_seed(seed, "trunk", index, self.width))
        for name, head in self.heads.items():
            init_linear_(head, derive_seed(seed, "head", name, self.width))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The shared representation (trunk output), shape (n, last width)."""
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.trunk(x)
        return {name: head(z) for name, head in self.heads.items()}

    def shared_parameters(self) -> Iterator[nn.Parameter]:
        """The trunk's parameters (shared by every task)."""
        return self.trunk.parameters()

    def task_parameters(self, task: str) -> Iterator[nn.Parameter]:
        """The parameters of one task's head."""
        if task not in self.heads:
            raise InvalidArgument(f"This network has no head {task!r}; its heads are {list(self.heads)}.")
        return self.heads[task].parameters()
