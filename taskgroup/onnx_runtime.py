"""Running an exported network on onnxruntime, and the one check that the ``deploy`` extra is installed."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from os import PathLike
from types import ModuleType
from typing import Any

import numpy as np

from taskgroup.errors import MissingDependency

__all__ = ["DEPLOY_PACKAGES", "require_deploy", "onnx_session", "run_session"]

# what `pip install 'taskgroup[deploy]'` installs: the ONNX format, its runtime, and the exporter's translator
DEPLOY_PACKAGES: tuple[str, ...] = ("onnx", "onnxruntime", "onnxscript")


def require_deploy(module: str) -> ModuleType:
    """Import one of :data:`DEPLOY_PACKAGES`, or raise :class:`MissingDependency` naming the extra."""
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
    """
    ort = require_deploy("onnxruntime")
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_session(session: Any, entry: Mapping[str, Any], x: np.ndarray) -> dict[str, np.ndarray]:
    """Every head's output of an exported network: ``{task: array (n, out_dim)}``, by the entry's ``outputs``."""
    outputs = dict(entry["outputs"])
    values = session.run(list(outputs.values()), {session.get_inputs()[0].name: np.ascontiguousarray(x)})
    return {task: np.asarray(v) for task, v in zip(outputs, values, strict=True)}
