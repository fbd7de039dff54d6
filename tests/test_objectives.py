"""Selection objectives: the metric objective by hand, calibrated losses, temperature scaling, the run CLI."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import taskgroup as tg
from taskgroup.errors import InvalidArgument
from taskgroup.measure import NetworkResult, ResultStore
from taskgroup.objectives import OBJECTIVES, relative_weights, selection_problem
from taskgroup.tasks.calibration import calibrated_loss, fit_temperature, nll


def _metrics(loss, calibrated, **metrics):
    """One task's stored values, the same on both splits."""
    values = {
        "val_loss": loss,
        "val_calibrated_loss": calibrated,
        "test_loss": loss,
        "test_calibrated_loss": calibrated,
    }
    for name, value in metrics.items():
        values[f"val_{name}"] = values[f"test_{name}"] = value
    return values


def _hand_results():
    """Task a (classification: accuracy, AUC) and b (regression: RMSE, R²); networks a, b, a+b."""
    return [
        NetworkResult(
            "a", ("a",), "full", 0, metrics={"a": _metrics(0.5, 0.4, accuracy=0.8, auc=0.9)}, costs={"cost": 1.0}
        ),
        NetworkResult(
            "b", ("b",), "full", 0, metrics={"b": _metrics(0.25, 0.25, rmse=0.5, r2=0.8)}, costs={"cost": 1.0}
        ),
        NetworkResult(
            "a+b",
            ("a", "b"),
            "full",
            0,
            metrics={"a": _metrics(0.6, 0.3, accuracy=0.88, auc=0.855), "b": _metrics(0.2, 0.2, rmse=0.4, r2=0.84)},
            costs={"cost": 1.2},
        ),
    ]


@pytest.fixture
def store(tmp_path):
    store = ResultStore(tmp_path / "r.db")
    store.register_run("s", "c", "hand", ["a", "b"], {}, {})
    store.add_results("s", "c", _hand_results())
    return store


def test_metric_objective_is_one_minus_each_tasks_delta_m_term(store):
    problem = selection_problem(store, "metric", cost="cost")
    value = {(n, t): problem.losses[problem.network_index(n), problem.task_index(t)] for n in ("a", "b", "a+b")
             for t in problem.network_tasks(n)}  # fmt: skip
    # by hand: a in a+b: ((0.88 - 0.8) / 0.8 + (0.855 - 0.9) / 0.9) / 2 = (0.10 - 0.05) / 2 = 0.025
    #          b in a+b: ((0.5 - 0.4) / 0.5 [RMSE: lower is better] + (0.84 - 0.8) / 0.8) / 2 = 0.125
    assert value[("a+b", "a")] == pytest.approx(1 - 0.025)
    assert value[("a+b", "b")] == pytest.approx(1 - 0.125)
    assert value[("a", "a")] == value[("b", "b")] == 1.0  # each task against itself
    plan = tg.solve(problem, 1.5)
    assert plan.networks == ("a+b",)
    # a plan's validation Δm% is 100 (1 - objective / T), the same number delta_m gives
    delta = tg.tasks.delta_m(
        {"a": {"accuracy": 0.88, "auc": 0.855}, "b": {"rmse": 0.4, "r2": 0.84}},
        {"a": {"accuracy": 0.8, "auc": 0.9}, "b": {"rmse": 0.5, "r2": 0.8}},
    )
    assert 100 * (1 - plan.objective / 2) == pytest.approx(delta) == pytest.approx(7.5)


def test_loss_objectives_read_their_column_and_weights_divide_by_the_single_task_network(store):
    relative = selection_problem(store, "relative", cost="cost")
    relative = relative.with_weights(relative_weights(relative))
    assert relative.evaluate(["a+b"]).objective == pytest.approx(0.6 / 0.5 + 0.2 / 0.25)
    calibrated = selection_problem(store, "calibrated", cost="cost")
    calibrated = calibrated.with_weights(relative_weights(calibrated))
    # calibration turns a+b from worse than the single-task network on a's loss (0.6 > 0.5) to better (0.3 < 0.4)
    assert calibrated.evaluate(["a+b"]).objective == pytest.approx(0.3 / 0.4 + 0.2 / 0.25)
    assert selection_problem(store, "sum", cost="cost").evaluate(["a+b"]).objective == pytest.approx(0.8)


def test_objectives_refuse_what_the_store_did_not_record(tmp_path):
    store = ResultStore(tmp_path / "old.db")
    store.register_run("s", "c", "old", ["a"], {}, {})
    store.add_results("s", "c", [NetworkResult("a", ("a",), "full", 0, metrics={"a": {"val_loss": 1.0}})])
    store.add_costs("s", "c", pd.DataFrame([{"network": "a", "variant": "full", "tasks": "a", "params": 1.0}]))
    for objective in ("metric", "calibrated"):
        with pytest.raises(InvalidArgument, match="did not record|recorded none"):
            selection_problem(store, objective, cost="params", config="c")
    with pytest.raises(InvalidArgument, match=r"objective='mean' is not accepted; accepted: \['metric', 'calibrated'"):
        selection_problem(store, "mean")


def test_metric_objective_needs_each_tasks_single_task_network(tmp_path):
    store = ResultStore(tmp_path / "no-a.db")
    store.register_run("s", "c", "x", ["a", "b"], {}, {})
    store.add_results("s", "c", [r for r in _hand_results() if r.network != "a"])
    with pytest.raises(InvalidArgument, match="task 'a' has none"):
        selection_problem(store, "metric", cost="cost")


def test_temperature_scaling_lowers_the_validation_nll_of_an_overconfident_head():
    # binary: logits of +-6 (probability 0.9975) on rows of which 3 in 4 are right
    y = np.array([1, 1, 1, 0] * 25)
    logits = np.full(len(y), 6.0)
    before = nll("binary", y, logits)
    temperature = fit_temperature("binary", y, logits)
    after, t = calibrated_loss("binary", y, logits, before)
    assert t == temperature > 1  # overconfident: the temperature softens it
    # the best binary NLL for a constant probability p = 3/4 is the entropy of 3/4
    assert after < before and after == pytest.approx(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25)), abs=1e-6)
    assert 6.0 / temperature == pytest.approx(np.log(3.0), abs=1e-3)  # sigmoid(6 / T) = 3/4
    # multiclass: the right class wins by 5 logits but only 60 % of the time
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 200)
    predicted = np.where(rng.random(200) < 0.6, labels, (labels + 1) % 3)
    scores = 5.0 * np.eye(3)[predicted]
    before = nll("multiclass", labels, scores)
    after, t = calibrated_loss("multiclass", labels, scores, before)
    assert t > 1 and after < before


def test_a_well_calibrated_head_keeps_its_loss_and_regression_has_no_temperature():
    y = np.array([1, 1, 1, 0] * 25)
    logits = np.full(len(y), np.log(3.0))  # already p = 3/4
    loss = nll("binary", y, logits)
    after, t = calibrated_loss("binary", y, logits, loss)
    assert after <= loss and t == pytest.approx(1.0, abs=1e-2)
    assert calibrated_loss("regression", np.zeros(3), np.ones(3), 1.0) == (1.0, 1.0)
    with pytest.raises(InvalidArgument, match="temperature=0"):
        nll("binary", y, logits, 0)


def test_the_run_command_offers_every_objective():
    result = subprocess.run(
        [sys.executable, "-m", "taskgroup", "run", "--objective", "mean"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "(choose from 'metric', 'calibrated', 'relative', 'sum')" in result.stderr
    assert OBJECTIVES == ("metric", "calibrated", "relative", "sum")
