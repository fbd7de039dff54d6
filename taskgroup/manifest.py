"""Checkpoints (state dict + the config to rebuild the network) and the versioned deployment manifest.

A deployment tool reads ``manifest.json``, checks each checkpoint's sha256, rebuilds the network from the
checkpoint's config and routes each task to the network the plan assigned it::

    manifest = read_manifest("run/manifest.json")
    outputs = predict_tasks("run/manifest.json", x)    # task -> raw output of its assigned network
    outputs = predict_tasks("run/manifest.json", raw, raw=True)  # raw inputs: the manifest's preprocessing first

A checkpoint names its model by family (``"mlp"``) or by ``module:qualname`` of the user's factory, which is
imported on load; pass ``model=build`` when the factory cannot be imported by name (defined in a script).

A manifest written by ``taskgroup export`` (version 2) lists ONNX files instead of checkpoints; ``predict_tasks``
runs those on onnxruntime (``taskgroup.serve``), so both kinds serve the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from taskgroup.engine.families import ModelFactory, build_model, factory_from_name, factory_name, factory_options
from taskgroup.errors import InvalidArgument, ManifestError
from taskgroup.fields import Fields
from taskgroup.files import read_text
from taskgroup.tasks.suite import TaskSpec, apply_preprocessing

__all__ = [
    "MANIFEST_SCHEMA",
    "MANIFEST_SCHEMA_VERSION",
    "READABLE_VERSIONS",
    "ARTIFACT_KINDS",
    "CHECKPOINT_FORMAT",
    "sha256_file",
    "network_config",
    "spec_from_dict",
    "save_checkpoint",
    "load_checkpoint",
    "write_manifest",
    "read_manifest",
    "required_fields",
    "network_entries",
    "network_entry",
    "artifact_path",
    "load_network",
    "model_inputs",
    "predict_tasks",
    "run_network",
]

MANIFEST_SCHEMA = "taskgroup.manifest"
MANIFEST_SCHEMA_VERSION = 2
READABLE_VERSIONS: tuple[int, ...] = (1, 2)
ARTIFACT_CHECKPOINT = "checkpoint"
ARTIFACT_ONNX = "onnx"
ARTIFACT_KINDS: tuple[str, ...] = (ARTIFACT_CHECKPOINT, ARTIFACT_ONNX)
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

    The version is the lowest that holds the content: 1 when every network is a checkpoint, 2 with ONNX files.
    """
    data = {"schema": MANIFEST_SCHEMA, "version": _manifest_version(manifest), **dict(manifest)}
    _atomic_write(Path(path), lambda p: p.write_text(json.dumps(data, indent=1, default=_json_default)))


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _manifest_version(manifest: Mapping[str, Any]) -> int:
    # the lowest version that holds the content, so a torch-only manifest stays readable by version-1 readers
    return 2 if any(ARTIFACT_ONNX in n for n in manifest.get("networks", [])) else 1


def read_manifest(path: str | PathLike[str]) -> dict[str, Any]:
    """Read and check a deployment manifest (every version this taskgroup reads: 1 and 2).

    Version 1 lists PyTorch checkpoints; version 2 (written by ``taskgroup export``) may list ONNX files
    (``"onnx"`` instead of ``"checkpoint"``, and each task's output name in ``"outputs"``).

    Raises
    ------
    ManifestError
        A missing file or a folder, not a taskgroup manifest, an unsupported version, or a field of the wrong
        type or missing (named with its path, e.g. ``networks[0].sha256``).
    """
    try:
        text = read_text(path, "manifest")
    except InvalidArgument as exc:
        raise ManifestError(str(exc)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"Could not parse the manifest {str(path)!r}: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != MANIFEST_SCHEMA:
        raise ManifestError(f"{str(path)!r} is not a taskgroup manifest (expected schema {MANIFEST_SCHEMA!r}).")
    if data.get("version") not in READABLE_VERSIONS:
        raise ManifestError(
            f"Unsupported manifest version {data.get('version')!r}; this taskgroup reads versions "
            f"{list(READABLE_VERSIONS)}."
        )
    _check_manifest(Fields(data, f"manifest {str(path)!r}", ManifestError))
    return data


def _check_manifest(doc: Fields) -> None:
    """Check the types of the fields a reader uses: network entries always, the others where present (a reader
    that needs one asks for it through :func:`required_fields`, which names it when it is missing)."""
    if doc.has("input_shape"):
        shape = doc.sequence("input_shape")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape):
            doc.fail(f"In the {doc.document}, input_shape must be a list of positive integers; got {shape!r}.")
    doc.string("input_dtype", None)
    doc.strings("feature_names", [])
    doc.mapping("preprocessing", None)
    for i in range(len(doc.sequence("tasks", []))):
        task = doc.item("tasks", i)
        task.string("name")
        task.string("kind")
        task.integer("n_classes")
        task.strings("classes", [])
        task.number("target_mean", 0.0)
        task.number("target_std", 1.0)
    assignment = doc.string_map("assignment", {})
    names = []
    for i in range(len(doc.sequence("networks"))):
        entry = doc.item("networks", i)
        names.append(entry.string("name"))
        entry.strings("serves")
        entry.strings("trained_tasks")
        entry.string("sha256")
        kinds = [k for k in ARTIFACT_KINDS if entry.has(k)]
        if len(kinds) != 1:
            entry.fail(
                f"In the {doc.document}, networks[{i}] must name exactly one file, "
                f"{' or '.join(map(repr, ARTIFACT_KINDS))}; got {kinds or 'neither'}."
            )
        entry.string(kinds[0])
        if kinds[0] == ARTIFACT_ONNX:
            entry.string_map("outputs")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        doc.fail(f"In the {doc.document}, networks lists {repeated} more than once; each network is listed once.")
    unknown = sorted({n for n in assignment.values() if n not in names})
    if unknown:
        doc.fail(f"In the {doc.document}, assignment names network(s) {unknown} that its networks {names} do not list.")


def required_fields(manifest: Mapping[str, Any], *keys: str) -> list[Any]:
    """The values of ``keys`` in a (checked) manifest; :class:`ManifestError` naming the first one missing."""
    doc = Fields(manifest, "manifest", ManifestError)
    return [doc.raw(key) for key in keys]


def network_entries(manifest: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The manifest's network entries by name (from :func:`read_manifest`'s checked dict)."""
    return {n["name"]: n for n in manifest["networks"]}


def network_entry(manifest: Mapping[str, Any], network: str) -> dict[str, Any]:
    """One network's entry; :class:`ManifestError` naming the networks there are when ``network`` is not one."""
    entries = network_entries(manifest)
    if network not in entries:
        raise ManifestError(f"Unknown network {network!r}; the manifest has {sorted(entries)}.")
    return entries[network]


def artifact_path(manifest_path: str | PathLike[str], entry: Mapping[str, Any], *, verify: bool = True) -> Path:
    """The checkpoint or ONNX file of a network entry (relative to the manifest's folder), checksum verified.

    Raises
    ------
    ManifestError
        The file is missing, or (with ``verify``) its sha256 differs from the manifest's.
    """
    kind = next(k for k in ARTIFACT_KINDS if k in entry)
    label = "ONNX" if kind == ARTIFACT_ONNX else kind
    path = Path(manifest_path).parent / entry[kind]
    if not path.is_file():
        raise ManifestError(
            f"The {label} file {entry[kind]!r} of network {entry['name']!r} is missing (expected at {str(path)!r})."
        )
    if verify:
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            raise ManifestError(
                f"The {label} file {entry[kind]!r} of network {entry['name']!r} has sha256 {actual}, "
                f"the manifest says {entry['sha256']}; the file was changed or replaced."
            )
    return path


def load_network(
    manifest_path: str | PathLike[str], network: str, *, verify: bool = True, model: ModelFactory | None = None
) -> nn.Module:
    """Load one network of a manifest as a PyTorch module (checkpoint paths are relative to the manifest's folder).

    Raises
    ------
    ManifestError
        Unknown network name, a network exported to ONNX (no checkpoint; see :func:`predict_tasks`), a missing
        checkpoint, or (with ``verify``) a checkpoint whose sha256 differs from the manifest's.
    """
    entry = network_entry(read_manifest(manifest_path), network)
    if ARTIFACT_CHECKPOINT not in entry:
        raise ManifestError(
            f"Network {network!r} is an ONNX file in this manifest, not a PyTorch checkpoint; run it with "
            "predict_tasks (onnxruntime) or load the manifest it was exported from."
        )
    network_module, _ = load_checkpoint(artifact_path(manifest_path, entry, verify=verify), model=model)
    return network_module


def model_inputs(manifest: Mapping[str, Any], x: Any, *, raw: bool = False) -> np.ndarray:
    """``x`` as the networks' inputs: the manifest's preprocessing (with ``raw``), its dtype, its shape checked.

    Raises
    ------
    InvalidArgument
        Inputs whose shape is not ``(n, *input_shape)``.
    """
    shape, dtype = required_fields(manifest, "input_shape", "input_dtype")
    shape = tuple(shape)
    x = np.asarray(x)
    if raw:
        x = apply_preprocessing(required_fields(manifest, "preprocessing")[0], x)
    x = x.astype(dtype)
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != shape:
        raise InvalidArgument(f"Inputs must have shape (n, {', '.join(map(str, shape))}); got {x.shape}.")
    return x


def predict_tasks(
    manifest_path: str | PathLike[str],
    x: Any,
    *,
    raw: bool = False,
    model: ModelFactory | None = None,
    threads: int | None = None,
) -> dict[str, np.ndarray]:
    """Each task's raw output from the network the plan assigned it; every network runs once over ``x``.

    Works with both kinds of manifest: PyTorch checkpoints (from ``taskgroup train``) run on the engine, ONNX
    files (from ``taskgroup export``) on onnxruntime; every file's sha256 is verified before it runs.

    Parameters
    ----------
    manifest_path : path
    x : array, shape (n, *input_shape)
        Model inputs, or with ``raw`` the raw inputs before the manifest's ``preprocessing``.
    raw : bool
        Apply the manifest's preprocessing (standardisation) first.
    model : model factory, optional
        See :func:`load_checkpoint`.
    threads : int, optional
        onnxruntime's threads for ONNX files (default: onnxruntime's own choice); torch's come from
        :func:`taskgroup.engine.runtime.configure_threads`.

    Returns
    -------
    dict task -> array of shape (n, out_dim)
        Regression outputs standardised, binary logits, multiclass logits (see ``taskgroup.serve`` for labels).
    """
    manifest = read_manifest(manifest_path)
    x = model_inputs(manifest, x, raw=raw)
    (assignment,) = required_fields(manifest, "assignment")
    out: dict[str, np.ndarray] = {}
    for name in sorted(set(assignment.values())):
        outputs = run_network(manifest_path, network_entry(manifest, name), x, model=model, threads=threads)
        out.update({t: outputs[t] for t, n in assignment.items() if n == name})
    return out


def run_network(
    manifest_path: str | PathLike[str],
    entry: Mapping[str, Any],
    x: np.ndarray,
    *,
    model: ModelFactory | None = None,
    threads: int | None = None,
) -> dict[str, np.ndarray]:
    """Every head's raw output of one network entry on model inputs ``x``: a checkpoint on the engine, an ONNX
    file on onnxruntime (the ``deploy`` extra, with ``threads`` threads); the file's sha256 is verified first."""
    path = artifact_path(manifest_path, entry)
    if ARTIFACT_ONNX in entry:
        from taskgroup.onnx_runtime import onnx_session, run_session  # local: onnxruntime is optional

        return run_session(onnx_session(path, threads=threads), entry, x)
    from taskgroup.engine.loop import predict  # local: manifest readers need not import the loop otherwise

    network, _ = load_checkpoint(path, model=model)
    return predict(network, x)
