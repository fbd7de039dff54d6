"""The engine's fit(): learning, masking of missing labels, MT-DNN per-task batches, weighting, soft targets,
determinism without global RNG changes, hooks, early stopping, device and threads."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from taskgroup.engine import Hook, TrainConfig, build_model, fit, make_factory, predict
from taskgroup.engine.loop import score
from taskgroup.errors import InvalidArgument
from taskgroup.tasks import TaskSuite, evaluate_outputs


def schedule(**kwargs):
    """These tests train on the whole schedule unless they ask for patience."""
    return TrainConfig(**{"batch_size": 64, "patience": None, **kwargs})


def build_network(family, suite_or_tasks, tasks=None, seed=0, **options):
    tasks = tasks if tasks is not None else suite_or_tasks.tasks
    return build_model(make_factory(family, options), tasks, "full", torch.zeros(2, 6), seed)


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


@pytest.mark.parametrize("arch", ["mlp", "mmoe", "omoe"])
def test_fit_learns_every_task(suite, arch):
    net = build_network(arch, suite)
    result = fit(net, suite.train, suite.tasks, schedule(epochs=25, lr=3e-3), val=suite.val, seed=0)
    metrics = evaluate_outputs(predict(net, suite.test.x), suite.test, suite.tasks)
    assert metrics["r"]["r2"] > 0.8
    assert metrics["b"]["accuracy"] > 0.8
    assert metrics["m"]["accuracy"] > 0.6
    assert result.batching == "joint" and len(result.val_loss) == 25
    assert result.val_loss[result.best_epoch] == min(result.val_loss)


def test_best_epoch_weights_are_restored(suite):
    net = build_network("mlp", suite)
    result = fit(net, suite.train, suite.tasks, schedule(epochs=6, lr=3e-3), val=suite.val, seed=0)
    val_loss = sum(s["loss"] for s in score(predict(net, suite.val.x), suite.val, suite.tasks).values())
    assert val_loss == pytest.approx(min(result.val_loss), rel=1e-5)


def test_same_seed_same_network(suite):
    nets = []
    for _ in range(2):
        net = build_network("mmoe", suite, seed=4, dropout=0.1)
        fit(net, suite.train, suite.tasks, schedule(epochs=3), val=suite.val, seed=7)
        nets.append(net)
    assert all(torch.equal(a, b) for a, b in zip(nets[0].state_dict().values(), nets[1].state_dict().values()))


def test_missing_labels_are_masked_per_example():
    # task m has labels only on the first half of the rows, and b on the second: rows are kept for other tasks
    s = tiny_suite(missing={"m": slice(150, None), "b": slice(0, 150)})
    assert not s.train.mask.all()
    net = build_network("mlp", s)
    result = fit(net, s.train, s.tasks, schedule(epochs=30, lr=3e-3), val=s.val, seed=0)
    assert all(np.isfinite(result.val_loss))
    metrics = evaluate_outputs(predict(net, s.test.x), s.test, s.tasks)
    assert metrics["b"]["accuracy"] > 0.75 and metrics["m"]["accuracy"] > 0.5


def test_tasks_with_their_own_data_use_per_task_batches():
    # disjoint labelled rows per task (MT-DNN's setting): auto picks Algorithm 1
    s = tiny_suite(
        missing={"r": slice(100, None), "b": list(range(0, 100)) + list(range(200, 300)), "m": slice(0, 200)}
    )
    net = build_network("mlp", s)
    result = fit(net, s.train, s.tasks, schedule(epochs=20, lr=3e-3), val=s.val, seed=0)
    assert result.batching == "per_task"
    metrics = evaluate_outputs(predict(net, s.test.x), s.test, s.tasks)
    assert metrics["r"]["r2"] > 0.5 and metrics["b"]["accuracy"] > 0.7


def test_uncertainty_weighting_learns_weights(suite):
    net = build_network("mlp", suite)
    result = fit(net, suite.train, suite.tasks, schedule(epochs=5, weighting="uncertainty"), seed=0)
    assert set(result.weights) == {"r", "b", "m"} and len(set(result.weights.values())) == 3


def test_soft_targets_pull_the_student_towards_them(suite):
    # soft_weight=1 ignores the labels: a student distilled from constant probabilities predicts them
    sub = suite.subset(["b"])
    soft = {"b": np.full(len(sub.train), 0.8, dtype=np.float32)}
    net = build_network("mlp", sub)
    fit(net, sub.train, sub.tasks, schedule(epochs=30, lr=3e-3, soft_weight=1.0), soft_targets=soft, seed=0)
    p = torch.sigmoid(torch.as_tensor(predict(net, sub.test.x)["b"])).mean()
    assert float(p) == pytest.approx(0.8, abs=0.05)


def test_fit_input_errors(suite):
    net = build_network("mlp", suite)
    with pytest.raises(InvalidArgument, match="label columns but 2 tasks"):
        fit(net, suite.train, suite.tasks[:2], schedule(epochs=1))
    with pytest.raises(InvalidArgument, match="Soft targets given for task 'zz'"):
        fit(net, suite.train, suite.tasks, schedule(epochs=1), soft_targets={"zz": np.zeros(len(suite.train))})
    with pytest.raises(InvalidArgument, match="have 3 rows"):
        fit(net, suite.train, suite.tasks, schedule(epochs=1), soft_targets={"b": np.zeros(3)})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"epochs": 0}, r"TrainConfig.epochs=0 is not accepted"),
        ({"weighting": "dwa"}, r"TrainConfig.weighting='dwa'; accepted: \['equal', 'uncertainty'\]"),
        ({"sampling": "sqrt"}, "TrainConfig.sampling='sqrt'"),
        ({"batching": "mixed"}, "TrainConfig.batching='mixed'"),
        ({"soft_weight": -0.1}, r"TrainConfig.soft_weight=-0.1"),
        ({"temperature": 0}, "TrainConfig.temperature=0"),
        ({"patience": 0}, "TrainConfig.patience=0"),
        ({"stopping": "metric"}, r"TrainConfig.stopping='metric'; accepted: \['loss', 'calibrated'\]"),
        ({"model": "transformer"}, r"Unknown model family 'transformer'; accepted: \['cnn', 'mlp', 'mmoe', 'omoe'\]"),
        ({"model": "mmoe", "options": {"hidden": (3,)}}, r"has no option\(s\) \['hidden'\]"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(InvalidArgument, match=match):
        TrainConfig(**kwargs)


def test_replace_names_an_unknown_field_and_checks_new_values():
    with pytest.raises(InvalidArgument, match=r"no field\(s\) \['epoch'\]; its fields are \[.*'epochs'"):
        TrainConfig().replace(epoch=3)
    with pytest.raises(InvalidArgument):
        TrainConfig().replace(epochs=0)
    assert TrainConfig().replace(epochs=3).epochs == 3


def test_patience_stops_early_and_keeps_the_best_epoch(suite):
    net = build_network("mlp", suite)
    result = fit(net, suite.train, suite.tasks, schedule(epochs=300, lr=1e-2, patience=3), val=suite.val, seed=0)
    assert len(result.val_loss) < 300
    assert len(result.val_loss) == result.best_epoch + 1 + 3  # stopped 3 epochs after the best one


def test_calibrated_stopping_keeps_the_epoch_of_the_lowest_summed_calibrated_loss(suite):
    class CalibratedLosses(Hook):
        def __init__(self):
            self.by_epoch, self.plain = [], []

        def on_step(self, step, model, batch, losses_of):
            pass

        def on_epoch_end(self, epoch, model, val_loss):
            scores = score(predict(model, suite.val.x), suite.val, suite.tasks, detail=True)
            self.by_epoch.append({t: s["calibrated_loss"] for t, s in scores.items() if t != "r"})
            self.by_epoch[-1]["r"] = scores["r"]["loss"]  # a regression head has no temperature
            self.plain.append(sum(s["loss"] for s in scores.values()))

    hook = CalibratedLosses()
    net = build_network("mlp", suite)
    result = fit(net, suite.train, suite.tasks, schedule(epochs=8, stopping="calibrated"), val=suite.val, hooks=[hook])
    summed = [sum(losses.values()) for losses in hook.by_epoch]
    assert result.val_loss == pytest.approx(summed, rel=1e-9)
    assert result.best_epoch == int(np.argmin(summed))
    assert all(c <= p + 1e-12 for c, p in zip(summed, hook.plain, strict=True))  # a temperature only lowers a loss


def test_the_default_stopping_keeps_the_keys_of_results_stored_before_the_option_existed():
    from taskgroup.engine.stacked import can_stack

    assert "stopping" not in TrainConfig().to_dict() and TrainConfig(stopping="loss").hash() == TrainConfig().hash()
    assert TrainConfig().hash() == "e137e5701408"  # the key of the default configuration before `stopping` existed
    assert TrainConfig(stopping="calibrated").to_dict()["stopping"] == "calibrated"
    assert TrainConfig(stopping="calibrated").hash() != TrainConfig().hash()
    data = tiny_suite(60)
    assert can_stack(data, [("r",), ("b", "m")], TrainConfig())
    assert not can_stack(data, [("r",), ("b", "m")], TrainConfig(stopping="calibrated"))  # the stack watches the loss


def test_fit_leaves_the_global_random_state_alone(suite):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    net = build_network("mlp", suite, dropout=0.2)
    fit(net, suite.train, suite.tasks, schedule(epochs=2), val=suite.val, seed=0)
    assert torch.equal(torch.rand(3), expected)


class CountSteps(Hook):
    def __init__(self):
        self.steps, self.epochs, self.tasks_seen = 0, [], set()

    def on_step(self, step, model, batch, losses_of):
        assert step == self.steps
        self.steps += 1
        self.tasks_seen |= set(losses_of(model(batch.x)))

    def on_epoch_end(self, epoch, model, val_loss):
        self.epochs.append((epoch, val_loss))


def test_hooks_see_every_step_and_epoch(suite):
    hook = CountSteps()
    result = fit(build_network("mlp", suite), suite.train, suite.tasks, schedule(epochs=2), val=suite.val, hooks=[hook])
    assert hook.steps == 2 * int(np.ceil(len(suite.train) / 64))
    assert [e for e, _ in hook.epochs] == [0, 1] and [v for _, v in hook.epochs] == result.val_loss
    assert hook.tasks_seen == {"r", "b", "m"}


def test_device_option_is_checked():
    from taskgroup.engine import resolve_device

    assert resolve_device(None) == "cpu"
    with pytest.raises(InvalidArgument, match="Unknown device 'gpu0'"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(InvalidArgument, match="no CUDA GPU"):
            resolve_device("cuda")


def test_threads_default_respects_omp_num_threads_and_affinity():
    code = (
        "from taskgroup.engine import configure_threads; import torch, os; n = configure_threads(); "
        "print(n, torch.get_num_threads(), os.environ['OMP_WAIT_POLICY'])"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [str(len(os.sched_getaffinity(0)))] * 2 + ["PASSIVE"]
    out = subprocess.run(
        [sys.executable, "-c", code], env={**env, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["1", "1", "PASSIVE"]
    from taskgroup.engine import configure_threads

    with pytest.raises(InvalidArgument, match="threads=0 is not accepted"):
        configure_threads(0)
