"""Benchmark of the black-box route: what ``measure_objective`` adds per candidate around the user's function.

Run: .venv/bin/python -m benchmarks.objective [--quick] [--repeats 5] [--results DIR]
Writes benchmarks/results/objective.md.

Two objectives: an instant one (returns fixed losses: the route's own cost per candidate, i.e. checking the
return value, one SQLite transaction per result, the progress bar and the executor's round trip) and one that
sleeps 10 ms (a stand-in for training, to show how the executors overlap calls). Each configuration measures
every non-empty subset of the tasks for two seeds into a fresh store; "direct" calls the same function in a
plain loop over the same candidates. Times are medians over --repeats runs, all in this one process run, so
the ratios compare like with like. The process pool's times include starting its workers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.common import RESULTS, markdown_table, write_report
from taskgroup.measure.candidates import make_candidates
from taskgroup.measure.executors import open_executor
from taskgroup.measure.objective import measure_objective

SLEEP_S = 0.010


def instant(tasks, variant, seed):
    """No work at all: what remains is the route's overhead."""
    return {"val": {t: 1.0 for t in tasks}, "test": {t: 1.5 for t in tasks}, "cost": {"flops": float(len(tasks))}}


def sleeping(tasks, variant, seed):
    """10 ms of pretend training."""
    time.sleep(SLEEP_S)
    return instant(tasks, variant, seed)


def direct(objective, tasks: list[str], seeds: int) -> float:
    start = time.perf_counter()
    for seed in range(seeds):
        for cand in make_candidates(tasks, "all", half_singles=False, variants=["full"]):
            objective(list(cand.tasks), cand.variant, seed)
    return time.perf_counter() - start


def pool_start(executor: str) -> float:
    """Seconds to start the executor's workers and get one trivial call back from each."""
    start = time.perf_counter()
    with open_executor(executor) as (pool, workers):
        list(pool.map(abs, range(workers)))
    return time.perf_counter() - start


def routed(objective, tasks: list[str], seeds: int, executor: str, folder: Path, run: int) -> float:
    store = folder / f"{objective.__name__}-{executor.replace(':', '')}-{run}.db"
    start = time.perf_counter()
    results = measure_objective(objective, store, tasks=tasks, seeds=seeds, executor=executor, progress=False)
    wall = time.perf_counter() - start
    if not (results["status"] == "ok").all():
        raise RuntimeError(f"{objective.__name__} on {executor}: some calls failed")
    return wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 4 tasks, 2 repeats")
    parser.add_argument("--repeats", type=int, default=None, help="runs per configuration (default 5; quick 2)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    n_tasks, repeats, seeds = (4, args.repeats or 2, 2) if args.quick else (7, args.repeats or 5, 2)
    tasks = [f"t{i}" for i in range(n_tasks)]
    calls = seeds * (2**n_tasks - 1)
    rows = []
    start = {
        "direct": 0.0,
        "serial": 0.0,
        "process:2": statistics.median(pool_start("process:2") for _ in range(repeats)),
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for objective in (instant, sleeping):
            walls = {"direct": [direct(objective, tasks, seeds) for _ in range(repeats)]}
            for executor in ("serial", "process:2"):
                walls[executor] = [routed(objective, tasks, seeds, executor, folder, r) for r in range(repeats)]
            base = statistics.median(walls["direct"])
            for how, times in walls.items():
                wall = statistics.median(times)
                rows.append(
                    {
                        "objective": objective.__name__,
                        "route": how,
                        "calls": calls,
                        "wall_s (median)": wall,
                        "ms per candidate": 1000 * wall / calls,
                        "overhead ms per candidate": 1000 * (wall - base) / calls,
                        "pool start s": start[how],
                        "overhead ms per candidate, pool start excluded": 1000 * (wall - start[how] - base) / calls,
                        "runs": len(times),
                    }
                )
            print(f"{objective.__name__}: done", file=sys.stderr, flush=True)
    table = pd.DataFrame(rows)
    sections = [
        (
            "Setup",
            f"{n_tasks} tasks, every non-empty subset ({2**n_tasks - 1} candidates) x {seeds} seeds = "
            f"{calls} objective calls per run; medians over {repeats} runs; each run writes a fresh store. "
            "`instant` returns at once, `sleeping` sleeps 10 ms per call. `overhead ms per candidate` = "
            "(route wall time - direct loop wall time) / calls; for `process:2` it includes starting two "
            "worker processes (`pool start s`: the median time to start the pool and get one trivial call "
            "back from each worker, measured separately), and the last overhead column subtracts it; it is "
            "negative when two workers overlapping the sleeping calls save more than the route costs.",
        ),
        ("Per-candidate cost of the black-box route", markdown_table(table, ".3g")),
    ]
    path = write_report("objective", "Black-box objective route: overhead per candidate", sections, args.results)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
