"""Acceptance: a user-defined nn.Module factory through measure -> TAG affinity -> solve -> train -> manifest ->
predict; the how-to's code block and the example script run as written."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import taskgroup as tg

ROOT = Path(__file__).resolve().parent.parent


class Tower(nn.Module):
    """Written here, not in the package: a shared trunk with a bottleneck and one small tower per task."""

    def __init__(self, tasks, n_inputs, width):
        super().__init__()
        self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(n_inputs, width), nn.Tanh(), nn.Linear(width, width // 2))
        self.towers = nn.ModuleDict({t.name: nn.Sequential(nn.ReLU(), nn.Linear(width // 2, t.out_dim)) for t in tasks})

    def forward(self, x):
        h = self.trunk(x)
        return {name: tower(h) for name, tower in self.towers.items()}

    def shared_parameters(self):
        return self.trunk.parameters()


def build(tasks, variant, example_batch):
    return Tower(tasks, example_batch[0].numel(), {"full": 24, "half": 12}[variant])


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_user_model_from_measurement_to_prediction(tmp_path):
    suite = tg.datasets.load_suite("synthetic", n_samples=500, clusters=[2, 1], d=10)
    config = tg.engine.TrainConfig(model=build, epochs=4, batch_size=64)
    db = tmp_path / "results.db"

    # measure: every subset and the half-size singles, trained one at a time on the engine (not stackable)
    results = tg.measure.measure(suite, db, config=config, progress=False)
    assert set(results["network"]) == {c.name for c in tg.measure.make_candidates(suite.task_names)}
    assert (results["status"] == "ok").all()
    costs = tg.measure.ResultStore(db).costs().set_index("network")
    # costs profiled from the built module: trunk 10*24 + 24*12, towers 12 per task, multiply-adds x 2
    assert costs.loc["a0+a1", "flops"] == 2 * (10 * 24 + 24 * 12 + 2 * 12)
    assert costs.loc["a0@half", "params"] == sum(
        p.numel() for p in build(suite.subset(["a0"]).tasks, "half", suite.example_batch()).parameters()
    )
    assert tg.measure.measure(suite, db, config=config, progress=False).equals(results)  # resumed: nothing new

    # TAG affinity through the model's own shared_parameters()
    tag = tg.strategies.tag_affinity(suite, config=config, epochs=2, every=2)
    assert list(tag.index) == list(suite.task_names) and np.isfinite(tag.to_numpy()).all()
    assert tg.grouping.group(tag, 2).networks

    # solve, train, manifest, predict
    plan = tg.solve(tg.measure.ResultStore(db).to_problem(cost="flops"), budget=2.0)
    report = tg.train.train_plan(plan, suite, tmp_path / "run", tg.train.RunConfig(fit=config, baselines=False))
    manifest = tg.train.read_manifest(report.manifest)
    assert manifest["model"] == f"{__name__}:build" and set(manifest["assignment"]) == set(suite.task_names)
    outputs = tg.train.predict_tasks(report.manifest, suite.test.x.numpy())  # factory found again by name
    assert set(outputs) == set(suite.task_names) and all(v.shape == (len(suite.test), 1) for v in outputs.values())
    same = tg.train.predict_tasks(report.manifest, suite.test.x.numpy(), model=build)
    assert all(np.array_equal(outputs[t], same[t]) for t in outputs)
    network = plan.assignment["a0"]
    sub = suite.subset(list(plan.details[list(plan.networks).index(network)].trained_tasks))
    again = tg.tasks.evaluate_outputs(
        tg.engine.predict(tg.train.load_network(report.manifest, network), sub.test.x), sub.test, sub.tasks
    )
    assert again["a0"]["r2"] == pytest.approx(report.multitask["a0"]["r2"])


def howto_code() -> str:
    text = (ROOT / "docs" / "howto.md").read_text()
    section = text.split("## Your own model in 20 lines", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 30
    return code


def test_howto_own_model_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "howto"}
    exec(compile(howto_code(), "docs/howto.md", "exec"), namespace)
    assert set(namespace["outputs"]) == set(namespace["suite"].task_names)
    assert (tmp_path / "trained" / "manifest.json").is_file()


@pytest.mark.slow
def test_example_script_runs(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "own_model.py"), "--quick", "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "TAG affinity" in result.stdout and "Δm%" in result.stdout
    assert (tmp_path / "run" / "trained" / "manifest.json").is_file()


class LazyImages(torch.utils.data.Dataset):
    """Images made on demand from their index: a stand-in for data read from disk, never held as one tensor."""

    def __init__(self, rows, seed):
        self.rows, self.seed = list(rows), seed

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(self.seed * 100_000 + self.rows[i])
        return torch.randn(1, 6, 6, generator=g)


def image_suite():
    n = 180
    images = LazyImages(range(n), seed=1)
    brightness = torch.stack([images[i].mean() for i in range(n)])
    edge = torch.stack([images[i][0, :, :3].mean() - images[i][0, :, 3:].mean() for i in range(n)])
    y = torch.stack([(brightness > 0).float(), (edge > 0).float()], 1)
    specs = (tg.tasks.TaskSpec("bright", "binary", 2, (0, 1)), tg.tasks.TaskSpec("edge", "binary", 2, (0, 1)))
    cut = {"train": range(0, 120), "val": range(120, 150), "test": range(150, 180)}
    splits = {
        k: tg.tasks.Split(LazyImages(r, seed=1), y[list(r)], torch.ones(len(r), 2, dtype=torch.bool))
        for k, r in cut.items()
    }
    return tg.tasks.TaskSuite("lazy-images", specs, splits)


def test_dataset_splits_and_the_cnn_family(tmp_path):
    suite = image_suite()
    assert not suite.train.in_memory and suite.input_shape == (1, 6, 6) and len(suite.fingerprint()) == 16
    config = tg.engine.TrainConfig(model="cnn", hidden=(4, 8), epochs=3, batch_size=32)
    results = tg.measure.measure(suite, tmp_path / "r.db", config=config, progress=False, half_singles=False)
    assert set(results["network"]) == {"bright", "edge", "bright+edge"} and (results["status"] == "ok").all()
    costs = tg.measure.ResultStore(tmp_path / "r.db").costs().set_index("network")
    assert costs.loc["bright+edge", "params"] > costs.loc["bright", "params"] > 0
    plan = tg.solve(tg.measure.ResultStore(tmp_path / "r.db").to_problem(cost="flops"), budget=1.5)
    report = tg.train.train_plan(plan, suite, tmp_path / "run", tg.train.RunConfig(fit=config, baselines=False))
    manifest = tg.train.read_manifest(report.manifest)
    assert manifest["input_shape"] == [1, 6, 6] and manifest["model"] == "cnn"
    x = suite.test.inputs(slice(None)).numpy()
    outputs = tg.train.predict_tasks(report.manifest, x)
    assert outputs["bright"].shape == (30, 1)
    # the engine read the Dataset batch by batch; predictions on it equal those on the stacked tensor
    net = tg.train.load_network(report.manifest, plan.assignment["bright"])
    assert np.allclose(tg.engine.predict(net, suite.test)["bright"], tg.engine.predict(net, x)["bright"])
