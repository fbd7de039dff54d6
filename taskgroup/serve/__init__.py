"""From a trained plan to serving: ONNX export, predictions from raw inputs, and the plan's cost on this machine.

>>> import taskgroup as tg
>>> onnx_manifest = tg.serve.export_onnx("run/manifest.json", "run/onnx")  # doctest: +SKIP
>>> table = tg.serve.predict("run/onnx/manifest.json", "new_rows.csv")  # doctest: +SKIP
>>> costs = tg.serve.measure_plan_cost("run/manifest.json", batches=(1, 32, 256))  # doctest: +SKIP

Modules, one job each: ``onnx_export`` (export + verification against PyTorch), ``raw_inputs`` (reading and
checking raw inputs: CSV, .npy, frames), ``predictions`` (per-task predictions with the user's labels),
``plan_cost`` (latency, throughput, peak memory). Running an exported file is :mod:`taskgroup.onnx_runtime`,
shared with the manifest (:mod:`taskgroup.manifest`).
ONNX needs ``pip install 'taskgroup[deploy]'``; predictions and plan costs from checkpoints do not.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> module: loaded on first use, so that reading a plan-cost file (the run report) does not import torch
_EXPORTS = {
    "export_onnx": "onnx_export",
    "EXPORT_TOLERANCE": "onnx_export",
    "predict": "predictions",
    "decode_outputs": "predictions",
    "read_raw_inputs": "raw_inputs",
    "measure_plan_cost": "plan_cost",
    "write_plan_cost": "plan_cost_file",
    "read_plan_cost": "plan_cost_file",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"taskgroup.serve.{_EXPORTS[name]}"), name)
        globals()[name] = value  # resolved once; also what documentation tools read
        return value
    raise AttributeError(f"module 'taskgroup.serve' has no attribute {name!r}")
