"""The results store, ResultStore.to_problem, resume after SIGKILL, and the measure/solve command line."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from taskgroup.datasets.suites import load_suite
from taskgroup.errors import InvalidArgument, NotFound
from taskgroup.measure import MeasurementWarning, NetworkResult, ResultStore, TaskSuite, TrainConfig, measure
from taskgroup.objectives import selection_problem

TINY = TrainConfig(hidden=(16, 16), epochs=4, patience=2)
CLI_SUITE = [
    "--suite",
    "synthetic",
    "--param",
    "n_samples=600",
    "--param",
    "d=20",
    "--epochs",
    "25",
    "--hidden",
    "32,32",
    "--stack-size",
    "3",
    "--latency-repeats",
    "1",
    "-q",
]


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "taskgroup", *args], capture_output=True, text=True, timeout=300, **kwargs
    )


def stored(path: Path) -> pd.DataFrame:
    cols = ["network", "seed", "task", "val_loss", "val_metric", "test_loss", "test_metric", "epochs", "best_epoch"]
    return ResultStore(path).results()[cols].sort_values(["network", "seed", "task"]).reset_index(drop=True)


def test_results_are_committed_once_and_read_back(tmp_path):
    store = ResultStore(tmp_path / "r.db")
    result = NetworkResult(
        "a+b",
        ("a", "b"),
        "full",
        0,
        epochs=3,
        best_epoch=2,
        metrics={
            "a": {"val_loss": 1.0, "val_metric": 0.5, "test_loss": 1.1, "test_metric": 0.4},
            "b": {"val_loss": 2.0, "val_metric": 0.1, "test_loss": 2.1, "test_metric": 0.2},
        },
    )
    assert store.add_results("s", "c", [result]) == 1
    changed = NetworkResult("a+b", ("a", "b"), "full", 0, metrics={"a": {"val_loss": 9.0}})
    assert store.add_results("s", "c", [changed]) == 0  # a finished result is never rewritten
    table = store.results()
    assert len(table) == 2 and set(table["task"]) == {"a", "b"} and table["val_loss"].tolist() == [1.0, 2.0]
    assert store.done("s", "c") == {("a+b", 0)}
    with sqlite3.connect(tmp_path / "r.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_measure_then_problem_from_the_store(tmp_path):
    suite = load_suite("synthetic", n_samples=300, clusters=(2, 1), d=20)
    path = tmp_path / "m.db"
    first = measure(suite, path, config=TINY, seeds=2, latency_repeats=2, progress=False)
    assert len(first) == 2 * (3 * 1 + 3 * 2 + 1 * 3 + 3)  # per seed: 3 singles, 3 pairs (2 rows), 1 triple, 3 half
    calls = []
    again = measure(suite, path, config=TINY, seeds=2, progress=False, on_result=calls.append)
    assert calls == [] and again.equals(first)  # everything was finished: nothing retrained

    problem = ResultStore(path).to_problem(split="val", cost="flops")
    assert set(problem.tasks) == {"a0", "a1", "b0"} and len(problem.networks) == 10
    j, t = problem.network_index("a0+a1"), problem.task_index("a1")
    mean = first[(first.network == "a0+a1") & (first.task == "a1")]["val_loss"].mean()
    assert problem.losses[j, t] == pytest.approx(mean)
    assert problem.costs[problem.network_index("a0"), 0] == pytest.approx(1.0)  # normalised
    test = ResultStore(path).to_problem(split="test", cost=["snt", "params"])
    assert test.cost_names == ("snt", "params")
    assert ResultStore(path).to_problem().cost_names == ("flops",)  # the profiled default
    with pytest.raises(InvalidArgument, match="cost"):
        ResultStore(path).to_problem(cost="watts")
    with pytest.raises(InvalidArgument, match="No results store"):
        ResultStore(tmp_path / "missing.db", create=False)
    with pytest.raises(NotFound, match="has no measurements for suite='nosuch'"):  # NotFound is an InvalidArgument
        ResultStore(path).to_problem(suite="nosuch")
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize("objective", [None, "relative", "metric"])
def test_problems_from_the_store_list_tasks_in_the_suites_order(tmp_path, objective):
    # network names sort "alpha", "alpha+zeta", "zeta": by first appearance alpha would come first
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    targets = {"zeta": x @ np.array([1.0, 2.0, -1.0]), "alpha": x @ np.array([0.5, -1.0, 1.0])}
    suite = TaskSuite.from_arrays(x, targets, dict.fromkeys(targets, "regression"), name="ordered")
    path = tmp_path / "o.db"
    measure(suite, path, config=TINY, candidates="zeta,alpha,zeta+alpha", progress=False, latency_repeats=1)
    store = ResultStore(path)
    problem = store.to_problem(cost="snt") if objective is None else selection_problem(store, objective, cost="snt")
    assert problem.tasks == ("zeta", "alpha")
    assert store.task_order(store.table(cost="snt")) == ["zeta", "alpha"]


def test_failed_networks_are_reported_and_left_out(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    y = x @ np.array([1.0, 2.0, -1.0])
    suite = TaskSuite.from_arrays(
        x,
        {"good": y, "bad": y * 1e30},
        {"good": "regression", "bad": "regression"},
        standardize=False,
        name="diverging",
    )
    path = tmp_path / "f.db"
    results = measure(suite, path, config=TINY, candidates="good,bad,good+bad", progress=False, latency_repeats=1)
    assert set(results.loc[results.status == "failed", "network"]) == {"bad", "good+bad"}
    with pytest.warns(MeasurementWarning, match="Leaving out 2 failed network"):
        with pytest.raises(InvalidArgument, match=r"task\(s\) \[.bad.\] failed"):
            ResultStore(path).to_problem(cost="snt")


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_gives_the_uninterrupted_table(tmp_path):
    killed, clean = tmp_path / "killed.db", tmp_path / "clean.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskgroup", "measure", *CLI_SUITE, "--store", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    count, deadline = 0, time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if killed.exists():
            try:
                with sqlite3.connect(killed, timeout=5) as db:
                    count = db.execute("SELECT count(*) FROM results").fetchone()[0]
            except sqlite3.OperationalError:  # tables not created yet
                count = 0
            if count >= 3:
                break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with sqlite3.connect(killed) as db:
        at_kill = db.execute("SELECT count(*) FROM results").fetchone()[0]
    assert 3 <= at_kill < 36, f"the kill should land mid-run; {at_kill} of 36 results were stored"

    assert run_cli("measure", *CLI_SUITE, "--store", str(killed)).returncode == 0
    assert run_cli("measure", *CLI_SUITE, "--store", str(clean)).returncode == 0
    resumed, uninterrupted = stored(killed), stored(clean)
    assert resumed["network"].nunique() == 36
    assert not resumed.duplicated(["network", "seed", "task"]).any()
    pd.testing.assert_frame_equal(resumed, uninterrupted)


def test_cli_measure_then_solve_from_store(tmp_path):
    db = tmp_path / "cli.db"
    out = run_cli(
        "measure",
        "--suite",
        "synthetic",
        "--param",
        "n_samples=200",
        "--param",
        "clusters=(1, 1)",
        "--param",
        "d=8",
        "--epochs",
        "2",
        "--hidden",
        "8",
        "--latency-repeats",
        "1",
        "--store",
        str(db),
    )
    assert out.returncode == 0, out.stderr
    assert "5 networks measured, 0 failed" in out.stdout and "a0+b0" in out.stdout
    solved = run_cli("solve", "--store", str(db), "--budget", "1", "--cost", "snt", "--split", "test")
    assert solved.returncode == 0, solved.stderr
    assert "optimal plan" in solved.stdout and "serves a0" in solved.stdout
    bad = run_cli("measure", "--suite", "synthetic", "--tasks", "a0,zz", "--store", str(db))
    assert bad.returncode == 2 and "no task(s) ['zz']" in bad.stderr and "Traceback" not in bad.stderr
    bad = run_cli("measure", "--suite", "nosuch", "--store", str(db))
    assert bad.returncode == 2 and "invalid choice: 'nosuch' (choose from" in bad.stderr
