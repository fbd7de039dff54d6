"""What a trained plan costs on this machine: latency, throughput and peak memory per network and for the plan.

For each batch size, every network of the manifest runs ``repeats`` timed forward passes (after warm-up) on a
batch of that many inputs, and the whole plan (every network once per batch, one after the other, as a server
answering all tasks would) does the same. Reported per row:

- ``latency_ms_median``, ``latency_ms_p95``: wall time of one forward pass over the batch;
- ``throughput_rows_s``: batch size / median latency;
- ``peak_memory_bytes``: parameter and buffer bytes of the networks held plus the measured peak of live tensor
  bytes during the batch's forward pass, the input included (the engine's :class:`~taskgroup.engine.profile.PeakMemory`;
  PyTorch checkpoints only: onnxruntime's allocations are not visible, so ONNX rows leave it empty);
- the costs the plan was chosen with, beside: the manifest's profiled one-example costs (``flops``, ``params``,
  ``latency_ms``, ``memory_bytes``) and the plan's own cost per resource (``plan_cost:<resource>``, from the run's
  ``run.json`` beside the manifest or beside the manifest an ONNX export came from).

The inputs are zeros of the manifest's input shape and dtype: the networks' cost depends on their architecture,
not on the values.
"""

from __future__ import annotations

import functools
import json
import math
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from taskgroup.engine.families import ModelFactory
from taskgroup.engine.profile import COST_KEYS, PeakMemory
from taskgroup.engine.runtime import configure_threads
from taskgroup.errors import InvalidArgument, ManifestError
from taskgroup.files import read_text
from taskgroup.manifest import (
    ARTIFACT_ONNX,
    artifact_path,
    load_entry,
    network_entries,
    read_manifest,
    required_fields,
)

__all__ = ["PLAN_NAME", "measure_plan_cost", "plan_costs"]

PLAN_NAME = "whole plan"


def plan_costs(
    manifest_path: str | PathLike[str], manifest: Mapping[str, Any] | None = None
) -> dict[str, dict[str, float]]:
    """The cost per resource each network was chosen with, or {} when unknown.

    Read from the plan in the run's ``run.json`` beside the manifest, or, for an exported manifest, beside the
    manifest it was exported from.

    Parameters
    ----------
    manifest_path : path
        A manifest from ``taskgroup train``, ``run`` or ``export``.
    manifest : mapping, optional
        The manifest already read (default: read from ``manifest_path``).

    Returns
    -------
    dict of str to dict of str to float
        Network name to its cost per resource; empty when no ``run.json`` is found.

    Raises
    ------
    ManifestError
        The manifest cannot be read, or ``run.json`` holds no plan.
    InvalidArgument
        ``run.json`` cannot be read as text.
    """
    manifest = read_manifest(manifest_path) if manifest is None else manifest
    folders = [Path(manifest_path).parent]
    source = manifest.get("export", {}).get("source_manifest")
    if isinstance(source, str):
        folders.append(Path(source).parent)
    run = next((f / "run.json" for f in folders if (f / "run.json").is_file()), None)
    if run is None:
        return {}
    try:
        plan = json.loads(read_text(run, "run file"))["plan"]
        return {n["name"]: {str(k): float(v) for k, v in n["cost"].items()} for n in plan["networks"]}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise ManifestError(f"{str(run)!r} is not a taskgroup run file with a plan.") from None


# The largest batch plan-cost times, in input numbers (float32: 1 GB), and the most repeats per batch size.
MAX_INPUT_ELEMENTS = 1 << 28
MAX_REPEATS = 100_000


def _check_batches(batches: Sequence[int]) -> list[int]:
    sizes = list(batches)
    if not sizes or any(isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1 for b in sizes):
        raise InvalidArgument(f"batches must be positive integers like (1, 32, 256); got {list(batches)!r}.")
    return [int(b) for b in sizes]


def _run_all(members: Sequence[Callable[[torch.Tensor], Any]], x: torch.Tensor) -> list[Any]:
    """Every member network on ``x``: one timed call of a plan (or of one network)."""
    return [m(x) for m in members]


def _time(run: Callable[[], Any], repeats: int) -> list[float]:
    for _ in range(max(2, repeats // 10)):  # warm-up: allocator, kernel selection, onnxruntime's first run
        run()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(1000.0 * (time.perf_counter() - t0))
    return times


def _torch_memory(networks: Sequence[torch.nn.Module], x: torch.Tensor) -> float:
    held = sum(t.numel() * t.element_size() for n in networks for t in [*n.parameters(), *n.buffers()])
    with torch.no_grad():
        x_copy = x.clone()  # the input is part of what a forward pass holds
        with PeakMemory() as memory:
            for network in networks:
                network(x_copy)
    return float(held + x_copy.numel() * x_copy.element_size() + memory.peak)


def measure_plan_cost(
    manifest_path: str | PathLike[str],
    batches: Sequence[int] = (1, 32, 256),
    *,
    repeats: int = 30,
    threads: int | None = None,
    model: ModelFactory | None = None,
) -> pd.DataFrame:
    """Latency (median, p95), throughput and peak memory of each network and the whole plan per batch size.

    Parameters
    ----------
    manifest_path : path
        A manifest of PyTorch checkpoints or of ONNX files (``taskgroup export``; needs the ``deploy`` extra).
    batches : sequence of int
        Batch sizes to measure.
    repeats : int
        Timed forward passes per network and batch size.
    threads : int, optional
        CPU threads for torch (and onnxruntime); default: the cores available to this process.
    model : model factory, optional
        See :func:`taskgroup.train.load_checkpoint`.

    Returns
    -------
    pandas.DataFrame
        One row per (network, batch size), then the whole plan's rows; columns ``network``, ``batch``,
        ``latency_ms_median``, ``latency_ms_p95``, ``throughput_rows_s``, ``peak_memory_bytes`` and the costs the
        plan was chosen with (see the module docstring).

    Raises
    ------
    InvalidArgument
        Bad batch sizes, repeats or threads.
    ManifestError
        A bad manifest or a missing or changed network file.
    """
    sizes = _check_batches(batches)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise InvalidArgument(f"repeats must be a positive integer; got {repeats!r}.")
    threads = configure_threads(threads)
    manifest = read_manifest(manifest_path)
    # every batch is allocated as one input tensor (and each network's activations on it): bounded first
    elements = max(sizes) * math.prod(required_fields(manifest, "input_shape")[0])
    if elements > MAX_INPUT_ELEMENTS or repeats > MAX_REPEATS:
        raise InvalidArgument(
            f"Batch {max(sizes)} of inputs {required_fields(manifest, 'input_shape')[0]} is {elements:,} numbers and "
            f"repeats is {repeats}; at most {MAX_INPUT_ELEMENTS:,} numbers per batch and {MAX_REPEATS} repeats are "
            "accepted."
        )
    entries = network_entries(manifest)
    chosen = plan_costs(manifest_path, manifest)
    runners, modules = {}, {}
    for name, entry in entries.items():
        path = artifact_path(manifest_path, entry)
        if ARTIFACT_ONNX in entry:
            from taskgroup.onnx_runtime import check_session, onnx_session, run_session

            session = onnx_session(path, threads=threads)
            check_session(session, manifest, entry)
            runners[name] = lambda x, s=session, e=entry: run_session(s, e, x.numpy())
        else:
            network = load_entry(manifest_path, entry, model=model)
            modules[name] = network
            runners[name] = network
    rows = []
    shape, dtype = required_fields(manifest, "input_shape", "input_dtype")
    shape, dtype = tuple(shape), getattr(torch, dtype)
    with torch.no_grad():
        for batch in sizes:
            x = torch.zeros((batch, *shape), dtype=dtype)
            for name, runner in [*runners.items(), (PLAN_NAME, None)]:
                members = list(runners.values()) if runner is None else [runner]
                times = _time(functools.partial(_run_all, members, x), repeats)
                median = statistics.median(times)
                held = list(modules.values()) if runner is None else [modules[name]] if name in modules else []
                memory = _torch_memory(held, x) if len(held) == len(members) else float("nan")
                costs = _chosen_costs(
                    [entries[name]] if runner is not None else list(entries.values()),
                    [chosen.get(name, {})] if runner is not None else list(chosen.values()),
                )
                rows.append(
                    {
                        "network": name,
                        "batch": batch,
                        "latency_ms_median": median,
                        "latency_ms_p95": float(np.percentile(times, 95)),
                        "throughput_rows_s": 1000.0 * batch / median if median > 0 else float("inf"),
                        "peak_memory_bytes": memory,
                        **costs,
                    }
                )
    table = pd.DataFrame(rows)
    table.attrs.update(
        {
            "threads": threads,
            "repeats": repeats,
            "runtime": _runtime(entries),
            "machine": {
                "platform": platform.platform(),
                "processor": platform.processor() or platform.machine(),
                "torch": torch.__version__,
            },
        }
    )
    return table


def _chosen_costs(entries: Sequence[Mapping[str, Any]], plan: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The manifest's one-example costs and the plan's costs, summed over ``entries`` (one network or all)."""
    costs = {f"chosen_{key}": float(sum(e.get(key, float("nan")) for e in entries)) for key in COST_KEYS}
    for resource in sorted({r for p in plan for r in p}):
        costs[f"plan_cost:{resource}"] = float(sum(p.get(resource, float("nan")) for p in plan))
    return costs


def _runtime(entries: Mapping[str, Mapping[str, Any]]) -> str:
    kinds = {"onnxruntime" if ARTIFACT_ONNX in e else "torch" for e in entries.values()}
    return " + ".join(sorted(kinds))
