"""Checkpoints (state dict + the config to rebuild the network) and the versioned deployment manifest.

A deployment tool reads ``manifest.json``, checks each checkpoint's sha256, rebuilds the network from the
checkpoint's config and routes each task to the network the plan assigned it::

    manifest = read_manifest("run/manifest.json")
    outputs = predict_tasks("run/manifest.json", x)    # task -> raw output of its assigned network
    outputs = predict_tasks("run/manifest.json", raw, raw=True)  # raw inputs: the manifest's preprocessing first

A checkpoint names its model by family (``"mlp"``) or by ``module:qualname`` of the user's factory, which is
imported on load; pass ``model=build`` when the factory cannot be imported by name (defined in a script).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from taskgroup.engine.families import ModelFactory, build_model, factory_from_name, factory_name, factory_options
from taskgroup.errors import InvalidArgument, ManifestError
from taskgroup.tasks.suite import TaskSpec, apply_preprocessing

__all__ = [
    "MANIFEST_SCHEMA",
    "MANIFEST_SCHEMA_VERSION",
    "CHECKPOINT_FORMAT",
    "sha256_file",
    "network_config",
    "spec_from_dict",
    "save_checkpoint",
    "load_checkpoint",
    "write_manifest",
    "read_manifest",
    "load_network",
    "predict_tasks",
]

MANIFEST_SCHEMA = "taskgroup.manifest"
MANIFEST_SCHEMA_VERSION = 1
CHECKPOINT_FORMAT = "taskgroup.checkpoint/1"


def sha256_file(path: str | PathLike[str]) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def network_config(
    factory: ModelFactory, tasks: Sequence[TaskSpec], variant: str, example_batch: torch.Tensor, seed: int
) -> dict[str, Any]:
    """The plain-data config :func:`load_checkpoint` rebuilds a network from (task specs as dicts)."""
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
    """Inverse of ``TaskSpec.to_dict`` (class labels come back as the strings the dict holds)."""
    return TaskSpec(
        name=str(data["name"]),
        kind=str(data["kind"]),
        n_classes=int(data["n_classes"]),
        classes=tuple(data.get("classes", ())),
        target_mean=float(data.get("target_mean", 0.0)),
        target_std=float(data.get("target_std", 1.0)),
    )


def _atomic_write(path: Path, write) -> None:
    # write to a temporary name and rename, so an interrupted run never leaves a half-written file under the real name
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def save_checkpoint(
    model: nn.Module, path: str | PathLike[str], config: Mapping[str, Any], extra: Mapping[str, Any] | None = None
) -> str:
    """Save ``{"format", "config", "state_dict", "extra"}`` atomically; return the file's sha256."""
    path = Path(path)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": dict(config),
        "state_dict": model.state_dict(),
        "extra": dict(extra or {}),
    }
    _atomic_write(path, lambda p: torch.save(payload, p))
    return sha256_file(path)


def load_checkpoint(
    path: str | PathLike[str], *, model: ModelFactory | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the network saved at ``path`` (eval mode, on the CPU) and return it with its checkpoint extras.

    Parameters
    ----------
    path : path
    model : model factory, optional
        The factory that built the network, when it cannot be imported by the name the checkpoint records.

    Raises
    ------
    ManifestError
        Not a taskgroup checkpoint, a model that cannot be rebuilt, or a state that does not fit the config.
    """
    try:
        # weights_only: a checkpoint holds tensors and plain data only, so loading never runs pickled code
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ManifestError(f"No such checkpoint: {str(path)!r}.") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ManifestError(f"{str(path)!r} is not a taskgroup checkpoint (expected format {CHECKPOINT_FORMAT!r}).")
    cfg = payload["config"]
    tasks = [spec_from_dict(t) for t in cfg["tasks"]]
    try:
        factory = model if model is not None else factory_from_name(cfg["model"], cfg["options"])
        example = torch.zeros(2, *cfg["input_shape"], dtype=getattr(torch, cfg["input_dtype"]))
        network = build_model(factory, tasks, cfg["variant"], example, cfg["seed"])
        network.load_state_dict(payload["state_dict"])
    except (InvalidArgument, RuntimeError, KeyError) as exc:
        raise ManifestError(f"Checkpoint {str(path)!r} cannot be rebuilt from its config: {exc}") from None
    network.eval()
    return network, dict(payload.get("extra", {}))


def write_manifest(manifest: Mapping[str, Any], path: str | PathLike[str]) -> None:
    """Write the manifest dict (schema and version are added) as indented JSON to ``path``, atomically.

    Data first, destination second (until version 0.2 the order was ``write_manifest(path, manifest)``; that order
    still works for one version, with a DeprecationWarning).
    """
    if isinstance(path, Mapping) and not isinstance(manifest, Mapping):
        warnings.warn("write_manifest takes the manifest first and the path second: write_manifest(manifest, path); "
                      "the old order will be refused in the next version.", DeprecationWarning, stacklevel=2)
        manifest, path = path, manifest
    data = {"schema": MANIFEST_SCHEMA, "version": MANIFEST_SCHEMA_VERSION, **dict(manifest)}
    _atomic_write(Path(path), lambda p: p.write_text(json.dumps(data, indent=1, default=_json_default)))


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_manifest(path: str | PathLike[str]) -> dict[str, Any]:
    """Read and check a deployment manifest.

    Raises
    ------
    ManifestError
        Missing file, not a taskgroup manifest, or an unsupported version.
    """
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ManifestError(f"No such manifest: {str(path)!r}.") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"Could not parse the manifest {str(path)!r}: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != MANIFEST_SCHEMA:
        raise ManifestError(f"{str(path)!r} is not a taskgroup manifest (expected schema {MANIFEST_SCHEMA!r}).")
    if data.get("version") != MANIFEST_SCHEMA_VERSION:
        raise ManifestError(
            f"Unsupported manifest version {data.get('version')!r}; this taskgroup reads version "
            f"{MANIFEST_SCHEMA_VERSION}."
        )
    return data


def load_network(
    manifest_path: str | PathLike[str], network: str, *, verify: bool = True, model: ModelFactory | None = None
) -> nn.Module:
    """Load one network of a manifest (checkpoint paths are relative to the manifest's folder).

    Raises
    ------
    ManifestError
        Unknown network name, or (with ``verify``) a checkpoint whose sha256 differs from the manifest's.
    """
    manifest = read_manifest(manifest_path)
    entries = {n["name"]: n for n in manifest["networks"]}
    if network not in entries:
        raise ManifestError(f"Unknown network {network!r}; the manifest has {sorted(entries)}.")
    entry = entries[network]
    ckpt = Path(manifest_path).parent / entry["checkpoint"]
    if verify:
        actual = sha256_file(ckpt) if ckpt.exists() else None
        if actual != entry["sha256"]:
            raise ManifestError(
                f"Checkpoint {entry['checkpoint']!r} of network {network!r} has sha256 {actual}, "
                f"the manifest says {entry['sha256']}; the file was changed or replaced."
            )
    network_module, _ = load_checkpoint(ckpt, model=model)
    return network_module


def predict_tasks(
    manifest_path: str | PathLike[str], x: np.ndarray, *, raw: bool = False, model: ModelFactory | None = None
) -> dict[str, np.ndarray]:
    """Each task's raw output from the network the plan assigned it.

    Parameters
    ----------
    manifest_path : path
    x : array, shape (n, *input_shape)
        Model inputs, or with ``raw`` the raw inputs before the manifest's ``preprocessing``.
    raw : bool
        Apply the manifest's preprocessing (standardisation) first.
    model : model factory, optional
        See :func:`load_checkpoint`.
    """
    from taskgroup.engine.loop import predict  # local: manifest readers need not import the loop otherwise

    manifest = read_manifest(manifest_path)
    shape = tuple(manifest["input_shape"])
    x = np.asarray(x)
    if raw:
        x = apply_preprocessing(manifest["preprocessing"], x)
    x = x.astype(manifest["input_dtype"])
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != shape:
        raise InvalidArgument(f"Inputs must have shape (n, {', '.join(map(str, shape))}); got {x.shape}.")
    out: dict[str, np.ndarray] = {}
    for name in sorted(set(manifest["assignment"].values())):
        preds = predict(load_network(manifest_path, name, model=model), x)
        out.update({t: preds[t] for t, n in manifest["assignment"].items() if n == name})
    return out
