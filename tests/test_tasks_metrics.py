"""Metrics as pure functions (checked against scikit-learn) and Δm% sign conventions."""

import numpy as np
import pytest
from sklearn import metrics as skm

from taskgroup.errors import InvalidArgument
from taskgroup.tasks.metrics import accuracy, delta_m, r2_score, rmse, roc_auc, task_metrics


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_binary_auc_matches_sklearn_with_ties(rng):
    y = rng.integers(0, 2, 300)
    score = np.round(rng.normal(size=300) + y, 1)  # rounding makes ties, which must count one half
    assert roc_auc(y, score) == pytest.approx(skm.roc_auc_score(y, score))


def test_multiclass_auc_is_macro_one_vs_rest(rng):
    y = rng.integers(0, 4, 400)
    logits = rng.normal(size=(400, 4)) + 1.5 * np.eye(4)[y]
    prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert roc_auc(y, prob) == pytest.approx(skm.roc_auc_score(y, prob, multi_class="ovr"))
    # task_metrics turns logits into probabilities first, as a deployed softmax would
    assert task_metrics("multiclass", y, logits)["auc"] == pytest.approx(roc_auc(y, prob))


def test_auc_single_class_is_nan_not_invented():
    assert np.isnan(roc_auc(np.ones(5), np.arange(5.0)))


def test_regression_metrics_match_sklearn(rng):
    y = rng.normal(size=100)
    p = y + 0.3 * rng.normal(size=100)
    assert rmse(y, p) == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert r2_score(y, p) == pytest.approx(skm.r2_score(y, p))
    assert task_metrics("regression", y, p[:, None]) == pytest.approx({"rmse": rmse(y, p), "r2": r2_score(y, p)})


def test_binary_task_metrics_threshold_logits_at_zero():
    y = np.array([0, 1, 1, 0])
    logit = np.array([[-2.0], [0.5], [-0.1], [0.2]])
    m = task_metrics("binary", y, logit)
    assert m["accuracy"] == accuracy(y, np.array([0, 1, 0, 1])) == 0.5
    assert m["auc"] == pytest.approx(0.75)


def test_delta_m_sign_follows_direction():
    base = {"a": {"accuracy": 0.8}, "b": {"rmse": 2.0}}
    better = {"a": {"accuracy": 0.88}, "b": {"rmse": 1.8}}  # +10% and -10% error: both improvements
    assert delta_m(better, base) == pytest.approx(10.0)
    worse = {"a": {"accuracy": 0.72}, "b": {"rmse": 2.2}}
    assert delta_m(worse, base) == pytest.approx(-10.0)
    # metrics of a task are averaged first, then tasks (LibMTL)
    two = {"a": {"accuracy": 0.88, "auc": 0.9}}
    assert delta_m(two, {"a": {"accuracy": 0.8, "auc": 0.9}}) == pytest.approx(5.0)


def test_delta_m_negative_baseline_keeps_sign():
    # R² can be negative; dividing by |B| keeps "higher R² = positive change"
    assert delta_m({"t": {"r2": -0.1}}, {"t": {"r2": -0.2}}) > 0


@pytest.mark.parametrize(
    "results, baseline, match",
    [
        ({"x": {"accuracy": 1.0}}, {"a": {"accuracy": 1.0}}, "No baseline for task 'x'"),
        ({"a": {"mystery": 1.0}}, {"a": {"mystery": 1.0}}, "Unknown direction for metric 'mystery'"),
        ({"a": {"accuracy": 1.0}}, {"a": {"accuracy": 0.0}}, "is 0"),
        ({}, {}, "at least one task"),
    ],
)
def test_delta_m_errors(results, baseline, match):
    with pytest.raises(InvalidArgument, match=match):
        delta_m(results, baseline)


def test_unknown_kind_and_length_mismatch():
    with pytest.raises(InvalidArgument, match="Unknown task kind 'ranking'"):
        task_metrics("ranking", np.zeros(2), np.zeros(2))
    with pytest.raises(InvalidArgument, match="differ in length"):
        rmse(np.zeros(3), np.zeros(2))
