"""Checkpoints: a network's state dict with the config to rebuild it, written atomically, read with checks.

A checkpoint is a ``torch.save`` file of ``{"format", "config", "state_dict", "extra"}`` (format
:data:`CHECKPOINT_FORMAT`; the config from :func:`network_config`), written to a file by :func:`save_checkpoint`
or made as bytes by :func:`checkpoint_bytes` (to keep a network elsewhere than in a file). The deployment
manifest (:mod:`taskgroup.manifest`) lists checkpoint files by path and sha256 (:func:`sha256_file`).

A checkpoint names its model by family (``"mlp"``) or by ``module:qualname`` of the user's factory. Loading never
imports code a file names: a family is rebuilt from its name, the user's own model only from the factory passed
as ``model=build``; torch reads it with ``weights_only=True``, so no pickled code runs. A network is rebuilt only
after its config's sizes are checked against bounds (``MAX_*``), so a hostile file cannot make taskgroup allocate
without limit, and its weights must be finite.
"""

from __future__ import annotations

import hashlib
import io
import math
import pickle
import warnings
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any, BinaryIO

import torch
from torch import nn

from taskgroup.engine.families import (
    MODEL_FAMILIES,
    ModelFactory,
    build_model,
    factory_name,
    factory_options,
    make_factory,
)
from taskgroup.errors import InvalidArgument, ManifestError
from taskgroup.fields import Fields
from taskgroup.files import atomic_write, describe_os_error
from taskgroup.tasks.suite import TaskSpec

__all__ = [
    "CHECKPOINT_FORMAT",
    "sha256_file",
    "network_config",
    "spec_from_dict",
    "save_checkpoint",
    "checkpoint_bytes",
    "load_checkpoint",
    "read_checkpoint",
]

CHECKPOINT_FORMAT = "taskgroup.checkpoint/1"


def sha256_file(path: str | PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in blocks of 1 MiB (a large checkpoint is never held whole).

    Parameters
    ----------
    path : path
        The file to hash.

    Returns
    -------
    str
        The sha256 of the file's bytes as 64 lowercase hex digits.

    Raises
    ------
    OSError
        The file cannot be opened or read (missing, a folder, no permission): the operating system's error, not a
        taskgroup one. taskgroup calls it on files it has just written or checked
        (:func:`taskgroup.manifest.artifact_path`).
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def network_config(
    factory: ModelFactory, tasks: Sequence[TaskSpec], variant: str, example_batch: torch.Tensor, seed: int
) -> dict[str, Any]:
    """The plain-data config :func:`load_checkpoint` rebuilds a network from (task specs as dicts).

    Parameters
    ----------
    factory : model factory
        The factory that built the network: a built-in family's (stored by family name and options) or the user's
        own (stored as ``module:qualname``, with no options).
    tasks : sequence of TaskSpec
        The tasks the network was built for, in the order of its heads.
    variant : str
        The size variant the factory was called with (``"full"``, ``"half"``, or one the user's factory knows).
    example_batch : torch.Tensor
        A batch of model inputs, shape ``(n, *input_shape)``; its trailing shape and dtype are recorded.
    seed : int
        The seed the network was initialised with.

    Returns
    -------
    dict
        ``model``, ``options`` (tuple values as lists), ``variant``, ``input_shape``, ``input_dtype`` (like
        ``"float32"``), ``tasks`` (each ``TaskSpec.to_dict()``) and ``seed``: plain data, JSON-compatible where
        the options are.
    """
    return {
        "model": factory_name(factory),
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in factory_options(factory).items()},
        "variant": variant,
        "input_shape": list(example_batch.shape[1:]),
        "input_dtype": str(example_batch.dtype).replace("torch.", ""),
        "tasks": [t.to_dict() for t in tasks],
        "seed": int(seed),
    }


def spec_from_dict(data: Mapping[str, Any]) -> TaskSpec:
    """Inverse of ``TaskSpec.to_dict`` (class labels come back as the strings the dict holds).

    Parameters
    ----------
    data : mapping
        A task spec as ``TaskSpec.to_dict`` writes it: ``name``, ``kind`` and ``n_classes`` required; ``classes``
        (default none), ``target_mean`` (default 0) and ``target_std`` (default 1) optional. Its field types are
        not checked here; :func:`read_checkpoint` and :func:`taskgroup.manifest.read_manifest` check them first.

    Returns
    -------
    TaskSpec

    Raises
    ------
    ManifestError
        ``name``, ``kind`` or ``n_classes`` missing, a value that does not convert, a ``kind`` that is not a task
        kind, or an ``n_classes`` that does not fit the kind (regression 1, binary 2, multiclass 3 or more): a
        file's task spec that no network can be built for.
    """
    try:
        return TaskSpec(
            name=str(data["name"]),
            kind=str(data["kind"]),
            n_classes=int(data["n_classes"]),
            classes=tuple(data.get("classes", ())),
            target_mean=float(data.get("target_mean", 0.0)),
            target_std=float(data.get("target_std", 1.0)),
        )
    except KeyError as exc:
        raise ManifestError(
            f"A task spec lacks the field {exc}: {dict(data)!r}; a spec needs name, kind and n_classes."
        ) from None
    except (
        TypeError,
        ValueError,
    ) as exc:  # InvalidSuite is a ValueError: an unknown kind, a class count that does not fit
        raise ManifestError(f"The task spec {dict(data)!r} is not valid: {exc}") from None


def save_checkpoint(
    model: nn.Module, path: str | PathLike[str], config: Mapping[str, Any], extra: Mapping[str, Any] | None = None
) -> str:
    """Save ``{"format", "config", "state_dict", "extra"}`` atomically; return the file's sha256.

    The weights are detached and moved to the CPU; the file appears under ``path`` only once whole
    (:func:`taskgroup.files.atomic_write`).

    Parameters
    ----------
    model : torch.nn.Module
        The trained network.
    path : path
        The checkpoint file to write (replaced if it exists); its folder must exist.
    config : mapping
        The network's :func:`network_config`, which :func:`load_checkpoint` rebuilds it from.
    extra : mapping, optional
        Plain data kept beside the weights: tensors, numbers, strings, and lists and dicts of them. Other objects
        are saved too, but :func:`load_checkpoint` then refuses the file (it never unpickles code).

    Returns
    -------
    str
        The written file's sha256 (:func:`sha256_file`), as a manifest records it.

    Raises
    ------
    InvalidArgument
        ``path`` is a symbolic link or a folder.
    OSError
        The file cannot be written (its folder missing, no permission, no space).
    """
    path = Path(path)
    payload = _payload(model, config, extra)
    atomic_write(path, lambda p: torch.save(payload, p))
    return sha256_file(path)


def checkpoint_bytes(model: nn.Module, config: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> bytes:
    """The bytes :func:`save_checkpoint` would write, for keeping a network elsewhere (a results store).

    Parameters
    ----------
    model : torch.nn.Module
        The trained network.
    config : mapping
        Its :func:`network_config`.
    extra : mapping, optional
        Plain data kept beside the weights.

    Returns
    -------
    bytes
        A checkpoint that :func:`load_checkpoint` reads (given ``io.BytesIO(data)``); the weights are on the CPU.
    """
    buffer = io.BytesIO()
    torch.save(_payload(model, config, extra), buffer)
    return buffer.getvalue()


def _payload(model: nn.Module, config: Mapping[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    return {
        "format": CHECKPOINT_FORMAT,
        "config": dict(config),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra": dict(extra or {}),
    }


def load_checkpoint(
    path: str | PathLike[str] | BinaryIO, *, model: ModelFactory | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the network saved at ``path`` (eval mode, on the CPU) and return it with its checkpoint extras.

    Parameters
    ----------
    path : path or binary file
        The checkpoint file, or an open binary file holding one (e.g. ``io.BytesIO(checkpoint_bytes(...))``).
    model : model factory, optional
        The factory that built the network, for a checkpoint of your own model: a checkpoint that names a
        ``module:qualname`` is never imported by that name (a file must not choose which code runs). Given, it is
        used whatever model the checkpoint names; absent, the checkpoint must name a built-in family.

    Returns
    -------
    (torch.nn.Module, dict)
        The network with the checkpoint's weights, in eval mode on the CPU, and the ``extra`` saved beside them
        (empty if none).

    Raises
    ------
    ManifestError
        A missing or unreadable file, not a taskgroup checkpoint (or not a file torch can read, or one holding
        objects other than tensors and plain data), a config field of the wrong type, sizes beyond the bounds
        (``MAX_*``), a model that is not a built-in family and no ``model`` given, a model that cannot be rebuilt,
        a state that does not fit the config, weights that are not finite, or a task spec in the config whose kind
        is not a task kind or whose ``n_classes`` does not fit its kind.
    """
    network, extra, _ = read_checkpoint(path, model)
    return network, extra


def read_checkpoint(
    path: str | PathLike[str] | BinaryIO, model: ModelFactory | None = None
) -> tuple[nn.Module, dict[str, Any], dict[str, Any]]:
    """As :func:`load_checkpoint`, and also the checked config the network was rebuilt from.

    Parameters
    ----------
    path : path or binary file
        The checkpoint file, or an open binary file holding one.
    model : model factory, optional
        As :func:`load_checkpoint`: the factory for a checkpoint of your own model.

    Returns
    -------
    (torch.nn.Module, dict, dict)
        The network (eval mode, on the CPU), its extras, and its config as :func:`network_config` wrote it, with
        every field's type and size checked.

    Raises
    ------
    ManifestError
        As :func:`load_checkpoint`.
    """
    label = str(getattr(path, "name", "a checkpoint in memory")) if hasattr(path, "read") else str(path)
    try:
        # weights_only: a checkpoint holds tensors and plain data only, so loading never runs pickled code;
        # torch warns about pickle protocols of files it then refuses anyway
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ManifestError(f"No such checkpoint: {label!r}.") from None
    except OSError as exc:
        raise ManifestError(f"Cannot read the checkpoint: {describe_os_error(exc)}") from None
    except pickle.UnpicklingError:
        raise ManifestError(
            f"{label!r} holds objects other than tensors and plain data; taskgroup refuses to load it (loading "
            "them could run code). A taskgroup checkpoint holds only a state dict and its config."
        ) from None
    except Exception as exc:  # torch raises zip, EOF and runtime errors for files it cannot read
        reason = " ".join(str(exc).split())[:200]
        raise ManifestError(
            f"{label!r} is not a PyTorch checkpoint torch can read ({type(exc).__name__}: {reason})."
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ManifestError(f"{label!r} is not a taskgroup checkpoint (expected format {CHECKPOINT_FORMAT!r}).")
    doc = Fields(payload, f"checkpoint {label!r}", ManifestError)
    cfg = _checked_config(doc.child("config"))
    state = doc.mapping("state_dict")
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        doc.fail(f"In the checkpoint {label!r}, state_dict must map names to tensors.")
    tasks = [spec_from_dict(t) for t in cfg["tasks"]]
    factory = model if model is not None else _family_factory(cfg, label)
    try:
        example = torch.zeros(2, *cfg["input_shape"], dtype=getattr(torch, cfg["input_dtype"]))
        network = build_model(factory, tasks, cfg["variant"], example, cfg["seed"])
        network.load_state_dict(state)
    except (InvalidArgument, RuntimeError, KeyError, TypeError, ValueError) as exc:
        message = " ".join(str(exc).split())[:400]
        raise ManifestError(f"Checkpoint {label!r} cannot be rebuilt from its config: {message}") from None
    bad = [name for name, tensor in state.items() if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if bad:
        raise ManifestError(
            f"Checkpoint {label!r} has weights that are not finite (NaN or inf) in {bad[:5]}; its network cannot "
            "give predictions. Train it again (a lower learning rate avoids divergence)."
        )
    network.eval()
    return network, dict(doc.mapping("extra", {})), cfg


# Bounds on what a checkpoint's config may ask to build, checked before anything is allocated: far beyond the
# networks taskgroup trains (a few million parameters), far below what exhausts a machine's memory.
MAX_INPUT_ELEMENTS = 1 << 24
MAX_WIDTH = 1 << 16
MAX_TASKS = 1024
MAX_CLASSES = 1 << 16


def _checked_config(cfg: Fields) -> dict[str, Any]:
    """A checkpoint's config with each field's type checked and every size bounded (``MAX_*`` above)."""
    cfg.string("model")
    cfg.string("variant")
    cfg.integer("seed")
    options = cfg.mapping("options", {})
    shape = cfg.sequence("input_shape")
    if not shape or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape):
        cfg.fail(f"In the {cfg.document}, config.input_shape must be a list of positive integers; got {shape!r}.")
    if math.prod(shape) > MAX_INPUT_ELEMENTS:
        cfg.fail(
            f"In the {cfg.document}, config.input_shape {shape} has {math.prod(shape)} elements; at most "
            f"{MAX_INPUT_ELEMENTS} are accepted."
        )
    dtype = cfg.string("input_dtype")
    if dtype not in ("float32", "float64", "float16", "bfloat16"):
        cfg.fail(f"In the {cfg.document}, config.input_dtype must be a float type like 'float32'; got {dtype!r}.")
    tasks = cfg.sequence("tasks")
    if not 1 <= len(tasks) <= MAX_TASKS:
        cfg.fail(f"In the {cfg.document}, config.tasks must list 1 to {MAX_TASKS} tasks; got {len(tasks)}.")
    for i in range(len(tasks)):
        task = cfg.item("tasks", i)
        task.string("name")
        task.string("kind")
        n_classes = task.integer("n_classes")
        if not 0 <= n_classes <= MAX_CLASSES:
            task.fail(
                f"In the {cfg.document}, config.tasks[{i}].n_classes must be 0 to {MAX_CLASSES}; got {n_classes}."
            )
        task.sequence("classes", [])
        task.number("target_mean", 0.0)
        task.number("target_std", 1.0)
    too_wide = [v for v in _integers(options) if v > MAX_WIDTH]
    if too_wide:
        cfg.fail(
            f"In the {cfg.document}, config.options {dict(options)!r} ask for sizes {too_wide}; each must be at most "
            f"{MAX_WIDTH}."
        )
    return dict(cfg.data)


def _integers(value: Any) -> list[int]:
    """Every integer inside nested options (widths, expert counts)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, Mapping):
        return [v for item in value.values() for v in _integers(item)]
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _integers(item)]
    return []


def _family_factory(cfg: Mapping[str, Any], label: str) -> ModelFactory:
    """The built-in family a checkpoint names; a ``module:qualname`` is refused, never imported."""
    name = cfg["model"]
    if name not in MODEL_FAMILIES:
        raise ManifestError(
            f"Checkpoint {label!r} was built by {name!r}, which is not a built-in family {MODEL_FAMILIES.names()}; "
            "taskgroup does not import code a file names. Pass the factory you trained it with: model=build in "
            f"Python, --model {name} on the command line."
        )
    try:
        return make_factory(name, cfg["options"])
    except InvalidArgument as exc:
        raise ManifestError(f"Checkpoint {label!r} cannot be rebuilt from its config: {exc}") from None
