"""Benchmark of the evaluation errors of the selection objectives: what one run's bootstrap over validation rows says,
against what training repeats reveal, and what the bootstrap costs.

Run: .venv/bin/python -m benchmarks.evaluation_errors [--suite mnist] [--seeds 3] [--store PATH] [--quick]
Writes benchmarks/results/evaluation_errors.md. ``--store`` keeps the measurements (reused and completed when
present, so an interrupted run resumes where it stopped; default a temporary file); ``--quick`` is a smoke run
(digits, 2 epochs, 2 seeds).

Every candidate of ``taskgroup run``'s default measurement (``--strategy full``: all task subsets and the
half-size single-task networks, the suite's default model, the run's default epochs) is measured with seeds
0..K-1, one network at a time (``executor="serial"``: one core). For every (network, task) but the single-task
networks, under the ``metric`` objective (the run's default):

- ``bootstrap se, one run``: the paired bootstrap error over validation rows of seed 0 alone, what a single run
  reports (``selection_problem(..., errors="total")`` on one seed);
- ``spread of one run``: the standard deviation over the K seeds of the value of one run against the single-task
  network of the same seed, the error one run really has from training noise (which no bootstrap of one run sees);
- the standard errors of the mean over K seeds: over repeats alone (``errors="training"``), the evaluation part
  (the bootstrap of the mean over seeds) and both together (what ``selection_problem`` gives).

Medians over the entries, and the same for the ``calibrated`` objective on its scale (each loss divided by the
single-task network's, as the run weights it). Cost: the seconds :func:`taskgroup.engine.score` spends on the
replicates and the calibrated bootstrap for one network of the suite (val and test splits, medians of 15 timings
on random outputs of the right shapes), and the bytes they take in the store per network and seed.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import RESULTS, markdown_table


def measure_all(suite, store: Path, seeds: int, epochs: int | None) -> object:
    from taskgroup.engine.defaults import default_train_config
    from taskgroup.measure import measure
    from taskgroup.run_settings import RunSettings

    # the configuration taskgroup run trains its candidates with (its default epochs unless told otherwise)
    config = default_train_config(suite, epochs=epochs or RunSettings().epochs)
    start = time.perf_counter()
    measure(suite, store, candidates="all", config=config, seeds=seeds, executor="serial", latency_repeats=1)
    print(f"measured in {time.perf_counter() - start:.0f} s (what the store held was not measured again)", flush=True)
    return config


def _values(results: pd.DataFrame, replicates: pd.DataFrame | None, seeds: list[int]) -> pd.DataFrame:
    """The metric objective of the seeds ``seeds`` (errors over repeats alone without ``replicates``)."""
    from taskgroup.objectives import metric_values

    kept = None if replicates is None else replicates[replicates["seed"].isin(seeds)]
    return metric_values(results[results["seed"].isin(seeds)], "val", kept)


def metric_table(results: pd.DataFrame, replicates: pd.DataFrame, seeds: list[int]) -> dict[str, float]:
    def entries(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["network"] != frame["task"]].set_index(["network", "task"])  # single-task: exactly 1

    one = entries(_values(results, replicates, seeds[:1]))
    # one run against the single-task network of the same seed, for each seed: the spread of what one run reports
    per_seed = pd.concat([entries(_values(results, None, [s]))["loss"].rename(s) for s in seeds], axis=1)
    repeats = entries(_values(results, replicates, seeds))
    training = entries(_values(results, None, seeds))["loss_se"]
    evaluation = np.sqrt(np.maximum(repeats["loss_se"] ** 2 - training**2, 0.0))
    return {
        "entries": len(one),
        "value (median)": float(one["loss"].median()),
        "bootstrap se, one run": float(one["loss_se"].median()),
        "spread of one run over seeds": float(per_seed.std(axis=1, ddof=1).median()),
        f"se of the mean of {len(seeds)}: repeats alone": float(training.median()),
        f"se of the mean of {len(seeds)}: evaluation part": float(evaluation.median()),
        f"se of the mean of {len(seeds)}: both": float(repeats["loss_se"].median()),
    }


def calibrated_table(results: pd.DataFrame, seeds: list[int]) -> dict[str, float]:
    from taskgroup.uncertainty import repeat_se

    rows = results[results["seed"].isin(seeds)]
    single = rows[rows["network"] == rows["task"]].groupby("task")["val_calibrated_loss"].mean()
    scaled = rows.assign(
        value=rows["val_calibrated_loss"] / rows["task"].map(single),
        error=rows["val_calibrated_loss_se"] / rows["task"].map(single),
    )
    scaled = scaled[scaled["network"] != scaled["task"]]
    one = scaled[scaled["seed"] == seeds[0]]
    grouped = scaled.groupby(["network", "task"])
    both = grouped[["value", "error"]].apply(lambda r: repeat_se(r["value"], r["error"]))
    alone = grouped["value"].std(ddof=1) / np.sqrt(grouped["value"].count())
    return {
        "entries": len(one),
        "value (median)": float(one["value"].median()),
        "bootstrap se, one run": float(one["error"].median()),
        "spread of one run over seeds": float(grouped["value"].std(ddof=1).median()),
        f"se of the mean of {len(seeds)}: repeats alone": float(alone.median()),
        f"se of the mean of {len(seeds)}: evaluation part": float(grouped["error"].mean().median()),
        f"se of the mean of {len(seeds)}: both": float(both.median()),
    }


def knee_plans(store_path: Path, config_hash: str, seeds: list[int]) -> pd.DataFrame:
    """The plan at the frontier's knee under the metric objective, from seed 0 alone and from every seed, with its
    objective's standard error (both parts, and over repeats alone), read from copies of the store holding only
    those seeds."""
    import shutil
    import sqlite3

    import taskgroup as tg
    from taskgroup.measure import ResultStore
    from taskgroup.objectives import selection_problem
    from taskgroup.pipeline import knee_budget

    rows = []
    for kept in (seeds[:1], seeds):
        path = Path(tempfile.mkdtemp()) / "seeds.db"
        shutil.copy(store_path, path)
        with sqlite3.connect(path) as db:
            marks = ",".join("?" * len(kept))
            for table in ("results", "replicates"):
                db.execute(f"DELETE FROM {table} WHERE seed NOT IN ({marks})", kept)
        store = ResultStore(path)
        problem = selection_problem(store, "metric", config=config_hash)
        plan = tg.solve(problem, knee_budget(tg.frontier(problem)))
        training = selection_problem(store, "metric", config=config_hash, errors="training")
        alone = training.evaluate(list(plan.networks)).objective_se
        n = problem.n_tasks
        rows.append(
            {
                "seeds": ", ".join(map(str, kept)),
                "plan": " ".join(plan.networks),
                "cost": sum(plan.cost.values()),
                "objective": plan.objective,
                "se": plan.objective_se,
                "se over repeats alone": math.nan if alone is None else alone,
                "validation Δm%": 100 * (1 - plan.objective / n),
                "± (se)": 100 * plan.objective_se / n,
            }
        )
    return pd.DataFrame(rows)


def cost(suite, rounds: int = 15) -> list[dict[str, object]]:
    """Seconds per network of what score() adds for the evaluation errors, on outputs of the suite's shapes."""
    import torch

    from taskgroup.engine.seeding import numpy_rng
    from taskgroup.tasks.losses import row_losses
    from taskgroup.tasks.replicates import metric_replicates
    from taskgroup.uncertainty import BOOTSTRAP_SAMPLES, bootstrap_counts, bootstrap_se

    torch.set_num_threads(1)  # as a measurement's workers train and score (--threads 1)
    rng = np.random.default_rng(0)
    out = []
    for key in ("val", "test"):
        data = suite.split(key)
        width = {t.name: t.n_classes if t.kind == "multiclass" else 1 for t in suite.tasks}
        outputs = {t: rng.normal(size=(len(data), w)).astype(np.float32) for t, w in width.items()}

        def added() -> None:
            for c, task in enumerate(suite.tasks):
                mask = data.mask[:, c]
                rows = mask.numpy()
                head = outputs[task.name]
                scaled = torch.as_tensor(head) / 1.5  # the calibrated loss's temperature
                per_row = row_losses(task, scaled, data.y[:, c], mask).numpy()[rows].astype(np.float64)
                bootstrap_se(per_row, numpy_rng(0, "bootstrap", task.name))
                counts = bootstrap_counts(int(rows.sum()), BOOTSTRAP_SAMPLES, numpy_rng(0, "replicates", task.name))
                metric_replicates(task.kind, data.y[rows, c].numpy(), head[rows], counts)

        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            added()
            times.append(time.perf_counter() - start)
        out.append(
            {
                "split": key,
                "rows": len(data),
                "ms per network (median)": 1000 * statistics.median(times),
                "ms (min, max)": f"{1000 * min(times):.1f}, {1000 * max(times):.1f}",
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", default="mnist")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None, help="default: taskgroup run's")
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.suite, args.seeds, args.epochs = "digits", 2, 2
    from taskgroup.datasets.suites import load_suite
    from taskgroup.measure import ResultStore

    suite = load_suite(args.suite)
    store_path = args.store or Path(tempfile.mkdtemp()) / "errors.db"
    config = measure_all(suite, store_path, args.seeds, args.epochs)
    store = ResultStore(store_path)
    results = store.results(config=config.hash())
    results = results[(results["status"] == "ok") & results["task"].notna()]
    run = results.iloc[0]
    replicates = store.replicates(run["suite"], run["config"], "val")
    seeds = sorted(int(s) for s in results["seed"].unique())[: args.seeds]
    n_networks = results["network"].nunique()
    table = pd.DataFrame(
        [
            {"objective": "metric", **metric_table(results, replicates, seeds)},
            {"objective": "calibrated (relative scale)", **calibrated_table(results, seeds)},
        ]
    ).set_index("objective")
    plans = knee_plans(store_path, config.hash(), seeds)
    costs = pd.DataFrame(cost(suite))
    replicate_bytes = sum(len(s) * 4 for s in store.replicates(run["suite"], run["config"], "test")["samples"]) + sum(
        len(s) * 4 for s in replicates["samples"]
    )
    per_network = replicate_bytes / (n_networks * len(seeds))
    lines = [
        "# Evaluation errors of the selection objectives (`benchmarks/evaluation_errors.py`)",
        "",
        f"`python -m benchmarks.evaluation_errors --suite {args.suite} --seeds {args.seeds}"
        + (f" --epochs {args.epochs}" if args.epochs else "")
        + f"`. Suite `{args.suite}` ({suite.task_names}), {n_networks} candidate networks (`{config.model}`, "
        f"{config.epochs} epochs), seeds {seeds}, one network at a time on 2 CPU cores shared with other work.",
        "",
        "## Standard errors of one (network, task) value (medians over the entries, single-task networks left out)",
        "",
        "Values are `1 - g` (metric: 1 - the task's relative metric change against its single-task network; "
        "calibrated: the calibrated loss over the single-task network's): 1 is as good as the task's own network, "
        "lower is better. `bootstrap se, one run` is what one run reports; `spread of one run over seeds` is how "
        "much one run's value moves between training seeds.",
        "",
        markdown_table(table.T.reset_index().rename(columns={"index": "statistic"})),
        "",
        "## The plan at the knee (metric objective)",
        "",
        f"From seed {seeds[0]} alone (what the default `taskgroup run` measures) and from all {len(seeds)} seeds "
        "(`--repeats`): the objective with its standard error (`plan.objective_se`: both parts, the report's ±) and "
        "over training repeats alone (unknown from one seed); `validation Δm%` is `100 (1 - objective / tasks)`.",
        "",
        markdown_table(plans),
        "",
        "## Cost per network",
        "",
        "What `score()` adds to a measured network for these errors (metric replicates and the calibrated loss's "
        f"bootstrap, {suite.task_names}, 200 resamples), on random outputs of the suite's shapes; the store keeps "
        f"{per_network / 1000:.1f} kB of replicates per network and seed (val and test).",
        "",
        markdown_table(costs),
        "",
    ]
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "evaluation_errors.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
