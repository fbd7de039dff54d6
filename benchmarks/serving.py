"""Benchmark of taskgroup.serve: a trained plan on PyTorch vs its ONNX export, and what export costs.

Writes benchmarks/results/serving.md. On the digits suite, a two-network plan (``digit+odd``, ``large+prime+loop``;
the built-in mlp family) is trained briefly (the weights do not change the cost), exported to ONNX and verified,
then ``tg.serve.measure_plan_cost`` times every network and the whole plan at batch sizes 1, 32 and 256 on one CPU
thread, for the checkpoints (torch) and for the ONNX files (onnxruntime). Each configuration is measured in
``ROUNDS`` independent rounds, alternating torch and ONNX so that both see the same machine load; the table gives
the median over rounds of each round's median latency, and the torch/ONNX ratio is computed within each round
before its median is taken. Run from the repository root:

    .venv/bin/python -m benchmarks.serving            # about a minute on 2 cores
    .venv/bin/python -m benchmarks.serving --quick    # smoke run
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.common import RESULTS, markdown_table, write_report
from taskgroup.datasets.suites import load_suite
from taskgroup.engine import TrainConfig
from taskgroup.plan import Plan, PlanNetwork
from taskgroup.serve import export_onnx, measure_plan_cost
from taskgroup.serve.plan_cost import PLAN_NAME
from taskgroup.train import RunConfig, read_manifest, train_plan

NETWORKS = {"digit+odd": ("digit", "odd"), "large+prime+loop": ("large", "prime", "loop")}


def plan() -> Plan:
    assignment = {t: n for n, tasks in NETWORKS.items() for t in tasks}
    return Plan(
        networks=tuple(NETWORKS),
        assignment=assignment,
        task_losses={t: 0.0 for t in assignment},
        objective=0.0,
        cost={"cost": float(len(NETWORKS))},
        details=tuple(PlanNetwork(n, ts, ts, {"cost": 1.0}) for n, ts in NETWORKS.items()),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: one epoch, small batches, few repeats")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    batches, repeats, rounds = ((1, 8), 3, 2) if args.quick else ((1, 32, 256), 50, 5)
    suite = load_suite("digits")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        config = RunConfig(fit=TrainConfig(epochs=1 if args.quick else 5), baselines=False)
        manifest = train_plan(plan(), suite, out / "run", config).manifest
        start = time.perf_counter()
        onnx_manifest = export_onnx(manifest, out / "onnx")
        export_s = time.perf_counter() - start
        exported = read_manifest(onnx_manifest)
        measured: dict[str, list[pd.DataFrame]] = {"torch": [], "onnxruntime": []}
        for _ in range(rounds):
            for runtime, path in (("torch", manifest), ("onnxruntime", onnx_manifest)):
                measured[runtime].append(measure_plan_cost(path, batches, repeats=repeats, threads=1))
    rows = []
    for network in [*NETWORKS, PLAN_NAME]:
        for batch in batches:

            def pick(table: pd.DataFrame, column: str) -> float:
                return float(table[(table["network"] == network) & (table["batch"] == batch)][column].iloc[0])

            torch_ms = [pick(t, "latency_ms_median") for t in measured["torch"]]
            onnx_ms = [pick(t, "latency_ms_median") for t in measured["onnxruntime"]]
            rows.append(
                {
                    "network": network,
                    "batch": batch,
                    "torch median ms": statistics.median(torch_ms),
                    "torch p95 ms": statistics.median(pick(t, "latency_ms_p95") for t in measured["torch"]),
                    "onnx median ms": statistics.median(onnx_ms),
                    "onnx p95 ms": statistics.median(pick(t, "latency_ms_p95") for t in measured["onnxruntime"]),
                    "torch / onnx": statistics.median(a / b for a, b in zip(torch_ms, onnx_ms, strict=True)),
                    "onnx rows/s": statistics.median(pick(t, "throughput_rows_s") for t in measured["onnxruntime"]),
                    "torch peak bytes": pick(measured["torch"][0], "peak_memory_bytes"),
                }
            )
    table = pd.DataFrame(rows)
    export_rows = pd.DataFrame(
        [
            {"network": e["name"], "params": e["params"], "max abs(onnx - torch)": e["max_abs_diff"]}
            for e in exported["networks"]
        ]
    )
    path = write_report(
        "serving",
        "Serving: PyTorch checkpoints vs ONNX files (digits plan)",
        [
            (
                "Setup",
                f"Plan {list(NETWORKS)} on digits (64 inputs), mlp family (64, 64); `measure_plan_cost` on one "
                f"CPU thread, {repeats} timed passes per network and batch after warm-up, {rounds} rounds "
                "alternating torch and ONNX; medians over rounds. Peak memory: parameters + measured peak of "
                "live tensor bytes (torch only; onnxruntime's allocations are not visible).",
            ),
            ("Latency and throughput", markdown_table(table)),
            (
                "Export",
                f"`export_onnx` of both networks, verified on {exported['export']['verified_rows']} validation "
                f"rows and a single row: {export_s:.1f} s wall.\n\n" + markdown_table(export_rows, ".3g"),
            ),
        ],
        results=args.results,
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
