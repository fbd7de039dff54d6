"""Instances on which a solver backend once went wrong, kept so it cannot happen again unnoticed."""

import pytest

import taskgroup as tg


def test_highs_with_too_tight_integrality_tolerance_returned_a_suboptimal_optimum():
    # With mip_feasibility_tolerance=1e-10 HiGHS reported 6.0634 as optimal here; the optimum is 5.9913.
    problem = tg.datasets.synthetic_problem(6, seed=6)
    values = {m: tg.solve(problem, 2.5, method=m).objective for m in ("ilp", "ilp-scip", "ilp-cbc", "bnb")}
    assert values["ilp"] == pytest.approx(5.991281609484175)
    assert max(values.values()) - min(values.values()) < 1e-9


def test_a_set_one_millionth_over_budget_is_not_feasible():
    # Default MIP tolerances accept x = 1 - 1e-6 as integral: two networks of cost 1 "fit" a budget of 1.999999.
    import numpy as np

    problem = tg.Problem(["a", "b"], ["n0", "n1"], [1.0, 1.0], [[0.1, np.nan], [np.nan, 0.2]])
    for method in ("ilp", "ilp-scip", "ilp-cbc", "ilp-cpsat", "bnb", "greedy"):
        with pytest.raises(tg.InfeasibleBudget):
            tg.solve(problem, 1.999999, method=method)
