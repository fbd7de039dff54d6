"""Instances on which a solver backend once went wrong, kept so it cannot happen again unnoticed."""

import pytest

import taskgroup as tg


def test_highs_with_too_tight_integrality_tolerance_returned_a_suboptimal_optimum():
    # With mip_feasibility_tolerance=1e-10 HiGHS reported 6.0634 as optimal here; the optimum is 5.9913.
    problem = tg.datasets.synthetic_problem(6, seed=6)
    values = {m: tg.solve(problem, 2.5, method=m).objective for m in ("ilp", "ilp-scip", "ilp-cbc", "bnb")}
    assert values["ilp"] == pytest.approx(5.991281609484175)
    assert max(values.values()) - min(values.values()) < 1e-9


def test_highs_stopped_within_its_default_relative_gap_and_called_it_optimal():
    # HiGHS' default mip_rel_gap (1e-4; OR-Tools' RELATIVE_MIP_GAP of 0 does not reach it) returned 5.64012 as
    # optimal at budget 4.4, 2.6e-5 above the optimum 5.63998, on these measured-style (off-grid) costs
    import numpy as np

    frame = tg.datasets.synthetic_problem(6, seed=6).to_frame()
    networks = frame["network"].unique()
    cost = dict(zip(networks, np.random.default_rng(0).uniform(0.5, 1.5, len(networks))))
    problem = tg.Problem.from_frame(frame.assign(cost=frame["network"].map(cost)))
    values = {m: tg.solve(problem, 4.4, method=m).objective for m in ("ilp", "ilp-scip", "partition-dp", "bnb")}
    assert values["ilp"] == pytest.approx(5.6399764625792335, rel=1e-12)
    assert max(values.values()) - min(values.values()) < 1e-9


def test_a_set_one_millionth_over_budget_is_not_feasible():
    # Default MIP tolerances accept x = 1 - 1e-6 as integral: two networks of cost 1 "fit" a budget of 1.999999.
    import numpy as np

    problem = tg.Problem(["a", "b"], ["n0", "n1"], [1.0, 1.0], [[0.1, np.nan], [np.nan, 0.2]])
    for method in ("ilp", "ilp-scip", "ilp-cbc", "ilp-cpsat", "bnb", "greedy"):
        with pytest.raises(tg.InfeasibleBudget):
            tg.solve(problem, 1.999999, method=method)


def _greedy_misses_the_cover():
    """Budget 1: greedy takes {a,b,c} (most tasks per cost) and then cannot fit d; {a,b} + {c,d} is the cover."""
    import numpy as np

    nan = np.nan
    losses = [[0.1, 0.1, 0.1, nan], [0.2, 0.2, nan, nan], [nan, nan, 0.2, 0.2], [nan, nan, nan, 0.1]]
    return tg.Problem(["a", "b", "c", "d"], ["abc", "ab", "cd", "d"], [0.6, 0.5, 0.5, 0.5], losses)


def test_greedys_cover_model_gets_the_time_left(monkeypatch):
    # The exact cover (greedy's fallback, also inside ilp's greedy answer for models too big for the limit)
    # used to run without a time limit.
    from taskgroup.solvers.model import SelectionModel

    limits = []
    real_run = SelectionModel.run

    def run(self, minimise="loss", time_limit=None):
        if minimise.startswith("cost:"):
            limits.append(time_limit)
        return real_run(self, minimise, time_limit)

    monkeypatch.setattr(SelectionModel, "run", run)
    plan = tg.solve(_greedy_misses_the_cover(), 1.0, method="greedy", time_limit=5)
    assert sorted(plan.networks) == ["ab", "cd"]
    assert len(limits) == 1 and 0 < limits[0] <= 5
    tg.solve(_greedy_misses_the_cover(), 1.0, method="greedy")
    assert limits[1] is None  # no time limit given: none imposed


def test_greedy_out_of_time_for_its_cover_leaves_feasibility_undecided():
    import numpy as np

    from taskgroup.solvers.greedy import solve_greedy
    from taskgroup.solvers.instance import SelectionInstance

    instance = SelectionInstance.build(_greedy_misses_the_cover(), np.array([1.0]))
    result = solve_greedy(instance, time_limit=1e-6)  # the cover model would not reach its root LP: not started
    assert result.chosen is None and not result.optimal  # not "proved infeasible"
    assert sorted(solve_greedy(instance).chosen) == [1, 2]  # without a limit the cover model finds ab + cd
