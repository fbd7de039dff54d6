"""Solver benchmark: Standley et al.'s selection curves and scaling on synthetic instances.

    python -m benchmarks.solvers [--quick]

Writes benchmarks/results/solvers.md. Times are medians of several runs (--repeats) on a shared machine.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
import pandas as pd

import taskgroup as tg
from benchmarks.common import RESULTS, markdown_table, report_sections, timed, write_report
from taskgroup.errors import InstanceTooLarge, SolverError

BUDGETS = [float(b) for b in np.arange(1.0, 5.01, 0.5)]


def standley_curves(repeats: int) -> tuple[str, str]:
    rows, total_times, all_optimal = [], [], True
    for setting in tg.datasets.STANDLEY_SETTINGS:
        val, test = tg.datasets.standley2020(setting, "val"), tg.datasets.standley2020(setting, "test")
        all_in_one = next(n for n in val.networks if len(val.network_tasks(n)) == val.n_tasks)
        singles = [n for n in val.networks if len(val.network_tasks(n)) == 1 and not n.endswith("_half")]
        baseline_all = test.evaluate([all_in_one]).objective
        baseline_ind = test.evaluate(singles).objective
        for budget in BUDGETS:
            plan, seconds, _ = timed(lambda: tg.solve(val, budget), repeats)
            total_times.append(seconds)
            all_optimal &= plan.optimal
            rows.append(
                {
                    "setting": setting,
                    "budget": budget,
                    "val total": plan.objective,
                    "test total": test.evaluate(plan.networks).objective,
                    "all-in-one (test)": baseline_all,
                    "independent (test, cost 5)": baseline_ind,
                    "networks": " ".join(plan.networks),
                    "optimal": plan.optimal,
                    "solver": plan.solver,
                    "ms": 1000 * seconds,
                }
            )
    frame = pd.DataFrame(rows)
    summary = (
        f"All {len(rows)} instances (4 settings x 9 budgets) solved, proven optimal: {all_optimal}; "
        f"total {sum(total_times):.3f} s (sum of per-instance medians of {repeats} runs; "
        f"median per instance {1000 * statistics.median(total_times):.1f} ms). Selection on `val`, scored on `test`."
    )
    return summary, markdown_table(frame)


def scaling(sizes: list[int], repeats: int, time_limit: float) -> tuple[str, str, str]:
    """Time per budget of each solver; HiGHS (the default) gets ``repeats`` runs, the others one."""
    methods = ["partition-dp", "ilp", "ilp-scip", "ilp-cbc", "ilp-cpsat", "bnb", "greedy", "exhaustive"]
    others_limit = min(time_limit, 10.0)
    rows = []
    for n in sizes:
        problem = tg.datasets.synthetic_problem(n, seed=n)
        step = 0.5 if n <= 8 else 1.0
        budgets = [float(b) for b in np.arange(1.0, n + 0.01, step)]
        if n > 12:  # minutes per budget: three budgets show the picture
            budgets = [2.0, float(n // 2), float(n)]
        for method in methods:
            if method in ("ilp-cbc", "ilp-cpsat", "bnb", "exhaustive") and n > 8:
                continue  # stopped by the time limit at most budgets already at n = 8
            if method in ("ilp-scip", "greedy") and n > 12:
                continue
            limit = time_limit if method == "ilp" else others_limit
            runs = repeats if method == "ilp" and n <= 8 else 1
            times, optimal, refused = [], 0, 0
            for budget in budgets:
                try:
                    plan, seconds, _ = timed(lambda: tg.solve(problem, budget, method=method, time_limit=limit), runs)
                except InstanceTooLarge:
                    refused += 1
                    continue
                times.append(seconds)
                optimal += plan.optimal
            solved = len(budgets) - refused
            rows.append(
                {
                    "n": n,
                    "candidates": problem.n_networks,
                    "method": method,
                    "limit s": limit,
                    "budgets": len(budgets),
                    "proven optimal": f"{optimal}/{len(budgets)}" + (f" ({refused} refused)" if refused else ""),
                    "total s": sum(times) if solved else float("nan"),
                    "median s": statistics.median(times) if solved else float("nan"),
                    "max s": max(times) if solved else float("nan"),
                }
            )
    frame = pd.DataFrame(rows)
    eight = frame[(frame["n"] == 8) & (frame["method"] == "ilp")]
    twelve = frame[(frame["n"] == 12) & (frame["method"] == "ilp")]
    notes = []
    if len(eight):
        notes.append(
            f"n = 8 (263 candidates), every budget 1..8 step 0.5 with HiGHS: {eight['total s'].iloc[0]:.2f} "
            "s in total, "
            f"{eight['proven optimal'].iloc[0]} proven optimal (target: under 2 s)."
        )
    if len(twelve):
        notes.append(
            f"n = 12 (4,107 candidates), budgets 1..12 with HiGHS: slowest budget {twelve['max s'].iloc[0]:.1f} s, "
            f"median {twelve['median s'].iloc[0]:.1f} s, {twelve['proven optimal'].iloc[0]} proven optimal "
            "(target: under 10 s each)."
        )
    return "\n\n".join(notes), markdown_table(frame), ""


def tag_backends(time_limit: float) -> str:
    """CP-SAT against LP-based MIP backends on TAG's CelebA-9 affinities (502 groups), k = 2, 3, 4 networks."""
    problem = tg.grouping.group_problem(tg.datasets.tag2021("celeba", "tag"), singletons="exclude")
    rows = []
    for k in (2, 3, 4):
        for method in ("ilp", "ilp-scip", "ilp-cbc", "ilp-cpsat", "bnb"):
            plan, seconds, _ = timed(lambda: tg.solve(problem, k, method=method, time_limit=time_limit))
            rows.append(
                {
                    "networks k": k,
                    "method": method,
                    "score (sum over tasks)": plan.score,
                    "proven optimal": plan.optimal,
                    "gap": plan.gap,
                    "seconds": seconds,
                }
            )
    return (
        f"TAG's CelebA matrix (`tg.datasets.tag2021('celeba', 'tag')`) as a selection problem: {problem.n_networks} "
        f"groups of 2+ tasks, cost 1 each, budget k networks; time limit {time_limit:g} s per solve, one run each.\n\n"
        + markdown_table(pd.DataFrame(rows))
    )


DP_FRONTIER_SCRIPT = """
import json, resource, statistics, sys, time
import numpy as np
import taskgroup as tg
from taskgroup.solvers.frontier import _staircase_from_table
from taskgroup.solvers.instance import SelectionInstance
from taskgroup.solvers.partition_dp import partition_table
n, repeats = int(sys.argv[1]), int(sys.argv[2])
problem = tg.datasets.synthetic_problem(n, seed=n)
times = []
for _ in range(repeats):
    start = time.perf_counter()
    instance = SelectionInstance.build(problem, np.array([np.inf]))
    plans = _staircase_from_table(problem, partition_table(instance))
    times.append(time.perf_counter() - start)
print(json.dumps({"seconds": statistics.median(times), "steps": len(plans),
                  "objectives": [p.objective for p in plans],
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def dp_frontier(n: int, repeats: int) -> dict:
    """The whole frontier by the partition DP in a fresh process (so its peak memory is its own)."""
    import json
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-c", DP_FRONTIER_SCRIPT, "2", "1"], check=True, capture_output=True
    )  # compile cache
    done = subprocess.run(
        [sys.executable, "-c", DP_FRONTIER_SCRIPT, str(n), str(repeats)], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def frontier_dp_vs_mip(mip_sizes: list[int], dp_sizes: list[int], repeats: int, mip_limit: float) -> str:
    """Whole frontier (every budget) by the DP and by the MIP staircase, side by side in one run."""
    import importlib

    frontier_module = importlib.import_module("taskgroup.solvers.frontier")
    rows = []
    for n in dp_sizes:
        problem = tg.datasets.synthetic_problem(n, seed=n)
        dp = dp_frontier(n, repeats)
        row = {
            "n": n,
            "candidates": problem.n_networks,
            "DP s (median)": dp["seconds"],
            "DP steps": dp["steps"],
            "DP peak MB": dp["peak_mb"],
            "MIP s": float("nan"),
            "MIP steps": "",
            "same objectives": "",
        }
        if n in mip_sizes:
            saved = frontier_module.prefer_partition_dp
            frontier_module.prefer_partition_dp = lambda instance: False
            try:
                plans, seconds, _ = timed(lambda: frontier_module._staircase(problem, mip_limit), 1)
            except SolverError:  # no cover within the limit: the MIP has no first step
                plans, seconds = [], float("nan")
            finally:
                frontier_module.prefer_partition_dp = saved
            proven = sum(p.optimal for p in plans)
            row["MIP s"] = seconds
            row["MIP steps"] = f"{len(plans)} ({proven} proven)"
            row["same objectives"] = bool(
                len(plans) == dp["steps"] and np.allclose([p.objective for p in plans], dp["objectives"], rtol=1e-6)
            )
        rows.append(row)
    return (
        f"`tg.frontier(problem)` on `synthetic_problem(n, seed=n)`: every budget where the optimum improves. DP: "
        f"the partition DP (`partition-dp`), median of {repeats} runs in a fresh process (compiled code loaded "
        f"from numba's cache), peak memory of that process. MIP: the previous staircase (HiGHS: an optimum per "
        f"step, then the cheapest plan below it), one run, {mip_limit:g} s limit per solve. Targets (issue 12): "
        "n = 12 < 0.05 s, 14 < 0.5 s, 16 < 3 s, 18 < 60 s.\n\n" + markdown_table(pd.DataFrame(rows))
    )


def big_csv(path: Path, networks: int = 492_000, tasks: int = 40, seed: int = 0) -> int:
    """Write the issue's large case: ``networks`` random task sets of 1-8 of ``tasks`` tasks, long format.

    Costs 0.5-3 (two decimals), losses 0.1-2; about 50 MB at the defaults. Returns the number of rows.
    """
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 9, size=networks)
    network = np.repeat(np.arange(networks), sizes)
    # Distinct tasks per network: the first `size` of a random permutation of the tasks.
    order = np.argsort(rng.random((networks, tasks)), axis=1)
    task = order[network, np.arange(len(network)) - np.repeat(np.cumsum(sizes) - sizes, sizes)]
    cost = np.round(rng.uniform(0.5, 3.0, size=networks), 2)[network]
    frame = pd.DataFrame(
        {
            "network": np.char.add("net", network.astype(str)),
            "task": np.char.add("task", task.astype(str)),
            "loss": np.round(rng.uniform(0.1, 2.0, size=len(network)), 4),
            "cost": cost,
        }
    )
    frame.to_csv(path, index=False)
    return len(frame)


def big_case(budget: float, time_limit: float) -> str:
    """`taskgroup solve big.csv --budget B --time-limit T` in a subprocess: wall time and peak memory.

    The CSV is written to a temporary folder and deleted afterwards (it is never committed).
    """
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return _big_case(Path(folder) / "big.csv", budget, time_limit)


def _big_case(path: Path, budget: float, time_limit: float) -> str:
    import resource
    import subprocess
    import sys
    import time

    rows = big_csv(path)
    size_mb = path.stat().st_size / 1e6
    started = time.perf_counter()
    frame = pd.read_csv(path)
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    problem = tg.Problem.from_frame(frame)
    build_s = time.perf_counter() - started
    del frame, problem
    command = [
        sys.executable,
        "-m",
        "taskgroup",
        "solve",
        str(path),
        "--budget",
        str(budget),
        "--time-limit",
        str(time_limit),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    first = (done.stdout.strip().splitlines() or [done.stderr.strip()])[0]
    return (
        f"`benchmarks.solvers.big_csv`: {rows:,} rows, {size_mb:.0f} MB, 492,000 networks over 40 tasks. In this "
        f"process: `pd.read_csv` {read_s:.1f} s, `Problem.from_frame` {build_s:.1f} s. "
        f"`taskgroup solve big.csv --budget {budget:g} --time-limit {time_limit:g}` (a fresh process, one run): "
        f"exit {done.returncode}, {wall:.1f} s wall, peak memory {peak_mb:,.0f} MB; first line of output: `{first}`."
    )


def kept_sections(path: Path) -> list[tuple[str, str]]:
    """Sections another script writes into solvers.md (benchmarks.speed's before/after), kept on regeneration."""
    from benchmarks.speed import SECTION

    body = report_sections(path).get(SECTION)
    return [(SECTION, body)] if body else []


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes only (CI smoke run)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for solvers.md")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    sizes = [5, 6] if args.quick else [5, 6, 7, 8, 10, 12, 14]
    # quick: a smoke run of every code path; solvers that hit their limit there (CP-SAT, bnb) stop within 1 s
    cpsat_limit = 1.0 if args.quick else 120.0
    time_limit = 1.0 if args.quick else 120.0
    dp_sizes = [8, 10] if args.quick else [8, 10, 12, 14, 16, 18]
    mip_sizes = [8] if args.quick else [8, 10, 12, 14]
    frontier_table = frontier_dp_vs_mip(mip_sizes, dp_sizes, 1 if args.quick else 3, 5.0 if args.quick else 10.0)
    big = "" if args.quick else big_case(budget=20.0, time_limit=60.0)
    summary, curves = standley_curves(repeats)
    notes, table, _ = scaling(sizes, repeats=1 if args.quick else 3, time_limit=time_limit)
    path = write_report(
        "solvers",
        "Solver benchmark",
        [
            ("Standley et al. (2020) selection curves", summary + "\n\n" + curves),
            ("CP-SAT against LP-based MIP backends on TAG-style scores", tag_backends(cpsat_limit)),
            ("Whole frontier: partition DP against the MIP", frontier_table),
            ("A 50 MB problem (issue 9)", big or "Not run with --quick."),
            (
                "Scaling on synthetic instances",
                "All 2^n - 1 task subsets (cost 1) plus n half-size singles (cost 0.5), losses with pairwise "
                "structure and noise (`tg.datasets.synthetic_problem(n, seed=n)`). Budgets 1..n, step 0.5 up to n = 8 "
                "and 1 above (n = 14: budgets 2, 7 and 14 only). Times per budget: HiGHS (`ilp`, what `auto` "
                "uses) the median of 3 runs for n <= 8, "
                "every other solver one run; `total s` sums over budgets. A solver stopped by its time limit "
                "(`limit s`) returns its best plan, not proven optimal. `exhaustive` refuses budgets that allow "
                "more than 2 million network sets.\n\n" + notes + "\n\n" + table,
            ),
        ]
        + kept_sections(args.results / "solvers.md"),
        results=args.results,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
