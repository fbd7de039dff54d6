"""Every registered solver against the exhaustive reference, on random and published instances.

Common checks in the style of scikit-learn's estimator checks: each registered solver returns feasible
plans that Problem.evaluate confirms; exact solvers match exhaustive search; infeasible budgets raise
InfeasibleBudget with the exact minimum; the same input gives the same plan.
"""

import itertools
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskgroup as tg
from taskgroup.errors import InfeasibleBudget, InstanceTooLarge, InvalidArgument

EXACT = sorted(name for name, spec in tg.available_solvers().items() if spec.exact and name != "exhaustive")
ALL = sorted(tg.available_solvers())


# ------------------------------------------------------------------ random instances
@st.composite
def problems(draw, max_tasks=7, max_networks=10):
    """1-7 tasks, 1-2 cost resources, losses and costs drawn from small grids so that ties are common."""
    n = draw(st.integers(1, max_tasks))
    r = draw(st.integers(1, 2))
    m = draw(st.integers(1, max_networks))
    tasks = [f"t{i}" for i in range(n)]
    masks = [draw(st.integers(1, 2**n - 1)) for _ in range(m)]
    covered = 0
    for mask in masks:
        covered |= mask
    masks += [1 << t for t in range(n) if not covered >> t & 1]  # every task gets a candidate
    loss_grid = st.sampled_from([0.1, 0.2, 0.25, 0.3, 0.5, 0.7, 1.0]) | st.floats(0.01, 2.0)
    cost_grid = st.sampled_from([0.5, 1.0, 1.5, 2.0]) | st.floats(0.1, 3.0)
    losses = np.full((len(masks), n), np.nan)
    for j, mask in enumerate(masks):
        for t in range(n):
            if mask >> t & 1:
                losses[j, t] = draw(loss_grid)
    costs = np.array([[draw(cost_grid) for _ in range(r)] for _ in masks])
    weights = [draw(st.sampled_from([1.0, 1.0, 2.0, 0.5])) for _ in range(n)]
    names = [f"n{j}" for j in range(len(masks))]
    return tg.Problem(tasks, names, costs, losses, weights, cost_names=[f"c{k}" for k in range(r)])


def budget_between(problem, fraction):
    """A budget per resource between the cheapest single network and the total cost."""
    low, high = problem.costs.min(axis=0), problem.costs.sum(axis=0)
    return {c: float(low[k] + fraction * (high[k] - low[k])) for k, c in enumerate(problem.cost_names)}


def exhaustive_optimum(problem, budget):
    try:
        return tg.solve(problem, budget, method="exhaustive").objective
    except InfeasibleBudget:
        return None


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(problems(), st.floats(0.0, 1.0))
def test_exact_solvers_match_exhaustive(problem, fraction):
    budget = budget_between(problem, fraction)
    reference = exhaustive_optimum(problem, budget)
    for method in EXACT:
        if reference is None:
            with pytest.raises(InfeasibleBudget):
                tg.solve(problem, budget, method=method)
            continue
        plan = tg.solve(problem, budget, method=method)
        assert plan.optimal, method
        assert plan.objective == pytest.approx(reference, rel=1e-9, abs=1e-12), method
        assert plan.bound <= plan.objective + 1e-12


@FAST
@given(problems(), st.floats(0.0, 1.0))
def test_every_plan_is_feasible_and_confirmed_by_evaluate(problem, fraction):
    budget = budget_between(problem, fraction)
    for method in ALL:
        try:
            plan = tg.solve(problem, budget, method=method)
        except InfeasibleBudget:
            continue
        for c in problem.cost_names:
            assert plan.cost[c] <= budget[c] * (1 + 1e-9) + 1e-9, method
        again = problem.evaluate(plan.networks)
        assert again.objective == pytest.approx(plan.objective, rel=1e-12), method
        assert again.assignment == plan.assignment


@settings(max_examples=150, deadline=None)
@given(problems(max_tasks=6, max_networks=8), st.floats(0.0, 0.8), st.floats(0.0, 0.5))
def test_optimum_never_gets_worse_as_the_budget_grows(problem, fraction, extra):
    small = budget_between(problem, fraction)
    large = {c: b + extra * (problem.costs.sum(axis=0)[k]) for k, (c, b) in enumerate(small.items())}
    try:
        low = tg.solve(problem, small, method="ilp").objective
    except InfeasibleBudget:
        return
    high = tg.solve(problem, large, method="bnb").objective
    assert high <= low + 1e-9 * max(1.0, abs(low))


@settings(max_examples=200, deadline=None)
@given(problems())
def test_infeasible_budget_carries_the_exact_minimum(problem):
    single = problem.with_costs(problem.cost_names[0])
    (minimum,) = tg.minimum_budget(single).values()
    plan = tg.solve(single, minimum)  # feasible at the minimum itself
    assert plan.cost[single.cost_names[0]] == pytest.approx(minimum, rel=1e-12)
    below = minimum * (1 - 1e-6)
    with pytest.raises(InfeasibleBudget) as info:
        tg.solve(single, below, method="bnb")
    assert info.value.minimum_budget == {single.cost_names[0]: pytest.approx(minimum, rel=1e-12)}
    # and exhaustive search agrees that nothing cheaper covers every task
    assert exhaustive_optimum(single, below) is None


# ------------------------------------------------------------------ fixed instances
@pytest.fixture(scope="module")
def standley():
    return {s: (tg.datasets.standley2020(s, "val"), tg.datasets.standley2020(s, "test")) for s in (1, 2, 3, 4)}


@pytest.mark.parametrize("setting", [1, 2, 3, 4])
def test_exact_solvers_agree_on_standley_tables(standley, setting):
    val, _ = standley[setting]
    for budget in np.arange(1.0, 5.01, 0.5):
        values = {m: tg.solve(val, float(budget), method=m).objective for m in EXACT}
        assert max(values.values()) - min(values.values()) < 1e-12, (budget, values)


def test_standley_setting1_budget3_matches_published_selection(standley):
    """Setting 1 at budget 3 SNT: three full networks; checked against exhaustive enumeration."""
    val, test = standley[1]
    plan = tg.solve(val, 3.0)
    networks = [n for n in val.networks if not n.endswith("_half")]
    best = min(
        (val.objective_of([val.network_index(n) for n in combo]), combo)
        for k in (1, 2, 3)
        for combo in itertools.combinations(networks, k)
    )
    assert plan.objective == pytest.approx(best[0])
    assert test.evaluate(plan.networks).objective < val.evaluate(["sdnke"]).objective


@pytest.mark.parametrize("method", ALL)
def test_same_input_same_plan(method):
    problem = tg.datasets.synthetic_problem(4, seed=3)
    first = tg.solve(problem, 2.5, method=method)
    second = tg.solve(problem, 2.5, method=method)
    assert first.networks == second.networks and first.objective == second.objective


@pytest.mark.parametrize("method", ALL)
def test_infeasible_budget_for_every_solver(method, toy_frame):
    problem = tg.Problem.from_frame(toy_frame)
    with pytest.raises(InfeasibleBudget, match=r"budget 0.7 < minimum 1") as info:
        tg.solve(problem, 0.7, method=method)
    assert info.value.minimum_budget == {"cost": 1.0}
    assert info.value.budget == {"cost": 0.7}


def test_multi_resource_budgets_constrain_every_resource(toy_frame):
    # half-size networks are cheap but slow here; the pair network is fast only on cost
    frame = toy_frame.assign(latency=[3.0, 3.0, 1.0, 1.0, 5.0, 5.0])
    problem = tg.Problem.from_frame(frame, cost=["cost", "latency"])
    loose = tg.solve(problem, {"cost": 1.0, "latency": 5.0})
    assert loose.networks == ("ab",)
    tight = tg.solve(problem, {"cost": 2.0, "latency": 2.0})
    assert tight.networks == ("a", "b")
    assert tg.solve(problem, [2.0, 2.0]).networks == tight.networks
    # each resource alone allows a plan (cost 1: ab; latency 2: a+b), both at once do not
    with pytest.raises(InfeasibleBudget, match="within all of the budgets") as info:
        tg.solve(problem, {"cost": 1.0, "latency": 2.0})
    assert info.value.minimum_budget == {"cost": 1.0, "latency": 2.0}


def test_bad_budgets_and_methods(toy_frame):
    problem = tg.Problem.from_frame(toy_frame)
    with pytest.raises(InvalidArgument, match=r"budgets must be numbers > 0"):
        tg.solve(problem, -1)
    with pytest.raises(InvalidArgument, match=r"Unknown solver method 'fastest'; accepted: \['auto', 'bnb'"):
        tg.solve(problem, 1, method="fastest")
    with pytest.raises(InvalidArgument, match=r"The 'time_limit' parameter of solve must be a number > 0 or None; got"):
        tg.solve(problem, 1, time_limit=0)
    two = tg.Problem.from_frame(toy_frame.assign(flops=1.0), cost=["cost", "flops"])
    with pytest.raises(InvalidArgument, match="is one number but the problem has 2 cost columns"):
        tg.solve(two, 1.0)
    with pytest.raises(InvalidArgument, match=r"per cost column \['cost', 'flops'\]; missing \['flops'\]\.$"):
        tg.solve(two, {"cost": 1.0})
    with pytest.raises(InvalidArgument, match=r"; unknown \['ms'\], missing \['flops'\]\.$"):
        tg.solve(two, {"cost": 1.0, "ms": 2.0})


def test_exhaustive_refuses_large_instances():
    problem = tg.datasets.synthetic_problem(8, seed=0)
    with pytest.raises(InstanceTooLarge, match="Exhaustive search would examine up to .* use method='bnb' or 'ilp'"):
        tg.solve(problem, 8, method="exhaustive")


@pytest.mark.parametrize("method", ["bnb", "ilp"])
def test_time_limit_returns_best_plan_with_its_gap(method):
    problem = tg.datasets.synthetic_problem(10, seed=1)
    plan = tg.solve(problem, 5.0, method=method, time_limit=0.05)
    assert plan.cost["cost"] <= 5.0
    if not plan.optimal:  # a fast machine may finish; then it must be a real optimum
        assert plan.bound <= plan.objective and plan.gap > 0
    reference = tg.solve(problem, 5.0, method="ilp")
    assert plan.objective >= reference.objective - 1e-9


def test_auto_reports_the_method_it_used():
    plan = tg.solve(tg.datasets.standley2020(1, "val"), 2.0)
    assert plan.solver in {"bnb", "ilp", "partition-dp"} and plan.optimal
    assert plan.wall_time > 0 and math.isfinite(plan.bound)


def test_greedy_makes_no_optimality_claim():
    plan = tg.solve(tg.datasets.standley2020(1, "val"), 2.5, method="greedy")
    assert not plan.optimal and plan.status == "feasible"


CTRL_C_AFTER_A_SOLVE = """
import os, signal, time
import taskgroup as tg
from taskgroup.datasets import synthetic_problem
tg.solve(synthetic_problem(6, seed=0), 3, method={method!r})
try:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)
    print("SIGINT did nothing")
except KeyboardInterrupt:
    print("KeyboardInterrupt")
"""


@pytest.mark.parametrize("method", ["ilp-cpsat", "ilp-cbc", "ilp-scip", "ilp"])
def test_ctrl_c_still_raises_keyboard_interrupt_after_a_solve(method):
    # CP-SAT left SIGINT at the C default after a solve: Ctrl-C then killed the process with nothing committed
    done = subprocess.run(
        [sys.executable, "-c", CTRL_C_AFTER_A_SOLVE.format(method=method)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "KeyboardInterrupt", (done.returncode, done.stderr[-500:])
