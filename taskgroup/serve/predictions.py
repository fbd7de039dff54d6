"""Predictions from raw inputs: one column per task, in the user's own labels and units.

Every served task's network runs once over the inputs (through :func:`taskgroup.train.predict_tasks`: the
manifest's preprocessing, checksum-verified checkpoints or ONNX files); outputs are then decoded:

- regression: ``output * target_std + target_mean`` (the target's own units);
- binary: the class label whose probability ``sigmoid(logit)`` is at least 0.5 (the second label on a tie);
- multiclass: the label with the largest ``softmax`` probability.

With ``probabilities``, a classification task also gets one ``p(task=label)`` column per class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd

from taskgroup.checkpoints import spec_from_dict
from taskgroup.engine.families import ModelFactory
from taskgroup.engine.runtime import configure_threads
from taskgroup.manifest import predict_tasks, read_manifest, required_fields
from taskgroup.serve.raw_inputs import read_raw_inputs
from taskgroup.tasks.suite import TaskSpec

__all__ = ["predict", "decode_outputs", "probability_column"]


def probability_column(task: str, label: Any) -> str:
    """Name of the column holding the probability that ``task`` is ``label``.

    Parameters
    ----------
    task : str
        The task's name.
    label : object
        One of its class labels (written as its ``str``).

    Returns
    -------
    str
        ``"p(task=label)"``.
    """
    return f"p({task}={label})"


def _probabilities(spec: TaskSpec, output: np.ndarray) -> np.ndarray:
    z = np.asarray(output, dtype=np.float64)
    if spec.kind == "binary":
        p = np.exp(-np.logaddexp(0.0, -z[:, 0]))  # the logistic function without overflow for large |z|
        return np.stack([1.0 - p, p], axis=1)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def decode_outputs(
    tasks: Sequence[TaskSpec], outputs: Mapping[str, np.ndarray], *, probabilities: bool = False
) -> pd.DataFrame:
    """Raw network outputs (``{task: (n, out_dim)}``) as a table: one column per task in ``tasks`` order.

    Decoded as the module describes: regression outputs back to the target's units, classification outputs to
    the class label.

    Parameters
    ----------
    tasks : sequence of TaskSpec
        The tasks to decode (their kind, classes and target scaling), in column order.
    outputs : mapping of str to numpy.ndarray
        Each task's raw network output, shape ``(n, out_dim)``: logits for classification, the standardised
        value for regression. Must hold every task in ``tasks``.
    probabilities : bool, default False
        Add one :func:`probability_column` per class of each classification task.

    Returns
    -------
    pandas.DataFrame
        ``n`` rows; one column per task, then (with ``probabilities``) its probability columns.
    """
    columns: dict[str, Any] = {}
    for spec in tasks:
        output = np.asarray(outputs[spec.name])
        if spec.kind == "regression":
            columns[spec.name] = output[:, 0].astype(np.float64) * spec.target_std + spec.target_mean
            continue
        p = _probabilities(spec, output)
        # binary: index 1 when p >= 0.5, i.e. logit >= 0 (argmax would pick index 0 on an exact tie)
        index = (p[:, 1] >= 0.5).astype(int) if spec.kind == "binary" else p.argmax(axis=1)
        columns[spec.name] = np.asarray(spec.classes, dtype=object)[index]
        if probabilities:
            for k, label in enumerate(spec.classes):
                columns[probability_column(spec.name, label)] = p[:, k]
    return pd.DataFrame(columns)


def predict(
    manifest_path: str | PathLike[str],
    inputs: Any,
    *,
    probabilities: bool = False,
    model: ModelFactory | None = None,
    threads: int | None = None,
) -> pd.DataFrame:
    """Each served task's prediction for raw ``inputs``, decoded to the user's labels and units.

    Parameters
    ----------
    manifest_path : path
        A manifest from ``taskgroup train`` (PyTorch checkpoints) or ``taskgroup export`` (ONNX files).
    inputs : path (.csv, .npy), pandas.DataFrame or array
        Raw inputs, before the manifest's preprocessing (see :func:`~taskgroup.serve.read_raw_inputs`).
    probabilities : bool
        Add one probability column per class of each classification task.
    model : model factory, optional
        See :func:`taskgroup.train.load_checkpoint`.
    threads : int, optional
        CPU threads for torch (:func:`~taskgroup.engine.runtime.configure_threads`, which sets them for the
        process) and for each onnxruntime session; default: both left as they are (onnxruntime's own choice).

    Returns
    -------
    pandas.DataFrame
        One row per input row; one column per task the plan serves (manifest task order), plus probabilities.

    Raises
    ------
    InvalidArgument
        Bad inputs (see :func:`~taskgroup.serve.read_raw_inputs`), or ``threads`` not a positive integer.
    ManifestError
        A bad manifest or a missing or changed network file.
    """
    if threads is not None:
        threads = configure_threads(threads)
    manifest = read_manifest(manifest_path)
    raw = read_raw_inputs(inputs, manifest)
    outputs = predict_tasks(manifest_path, raw, raw=True, model=model, threads=threads)
    specs, assignment = required_fields(manifest, "tasks", "assignment")
    tasks = [spec_from_dict(t) for t in specs if t["name"] in assignment]
    return decode_outputs(tasks, outputs, probabilities=probabilities)
