"""solve() owns the fallback policy, and a plan names the method that produced it and why it fell back."""

import pytest

import taskgroup as tg
from taskgroup.solvers.ilp import solve_ilp
from taskgroup.solvers.instance import SelectionInstance, parse_budget
from taskgroup.solvers.registry import Fallback


def test_a_plan_names_the_method_that_produced_it():
    problem = tg.datasets.synthetic_problem(10, seed=1)
    plan = tg.solve(problem, 5.0, method="ilp", time_limit=0.01)  # far too little for the MIP's root LP
    assert plan.solver == f"greedy (fallback from ilp: {Fallback.NO_TIME.value})"
    assert not plan.optimal
    assert tg.solve(problem, 5.0, method="ilp").solver == "ilp"


def test_solvers_report_instead_of_calling_each_other():
    problem = tg.datasets.synthetic_problem(10, seed=1)
    instance = SelectionInstance.build(problem, parse_budget(problem, 5.0))
    result = solve_ilp(instance, time_limit=0.01)
    assert result.chosen is None and result.fallback is Fallback.NO_TIME


@pytest.mark.parametrize("method", ["ilp", "ilp-cbc"])
def test_fallback_plans_keep_an_honest_bound(method):
    problem = tg.datasets.synthetic_problem(10, seed=1)
    plan = tg.solve(problem, 5.0, method=method, time_limit=1e-6)
    exact = tg.solve(problem, 5.0)
    assert "fallback from" in plan.solver and plan.bound <= exact.objective + 1e-9
