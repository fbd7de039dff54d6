"""`taskgroup run` end to end: files, resume after an interruption, settings check, the report in Chromium."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import taskgroup as tg
import taskgroup.pipeline as taskgroup_pipeline
from taskgroup.engine.defaults import default_train_config
from taskgroup.errors import InvalidArgument
from taskgroup.estimate.pairs import pair_affinity
from taskgroup.objectives import relative_weights
from taskgroup.pipeline import knee_budget
from taskgroup.run_settings import RunSettings

# The smallest run that still has every step (a pair to group, a task apart; 10 candidate networks): what these
# tests assert of a run (its files, resuming, refused settings, the report) does not depend on its size, and each
# of them runs it once or twice (it had 4 tasks, 600 samples and 4 epochs: 19 candidates, ~40 s a run).
SMALL = [
    "--suite",
    "synthetic",
    "--suite-param",
    "n_samples=400",
    "--suite-param",
    "clusters=[2, 1]",
    "--epochs",
    "3",
    "--quiet",
]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def taskgroup(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "taskgroup", *args], capture_output=True, text=True, timeout=600, **kwargs
    )


def test_knee_budget_is_the_step_farthest_below_the_chord():
    # scaled: x = 0, 1/3, 2/3, 1; y = 1, 4/9, 1/18, 0; distance below y = 1 - x: 0, 0.22, 0.28, 0
    table = pd.DataFrame({"budget": [1.0, 2.0, 3.0, 4.0], "objective": [10.0, 5.0, 1.5, 1.0]})
    assert knee_budget(table) == 3.0
    table["objective"] = [10.0, 2.0, 1.5, 1.0]  # most of the gain bought by the second step
    assert knee_budget(table) == 2.0
    assert knee_budget(table.iloc[:1]) == 1.0


def test_pair_affinity_from_single_and_pair_losses():
    problem = tg.Problem.from_frame(
        pd.DataFrame(
            [("a", "a", 1.0), ("b", "b", 2.0), ("a+b", "a", 0.8), ("a+b", "b", 2.5), ("a@half", "a", 1.2)],
            columns=["network", "task", "loss"],
        ).assign(cost=1.0)
    )
    matrix = pair_affinity(problem)
    assert matrix.loc["b", "a"] == pytest.approx(0.2)  # b helps a: 1 - 0.8 / 1.0
    assert matrix.loc["a", "b"] == pytest.approx(-0.25)  # a hurts b: 1 - 2.5 / 2.0
    assert np.isnan(matrix.loc["a", "a"])


@pytest.mark.slow
def test_every_command_trains_an_image_suite_as_run_does(tmp_path):
    images = tg.datasets.load_suite("mnist", tasks=["digit", "odd"], n_train=200, n_val=100, scarce=30)
    config = default_train_config(images)
    assert (config.model, config.hidden, config.options, config.batch_size) == ("cnn", (8, 16), {"dense": (64, 16)}, 32)
    assert default_train_config(images, batch_size=8).options == {"dense": (64, 16)}  # the rest stays
    assert default_train_config(tg.datasets.load_suite("digits")).model == "mlp"
    store = tmp_path / "m.db"
    small = ["--suite-param", "n_train=200", "--suite-param", "n_val=100", "--suite-param", "scarce=30"]
    result = taskgroup(
        "measure", "--suite", "mnist", *small, "--tasks", "digit", "--no-half", "--epochs", "1", "--batch-size", "64",
        "--latency-repeats", "0", "--store", str(store), "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    (stored,) = tg.measure.ResultStore(store).runs()["config"]
    assert stored == config.replace(epochs=1, batch_size=64).hash()


def test_where_a_run_goes_is_not_part_of_its_identity(tmp_path):
    assert "executor" not in RunSettings(executor="process:2").to_dict()
    with pytest.raises(InvalidArgument, match="Unknown executor 'nonsense'; accepted: 'auto', 'serial'"):
        RunSettings(executor="nonsense")  # refused before any folder or work
    # a folder written with one executor resumes under another
    lines = []
    taskgroup_pipeline._check_settings(tmp_path, RunSettings(executor="dask://h:1"), "f1", lines.append)
    taskgroup_pipeline._check_settings(tmp_path, RunSettings(executor="process"), "f1", lines.append)
    assert lines == []


def test_a_run_on_data_that_changed_since_is_refused_and_an_older_folder_resumes(tmp_path):
    check = taskgroup_pipeline._check_settings
    check(tmp_path, RunSettings(), "a9e0ed611477a887", print)
    with pytest.raises(InvalidArgument, match="The suite's data changed since the run in .* 'a9e0ed611477a887' there"):
        check(tmp_path, RunSettings(), "bc7afe1c8649d0e1", print)
    # settings.json written before fingerprints were recorded: resumed, and the fingerprint recorded from now on
    path = tmp_path / "settings.json"
    older = json.loads(path.read_text())
    del older["suite_fingerprint"]
    path.write_text(json.dumps(older))
    check(tmp_path, RunSettings(), "bc7afe1c8649d0e1", print)
    assert json.loads(path.read_text())["suite_fingerprint"] == "bc7afe1c8649d0e1"


def test_relative_weights_make_the_independent_networks_score_one_per_task():
    problem = tg.Problem.from_frame(
        pd.DataFrame(
            [("a", "a", 0.5), ("b", "b", 0.02), ("a+b", "a", 0.4), ("a+b", "b", 0.03), ("b@half", "b", 0.03)],
            columns=["network", "task", "loss"],
        ).assign(cost=1.0)
    )
    weights = relative_weights(problem)
    assert weights == pytest.approx({"a": 2.0, "b": 50.0})
    relative = problem.with_weights(weights)
    assert relative.evaluate(["a", "b"]).objective == pytest.approx(2.0)
    # b's loss is small in absolute terms, so the plain sum prefers a+b; relative to b's own network it is 50 %
    # worse, and the relative objective keeps b apart.
    assert problem.evaluate(["a+b"]).objective < problem.evaluate(["a", "b"]).objective
    assert relative.evaluate(["a+b"]).objective == pytest.approx(0.8 + 1.5)
    with pytest.raises(InvalidArgument, match=r"\{'b': None\}"):
        relative_weights(problem.without_networks(["b"]))
    with pytest.raises(InvalidArgument, match="objective='mean' is not accepted"):
        RunSettings(objective="mean")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    result = taskgroup("run", *SMALL, "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


@pytest.mark.slow
def test_run_writes_every_output(finished_run):
    out, result = finished_run
    for name in [
        "settings.json",
        "results.db",
        "problem.csv",
        "frontier.csv",
        "plan.json",
        "manifest.json",
        "results.json",
        "report.html",
        "frontier.png",
        "affinity.png",
        "grouping.png",
    ]:
        assert (out / name).is_file(), name
    plan = tg.Plan.from_json(out / "plan.json")
    problem = tg.Problem.from_csv(out / "problem.csv", cost="flops")
    assert problem.evaluate(plan.networks).objective == pytest.approx(plan.objective)
    manifest = json.loads((out / "manifest.json").read_text())
    assert {n["name"] for n in manifest["networks"]} == set(plan.networks)
    assert f"report: {out / 'report.html'}" in result.stdout


@pytest.mark.slow
def test_rerun_resumes_without_retraining(finished_run):
    out, _ = finished_run
    checkpoints = {p: p.stat().st_mtime_ns for p in out.rglob("*.pt")}
    assert checkpoints
    again = taskgroup("run", *SMALL[:-1], "--out", str(out))  # not --quiet: the progress lines are printed
    assert again.returncode == 0, again.stderr[-2000:]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.pt")} == checkpoints
    # the report's path once, in the closing summary
    assert again.stdout.count(f"report: {out / 'report.html'}") == 1, again.stdout


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["metric", "calibrated"])
def test_a_run_resumes_under_each_new_objective_without_measuring_again(finished_run, objective):
    out, _ = finished_run
    measured = tg.measure.ResultStore(out / "results.db").results()
    result = taskgroup("run", *SMALL, "--objective", objective, "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    pd.testing.assert_frame_equal(tg.measure.ResultStore(out / "results.db").results(), measured)
    plan = tg.Plan.from_json(out / "plan.json")
    problem = tg.Problem.from_csv(out / "problem.csv", cost="flops")
    assert problem.evaluate(plan.networks).objective == pytest.approx(plan.objective)
    # both objectives score the independent networks 1 per task
    singles = [n for n in problem.networks if "+" not in n and "@" not in n]
    assert problem.evaluate(singles).objective == pytest.approx(problem.n_tasks)
    # the report's summary names what the plan is optimal on
    scores = {"metric": "metrics", "calibrated": "losses"}[objective]
    assert f"optimal on the measured validation {scores} (objective" in (out / "report.html").read_text()


@pytest.mark.slow
def test_other_settings_in_the_same_folder_are_refused(finished_run):
    out, _ = finished_run
    result = taskgroup("run", *SMALL, "--arch", "mmoe", "--out", str(out))
    assert result.returncode == 2
    assert "holds a run with other settings (arch: None there, 'mmoe' now)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_run_stopped_by_a_too_small_budget_resumes_with_another(tmp_path):
    out = tmp_path / "out"
    first = taskgroup("run", *SMALL, "--budget", "0.01", "--out", str(out))
    assert first.returncode == 2
    assert "step 'plan' failed: InfeasibleBudget" in first.stderr and "run again with a larger --budget" in first.stderr
    measured = tg.measure.ResultStore(out / "results.db").results()
    again = taskgroup("run", *SMALL[:-1], "--out", str(out))  # no --budget: the knee
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming" in again.stdout and "budget 0.01 -> None" in again.stdout
    pd.testing.assert_frame_equal(tg.measure.ResultStore(out / "results.db").results(), measured)  # not remeasured
    assert json.loads((out / "settings.json").read_text())["budget"] is None
    assert (out / "report.html").is_file()


@pytest.mark.slow
def test_a_finished_run_resumes_with_another_budget_and_plan(tmp_path):
    # issue 25: the train step refused "a run with a different plan" after plan.json was already replaced
    out = tmp_path / "out"
    first = taskgroup("run", *SMALL, "--budget", "4", "--out", str(out))
    assert first.returncode == 0, first.stderr[-2000:]
    checkpoints = {p: p.stat().st_mtime_ns for p in out.rglob("*.pt")}
    again = taskgroup("run", *SMALL, "--budget", "2", "--out", str(out))
    assert again.returncode == 0, again.stderr[-2000:]
    plan = tg.Plan.from_json(out / "plan.json")
    manifest = json.loads((out / "manifest.json").read_text())
    assert plan.budget == {"flops": 2.0} and {n["name"] for n in manifest["networks"]} == set(plan.networks)
    assert json.loads((out / "run.json").read_text())["plan"]["budget"] == {"flops": 2.0}
    for path, mtime in checkpoints.items():  # networks of both plans are trained once
        assert path.stat().st_mtime_ns == mtime


@pytest.mark.slow
def test_killed_run_resumes_and_keeps_finished_networks(tmp_path):
    out = tmp_path / "out"
    args = [sys.executable, "-m", "taskgroup", "run", *SMALL[:-1], "--out", str(out)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    for line in process.stdout:  # kill it once training has finished its first unit
        if line.startswith("baseline ") or time.time() > deadline:
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished = {p: p.stat().st_mtime_ns for p in out.rglob("*.pt")}
    assert not (out / "report.html").exists()
    result = taskgroup("run", *SMALL, "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert (out / "report.html").is_file()
    for path, mtime in finished.items():  # what was finished before the kill was not trained again
        assert path.stat().st_mtime_ns == mtime


@pytest.mark.slow
def test_report_renders_in_headless_chromium_with_every_image(finished_run, tmp_path):
    assert CHROMIUM, "Chromium is needed for this test: apt-get install chromium (scripts/test.sh does it)"
    out, _ = finished_run
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    url = (out / "report.html").as_uri()
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert "<title>images-ok 3</title>" in dom.stdout, dom.stdout[:500] + dom.stderr[-500:]
    shot = tmp_path / "report.png"
    subprocess.run(
        [CHROMIUM, *flags, "--window-size=1200,2400", f"--screenshot={shot}", url], capture_output=True, timeout=120
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["hoa", "esa", "tag"])
def test_every_strategy_runs_end_to_end(strategy, tmp_path):
    settings = RunSettings(
        suite="synthetic",
        suite_params={"n_samples": 400, "clusters": [2, 1]},
        strategy=strategy,
        epochs=3,
        esa_fraction=0.34,
    )
    outcome = tg.pipeline.run_pipeline(settings, tmp_path, progress=False, say=lambda _m: None)
    assert (tmp_path / "report.html").is_file() and (tmp_path / "manifest.json").is_file()
    assert outcome.plan.optimal
    if strategy in ("hoa", "esa"):  # predicted losses are flagged as such
        assert outcome.problem.predicted.any()
    if strategy == "tag":  # TAG groups come with scores (higher is better) and a cost of one per network
        assert outcome.problem.higher_is_better and outcome.affinity is not None
    if strategy == "esa":  # only the chosen networks were trained on the full schedule
        store = tg.measure.ResultStore(tmp_path / "results.db")
        full = store.table("val", "flops", normalise=False, config=tg.measure.TrainConfig(epochs=3).hash())
        assert set(full["network"]) == set(outcome.plan.networks)


@pytest.mark.slow
def test_readme_hoa_on_digits_profiles_predicted_networks(tmp_path):
    """`taskgroup run --suite digits --strategy hoa` (README) at small settings: predicted groups get profiled costs."""
    out = tmp_path / "digits"
    result = taskgroup(
        "run", "--suite", "digits", "--strategy", "hoa", "--epochs", "1", "--threads", "1", "--quiet", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    problem = pd.read_csv(out / "problem.csv")
    store = tg.measure.ResultStore(out / "results.db")
    costs = tg.measure.normalise_costs(store.costs()).set_index("network")
    suite = tg.datasets.load_suite("digits")
    trained = set(store.results()["network"])
    names = {n: tg.measure.parse_candidate(n, suite.task_names).name for n in problem["network"].unique()}
    predicted = [names[n] for n in names if names[n] not in trained]
    assert len(predicted) == 2**5 - 1 - 15 and set(predicted) <= set(costs.index)  # profiled, never trained
    # profiled exactly as measured networks are: a predicted group costs what building it costs
    everything = tg.measure.parse_candidate(predicted[-1], suite.task_names)
    assert len(everything.tasks) == 5
    fresh = tg.measure.profile_candidates(
        suite, [everything], tg.engine.TrainConfig(epochs=1), latency=False
    ).set_index("network")
    raw = store.costs().set_index("network")
    assert raw.loc[everything.name, "flops"] == fresh.loc[everything.name, "flops"]
    assert raw.loc[everything.name, "memory_bytes"] == fresh.loc[everything.name, "memory_bytes"]
    assert costs.loc[everything.name, "flops"] > costs.loc["digit", "flops"]
    with_costs = problem[problem["network"] == [n for n in names if names[n] == everything.name][0]]
    assert with_costs["flops"].iloc[0] == pytest.approx(costs.loc[everything.name, "flops"])


def test_threads_option_reaches_torch(tmp_path):
    code = (
        "import torch, sys; from taskgroup.cli import main; "
        "main(['run', '--suite-param', 'nosuch=1', '--threads', '1']); print(torch.get_num_threads())"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path
    )  # in tmp_path: the default --out folder would be made in the working directory
    assert result.stdout.split() == ["1"] and "no parameter(s) ['nosuch']" in result.stderr
    assert not (tmp_path / "taskgroup-run").exists()  # settings the suite refuses claim no folder


@pytest.mark.slow
def test_default_run_on_the_image_suite_groups_tasks_and_records_both_extremes(tmp_path):
    # The default suite (mnist, cnn family) at a small size: the plan trains tasks together, and results.json
    # holds the all-in-one network's Δm% beside the plan's (both against the single-task networks).
    small = [
        "--suite-param",
        "n_train=400",
        "--suite-param",
        "n_val=200",
        "--suite-param",
        "scarce=60",
        "--epochs",
        "5",
        "--quiet",
    ]
    result = taskgroup("run", *small, "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert max(len(n["trained_tasks"]) for n in plan["networks"]) >= 2
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(results["delta_m"]) >= {"multitask", "all_in_one"}
    assert set(results["all_in_one"]) == set(plan["assignment"])
    settings = json.loads((tmp_path / "out" / "settings.json").read_text())
    assert settings["suite"] == "mnist" and settings["model"] is None


@pytest.mark.slow
def test_run_distill_compresses_the_plan_and_reports_teachers_student_and_vanilla(tmp_path):
    out = tmp_path / "out"
    result = taskgroup("run", *SMALL, "--distill", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    distilled = json.loads((out / "distilled" / "results.json").read_text())
    plan = json.loads((out / "plan.json").read_text())
    assert set(distilled["student"]) == set(distilled["vanilla"]) == set(plan["assignment"])
    assert set(distilled["delta_m"]) >= {"teachers", "student", "vanilla"} and "kept_fraction" in distilled
    student = json.loads((out / "distilled" / "manifest.json").read_text())
    assert len(student["networks"]) == 1 and student["distilled"] is True
    page = (out / "report.html").read_text()
    assert "Distillation: the plan in one network" in page
    for column in ("teachers (plan)", "vanilla", "student"):
        assert f"<th>{column}</th>" in page
