"""Bad files and closed pipes through the real `taskgroup` command: one line on stderr and exit 2, never a traceback.

One test per case found by probing as a user would (issue 9): empty and folder "tables", JSON problems with
fields of the wrong type, `| head` on solve's output, plans that are folders or list a network twice, run
folders that are files. And the second probe (issue 25): crashes, sys.exit and Ctrl-C in measurements and
searches, sizes that must be bounded, results that are not finite, stores and settings files left damaged.
"""

import importlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import taskgroup as tg
from taskgroup.cli import main
from taskgroup.errors import InvalidArgument, InvalidPlan, InvalidProblem


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "taskgroup", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def one_error_line(result, message):
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


NETWORK = {"name": "a", "cost": 1, "losses": {"x": 0.5}}


@pytest.mark.parametrize(
    "document, message",
    [
        ({"networks": 5}, "In the problem, networks must be a JSON array (list); got 5 (int)."),
        ({"tasks": 5, "networks": [NETWORK]}, "In the problem, tasks must be a JSON array (list); got 5 (int)."),
        (
            {"higher_is_better": "false", "networks": [NETWORK]},
            "In the problem, higher_is_better must be true or false (a JSON boolean); got 'false' (str).",
        ),
        ({"tasks": {"x": 3}, "networks": [NETWORK]}, "tasks['x'] must be an object like {\"weight\": 2.0}"),
        ({"tasks": {"x": {"weight": "2"}}, "networks": [NETWORK]}, "tasks.x.weight must be a number; got '2' (str)."),
        ({"tasks": {"x": {"wieght": 2}}, "networks": [NETWORK]}, "unknown field(s) ['wieght']"),
        ({"higher_is_beter": True, "networks": [NETWORK]}, "The problem has unknown field(s) ['higher_is_beter']"),
        ({"networks": [{**NETWORK, "cost": "1"}]}, "networks[0].cost must be a number; got '1' (str)."),
        ({"networks": [{**NETWORK, "losses": {"x": True}}]}, "networks[0].losses['x'] must be a number; got True"),
        ({"networks": [{**NETWORK, "predicted": ["y"]}]}, "lists predicted task(s) ['y'] that are not among"),
        ({"networks": []}, "The problem's 'networks' list is empty"),
        ([5], "A problem JSON array must hold one object per (network, task) row; item 0 is 5."),
    ],
)
def test_json_problem_fields_are_type_checked(document, message):
    with pytest.raises(InvalidProblem) as info:
        tg.Problem.from_json(json.dumps(document))
    assert message in str(info.value)


def test_json_problem_with_a_wrong_type_fails_on_the_command_line(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"higher_is_better": "false", "networks": [NETWORK]}))
    one_error_line(run("solve", str(path), "--budget", "2"), "higher_is_better must be true or false")


def test_task_weights_in_json_are_kept():
    problem = tg.Problem.from_json(json.dumps({"tasks": {"x": {"weight": 3}}, "networks": [NETWORK]}))
    assert problem.weights.tolist() == [3.0]


def test_empty_csv_is_one_line(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    one_error_line(run("solve", str(tmp_path / "empty.csv"), "--budget", "2"), "is empty; expected a CSV header")


def test_a_folder_named_like_a_table_is_one_line(tmp_path):
    (tmp_path / "x.csv").mkdir()
    one_error_line(run("solve", str(tmp_path / "x.csv"), "--budget", "2"), "is a folder; expected a file")
    (tmp_path / "x.json").mkdir()
    one_error_line(run("frontier", str(tmp_path / "x.json")), "is a folder; expected a file")


def test_binary_csv_is_one_line(tmp_path):
    (tmp_path / "b.csv").write_bytes(bytes(range(256)) * 4)
    one_error_line(
        run("solve", str(tmp_path / "b.csv"), "--budget", "2"), "is not a text CSV file (it contains NUL bytes)"
    )


def test_closed_stdout_still_writes_the_plan_file(tmp_path):
    plan = tmp_path / "plan.json"
    # `taskgroup solve ... --json plan.json | head -1`: the reader closes the pipe after one line.
    result = subprocess.run(
        f"'{sys.executable}' -m taskgroup solve --budget 2 --json '{plan}' | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert result.stdout.startswith("optimal plan")
    assert json.loads(plan.read_text())["status"] == "optimal"


def test_closed_stdout_ends_quietly_with_sigpipe_status(tmp_path):
    # Close the read end before the command writes anything: every print fails.
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskgroup", "frontier", "--csv", str(tmp_path / "f.csv")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert stderr == ""
    assert (tmp_path / "f.csv").read_text().startswith("budget,objective")


def test_plan_listing_a_network_twice_is_refused(tmp_path):
    plan = tg.solve(tg.datasets.standley2020(1, "val"), budget=2).to_dict()
    plan["networks"].append(plan["networks"][0])
    with pytest.raises(InvalidPlan, match=r"lists network\(s\) \['.*'\] more than once"):
        tg.Plan.from_dict(plan)
    path = tmp_path / "dup.json"
    path.write_text(json.dumps(plan))
    one_error_line(
        run("train", "--plan", str(path), "--suite", "digits", "--out", str(tmp_path / "out")), "more than once"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: p.update(networks=5), "In the plan, networks must be a JSON array (list); got 5 (int)."),
        (lambda p: p.update(nodes="3"), "In the plan, nodes must be an integer; got '3' (str)."),
        (lambda p: p.update(status="done"), "status must be one of ['optimal', 'feasible']; got 'done'."),
        (lambda p: p["assignment"].update(x="nowhere"), "assignment names network(s) ['nowhere']"),
        (lambda p: p["networks"][0].update(cost={"cost": None}), "networks[0].cost['cost'] must be a number"),
        (lambda p: p["networks"][0].update(trained_tasks=[]), "assigns task(s) ["),
    ],
)
def test_plan_fields_are_type_checked(mutate, message):
    plan = tg.solve(tg.datasets.standley2020(1, "val"), budget=2).to_dict()
    mutate(plan)
    with pytest.raises(InvalidPlan) as info:
        tg.Plan.from_dict(plan)
    assert message in str(info.value)


def test_plan_that_is_a_folder_is_one_line(tmp_path):
    one_error_line(
        run("train", "--plan", str(tmp_path), "--suite", "digits", "--out", str(tmp_path / "o")), "is a folder"
    )


def test_run_folder_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "f").write_text("x")
    one_error_line(run("run", "--out", str(tmp_path / "f")), "'" + str(tmp_path / "f") + "'")


def test_an_output_in_a_missing_folder_names_the_folder(tmp_path):
    missing = tmp_path / "no" / "such"
    one_error_line(
        run("frontier", "standley2020:1:val", "--plot", str(missing / "f.png")),
        f"'{missing / 'f.png'}' is in a folder that does not exist ('{missing}')",
    )


def test_csv_errors_name_the_line_an_editor_shows(tmp_path, toy_frame):
    text = toy_frame.to_csv(index=False).splitlines()
    text[3] = text[3].replace("0.45", "nan")  # line 4 of the file: the third data row
    text.insert(2, "")  # an empty line, skipped by the reader, still counts in the editor
    (tmp_path / "t.csv").write_text("\n".join(text) + "\n")
    one_error_line(
        run("solve", str(tmp_path / "t.csv"), "--budget", "2"),
        f"Line 5 of '{tmp_path / 't.csv'}' (network 'a', task 'a') has loss nan",
    )


def test_unknown_solver_options_are_named():
    problem = tg.datasets.standley2020(1, "val")
    with pytest.raises(InvalidArgument, match=r"Solver method 'bnb' has no option\(s\) \['foo'\]; its options: \[\]"):
        tg.solve(problem, 3, method="bnb", foo=1)


# ------------------------------------------------------------------ issue 25: work that must not be lost
TESTS = Path(__file__).parent


def cli(capsys, *args):
    """The command in this process: its exit status, stdout and stderr."""
    code = main(list(args))
    out = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)


def stored(path):
    return dict(sqlite3.connect(path).execute("SELECT network, status FROM results").fetchall())


def test_sys_exit_in_an_objective_fails_that_candidate_only(tmp_path, capsys):
    result = cli(
        capsys,
        "measure",
        "--objective",
        "objective_examples:exiting",
        "--tasks",
        "a,b,c",
        "--store",
        str(tmp_path / "s.db"),
    )
    assert result.returncode == 0, result.stderr
    assert (
        "6 networks measured, 1 failed" in result.stdout
        and "failed a (seed 0): the objective called sys.exit(0)" in result.stdout
    )
    assert stored(tmp_path / "s.db")["a"] == "failed" and len(stored(tmp_path / "s.db")) == 7


def test_measure_exits_2_when_nothing_succeeded_and_retries_failures_on_rerun(tmp_path, capsys):
    flag = tmp_path / "busy"
    flag.write_text("")
    args = [
        "measure",
        "--objective",
        "objective_examples:failing_while",
        "--tasks",
        "a,b,c",
        "--setting",
        f"flag={flag}",
        "--store",
        str(tmp_path / "s.db"),
        "--quiet",
    ]
    one_error_line(
        cli(capsys, *args),
        "none of the 7 candidate networks was measured; every one failed (first: a, seed 0: the objective raised",
    )
    flag.unlink()
    result = cli(capsys, *args)
    assert result.returncode == 0, result.stderr
    assert set(stored(tmp_path / "s.db").values()) == {"ok"}


def test_an_unknown_setting_is_refused_before_any_call(tmp_path, capsys):
    result = cli(
        capsys,
        "measure",
        "--objective",
        "objective_examples:plain",
        "--tasks",
        "a,b",
        "--setting",
        "epochs=2",
        "--store",
        str(tmp_path / "s.db"),
    )
    one_error_line(
        result,
        "objective_examples:plain takes no setting(s) ['epochs']; after (tasks, variant, seed) it accepts none.",
    )
    assert not (tmp_path / "s.db").exists() or stored(tmp_path / "s.db") == {}


def test_too_many_candidates_are_refused_with_their_count_before_any_is_built(tmp_path, capsys):
    tasks = ",".join(f"t{i}" for i in range(25))
    result = cli(
        capsys,
        "measure",
        "--objective",
        "objective_examples:plain",
        "--tasks",
        tasks,
        "--store",
        str(tmp_path / "s.db"),
    )
    one_error_line(result, "Candidates 'all' over 25 tasks are 33,554,431 networks; at most 10,000")
    assert "strategy='adaptive'" in result.stderr and "--candidates" in result.stderr
    one_error_line(
        cli(
            capsys,
            "measure",
            "--suite",
            "synthetic",
            "--suite-param",
            "clusters=[100]",
            "--store",
            str(tmp_path / "t.db"),
        ),
        "make 100 tasks; at most 26",
    )


def test_non_finite_and_huge_results_are_refused_by_name(tmp_path, capsys):
    (tmp_path / "big.csv").write_text(
        "network,task,loss,cost\na,a,1e308,1\nb,b,1e308,1\nab,a,1e308,1.5\nab,b,1e308,1.5\n"
    )
    one_error_line(
        cli(capsys, "solve", str(tmp_path / "big.csv"), "--budget", "3"),
        "Network 'a' has loss 1e+308 on task 'a' (weight 1.0); a weighted loss must be at most 1e+100",
    )
    one_error_line(cli(capsys, "frontier", str(tmp_path / "big.csv")), "has loss 1e+308")
    one_error_line(
        cli(
            capsys,
            "measure",
            "--suite",
            "synthetic",
            "--suite-param",
            "noise_std=nan",
            "--store",
            str(tmp_path / "s.db"),
        ),
        "parameter noise_std='nan' must be a finite number",
    )


@pytest.mark.slow
def test_a_crash_in_one_candidate_is_recorded_against_it_and_retried(tmp_path):
    # os.abort in the worker running a+b: the pool breaks, the jobs in flight rerun one at a time, a+b is
    # blamed after its retries, and every other candidate is measured
    result = run(
        "measure",
        "--objective",
        "objective_examples:crashing",
        "--tasks",
        "a,b,c",
        "--executor",
        "process:2",
        "--store",
        str(tmp_path / "s.db"),
        cwd=TESTS,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "failed a+b (seed 0): crashed: the worker process running it died 3 times (exit code -6, SIGABRT)"
        in result.stdout
    )
    assert stored(tmp_path / "s.db") == {**{n: "ok" for n in ("a", "b", "c", "a+c", "b+c", "a+b+c")}, "a+b": "failed"}


@pytest.mark.slow
def test_ctrl_c_stops_process_workers_within_2_s_and_keeps_finished_results(tmp_path, as_a_terminal_job):
    pids = tmp_path / "pids"
    pids.mkdir()
    args = [
        "measure",
        "--objective",
        "objective_examples:slow_groups",
        "--tasks",
        "a,b,c",
        "--executor",
        "process:2",
        "--setting",
        f"folder={pids}",
        "--store",
        str(tmp_path / "s.db"),
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "taskgroup", *args],
        cwd=TESTS,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=as_a_terminal_job,
    )
    deadline = time.time() + 120
    while len(list(pids.glob("*.pid"))) < 2 and time.time() < deadline:  # both workers are training a group
        time.sleep(0.1)
    started = time.time()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and time.time() - started < 2.5, (process.returncode, err)
    assert "finished results are kept" in err and "Traceback" not in err
    time.sleep(0.3)
    for pid_file in pids.glob("*.pid"):
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid_file.stem), 0)
    assert stored(tmp_path / "s.db") == {"a": "ok", "b": "ok", "c": "ok"}


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, dead but not yet reaped by init, is not)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in status)
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_workers_end_when_the_driver_is_killed_outright(tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    args = ["measure", "--objective", "objective_examples:slow_groups", "--tasks", "a,b,c", "--executor",
            "process:2", "--setting", f"folder={pids}", "--store", str(tmp_path / "s.db")]  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "taskgroup", *args], cwd=TESTS)
    deadline = time.time() + 120
    while len(list(pids.glob("*.pid"))) < 2 and time.time() < deadline:  # both workers are training a group
        time.sleep(0.1)
    workers = [int(p.stem) for p in pids.glob("*.pid")]
    assert len(workers) == 2 and all(map(_running, workers))
    helpers = _children(process.pid)  # the process the workers were forked from, where there is one
    process.kill()  # SIGKILL: the driver can neither commit nor end its workers
    process.wait()
    deadline = time.time() + 10
    while any(map(_running, workers + helpers)) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(map(_running, workers)), "workers outlived their driver"
    assert not any(map(_running, helpers)), "the driver's helper processes outlived it"


def _children(pid):
    """Pids of the live processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):  # it ended meanwhile
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:  # the field after the state; comm may hold spaces
            found.append(int(entry.name))
    return found


def test_ctrl_c_in_solve_affinity_keeps_the_best_plan_with_its_bound(tmp_path, capsys, monkeypatch):
    import threading
    from contextlib import contextmanager

    grouping = importlib.import_module("taskgroup.grouping.group")  # the module (the package exports the function)

    @contextmanager
    def pressed(note=""):  # Ctrl-C before the first iteration: the starting selection is the best so far
        event = threading.Event()
        event.set()
        yield event

    monkeypatch.setattr(grouping, "interrupt_flag", pressed)
    rng = np.random.default_rng(0)
    names = [f"t{i}" for i in range(20)]
    pd.DataFrame(rng.normal(size=(20, 20)), index=names, columns=names).to_csv(tmp_path / "a.csv")
    result = cli(
        capsys,
        "solve",
        "--affinity",
        str(tmp_path / "a.csv"),
        "--n-networks",
        "4",
        "--method",
        "colgen",
        "--json",
        str(tmp_path / "p.json"),
    )
    assert result.returncode == 130 and "interrupted; the best plan so far and its bound" in result.stderr
    plan = tg.Plan.from_json(tmp_path / "p.json")
    assert len(plan.networks) == 4 and not plan.optimal and plan.gap is not None
    assert "upper bound on the score" in result.stdout


def test_ctrl_c_while_the_commands_load_is_one_line_and_status_130(capsys, monkeypatch):
    cli_package = importlib.import_module("taskgroup.cli")

    def interrupted_while_importing():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_package, "build_parser", interrupted_while_importing)
    assert main(["solve", "--help"]) == 130
    assert capsys.readouterr().err.strip() == "taskgroup: interrupted while starting; nothing was done."


def test_ctrl_c_while_a_choice_imports_its_registry_is_one_line_and_status_130(capsys, monkeypatch):
    # `--suite NAME` is checked against the suite registry, which imports torch: seconds in which Ctrl-C came
    # as a traceback of some 90 lines
    from taskgroup.registry import RegistryChoices

    def interrupted_while_importing(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(RegistryChoices, "registry", interrupted_while_importing)
    assert main(["run", "--suite", "digits"]) == 130
    assert capsys.readouterr().err.strip() == "taskgroup: interrupted while starting; nothing was done."


@pytest.mark.slow
def test_ctrl_c_in_a_long_colgen_writes_the_plan(tmp_path, as_a_terminal_job):
    rng = np.random.default_rng(0)
    names = [f"t{i}" for i in range(40)]
    pd.DataFrame(rng.normal(size=(40, 40)), index=names, columns=names).to_csv(tmp_path / "a.csv")
    args = ["solve", "--affinity", "a.csv", "--n-networks", "8", "--method", "colgen", "--json", "p.json"]
    process = subprocess.Popen(
        [sys.executable, "-m", "taskgroup", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=as_a_terminal_job,
    )
    time.sleep(8)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 130, err
    assert "interrupted: keeping the best plan so far after the current iteration" in err
    assert len(tg.Plan.from_json(tmp_path / "p.json").networks) == 8 and "gap" in out


def test_store_costs_are_printed_as_relative_to_a_single_task_network(tmp_path, capsys):
    cli(
        capsys,
        "measure",
        "--objective",
        "objective_examples:full_result",
        "--tasks",
        "a,b,c",
        "--store",
        str(tmp_path / "s.db"),
    )
    result = cli(capsys, "solve", "--store", str(tmp_path / "s.db"), "--budget", "2")
    assert result.returncode == 0 and "costs (and budget) relative to a single-task network" in result.stdout


def test_a_store_with_no_costs_says_why(tmp_path, capsys):
    flag = tmp_path / "busy"
    flag.write_text("")
    cli(
        capsys,
        "measure",
        "--objective",
        "objective_examples:failing_while",
        "--tasks",
        "a,b",
        "--setting",
        f"flag={flag}",
        "--store",
        str(tmp_path / "s.db"),
    )
    one_error_line(
        cli(capsys, "solve", "--store", str(tmp_path / "s.db"), "--budget", "2"),
        "has no costs for this measurement: no candidate network finished",
    )


def test_a_half_created_store_is_finished_not_refused(tmp_path, capsys):
    db = sqlite3.connect(tmp_path / "s.db")  # what a full disk or a racing second command leaves: no tables
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    result = cli(
        capsys,
        "measure",
        "--objective",
        "objective_examples:plain",
        "--tasks",
        "a,b",
        "--store",
        str(tmp_path / "s.db"),
    )
    assert result.returncode == 0 and "3 networks measured" in result.stdout


def test_a_damaged_settings_file_is_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    # the smallest suite that a run measures: the folder and its settings are the same for any suite (on digits
    # the first run measured 31 networks for the same settings.json)
    suite = ["--suite", "synthetic", "--suite-param", "n_samples=200", "--suite-param", "clusters=[1, 1]"]
    result = cli(capsys, "run", *suite, "--epochs", "1", "--budget", "0.001", "--out", str(out))
    assert (out / "settings.json").is_file(), result.stderr
    (out / "settings.json").write_text("{not json")
    one_error_line(
        cli(capsys, "run", *suite, "--epochs", "1", "--out", str(out)),
        "settings.json' is not the JSON settings taskgroup wrote",
    )


def test_plan_cost_batches_are_bounded_before_anything_is_allocated(tmp_path, capsys):
    import taskgroup.train as train

    plan = tg.Plan.from_dict(_digits_plan())
    manifest = train.train_plan(
        plan,
        tg.datasets.load_suite("digits", tasks=["odd", "large"]),
        tmp_path / "run",
        train.RunConfig(fit=tg.engine.TrainConfig(epochs=1), baselines=False),
    ).manifest
    one_error_line(
        cli(capsys, "plan-cost", "--manifest", manifest, "--batch", "1000000000"),
        "Batch 1000000000 of inputs [64] is 64,000,000,000 numbers",
    )
    assert not (tmp_path / "run" / "plan_cost.json").exists()


def _digits_plan():
    rows = [{"network": "odd+large", "task": t, "loss": 0.5, "cost": 1.0} for t in ("odd", "large")]
    return tg.solve(tg.Problem.from_frame(pd.DataFrame(rows)), budget=1).to_dict()
