"""Standard errors: Problem.loss_se and its I/O, Plan.objective_se, the store's errors over repeats, interval
coverage on a synthetic problem with known noise, the robust knee, and repeats that resume after SIGKILL."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import taskgroup as tg
from taskgroup.errors import InvalidProblem
from taskgroup.measure import NetworkResult, ResultStore
from taskgroup.pipeline import knee_budget
from taskgroup.uncertainty import Z95, bootstrap_se, interval95, repeat_se

NAN = math.nan


def small_problem(**changes):
    fields = dict(
        tasks=["a", "b", "c"],
        networks=["a", "b", "c", "a+b", "b+c"],
        costs=[1.0, 1.0, 1.0, 1.2, 1.2],
        losses=[[1.0, NAN, NAN], [NAN, 2.0, NAN], [NAN, NAN, 3.0], [0.8, 2.2, NAN], [NAN, 1.7, 2.9]],
        weights=[1.0, 2.0, 0.5],
        loss_se=[[0.1, NAN, NAN], [NAN, 0.2, NAN], [NAN, NAN, 0.3], [0.05, 0.1, NAN], [NAN, 0.4, 0.2]],
    )
    fields.update(changes)
    return tg.Problem(**fields)


def test_plan_objective_se_equals_a_hand_computation():
    problem = small_problem()
    plan = tg.solve(problem, budget=2.4)
    assert plan.assignment == {"a": "a+b", "b": "b+c", "c": "b+c"}
    # sqrt(sum_t w_t^2 se^2) over the assigned (network, task): a from a+b, b and c from b+c
    expected = math.sqrt((1.0 * 0.05) ** 2 + (2.0 * 0.4) ** 2 + (0.5 * 0.2) ** 2)
    assert plan.objective_se == pytest.approx(expected, rel=1e-12)
    assert "objective 5.65 ± 0.808 (standard error)" in plan.summary()
    assert tg.Plan.from_json(plan.to_json()).objective_se == plan.objective_se
    # one unknown error among the assigned entries: the plan's error is unknown, never a partial sum
    unknown = small_problem(loss_se=[[0.1, NAN, NAN], [NAN, 0.2, NAN], [NAN, NAN, 0.3], [NAN, 0.1, NAN], [NAN] * 3])
    assert unknown.evaluate(["a+b", "c"]).objective_se is None
    assert small_problem(loss_se=None).evaluate(["a", "b", "c"]).objective_se is None
    frame = tg.frontier(problem).to_frame()
    assert list(frame.columns[:3]) == ["budget", "objective", "objective_se"]


def test_problem_loss_se_round_trips_through_csv_and_json(tmp_path):
    problem = small_problem()
    problem.to_csv(tmp_path / "p.csv")
    assert tg.Problem.from_csv(tmp_path / "p.csv") == problem
    assert tg.Problem.from_json(problem.to_json()) == problem
    assert "loss_se" not in small_problem(loss_se=None).to_frame()
    # weights and selections keep the errors; other losses (the test split's) do not carry validation errors
    assert np.array_equal(problem.with_weights([1, 1, 1]).loss_se, problem.loss_se, equal_nan=True)
    assert problem.with_losses(problem.losses).loss_se is None
    assert problem.without_networks(["a+b"]).loss_se.shape == (4, 3)


@pytest.mark.parametrize(
    ("se", "message"),
    [
        ([[-0.1, NAN, NAN]] + [[NAN] * 3] * 4, "Network 'a' has loss_se -0.1 on task 'a'; a standard error must be"),
        ([[0.1, 0.1, NAN]] + [[NAN] * 3] * 4, "Network 'a' has loss_se 0.1 on task 'b', which it does not serve"),
        ([[math.inf, NAN, NAN]] + [[NAN] * 3] * 4, "has loss_se inf"),
        ([[0.1]], r"loss_se must have shape \(5, 3\)"),
    ],
)
def test_bad_standard_errors_are_refused(se, message):
    with pytest.raises(InvalidProblem, match=message):
        small_problem(loss_se=se)


def test_the_store_combines_repeats_and_bootstrap_errors(tmp_path):
    store = ResultStore(tmp_path / "s.db")
    store.register_run("fp", "cfg", "toy", ["a"], {}, {})
    values, boot = [1.0, 1.4, 0.9], [0.05, 0.07, 0.06]
    store.add_results(
        "fp",
        "cfg",
        [
            NetworkResult("a", ("a",), "full", seed, metrics={"a": {"val_loss": v, "val_loss_se": e}})
            for seed, (v, e) in enumerate(zip(values, boot))
        ]
        + [NetworkResult("a@half", ("a",), "half", 0, metrics={"a": {"val_loss": 2.0}})],
    )
    costs = pd.DataFrame(
        {"network": ["a", "a@half"], "variant": ["full", "half"], "tasks": ["a", "a"], "flops": [10.0, 5.0]}
    )
    store.add_costs("fp", "cfg", costs)
    problem = store.to_problem()
    # by hand: spread of the repeats over sqrt(3), plus the mean bootstrap error, in quadrature
    by_hand = math.sqrt(np.var(values, ddof=1) / 3 + np.mean(boot) ** 2)
    se = dict(zip(problem.networks, problem.loss_se[:, 0]))
    assert se["a"] == pytest.approx(by_hand)
    assert math.isnan(se["a@half"])  # one run and no bootstrap error: unknown, not 0
    training = dict(zip(problem.networks, store.to_problem(errors="training").loss_se[:, 0]))
    assert training["a"] == pytest.approx(np.std(values, ddof=1) / math.sqrt(3))


def test_intervals_cover_the_truth_at_the_nominal_rate():
    # Known noise: each repeat's per-row losses are truth + a training offset (sd 0.03 per repeat) + row noise
    # (sd 0.5, rows shared by the repeats, as validation rows are). A fixed plan's objective ± 1.96 se, with se
    # from repeat_se (repeats and bootstrap), should cover the true objective about 95 % of the time.
    rng = np.random.default_rng(20)
    truth = np.array([[1.0, NAN], [NAN, 2.0], [0.9, 2.1]])
    weights = np.array([1.0, 0.5])
    true_objective = 1.0 * 0.9 + 0.5 * 2.1
    n_rows, repeats, covered, replications = 150, 4, 0, 200
    for _ in range(replications):
        shared_rows = rng.normal(0.0, 0.5, size=(3, 2, n_rows))  # each network's rows are its own noise draw
        means, errors = np.full((3, 2), NAN), np.full((3, 2), NAN)
        for j, t in zip(*np.nonzero(~np.isnan(truth))):
            per_repeat, boot = [], []
            for _k in range(repeats):
                rows = truth[j, t] + rng.normal(0.0, 0.03) + shared_rows[j, t] + rng.normal(0.0, 0.2, n_rows)
                per_repeat.append(rows.mean())
                boot.append(bootstrap_se(rows, rng, samples=100))
            means[j, t], errors[j, t] = np.mean(per_repeat), repeat_se(per_repeat, boot)
        problem = tg.Problem(["a", "b"], ["a", "b", "a+b"], [1, 1, 1.5], means, weights, loss_se=errors)
        plan = problem.evaluate(["a+b"])
        covered += abs(plan.objective - true_objective) <= Z95 * plan.objective_se
    assert 0.90 <= covered / replications <= 0.98, covered


def test_percentile_interval_of_replicates():
    assert interval95(np.arange(1001.0)) == pytest.approx((25.0, 975.0))
    with pytest.raises(tg.errors.InvalidArgument, match="at least 2 finite"):
        interval95([1.0, NAN])


def test_the_robust_knee_buys_a_costlier_plan_only_when_its_gain_exceeds_its_error():
    table = pd.DataFrame({"budget": [1.0, 2.0, 3.0, 4.0], "objective": [10.0, 5.0, 1.5, 1.0]})
    assert knee_budget(table) == 3.0  # no errors: the plain knee
    table["objective_se"] = [0.1, 0.1, 0.1, 0.1]
    assert knee_budget(table) == 3.0  # the gains are far beyond their errors
    table["objective_se"] = [0.2, 2.0, 2.0, 0.1]
    # 5 - 1.5 = 3.5 <= sqrt(2^2 + 2^2) = 2.83? no; 10 - 1.5 = 8.5 > sqrt(0.04 + 4): the knee stays
    assert knee_budget(table) == 3.0
    table["objective_se"] = [0.2, 2.5, 2.5, 0.1]
    assert knee_budget(table) == 2.0  # 3.5 <= sqrt(2 * 2.5^2) = 3.54: the cheaper plan is kept
    assert knee_budget(table, z=0.0) == 3.0
    table["objective_se"] = [NAN, NAN, 2.5, 0.1]  # unknown errors never make a plan "within noise"
    assert knee_budget(table) == 3.0


CLI_REPEATS = [
    "--suite",
    "synthetic",
    "--param",
    "n_samples=400",
    "--param",
    "d=20",
    "--epochs",
    "6",
    "--hidden",
    "16,16",
    "--stack-size",
    "3",
    "--seeds",
    "3",
    "--latency-repeats",
    "1",
    "-q",
]


def _count(path, query):
    with sqlite3.connect(path, timeout=5) as db:
        return db.execute(query).fetchone()[0]


@pytest.mark.slow
def test_repeats_resume_after_sigkill_without_duplicates(tmp_path):
    store = tmp_path / "repeats.db"
    command = [sys.executable, "-m", "taskgroup", "measure", *CLI_REPEATS, "--store", str(store)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    count, deadline = 0, time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        try:
            count = _count(store, "SELECT count(*) FROM results") if store.exists() else 0
        except sqlite3.OperationalError:  # tables not created yet
            count = 0
        if count >= 9:  # one job: 3 candidates x 3 seeds, committed together
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    at_kill = _count(store, "SELECT count(*) FROM results")
    assert 9 <= at_kill < 108, f"the kill should land mid-run; {at_kill} of 108 results were stored"

    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert _count(store, "SELECT count(*) FROM results") == 36 * 3
    assert _count(store, "SELECT count(*) FROM (SELECT DISTINCT network, seed FROM results)") == 36 * 3
    assert _count(store, "SELECT count(DISTINCT seed) FROM results") == 3
    problem = ResultStore(store).to_problem()
    assert not np.isnan(problem.loss_se[problem.serves]).any()


@pytest.mark.slow
def test_run_with_repeats_averages_over_them_and_gives_intervals(tmp_path):
    from taskgroup.checkpoints import load_checkpoint
    from taskgroup.tasks import delta_m

    out = tmp_path / "out"
    args = ["--suite", "synthetic", "--suite-param", "n_samples=600", "--suite-param", "clusters=[2, 2]"]
    command = [sys.executable, "-m", "taskgroup", "run", *args, "--epochs", "3", "--repeats", "2", "-q"]
    result = subprocess.run([*command, "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["repeats"] == 2
    assert set(results["delta_m_ci95"]) == {"multitask", "all_in_one"}
    for lo, hi in results["delta_m_ci95"].values():
        assert lo < hi
    # by hand: test metrics of both repeats of every network, averaged, then Δm% against the averaged baselines
    plan = tg.Plan.from_json(out / "plan.json")

    def repeats(group: str, name: str) -> list[dict]:
        files = sorted((out / group).glob(f"{_stem(name)}.pt")) + sorted((out / group).glob(f"{_stem(name)}-r1.pt"))
        assert len(files) == 2, files
        return [load_checkpoint(f)[1]["test_metrics"] for f in files]

    def mean(runs: list[dict], task: str) -> dict:
        return {m: float(np.mean([r[task][m] for r in runs])) for m in runs[0][task]}

    baselines = {t: mean(repeats("baselines", t), t) for t in plan.assignment}
    multitask = {t: mean(repeats("networks", n), t) for t, n in plan.assignment.items()}
    assert results["delta_m"]["multitask"] == pytest.approx(delta_m(multitask, baselines))
    report = (out / "report.html").read_text()
    assert "95 % interval" in report and "advantage over the independent networks is" in report
    assert "± " in report  # the plan's objective with its standard error


def _stem(name: str) -> str:
    from taskgroup.train.units import file_stem

    return file_stem(name)


@pytest.mark.slow
def test_delta_m_intervals_cover_the_true_delta_m_at_the_nominal_rate():
    # One binary task; every test row's logit is (2y - 1) * mu + N(0, 1), so accuracy is Phi(mu) and AUC
    # Phi(mu * sqrt 2): the true Δm% of a plan (mu 1.0) against its baseline (mu 0.8) is known exactly.
    import torch
    from scipy.stats import norm

    from taskgroup.tasks import Split, TaskSpec
    from taskgroup.train.intervals import delta_m_intervals

    tasks = [TaskSpec("t", "binary", n_classes=2)]
    acc = {mu: norm.cdf(mu) for mu in (0.8, 1.0)}
    auc = {mu: norm.cdf(mu * math.sqrt(2)) for mu in (0.8, 1.0)}
    truth = 100 * np.mean([(acc[1.0] - acc[0.8]) / acc[0.8], (auc[1.0] - auc[0.8]) / auc[0.8]])
    rng = np.random.default_rng(7)
    covered, replications, n = 0, 200, 300
    for r in range(replications):
        y = rng.integers(0, 2, n)
        test = Split(torch.zeros(n, 0), torch.as_tensor(y, dtype=torch.float32)[:, None], torch.ones(n, 1, dtype=bool))

        plan, baseline = ({"t": ((2 * y - 1) * mu + rng.normal(size=n))[:, None]} for mu in (1.0, 0.8))
        lo, hi = delta_m_intervals(test, tasks, {"plan": [plan]}, [baseline], samples=200, seed=r)["plan"]
        covered += lo <= truth <= hi
    assert 0.90 <= covered / replications <= 0.98, covered
