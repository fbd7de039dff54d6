"""Bad files and closed pipes through the real `taskgroup` command: one line on stderr and exit 2, never a traceback.

One test per case found by probing as a user would (issue 9): empty and folder "tables", JSON problems with
fields of the wrong type, `| head` on solve's output, plans that are folders or list a network twice, run
folders that are files.
"""

import json
import subprocess
import sys

import pytest

import taskgroup as tg
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
