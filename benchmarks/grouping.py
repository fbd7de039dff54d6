"""Does grouping pay on the image suite? `taskgroup run --suite mnist` against both extremes, on test, over seeds.

For each suite seed (the split, and which images carry the scarce labels; networks keep `run`'s default seed 0, so
this is ``taskgroup run --suite-param seed=<s>``) it runs the whole pipeline — measure all candidates with the
`cnn` family, frontier, plan at the budget rule, the plan's networks, the single-task networks and the all-in-one
network (those measured are taken as measured) — and reports on the *test* split: Δm% of the plan and of the
all-in-one network against the independent single-task networks (Δm% = 0 by definition), the plan's cost against
theirs, and how many tasks the plan trains together.

    python -m benchmarks.grouping [--quick] [--seeds 3] [--jobs 1] [--budget B] [--results DIR]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from benchmarks.common import QUICK_MNIST, RESULTS, machine_line, markdown_table

QUICK_PARAMS = {"tasks": ["digit", "odd", "slant"], **QUICK_MNIST}


def run_seed(
    seed: int, out: Path, *, quick: bool, budget: float | None, threads: int | None = None, stores: Path | None = None
) -> tuple:
    from taskgroup.pipeline import run_pipeline
    from taskgroup.run_settings import RunSettings

    cached = None if stores is None else stores / f"obj-mnist-seed{seed}.db"
    if cached is not None and cached.exists() and not quick:
        # the measurement `run` would make, made once by benchmarks.selection: the run resumes from it
        out.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(f"file:{cached}?mode=ro", uri=True) as source, sqlite3.connect(out / "results.db") as copy:
            source.backup(copy)

    settings = RunSettings(
        suite="mnist",
        suite_params={"seed": seed, **(QUICK_PARAMS if quick else {})},
        epochs=1 if quick else 30,
        budget=budget,
        threads=threads,
    )
    start = time.perf_counter()
    # a copied store is not listed as written by taskgroup in that folder: force lets the run resume from it
    outcome = run_pipeline(settings, out, progress=False, say=lambda _m: None, force=cached is not None)
    results = json.loads((out / "results.json").read_text())
    plan = outcome.plan
    together = max(len(d.serves) for d in plan.details)
    metrics = [
        {"task": task, "metric": metric, "network": network, "value": value}
        for network, key in (("single-task", "baselines"), ("plan", "multitask"), ("all-in-one", "all_in_one"))
        for task, values in results[key].items()
        for metric, value in values.items()
    ]
    affinity = (
        outcome.affinity.map(lambda v: "—" if pd.isna(v) else f"{v:+.3f}")
        .rename_axis(index="source \\ target", columns=None)
        .reset_index()
    )
    front = outcome.frontier.to_frame()[["budget", "objective", "networks"]]
    return (
        metrics,
        affinity,
        front,
        {
            "seed": seed,
            "budget": round(outcome.budget, 3),
            "plan": ", ".join(plan.networks),
            "largest group served": together,
            "plan cost": round(next(iter(plan.cost.values())), 3),
            "independent cost": float(len(plan.assignment)),
            "plan Δm% (test)": results["delta_m"]["multitask"],
            "all-in-one Δm% (test)": results["delta_m"]["all_in_one"],
            "wall s": round(time.perf_counter() - start, 1),
        },
    )


RESUMED = (
    " Measurements resumed from {stores} (benchmarks.selection). Those stores keep no weights, so each run trains "
    "the networks it reports again with the seed they were measured with, which gives the same networks; `wall s` "
    "then leaves the measurement out."
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.grouping", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: three tasks, a small suite, 1 epoch, 1 seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=None, help="budget (default: the frontier's knee)")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run at once, one torch thread each when > 1")
    parser.add_argument(
        "--stores",
        type=Path,
        default=None,
        help="folder of measured stores obj-mnist-seed<s>.db (benchmarks.selection) to resume each run from",
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    seeds = range(1 if args.quick else args.seeds)
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(args.jobs) as pool:
        threads = 1 if args.jobs > 1 else None
        futures = [
            pool.submit(
                run_seed,
                s,
                Path(tmp) / f"seed{s}",
                quick=args.quick,
                budget=args.budget,
                threads=threads,
                stores=args.stores,
            )
            for s in seeds
        ]
        runs = [f.result() for f in futures]
    table = pd.DataFrame([row for *_, row in runs])
    _, affinity, front, _ = runs[0]
    per_task = (
        pd.DataFrame([m for metrics, *_ in runs for m in metrics])
        .pivot_table(index=["task", "metric"], columns="network", values="value", sort=False)
        .reset_index()
    )
    summary = []
    for column in ("plan Δm% (test)", "all-in-one Δm% (test)"):
        values = table[column].tolist()
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        summary.append(
            f"- {column}: mean {statistics.mean(values):+.2f}, std {spread:.2f}, median "
            f"{statistics.median(values):+.2f}, min {min(values):+.2f} over {len(values)} seeds; "
            f"{sum(v >= 3 for v in values)} seeds >= +3 %, {sum(v >= 5 for v in values)} >= +5 %"
        )
    beats = int((table["plan Δm% (test)"] > table["all-in-one Δm% (test)"]).sum())
    shared = int((table["largest group served"] >= 2).sum())
    summary.append(
        f"- the plan beats the all-in-one network on {beats} and trains >= 2 tasks together on {shared} "
        f"of {len(table)} seeds"
    )
    from taskgroup.objectives import describe_objective
    from taskgroup.run_settings import RunSettings

    objective = RunSettings().objective
    n_tasks = len(per_task["task"].unique())
    budget_rule = f"budget {args.budget}" if args.budget is not None else "the frontier's knee"
    text = "\n".join(
        [
            "# Grouping on the image suite: plan vs independent networks vs all-in-one (test split)",
            "",
            f"`python -m benchmarks.grouping{' --quick' if args.quick else ''} --seeds {len(table)}"
            f"{'' if args.budget is None else f' --budget {args.budget}'}`; {machine_line()}.",
            f"Suite `mnist` (defaults{', quick sizes' if args.quick else ''}), `cnn` family, {budget_rule}. Δm% is "
            "LibMTL's mean relative change over each task's metrics (accuracy and AUC; RMSE and R^2) against the "
            "single-task networks trained in the same run. Plans are chosen on validation by `run`'s default "
            f"objective `{objective}`: {describe_objective(objective, n_tasks)}."
            + (RESUMED.format(stores=args.stores) if args.stores else ""),
            "",
            markdown_table(table, floatfmt=".3g"),
            "",
            *summary,
            "",
            f"Per-task test metrics, mean over {len(table)} seed(s) (the plan: each task from the network that "
            "serves it):",
            "",
            markdown_table(per_task[["task", "metric", "single-task", "plan", "all-in-one"]], floatfmt=".4f"),
            "",
            "## Seed 0 in detail",
            "",
            "Pair affinity on validation, `1 - L_t({t, u}) / L_t({t})` for source u (row) and target t (column): "
            "positive means training with u lowered t's loss.",
            "",
            markdown_table(affinity),
            "",
            f"The budget frontier on validation (objective `{objective}`):",
            "",
            markdown_table(front, floatfmt=".4g"),
            "",
        ]
    )
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "grouping.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
