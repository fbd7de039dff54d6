"""The group predictor fitted on measured groups."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from test_estimate_implicit import pair_problem

from taskgroup.errors import InvalidArgument
from taskgroup.estimate.fitted import fit_group_predictor, measurements_from_problem
from taskgroup.estimate.hoa import hoa


def test_fitted_on_pairs_alone_is_hoa():
    problem = pair_problem(6, 3)
    predictor = fit_group_predictor(problem.tasks, measurements_from_problem(problem), alpha=1e-9)
    listed = hoa(problem)
    for j, name in enumerate(listed.networks):
        members = frozenset(problem.tasks.index(t) for t in listed.network_tasks(name))
        expected = listed.losses[j, sorted(members)]
        assert -predictor.values(members)[sorted(members)] == pytest.approx(expected, abs=1e-6)


def test_fitted_recovers_a_membership_and_size_model():
    rng = np.random.default_rng(0)
    n = 7
    tasks = [f"t{i}" for i in range(n)]
    W = rng.normal(0, 0.2, (n, n))
    c, d = rng.uniform(0.5, 1.0, n), rng.uniform(0.0, 0.2, n)

    def truth(g):
        return {tasks[t]: c[t] + d[t] * np.log(len(g) - 1) + np.mean([W[u, t] for u in g if u != t]) for t in g}

    groups = [g for s in (2, 3, 4) for g in combinations(range(n), s)]
    measured = {tuple(tasks[i] for i in g): truth(g) for g in groups}
    predictor = fit_group_predictor(tasks, measured, alpha=1e-8)
    held_out = frozenset({0, 2, 3, 5, 6})  # size 5: never measured at this size
    expected = truth(sorted(held_out))
    assert -predictor.values(held_out)[sorted(held_out)] == pytest.approx(
        [expected[tasks[t]] for t in sorted(held_out)], abs=1e-5
    )


def test_measured_groups_keep_their_losses_and_singles_make_singletons():
    m = {("a", "b"): {"a": 0.3, "b": 0.5}, ("a", "c"): {"a": 0.4, "c": 0.6}, ("b", "c"): {"b": 0.5, "c": 0.7}}
    p = fit_group_predictor(["a", "b", "c"], m, alpha=5.0)  # strong shrinkage: predictions differ from data
    assert -p.values(frozenset({0, 1}))[0] == pytest.approx(0.3) and not p.singletons
    with_singles = {**m, ("a",): {"a": 0.45}, ("b",): {"b": 0.55}, ("c",): {"c": 0.65}}
    q = fit_group_predictor(["a", "b", "c"], with_singles)
    assert q.singletons and -q.values(frozenset({2}))[2] == pytest.approx(0.65)


def test_optimism_raises_values_of_rarely_measured_pairs():
    m = {
        ("a", "b"): {"a": 0.3, "b": 0.5},
        ("a", "b", "c"): {"a": 0.35, "b": 0.52, "c": 0.6},
        ("b", "c"): {"b": 0.5, "c": 0.7},
        ("a", "c"): {"a": 0.4, "c": 0.61},
        ("a", "b", "d"): {"a": 0.2, "b": 0.4, "d": 0.5},
        ("c", "d"): {"c": 0.65, "d": 0.55},
    }
    plain = fit_group_predictor(list("abcd"), m)
    bold = fit_group_predictor(list("abcd"), m, optimism=2.0)
    unmeasured = frozenset({0, 2, 3})
    assert np.all(bold.values(unmeasured)[[0, 2, 3]] > plain.values(unmeasured)[[0, 2, 3]])
    assert np.all(bold.values(frozenset({0, 1})) == plain.values(frozenset({0, 1})))  # measured: as measured


@pytest.mark.parametrize(
    ("measurements", "match"),
    [
        ({("a", "zz"): {"a": 0.1, "zz": 0.2}}, "distinct tasks"),
        ({("a", "b"): {"a": 0.1}}, "one loss per member"),
        ({("a", "b"): {"a": 0.1, "b": float("nan")}}, "non-finite"),
        ({("a", "b"): {"a": 0.1, "b": 0.2}}, "'c' is in no measured group"),
        (
            {("a", "b"): {"a": 0.1, "b": 0.2}, ("b", "a"): {"a": 0.1, "b": 0.2}, ("a", "c"): {"a": 0.1, "c": 0.2}},
            "measured twice",
        ),
    ],
)
def test_bad_measurements_are_named(measurements, match):
    with pytest.raises(InvalidArgument, match=match):
        fit_group_predictor(["a", "b", "c"], measurements)


def test_bad_alpha_and_weights():
    m = {("a", "b"): {"a": 0.3, "b": 0.5}}
    with pytest.raises(InvalidArgument, match="alpha"):
        fit_group_predictor(["a", "b"], m, alpha=-1)
    with pytest.raises(InvalidArgument, match="weights"):
        fit_group_predictor(["a", "b"], m, weights=[1.0, 0.0])
