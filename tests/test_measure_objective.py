"""The black-box route (the user's own training function), the torch-free store, damaged and read-only stores."""

from __future__ import annotations

import importlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import objective_examples as ex
import pandas as pd
import pytest

import taskgroup as tg
from taskgroup.errors import InvalidArgument, MeasurementError
from taskgroup.measure.executors import RestartingProcessPool
from taskgroup.measure.objective import measure_objective, read_objective_result
from taskgroup.measure.records import NetworkResult
from taskgroup.measure.store import MeasurementWarning, ResultStore

HERE = Path(__file__).parent
ROOT = HERE.parent
COLS = ["network", "seed", "task", "status", "val_loss", "test_loss"]


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``taskgroup`` in a subprocess that can import this folder's objectives by name."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "taskgroup", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def one_line_error(out: subprocess.CompletedProcess, text: str) -> None:
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert text in out.stderr, out.stderr


def stored(path: Path) -> pd.DataFrame:
    frame = ResultStore(path).results()
    return frame[[c for c in COLS if c in frame]].sort_values(["network", "seed", "task"]).reset_index(drop=True)


# -- the objective's return value ----------------------------------------------------------------------


def test_plain_mapping_is_val_and_costs_default_to_one(tmp_path):
    results = measure_objective(ex.plain, tmp_path / "p.db", tasks=["a", "b", "c"], progress=False)
    assert set(results["network"]) == {"a", "b", "c", "a+b", "a+c", "b+c", "a+b+c"}
    assert (results["status"] == "ok").all() and "test_loss" not in results
    store = ResultStore(tmp_path / "p.db")
    assert store.cost_names() == ("cost",)
    problem = store.to_problem()
    assert problem.cost_names == ("cost",) and np.all(problem.costs == 1.0)
    j, t = problem.network_index("a+b"), problem.task_index("b")
    assert problem.losses[j, t] == pytest.approx(ex.plain(["a", "b"], "full", 0)["b"])
    with pytest.raises(InvalidArgument, match=r"no test_loss for network\(s\)"):
        store.to_problem("test")
    plan = tg.solve(problem, budget=2)
    assert sorted(plan.networks) == ["a+b", "c"]


def test_full_form_with_test_losses_costs_variants_and_seeds(tmp_path):
    path = tmp_path / "f.db"
    results = measure_objective(
        ex.full_result,
        path,
        tasks=["a", "b", "c", "d"],
        candidates="pairs",
        variants=["full", "small"],
        seeds=[3, 4],
        progress=False,
    )
    assert results["network"].nunique() == 2 * (4 + 6) and set(results["seed"]) == {3, 4}
    assert {"a@small", "a+b@small"} <= set(results["network"])
    store = ResultStore(path)
    val, test = store.to_problem("val"), store.to_problem("test", normalise=False)
    assert val.cost_names == ("flops",)
    assert val.costs[val.network_index("a"), 0] == pytest.approx(1.0)  # normalised by the full singles
    assert test.costs[test.network_index("a+b@small"), 0] == pytest.approx(0.55e6)
    j, t = test.network_index("c+d"), test.task_index("d")
    mean = np.mean([ex.full_result(["c", "d"], "full", s)["test"]["d"] for s in (3, 4)])
    assert test.losses[j, t] == pytest.approx(mean)


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ([1.0], "expected a mapping"),
        ({"val": {"a": 1.0}}, "missing ['b']"),
        ({"a": 1, "b": 2, "z": 3}, "extra ['z']"),
        ({"a": 1.0, "b": float("inf")}, "val['b'] for candidate 'a+b' (seed 7) is inf"),
        ({"a": True, "b": 1.0}, "val['a']"),
        ({"val": {"a": 1, "b": 1}, "test": {"a": 1}}, "'test' for candidate"),
        ({"val": {"a": 1, "b": 1}, "cost": {"flops": -1}}, "'cost' for candidate"),
        ({"val": {"a": 1, "b": 1}, "cost": 3}, "'cost' for candidate 'a+b' (seed 7) must be a mapping"),
        ({"val": {"a": 1, "b": 1}, "extra": 1}, "unknown field(s) ['extra']"),
    ],
)
def test_bad_return_values_name_the_candidate_and_field(value, field):
    with pytest.raises(InvalidArgument) as info:
        read_objective_result(value, ("a", "b"), "candidate 'a+b' (seed 7)")
    assert field in str(info.value)


def test_numbers_of_other_types_are_accepted():
    metrics, costs = read_objective_result({"val": {"a": np.float32(0.5)}, "cost": {"ms": 3}}, ("a",), "x")
    assert metrics == {"a": {"val_loss": 0.5}} and costs == {"ms": 3.0}


def test_an_objective_that_raises_or_returns_garbage_loses_nothing_else(tmp_path):
    path = tmp_path / "m.db"
    results = measure_objective(ex.misbehaving, path, tasks=["a", "b", "c"], seeds=2, progress=False)
    failed = results[results["status"] == "failed"].drop_duplicates("network").set_index("network")["reason"]
    assert set(failed.index) == {"a+c", "b+c", "a+b+c", "b", "c", "a+b"}
    assert "raised RuntimeError: CUDA out of memory" in failed["a+c"]
    assert "val['b'] for candidate 'b+c' (seed 0) is nan" in failed["b+c"]
    assert "missing ['b', 'c']" in failed["a+b+c"] and "val['b']" in failed["b"]
    assert "expected a mapping" in failed["c"] and "unknown field(s) ['train']" in failed["a+b"]
    ok = results[results["status"] == "ok"]
    assert set(ok["network"]) == {"a"} and len(ok) == 2  # both seeds of the one good candidate
    assert len(ResultStore(path).done(results["suite"].iloc[0], results["config"].iloc[0])) == 14
    calls = []  # a rerun tries the failed calls again (they fail again here) and never the finished ones
    measure_objective(ex.misbehaving, path, tasks=["a", "b", "c"], seeds=2, progress=False, on_result=calls.append)
    assert sorted(c[0].network for c in calls) == sorted(2 * ["a+c", "b+c", "a+b+c", "b", "c", "a+b"])
    assert len(ResultStore(path).done(results["suite"].iloc[0], results["config"].iloc[0])) == 14
    with pytest.warns(MeasurementWarning, match="Leaving out 6 failed network"):
        with pytest.raises(InvalidArgument, match=r"task\(s\) \['b', 'c'\] failed"):
            ResultStore(path).to_problem()


def test_resume_settings_and_the_measure_dispatch(tmp_path):
    path = tmp_path / "s.db"
    first = tg.measure.measure(ex.with_settings, path, tasks=["a", "b"], settings={"epochs": 2}, progress=False)
    calls = []
    again = tg.measure.measure(
        ex.with_settings, path, tasks=["a", "b"], settings={"epochs": 2}, progress=False, on_result=calls.append
    )
    assert calls == [] and again.equals(first)
    longer = measure_objective(ex.with_settings, path, tasks=["a", "b"], settings={"epochs": 10}, progress=False)
    assert longer["config"].iloc[0] != first["config"].iloc[0]  # other settings: another run in the store
    store = ResultStore(path)
    with pytest.raises(InvalidArgument, match="several measurements"):
        store.to_problem()
    short = store.to_problem(config=first["config"].iloc[0])
    assert short.losses[short.network_index("a"), 0] == pytest.approx(ex.with_settings(["a"], "full", 0, 2)["a"])
    with pytest.raises(InvalidArgument, match=r"\['config'\] apply to suites only"):
        tg.measure.measure(ex.plain, path, tasks=["a"], config=object())
    with pytest.raises(InvalidArgument, match="JSON-serialisable"):
        measure_objective(ex.plain, path, tasks=["a"], settings={"f": object()})
    with pytest.raises(InvalidArgument, match="Task names"):
        measure_objective(ex.plain, path, tasks=["a+b"])
    with pytest.raises(InvalidArgument, match="accepted variants are \\['full'\\]"):
        measure_objective(ex.plain, path, tasks=["a"], candidates=["a@half"])
    pool = RestartingProcessPool(1)  # workers start with the first job, which never comes
    unpicklable = lambda tasks, variant, seed: {t: 1.0 for t in tasks}  # noqa: E731
    for executor in ("process", pool):
        with pytest.raises(InvalidArgument, match="Define it at the top level of a module"):
            measure_objective(unpicklable, path, tasks=["a"], executor=executor)
    pool.shutdown()


def test_auto_refuses_a_lambda_where_it_is_a_process_pool(tmp_path, monkeypatch):
    # auto is a process pool on two cores or more, and a pool can only run functions it can import by name
    runtime = importlib.import_module("taskgroup.engine.runtime")
    objective = lambda tasks, variant, seed: {t: 1.0 for t in tasks}  # noqa: E731
    monkeypatch.setattr(runtime, "available_cores", lambda: 2)
    with pytest.raises(InvalidArgument, match="executor 'auto' runs the objective in other processes"):
        measure_objective(objective, tmp_path / "two.db", tasks=["a"], executor="auto", progress=False)
    monkeypatch.setattr(runtime, "available_cores", lambda: 1)  # serial in this process: a lambda is fine
    table = measure_objective(objective, tmp_path / "one.db", tasks=["a"], executor="auto", progress=False)
    assert table["val_loss"].tolist() == [1.0]


def test_reading_a_store_and_the_objective_route_import_no_torch(tmp_path):
    code = f"""
import sys, warnings
sys.path.insert(0, {str(HERE)!r})
import objective_examples as ex
from taskgroup.measure.objective import measure_objective
from taskgroup.measure.store import ResultStore
import taskgroup as tg, taskgroup.measure
path = sys.argv[1]
measure_objective(ex.full_result, path, tasks=["a", "b", "c"], progress=False)
problem = ResultStore(path).to_problem()
from taskgroup.cli import main
assert main(["solve", "--store", path, "--budget", "3"]) == 0
print("torch loaded:", "torch" in sys.modules, len(problem.networks))
"""
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "t.db")], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "torch loaded: False 7" in out.stdout


def test_process_workers_of_the_objective_route_import_no_torch(tmp_path):
    # workers fork from a server, which imports torch for the suite route only: a user's script may not use torch
    folder = tmp_path / "modules"
    folder.mkdir()
    args = ["measure", "--objective", "objective_examples:reporting_modules", "--tasks", "a,b", "--executor",
            "process:2", "--setting", f"folder={folder}", "--store", str(tmp_path / "s.db")]  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "taskgroup", *args], cwd=HERE, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert {p.name: p.read_text() for p in folder.iterdir()} == {f"{n}.modules": "no torch" for n in ("a", "b", "a+b")}


# -- stores written before the objective route, damaged stores, read-only stores ------------------------


def test_a_store_from_before_resource_costs_is_read_and_migrated(tmp_path):
    path = tmp_path / "old.db"
    store = ResultStore(path)
    store.register_run("s", "c", "old", ["a", "b"], {}, {})
    rows = [
        NetworkResult(n, tuple(n.split("+")), "full", 0, metrics={t: {"val_loss": 1.0 / len(n)} for t in n.split("+")})
        for n in ("a", "b", "a+b")
    ]
    store.add_results("s", "c", rows)
    store.add_costs(
        "s",
        "c",
        pd.DataFrame(
            {
                "network": ["a", "b", "a+b"],
                "variant": "full",
                "tasks": ["a", "b", "a+b"],
                "flops": [2.0, 2.0, 3.0],
                "snt": 1.0,
            }
        ),
    )
    with sqlite3.connect(path) as db:  # what a store written by the first release holds
        db.execute("DROP TABLE resource_costs")
    problem = ResultStore(path).to_problem()
    assert problem.cost_names == ("flops",) and problem.costs[problem.network_index("a+b"), 0] == 1.5
    ResultStore(path).add_results("s", "c", [NetworkResult("a", ("a",), "full", 1, metrics={"a": {"val_loss": 1}})])
    with sqlite3.connect(path) as db:
        assert "resource_costs" in {n for (n,) in db.execute("SELECT name FROM sqlite_master")}


def test_a_store_with_garbage_bytes_in_the_middle_is_one_clear_error(tmp_path):
    path = tmp_path / "g.db"
    measure_objective(ex.full_result, path, tasks=["a", "b", "c", "d", "e", "f"], progress=False)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(size // 2)
        f.write(np.random.default_rng(0).bytes(4096))
    with pytest.raises(MeasurementError, match="is damaged or is not a results store"):
        ResultStore(path)
    for args in (
        ["solve", "--store", str(path), "--budget", "2"],
        ["frontier", "--store", str(path)],
        ["measure", "--objective", "objective_examples:plain", "--tasks", "a", "--store", str(path)],
    ):
        one_line_error(run_cli(*args), "is damaged or is not a results store")
    with pytest.raises(InvalidArgument, match="does not exist"):
        ResultStore(tmp_path / "no" / "such" / "folder.db")
    empty = tmp_path / "touched.db"  # an empty file is a new store, not a damaged one
    empty.touch()
    assert len(measure_objective(ex.plain, empty, tasks=["a"], progress=False)) == 1
    text = tmp_path / "notes.db"
    text.write_text("not a database at all\n" * 100)
    one_line_error(run_cli("solve", "--store", str(text), "--budget", "2"), "is damaged or is not a results store")


@contextmanager
def read_only(*paths: Path):
    """Make files and folders read-only for this process, for real: chmod for a user; for root (whom chmod
    does not stop) the immutable attribute, which stops root too; skipped where neither is possible."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    try:
        subprocess.run(["chattr", "+i", *map(str, paths)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"running as root, and chattr +i failed here ({exc}): nothing makes a file read-only for root")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


def test_a_read_only_store_is_solved_from_and_refuses_writes_clearly(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "r.db"
    measure_objective(ex.full_result, path, tasks=["a", "b", "c"], progress=False)
    for extra in ("r.db-wal", "r.db-shm"):  # as a store copied as one file: nothing but r.db in the folder
        (folder / extra).unlink(missing_ok=True)
    with read_only(path, folder):
        with pytest.raises(OSError):
            path.open("ab")  # really read-only for this process
        solved = run_cli("solve", "--store", str(path), "--budget", "2")
        assert solved.returncode == 0, solved.stderr
        assert "optimal plan" in solved.stdout
        assert len(ResultStore(path).to_problem().networks) == 7
        one_line_error(
            run_cli(
                "measure", "--objective", "objective_examples:full_result", "--tasks", "a,b,d", "--store", str(path)
            ),
            "is read-only",
        )
        with pytest.raises(MeasurementError, match="is read-only"):
            measure_objective(ex.full_result, path, tasks=["a", "b", "d"], progress=False)
    assert sorted(os.listdir(folder))[0] == "r.db"


# -- the command line -----------------------------------------------------------------------------------


def test_cli_measure_objective_then_solve_without_options(tmp_path):
    db = tmp_path / "cli.db"
    out = run_cli(
        "measure",
        "--objective",
        "objective_examples:full_result",
        "--tasks",
        "a,b,c,d",
        "--variants",
        "full,small",
        "--seeds",
        "2",
        "--store",
        str(db),
    )
    assert out.returncode == 0, out.stderr
    assert "30 networks measured, 0 failed" in out.stdout and "a+b@small" in out.stdout
    solved = run_cli("solve", "--store", str(db), "--budget", "2.2")
    assert solved.returncode == 0, solved.stderr
    assert "a+b: serves a, b" in solved.stdout and "c+d: serves c, d" in solved.stdout
    frontier = run_cli("frontier", "--store", str(db), "--split", "test")
    assert frontier.returncode == 0, frontier.stderr
    failing = run_cli(
        "measure",
        "--objective",
        "objective_examples:misbehaving",
        "--tasks",
        "a,b,c",
        "--store",
        str(tmp_path / "m.db"),
        "--candidates",
        "a,a+c",
    )
    assert failing.returncode == 0 and "failed a+c (seed 0): the objective raised RuntimeError" in failing.stdout
    setting = run_cli(
        "measure",
        "--objective",
        "objective_examples:with_settings",
        "--tasks",
        "a,b",
        "--setting",
        "epochs=4",
        "--store",
        str(tmp_path / "s.db"),
        "-q",
    )
    assert setting.returncode == 0, setting.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--objective", "objective_examples:nope", "--tasks", "a"], "has no 'nope'"),
        (["--objective", "no_such_module:f", "--tasks", "a"], "Cannot import module 'no_such_module'"),
        (["--objective", "objective_examples", "--tasks", "a"], "must look like 'package.module:function'"),
        (["--objective", "objective_examples:CLUSTER", "--tasks", "a"], "not a function"),
        (["--objective", "objective_examples:plain"], "needs --tasks"),
        (["--objective", "objective_examples:plain", "--tasks", "a", "--epochs", "3"], "--epochs apply to --suite"),
        (["--objective", "objective_examples:plain", "--tasks", "a", "--setting", "x"], "--setting must look like"),
        (["--suite", "synthetic", "--variants", "full"], "apply to --objective only"),
        (["--objective", "objective_examples:plain", "--suite", "synthetic"], "not allowed with argument"),
    ],
)
def test_cli_measure_objective_errors_are_one_line(tmp_path, args, message):
    one_line_error(run_cli("measure", *args, "--store", str(tmp_path / "e.db")), message)


# -- executors -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_process_pool_matches_serial(tmp_path):
    kwargs = dict(tasks=["a", "b", "c", "d"], variants=["full", "small"], seeds=2, progress=False)
    serial = measure_objective(ex.full_result, tmp_path / "s.db", **kwargs)
    pooled = measure_objective(ex.full_result, tmp_path / "p.db", executor="process:2", **kwargs)
    pd.testing.assert_frame_equal(stored(tmp_path / "s.db"), stored(tmp_path / "p.db"))
    assert len(serial) == len(pooled) == 2 * 2 * 32


@pytest.mark.slow
def test_dask_cluster_and_sigkill_of_the_driver_then_resume(tmp_path, monkeypatch):
    dask = pytest.importorskip("dask")
    from distributed import LocalCluster

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    killed, clean = tmp_path / "killed.db", tmp_path / "clean.db"
    args = [
        "--objective",
        "objective_examples:full_result",
        "--tasks",
        "a,b,c,d,e",
        "--seeds",
        "2",
        "--setting",
        "delay=0.05",
        "-q",
    ]
    total = 2 * 31
    with dask.config.set({"temporary-directory": str(tmp_path / "dask")}):
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster:
            address = cluster.scheduler_address.replace("tcp://", "dask://")
            proc = subprocess.Popen(
                [sys.executable, "-m", "taskgroup", "measure", *args, "--executor", address, "--store", str(killed)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            count, deadline = 0, time.time() + 120
            while time.time() < deadline and proc.poll() is None and count < 5:
                try:
                    with sqlite3.connect(f"file:{killed}?mode=ro", uri=True, timeout=5) as db:
                        count = db.execute("SELECT count(*) FROM results").fetchone()[0]
                except sqlite3.OperationalError:  # not created yet
                    count = 0
                time.sleep(0.02)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
            with sqlite3.connect(killed) as db:
                at_kill = db.execute("SELECT count(*) FROM results").fetchone()[0]
            assert 5 <= at_kill < total, f"the kill should land mid-run; {at_kill} of {total} results were stored"
            resumed = run_cli("measure", *args, "--executor", address, "--store", str(killed))
            assert resumed.returncode == 0, resumed.stderr
    assert run_cli("measure", *args, "--store", str(clean)).returncode == 0
    after, uninterrupted = stored(killed), stored(clean)
    assert after["network"].nunique() == 31 and (after["status"] == "ok").all()
    assert not after.duplicated(["network", "seed", "task"]).any()
    pd.testing.assert_frame_equal(after, uninterrupted)


# -- the how-to and the example --------------------------------------------------------------------------


def test_howto_own_training_script_runs_as_written(tmp_path, monkeypatch, capsys):
    section = (ROOT / "docs" / "howto.md").read_text().split("## Your own training script\n", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.S)
    assert blocks, "the how-to has no Python code"
    monkeypatch.chdir(tmp_path)
    exec(compile("\n".join(blocks), "docs/howto.md", "exec"), {"__name__": "howto"})
    out = capsys.readouterr().out
    assert "optimal plan" in out
    results = ResultStore(tmp_path / "own.db").results()
    assert results["network"].nunique() == 14 and (results["status"] == "ok").all()


def test_example_script_and_its_objective_on_the_command_line(tmp_path):
    example = ROOT / "examples" / "own_training_script.py"
    out = subprocess.run(
        [sys.executable, str(example), "--store", str(tmp_path / "ex.db"), "--epochs", "30", "--budget", "2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "optimal plan" in out.stdout and "test loss of the chosen networks" in out.stdout
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "taskgroup",
            "measure",
            "--objective",
            "own_training_script:objective",
            "--tasks",
            "t0,t1",
            "--setting",
            "epochs=20",
            "--store",
            str(tmp_path / "cli.db"),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=example.parent,
    )
    assert cli.returncode == 0, cli.stderr
    assert set(ResultStore(tmp_path / "cli.db").to_problem(cost="params").networks) == {"t0", "t1", "t0+t1"}
