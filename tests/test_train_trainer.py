"""fit(): learning, masking of missing labels, MT-DNN per-task batches, weighting, soft targets, determinism."""

import numpy as np
import pytest
import torch

from taskgroup.errors import InvalidArgument
from taskgroup.measure.suite import TaskSuite
from taskgroup.train.architectures import build_network
from taskgroup.train.evaluate import evaluate_outputs
from taskgroup.train.trainer import FitConfig, fit, predict


def tiny_suite(n=300, missing=None, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    r = x[:, 0] - 0.5 * x[:, 1] + 0.1 * rng.normal(size=n)
    b = (x[:, 1] + x[:, 2] > 0).astype(float)
    m = np.digitize(x[:, 3], [-0.6, 0.6]).astype(float)
    targets = {"r": r, "b": b, "m": m}
    if missing is not None:
        for task, rows in missing.items():
            targets[task] = targets[task].astype(object)
            targets[task][rows] = None
    return TaskSuite.from_arrays(
        x, targets, {"r": "regression", "b": "binary", "m": "multiclass"}, allow_missing=list(missing or []), seed=seed
    )


@pytest.fixture(scope="module")
def suite():
    return tiny_suite()


@pytest.mark.parametrize("arch", ["shared", "mmoe"])
def test_fit_learns_every_task(suite, arch):
    net = build_network(arch, suite.n_features, suite.tasks, seed=0)
    result = fit(net, suite.train, suite.tasks, FitConfig(epochs=25, lr=3e-3), val=suite.val, seed=0)
    metrics = evaluate_outputs(predict(net, suite.test.x), suite.test, suite.tasks)
    assert metrics["r"]["r2"] > 0.8
    assert metrics["b"]["accuracy"] > 0.8
    assert metrics["m"]["accuracy"] > 0.6
    assert result.batching == "joint" and len(result.val_loss) == 25
    assert result.val_loss[result.best_epoch] == min(result.val_loss)


def test_best_epoch_weights_are_restored(suite):
    net = build_network("shared", suite.n_features, suite.tasks, seed=0)
    result = fit(net, suite.train, suite.tasks, FitConfig(epochs=6, lr=3e-3), val=suite.val, seed=0)
    from taskgroup.train.trainer import validation_loss

    assert validation_loss(net, suite.val, suite.tasks) == pytest.approx(min(result.val_loss), rel=1e-5)


def test_same_seed_same_network(suite):
    nets = []
    for _ in range(2):
        net = build_network("mmoe", suite.n_features, suite.tasks, seed=4, dropout=0.1)
        fit(net, suite.train, suite.tasks, FitConfig(epochs=3), val=suite.val, seed=7)
        nets.append(net)
    assert all(torch.equal(a, b) for a, b in zip(nets[0].state_dict().values(), nets[1].state_dict().values()))


def test_missing_labels_are_masked_per_example():
    # task m has labels only on the first half of the rows, and b on the second: rows are kept for other tasks
    s = tiny_suite(missing={"m": slice(150, None), "b": slice(0, 150)})
    assert not s.train.mask.all()
    net = build_network("shared", s.n_features, s.tasks, seed=0)
    result = fit(net, s.train, s.tasks, FitConfig(epochs=15, lr=3e-3), val=s.val, seed=0)
    assert all(np.isfinite(result.val_loss))
    metrics = evaluate_outputs(predict(net, s.test.x), s.test, s.tasks)
    assert metrics["b"]["accuracy"] > 0.75 and metrics["m"]["accuracy"] > 0.5


def test_tasks_with_their_own_data_use_per_task_batches():
    # disjoint labelled rows per task (MT-DNN's setting): auto picks Algorithm 1
    s = tiny_suite(missing={"r": slice(100, None), "b": list(range(0, 100)) + list(range(200, 300)), "m": slice(0, 200)})
    net = build_network("shared", s.n_features, s.tasks, seed=0)
    result = fit(net, s.train, s.tasks, FitConfig(epochs=20, lr=3e-3), val=s.val, seed=0)
    assert result.batching == "per_task"
    metrics = evaluate_outputs(predict(net, s.test.x), s.test, s.tasks)
    assert metrics["r"]["r2"] > 0.5 and metrics["b"]["accuracy"] > 0.7


def test_uncertainty_weighting_learns_weights(suite):
    net = build_network("shared", suite.n_features, suite.tasks, seed=0)
    result = fit(net, suite.train, suite.tasks, FitConfig(epochs=5, weighting="uncertainty"), seed=0)
    assert set(result.weights) == {"r", "b", "m"} and len(set(result.weights.values())) == 3


def test_soft_targets_pull_the_student_towards_them(suite):
    # soft_weight=1 ignores the labels: a student distilled from constant probabilities predicts them
    sub = suite.subset(["b"])
    soft = {"b": np.full(len(sub.train), 0.8, dtype=np.float32)}
    net = build_network("shared", sub.n_features, sub.tasks, seed=0)
    fit(net, sub.train, sub.tasks, FitConfig(epochs=30, lr=3e-3, soft_weight=1.0), soft_targets=soft, seed=0)
    p = torch.sigmoid(torch.as_tensor(predict(net, sub.test.x)["b"])).mean()
    assert float(p) == pytest.approx(0.8, abs=0.05)


def test_fit_input_errors(suite):
    net = build_network("shared", suite.n_features, suite.tasks, seed=0)
    with pytest.raises(InvalidArgument, match="label columns but 2 tasks"):
        fit(net, suite.train, suite.tasks[:2], FitConfig(epochs=1))
    with pytest.raises(InvalidArgument, match="Soft targets given for task 'zz'"):
        fit(net, suite.train, suite.tasks, FitConfig(epochs=1), soft_targets={"zz": np.zeros(len(suite.train))})
    with pytest.raises(InvalidArgument, match="have 3 rows"):
        fit(net, suite.train, suite.tasks, FitConfig(epochs=1), soft_targets={"b": np.zeros(3)})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"weighting": "dwa"}, "Unknown loss weighting 'dwa'"),
        ({"sampling": "sqrt"}, "Unknown task sampling 'sqrt'"),
        ({"batching": "mixed"}, "Unknown batching 'mixed'"),
        ({"soft_weight": -0.1}, r"soft_weight must be in \[0, 1\]"),
        ({"temperature": 0}, "temperature must be > 0"),
        ({"patience": 0}, "patience must be >= 1"),
    ],
)
def test_fit_config_errors(kwargs, match):
    with pytest.raises(InvalidArgument, match=match):
        FitConfig(**kwargs)


def test_patience_stops_early_and_keeps_the_best_epoch(suite):
    net = build_network("shared", suite.n_features, suite.tasks, seed=0)
    result = fit(net, suite.train, suite.tasks, FitConfig(epochs=300, lr=1e-2, patience=3), val=suite.val, seed=0)
    assert len(result.val_loss) < 300
    assert len(result.val_loss) == result.best_epoch + 1 + 3  # stopped 3 epochs after the best one
