"""tg.grouping.group: every registered method returns a valid plan with a valid bound; exact ones are exact."""

import numpy as np
import pandas as pd
import pytest

import taskgroup as tg
from taskgroup.errors import InstanceTooLarge, InvalidArgument
from taskgroup.estimate import planted_affinity
from taskgroup.grouping import GROUPING_METHODS, group, group_problem

METHODS = sorted(GROUPING_METHODS)


def random_matrix(n, seed):
    rng = np.random.default_rng(seed)
    names = [f"x{i}" for i in range(n)]
    return pd.DataFrame(rng.normal(size=(n, n)), index=names, columns=names)


def check_plan(plan, matrix, k, singletons):
    problem = group_problem(matrix, singletons=singletons)
    assert 1 <= len(plan.networks) <= k
    scored = problem.evaluate(plan.networks)  # same names, same values: the plan is what it says
    assert plan.objective == pytest.approx(scored.objective)
    assert plan.bound <= plan.objective + 1e-9
    return problem


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("singletons", ["exclude", "diagonal"])
def test_methods_valid_and_exact_ones_optimal(method, singletons):
    for seed in range(3):
        matrix = random_matrix(7, seed)
        for k in (1, 2, 3):
            plan = group(matrix, k, method=method, singletons=singletons, time_limit=10, seed=seed)
            problem = check_plan(plan, matrix, k, singletons)
            best = tg.solve(problem, budget=k, method="bnb")
            assert plan.objective >= best.objective - 1e-9
            assert plan.bound <= best.objective + 1e-9  # the bound is a proven bound
            if GROUPING_METHODS[method].exact:
                assert plan.optimal and plan.objective == pytest.approx(best.objective)


def test_lower_is_better_matrix():
    pairs = tg.datasets.tag2021("taskonomy", "pairs")  # losses; attrs say so
    plan = group(pairs, 2, method="colgen", singletons="diagonal")
    assert not plan.higher_is_better
    best = tg.solve(group_problem(pairs, singletons="diagonal", higher_is_better=False), budget=2)
    assert plan.optimal and plan.objective == pytest.approx(best.objective)


def test_planted_clusters_recovered():
    matrix, labels = planted_affinity(20, 4, seed=3)
    planted = {frozenset(matrix.index[labels == c]) for c in range(4)}
    for method in ("greedy-merge", "beam", "local-search", "graph-cluster"):
        plan = group(matrix, 4, method=method, seed=0, time_limit=10)
        assert {frozenset(n.split("+")) for n in plan.networks} == planted, method
        if method == "colgen":
            assert plan.optimal  # the column-generation bound closes on the planted instance


def test_colgen_bound_on_twenty_tasks():
    matrix, _ = planted_affinity(20, 4, seed=1)
    # no time limit (it would make the proof depend on the machine's load): colgen ends when its bound closes
    plan = group(matrix, 4, method="colgen", time_limit=None)
    assert plan.optimal  # planted structure: the bound closes
    heuristic = group(matrix, 4, method="local-search", time_limit=None)
    assert heuristic.objective >= plan.objective - 1e-9


def test_seeded_and_errors():
    matrix = random_matrix(9, 0)
    a = group(matrix, 3, method="local-search", seed=5)
    b = group(matrix, 3, method="local-search", seed=5)
    assert a.networks == b.networks
    with pytest.raises(InvalidArgument, match="accepted"):
        group(matrix, 3, method="kmeans")
    with pytest.raises(InvalidArgument, match=r"The 'n_networks' parameter of group must be an integer >= 1; got 0"):
        group(matrix, 0)
    with pytest.raises(InvalidArgument, match="width"):
        group(matrix, 2, method="beam", width=0)
    with pytest.raises(InstanceTooLarge):
        group(random_matrix(17, 0), 2, method="enumerate")
    with pytest.raises(InvalidArgument, match="square"):
        group(matrix.iloc[:, :5], 2)


@pytest.mark.slow
def test_forty_tasks_every_method_finds_the_planted_groups():
    """No time limit and no clock: each method ends by its own rule (timings: benchmarks/grouping.py)."""
    matrix, labels = planted_affinity(40, 5, seed=0)
    planted = {frozenset(matrix.index[labels == c]) for c in range(5)}
    for method in ("greedy-merge", "beam", "local-search", "graph-cluster", "colgen"):
        plan = group(matrix, 5, method=method, time_limit=None)
        assert plan.bound <= plan.objective + 1e-9
        assert {frozenset(n.split("+")) for n in plan.networks} == planted, method
        if method == "colgen":
            assert plan.optimal  # the column-generation bound closes on the planted instance


def test_time_limit_none_means_no_limit_in_every_method(monkeypatch):
    """None reaches column generation, local search and the ILP as None (no hidden default), and they finish."""
    import importlib

    import taskgroup.solvers as solvers_package

    group_module = importlib.import_module("taskgroup.grouping.group")  # the package's `group` is the function

    seen: dict[str, list] = {"colgen": [], "local": [], "ilp": []}
    real_colgen, real_local, real_solve = (
        group_module.column_generation,
        group_module.local_search,
        solvers_package.solve,
    )

    def colgen(*args, time_limit, **kwargs):
        seen["colgen"].append(time_limit)
        return real_colgen(*args, time_limit=time_limit, **kwargs)

    def local(*args, time_limit, **kwargs):
        seen["local"].append(time_limit)
        return real_local(*args, time_limit=time_limit, **kwargs)

    def solve(*args, time_limit, **kwargs):
        seen["ilp"].append(time_limit)
        return real_solve(*args, time_limit=time_limit, **kwargs)

    monkeypatch.setattr(group_module, "column_generation", colgen)
    monkeypatch.setattr(group_module, "local_search", local)
    monkeypatch.setattr(solvers_package, "solve", solve)  # _enumerate and the colgen master import it from here
    matrix = random_matrix(8, 4)
    best = tg.solve(group_problem(matrix), budget=3, method="bnb")
    for method in METHODS:
        plan = group(matrix, 3, method=method, time_limit=None, seed=1)
        assert plan.bound <= best.objective + 1e-9
        if GROUPING_METHODS[method].exact:
            assert plan.optimal and plan.objective == pytest.approx(best.objective), method
    assert seen["colgen"] == [None] and seen["local"] == [None, None] and seen["ilp"] and set(seen["ilp"]) == {None}


def test_colgen_without_time_limit_proves_optimality_past_enumeration():
    """Past 16 tasks (search pricing, no listing) an unlimited column generation still ends with a proof."""
    matrix, labels = planted_affinity(18, 3, seed=2)
    plan = group(matrix, 3, method="colgen", time_limit=None)
    assert plan.optimal
    assert {frozenset(n.split("+")) for n in plan.networks} == {frozenset(matrix.index[labels == c]) for c in range(3)}


def test_unlimited_local_search_stops_by_its_rounds_and_repeats_for_a_seed():
    from taskgroup.grouping.cover import GroupScorer
    from taskgroup.grouping.heuristics import local_search

    matrix = random_matrix(12, 3)
    scorer = GroupScorer(matrix.to_numpy(), False, tuple(matrix.index))
    first = local_search(scorer, 4, seed=2, time_limit=None, max_rounds=5)
    again = local_search(scorer, 4, seed=2, time_limit=None, max_rounds=5)
    assert first == again  # no clock involved: the same seed, the same groups and the same number of moves
    assert scorer.valid(first[0], 4)


def test_local_search_stops_after_its_patience_of_fruitless_kicks():
    from taskgroup.grouping.cover import GroupScorer
    from taskgroup.grouping.heuristics import local_search

    matrix = random_matrix(14, 5)
    scorer = GroupScorer(matrix.to_numpy(), False, tuple(matrix.index))
    descent = local_search(scorer, 3, seed=1, max_rounds=0)
    assert local_search(scorer, 3, seed=1, max_rounds=None, patience=0) == descent  # no kick at all
    patient = local_search(scorer, 3, seed=1, max_rounds=None, patience=4)
    assert patient == local_search(scorer, 3, seed=1, max_rounds=None, patience=4)  # no clock: repeatable
    assert scorer.value(patient[0]) >= scorer.value(descent[0]) and patient[1] > descent[1]
    with pytest.raises(InvalidArgument, match="max_rounds, patience or time_limit"):
        local_search(scorer, 3, max_rounds=None)


def test_local_search_says_its_progress_and_stops_when_asked(monkeypatch):
    from taskgroup.grouping import heuristics
    from taskgroup.grouping.cover import GroupScorer

    matrix = random_matrix(20, 6)
    scorer = GroupScorer(matrix.to_numpy(), False, tuple(matrix.index))
    monkeypatch.setattr(heuristics, "PROGRESS_EVERY", 0.0)  # a line after every kick
    lines: list[str] = []
    groups, _ = heuristics.local_search(scorer, 3, seed=0, max_rounds=3, say=lines.append)
    assert [line.split(",")[0] for line in lines] == [
        "local search: 1 kicks",
        "local search: 2 kicks",
        "local search: 3 kicks",
    ]
    assert lines[-1].split(", ")[1] == f"value {scorer.value(groups):.6g}"
    # Ctrl-C under interrupt_flag: asked between kicks and within descents, the best selection so far comes back
    asked = iter(range(10**6))
    stopped, moves = heuristics.local_search(scorer, 3, seed=0, max_rounds=10**6, stop=lambda: next(asked) >= 3)
    _, all_moves = heuristics.local_search(scorer, 3, seed=0, max_rounds=20)
    assert scorer.valid(stopped, 3) and moves < all_moves
