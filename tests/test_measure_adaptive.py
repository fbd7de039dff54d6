"""`measure(..., strategy="adaptive")`: measure only what the plan relies on, through either route, resumably."""

import objective_examples
import pytest

import taskgroup as tg
from taskgroup.errors import InvalidArgument
from taskgroup.measure import ResultStore, measure

CALLS: list[tuple[str, ...]] = []


def counted(tasks, variant, seed):
    CALLS.append(tuple(tasks))
    return objective_examples.grouped_losses(tasks, variant, seed)


def test_adaptive_objective_measures_within_its_budget_and_resumes(tmp_path):
    CALLS.clear()
    db = tmp_path / "adaptive.db"
    tasks = ["a", "b", "c", "d"]
    frame = measure(counted, db, tasks=tasks, strategy="adaptive", budget_networks=12, plan_networks=2, progress=False)
    measured = set(frame["network"])
    assert 1 <= len(measured) <= 12 and len(CALLS) == len(measured)  # each network measured once
    assert {"a", "b", "c", "d"} <= measured  # singles first
    stored = ResultStore(db).results()
    assert set(stored["network"]) == measured  # nothing outside the adaptive choice was trained
    # The planted clusters {a, b} and {c, d} are what a 2-network plan should use.
    plan = tg.solve(ResultStore(db).to_problem("val"), budget=2)
    assert sorted(plan.networks) == ["a+b", "c+d"]
    CALLS.clear()
    again = measure(counted, db, tasks=tasks, strategy="adaptive", budget_networks=12, plan_networks=2, progress=False)
    assert CALLS == [] and set(again["network"]) == measured  # resumed: read back, nothing re-measured


def test_adaptive_needs_its_budgets_and_owns_the_candidates(tmp_path):
    with pytest.raises(InvalidArgument, match="needs budget_networks as an integer >= 1; got None"):
        measure(counted, tmp_path / "x.db", tasks=["a", "b"], strategy="adaptive", plan_networks=1)
    with pytest.raises(InvalidArgument, match="chooses the candidates itself"):
        measure(
            counted,
            tmp_path / "x.db",
            tasks=["a", "b"],
            strategy="adaptive",
            candidates="pairs",
            budget_networks=3,
            plan_networks=1,
        )
    with pytest.raises(InvalidArgument, match="strategy='greedy' is not accepted"):
        measure(counted, tmp_path / "x.db", tasks=["a", "b"], strategy="greedy")
    with pytest.raises(InvalidArgument, match="apply to strategy='adaptive' only"):
        measure(counted, tmp_path / "x.db", tasks=["a", "b"], budget_networks=3)
