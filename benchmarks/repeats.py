"""Benchmark of training repeats: what K seeds cost (stacked vs one stack per seed) and what they buy.

Run: .venv/bin/python -m benchmarks.repeats [--rounds 3] [--epochs 30] [--seeds 8] [--store PATH] [--quick]
Writes benchmarks/results/repeats.md. ``--store`` keeps the benefit analysis's measurements (reused when present;
default a temporary file); ``--quick`` is a smoke run (1 round, 2 epochs, 4 seeds).

Cost: every candidate of the ``digits`` suite (36 ``mlp`` networks, the family the stacked path trains), and its 5
single-task networks alone (a small stack, where per-step overhead weighs more), measured
with 1 seed, with K seeds in one stack per size (``measure(seeds=K)``), and with K seeds as K separate
measurements of one seed each (one stack per seed, what ``measure`` did before repeats stacked). The three are
timed side by side in each round; the table gives medians over rounds and the ratios to one seed.

Benefit: every candidate measured with ``--seeds`` seeds (one store, reused when present). For K in 1, 2, 4 the
seeds are split into disjoint groups of K; each group's mean validation losses choose a plan (relative objective,
as ``taskgroup run``), at fixed budgets and at the knee (plain and robust, :func:`taskgroup.pipeline.knee_budget`).
Each plan is scored on the mean *test* losses over all seeds (the best estimate there is of a network's expected
test loss), relative to the single-task networks (5 = as good as the independent networks). Regret is the score
minus that of the plan chosen on those test means at the same budget. Also: the median standard error of a
validation loss with K repeats, and how often a plan's ±1.96 se interval of its validation objective covers the
all-seed mean of the same networks.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.common import RESULTS, markdown_table


def measure_time(suite, config, store: Path, seeds, candidates="all") -> float:
    from taskgroup.measure import measure

    start = time.perf_counter()
    measure(
        suite,
        store,
        config=config,
        seeds=seeds,
        candidates=candidates,
        half_singles=candidates == "all",
        progress=False,
        latency_repeats=0,
    )
    return time.perf_counter() - start


def cost_table(suite, config, rounds: int, k: int, candidates) -> tuple[pd.DataFrame, dict[str, float]]:
    tmp = Path(tempfile.mkdtemp())
    n = 36 if candidates == "all" else len(candidates)
    times: dict[str, list[float]] = {"1 seed": [], f"{k} seeds, one stack": [], f"{k} seeds, a stack per seed": []}
    for r in range(rounds):
        times["1 seed"].append(measure_time(suite, config, tmp / f"one-{r}.db", 1, candidates))
        times[f"{k} seeds, one stack"].append(measure_time(suite, config, tmp / f"stacked-{r}.db", k, candidates))
        separate = tmp / f"separate-{r}.db"
        times[f"{k} seeds, a stack per seed"].append(
            sum(measure_time(suite, config, separate, [s], candidates) for s in range(k))
        )
        print(f"round {r}: " + ", ".join(f"{name} {t[-1]:.1f}s" for name, t in times.items()), flush=True)
    medians = {name: statistics.median(t) for name, t in times.items()}
    rows = [
        {
            "measurement": name,
            "networks trained": n * (1 if name == "1 seed" else k),
            "wall s (median)": medians[name],
            "wall s (all rounds)": ", ".join(f"{x:.1f}" for x in t),
            "x one seed": medians[name] / medians["1 seed"],
        }
        for name, t in times.items()
    ]
    return pd.DataFrame(rows), medians


def problem_from_seeds(results: pd.DataFrame, costs: pd.DataFrame, split: str, seeds, errors: str = "total"):
    """The problem of the mean losses over ``seeds`` with standard errors, as ResultStore.table builds it."""
    import taskgroup as tg
    from taskgroup.uncertainty import repeat_se

    rows = results[results["seed"].isin(list(seeds))]
    value = f"{split}_loss"
    grouped = rows.groupby(["network", "task"], sort=False)
    table = grouped[value].mean().rename("loss").to_frame()
    boot = f"{value}_se" if errors == "total" else None
    table["loss_se"] = grouped[[value, f"{value}_se"]].apply(
        lambda g: repeat_se(g[value], None if boot is None else g[boot])
    )
    table = table.reset_index().merge(costs[["network", "flops"]], on="network")
    return tg.Problem.from_frame(table, cost="flops")


def robust_knee(val, training) -> float:
    """The knee as ``taskgroup run`` chooses it: plans compared on their errors over training repeats."""
    import taskgroup as tg
    from taskgroup.pipeline import knee_budget

    front = tg.frontier(val)
    table = front.to_frame()
    table["objective_se"] = [training.evaluate(p.networks).objective_se for p in front]
    return knee_budget(table)


def benefit_tables(store_path: Path, n_seeds: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    import taskgroup as tg
    from taskgroup.measure import ResultStore, normalise_costs
    from taskgroup.pipeline import knee_budget, relative_weights

    store = ResultStore(store_path, create=False)
    results = store.results()
    results = results[results["status"] == "ok"]
    costs = normalise_costs(store.costs())
    every = range(n_seeds)
    test = problem_from_seeds(results, costs, "test", every)
    test = test.with_weights(relative_weights(test))
    reference = problem_from_seeds(results, costs, "val", every)
    reference = reference.with_weights(relative_weights(reference))
    rows = []
    for k in (1, 2, 4):
        for start in range(0, n_seeds - k + 1, k):
            seeds = list(range(start, start + k))
            val = problem_from_seeds(results, costs, "val", seeds)
            weights = relative_weights(val)
            val = val.with_weights(weights)
            front = tg.frontier(val)
            choices = {"budget 2": 2.0, "budget 3": 3.0, "knee (plain)": knee_budget(front, z=0.0)}
            if k > 1:
                training = problem_from_seeds(results, costs, "val", seeds, errors="training").with_weights(weights)
                choices["knee (robust, as run)"] = robust_knee(val, training)
            for rule, budget in choices.items():
                plan = tg.solve(val, budget)
                same_rule = tg.solve(reference, budget if rule.startswith("budget") else plan.cost["flops"])
                score = test.evaluate(plan.networks).objective
                rows.append(
                    {
                        "K": k,
                        "rule": rule,
                        "cost": plan.cost["flops"],
                        "test score": score,
                        "regret": score - tg.solve(test, plan.cost["flops"]).objective,
                        "as 8 seeds": set(plan.networks) == set(same_rule.networks),
                    }
                )
    frame = pd.DataFrame(rows)
    summary = (
        frame.groupby(["rule", "K"], sort=False)
        .agg(
            plans=("test score", "size"),
            mean_cost=("cost", "mean"),
            mean_test_score=("test score", "mean"),
            sd_test_score=("test score", "std"),
            mean_regret=("regret", "mean"),
            max_regret=("regret", "max"),
            same_plan_as_all_seeds=("as 8 seeds", "mean"),
        )
        .reset_index()
    )
    # noise: one run's bootstrap error over validation rows against the spread of a loss between training repeats
    per_entry = results.groupby(["network", "task"])
    noise = pd.DataFrame(
        {
            "median bootstrap se of one run": [float(results["val_loss_se"].median())],
            "median sd between repeats": [float(per_entry["val_loss"].std(ddof=1).median())],
            "median loss": [float(results["val_loss"].median())],
        }
    )
    return summary, noise


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--k", type=int, default=3, help="seeds of the cost comparison")
    parser.add_argument("--seeds", type=int, default=8, help="seeds measured for the benefit analysis")
    parser.add_argument("--store", type=Path, default=None, help="store of the benefit analysis (resumed)")
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, 2 epochs, 4 seeds")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.epochs, args.seeds = 1, 2, 4

    import torch

    torch.set_num_threads(1)
    from taskgroup.datasets import load_suite
    from taskgroup.engine.defaults import default_train_config

    suite = load_suite("digits")
    config = default_train_config(suite, epochs=args.epochs)
    lines = [
        "# Training repeats (`benchmarks/repeats.py`)",
        "",
        f"`python -m benchmarks.repeats --rounds {args.rounds} --epochs {args.epochs} --seeds {args.seeds}`. "
        f"Suite `digits` ({list(suite.task_names)}), 36 candidate networks (`mlp`, {args.epochs} epochs), one torch "
        f"thread, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} CPU cores shared "
        "with other work (times are noisy; the three measurements of a round ran back to back).",
        "",
    ]
    if not args.skip_cost:
        cases = {
            "every candidate (36 networks: one stack of 31 full-size and one of 5 half-size)": ("all", args.rounds),
            "the 5 single-task networks (one small stack)": (list(suite.task_names), 2 * args.rounds),
        }
        for label, (candidates, rounds) in cases.items():
            table, _ = cost_table(suite, config, rounds, args.k, candidates)
            lines += [
                f"## Cost of {args.k} repeats: {label}, median of {rounds} rounds",
                "",
                markdown_table(table, ".3g"),
                "",
            ]
    store = args.store or Path(tempfile.mkdtemp()) / f"digits-{args.seeds}seeds-e{args.epochs}.db"
    start = time.perf_counter()
    measure_time(suite, config, store, args.seeds)
    print(f"benefit store ready in {time.perf_counter() - start:.0f}s", flush=True)
    summary, noise = benefit_tables(store, args.seeds)
    lines += [
        f"## What repeats buy ({args.seeds} seeds measured, split into disjoint groups of K)",
        "",
        "Each group's mean validation losses choose a plan. Test score: the plan's mean test loss relative to each "
        "task's single-task network, summed over the 5 tasks (5 = the independent networks; lower is better), "
        f"on test means over all {args.seeds} seeds; `sd_test_score` its spread over the groups. Regret: minus the "
        "best plan on those test means at the chosen plan's cost. `same_plan_as_all_seeds`: share of groups whose "
        f"plan is the one the means over all {args.seeds} seeds choose (fixed budgets: at that budget; knees: at "
        "the group's chosen cost). The robust knee needs K >= 2 (it compares plans on errors over repeats).",
        "",
        markdown_table(summary, ".3g"),
        "",
        "Noise of one validation loss: a single run's bootstrap error over the validation rows (what one run "
        "reports) against the spread of the same loss between training repeats (what only repeats reveal):",
        "",
        markdown_table(noise, ".3g"),
        "",
    ]
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "repeats.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
