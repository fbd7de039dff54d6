"""The evaluation part of the errors of the metric and calibrated objectives: metric replicates on bootstrap
resamples (exactly the metrics of the resampled rows), a paired bootstrap against the single-task network by hand,
repeats and evaluation errors combined, coverage at the nominal rate with known noise, stores from before the
replicates, and real training runs that record them."""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import norm

import taskgroup as tg
from taskgroup.datasets.suites import load_suite
from taskgroup.engine.loop import score
from taskgroup.engine.seeding import numpy_rng
from taskgroup.errors import InvalidArgument
from taskgroup.measure import NetworkResult, ResultStore, TrainConfig, measure
from taskgroup.objectives import metric_values, relative_weights, selection_problem
from taskgroup.strategies.base import problem_from_store
from taskgroup.tasks import Split, TaskSpec, task_metrics
from taskgroup.tasks.replicates import metric_replicates
from taskgroup.uncertainty import BOOTSTRAP_SAMPLES, Z95, bootstrap_counts, bootstrap_rows

# -- replicates: each metric on every resample at once ---------------------------------------------------------


def _outputs(kind: str, n: int, rng: np.random.Generator, classes: int = 4) -> tuple[np.ndarray, np.ndarray]:
    if kind == "regression":
        y = rng.normal(size=n)
        return y, (y + rng.normal(size=n))[:, None]
    if kind == "binary":
        y = rng.integers(0, 2, n)
        return y, np.round(rng.normal(size=(n, 1)) + y[:, None], 1)  # rounded: many tied scores
    y = rng.integers(0, classes, n)
    out = np.round(rng.normal(size=(n, classes)), 1)
    out[np.arange(n), y] += 1.0
    return y, out


@pytest.mark.parametrize(("kind", "n"), [("binary", 300), ("multiclass", 200), ("regression", 150), ("multiclass", 12)])
def test_replicates_are_the_metrics_of_the_resampled_rows(kind, n):
    rng = np.random.default_rng(3)
    y, out = _outputs(kind, n, rng)
    counts = bootstrap_counts(n, 50, np.random.default_rng(9))
    rows = bootstrap_rows(n, 50, np.random.default_rng(9))  # the same resamples, as row indices
    assert np.array_equal(counts, np.stack([np.bincount(r, minlength=n) for r in rows]))
    replicates = metric_replicates(kind, y, out, counts)
    for b, picked in enumerate(rows):
        for name, value in task_metrics(kind, y[picked], out[picked]).items():
            # 12 rows of 4 classes: some resamples miss a class (an AUC left out of the mean, as on those rows)
            assert replicates[name][b] == pytest.approx(value, abs=1e-12, nan_ok=True), (name, b)


def test_replicates_refuse_counts_of_other_rows():
    with pytest.raises(InvalidArgument, match="must describe the same rows"):
        metric_replicates("binary", np.zeros(5), np.zeros((5, 1)), np.ones((3, 4)))
    with pytest.raises(InvalidArgument, match="Unknown task kind 'ranking'"):
        metric_replicates("ranking", np.zeros(5), np.zeros((5, 1)), np.ones((3, 5)))


def test_score_draws_the_same_resamples_for_every_network_and_seed():
    tasks = [TaskSpec("t", "binary", n_classes=2)]
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    split = Split(torch.zeros(80, 0), torch.as_tensor(y, dtype=torch.float32)[:, None], torch.ones(80, 1, dtype=bool))
    first, second = ({"t": rng.normal(size=(80, 1)).astype(np.float32)} for _ in range(2))
    a = score(first, split, tasks, detail=True, errors=True, seed=0)["t"]
    b = score(second, split, tasks, detail=True, errors=True, seed=5)["t"]
    counts = bootstrap_counts(80, BOOTSTRAP_SAMPLES, numpy_rng(0, "replicates", "t"))
    for outputs, scored in ((first, a), (second, b)):
        expected = metric_replicates("binary", y, outputs["t"], counts)
        assert set(scored["replicates"]) == {"accuracy", "auc"}
        for name, values in expected.items():
            assert np.array_equal(scored["replicates"][name], values)
    assert a["calibrated_loss_se"] > 0 and b["calibrated_loss_se"] > 0
    assert "replicates" not in score(first, split, tasks, detail=True)["t"]  # early stopping pays nothing


# -- the metric objective's standard error by hand, from a real store ---------------------------------------------

# Task a (binary: accuracy, AUC) and task b (regression: RMSE, R²); four resamples each, by hand.
ACC = {"a": [0.80, 0.70, 0.90, 0.80], "a+b": [0.88, 0.80, 0.92, 0.90]}
AUC = {"a": [0.90, 0.85, 0.95, 0.90], "a+b": [0.85, 0.86, 0.87, 0.84]}
RMSE = {"b": [0.50, 0.60, 0.40, 0.50], "a+b": [0.40, 0.45, 0.35, 0.42]}
R2 = {"b": [0.80, 0.70, 0.90, 0.80], "a+b": [0.84, 0.80, 0.88, 0.83]}


def _result(network: str, seed: int, shift: float = 0.0) -> NetworkResult:
    """One seed of a network: its metrics are the first resample's values (plus ``shift``), its replicates the
    resamples (plus ``shift``), losses with bootstrap errors for the loss objectives."""
    metrics, replicates = {}, {}
    for task in network.split("+"):
        named = {"accuracy": ACC, "auc": AUC} if task == "a" else {"rmse": RMSE, "r2": R2}
        values = {m: np.asarray(table[network]) + shift for m, table in named.items()}
        loss = 0.5 + len(network) / 10 + shift
        metrics[task] = {f"val_{m}": float(v[0]) for m, v in values.items()} | {
            "val_loss": loss,
            "val_loss_se": 0.02,
            "val_calibrated_loss": loss - 0.1,
            "val_calibrated_loss_se": 0.015,
        }
        replicates[task] = {f"val_{m}": v for m, v in values.items()}
    return NetworkResult(
        network, tuple(network.split("+")), "full", seed, metrics=metrics, replicates=replicates, costs={"cost": 1.0}
    )


def _store(path, seeds: dict[int, float]) -> ResultStore:
    store = ResultStore(path)
    store.register_run("s", "c", "hand", ["a", "b"], {}, {})
    store.add_results("s", "c", [_result(n, seed, shift) for seed, shift in seeds.items() for n in ("a", "b", "a+b")])
    return store


def _se(problem: tg.Problem, network: str, task: str) -> float:
    return float(problem.loss_se[problem.network_index(network), problem.task_index(task)])


def _one_minus_g(network: dict[str, np.ndarray], baseline: dict[str, np.ndarray], lower: str) -> np.ndarray:
    """1 - the mean relative change of the metrics (``lower``: the metric where lower is better), by hand."""
    changes = [(-1 if m == lower else 1) * (network[m] - baseline[m]) / baseline[m] for m in network]
    return 1.0 - np.mean(changes, axis=0)


def test_metric_objective_se_is_a_paired_bootstrap_by_hand(tmp_path):
    problem = selection_problem(_store(tmp_path / "one.db", {0: 0.0}), "metric", cost="cost")
    # a in a+b on each resample: 1 - ((0.88 - 0.8) / 0.8 + (0.85 - 0.9) / 0.9) / 2 = 0.97778 on the first, ...
    a = _one_minus_g({"acc": np.array(ACC["a+b"]), "auc": np.array(AUC["a+b"])},
                     {"acc": np.array(ACC["a"]), "auc": np.array(AUC["a"])}, lower="")  # fmt: skip
    b = _one_minus_g({"rmse": np.array(RMSE["a+b"]), "r2": np.array(R2["a+b"])},
                     {"rmse": np.array(RMSE["b"]), "r2": np.array(R2["b"])}, lower="rmse")  # fmt: skip
    assert a[0] == pytest.approx(1 - (0.1 - 0.05 / 0.9) / 2)
    assert _se(problem, "a+b", "a") == pytest.approx(np.std(a, ddof=1), rel=1e-6)
    assert _se(problem, "a+b", "b") == pytest.approx(np.std(b, ddof=1), rel=1e-6)
    assert _se(problem, "a", "a") == _se(problem, "b", "b") == 0.0  # each task against itself, on every resample
    # the value is the measured metrics' (the first resample's here), as before
    assert problem.losses[problem.network_index("a+b"), problem.task_index("a")] == pytest.approx(a[0])
    # the plan's error sums its tasks' in quadrature: the report's "objective ± se"
    plan = problem.evaluate(["a+b"])
    assert plan.objective_se == pytest.approx(math.hypot(np.std(a, ddof=1), np.std(b, ddof=1)), rel=1e-6)
    # errors over training repeats alone: unknown with one repeat, but for the single-task networks (exactly 1)
    training = selection_problem(_store(tmp_path / "one.db", {0: 0.0}), "metric", errors="training")
    assert math.isnan(_se(training, "a+b", "a")) and _se(training, "a", "a") == 0.0
    assert training.evaluate(["a+b"]).objective_se is None


def test_repeats_and_the_paired_bootstrap_combine_in_quadrature(tmp_path):
    store = _store(tmp_path / "two.db", {0: 0.0, 1: 0.02})
    problem = selection_problem(store, "metric", cost="cost")
    seeds = (0.0, 0.02)
    # each seed against the single-task network's metrics averaged over its seeds: on the measured values ...
    base = {"acc": np.mean([ACC["a"][0] + s for s in seeds]), "auc": np.mean([AUC["a"][0] + s for s in seeds])}
    values = [_one_minus_g({"acc": ACC["a+b"][0] + s, "auc": AUC["a+b"][0] + s}, base, lower="") for s in seeds]
    # ... and on each resample, the mean over seeds against the baseline's mean over seeds (paired)
    mean_of = {
        "acc": (np.mean([np.array(ACC["a+b"]) + s for s in seeds], axis=0), np.array(ACC["a"]) + 0.01),
        "auc": (np.mean([np.array(AUC["a+b"]) + s for s in seeds], axis=0), np.array(AUC["a"]) + 0.01),
    }
    evaluation = np.std(
        _one_minus_g({m: v[0] for m, v in mean_of.items()}, {m: v[1] for m, v in mean_of.items()}, lower=""), ddof=1
    )
    # the single-task network's own repeats: the mean over them moves a+b's value, not its own (exactly 1)
    singles = [_one_minus_g({"acc": ACC["a"][0] + s, "auc": AUC["a"][0] + s}, base, lower="") for s in seeds]
    training = np.var(values, ddof=1) / 2 + np.var(singles, ddof=1) / 2
    assert problem.losses[problem.network_index("a+b"), problem.task_index("a")] == pytest.approx(np.mean(values))
    assert problem.losses[problem.network_index("a"), problem.task_index("a")] == pytest.approx(1.0)
    assert _se(problem, "a+b", "a") == pytest.approx(math.sqrt(training + evaluation**2), rel=1e-5)
    assert _se(problem, "a", "a") == 0.0
    alone = selection_problem(store, "metric", cost="cost", errors="training")
    assert _se(alone, "a+b", "a") == pytest.approx(math.sqrt(training), rel=1e-9)


def test_loss_objectives_carry_their_bootstrap_errors(tmp_path):
    store = _store(tmp_path / "loss.db", {0: 0.0})
    calibrated = selection_problem(store, "calibrated", cost="cost")
    relative = selection_problem(store, "relative", cost="cost")
    assert np.all(calibrated.loss_se[calibrated.serves] == 0.015)
    assert np.all(relative.loss_se[relative.serves] == 0.02)
    # task weights divide the error as they divide the value
    weighted = calibrated.with_weights(relative_weights(calibrated))
    assert weighted.evaluate(["a+b"]).objective_se == pytest.approx(math.hypot(0.015 / 0.5, 0.015 / 0.5))
    two = _store(tmp_path / "loss2.db", {0: 0.0, 1: 0.02})
    se = _se(selection_problem(two, "calibrated", cost="cost"), "a+b", "a")
    assert se == pytest.approx(math.sqrt(np.var([0.0, 0.02], ddof=1) / 2 + 0.015**2))
    with pytest.raises(InvalidArgument, match="errors='both'; accepted: 'total', 'training'"):
        selection_problem(store, "metric", errors="both")


def test_a_store_from_before_replicates_is_read_and_migrated(tmp_path):
    path = tmp_path / "old.db"
    _store(path, {0: 0.0})
    with sqlite3.connect(path) as db:  # what a store written before replicates were kept holds
        db.execute("DROP TABLE replicates")
    old = ResultStore(path)
    assert old.replicates("s", "c").empty
    problem = selection_problem(old, "metric", cost="cost")
    # the evaluation error is unknown, and with one repeat so is the error (NaN, never 0), but for the single-task
    # networks, which score exactly 1: the report shows no ± for a plan of shared networks
    assert math.isnan(_se(problem, "a+b", "a")) and math.isnan(_se(problem, "a+b", "b"))
    assert problem.evaluate(["a+b"]).objective_se is None
    assert problem.losses[problem.network_index("a+b"), problem.task_index("a")] == pytest.approx(
        1 - (0.1 - 0.05 / 0.9) / 2
    )
    old.add_results("s", "c", [_result("a", 1)])  # the next write adds the table
    assert set(ResultStore(path).replicates("s", "c")["seed"]) == {1}


# -- coverage with known noise -------------------------------------------------------------------------------------


def _truth(mu: float, baseline: float, tau: float) -> float:
    """1 - g of networks whose logits are (2y - 1) mu_k + N(0, 1), mu_k ~ N(mu, tau²) over training: accuracy
    E Phi(mu_k) = Phi(mu / sqrt(1 + tau²)), AUC E Phi(sqrt(2) mu_k) = Phi(sqrt(2) mu / sqrt(1 + 2 tau²))."""
    acc = {m: norm.cdf(m / math.sqrt(1 + tau**2)) for m in (mu, baseline)}
    auc = {m: norm.cdf(math.sqrt(2) * m / math.sqrt(1 + 2 * tau**2)) for m in (mu, baseline)}
    return 1 - ((acc[mu] - acc[baseline]) / acc[baseline] + (auc[mu] - auc[baseline]) / auc[baseline]) / 2


def _coverage(
    repeats: int, tau: float, shared: float = 0.8, replications: int = 200, n: int = 300
) -> tuple[float, float]:
    """How often value ± 1.96 se covers the truth, with se over repeats and rows, and over repeats alone. Logit
    noise N(0, 1) of which the part ``shared`` is the row's difficulty for the network (the same in its repeats)."""
    rng = np.random.default_rng(20 + repeats)
    truth = _truth(1.0, 0.8, tau)
    covered = covered_training = 0
    for _ in range(replications):
        y = rng.integers(0, 2, n)
        counts = bootstrap_counts(n, BOOTSTRAP_SAMPLES, rng)
        rows, samples = [], []
        for network, mu in (("t", 0.8), ("t+u", 1.0)):
            hard = rng.normal(size=n)  # how hard each row is for this network: its repeats err on the same rows
            for seed in range(repeats):
                noise = math.sqrt(shared) * hard + math.sqrt(1 - shared) * rng.normal(size=n)
                logit = (2 * y - 1) * (mu + tau * rng.normal()) + noise
                rows.append({"network": network, "task": "t", "seed": seed, "served": network}
                            | {f"val_{m}": v for m, v in task_metrics("binary", y, logit).items()})  # fmt: skip
                for m, v in metric_replicates("binary", y, logit, counts).items():
                    samples.append((network, seed, "t", m, v))
        replicates = pd.DataFrame(samples, columns=["network", "seed", "task", "metric", "samples"])
        results = pd.DataFrame(rows)
        for errors, table in (("total", replicates), ("training", None)):
            found = metric_values(results, "val", table).set_index("network").loc["t+u"]
            inside = abs(found["loss"] - truth) <= Z95 * found["loss_se"]
            covered += bool(inside) and errors == "total"
            covered_training += bool(inside) and errors == "training"
    return covered / replications, covered_training / replications


def test_one_runs_paired_bootstrap_covers_the_truth_at_the_nominal_rate():
    coverage, _ = _coverage(repeats=1, tau=0.0)
    assert 0.90 <= coverage <= 0.98, coverage


def test_with_repeats_the_evaluation_error_is_still_needed():
    # Three repeats on the same rows, erring on the same hard rows: their spread holds the training noise, not
    # that of the rows they share; repeats and rows together cover at the nominal rate, the repeats alone well below.
    coverage, training_alone = _coverage(repeats=3, tau=0.05)
    assert 0.90 <= coverage <= 0.98, coverage
    assert training_alone < 0.85, training_alone


# -- real training runs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("vectorise", [True, False])
def test_a_measured_run_gives_every_objective_an_error_from_one_seed(tmp_path, vectorise):
    suite = load_suite("digits", tasks=["digit", "odd", "large"])
    path = tmp_path / "digits.db"
    config = TrainConfig(hidden=(16,), epochs=2)
    candidates = "digit,odd,large,digit+odd,odd+large"
    measure(suite, path, candidates=candidates, config=config, latency_repeats=1, progress=False, vectorise=vectorise)
    store = ResultStore(path)
    stored = store.replicates(*store.runs()[["suite", "config"]].iloc[0])
    assert len(stored) == 7 * 2 and {len(s) for s in stored["samples"]} == {BOOTSTRAP_SAMPLES}
    for objective in ("metric", "calibrated", "relative"):
        problem = selection_problem(store, objective)
        assert np.isfinite(problem.loss_se[problem.serves]).all(), objective
    metric = selection_problem(store, "metric")
    for task in ("digit", "odd", "large"):
        assert _se(metric, task, task) == 0.0
    assert 0 < _se(metric, "digit+odd", "digit") < 0.5 and 0 < _se(metric, "odd+large", "large") < 0.5
    # the run reads its problems through problem_from_store: over repeats alone, one seed knows no error
    training = problem_from_store(path, "val", "flops", config, errors="training", objective="metric")
    assert math.isnan(_se(training, "digit+odd", "digit")) and _se(training, "odd", "odd") == 0.0
