"""The model protocol and the built-in model families (``mlp``, ``cnn``, ``mmoe``), registered by name.

A **model factory** is any callable ``build(tasks, variant, example_batch) -> torch.nn.Module``:

- ``tasks``: the :class:`~taskgroup.tasks.TaskSpec` of every task the network serves (``spec.out_dim`` is the
  width of the task's output);
- ``variant``: the size variant's name (``"full"``, ``"half"`` or the user's own);
- ``example_batch``: a few training inputs, to size the first layer (any shape: tables, images, token ids).

The module's ``forward(x)`` returns ``{task name: output of shape (n, out_dim)}``. TAG/CS affinity needs to know
which parameters are shared by all tasks: a module may define ``shared_parameters()`` (an iterable of
parameters); otherwise the caller names them with a parameter-name prefix (``shared="trunk"``).

The engine calls the factory inside :func:`taskgroup.engine.seeding.seeded`, so the module's initial weights
are a function of the run's seed without touching the caller's random state. Costs (FLOPs, parameters,
latency, memory) are profiled from the built module (:mod:`taskgroup.engine.profile`).

Built-in families (``make_factory("mlp", hidden=(64, 64))``):

- ``mlp``: a shared MLP trunk (inputs flattened) and one linear head per task (:class:`SharedTrunkNet`);
  each trunk layer and head is initialised from ``(seed, layer)`` / ``(seed, task name)``, not from
  construction order, so the network for {a, c} starts with exactly the trunk of {a, b, c} and the same heads
  for a and c: what lets the engine train many candidates as one stack (:mod:`taskgroup.engine.stacked`).
- ``cnn``: a small conv trunk for ``(N, C, H, W)`` inputs (3x3 conv, ReLU, 2x2 max-pool per layer, then global
  average pooling) and one linear head per task (:class:`ConvTrunkNet`).
- ``mmoe``: multi-gate mixture of experts (:class:`MMoE`).
- ``omoe``: one-gate mixture of experts (:class:`OMoE`): the same experts and towers, one gate for all tasks
  (MMoE's ablation in Ma et al. 2018).

Built-in families read the variant as a width multiplier: ``VARIANTS = {"full": 1.0, "half": 0.5}``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from taskgroup.engine.seeding import derive_seed, seeded
from taskgroup.errors import InvalidArgument
from taskgroup.registry import Registry
from taskgroup.tasks.suite import TaskSpec

__all__ = [
    "ModelFactory",
    "VARIANTS",
    "DEFAULT_HIDDEN",
    "SharedTrunkNet",
    "ConvTrunkNet",
    "MMoE",
    "OMoE",
    "BuiltinFactory",
    "ModelFamily",
    "MODEL_FAMILIES",
    "register_family",
    "available_families",
    "make_factory",
    "factory_name",
    "factory_options",
    "build_model",
    "variant_width",
    "trunk_widths",
    "init_linear_",
]

ModelFactory = Callable[[Sequence[TaskSpec], str, torch.Tensor], nn.Module]

VARIANTS: dict[str, float] = {"full": 1.0, "half": 0.5}
DEFAULT_HIDDEN: tuple[int, ...] = (64, 64)


def variant_width(variant: str) -> float:
    """Width multiplier of a built-in family's variant; :class:`InvalidArgument` naming the accepted ones."""
    try:
        return VARIANTS[variant]
    except (KeyError, TypeError):
        raise InvalidArgument(
            f"Built-in model families know the variants {list(VARIANTS)}; got {variant!r} (use your own model "
            "factory for other sizes)."
        ) from None


def trunk_widths(hidden: Sequence[int], width: float) -> tuple[int, ...]:
    """Hidden widths after the multiplier (at least 1 unit per layer)."""
    if width <= 0:
        raise InvalidArgument(f"width multiplier must be > 0; got {width}.")
    if not hidden or any(int(h) < 1 for h in hidden):
        raise InvalidArgument(f"hidden must be a non-empty list of positive layer widths; got {list(hidden)}.")
    return tuple(max(1, int(round(int(h) * width))) for h in hidden)


def init_linear_(layer: Any, seed: int) -> None:
    """PyTorch's default Linear/Conv initialisation (uniform in +-1/sqrt(fan_in)) drawn from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    fan_in = layer.weight[0].numel()
    bound = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=g)
        layer.bias.uniform_(-bound, bound, generator=g)


def _check_tasks(tasks: Sequence[TaskSpec]) -> tuple[TaskSpec, ...]:
    tasks = tuple(tasks)
    if not tasks:
        raise InvalidArgument("A network needs at least one task head; got none.")
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise InvalidArgument(f"Task names repeat: {names}.")
    bad = [n for n in names if "." in n or not n]
    if bad:
        raise InvalidArgument(f"Task names {bad} cannot name a head (no '.' and not empty).")
    return tasks


def _check_dropout(dropout: float) -> float:
    if not 0.0 <= float(dropout) < 1.0:
        raise InvalidArgument(f"dropout must be in [0, 1); got {dropout!r}.")
    return float(dropout)


def _base_seed(seed: int | None) -> int:
    # Drawn from torch's global generator, which the engine has seeded (and forked) for this build.
    return int(torch.randint(0, 2**62, (1,))) if seed is None else int(seed)


class SharedTrunkNet(nn.Module):
    """A shared-trunk multi-task MLP with one linear head per task (the ``mlp`` family).

    Parameters
    ----------
    n_features : int
        Input width (inputs of other shapes are flattened to this many values).
    tasks : sequence of TaskSpec
    hidden : sequence of int
        Full-size trunk widths (default (64, 64)).
    width : float
        Width multiplier (1.0 full, 0.5 half).
    dropout : float
        Dropout after each trunk ReLU (0: none; MT-DNN-KD's teacher ensembles vary it).
    seed : int, optional
        Base seed of the initial weights; default: drawn from torch's global generator.
    """

    def __init__(
        self,
        n_features: int,
        tasks: Sequence[TaskSpec],
        hidden: Sequence[int] = DEFAULT_HIDDEN,
        width: float = 1.0,
        dropout: float = 0.0,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        base = _base_seed(seed)
        tasks = _check_tasks(tasks)
        self.n_features = int(n_features)
        self.task_specs = tasks
        self.hidden = tuple(int(h) for h in hidden)
        self.width = float(width)
        self.dropout = _check_dropout(dropout)
        layers: list[nn.Module] = [nn.Flatten()]
        fan_in = self.n_features
        for w in trunk_widths(self.hidden, self.width):
            layers += [nn.Linear(fan_in, w), nn.ReLU()]
            if self.dropout > 0:
                layers.append(nn.Dropout(self.dropout))
            fan_in = w
        self.trunk = nn.Sequential(*layers)
        self.heads = nn.ModuleDict({t.name: nn.Linear(fan_in, t.out_dim) for t in tasks})
        self.reset_parameters(base)

    @property
    def trunk_layers(self) -> list[nn.Linear]:
        return [m for m in self.trunk if isinstance(m, nn.Linear)]

    def reset_parameters(self, seed: int) -> None:
        """Trunk layer ``l`` from (seed, "trunk", l, width), head ``t`` from (seed, "head", t, width)."""
        for index, layer in enumerate(self.trunk_layers):
            init_linear_(layer, derive_seed(seed, "trunk", index, self.width))
        for name, head in self.heads.items():
            init_linear_(head, derive_seed(seed, "head", name, self.width))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.trunk(x)
        return {name: head(z) for name, head in self.heads.items()}

    def shared_parameters(self) -> Iterator[nn.Parameter]:
        """The trunk's parameters (shared by every task)."""
        return self.trunk.parameters()


class ConvTrunkNet(nn.Module):
    """A small conv trunk for ``(N, C, H, W)`` inputs and one linear head per task (the ``cnn`` family).

    Each trunk layer is a 3x3 convolution (padding 1), ReLU and 2x2 max-pooling (skipped once the map is 1 pixel
    wide); global average pooling then gives one vector per example.

    Parameters
    ----------
    in_channels : int
    tasks : sequence of TaskSpec
    hidden : sequence of int
        Channels per conv layer at full size (default (16, 32)).
    width : float
        Channel and dense-layer multiplier.
    dropout : float
        Dropout before the heads.
    spatial : (int, int)
        Height and width of the input images.
    dense : sequence of int
        Widths of fully connected layers on the flattened feature map, at full size. Empty (default): global
        average pooling instead, which ignores where a feature is; dense layers keep position, which tasks such
        as a stroke's slant or width need.
    """

    def __init__(
        self,
        in_channels: int,
        tasks: Sequence[TaskSpec],
        hidden: Sequence[int] = (16, 32),
        width: float = 1.0,
        dropout: float = 0.0,
        spatial: tuple[int, int] = (8, 8),
        dense: Sequence[int] = (),
    ) -> None:
        super().__init__()
        tasks = _check_tasks(tasks)
        self.task_specs = tasks
        layers: list[nn.Module] = []
        channels, (h, w) = int(in_channels), spatial
        for c in trunk_widths(hidden, width):
            layers += [nn.Conv2d(channels, c, 3, padding=1), nn.ReLU()]
            if min(h, w) >= 2:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            channels = c
        if dense:
            layers.append(nn.Flatten())
            features = channels * h * w
            for units in trunk_widths(dense, width):
                layers += [nn.Linear(features, units), nn.ReLU()]
                features = units
        else:
            layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
            features = channels
        if _check_dropout(dropout) > 0:
            layers.append(nn.Dropout(dropout))
        self.trunk = nn.Sequential(*layers)
        self.heads = nn.ModuleDict({t.name: nn.Linear(features, t.out_dim) for t in tasks})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.trunk(x)
        return {name: head(z) for name, head in self.heads.items()}

    def shared_parameters(self) -> Iterator[nn.Parameter]:
        return self.trunk.parameters()


def _mlp(sizes: Sequence[int], dropout: float) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return layers


class MMoE(nn.Module):
    """Multi-gate mixture of experts (Ma et al., KDD 2018); the ``mmoe`` family.

    ``y_k = h_k(Σ_i g_k(x)_i f_i(x))`` with ``g_k(x) = softmax(W_gk x)``: shared expert MLPs ``f_i``, one linear
    softmax gate per task on the (flattened) input, one tower ``h_k`` (MLP + output layer) per task. The experts
    are the shared parameters.

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
        Width multiplier applied to expert and tower widths.
    dropout : float
        Dropout after each expert and tower layer.
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
    ) -> None:
        super().__init__()
        if int(n_experts) < 1:
            raise InvalidArgument(f"MMoE needs n_experts >= 1; got {n_experts!r}.")
        tasks = _check_tasks(tasks)
        experts = trunk_widths(expert_hidden, width)
        towers = trunk_widths(tower_hidden, width) if tower_hidden else ()
        self.dropout = _check_dropout(dropout)
        self.task_specs = tasks
        self.flatten = nn.Flatten()
        self.experts = nn.ModuleList(
            [nn.Sequential(*_mlp([int(n_features), *experts], self.dropout)) for _ in range(int(n_experts))]
        )
        self.gates = self._make_gates(int(n_features), int(n_experts), tasks)
        self.towers = nn.ModuleDict(
            {
                t.name: nn.Sequential(
                    *_mlp([experts[-1], *towers], self.dropout), nn.Linear(([experts[-1], *towers])[-1], t.out_dim)
                )
                for t in tasks
            }
        )

    def _make_gates(self, n_features: int, n_experts: int, tasks: Sequence[TaskSpec]) -> nn.ModuleDict:
        """One linear gate per task, keyed by task name."""
        return nn.ModuleDict({t.name: nn.Linear(n_features, n_experts) for t in tasks})

    def gate_weights(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each task's softmax mixture over the experts, shape (n, n_experts)."""
        x = self.flatten(x)
        return {t: torch.softmax(g(x), dim=1) for t, g in self.gates.items()}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        flat = self.flatten(x)
        experts = torch.stack([f(flat) for f in self.experts], dim=1)  # (n, n_experts, width)
        return {
            t: self.towers[t](torch.einsum("ne,new->nw", gate, experts)) for t, gate in self.gate_weights(x).items()
        }

    def shared_parameters(self) -> Iterator[nn.Parameter]:
        return self.experts.parameters()


class OMoE(MMoE):
    """One-gate mixture of experts (the ``omoe`` family): an :class:`MMoE` whose tasks all share one gate.

    ``y_k = h_k(Σ_i g(x)_i f_i(x))`` with one ``g(x) = softmax(W_g x)``: the ablation Ma et al. (KDD 2018) use to
    show that per-task gates are what lets MMoE serve less related tasks. Takes the arguments of :class:`MMoE`; it
    has one gate where MMoE has one per task.
    """

    def _make_gates(self, n_features: int, n_experts: int, tasks: Sequence[TaskSpec]) -> nn.ModuleDict:
        return nn.ModuleDict({"shared": nn.Linear(n_features, n_experts)})

    def gate_weights(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The one softmax mixture over the experts (shape (n, n_experts)), the same tensor for every task."""
        mixture = torch.softmax(self.gates["shared"](self.flatten(x)), dim=1)
        return {t.name: mixture for t in self.task_specs}


# ---------------------------------------------------------------------- registry
def _build_mlp(
    tasks: Sequence[TaskSpec],
    variant: str,
    example_batch: torch.Tensor,
    *,
    hidden: Sequence[int] = DEFAULT_HIDDEN,
    dropout: float = 0.0,
) -> nn.Module:
    n_features = int(example_batch[0].numel())
    return SharedTrunkNet(n_features, tasks, hidden, variant_width(variant), dropout)


def _build_cnn(
    tasks: Sequence[TaskSpec],
    variant: str,
    example_batch: torch.Tensor,
    *,
    hidden: Sequence[int] = (16, 32),
    dropout: float = 0.0,
    dense: Sequence[int] = (),
) -> nn.Module:
    if example_batch.ndim != 4:
        raise InvalidArgument(
            f"The cnn family takes images of shape (N, C, H, W); the suite's inputs have shape "
            f"{tuple(example_batch.shape)} (use mlp for tables, or your own model factory)."
        )
    _, c, h, w = example_batch.shape
    return ConvTrunkNet(int(c), tasks, hidden, variant_width(variant), dropout, (int(h), int(w)), tuple(dense))


def _build_experts(
    tasks: Sequence[TaskSpec],
    variant: str,
    example_batch: torch.Tensor,
    *,
    gates: type[MMoE],
    n_experts: int = 4,
    expert_hidden: Sequence[int] = (32,),
    tower_hidden: Sequence[int] = (16,),
    dropout: float = 0.0,
) -> nn.Module:
    """``mmoe`` (``gates=MMoE``: one gate per task) and ``omoe`` (``gates=OMoE``: one gate for all)."""
    n_features = int(example_batch[0].numel())
    return gates(n_features, tasks, n_experts, expert_hidden, tower_hidden, variant_width(variant), dropout)


@dataclass(frozen=True)
class ModelFamily:
    """A registered model family: ``build(tasks, variant, example_batch, **options)`` and its option names."""

    name: str
    build: Callable[..., nn.Module]
    description: str
    options: tuple[str, ...]


MODEL_FAMILIES: Registry[ModelFamily] = Registry("model family")
"""The model-family registry (``mlp``, ``cnn``, ``mmoe`` and the user's own registrations)."""


def register_family(name: str, build: Callable[..., nn.Module], description: str, options: Sequence[str]) -> None:
    """Register ``build(tasks, variant, example_batch, **options) -> nn.Module`` under ``name``.

    ``options`` names the keyword options the family accepts (``dropout`` must be one of them: the teacher
    ensembles of distillation vary it).
    """
    MODEL_FAMILIES.register(name, ModelFamily(name, build, description, tuple(options)), description)


def available_families() -> dict[str, str]:
    """Registered family names and one-line descriptions."""
    return MODEL_FAMILIES.descriptions()


@dataclass(frozen=True)
class BuiltinFactory:
    """A registered family with its options, callable as a model factory."""

    family: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, tasks: Sequence[TaskSpec], variant: str, example_batch: torch.Tensor) -> nn.Module:
        return MODEL_FAMILIES.get(self.family).build(tasks, variant, example_batch, **dict(self.options))

    def with_options(self, **options: Any) -> ModelFactory:
        return make_factory(self.family, {**dict(self.options), **options})


def make_factory(model: str | ModelFactory, options: Mapping[str, Any] | None = None) -> ModelFactory:
    """A model factory from a family name and its options, or the user's own factory (then no options).

    Raises
    ------
    InvalidArgument
        An unknown family, options the family does not accept, options given with a user factory, or a model
        that is neither a name nor callable.
    """
    options = dict(options or {})
    if isinstance(model, str):
        if model not in MODEL_FAMILIES:
            raise InvalidArgument(
                f"Unknown model family {model!r}; accepted: {MODEL_FAMILIES.names()} or your own "
                "factory build(tasks, variant, example_batch) -> nn.Module."
            )
        unknown = sorted(set(options) - set(MODEL_FAMILIES.get(model).options))
        if unknown:
            raise InvalidArgument(
                f"Model family {model!r} has no option(s) {unknown}; its options are "
                f"{list(MODEL_FAMILIES.get(model).options)}."
            )
        return BuiltinFactory(model, {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()})
    if callable(model):
        if options:
            raise InvalidArgument(
                f"Options {sorted(options)} apply to built-in families only; a model factory "
                "of your own takes its sizes from the variant name."
            )
        return model
    raise InvalidArgument(
        f"model must be a family name {MODEL_FAMILIES.names()} or a callable "
        f"build(tasks, variant, example_batch); got {type(model).__name__}."
    )


def factory_name(factory: ModelFactory) -> str:
    """How a factory is named in configurations and checkpoints: the family, or ``module:qualname``."""
    if isinstance(factory, BuiltinFactory):
        return factory.family
    module = getattr(factory, "__module__", None) or type(factory).__module__
    qualname = getattr(factory, "__qualname__", None) or type(factory).__qualname__
    return f"{module}:{qualname}"


def factory_options(factory: ModelFactory) -> dict[str, Any]:
    """The options of a built-in family's factory (empty for the user's own factory)."""
    return dict(factory.options) if isinstance(factory, BuiltinFactory) else {}


def build_model(
    factory: ModelFactory,
    tasks: Sequence[TaskSpec],
    variant: str,
    example_batch: torch.Tensor,
    seed: int,
) -> nn.Module:
    """Call ``factory`` with torch's generator seeded from ``(seed, "init")`` and check what it returns.

    Raises
    ------
    InvalidArgument
        If the factory returns something that is not an ``nn.Module``, or whose forward does not return a
        mapping with an output of shape (n, out_dim) for every task.
    """
    with seeded(seed, "init"):
        model = factory(tuple(tasks), variant, example_batch)
    if not isinstance(model, nn.Module):
        raise InvalidArgument(
            f"The model factory {factory_name(factory)} returned {type(model).__name__}; it must "
            "return a torch.nn.Module."
        )
    was_training = model.training
    model.eval()
    with torch.no_grad(), seeded(seed, "check"):
        out = model(example_batch)
    model.train(was_training)
    if not isinstance(out, Mapping):
        raise InvalidArgument(
            f"The model from {factory_name(factory)} returned {type(out).__name__} from forward; it "
            "must return a dict {task name: output of shape (n, out_dim)}."
        )
    n = example_batch.shape[0]
    for spec in tasks:
        got = out.get(spec.name)
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != (n, spec.out_dim):
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else got
            raise InvalidArgument(
                f"The model from {factory_name(factory)} gives task {spec.name!r} output {shape}; expected a tensor "
                f"of shape ({n}, {spec.out_dim}) (regression and binary: 1 column, multiclass: one per class)."
            )
    return model


register_family(
    "mlp", _build_mlp, "shared MLP trunk (inputs flattened) + one linear head per task", ("hidden", "dropout")
)
register_family(
    "cnn",
    _build_cnn,
    "small conv trunk for (N, C, H, W) images + one linear head per task",
    ("hidden", "dropout", "dense"),
)
register_family(
    "mmoe",
    functools.partial(_build_experts, gates=MMoE),
    "multi-gate mixture of experts: shared experts, a softmax gate and tower per task",
    ("n_experts", "expert_hidden", "tower_hidden", "dropout"),
)
register_family(
    "omoe",
    functools.partial(_build_experts, gates=OMoE),
    "one-gate mixture of experts: shared experts, one softmax gate, a tower per task",
    ("n_experts", "expert_hidden", "tower_hidden", "dropout"),
)
