"""The tie rule (taskgroup.solvers.ties) for every exact method, the frontier and budget=None.

Among plans with the optimal objective every exact solver returns the cheapest (least total cost: per
resource cost over the resource's largest network cost, summed), and no plan carries a network that serves
no task. References: exhaustive search over subsets written here, and a lexicographic MIP on integer data.
"""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.linear_solver import pywraplp

import taskgroup as tg
from taskgroup.errors import InfeasibleBudget
from taskgroup.solvers.instance import PAIRWISE_WORK, undominated

EXACT = sorted(name for name, spec in tg.available_solvers().items() if spec.exact)
ALL = sorted(tg.available_solvers())


def issue_problem_shared():
    """Issue 9, case 1: a, b and ab reach the same objective 0.8; ab alone costs 2.5, all three 5.5."""
    losses = np.array([[0.4, np.nan], [np.nan, 0.4], [0.4, 0.4]])
    return tg.Problem(["a", "b"], ["a", "b", "ab"], [1.5, 1.5, 2.5], losses)


def issue_problem_one_task():
    """Issue 9, case 2: one task; a plan of both (cost 3) is no better than either alone."""
    return tg.Problem(["t"], ["a", "b"], [1.0, 2.0], np.array([[0.3], [0.3]]))


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize("budget", [10.0, None])
def test_issue_case_unused_networks_are_never_returned(method, budget):
    plan = tg.solve(issue_problem_shared(), budget, method=method)
    assert plan.networks == ("ab",)
    assert plan.cost["cost"] == 2.5 and plan.objective == pytest.approx(0.8)


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize("budget", [3.0, None])
def test_issue_case_one_task_gets_the_cheaper_equal_network(method, budget):
    plan = tg.solve(issue_problem_one_task(), budget, method=method)
    assert plan.networks == ("a",)  # equal loss 0.3: a costs 1, b costs 2
    assert plan.cost["cost"] == 1.0


def test_issue_cases_on_the_frontier():
    for problem, expected in ((issue_problem_shared(), [("ab",)]), (issue_problem_one_task(), [("a",)])):
        front = tg.frontier(problem)
        assert [plan.networks for plan in front] == expected


# ------------------------------------------------------------------ random instances with forced ties
@st.composite
def tied_problems(draw):
    """Integer-valued data on tiny grids (losses in tenths, integer costs), so ties are the rule."""
    n = draw(st.integers(1, 4))
    r = draw(st.integers(1, 2))
    m = draw(st.integers(1, 7))
    masks = [draw(st.integers(1, 2**n - 1)) for _ in range(m)]
    covered = 0
    for mask in masks:
        covered |= mask
    masks += [1 << t for t in range(n) if not covered >> t & 1]
    losses = np.full((len(masks), n), np.nan)
    for j, mask in enumerate(masks):
        for t in range(n):
            if mask >> t & 1:
                losses[j, t] = draw(st.sampled_from([1, 2, 3])) / 10
    costs = np.array([[float(draw(st.integers(1, 3))) for _ in range(r)] for _ in masks])
    weights = [float(draw(st.sampled_from([1, 2]))) for _ in range(n)]
    return tg.Problem(
        [f"t{i}" for i in range(n)],
        [f"n{j}" for j in range(len(masks))],
        costs,
        losses,
        weights,
        cost_names=[f"c{k}" for k in range(r)],
    )


def reference(problem, budget):
    """(objective, total cost) of the first plan in the tie rule, by enumerating every subset; None if none fits."""
    unit = problem.costs.max(axis=0)
    b = np.array([np.inf if budget is None else budget[c] for c in problem.cost_names])
    best = None
    for k in range(1, problem.n_networks + 1):
        for subset in itertools.combinations(range(problem.n_networks), k):
            s = list(subset)
            if np.any(problem.costs[s].sum(axis=0) > b + 1e-9):
                continue
            served = np.where(problem.serves[s], problem.losses[s], np.inf).min(axis=0)
            if not np.all(np.isfinite(served)):
                continue
            key = (round(float(served @ problem.weights), 9), round(float((problem.costs[s] / unit).sum()), 9))
            best = key if best is None or key < best else best
    return best


def lexicographic_mip(problem, budget):
    """The same two keys from one MIP on integer data: minimise BIG * 10 * loss + cost, exact because integral."""
    unit = problem.costs.max(axis=0)
    # Total cost as an integer: costs are integers, units are integers; scale by the product of units.
    scale = int(np.prod(unit))
    cost_int = [
        int(round(sum(problem.costs[j, r] * scale / unit[r] for r in range(len(problem.cost_names)))))
        for j in range(problem.n_networks)
    ]
    big = sum(cost_int) + 1
    solver = pywraplp.Solver.CreateSolver("SCIP")
    x = [solver.BoolVar(f"x{j}") for j in range(problem.n_networks)]
    terms = []
    for t in range(problem.n_tasks):
        ys = []
        for j in range(problem.n_networks):
            if problem.serves[j, t]:
                y = solver.BoolVar(f"y{j}_{t}")
                solver.Add(y <= x[j])
                ys.append(y)
                terms.append(int(round(problem.losses[j, t] * 10 * problem.weights[t])) * big * y)
        solver.Add(sum(ys) == 1)
    if budget is not None:
        for r, c in enumerate(problem.cost_names):
            solver.Add(sum(float(problem.costs[j, r]) * x[j] for j in range(problem.n_networks)) <= budget[c])
    solver.Minimize(sum(terms) + sum(cost_int[j] * x[j] for j in range(problem.n_networks)))
    status = solver.Solve()
    if status == pywraplp.Solver.INFEASIBLE:
        return None
    value = round(solver.Objective().Value())
    return (round(value // big / 10, 9), round(value % big / scale, 9))


def key(plan, problem):
    unit = problem.costs.max(axis=0)
    total = sum(plan.cost[c] / unit[r] for r, c in enumerate(problem.cost_names))
    return (round(plan.objective, 9), round(total, 9))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tied_problems(), st.sampled_from([0.3, 0.6, 1.0, None]))
def test_every_exact_method_returns_the_cheapest_optimal_plan(problem, fraction):
    if fraction is None:
        budget = None
    else:
        total = problem.costs.sum(axis=0)
        budget = {c: float(max(1.0, np.floor(fraction * total[r]))) for r, c in enumerate(problem.cost_names)}
    expected = reference(problem, budget)
    assert expected == lexicographic_mip(problem, budget)
    for method in EXACT:
        try:
            plan = tg.solve(problem, budget, method=method)
        except InfeasibleBudget:
            assert expected is None, method
            continue
        assert key(plan, problem) == expected, method
        assert all(detail.serves for detail in plan.details), method  # no network serves nothing
    for method in ALL:  # heuristics too: never an unused network
        try:
            plan = tg.solve(problem, budget, method=method)
        except InfeasibleBudget:
            continue
        assert all(detail.serves for detail in plan.details), method


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tied_problems())
def test_frontier_rows_are_the_cheapest_optimal_plans(problem):
    single = problem.with_costs(problem.cost_names[0])
    for plan in tg.frontier(single):
        budget = {single.cost_names[0]: plan.cost[single.cost_names[0]]}
        assert key(plan, single) == reference(single, budget)
        assert all(detail.serves for detail in plan.details)


# ------------------------------------------------------------------ dominance reduction
@settings(max_examples=60, deadline=None)
@given(tied_problems(), st.booleans())
def test_undominated_matches_pairwise_definition(problem, grouped):
    WL = np.where(problem.serves, problem.losses * problem.weights, np.inf)
    C = problem.costs
    m = len(WL)
    expected = []
    for j in range(m):
        dominated = False
        for k in range(m):
            if k == j or (grouped and not np.array_equal(np.isfinite(WL[k]), np.isfinite(WL[j]))):
                continue
            le = np.all(C[k] <= C[j]) and np.all(WL[k] <= WL[j])
            eq = np.all(C[k] == C[j]) and np.all(WL[k] == WL[j])
            if le and (not eq or k < j):
                dominated = True
                break
        if not dominated:
            expected.append(j)
    import taskgroup.solvers.instance as instance_module

    saved = instance_module.PAIRWISE_WORK
    instance_module.PAIRWISE_WORK = 0 if grouped else PAIRWISE_WORK
    try:
        assert undominated(WL, C).tolist() == expected
    finally:
        instance_module.PAIRWISE_WORK = saved


# ------------------------------------------------------------------ the MIP's tie probe (issue 24)
def _tie_model(problem):
    from taskgroup.solvers.instance import SelectionInstance
    from taskgroup.solvers.model import SelectionModel

    instance = SelectionInstance.build(problem, np.array([10.0]), reduce=False)
    model = SelectionModel(instance)
    calls = []
    run = model.run

    def counted(minimise="loss", time_limit=None):
        calls.append(minimise)
        return run(minimise, time_limit)

    model.run = counted
    return instance, model, calls


def test_tie_probe_alone_proves_that_no_tied_plan_is_cheaper(monkeypatch):
    from taskgroup.solvers import ilp
    from taskgroup.solvers.ilp import _cheapest_tied

    monkeypatch.setattr(ilp, "_cheaper_single", lambda *args: None)  # the probe, not the scan of single networks
    monkeypatch.setattr(ilp, "no_cheaper_tie", lambda *args: False)  # nor the dual bound
    instance, model, calls = _tie_model(issue_problem_shared())
    ab = [2]  # the cheapest optimal plan: objective 0.8 at cost 2.5
    assert _cheapest_tied(model, ab, None) == ab
    assert calls == ["loss"]  # the probe only: no second solve minimising the total cost
    assert model.cap_row.ub() == model.solver.infinity() and model.total_cost_row.ub() == model.solver.infinity()


def test_tie_probe_finds_the_cheapest_tied_plan_when_the_first_optimum_is_dearer(monkeypatch):
    from taskgroup.solvers import ilp
    from taskgroup.solvers.ilp import _cheapest_tied

    monkeypatch.setattr(ilp, "_cheaper_single", lambda *args: None)  # the probe, not the scan of single networks
    monkeypatch.setattr(ilp, "no_cheaper_tie", lambda *args: False)  # nor the dual bound
    instance, model, calls = _tie_model(issue_problem_shared())
    both = [0, 1]  # a and b: the same objective 0.8 at cost 3
    assert instance.objective(both) == pytest.approx(instance.objective([2]))
    assert _cheapest_tied(model, both, None) == [2]
    assert calls == ["loss", "total_cost"]


def _equal_cost_problem(all_loss: float):
    """Two tasks; networks "a", "b" (loss 0.4 each) and "ab" (loss ``all_loss`` on each task); cost 1 each."""
    losses = np.array([[0.4, np.nan], [np.nan, 0.4], [all_loss, all_loss]])
    return tg.Problem(["a", "b"], ["a", "b", "ab"], [1.0, 1.0, 1.0], losses)


@pytest.mark.parametrize(("all_loss", "expected"), [(0.4, [2]), (0.41, [0, 1])])
def test_when_a_cheaper_plan_holds_one_network_the_networks_are_scanned_not_solved(all_loss, expected):
    """k = 2 networks of equal cost: a cheaper tie can only be one network, so no MIP decides it."""
    from taskgroup.solvers.ilp import _cheapest_tied

    instance, model, calls = _tie_model(_equal_cost_problem(all_loss))
    both = [0, 1]  # a and b: the optimum (0.8) at cost 2
    assert _cheapest_tied(model, both, None) == expected
    assert calls == []
    plan = tg.solve(_equal_cost_problem(all_loss), 2.0, method="ilp")
    assert sorted(plan.networks) == sorted(["a", "b", "ab"][j] for j in expected)


# ------------------------------------------------------------------ the dual bound before the probe (issue 24)
def _pairs_problem(n_tasks: int, pair_loss: float):
    """Tasks t0..; a single network per task (loss 0.5) and one per pair (t0, t1), (t2, t3), ... (loss
    ``pair_loss`` on both tasks); cost 1 each, so a budget of k = k networks."""
    names = [f"t{i}" for i in range(n_tasks)]
    networks = names + [f"t{i}+t{i + 1}" for i in range(0, n_tasks, 2)]
    losses = np.full((len(networks), n_tasks), np.nan)
    for i in range(n_tasks):
        losses[i, i] = 0.5
        losses[n_tasks + i // 2, i] = pair_loss
    return tg.Problem(names, networks, np.ones(len(networks)), losses)


@pytest.mark.parametrize("n_tasks", [4, 6])
def test_the_dual_bound_proves_without_a_second_mip_that_no_tied_plan_is_cheaper(n_tasks):
    """k = n_tasks / 2 + 1 networks: t0 and t1 alone at 0.5 and the other tasks in pairs at 0.51 is optimal;
    the only plan with fewer networks is all pairs and loses more. The bound proves it: no probe, no second solve."""
    problem = _pairs_problem(n_tasks, 0.51)
    from taskgroup.solvers.ilp import _cheapest_tied
    from taskgroup.solvers.instance import SelectionInstance
    from taskgroup.solvers.model import SelectionModel
    from taskgroup.solvers.tie_bound import no_cheaper_tie

    k = n_tasks // 2 + 1
    instance = SelectionInstance.build(problem, np.array([float(k)]), reduce=False)
    first = [0, 1, *range(n_tasks + 1, n_tasks + n_tasks // 2)]  # t0, t1 alone, the other tasks in pairs
    assert len(first) == k and instance.objective(first) == pytest.approx(1.0 + 0.51 * (n_tasks - 2))
    assert no_cheaper_tie(instance, first)
    model = SelectionModel(instance)
    calls = []
    run = model.run
    model.run = lambda minimise="loss", time_limit=None: calls.append(minimise) or run(minimise, time_limit)
    assert _cheapest_tied(model, first, None) == first
    assert calls == [] and model.cap_row is None  # neither the probe nor a second solve ran


@pytest.mark.parametrize("n_tasks", [4, 6])
def test_a_cheaper_tied_plan_with_several_networks_is_still_found(n_tasks):
    """k = n_tasks / 2 + 1 networks of cost 1 and pairs as good as singles (0.5): the first optimum found may
    hold singles, but the cheapest tied plan is the n_tasks / 2 pairs; the bound must not rule it out."""
    problem = _pairs_problem(n_tasks, 0.5)
    from taskgroup.solvers.ilp import _cheapest_tied
    from taskgroup.solvers.instance import SelectionInstance
    from taskgroup.solvers.model import SelectionModel
    from taskgroup.solvers.tie_bound import no_cheaper_tie

    k = n_tasks // 2 + 1
    instance = SelectionInstance.build(problem, np.array([float(k)]), reduce=False)
    pairs = list(range(n_tasks, n_tasks + n_tasks // 2))
    dearer = [0, 1, *pairs[1:]]  # the same objective, k networks
    assert instance.objective(dearer) == pytest.approx(instance.objective(pairs))
    assert not no_cheaper_tie(instance, dearer)
    assert _cheapest_tied(SelectionModel(instance), dearer, None) == pairs
    plan = tg.solve(problem, float(k), method="ilp")
    assert sorted(plan.networks) == sorted(problem.networks[j] for j in pairs)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tied_problems(), st.sampled_from([0.3, 0.6, 1.0, None]))
def test_the_dual_bound_never_rules_out_a_cheaper_tied_plan(problem, fraction):
    """Every optimal plan, by enumeration: the bound may claim "no cheaper tie" only where none exists."""
    from taskgroup.solvers.instance import SelectionInstance, fits, parse_budget
    from taskgroup.solvers.tie_bound import no_cheaper_tie

    if fraction is None:
        b = parse_budget(problem, None)
    else:
        b = np.maximum(1.0, np.floor(fraction * problem.costs.sum(axis=0)))
    instance = SelectionInstance.build(problem, b, reduce=False)
    plans = [
        list(s)
        for k in range(1, instance.m + 1)
        for s in itertools.combinations(range(instance.m), k)
        if fits(instance.C[list(s)].sum(axis=0), b) and np.isfinite(instance.objective(s))
    ]
    if not plans:
        return
    best = min(instance.objective(p) for p in plans)
    tied = [p for p in plans if instance.objective(p) <= best + 1e-9]
    for plan in tied:
        cheaper = any(instance.precedes(other, plan) for other in tied)
        if cheaper:
            assert not no_cheaper_tie(instance, plan), plan


@pytest.mark.parametrize(("half_loss", "proven"), [(0.41, True), (0.4, False)])
def test_with_costs_in_half_steps_a_cheaper_plan_is_cheaper_by_a_half(half_loss, proven):
    """Costs 1 and 0.5: a plan cheaper than [a, b] (cost 2) costs at most 1.5, so the bound proves that none
    ties when the half-size network of task a loses more (0.41), and must not when it ties (0.4)."""
    from taskgroup.solvers.instance import SelectionInstance
    from taskgroup.solvers.tie_bound import _cost_step, no_cheaper_tie

    losses = np.array([[0.4, np.nan], [np.nan, 0.4], [half_loss, np.nan]])
    problem = tg.Problem(["a", "b"], ["a", "b", "a_half"], [1.0, 1.0, 0.5], losses)
    instance = SelectionInstance.build(problem, np.array([2.0]), reduce=False)
    assert _cost_step((instance.C / instance.cost_unit).sum(axis=1)) == 0.5
    assert no_cheaper_tie(instance, [0, 1]) is proven
    plan = tg.solve(problem, 2.0, method="ilp")
    assert sorted(plan.networks) == (["a", "b"] if proven else ["a_half", "b"])


def test_cost_steps_are_found_only_for_whole_multiples():
    from taskgroup.solvers.tie_bound import _cost_step

    assert _cost_step(np.array([1.0, 0.5, 0.25])) == 0.25
    assert _cost_step(np.array([1.0, 2.0 / 3.0, 1.0 / 3.0])) == pytest.approx(1.0 / 3.0)
    assert _cost_step(np.array([1.0, 0.7412345678])) == 0.0  # measured costs: no step, the tolerance only
