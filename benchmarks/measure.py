"""Benchmark of taskgroup.measure: one-by-one vs vectorised vs process-pool training, costs, frontier.

Run: .venv/bin/python benchmarks/measure.py [--repeats 3] [--epochs 30]
Writes benchmarks/results/measure.md. Each timed run is a fresh subprocess (so its peak RSS is its own);
torch uses one thread per process. Wall times are medians over --repeats runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def one_run(suite_name: str, mode: str, epochs: int, store: str) -> dict:
    """Runs inside a child process: one measurement mode; prints JSON."""
    import torch

    torch.set_num_threads(1)
    from taskgroup.datasets.suites import load_suite
    from taskgroup.measure import TrainConfig, make_candidates, measure, train_candidate

    suite = load_suite(suite_name)
    config = TrainConfig(epochs=epochs, patience=10)
    t0 = time.perf_counter()
    if mode == "single":
        train_candidate(suite, make_candidates(suite.task_names)[0], config, seed=0)
    else:
        executor = {"one-by-one": "serial", "vectorised": "serial", "process-pool": "process:2"}[mode]
        measure(
            suite,
            store,
            config=config,
            executor=executor,
            vectorise=mode != "one-by-one",
            progress=False,
            latency_repeats=200,
        )
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def md(frame, fmt: str = ".3g") -> str:
    """A DataFrame as a markdown table (no tabulate dependency)."""

    def cell(v):
        return format(v, fmt) if isinstance(v, float) else str(v)

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def timed(suite: str, mode: str, epochs: int, store: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", suite, mode, str(epochs), store],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    # the pool's workers are children of the child: count their peak too
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--suites", default="synthetic,digits")
    parser.add_argument("--quick", action="store_true", help="one run, 3 epochs, synthetic only (smoke run)")
    parser.add_argument("--results", type=Path, default=HERE / "results", help="folder for measure.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.epochs, args.suites = 1, 3, "synthetic"

    import pandas as pd

    import taskgroup as tg
    from taskgroup.datasets.suites import load_suite

    lines = [
        "# Measurement benchmark (`benchmarks/measure.py`)",
        "",
        f"Machine: {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} CPU cores, "
        f"torch {__import__('torch').__version__}, one torch thread per process; other work was running on "
        "the machine, so times are noisy. Epochs "
        f"{args.epochs} (patience 10), hidden (64, 64), batch 128, Adam 1e-3. Wall time = median of "
        f"{args.repeats} runs (each a fresh process); peak RSS of the driver process.",
        "",
    ]
    tmp = Path(tempfile.mkdtemp())
    for suite_name in args.suites.split(","):
        suite = load_suite(suite_name)
        rows, keep_store = [], None
        for mode in ("single", "one-by-one", "vectorised", "process-pool"):
            runs = []
            for r in range(args.repeats if mode != "one-by-one" else max(1, args.repeats - 1)):
                store = tmp / f"{suite_name}-{mode}-{r}.db"
                runs.append(timed(suite_name, mode, args.epochs, str(store)))
                if mode == "vectorised":
                    keep_store = store
            rows.append(
                {
                    "mode": mode,
                    "networks": 1 if mode == "single" else 36 if suite_name != "wage" else 19,
                    "runs": len(runs),
                    "wall_s (median)": statistics.median(r["wall_s"] for r in runs),
                    "wall_s (all)": ", ".join(f"{r['wall_s']:.1f}" for r in runs),
                    "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                }
            )
        times = pd.DataFrame(rows)
        single = times.loc[times["mode"] == "single", "wall_s (median)"].iloc[0]
        times["x one network"] = times["wall_s (median)"] / single
        median = times.set_index("mode")["wall_s (median)"]
        lines += [
            f"## Suite `{suite_name}`: {list(suite.task_names)}",
            "",
            "### Wall time",
            "",
            md(times, ".2f"),
            "",
            f"Stacked (vectorised) vs one-by-one, same run: **{median['one-by-one'] / median['vectorised']:.2f}x** "
            "faster (both through the engine: `fit` one network at a time, `train_stack` for the stack).",
            "",
        ]
        store = tg.measure.ResultStore(keep_store)
        costs = tg.measure.normalise_costs(store.costs())
        lines += [
            "### Cost columns (normalised: a full-size single-task network = 1)",
            "",
            md(costs[["network", "flops", "params", "latency_ms", "memory_bytes", "snt"]], ".3f"),
            "",
        ]
        for cost in ("snt", "flops"):
            problem = store.to_problem("val", cost)
            test = store.to_problem("test", cost)
            front = tg.frontier(problem, cost=cost)
            table = front.to_frame()
            table["test objective"] = [test.evaluate(p.networks).objective for p in front]
            table["groups"] = [" ; ".join(sorted(p.networks)) for p in front]
            lines += [f"### Budget frontier on validation losses, cost `{cost}`", "", md(table, ".4g"), ""]
        if suite_name == "synthetic":
            planted = suite.params["planted"]
            k = len(planted)
            plan = tg.solve(store.to_problem(cost="snt"), budget=float(k))
            groups = {
                frozenset(t for t, n in plan.assignment.items() if n == net) for net in set(plan.assignment.values())
            }
            recovered = groups == {frozenset(g) for g in planted}
            lines += [
                f"### Planted clusters at budget = {k} (cost `snt`)",
                "",
                f"Planted: {planted}. Optimal plan: {sorted(plan.networks)} "
                f"(objective {plan.objective:.4f}). Task grouping recovered: **{recovered}**.",
                "",
            ]
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "measure.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(one_run(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])))
    else:
        main()
