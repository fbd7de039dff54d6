"""The group posterior, the plan search and its bound, the certificate, and UCB acquisition on small tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from taskgroup.errors import InstanceTooLarge, InvalidArgument
from taskgroup.estimate.certificate import certify
from taskgroup.estimate.posterior import fit_group_posterior
from taskgroup.estimate.synthetic import planted_group_losses
from taskgroup.grouping.plansearch import best_plan, lagrangian_bound
from taskgroup.measure.objective import load_objective
from taskgroup.measure.store import ResultStore
from taskgroup.strategies import adaptive_measure
from taskgroup.strategies.acquisition import ucb_select


def _table(n=5, seed=3):
    model = planted_group_losses(n, 2, seed=seed)
    return model, {g: model.measure(g) for s in range(1, n + 1) for g in combinations(model.tasks, s)}


def _every_plan_value(values, k):
    return [values[list(c)].max(axis=0).sum() for c in combinations(range(len(values)), k)]


def test_measured_groups_keep_their_losses_and_have_no_uncertainty():
    model, table = _table()
    measured = {g: table[g] for g in [model.tasks[:2], model.tasks[1:4], (model.tasks[4],)]}
    post = fit_group_posterior(model.tasks, measured)
    for group, losses in measured.items():
        row = post.index(list(group))
        for t, v in losses.items():
            i = model.tasks.index(t)
            assert post.losses(0.0)[row, i] == v and post.losses(3.0)[row, i] == v
            assert post.log_sd[row, i] == 0.0
    unmeasured = post.index(list(model.tasks[2:]))
    assert np.all(post.log_sd[unmeasured][post.members[unmeasured]] > 0)
    assert np.all(post.losses(1.0)[unmeasured] <= post.losses(0.0)[unmeasured])  # optimism lowers losses


def test_posterior_rejects_bad_measurements():
    tasks = ["a", "b", "c"]
    with pytest.raises(InvalidArgument, match="losses > 0"):
        fit_group_posterior(tasks, {("a", "b"): {"a": 0.0, "b": 0.3}})
    with pytest.raises(InvalidArgument, match="measured twice"):
        fit_group_posterior(tasks, {("a", "b"): {"a": 0.2, "b": 0.3}, ("b", "a"): {"a": 0.2, "b": 0.3}})
    with pytest.raises(InvalidArgument, match="distinct tasks"):
        fit_group_posterior(tasks, {("a", "z"): {"a": 0.2, "z": 0.3}})
    with pytest.raises(InstanceTooLarge, match="at most 12"):
        fit_group_posterior([f"t{i}" for i in range(13)], {})
    post = fit_group_posterior(tasks, {("a", "b"): {"a": 0.2, "b": 0.3}})
    for group in (["a", "z"], [], ["a", "a"]):
        with pytest.raises(InvalidArgument, match=r"is not a group of this posterior; accepted: distinct names"):
            post.index(group)


def test_plan_search_enumeration_and_swap_search_agree_with_brute_force():
    rng = np.random.default_rng(0)
    members = np.array([[(m >> t) & 1 for t in range(5)] for m in range(1, 32)], dtype=bool)
    for trial in range(5):
        values = np.where(members, -rng.uniform(0.1, 1.0, members.shape), -np.inf)
        for k in (2, 3):
            brute = max(_every_plan_value(values, k))
            plan, value, exact = best_plan(values, k)
            assert exact and value == pytest.approx(brute)
            _, swapped, exact = best_plan(values, k, exhaustive_limit=0, seed=trial)
            assert not exact and swapped <= brute + 1e-12


def test_lagrangian_bound_is_never_below_the_best_plan():
    rng = np.random.default_rng(1)
    members = np.array([[(m >> t) & 1 for t in range(6)] for m in range(1, 64)], dtype=bool)
    for _ in range(5):
        values = np.where(members, -rng.uniform(0.1, 1.0, members.shape), -np.inf)
        for k in (2, 3):
            plan, best, _ = best_plan(values, k)
            bound = lagrangian_bound(values, k, values[list(plan)].max(axis=0))
            assert bound >= best - 1e-9
            assert bound <= np.nanmax(np.where(members, values, np.nan), axis=0).sum() + 1e-9  # no looser than trivial


@pytest.mark.parametrize("k", [2, 3])
def test_certificate_bounds_every_plan_under_the_model_by_enumeration(k):
    model, table = _table()
    measured = {g: table[g] for g in [model.tasks[:3], model.tasks[2:], (model.tasks[0], model.tasks[4])]}
    post = fit_group_posterior(model.tasks, measured)
    plan, _, _ = best_plan(post.values(0.0), k)
    cert = certify(post, plan, k)
    # loss sense: no plan's loss under the median goes below `bound`, nor at the confident values below the other
    assert min(-v for v in _every_plan_value(post.values(0.0), k)) >= cert.bound - 1e-9
    assert min(-v for v in _every_plan_value(post.values(cert.deviations), k)) >= cert.confident_bound - 1e-9
    assert cert.confident_bound <= cert.bound <= cert.objective + 1e-12
    assert cert.exact and "only as good as the model" in cert.describe()


def _pairwise_table(seed):
    """5 tasks whose losses follow pair effects and a size cost only (no higher-order effect): the model's world."""
    model = planted_group_losses(5, 1, within=0.0, pair_noise=0.15, seed=seed)
    return model, {g: model.measure(g) for s in range(1, 6) for g in combinations(model.tasks, s)}


@pytest.mark.parametrize("k", [2, 3])
def test_certificate_is_a_true_bound_on_the_true_table_by_enumeration(k):
    # 8 tables x 2 budgets: the confident bound must hold for the true optimum, found by enumerating every plan
    for seed in range(8):
        model, table = _pairwise_table(seed)
        names = list(table)
        true = fit_group_posterior(model.tasks, table)  # every group measured: values are the true losses
        optimum = min(-v for v in _every_plan_value(true.values(0.0), k))
        for budget in (4, 10):
            result = ucb_select(
                lambda gs, t=table: {g: t[g] for g in gs}, model.tasks, k, max_measured=budget, seed=seed
            )
            cert = result.certificate
            assert cert.confident_bound <= optimum + 1e-12, (seed, budget, cert.describe())
            assert cert.calibration >= 1.0 and 0 < cert.confidence < 1
            assert len(result.measured) <= budget and set(result.measured) <= set(names)


def test_calibration_widens_the_bound_when_measured_groups_surprise_the_model():
    model, table = _pairwise_table(0)
    few = fit_group_posterior(model.tasks, {model.tasks[:2]: table[model.tasks[:2]]})
    assert few.calibration() == 1.0  # one measured group: nothing to cross-validate
    # singles and pairs fit the model; a 3-task group twice as good as its pairs allow is a surprise to it
    honest = {g: table[g] for g in table if len(g) <= 2}
    surprised = {**honest, model.tasks[:3]: {t: v / 2 for t, v in table[model.tasks[:3]].items()}}
    plain, odd = fit_group_posterior(model.tasks, honest), fit_group_posterior(model.tasks, surprised)
    assert odd.calibration() > plain.calibration() == 1.0
    plan, _, _ = best_plan(odd.values(0.0), 2)
    cert = certify(odd, plan, 2)
    # the Bonferroni quantile over the ~50 unmeasured losses is over 2 standard deviations
    assert cert.calibration == odd.calibration() and cert.deviations > 2 * cert.calibration


def test_certify_rejects_a_confidence_outside_zero_one():
    model, table = _pairwise_table(0)
    post = fit_group_posterior(model.tasks, {model.tasks[:2]: table[model.tasks[:2]]})
    plan, _, _ = best_plan(post.values(0.0), 2)
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(InvalidArgument, match="confidence"):
            certify(post, plan, 2, confidence=bad)


def test_lagrangian_certificate_is_a_bound_too():
    model, table = _table(6, seed=2)
    measured = {g: table[g] for g in [model.tasks[:3], model.tasks[3:], model.tasks[1:5]]}
    post = fit_group_posterior(model.tasks, measured)
    plan, _, _ = best_plan(post.values(0.0), 3)
    exact = certify(post, plan, 3)
    import taskgroup.estimate.certificate as certificate

    original = certificate.EXHAUSTIVE_LIMIT
    certificate.EXHAUSTIVE_LIMIT = 0  # force the Lagrangian route on the same posterior
    try:
        relaxed = certify(post, plan, 3)
    finally:
        certificate.EXHAUSTIVE_LIMIT = original
    assert not relaxed.exact
    assert relaxed.bound <= exact.bound + 1e-9 and relaxed.confident_bound <= exact.confident_bound + 1e-9


def test_acquisition_never_measures_a_group_twice_and_stays_within_budget():
    model, table = _table()
    asked: list[tuple[str, ...]] = []

    def measure_groups(groups):
        asked.extend(groups)
        return {g: table[g] for g in groups}

    for k, budget in ((2, 12), (3, 31)):
        asked.clear()
        result = ucb_select(measure_groups, model.tasks, k, max_measured=budget)
        assert len(asked) == len(set(asked)) == len(result.measured) <= budget
        assert [s["measured"] for s in result.steps] == list(range(1, len(asked) + 1))
        for name in result.plan.networks:  # the certificate names exactly the plan's unmeasured networks
            assert (tuple(name.split("+")) in result.measured) == (name not in result.certificate.unmeasured)


def test_initial_groups_come_first_and_count_in_the_budget():
    model, table = _table()
    calls: list[list[tuple[str, ...]]] = []

    def measure_groups(groups):
        calls.append(list(groups))
        return {g: table[g] for g in groups}

    singles = [(t,) for t in reversed(model.tasks)]
    result = ucb_select(measure_groups, model.tasks, 2, max_measured=7, initial=singles)
    assert sorted(calls[0]) == sorted(singles) and all(len(c) == 1 for c in calls[1:])
    assert len(result.measured) <= 7 and len({g for c in calls for g in c}) == sum(map(len, calls))
    with pytest.raises(InvalidArgument, match="below the 5 initial groups"):
        ucb_select(measure_groups, model.tasks, 2, max_measured=4, initial=singles)
    with pytest.raises(InvalidArgument, match="initial group"):
        ucb_select(measure_groups, model.tasks, 2, max_measured=4, initial=[("t00", "zz")])


def test_acquisition_with_the_whole_table_finds_the_optimum():
    model, table = _table()
    result = ucb_select(lambda gs: {g: table[g] for g in gs}, model.tasks, 2, max_measured=31)
    full = fit_group_posterior(model.tasks, table)
    _, best, _ = best_plan(full.values(0.0), 2)
    assert result.plan.objective == pytest.approx(-best)


@pytest.mark.slow
def test_cli_and_api_choose_the_same_plan_and_a_rerun_measures_nothing(tmp_path, monkeypatch):
    here = Path(__file__).parent
    monkeypatch.syspath_prepend(str(here))  # the objective is importable by name, as the CLI imports it
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), os.environ.get("PYTHONPATH", "")])}
    command = [
        sys.executable, "-m", "taskgroup", "measure", "--objective", "objective_examples:plain",
        "--tasks", "a,b,c,d,e", "--strategy", "adaptive", "--max-measured", "6", "--n-networks", "2",
        "--seed", "3", "--store", str(tmp_path / "cli.db"), "--plan-out", str(tmp_path / "plan.json"),
    ]  # fmt: skip
    first = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0, first.stderr
    assert "measured 6/6" in first.stdout and "only as good as the model" in first.stdout
    cli_plan = json.loads((tmp_path / "plan.json").read_text())

    result = adaptive_measure(
        load_objective("objective_examples:plain"),
        tmp_path / "api.db",
        tasks=list("abcde"),
        max_measured=6,
        n_networks=2,
        seed=3,
        progress=False,
    )
    assert cli_plan["assignment"] == result.plan.assignment
    assert cli_plan["objective"] == pytest.approx(result.plan.objective)

    rows = len(ResultStore(tmp_path / "cli.db").results())
    # the spellings of the two budgets name the same options
    spelled = [{"--max-measured": "--budget-networks", "--n-networks": "--plan-networks"}.get(a, a) for a in command]
    again = subprocess.run(spelled, capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0, again.stderr
    assert len(ResultStore(tmp_path / "cli.db").results()) == rows  # resumed from the store: nothing measured twice
    assert json.loads((tmp_path / "plan.json").read_text())["assignment"] == cli_plan["assignment"]
