"""train_plan end to end: evaluation, distillation, manifest + checkpoints, resume, clear errors, the CLI."""

import json

import numpy as np
import pytest

from taskgroup.cli import main
from taskgroup.engine import TrainConfig, predict
from taskgroup.errors import InvalidArgument, ManifestError
from taskgroup.manifest import load_network, predict_tasks, read_manifest
from taskgroup.plan import Plan, PlanNetwork
from taskgroup.tasks import TaskSuite
from taskgroup.train.distill import TeacherConfig, Teachers
from taskgroup.train.run import RunConfig, train_plan

FAST = TrainConfig(epochs=4, lr=3e-3, batch_size=64)
FitConfig = TrainConfig


def make_plan(networks, assignment):
    """A plan as a solver would write it: networks -> trained tasks, task -> serving network."""
    return Plan(
        networks=tuple(networks),
        assignment=dict(assignment),
        task_losses={t: 0.0 for t in assignment},
        objective=0.0,
        cost={"cost": float(len(networks))},
        details=tuple(
            PlanNetwork(n, tuple(ts), tuple(t for t in ts if assignment.get(t) == n), {"cost": 1.0})
            for n, ts in networks.items()
        ),
    )


@pytest.fixture(scope="module")
def suite():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 5))
    targets = {
        "r": 2 * x[:, 0] + 10 + 0.1 * rng.normal(size=240),
        "b": (x[:, 1] > 0).astype(float),
        "m": np.digitize(x[:, 2], [-0.5, 0.5]).astype(float),
    }
    return TaskSuite.from_arrays(x, targets, {"r": "regression", "b": "binary", "m": "multiclass"}, name="tiny")


@pytest.fixture(scope="module")
def plan():
    return make_plan({"r+b": ("r", "b"), "b+m@half": ("b", "m")}, {"r": "r+b", "b": "r+b", "m": "b+m@half"})


@pytest.fixture(scope="module")
def distilled(suite, plan, tmp_path_factory):
    out = tmp_path_factory.mktemp("distilled")
    config = RunConfig(
        fit=FAST.replace(model="mmoe", options={"n_experts": 2, "expert_hidden": [8]}),
        distill=True,
        teacher=TeacherConfig(n_teachers=2),
        teacher_tasks=("r", "m"),
    )
    return out, train_plan(plan, suite, out, config), config


def test_report_has_every_group_and_delta_m(distilled):
    _, report, _ = distilled
    assert set(report.baselines) == set(report.multitask) == set(report.student) == {"r", "b", "m"}
    assert set(report.teachers) == {"r", "m"}  # b has no teacher: hard loss only
    assert set(report.multitask["r"]) == {"rmse", "r2"} and set(report.multitask["m"]) == {"accuracy", "auc"}
    assert set(report.delta_m) == {"multitask", "student", "teachers"}
    assert all(np.isfinite(v) for v in report.delta_m.values())
    # RMSE is reported in the target's own units (the suite standardises it): target std is about 2
    assert 0.05 < report.baselines["r"]["rmse"] < 2.5


def test_a_plan_network_that_is_a_baseline_trains_exactly_as_the_baseline(suite, tmp_path):
    # Paired comparison: the plan's single-task network for m is the same network as m's baseline, so their test
    # metrics are equal and Δm% measures what sharing did to r and b, not two draws of initialisation noise.
    plan = make_plan({"r+b": ("r", "b"), "m": ("m",)}, {"r": "r+b", "b": "r+b", "m": "m"})
    report = train_plan(plan, suite, tmp_path, RunConfig(fit=FAST))
    assert report.multitask["m"] == report.baselines["m"]
    assert report.multitask["r"] != report.baselines["r"]


def test_measured_networks_are_deployed_as_measured_and_equal_retrained_ones(suite, plan, tmp_path):
    # A run takes the networks its measurement trained (same suite, configuration and seed) instead of training
    # them again: they are the same networks, so every metric equals a run that trains them from scratch.
    from taskgroup.measure import measure

    store = tmp_path / "results.db"
    networks = ["r", "b", "m", "r+b", "b+m@half", "r+b+m"]
    measure(suite, store, candidates=networks, config=FAST, seeds=[3], vectorise=False, progress=False)
    lines: list[str] = []
    config = RunConfig(fit=FAST, all_in_one=True, seed=3, measured=str(store))
    kept = train_plan(plan, suite, tmp_path / "kept", config, say=lines.append)
    fresh = train_plan(plan, suite, tmp_path / "fresh", RunConfig(fit=FAST, all_in_one=True, seed=3))
    assert sum("weights kept" in line for line in lines) == 6 and not any("trained in" in line for line in lines)
    assert (kept.baselines, kept.networks, kept.all_in_one) == (fresh.baselines, fresh.networks, fresh.all_in_one)
    assert kept.delta_m == fresh.delta_m

    # another training configuration (or seed) measured other networks: they are trained, not taken
    lines.clear()
    other = RunConfig(fit=FAST.replace(epochs=3), all_in_one=True, seed=3, measured=str(store))
    train_plan(plan, suite, tmp_path / "other", other, say=lines.append)
    assert not any("weights kept" in line for line in lines)


def test_networks_trained_side_by_side_equal_networks_trained_one_after_another(suite, plan, tmp_path):
    lines: list[str] = []
    parallel = RunConfig(fit=FAST, all_in_one=True, seed=1, executor="process:2")
    side_by_side = train_plan(plan, suite, tmp_path / "parallel", parallel, say=lines.append)
    one_by_one = train_plan(plan, suite, tmp_path / "serial", RunConfig(fit=FAST, all_in_one=True, seed=1))
    assert (side_by_side.baselines, side_by_side.networks, side_by_side.all_in_one) == (
        one_by_one.baselines,
        one_by_one.networks,
        one_by_one.all_in_one,
    )
    # each of the 6 networks is reported once, as trained (3 baselines, 2 plan networks, the all-in-one network)
    assert sum("trained in" in line for line in lines) == 6 and not any("earlier" in line for line in lines)


suite_columns = ("x0", "x1", "x2", "x3", "x4")


def test_manifest_lists_networks_with_costs_and_checksums(distilled, plan):
    out, report, _ = distilled
    manifest = read_manifest(report.manifest)
    assert manifest["schema"] == "taskgroup.manifest" and manifest["version"] == 1
    assert manifest["assignment"] == plan.assignment and manifest["distilled"] is True and manifest["model"] == "mmoe"
    pre = manifest["preprocessing"]
    assert pre["kind"] == "standardise" and pre["columns"] == list(suite_columns) and len(pre["mean"]) == 5
    entries = {n["name"]: n for n in manifest["networks"]}
    assert set(entries) == {"r+b", "b+m@half"}
    assert entries["b+m@half"]["serves"] == ["m"] and entries["b+m@half"]["trained_tasks"] == ["b", "m"]
    for entry in entries.values():
        assert entry["checkpoint"].startswith("students/")
        assert entry["params"] > 0 and entry["flops"] > 0 and entry["latency_ms"] > 0
        assert entry["memory_bytes"] > 4 * entry["params"]
        assert len(entry["sha256"]) == 64 and (out / entry["checkpoint"]).exists()
    assert entries["r+b"]["distilled_tasks"] == ["r"]
    # the half-size variant has fewer parameters than a full-size network of the same task count
    assert entries["b+m@half"]["params"] < entries["r+b"]["params"] + 40


def test_network_loaded_from_manifest_predicts_like_the_trained_one(distilled, suite):
    _, report, _ = distilled
    outputs = predict_tasks(report.manifest, suite.test.x.numpy())
    assert set(outputs) == {"r", "b", "m"} and outputs["m"].shape == (len(suite.test), 3)
    net = load_network(report.manifest, "r+b")
    assert np.allclose(predict(net, suite.test.x)["r"], outputs["r"])
    # raw inputs are served from the manifest alone: its preprocessing reproduces the suite's inputs
    manifest = read_manifest(report.manifest)
    pre = manifest["preprocessing"]
    raw = suite.test.x.numpy() * np.asarray(pre["std"]) + np.asarray(pre["mean"])
    assert np.allclose(predict_tasks(report.manifest, raw, raw=True)["m"], outputs["m"], atol=1e-4)
    # the stored test metrics are reproduced from the reloaded network
    from taskgroup.tasks import evaluate_outputs

    sub = suite.subset(["r", "b"])
    again = evaluate_outputs(predict(net, sub.test.x), sub.test, sub.tasks)
    assert again["b"]["accuracy"] == pytest.approx(report.student["b"]["accuracy"])


def test_tampered_checkpoint_fails_its_checksum(distilled, tmp_path):
    import shutil

    out, report, _ = distilled
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    entry = read_manifest(copy / "manifest.json")["networks"][0]
    with open(copy / entry["checkpoint"], "ab") as f:
        f.write(b"x")
    with pytest.raises(ManifestError, match="has sha256 .* the manifest says"):
        load_network(copy / "manifest.json", entry["name"])
    with pytest.raises(ManifestError, match="Unknown network 'nope'"):
        load_network(copy / "manifest.json", "nope")


def test_soft_targets_are_cached_with_the_run(distilled):
    out, _, _ = distilled
    files = sorted(p.name.split("-")[0] for p in (out / "teachers").glob("*.npz"))
    assert files == ["m", "r"]
    teachers = Teachers.load(next((out / "teachers").glob("m-*.npz")))
    assert len(teachers.outputs["m"]["train"]) == 2  # the two members' raw outputs, kept for any temperature
    soft = teachers.soft("m", "train", temperature=2.0)
    assert soft.shape[1] == 3 and np.allclose(soft.sum(1), 1.0, atol=1e-5)


def test_rerun_resumes_without_training(distilled, suite, plan):
    out, report, config = distilled
    lines = []
    again = train_plan(plan, suite, out, config, say=lines.append)
    assert all("finished earlier" in line for line in lines[:-1]) and lines
    assert again.student == report.student and again.teachers == report.teachers


def test_interrupted_run_continues_from_finished_networks(suite, plan, tmp_path):
    config = RunConfig(fit=FAST)
    seen = []

    def interrupt_after_second_unit(line):
        seen.append(line)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_plan(plan, suite, tmp_path, config, say=interrupt_after_second_unit)
    assert not (tmp_path / "manifest.json").exists()
    lines = []
    report = train_plan(plan, suite, tmp_path, config, say=lines.append)
    kept = [line for line in lines if "finished earlier" in line]
    assert len(kept) == 2 and "trained" in lines[2]
    assert read_manifest(report.manifest)["distilled"] is False


def test_a_different_config_in_the_same_folder_is_refused(suite, plan, tmp_path):
    train_plan(plan, suite, tmp_path, RunConfig(fit=FitConfig(epochs=1), baselines=False))
    with pytest.raises(InvalidArgument, match="holds a run with a different config"):
        train_plan(plan, suite, tmp_path, RunConfig(fit=FitConfig(epochs=2), baselines=False))


@pytest.mark.parametrize(
    "networks, assignment, config, match",
    [
        (
            {"r+z": ("r", "z")},
            {"r": "r+z"},
            RunConfig(),
            r"trained on task\(s\) \['z'\] that suite 'tiny' does not have",
        ),
        (
            {"r": ("r",)},
            {"r": "r", "q": "r"},
            RunConfig(),
            r"assigns task\(s\) \['q'\] that suite 'tiny' does not have",
        ),
        ({"r": ("r",)}, {"r": "ghost"}, RunConfig(), r"network\(s\) \['ghost'\] it does not have"),
        ({"r@tiny": ("r",)}, {"r": "r@tiny"}, RunConfig(), r"variants \['full', 'half'\]; got 'tiny'"),
        ({"r": ("r",)}, {"r": "r"}, RunConfig(distill=True, teacher_tasks=("b",)), "not served by the plan"),
    ],
)
def test_bad_plans_fail_before_training(suite, tmp_path, networks, assignment, config, match):
    with pytest.raises(InvalidArgument, match=match):
        train_plan(make_plan(networks, assignment), suite, tmp_path / "run", config)
    assert not (tmp_path / "run").exists()  # nothing was trained or written


def test_teacher_count_below_one_is_refused():
    with pytest.raises(InvalidArgument, match="teacher count must be an integer >= 1; got 0"):
        TeacherConfig(n_teachers=0)


def test_cli_trains_a_plan_and_resumes(tmp_path, capsys):
    plan = make_plan({"a0+a1": ("a0", "a1"), "b0@half": ("b0",)}, {"a0": "a0+a1", "a1": "a0+a1", "b0": "b0@half"})
    plan.to_json(tmp_path / "plan.json")
    argv = [
        "train",
        "--plan",
        str(tmp_path / "plan.json"),
        "--suite",
        "synthetic",
        "--suite-param",
        "n_samples=200",
        "--suite-param",
        "d=8",
        "--suite-param",
        "clusters=[2,1]",
        "--arch",
        "mlp",
        "--hidden",
        "16",
        "--epochs",
        "2",
        "--distill",
        "--teachers",
        "1",
        "--teacher-tasks",
        "a0",
        "--out",
        str(tmp_path / "run"),
        "-q",
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "Δm% student" in text and "manifest:" in text
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["assignment"] == plan.assignment
    assert main(argv) == 0  # resumes: same results
    assert capsys.readouterr().out == text


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--threads", "0"], "threads=0 is not accepted"),
        (["--device", "tpu9"], "Unknown device 'tpu9'"),
        (["--distill", "--teachers", "0"], "teacher count must be an integer >= 1; got 0"),
    ],
)
def test_cli_errors_are_one_line_with_status_2(tmp_path, capsys, extra, message):
    plan = make_plan({"a0": ("a0",)}, {"a0": "a0"})
    plan.to_json(tmp_path / "plan.json")
    argv = [
        "train",
        "--plan",
        str(tmp_path / "plan.json"),
        "--suite",
        "synthetic",
        "--out",
        str(tmp_path / "run"),
        *extra,
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("taskgroup train: error:") and message in err


def test_taskgroup_exposes_train_lazily():
    import taskgroup as tg

    assert tg.train.train_plan is train_plan and "train" in tg.__all__


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--arch", "rnn"], "invalid choice: 'rnn' (choose from 'cnn', 'mlp', 'mmoe', 'omoe')"),
        (["--suite", "nosuch"], "invalid choice: 'nosuch' (choose from"),
        (["--weighting", "gradnorm"], "invalid choice: 'gradnorm' (choose from 'equal', 'uncertainty')"),
    ],
)
def test_cli_unknown_registry_names_are_usage_errors(tmp_path, capsys, extra, message):
    argv = [
        "train",
        "--plan",
        str(tmp_path / "plan.json"),
        "--suite",
        "synthetic",
        "--out",
        str(tmp_path / "run"),
        *extra,
    ]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("taskgroup train: error:") and message in err and "\n" not in err.rstrip("\n")
