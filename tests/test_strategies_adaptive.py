"""The ``adaptive`` strategy: measure only what the plan relies on, through either route, resumably."""

import objective_examples
import pytest

import taskgroup as tg
from taskgroup.errors import InvalidArgument
from taskgroup.measure import ResultStore, measure
from taskgroup.strategies import STRATEGIES, StrategyConfig

CALLS: list[tuple[str, ...]] = []


def counted(tasks, variant, seed):
    CALLS.append(tuple(tasks))
    return objective_examples.grouped_losses(tasks, variant, seed)


def _config(**changes):
    settings = {"max_measured": 12, "n_networks": 2, "measure_options": {"tasks": ["a", "b", "c", "d"]}}
    return StrategyConfig(progress=False, **{**settings, **changes})


def test_adaptive_objective_measures_within_its_budget_and_resumes(tmp_path):
    CALLS.clear()
    db = tmp_path / "adaptive.db"
    estimate = STRATEGIES["adaptive"](counted, db, _config())
    measured = set(estimate.problem.networks)
    assert 1 <= len(measured) <= 12 and len(CALLS) == len(measured)  # each network measured once
    assert {"a", "b", "c", "d"} <= measured  # singles first
    stored = ResultStore(db).results()
    assert set(stored["network"]) == measured  # nothing outside the adaptive choice was trained
    # The planted clusters {a, b} and {c, d} are what a 2-network plan should use.
    plan = tg.solve(estimate.problem, budget=2)
    assert sorted(plan.networks) == ["a+b", "c+d"]
    CALLS.clear()
    again = STRATEGIES["adaptive"](counted, db, _config())
    assert CALLS == [] and set(again.problem.networks) == measured  # resumed: read back, nothing re-measured


def test_adaptive_needs_its_budgets(tmp_path):
    with pytest.raises(InvalidArgument, match="needs max_measured as an integer >= 1; got None"):
        STRATEGIES["adaptive"](counted, tmp_path / "x.db", _config(max_measured=None))


def test_measure_only_measures(tmp_path):
    with pytest.raises(TypeError, match="strategy"):
        measure(counted, tmp_path / "x.db", tasks=["a", "b"], strategy="adaptive")


def test_run_dispatches_through_the_registry_of_five_strategies():
    from taskgroup.run_settings import RunSettings

    assert STRATEGIES.names() == ["adaptive", "esa", "full", "hoa", "tag"]
    assert RunSettings(strategy="adaptive", max_measured=20, n_networks=3).strategy == "adaptive"
    with pytest.raises(InvalidArgument, match=r"strategy='listed' is not accepted; accepted: \['adaptive', 'esa'"):
        RunSettings(strategy="listed")
