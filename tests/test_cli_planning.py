"""`taskgroup solve` and `taskgroup frontier`, run end to end in a real subprocess."""

import json
import subprocess
import sys

import pytest


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "taskgroup", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_solve_a_csv_table_and_write_the_plan(tmp_path, toy_frame):
    toy_frame.to_csv(tmp_path / "table.csv", index=False)
    result = run("solve", str(tmp_path / "table.csv"), "--budget", "1.5", "--json", str(tmp_path / "plan.json"))
    assert result.returncode == 0, result.stderr
    assert "optimal plan" in result.stdout and "ab: serves a, b" in result.stdout
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["status"] == "optimal" and sorted(plan["assignment"]) == ["a", "b"]


def test_solve_published_table_scored_on_test():
    result = run("solve", "standley2020:1:val", "--budget", "2", "--score-on", "standley2020:1:test")
    assert result.returncode == 0, result.stderr
    assert "on standley2020:1:test: objective 0.452" in result.stdout


def test_frontier_default_table_with_plot_and_csv(tmp_path):
    result = run("frontier", "--plot", str(tmp_path / "f.png"), "--csv", str(tmp_path / "f.csv"))
    assert result.returncode == 0, result.stderr
    assert "sdnke" in result.stdout
    assert (tmp_path / "f.png").stat().st_size > 1000
    assert (tmp_path / "f.csv").read_text().startswith("budget,objective")


@pytest.mark.parametrize(
    "args, message",
    [
        (["solve", "standley2020:1:val", "--budget", "0.2"], "budget 0.2 < minimum 1"),
        (["solve", "standley2020:1:val", "--budget", "two"], "--budget 'two' is not a number"),
        (["solve", "standley2020:1:val"], "the following arguments are required: --budget"),
        (["solve", "missing.csv", "--budget", "1"], "No such table: 'missing.csv'"),
        (["solve", "standley2020:9:val", "--budget", "1"], "use 'standley2020:SETTING:SPLIT'"),
        (["solve", "standley2020:1:val", "--budget", "1", "--method", "magic"], "invalid choice: 'magic'"),
        (["frontier", "standley2020:1:val", "--budgets", "1,x"], "--budgets '1,x' must be comma-separated numbers"),
    ],
)
def test_bad_arguments_give_one_error_line_and_exit_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_bad_table_gives_one_error_line(tmp_path, toy_frame):
    toy_frame.assign(cost=toy_frame["cost"].where(toy_frame.index != 2, -1)).to_csv(tmp_path / "t.csv", index=False)
    result = run("solve", str(tmp_path / "t.csv"), "--budget", "2")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"taskgroup solve: error: Line 4 of '{tmp_path / 't.csv'}' (network 'a', task 'a') has cost = -1.0; "
        "costs must be finite numbers > 0."
    )
