"""Running an exported network on onnxruntime, and the one check that the ``deploy`` extra is installed."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from os import PathLike
from types import ModuleType
from typing import Any

import numpy as np

from taskgroup.errors import ManifestError, MissingDependency

__all__ = ["DEPLOY_PACKAGES", "require_deploy", "onnx_session", "check_session", "run_session"]

# what `pip install 'taskgroup[deploy]'` installs: the ONNX format, its runtime, and the exporter's translator
DEPLOY_PACKAGES: tuple[str, ...] = ("onnx", "onnxruntime", "onnxscript")


def require_deploy(module: str) -> ModuleType:
    """Import one of :data:`DEPLOY_PACKAGES`, or raise :class:`MissingDependency` naming the extra.

    Parameters
    ----------
    module : str
        The module to import (``"onnx"``, ``"onnxruntime"``, ``"onnxscript"``).

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    MissingDependency
        It cannot be imported; the message says how to install the ``deploy`` extra.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(
            f"ONNX export and serving need the package {module!r}, which is not installed; install the deploy extra: "
            f"pip install 'taskgroup[deploy]' (installs {', '.join(DEPLOY_PACKAGES)})."
        ) from None


def onnx_session(path: str | PathLike[str], *, threads: int | None = None) -> Any:
    """An onnxruntime ``InferenceSession`` on the CPU for the ONNX file at ``path``.

    ``threads`` sets onnxruntime's intra-op threads (the threads one operator runs on; default: onnxruntime's
    own choice) and its inter-op threads to 1: those run independent operators side by side only in the
    parallel execution mode, and sessions here run in the default sequential mode.

    Parameters
    ----------
    path : path
        The ONNX file.
    threads : int, optional
        onnxruntime's intra-op threads.

    Returns
    -------
    onnxruntime.InferenceSession
        On the CPU execution provider.

    Raises
    ------
    MissingDependency
        onnxruntime is not installed.
    ManifestError
        The file is not an ONNX model onnxruntime can load (truncated, tampered, another format).
    """
    ort = require_deploy("onnxruntime")
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own classes (InvalidProtobuf, Fail, ...) for a bad file
        reason = " ".join(str(exc).split())[:200]
        raise ManifestError(f"{str(path)!r} is not an ONNX model onnxruntime can load ({reason}).") from None


def check_session(session: Any, manifest: Mapping[str, Any], entry: Mapping[str, Any]) -> None:
    """Check that an ONNX file is the network its manifest entry describes: one input of the manifest's
    input shape (any batch size), and every output the entry names, with one column per class of its task.

    Parameters
    ----------
    session : onnxruntime.InferenceSession
        A session on the entry's file.
    manifest : mapping
        The manifest (its ``input_shape`` and ``tasks``).
    entry : mapping
        The network's entry (its ``name`` and ``outputs``: task to output name).

    Raises
    ------
    ManifestError
        Naming the network and what differs.
    """
    name = entry["name"]
    inputs = session.get_inputs()
    shape = list(manifest.get("input_shape", []))
    if len(inputs) != 1 or (shape and list(inputs[0].shape[1:]) != shape):
        found = [list(i.shape) for i in inputs]
        raise ManifestError(
            f"The ONNX file of network {name!r} takes inputs {found}; the manifest says one input of shape "
            f"[batch, {', '.join(map(str, shape))}]; the file belongs to another network."
        )
    outputs = {o.name: o.shape for o in session.get_outputs()}
    width = {t["name"]: (t["n_classes"] if t["kind"] == "multiclass" else 1) for t in manifest.get("tasks", [])}
    for task, output in dict(entry["outputs"]).items():
        if output not in outputs:
            raise ManifestError(
                f"The ONNX file of network {name!r} has no output {output!r} (task {task!r}); it has "
                f"{sorted(outputs)}; the file belongs to another network."
            )
        dims = outputs[output]
        if task in width and len(dims) == 2 and isinstance(dims[1], int) and dims[1] != width[task]:
            raise ManifestError(
                f"The ONNX file of network {name!r} gives task {task!r} {dims[1]} column(s); the manifest's task "
                f"has {width[task]}; the file belongs to another network."
            )


def run_session(session: Any, entry: Mapping[str, Any], x: np.ndarray) -> dict[str, np.ndarray]:
    """Every head's output of an exported network: ``{task: array (n, out_dim)}``, by the entry's ``outputs``.

    Parameters
    ----------
    session : onnxruntime.InferenceSession
        A session checked with :func:`check_session`.
    entry : mapping
        The network's entry (its ``name`` and ``outputs``).
    x : numpy.ndarray
        Model inputs (see :func:`taskgroup.manifest.model_inputs`).

    Returns
    -------
    dict of str to numpy.ndarray
        Each task's raw output, by task name.

    Raises
    ------
    ManifestError
        onnxruntime could not run the graph on ``x``.
    """
    outputs = dict(entry["outputs"])
    try:
        values = session.run(list(outputs.values()), {session.get_inputs()[0].name: np.ascontiguousarray(x)})
    except Exception as exc:  # onnxruntime's own classes: a file whose graph does not fit what it is given
        reason = " ".join(str(exc).split())[:200]
        raise ManifestError(f"onnxruntime could not run network {entry['name']!r} on the inputs ({reason}).") from None
    return {task: np.asarray(v) for task, v in zip(outputs, values, strict=True)}
