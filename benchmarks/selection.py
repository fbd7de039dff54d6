"""Which selection objective picks the plans that score best on test? Paired suite seeds, one measurement each.

For each suite and suite seed (the split, and which rows carry labels) every candidate network is measured once,
exactly as ``taskgroup run`` measures it (its suite defaults, its training configuration, one network seed), into a
cached store that records validation *and* test values of every candidate: the loss, the calibrated loss, and every
metric. Each objective (``taskgroup.objectives.OBJECTIVES``) then chooses a plan from the same store on validation
— at the frontier's knee (``run``'s default budget rule) and at a fixed budget of 2.5 — and the plan is scored on
test by the Δm% the report computes: each task's metrics from the network that serves it in the plan, against its
single-task network's, so no objective is retrained and every objective is compared on the same networks (paired
seeds). The all-in-one network is scored the same way.

    python -m benchmarks.selection [--mnist 10] [--digits 5] [--synthetic 5] [--measure-only] [--results DIR]
                                   [--stopping {loss,calibrated}] [--quick]

Stores: ``/work/cache/obj-<suite>-seed<s>.db`` (``--cache``); a run that was stopped resumes where it left off
(finished networks are committed one by one and never trained again). ``--stopping calibrated`` measures with
``TrainConfig(stopping="calibrated")`` instead of ``run``'s configuration (stores ``obj-calibrated-<suite>-seed<s>.db``,
report ``selection_calibrated.md``): the same study with single-task baselines that stop on their calibrated loss.
``--quick`` is a smoke run of the same code: one seed of each suite, small (``QUICK_SUITES``: 3 tasks each), 1 epoch,
measured serially in this process, stores in a temporary folder.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import QUICK_MNIST, RESULTS, markdown_table, params_text, quick_setup, study_cache, write_report

CACHE = Path("/work/cache")
SUITES = ("mnist", "digits", "synthetic")
# each suite of a quick run: 3 tasks (7 candidates), small where the suite has a size
QUICK_SUITES: dict[str, dict[str, Any]] = {
    "mnist": {"tasks": ("digit", "odd", "slant"), **QUICK_MNIST},
    "digits": {"tasks": ("digit", "odd", "large")},
    "synthetic": {"n_samples": 300, "clusters": (2, 1)},
}


def store_path(cache: Path, suite: str, seed: int, stopping: str = "loss") -> Path:
    """Where the measurement of one suite seed is cached."""
    return cache / ("obj-" + ("" if stopping == "loss" else f"{stopping}-") + f"{suite}-seed{seed}.db")


def measure_seed(cache: Path, suite_name: str, seed: int, stopping: str = "loss", quick: bool = False) -> Path:
    """Measure every candidate of one suite seed as ``taskgroup run`` does, early stopping aside (resumes a partial
    store); ``quick``: the suite of ``QUICK_SUITES``, 1 epoch."""
    from taskgroup.datasets import load_suite
    from taskgroup.engine.defaults import default_train_config
    from taskgroup.measure import measure
    from taskgroup.run_settings import RunSettings

    defaults = RunSettings()
    suite = load_suite(suite_name, seed=seed, **(QUICK_SUITES[suite_name] if quick else {}))
    path = store_path(cache, suite_name, seed, stopping)
    epochs = 1 if quick else defaults.epochs
    config = default_train_config(suite, epochs=epochs, device=defaults.device, stopping=stopping)
    # quick: in this process, as four spawned workers that each import torch would take most of a smoke run
    # (the executors have their own tests)
    executor = "serial" if quick else "auto"
    measure(suite, path, candidates="all", config=config, seeds=defaults.repeats, executor=executor, progress=False)
    return path


def complete(path: Path) -> bool:
    """Whether the store holds every candidate ``run`` measures (a store being measured does not yet)."""
    import json

    from taskgroup.measure import ResultStore
    from taskgroup.measure.candidates import make_candidates

    if not path.exists():
        return False
    store = ResultStore(path, create=False)
    runs = store.runs()
    if len(runs) != 1:
        return False
    wanted = {c.name for c in make_candidates(json.loads(runs["tasks"].iloc[0]), "all")}
    return wanted <= {name for name, _seed in store.done(runs["suite"].iloc[0], runs["config"].iloc[0])}


def choose_and_score(path: Path, objective: str, budget: float | None) -> dict:
    """Choose a plan on validation under ``objective`` (``budget`` None: the knee) and score it on test."""
    from taskgroup.measure import ResultStore
    from taskgroup.objectives import WEIGHTED_OBJECTIVES, relative_weights, selection_problem
    from taskgroup.pipeline import knee_budget
    from taskgroup.solvers import frontier, solve

    store = ResultStore(path, create=False)
    val = selection_problem(store, objective, cost="flops")
    if objective in WEIGHTED_OBJECTIVES:
        val = val.with_weights(relative_weights(val))
    if budget is None:
        budget = knee_budget(frontier(val, cost="flops"))
    plan = solve(val, budget)
    test_problem = test_metric_problem(store)
    test = test_gains(test_problem)
    tasks = list(val.tasks)
    from taskgroup.naming import is_full_size

    everything = next(n for n in val.networks if is_full_size(n) and len(val.network_tasks(n)) == len(tasks))
    # the best any selection could do with these networks: the plan of the same cost chosen on test itself
    best = solve(test_problem, float(plan.cost["flops"]))
    return {
        "budget": budget,
        "plan": ", ".join(plan.networks),
        "test-best Δm% at its cost": 100 * (1 - best.objective / len(tasks)),
        "cost": float(plan.cost["flops"]),
        "together": max(len(val.network_tasks(n)) for n in plan.networks),
        # each task from the network the plan assigns it, as the report scores a trained plan
        "test Δm%": 100 * sum(test[(plan.assignment[t], t)] for t in tasks) / len(tasks),
        "all-in-one Δm%": 100 * sum(test[(everything, t)] for t in tasks) / len(tasks),
    }


def test_metric_problem(store: object) -> object:
    """The metric objective on test: a plan's value is ``n_tasks * (1 - Δm% / 100)`` of its test metrics."""
    from taskgroup.objectives import selection_problem

    return selection_problem(store, "metric", split="test", cost="flops")


def test_gains(test: Any) -> dict[tuple[str, str], float]:
    """(network, task) -> the task's relative test-metric change against its single-task network (Δm's term), from
    :func:`test_metric_problem`."""
    return {
        (n, t): 1.0 - float(test.losses[test.network_index(n), test.task_index(t)])
        for n in test.networks
        for t in test.network_tasks(n)
    }


RULES = {"knee": None, "budget 2.5": 2.5}


def score_all(args: argparse.Namespace) -> pd.DataFrame:
    """One row per (suite, seed, objective, budget rule) over the stores that exist."""
    from taskgroup.objectives import OBJECTIVES

    rows = []
    for suite in SUITES:
        for seed in range(getattr(args, suite)):
            path = store_path(args.cache, suite, seed, args.stopping)
            if not complete(path):
                if path.exists():
                    print(f"{path} is not measured completely yet: left out", file=sys.stderr)
                continue
            for objective in OBJECTIVES:
                for rule, budget in RULES.items():
                    scored = choose_and_score(path, objective, budget)
                    rows.append({"suite": suite, "seed": seed, "objective": objective, "rule": rule, **scored})
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame, baseline: str = "relative") -> pd.DataFrame:
    """Per suite, rule and objective: test Δm% over seeds, and the paired difference from ``baseline``."""
    rows = []
    for (suite, rule, objective), group in table.groupby(["suite", "rule", "objective"], sort=False):
        base = table[(table["suite"] == suite) & (table["rule"] == rule) & (table["objective"] == baseline)]
        diff = group.set_index("seed")["test Δm%"] - base.set_index("seed")["test Δm%"]
        values = group["test Δm%"]
        rows.append(
            {
                "suite": suite,
                "rule": rule,
                "objective": objective,
                "seeds": len(group),
                "mean Δm%": values.mean(),
                "median": values.median(),
                "min": values.min(),
                "seeds ≥ +3 %": int((values >= 3).sum()),
                "beats all-in-one": int((values > group["all-in-one Δm%"]).sum()),
                "≥ 2 tasks together": int((group["together"] >= 2).sum()),
                "mean cost": group["cost"].mean(),
                "test-best at that cost": group["test-best Δm% at its cost"].mean(),
                f"paired Δ vs {baseline}": diff.mean(),
                "± s.e.": diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan"),
                "wins/ties/losses": f"{int((diff > 1e-9).sum())}/{int((diff.abs() <= 1e-9).sum())}/"
                f"{int((diff < -1e-9).sum())}",
            }
        )
    return pd.DataFrame(rows)


def write(args: argparse.Namespace, results: Path) -> Path:
    """Score every objective on every cached store and write ``selection.md``."""
    table = score_all(args)
    table["seed"] = table["seed"].astype(int)
    sections = [
        (
            "Setup",
            "Each suite seed is measured once as `taskgroup run` measures it (suite defaults with `seed=<s>`, the "
            "run's training configuration, 30 epochs, network seed 0): every candidate network, with validation and "
            "test loss, calibrated loss and metrics recorded. Each objective then chooses a plan on validation "
            "from the same store (paired seeds), at the frontier's knee (`run`'s default) and at a budget of 2.5 "
            "(flops; a full single-task network costs 1), and the plan is scored on test by the report's Δm%: "
            "each task's metrics (accuracy and AUC; RMSE and R²) from the network the plan assigns it, against "
            "its single-task network's. `test-best at that cost` is the mean over seeds of the best test Δm% any plan "
            "of the chosen plan's cost reaches with the same networks (chosen on test itself): what a perfect "
            "selection would score. `paired Δ` is the mean over seeds of (objective's test Δm% - relative's), "
            "`± s.e.` its standard error; wins/ties/losses count seeds.",
        ),
        (
            "Coverage",
            "; ".join(
                f"{suite}: seeds {sorted(set(table.loc[table['suite'] == suite, 'seed']))} of the "
                f"{getattr(args, suite)} requested"
                for suite in SUITES
            )
            + " (a seed whose store is not complete is left out; rerun to add it).",
        ),
        ("Test Δm% of the validation-chosen plan", markdown_table(summary(table), ".3g")),
    ]
    for suite in SUITES:
        knee = table[(table["suite"] == suite) & (table["rule"] == "knee")]
        if knee.empty:
            continue
        wide = knee.pivot_table(index="seed", columns="objective", values="test Δm%", sort=False)
        wide["all-in-one"] = knee.groupby("seed")["all-in-one Δm%"].first()
        chosen = knee[knee["objective"] == "relative"].set_index("seed")
        wide["relative: test-best at its cost"] = chosen["test-best Δm% at its cost"]
        plans = knee.pivot_table(index="seed", columns="objective", values="plan", aggfunc="first", sort=False)
        wide = wide.join(plans.add_suffix(" plan")).reset_index()
        sections.append((f"{suite}: per seed, at the knee (test Δm%)", markdown_table(wide, ".3g")))
    if args.stopping != "loss":
        sections[0] = (
            "Setup",
            sections[0][1] + f" Here every network is trained with `TrainConfig(stopping={args.stopping!r})` "
            "instead (early stopping and the kept epoch follow each head's loss at its best temperature), "
            "single-task baselines included.",
        )
    if args.quick:
        sizes = "; ".join(f"{suite} with {params_text(params)}" for suite, params in QUICK_SUITES.items())
        sections[0] = ("Setup", quick_setup(f"{sizes}; 1 epoch", sections[0][1]))
    name = "selection" if args.stopping == "loss" else f"selection_{args.stopping}"
    title = "Selection objectives: validation-chosen plans scored on test"
    if args.stopping != "loss":
        title += f" (early stopping on the {args.stopping} loss)"
    path = write_report(name, title, sections, results)
    table.to_csv(results / f"{name}.csv", index=False)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.selection", description=__doc__.split("\n\n")[0])
    for name, default in (("mnist", 10), ("digits", 5), ("synthetic", 5)):
        parser.add_argument(f"--{name}", type=int, default=default, help=f"suite seeds of {name} (default {default})")
    parser.add_argument("--first-seed", type=int, default=0, help="measure from this suite seed on")
    parser.add_argument("--cache", type=Path, default=None, help=f"folder of the measured stores (default {CACHE})")
    parser.add_argument("--measure-only", action="store_true", help="measure the stores and stop")
    parser.add_argument("--report-only", action="store_true", help="score the stores already measured")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--stopping", choices=("loss", "calibrated"), default="loss", help="TrainConfig.stopping (default: loss)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: at most 1 seed of each suite, small suites, 1 epoch, a temporary cache",
    )
    args = parser.parse_args(argv)
    if args.quick and (args.cache is not None or args.report_only):
        parser.error("--quick measures into a temporary folder; --cache and --report-only are for full runs")
    if args.quick:
        for suite in SUITES:  # --<suite> 0 still leaves a suite out
            setattr(args, suite, min(1, getattr(args, suite)))
    with study_cache(args.quick, args.cache, CACHE, "selection") as args.cache:
        # every suite's first seeds before any suite's later ones, so that a partial run already compares all three
        order = sorted(
            ((seed, suite) for suite in SUITES for seed in range(args.first_seed, getattr(args, suite))),
            key=lambda p: (p[0] >= 5, p),
        )
        for seed, suite in [] if args.report_only else order:
            if complete(store_path(args.cache, suite, seed, args.stopping)):
                continue
            start = time.perf_counter()
            measure_seed(args.cache, suite, seed, args.stopping, args.quick)
            print(f"measured {suite} seed {seed} in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        if not args.measure_only:
            print(f"wrote {write(args, args.results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
