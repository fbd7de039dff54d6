"""The one training configuration, shared by measurement, affinity probes, ESA short runs and plan training."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from taskgroup.engine.batching import BATCHINGS, SAMPLINGS
from taskgroup.engine.families import DEFAULT_HIDDEN, ModelFactory, factory_name, make_factory
from taskgroup.engine.stopping import STOPPING_CRITERIA
from taskgroup.engine.weighting import REDUCTIONS, available_weightings
from taskgroup.errors import InvalidArgument

__all__ = ["TrainConfig"]


# Fields added after results were first stored, with the value that trains as before they existed: at that value
# a field is left out of the hash, so that the results already stored keep their key.
_KEYED_WHEN_CHANGED: dict[str, Any] = {"stopping": "loss"}


@dataclass(frozen=True)
class TrainConfig:
    """How a network is built and trained. Its :meth:`hash` keys measured results in the store.

    Parameters
    ----------
    model : str or callable
        A registered family (``"mlp"``, ``"cnn"``, ``"mmoe"``, ``"omoe"``) or a factory ``build(tasks, variant,
        example_batch) -> nn.Module`` of your own (see :mod:`taskgroup.engine.families`).
    hidden : tuple of int
        Full-size trunk widths of the ``mlp`` family (channels of ``cnn``); default (64, 64).
    options : mapping
        Further options of a built-in family (e.g. ``{"n_experts": 4}`` for ``mmoe``, ``{"dropout": 0.1}``).
    epochs : int
        Maximum epochs (default 50).
    batch_size : int
        Mini-batch size (default 128).
    lr : float
        Adam learning rate (default 1e-3).
    weight_decay : float
        Adam L2 penalty (default 0).
    patience : int or None
        Stop after this many epochs without a lower validation loss and keep the best epoch's weights
        (default 10); None runs every epoch (the best epoch is still kept).
    stopping : {"loss", "calibrated"}
        What early stopping and the kept epoch minimise: the sum of the tasks' validation losses (default), or of
        their losses at each head's best temperature that epoch (:mod:`taskgroup.engine.stopping` says when that
        helps and what it costs).
    reduction : {"sum", "mean"}
        Training loss of a multi-task network: the sum (default; as in Standley et al.'s code) or the mean
        (as in their paper) of the (weighted) task losses.
    weighting : str
        A registered loss weighting: ``"equal"`` (default) or ``"uncertainty"`` (Kendall et al.).
    batching : {"auto", "joint", "per_task"}
        Joint batches of examples, or MT-DNN's per-task batches (see :mod:`taskgroup.engine.batching`).
    sampling : {"proportional", "uniform"}
        Task sampling of per-task batches.
    soft_weight : float
        Weight of the soft-target loss for tasks with a teacher (0.5: MT-DNN-KD's average).
    temperature : float
        Distillation temperature (1: none).
    device : str
        ``"cpu"`` (default), ``"cuda"``, ``"cuda:N"`` or ``"mps"``; data moves to it one batch at a time. Not
        part of :meth:`hash`: the same run on another device resumes the same results.
    """

    model: str | ModelFactory = "mlp"
    hidden: tuple[int, ...] = DEFAULT_HIDDEN
    options: Mapping[str, Any] = field(default_factory=dict)
    epochs: int = 50
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int | None = 10
    stopping: str = "loss"
    reduction: str = "sum"
    weighting: str = "equal"
    batching: str = "auto"
    sampling: str = "proportional"
    soft_weight: float = 0.5
    temperature: float = 1.0
    device: str = "cpu"

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "options", dict(self.options))
        checks = {
            "epochs": isinstance(self.epochs, int) and self.epochs >= 1,
            "batch_size": isinstance(self.batch_size, int) and self.batch_size >= 1,
            "lr": isinstance(self.lr, (int, float)) and self.lr > 0 and math.isfinite(self.lr),
            "weight_decay": self.weight_decay >= 0,
            "patience": self.patience is None or (isinstance(self.patience, int) and self.patience >= 1),
            "hidden": len(self.hidden) >= 1 and min(self.hidden) >= 1,
            "temperature": self.temperature > 0,
            "soft_weight": 0.0 <= self.soft_weight <= 1.0,
        }
        for name, ok in checks.items():
            if not ok:
                raise InvalidArgument(
                    f"TrainConfig.{name}={getattr(self, name)!r} is not accepted (epochs, batch_size, patience: "
                    "integers >= 1, patience may be None; lr, temperature > 0; weight_decay >= 0; soft_weight in "
                    "[0, 1]; hidden: positive widths)."
                )
        choices = {
            "stopping": STOPPING_CRITERIA,
            "reduction": REDUCTIONS,
            "weighting": tuple(available_weightings()),
            "batching": BATCHINGS,
            "sampling": SAMPLINGS,
        }
        for name, accepted in choices.items():
            if getattr(self, name) not in accepted:
                raise InvalidArgument(f"TrainConfig.{name}={getattr(self, name)!r}; accepted: {list(accepted)}.")
        self.factory()  # an unknown family or option fails now, not in a worker

    def factory(self) -> ModelFactory:
        """The model factory this configuration builds networks with.

        Returns
        -------
        model factory
            For ``mlp`` and ``cnn``, the family with ``hidden`` and ``options``; for another family, with
            ``options``; a user factory as given.

        Raises
        ------
        InvalidArgument
            An unknown family or options it does not accept (checked already when the config is created).
        """
        if isinstance(self.model, str) and self.model in ("mlp", "cnn"):
            return make_factory(self.model, {"hidden": self.hidden, **self.options})
        return make_factory(self.model, self.options)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed, checked like a new config.

        Parameters
        ----------
        **changes
            Field names and their new values.

        Returns
        -------
        TrainConfig

        Raises
        ------
        InvalidArgument
            A new value the config does not accept, or a name that is not a field (the fields named).
        """
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise InvalidArgument(
                f"TrainConfig has no field(s) {unknown}; its fields are {[f.name for f in fields(self)]}."
            )
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the model as its family name or ``module:qualname``), without the device.

        Returns
        -------
        dict
            Every field but ``device``, and but a field added after results were stored while it has its old
            behaviour (``stopping="loss"``); ``hidden`` as a list, ``options`` sorted by key with tuples as lists.
        """
        d = asdict(self)
        d.pop("device")
        for name, old_behaviour in _KEYED_WHEN_CHANGED.items():
            if d[name] == old_behaviour:
                d.pop(name)
        d["model"] = self.model if isinstance(self.model, str) else factory_name(self.model)
        d["hidden"] = list(self.hidden)
        d["options"] = {k: list(v) if isinstance(v, tuple) else v for k, v in sorted(self.options.items())}
        return d

    def hash(self) -> str:
        """The key of this config's results in a results store: equal for configs that train the same way.

        Returns
        -------
        str
            The first 12 hex digits of the sha256 of :meth:`to_dict` as sorted JSON (the device left out).
        """
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]
