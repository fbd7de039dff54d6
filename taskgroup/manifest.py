"""The versioned deployment manifest: which network (checkpoint or ONNX file) serves which task.

A deployment tool reads ``manifest.json``, checks each checkpoint's sha256, rebuilds the network from the
checkpoint's config and routes each task to the network the plan assigned it::

    manifest = read_manifest("run/manifest.json")
    outputs = predict_tasks("run/manifest.json", x)    # task -> raw output of its assigned network
    outputs = predict_tasks("run/manifest.json", raw, raw=True)  # raw inputs: the manifest's preprocessing first

A manifest or checkpoint is data that may come from anyone. Paths in a manifest are read only inside the
manifest's folder, and each file's sha256 is checked before it is read (unless ``verify=False``). Checkpoints
are read by :mod:`taskgroup.checkpoints`, which never imports code a file names (a user's own model is rebuilt
only from the factory passed as ``model=build``, ``--model module:function`` on the command line) and bounds the
sizes a config may ask for; a rebuilt network is then checked against its manifest entry (:func:`load_entry`).

A manifest written by ``taskgroup export`` (version 2) lists ONNX files instead of checkpoints; ``predict_tasks``
runs those on onnxruntime (``taskgroup.serve``), so both kinds serve the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from taskgroup.checkpoints import read_checkpoint, sha256_file, spec_from_dict
from taskgroup.engine.families import ModelFactory
from taskgroup.errors import InvalidArgument, ManifestError
from taskgroup.fields import Fields
from taskgroup.files import atomic_write, read_text
from taskgroup.tasks.suite import apply_preprocessing

__all__ = [
    "MANIFEST_SCHEMA",
    "MANIFEST_SCHEMA_VERSION",
    "READABLE_VERSIONS",
    "ARTIFACT_KINDS",
    "write_manifest",
    "read_manifest",
    "required_fields",
    "network_entries",
    "network_entry",
    "artifact_path",
    "load_network",
    "load_entry",
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


def write_manifest(manifest: Mapping[str, Any], path: str | PathLike[str]) -> None:
    """Write the manifest dict (schema and version are added) as indented JSON to ``path``, atomically.

    The version is the lowest that holds the content: 1 when every network is a checkpoint, 2 with ONNX files.
    Nothing is checked here; :func:`read_manifest` checks what it reads back.

    Parameters
    ----------
    manifest : mapping
        The manifest's fields (``networks``, ``assignment``, ``tasks``, ``input_shape``, ...): JSON-compatible
        values, numpy scalars accepted. Its own ``schema`` or ``version`` would replace the ones added.
    path : path
        The file to write (replaced if it exists); its folder must exist.

    Raises
    ------
    InvalidArgument
        ``path`` is a symbolic link or a folder.
    TypeError
        A value JSON cannot hold (nothing is written).
    OSError
        The file cannot be written (its folder missing, no permission, no space).
    """
    data = {"schema": MANIFEST_SCHEMA, "version": _manifest_version(manifest), **dict(manifest)}
    atomic_write(Path(path), lambda p: p.write_text(json.dumps(data, indent=1, default=_json_default)))


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

    Every network entry is checked (``name``, ``serves``, ``trained_tasks``, ``sha256`` and exactly one of
    ``checkpoint`` or ``onnx``; names listed once) and every network the ``assignment`` names must be listed;
    ``input_shape``, ``input_dtype``, ``feature_names``, ``preprocessing`` and ``tasks`` are type-checked where
    present (a reader that needs one asks :func:`required_fields`). The files the entries name are not opened.

    Parameters
    ----------
    path : path
        The ``manifest.json`` file.

    Returns
    -------
    dict
        The manifest as parsed, ``schema`` and ``version`` included.

    Raises
    ------
    ManifestError
        A missing, unreadable or non-UTF-8 file or a folder, text that is not JSON, not a taskgroup manifest, an
        unsupported version, a field of the wrong type or missing (named with its path, e.g.
        ``networks[0].sha256``), a network listed twice, or an assignment to a network not listed.
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
    """The values of ``keys`` in a (checked) manifest; :class:`ManifestError` naming the first one missing.

    Parameters
    ----------
    manifest : mapping
        A manifest from :func:`read_manifest` (which checked the types of the fields it holds).
    *keys : str
        The top-level fields wanted.

    Returns
    -------
    list
        Their values as they are, in the order of ``keys``.

    Raises
    ------
    ManifestError
        ``manifest`` is not a mapping, or lacks one of ``keys`` (the message lists the fields present).
    """
    doc = Fields(manifest, "manifest", ManifestError)
    return [doc.raw(key) for key in keys]


def network_entries(manifest: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The manifest's network entries by name (from :func:`read_manifest`'s checked dict).

    Parameters
    ----------
    manifest : mapping
        A manifest from :func:`read_manifest`; its ``networks`` are not checked again.

    Returns
    -------
    dict of str to dict
        Each entry (the manifest's own dict, not a copy) by its ``name``, in the manifest's order.
    """
    return {n["name"]: n for n in manifest["networks"]}


def network_entry(manifest: Mapping[str, Any], network: str) -> dict[str, Any]:
    """One network's entry; :class:`ManifestError` naming the networks there are when ``network`` is not one.

    Parameters
    ----------
    manifest : mapping
        A manifest from :func:`read_manifest`.
    network : str
        The network's name.

    Returns
    -------
    dict
        Its entry in ``networks`` (the manifest's own dict, not a copy).

    Raises
    ------
    ManifestError
        ``network`` is not a network of the manifest; the message lists those it has.
    """
    entries = network_entries(manifest)
    if network not in entries:
        raise ManifestError(f"Unknown network {network!r}; the manifest has {sorted(entries)}.")
    return entries[network]


def artifact_path(manifest_path: str | PathLike[str], entry: Mapping[str, Any], *, verify: bool = True) -> Path:
    """The checkpoint or ONNX file of a network entry (relative to the manifest's folder), checksum verified.

    The path must stay inside the manifest's folder once resolved (no absolute paths, no ``..`` out of it, no
    link leading out), so a manifest cannot make taskgroup read, or report a checksum of, any other file.

    Parameters
    ----------
    manifest_path : path
        The manifest the entry comes from; its folder is where the entry's file is looked for.
    entry : mapping
        A network entry of that manifest, checked by :func:`read_manifest` (e.g. from :func:`network_entry`).
    verify : bool, default True
        Compare the file's sha256 with the entry's ``sha256``; False skips reading the file.

    Returns
    -------
    Path
        The file's resolved path.

    Raises
    ------
    ManifestError
        A path leading out of the manifest's folder, a missing file, or (with ``verify``) a sha256 that differs
        from the manifest's.
    """
    kind = next(k for k in ARTIFACT_KINDS if k in entry)
    label = "ONNX" if kind == ARTIFACT_ONNX else kind
    folder = Path(manifest_path).resolve().parent
    relative = Path(entry[kind])
    path = (folder / relative).resolve()
    if relative.is_absolute() or not path.is_relative_to(folder):
        raise ManifestError(
            f"The {label} file {entry[kind]!r} of network {entry['name']!r} is outside the manifest's folder; a "
            "manifest lists its files by paths inside its own folder (like 'networks/a.pt')."
        )
    if not path.is_file():
        raise ManifestError(
            f"The {label} file {entry[kind]!r} of network {entry['name']!r} is missing (expected at "
            f"{str(Path(manifest_path).parent / relative)!r})."
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

    Parameters
    ----------
    manifest_path : path
        The ``manifest.json`` file (read and checked with :func:`read_manifest`).
    network : str
        The network's name in the manifest.
    verify : bool, default True
        Check the checkpoint's sha256 against the manifest's before loading it.
    model : model factory, optional
        The factory for a checkpoint of your own model (see :func:`taskgroup.checkpoints.load_checkpoint`).

    Returns
    -------
    torch.nn.Module
        The network, in eval mode on the CPU, checked against its entry as :func:`load_entry` does.

    Raises
    ------
    ManifestError
        As :func:`read_manifest` and :func:`load_entry`, an unknown network name, or a network exported to ONNX
        (no checkpoint; see :func:`predict_tasks`).
    """
    entry = network_entry(read_manifest(manifest_path), network)
    if ARTIFACT_CHECKPOINT not in entry:
        raise ManifestError(
            f"Network {network!r} is an ONNX file in this manifest, not a PyTorch checkpoint; run it with "
            "predict_tasks (onnxruntime) or load the manifest it was exported from."
        )
    return load_entry(manifest_path, entry, verify=verify, model=model)


def load_entry(
    manifest_path: str | PathLike[str],
    entry: Mapping[str, Any],
    *,
    verify: bool = True,
    model: ModelFactory | None = None,
) -> nn.Module:
    """A manifest entry's checkpoint, rebuilt and checked against the manifest before it runs.

    The checksum says the file is the one the manifest lists; the content check says the manifest describes
    it: the checkpoint was trained on the entry's ``trained_tasks`` with the entry's ``variant``, its task specs
    (kind, classes) are the manifest's, and its input shape and dtype are the manifest's (each field compared
    where the entry or the manifest lists it).

    Parameters
    ----------
    manifest_path : path
        The manifest the entry comes from (read again with :func:`read_manifest` for its tasks and inputs).
    entry : mapping
        A checkpoint entry of that manifest (e.g. from :func:`network_entry`).
    verify : bool, default True
        Check the checkpoint's sha256 against the entry's before loading it.
    model : model factory, optional
        The factory for a checkpoint of your own model (see :func:`taskgroup.checkpoints.load_checkpoint`).

    Returns
    -------
    torch.nn.Module
        The network, in eval mode on the CPU.

    Raises
    ------
    ManifestError
        As :func:`artifact_path`, :func:`taskgroup.checkpoints.load_checkpoint` and :func:`read_manifest`, or a
        checkpoint that belongs to another network (the field that differs named), or a task spec, in the
        checkpoint or the manifest, whose kind is not a task kind or whose ``n_classes`` does not fit its kind.
    """
    path = artifact_path(manifest_path, entry, verify=verify)
    network, _, cfg = read_checkpoint(path, model)
    manifest = read_manifest(manifest_path)
    specs = {t["name"]: t for t in manifest.get("tasks", [])}
    checks = {
        "trained tasks": (sorted(t["name"] for t in cfg["tasks"]), sorted(entry.get("trained_tasks", []))),
        "variant": (cfg["variant"], entry.get("variant", cfg["variant"])),
        "input_shape": (list(cfg["input_shape"]), list(manifest.get("input_shape", cfg["input_shape"]))),
        "input_dtype": (cfg["input_dtype"], manifest.get("input_dtype", cfg["input_dtype"])),
    }
    for task in cfg["tasks"]:
        if task["name"] in specs:
            ours = spec_from_dict(task).to_dict()
            checks[f"task {task['name']!r}"] = (ours, spec_from_dict(specs[task["name"]]).to_dict())
    for field, (found, listed) in checks.items():
        if found != listed:
            raise ManifestError(
                f"The checkpoint {entry[ARTIFACT_CHECKPOINT]!r} does not belong to network {entry['name']!r} of "
                f"the manifest: its {field} is {found!r}, the manifest says {listed!r}."
            )
    return network


def model_inputs(manifest: Mapping[str, Any], x: Any, *, raw: bool = False) -> np.ndarray:
    """``x`` as the networks' inputs: the manifest's preprocessing (with ``raw``), its dtype, its shape checked.

    Parameters
    ----------
    manifest : mapping
        A manifest from :func:`read_manifest`; it must list ``input_shape`` and ``input_dtype`` (and
        ``preprocessing`` with ``raw``).
    x : array_like, shape (n, *input_shape)
        Model inputs, or with ``raw`` the raw inputs before the manifest's ``preprocessing``.
    raw : bool, default False
        Apply the manifest's preprocessing (standardisation) first.

    Returns
    -------
    numpy.ndarray
        The inputs in the manifest's ``input_dtype``, shape ``(n, *input_shape)``.

    Raises
    ------
    ManifestError
        The manifest lacks ``input_shape``, ``input_dtype`` or (with ``raw``) ``preprocessing``.
    InvalidArgument
        Inputs whose shape is not ``(n, *input_shape)``, or (with ``raw``) a preprocessing of an unknown kind or
        whose statistics do not match the raw inputs' columns.
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
        The ``manifest.json`` file; it must list ``assignment``, ``input_shape`` and ``input_dtype``.
    x : array, shape (n, *input_shape)
        Model inputs, or with ``raw`` the raw inputs before the manifest's ``preprocessing``.
    raw : bool
        Apply the manifest's preprocessing (standardisation) first.
    model : model factory, optional
        See :func:`taskgroup.checkpoints.load_checkpoint`.
    threads : int, optional
        onnxruntime's threads for ONNX files (default: onnxruntime's own choice); torch's come from
        :func:`taskgroup.engine.runtime.configure_threads`.

    Returns
    -------
    dict task -> array of shape (n, out_dim)
        Regression outputs standardised, binary logits, multiclass logits (see ``taskgroup.serve`` for labels),
        for every task of the ``assignment``.

    Raises
    ------
    ManifestError
        As :func:`read_manifest`, :func:`model_inputs` and :func:`run_network`, no ``assignment``, a network with
        no output for a task assigned to it, or outputs that are not finite (NaN or inf).
    InvalidArgument
        As :func:`model_inputs`.
    MissingDependency
        An ONNX network and onnxruntime not installed (the ``deploy`` extra).
    """
    manifest = read_manifest(manifest_path)
    x = model_inputs(manifest, x, raw=raw)
    (assignment,) = required_fields(manifest, "assignment")
    out: dict[str, np.ndarray] = {}
    for name in sorted(set(assignment.values())):
        outputs = run_network(manifest_path, network_entry(manifest, name), x, model=model, threads=threads)
        for task in [t for t, n in assignment.items() if n == name]:
            if task not in outputs:
                raise ManifestError(f"Network {name!r} has no output for task {task!r}, which the assignment gives it.")
            rows = np.flatnonzero(~np.isfinite(outputs[task]).all(axis=tuple(range(1, outputs[task].ndim))))
            if rows.size:
                raise ManifestError(
                    f"Network {name!r} gives task {task!r} outputs that are not finite (NaN or inf) on "
                    f"{rows.size} of {len(x)} rows (first: row {rows[0]}); its predictions would be blank."
                )
            out[task] = outputs[task]
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
    file on onnxruntime (the ``deploy`` extra, with ``threads`` threads); the file's sha256 is verified first.

    A checkpoint is rebuilt and checked against its entry (:func:`load_entry`); an ONNX file's inputs and outputs
    are checked against the manifest (:func:`taskgroup.onnx_runtime.check_session`).

    Parameters
    ----------
    manifest_path : path
        The manifest the entry comes from.
    entry : mapping
        A network entry of that manifest (e.g. from :func:`network_entry`).
    x : numpy.ndarray, shape (n, *input_shape)
        Model inputs, as :func:`model_inputs` returns them.
    model : model factory, optional
        The factory for a checkpoint of your own model (see :func:`taskgroup.checkpoints.load_checkpoint`).
    threads : int, optional
        onnxruntime's threads for an ONNX file (default: onnxruntime's own choice); unused for a checkpoint.

    Returns
    -------
    dict of str to numpy.ndarray
        Each head's raw output, shape ``(n, out_dim)``, by task name: every head of the checkpoint's network, or
        every output the ONNX entry's ``outputs`` names.

    Raises
    ------
    ManifestError
        As :func:`artifact_path` (always verified) and :func:`load_entry` for a checkpoint; for an ONNX file, one
        onnxruntime cannot load or run on ``x``, or whose inputs or outputs differ from the manifest's.
    MissingDependency
        An ONNX file and onnxruntime not installed.
    """
    path = artifact_path(manifest_path, entry)
    if ARTIFACT_ONNX in entry:
        from taskgroup.onnx_runtime import check_session, onnx_session, run_session  # local: optional

        session = onnx_session(path, threads=threads)
        check_session(session, read_manifest(manifest_path), entry)
        return run_session(session, entry, x)
    from taskgroup.engine.loop import predict  # local: manifest readers need not import the loop otherwise

    return predict(load_entry(manifest_path, entry, model=model), x)
