"""From a trained plan to serving: ONNX export, predictions from raw inputs, and the plan's cost on this machine.

>>> import taskgroup as tg
>>> onnx_manifest = tg.serve.export_onnx("run/manifest.json", "run/onnx")  # doctest: +SKIP
>>> table = tg.serve.predict("run/onnx/manifest.json", "new_rows.csv")  # doctest: +SKIP
>>> costs = tg.serve.measure_plan_cost("run/manifest.json", batches=(1, 32, 256))  # doctest: +SKIP

Modules, one job each: ``onnx_export`` (export + verification against PyTorch), ``onnx_runtime`` (running an
exported file; the ``deploy`` extra check), ``raw_inputs`` (reading and checking raw inputs: CSV, .npy, frames),
``predict`` (per-task predictions with the user's labels), ``plan_cost`` (latency, throughput, peak memory).
ONNX needs ``pip install 'taskgroup[deploy]'``; predictions and plan costs from checkpoints do not.
"""

from taskgroup.serve.onnx_export import EXPORT_TOLERANCE, export_onnx
from taskgroup.serve.plan_cost import measure_plan_cost, read_plan_cost, write_plan_cost
from taskgroup.serve.predict import decode_outputs, predict
from taskgroup.serve.raw_inputs import read_raw_inputs

__all__ = [
    "export_onnx",
    "EXPORT_TOLERANCE",
    "predict",
    "decode_outputs",
    "read_raw_inputs",
    "measure_plan_cost",
    "write_plan_cost",
    "read_plan_cost",
]
