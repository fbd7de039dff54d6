"""Export a manifest's networks to ONNX, verified against PyTorch on real validation rows.

:func:`export_onnx` writes one ``<network>.onnx`` per network of a manifest into a folder, with a dynamic batch
axis, one input ``x`` (the model inputs: the manifest's ``preprocessing`` is applied beside the graph, exactly
as for the PyTorch checkpoints) and one named output per task head, and a ``manifest.json`` (version 2) that lists
each file with its sha256 and the output name of each task. Before a file is listed, onnxruntime runs it on real
validation rows and its outputs must equal PyTorch's within :data:`EXPORT_TOLERANCE`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from taskgroup.checkpoints import sha256_file
from taskgroup.engine.families import ModelFactory
from taskgroup.engine.loop import predict
from taskgroup.errors import ExportError, InvalidArgument, ManifestError
from taskgroup.files import atomic_write
from taskgroup.manifest import (
    ARTIFACT_CHECKPOINT,
    ARTIFACT_ONNX,
    load_entry,
    model_inputs,
    network_entries,
    read_manifest,
    write_manifest,
)
from taskgroup.onnx_runtime import onnx_session, require_deploy, run_session
from taskgroup.outputs import claim_folder, output_path

__all__ = ["EXPORT_TOLERANCE", "ONNX_OPSET", "INPUT_NAME", "export_onnx", "validation_inputs"]

# float32 networks through two runtimes: kernels sum in different orders, so equal means close, not identical
EXPORT_TOLERANCE: dict[str, float] = {"rtol": 1e-4, "atol": 1e-5}
ONNX_OPSET = 18
INPUT_NAME = "x"
_VERIFY_ROWS = 256


class _TupleOutputs(nn.Module):
    """A network whose forward returns its heads as a tuple in a fixed task order (ONNX outputs are positional)."""

    def __init__(self, network: nn.Module, tasks: list[str]):
        super().__init__()
        self.network = network
        self.tasks = tasks

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.network(x)
        return tuple(out[t] for t in self.tasks)


def validation_inputs(manifest: Mapping[str, Any], inputs: Any = None) -> np.ndarray:
    """The model inputs an export is verified on: ``inputs`` (raw rows) if given, else the built-in suite's
    validation split when the manifest's suite is a built-in one that rebuilds, from the parameters the manifest
    records (or the defaults, for a manifest without them), to the same fingerprint.

    Parameters
    ----------
    manifest : mapping
        The manifest of the networks to export.
    inputs : path, DataFrame or array, optional
        Raw input rows (the manifest's preprocessing is applied).

    Returns
    -------
    numpy.ndarray
        Model inputs: all of ``inputs``, or the first validation rows of the rebuilt suite.

    Raises
    ------
    ExportError
        When no inputs are given and the manifest's suite cannot be rebuilt (a suite of your own, or data that
        changed since).
    InvalidArgument
        ``inputs`` that do not fit the manifest.
    """
    if inputs is not None:
        return model_inputs(manifest, inputs, raw=True)
    from taskgroup.datasets.suites import rebuild_suite

    suite_info = manifest.get("suite", {})
    name = suite_info.get("name")
    suite = rebuild_suite(name, suite_info.get("params"))
    if suite is None or suite.fingerprint() != suite_info.get("fingerprint"):
        raise ExportError(
            f"The manifest's suite {name!r} is not a built-in suite that rebuilds to the same data here, so its "
            "validation rows are not known; pass raw validation rows (inputs=..., or --input FILE.csv|.npy) to "
            "verify the export on."
        )
    return model_inputs(manifest, suite.val.inputs(slice(0, _VERIFY_ROWS)).numpy())


def export_onnx(
    manifest_path: str | PathLike[str],
    out: str | PathLike[str],
    *,
    inputs: Any = None,
    model: ModelFactory | None = None,
    force: bool = False,
) -> Path:
    """Export every network of a (PyTorch) manifest to ONNX in ``out``; return the new manifest's path.

    Parameters
    ----------
    manifest_path : path
        A manifest written by ``taskgroup train`` (checkpoints are verified against their sha256 first).
    out : path
        The folder to write ``<network>.onnx`` files and ``manifest.json`` into (created if needed).
    inputs : array or DataFrame of raw inputs, optional
        Validation rows to verify the export on (the manifest's preprocessing is applied). Default: the
        validation split of the manifest's built-in suite (see :func:`validation_inputs`).
    model : model factory, optional
        The factory of your own model (never imported by the name its checkpoint records; see ``load_checkpoint``).
    force : bool
        Write into a folder that holds files taskgroup did not write (see :func:`taskgroup.outputs.claim_folder`).

    Returns
    -------
    Path
        ``out/manifest.json``: the source manifest with each network's ``checkpoint`` replaced by ``onnx`` (the
        file), ``sha256`` (of that file), ``outputs`` (task -> ONNX output name) and ``max_abs_diff`` (largest
        difference from PyTorch on the verification rows); ``export`` records the opset, tolerance and rows.

    Raises
    ------
    MissingDependency
        onnx, onnxruntime or onnxscript is not installed (the ``deploy`` extra).
    ExportError
        A network uses an operator ONNX export does not support (network and operator named), or onnxruntime's
        outputs differ from PyTorch's beyond :data:`EXPORT_TOLERANCE`.
    ManifestError
        A bad manifest, a missing or changed checkpoint, or a manifest that is already an ONNX export.
    InvalidArgument
        ``out`` is the manifest's own folder (its manifest.json would be replaced), holds a symbolic link, or
        (without ``force``) holds files taskgroup did not write; or bad ``inputs``.
    """
    for package in ("onnx", "onnxruntime", "onnxscript"):
        require_deploy(package)
    manifest = read_manifest(manifest_path)
    entries = network_entries(manifest)
    exported = sorted(n for n, e in entries.items() if ARTIFACT_CHECKPOINT not in e)
    if exported:
        raise ManifestError(
            f"Network(s) {exported} of {str(manifest_path)!r} are ONNX files already; export the "
            "manifest written by 'taskgroup train'."
        )
    folder = Path(out)
    if folder.resolve() == Path(manifest_path).resolve().parent:
        raise InvalidArgument(
            f"--out {str(out)!r} is the folder of the manifest being exported; its manifest.json "
            "would be replaced. Choose another folder (e.g. a subfolder 'onnx')."
        )
    x = validation_inputs(manifest, inputs)
    # two example rows: the exporter treats a batch of 1 as a constant rather than a dynamic axis
    example = x[:2] if len(x) >= 2 else np.repeat(x[:1], 2, axis=0)
    claim_folder(folder, "export", force=force)
    new_entries = []
    for name, entry in entries.items():
        network = load_entry(manifest_path, entry, model=model)
        file = output_path(folder, Path(entry[ARTIFACT_CHECKPOINT]).stem + ".onnx")
        tasks = list(predict(network, example))
        _export_one(name, network, tasks, example, file)
        outputs = {t: t for t in tasks}
        new_entry = {k: v for k, v in entry.items() if k != ARTIFACT_CHECKPOINT}
        new_entry.update({ARTIFACT_ONNX: file.name, "sha256": sha256_file(file), "outputs": outputs})
        try:
            new_entry["max_abs_diff"] = _verify(name, network, file, new_entry, x)
        except ExportError:
            file.unlink()  # a file that failed verification is never left where it could be mistaken for one
            raise
        new_entries.append(new_entry)
    path = output_path(folder, "manifest.json")
    write_manifest(
        {
            **{k: v for k, v in manifest.items() if k not in ("schema", "version", "networks")},
            "networks": new_entries,
            "export": {
                "format": "onnx",
                "opset": ONNX_OPSET,
                "input_name": INPUT_NAME,
                "inputs": "model inputs: apply 'preprocessing' to raw inputs first (as for the checkpoints)",
                "tolerance": dict(EXPORT_TOLERANCE),
                "verified_rows": len(x),
                "source_manifest": str(Path(manifest_path).resolve()),
            },
        },
        path,
    )
    return path


def _export_one(name: str, network: nn.Module, tasks: list[str], example: np.ndarray, file: Path) -> None:
    """Write ``network`` as ONNX with a dynamic batch axis; ExportError naming the network and operator."""
    wrapper = _TupleOutputs(network.eval(), tasks).eval()
    example_tensor = torch.as_tensor(example)
    batch = torch.export.Dim("batch", min=1)
    log = io.StringIO()
    # the exporter logs a warning per torchvision operator it cannot register when torchvision is absent
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    try:
        # the exporter prints progress and warns about its own internals; a user needs neither on success
        with warnings.catch_warnings(), contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                wrapper,
                (example_tensor,),
                input_names=[INPUT_NAME],
                output_names=tasks,
                dynamic_shapes=({0: batch},),
                opset_version=ONNX_OPSET,
                dynamo=True,
                verbose=False,
            )
            if program is None:
                raise ExportError(f"torch.onnx.export returned no program for {name!r}.")
            atomic_write(file, lambda p: program.save(str(p)))
    except Exception as exc:  # the exporter raises many kinds; all mean "this network cannot be exported"
        raise ExportError(_export_failure(name, exc, log.getvalue())) from None


def _export_failure(name: str, exc: Exception, log: str) -> str:
    text = f"{exc}\n{log}"
    # the exporter names the operator it failed on as an OpOverload or as a call target in its summary
    ops = re.findall(r"op='([^']+)'", text) or re.findall(r"target=torch\.ops\.([\w.]+?)(?:\.default)?\b", text)
    summary = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split())[:200]
    if ops:
        return (
            f"Network {name!r} cannot be exported to ONNX: operator {ops[0]!r} has no ONNX translation "
            f"({type(exc).__name__}). Use operators ONNX supports in the model, or serve the PyTorch checkpoint."
        )
    return (
        f"Network {name!r} cannot be exported to ONNX: the exporter failed on an operator it names no further "
        f"({type(exc).__name__}: {summary}). Serve the PyTorch checkpoint instead."
    )


def _verify(name: str, network: nn.Module, file: Path, entry: Mapping[str, Any], x: np.ndarray) -> float:
    """Run the file on onnxruntime over ``x`` (and a single row) and compare every head with PyTorch."""
    require_deploy("onnx").checker.check_model(str(file))
    session = onnx_session(file)
    worst = 0.0
    for rows in (x, x[:1]):  # a batch of one as well: the batch axis must really be dynamic
        expected = predict(network, rows)
        got = run_session(session, entry, rows)
        for task, want in expected.items():
            diff = float(np.max(np.abs(got[task] - want))) if want.size else 0.0
            worst = max(worst, diff)
            if got[task].shape != want.shape or not np.allclose(
                got[task], want, rtol=EXPORT_TOLERANCE["rtol"], atol=EXPORT_TOLERANCE["atol"]
            ):
                raise ExportError(
                    f"Network {name!r}: onnxruntime's output for task {task!r} differs from PyTorch's by up to "
                    f"{diff:.3g} on {len(rows)} validation row(s) (shapes {got[task].shape} and {want.shape}), "
                    f"beyond the tolerance rtol={EXPORT_TOLERANCE['rtol']}, atol={EXPORT_TOLERANCE['atol']}."
                )
    return worst
