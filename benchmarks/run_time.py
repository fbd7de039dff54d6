"""How long the default ``taskgroup run`` takes, on a quiet machine and beside one busy process.

Each run is a fresh ``python -m taskgroup run`` subprocess into a new folder (suite loading, measurement, plan,
training, report: everything a user waits for). The busy condition starts one process spinning on a core
(``while True: pass``) before the run and stops it after. Conditions (and, with ``--before``, the two source
trees) alternate run by run, so that drift in the machine's load falls on all of them alike.

    python -m benchmarks.run_time [--repeats 2] [--before PATH_TO_OLDER_TREE] [--executor SPEC ...] [--quick]
                                  [--results DIR]

``--executor SPEC`` (repeatable) times this tree once more per spec, with ``taskgroup run --executor SPEC``
(e.g. ``process:4``: more workers than cores, which takes a larger share of the cores from a busy neighbour).

``--quick`` runs a small synthetic suite for two epochs, once per tree and condition unless ``--repeats`` says
otherwise, into ``run_time_quick.md``: a smoke run that the benchmark still works, and with ``--repeats`` the time
of a run whose networks train in a fraction of a second, which is what a run costs beyond its training (imports,
worker start, profiling, evaluation, report).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from benchmarks.common import RESULTS, markdown_table, write_report

ROOT = Path(__file__).resolve().parent.parent
QUICK_ARGS = ("--suite", "synthetic", "--suite-param", "n_samples=600", "--epochs", "2")


@contextmanager
def condition(name: str) -> Iterator[None]:
    """``quiet``: nothing else started; ``busy``: one process spinning on a core for the duration."""
    if name == "quiet":
        yield
        return
    # it spins only while this process lives: a benchmark killed outright must not leave a core taken
    spinner = subprocess.Popen([sys.executable, "-c", f"import os\nwhile os.getppid() == {os.getpid()}: pass"])
    try:
        time.sleep(0.5)  # let it take its core before the run starts
        yield
    finally:
        spinner.kill()
        spinner.wait()


def commit(tree: Path) -> str:
    """The commit a source tree has checked out, ``+`` where it has changes not committed (or ``unknown``)."""
    head = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain"], capture_output=True, text=True)
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "")


def one_run(tree: Path, extra: tuple[str, ...]) -> dict[str, float]:
    """Time one default run of the taskgroup in ``tree``; its wall seconds and the plan's test Δm%."""
    with tempfile.TemporaryDirectory(prefix="taskgroup-run-time-") as folder:
        out = Path(folder) / "run"
        env = {**os.environ, "PYTHONPATH": str(tree)}
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "taskgroup", "run", *extra, "--out", str(out), "-q"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"taskgroup run in {tree} failed:\n{done.stdout}\n{done.stderr}")
        results = json.loads((out / "results.json").read_text())
        return {"seconds": seconds, "Δm%": float(results["delta_m"]["multitask"])}


def measure(setups: dict[str, tuple[Path, tuple[str, ...]]], repeats: int) -> pd.DataFrame:
    """Every (setup, condition) ``repeats`` times, interleaved; a setup is a tree and the run's arguments."""
    rows = []
    for repeat in range(repeats):
        for name in ("quiet", "busy"):
            for label, (tree, extra) in setups.items():
                with condition(name):
                    load = os.getloadavg()[0]
                    row = one_run(tree, extra)
                print(f"{label} {name} #{repeat}: {row['seconds']:.1f} s", file=sys.stderr, flush=True)
                rows.append({"tree": label, "condition": name, "repeat": repeat, "load before": load, **row})
    return pd.DataFrame(rows)


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Median, min and max seconds per (tree, condition), and the busy/quiet ratio of medians per tree."""
    rows = []
    for tree, group in runs.groupby("tree", sort=False):
        medians = group.groupby("condition")["seconds"].median()
        for name in ("quiet", "busy"):
            seconds = group.loc[group["condition"] == name, "seconds"]
            rows.append(
                {
                    "tree": tree,
                    "condition": name,
                    "runs": len(seconds),
                    "median s": statistics.median(seconds),
                    "min s": seconds.min(),
                    "max s": seconds.max(),
                    "busy / quiet (medians)": medians["busy"] / medians["quiet"] if name == "busy" else float("nan"),
                    "plan Δm%": group.loc[group["condition"] == name, "Δm%"].iloc[0],
                }
            )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run_time", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeats", type=int, default=None, help="runs per tree and condition (default 2; with --quick, 1)"
    )
    parser.add_argument("--before", type=Path, default=None, help="an older source tree to time beside this one")
    parser.add_argument(
        "--executor", action="append", default=[], metavar="SPEC", help="also time this tree with --executor SPEC"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: a small synthetic suite, 2 epochs")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    extra = QUICK_ARGS if args.quick else ()
    setups = {"this tree": (ROOT, extra)}
    setups |= {f"this tree, --executor {spec}": (ROOT, (*extra, "--executor", spec)) for spec in args.executor}
    if args.before:
        setups["before"] = (args.before.resolve(), extra)
    runs = measure(setups, args.repeats or (1 if args.quick else 2))
    command = "taskgroup run " + " ".join(extra) if extra else "taskgroup run (the default: mnist, 30 epochs)"
    sections = [
        (
            "Setup",
            f"`{command}` into a fresh folder, as a subprocess, timed from start to exit (suite loading, "
            "measurement, plan, training and report). `busy`: one other process spins on a core for the whole "
            "run. Runs alternate between conditions and trees. The plan's test Δm% is read from `results.json` "
            "(the same in every condition: a network's numbers do not depend on how many workers ran beside it)."
            + "".join(f" `{label}`: commit {commit(tree)}." for label, (tree, _) in setups.items()),
        ),
        ("Summary", markdown_table(summary(runs), ".3g")),
        ("Every run", markdown_table(runs, ".3g")),
    ]
    if args.quick:
        name, title = "run_time_quick", "A small run's wall time (what a run costs beyond training), quiet and busy"
    else:
        name, title = "run_time", "The default run's wall time, quiet and beside a busy process"
    generated = " ".join(["python -m benchmarks.run_time", *(argv if argv is not None else sys.argv[1:])])
    path = write_report(name, title, sections, args.results, command=generated)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
