"""Distillation: the soft term on unlabelled rows, student and vanilla twins, teachers from verified manifests,
``distill`` (API and ``taskgroup distill``) end to end with a servable student."""

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from taskgroup.checkpoints import load_checkpoint, save_checkpoint
from taskgroup.datasets import load_suite
from taskgroup.engine import Hook, TrainConfig, build_model, fit, make_factory
from taskgroup.errors import InvalidArgument, ManifestError
from taskgroup.manifest import predict_tasks, read_manifest
from taskgroup.plan import Plan, PlanNetwork
from taskgroup.tasks import TaskSuite
from taskgroup.train import RunConfig, train_plan
from taskgroup.train.compress import DistillConfig, all_in_one_plan, distill, distill_scores, train_networks
from taskgroup.train.distill import plan_teachers

FAST = TrainConfig(epochs=3, lr=3e-3, batch_size=32, patience=None)
ROOT = Path(__file__).resolve().parents[1]


def scarce_suite(n=400, labelled=20, seed=0):
    """m (3 classes) labelled on every row, b (binary) on the first ``labelled`` rows only."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    m = np.digitize(x[:, 0], [-0.5, 0.5]).astype(float)
    b = (x[:, 1] > 0).astype(object)
    b[labelled:] = None
    return TaskSuite.from_arrays(
        x, {"m": m, "b": b}, {"m": "multiclass", "b": "binary"}, allow_missing=["b"], seed=seed
    )


class Recorder(Hook):
    """Keeps each step's batch rows, and the step's task losses for the model's current outputs."""

    def __init__(self):
        self.rows, self.steps = [], []

    def on_step(self, step, model, batch, losses_of):
        self.rows.append(batch.rows.tolist())
        with torch.no_grad():
            outputs = model(batch.x)
            self.steps.append((batch, {t: o.clone() for t, o in outputs.items()}, losses_of(outputs)))


def network(suite):
    return build_model(make_factory("mlp", {"hidden": (8,)}), suite.tasks, "full", suite.example_batch(), 0)


def test_soft_loss_on_unlabelled_rows_equals_a_hand_computation():
    suite = scarce_suite()
    n = len(suite.train)
    rng = np.random.default_rng(1)
    p_b = rng.uniform(0.05, 0.95, size=n).astype(np.float32)  # binary teacher probability of class 1
    p_m = rng.dirichlet(np.ones(3), size=n).astype(np.float32)
    w, t = 0.7, 3.0
    recorder = Recorder()
    config = FAST.replace(epochs=1, batch_size=16, temperature=t, soft_weight=w)
    fit(network(suite), suite.train, suite.tasks, config, soft_targets={"b": p_b, "m": p_m}, seed=0, hooks=[recorder])
    b_col = suite.task_index("b")
    unlabelled = [(batch, out, losses) for batch, out, losses in recorder.steps if not batch.mask[:, b_col].any()]
    assert unlabelled, "some batch must hold no label of b"
    for batch, out, losses in unlabelled:
        rows = batch.rows.numpy()
        z = out["b"][:, 0].double().numpy() / t
        q = 1 / (1 + np.exp(-z))
        p = p_b[rows].astype(np.float64)
        kl = p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))
        # the soft term alone, on every row of the batch: w · T² · mean KL
        assert float(losses["b"]) == pytest.approx(w * t**2 * kl.mean(), rel=1e-4)
        # m is labelled on these rows: (1 - w) · CE + w · T² · mean KL
        zm = out["m"].double().numpy()
        logq = zm / t - np.log(np.exp(zm / t).sum(1, keepdims=True))
        pm = p_m[rows].astype(np.float64)
        kl_m = (pm * (np.log(pm) - logq)).sum(1).mean()
        y = batch.y[:, suite.task_index("m")].long().numpy()
        logp = zm - np.log(np.exp(zm).sum(1, keepdims=True))
        ce = -logp[np.arange(len(y)), y].mean()
        assert float(losses["m"]) == pytest.approx((1 - w) * ce + w * t**2 * kl_m, rel=1e-4)


def test_without_a_teacher_an_unlabelled_batch_adds_nothing():
    suite = scarce_suite()
    recorder = Recorder()
    fit(network(suite), suite.train, suite.tasks, FAST.replace(epochs=1), seed=0, hooks=[recorder])
    b_col = suite.task_index("b")
    assert all("b" not in losses for batch, _, losses in recorder.steps if not batch.mask[:, b_col].any())


@pytest.mark.parametrize("batching", ["joint", "per_task"])
def test_student_and_vanilla_see_identical_batches(batching):
    suite = scarce_suite()
    soft = {"b": np.full(len(suite.train), 0.9, dtype=np.float32)}
    seen = []
    for targets in (soft, None):
        recorder = Recorder()
        config = FAST.replace(batching=batching, temperature=2.0)
        fit(network(suite), suite.train, suite.tasks, config, soft_targets=targets, seed=5, hooks=[recorder])
        seen.append(recorder.rows)
    assert seen[0] == seen[1] and len(seen[0]) > 3


def test_train_networks_gives_student_and_vanilla_one_seed(tmp_path):
    suite = scarce_suite()
    plan = all_in_one_plan(suite.task_names)
    teachers_plan = make_plan({"m": ("m",), "b": ("b",)})
    manifest = train_plan(teachers_plan, suite, tmp_path / "t", RunConfig(FAST, baselines=False)).manifest
    teachers = plan_teachers([manifest], suite)
    _, students = train_networks(plan, suite, tmp_path / "s", FAST, seed=3, teachers=teachers)
    _, vanilla = train_networks(plan, suite, tmp_path / "v", FAST, seed=3)
    name = plan.networks[0]
    seeds = [torch.load(p[name], weights_only=True)["config"]["seed"] for p in (students, vanilla)]
    assert seeds[0] == seeds[1]
    assert load_checkpoint(students[name])[1]["distilled_tasks"] == ["b", "m"]
    assert load_checkpoint(vanilla[name])[1]["distilled_tasks"] == []


def make_plan(networks):
    return Plan(
        networks=tuple(networks),
        assignment={t: n for n, ts in networks.items() for t in ts},
        task_losses={t: 0.0 for ts in networks.values() for t in ts},
        objective=0.0,
        cost={"cost": float(len(networks))},
        details=tuple(PlanNetwork(n, tuple(ts), tuple(ts), {"cost": 1.0}) for n, ts in networks.items()),
    )


@pytest.fixture(scope="module")
def teachers_run(tmp_path_factory):
    suite = load_suite("digits", tasks=["digit", "odd", "large"])
    out = tmp_path_factory.mktemp("teachers")
    plan = make_plan({"digit+odd": ("digit", "odd"), "large": ("large",)})
    report = train_plan(plan, suite, out, RunConfig(FAST.replace(batch_size=128)))
    return suite, Path(report.manifest)


@pytest.fixture(scope="module")
def distilled(teachers_run, tmp_path_factory):
    suite, manifest = teachers_run
    out = tmp_path_factory.mktemp("distilled")
    config = DistillConfig(FAST.replace(batch_size=128, temperature=2.0))
    return out, distill(manifest, "all-in-one", out, config, suite=suite)


def test_distill_writes_results_with_every_group_and_the_kept_fraction(distilled, teachers_run):
    out, report = distilled
    results = json.loads((out / "results.json").read_text())
    for group in ("baselines", "teachers", "student", "vanilla"):
        assert set(results[group]) == {"digit", "odd", "large"}
    assert set(results["delta_m"]) >= {"teachers", "student", "vanilla"}
    scores, kept = distill_scores(report.baselines, report.teachers, report.student, report.vanilla)
    assert scores == report.delta_m and results["kept_fraction"] == kept
    gain = scores["teachers"] - scores["vanilla"]
    if gain > 0:
        assert kept == pytest.approx((scores["student"] - scores["vanilla"]) / gain)
    # the teachers' run's baselines are used, not trained again
    assert results["baselines_from"].endswith("results.json") and not (out / "baselines").exists()
    # one member per task from the one manifest: its networks' own test metrics
    recorded = {e["name"]: e["test_metrics"] for e in read_manifest(teachers_run[1])["networks"]}
    assert report.teachers["large"] == pytest.approx(recorded["large"]["large"])


def test_distilled_manifest_serves_every_task(distilled, teachers_run):
    suite, _ = teachers_run
    out, report = distilled
    manifest = read_manifest(report.manifest)
    assert manifest["distilled"] is True and [e["checkpoint"].split("/")[0] for e in manifest["networks"]] == [
        "students"
    ]
    outputs = predict_tasks(report.manifest, suite.test.x.numpy())
    assert set(outputs) == {"digit", "odd", "large"} and outputs["digit"].shape == (len(suite.test), 10)


def test_distill_resumes_without_training(distilled, teachers_run):
    suite, manifest = teachers_run
    out, report = distilled
    lines = []
    again = distill(
        manifest,
        "all-in-one",
        out,
        DistillConfig(FAST.replace(batch_size=128, temperature=2.0)),
        suite=suite,
        say=lines.append,
    )
    assert again.student == report.student and any("finished earlier" in line for line in lines)
    with pytest.raises(InvalidArgument, match="holds a run with a different"):
        distill(manifest, "all-in-one", out, DistillConfig(FAST.replace(batch_size=128, temperature=4.0)), suite=suite)


def test_a_tampered_teacher_checkpoint_is_refused_before_use(teachers_run, tmp_path):
    suite, manifest = teachers_run
    copy = tmp_path / "teachers"
    shutil.copytree(manifest.parent, copy)
    entry = read_manifest(copy / "manifest.json")["networks"][0]
    path = copy / entry["checkpoint"]
    # still a valid checkpoint (it would load and run), but not the one the manifest names
    network, extra = load_checkpoint(path)
    with torch.no_grad():
        for p in network.parameters():
            p.add_(1.0)
    save_checkpoint(network, path, torch.load(path, weights_only=True)["config"], extra)
    with pytest.raises(ManifestError, match=r"has sha256 .* the manifest says"):
        plan_teachers([copy / "manifest.json"], suite)
    with pytest.raises(ManifestError, match="the file was changed or replaced"):
        distill(copy / "manifest.json", "all-in-one", tmp_path / "out", DistillConfig(FAST), suite=suite)
    assert not (tmp_path / "out" / "students").exists()  # nothing trained from the tampered teacher


def test_teachers_of_another_suite_are_refused(teachers_run, tmp_path):
    _, manifest = teachers_run
    other = load_suite("digits", tasks=["digit", "odd", "large"], seed=1)
    with pytest.raises(ManifestError, match="fingerprint"):
        plan_teachers([manifest], other)


def test_distill_input_errors(teachers_run, tmp_path):
    suite, manifest = teachers_run
    with pytest.raises(InvalidArgument, match="Unknown student 'two'"):
        distill(manifest, "two", tmp_path, DistillConfig(FAST), suite=suite)
    with pytest.raises(InvalidArgument, match=r"Teacher task\(s\) \['loop'\]"):
        distill(manifest, "all-in-one", tmp_path, DistillConfig(FAST, teacher_tasks=("loop",)), suite=suite)


def test_ensemble_of_two_manifests_has_two_members_per_task(teachers_run):
    suite, manifest = teachers_run
    teachers = plan_teachers([manifest, manifest], suite, tasks=["odd"])
    assert teachers.tasks == ("odd",) and len(teachers.outputs["odd"]["train"]) == 2
    soft = teachers.soft("odd", "train", temperature=1.0)
    assert soft.shape == (len(suite.train),) and np.all((soft > 0) & (soft < 1))
    assert math.isfinite(float(teachers.prediction("odd").sum()))


@pytest.mark.slow
def test_taskgroup_distill_end_to_end_and_its_student_is_servable(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def cli(*args):
        done = subprocess.run(
            [sys.executable, "-m", "taskgroup", *args], capture_output=True, text=True, env=env, timeout=600
        )
        assert done.returncode == 0, done.stderr
        return done

    plan = make_plan({"digit+odd": ("digit", "odd"), "large": ("large",)})
    plan.to_json(tmp_path / "plan.json")
    params = ["--suite-param", "tasks=['digit','odd','large']"]
    cli("train", "--plan", str(tmp_path / "plan.json"), "--suite", "digits", *params, "--epochs", "2",
        "--out", str(tmp_path / "teachers"), "-q")  # fmt: skip
    done = cli("distill", "--manifest", str(tmp_path / "teachers" / "manifest.json"), "--student", "all-in-one",
               "--out", str(tmp_path / "student"), "--epochs", "2", "-q")  # fmt: skip
    assert "kept fraction" in done.stdout and "student" in done.stdout
    results = json.loads((tmp_path / "student" / "results.json").read_text())
    assert set(results["student"]) == {"digit", "odd", "large"}
    suite = load_suite("digits", tasks=["digit", "odd", "large"])
    raw = np.asarray(suite.test.x.numpy() * np.asarray(suite.preprocessing["std"]) + suite.preprocessing["mean"])
    np.save(tmp_path / "x.npy", raw[:20])
    cli("predict", "--manifest", str(tmp_path / "student" / "manifest.json"), "--input", str(tmp_path / "x.npy"),
        "--out", str(tmp_path / "pred.csv"))  # fmt: skip
    lines = (tmp_path / "pred.csv").read_text().splitlines()
    assert lines[0].split(",")[:3] == ["digit", "odd", "large"] and len(lines) == 21
