"""Selection over implicit candidates (every group, valued by a predictor) against exhaustive search."""

from __future__ import annotations

import functools
import itertools
import re
import time

import numpy as np
import pytest

import taskgroup as tg
from taskgroup.errors import InstanceTooLarge, InvalidArgument, InvalidProblem
from taskgroup.estimate.hoa import hoa, hoa_predictor
from taskgroup.grouping import colgen as colgen_module
from taskgroup.grouping.cover import GroupScorer
from taskgroup.grouping.group import select_groups


def random_predictor(n: int, seed: int, *, n_measured: int = 4, singletons: bool = False) -> GroupScorer:
    """A predictor with pairwise terms, a size term, and a few measured groups whose values differ from it."""
    rng = np.random.default_rng(seed)
    S = rng.normal(0.0, 1.0, (n, n))
    offset = np.zeros((n + 1, n))
    offset[2:] = -0.2 * np.log(np.arange(1, n))[:, None] * rng.uniform(0.5, 1.5, n)
    scorer = GroupScorer(S, singletons, tuple(f"t{i}" for i in range(n)), offset=offset)
    groups = scorer.all_groups()
    for i in rng.choice(len(groups), n_measured, replace=False):
        g = groups[int(i)]
        row = np.full(n, -np.inf)
        idx = sorted(g)
        # measured values far from the prediction, both ways, so overriding them changes the answer
        row[idx] = scorer.values(g)[idx] + rng.choice([-3.0, 3.0]) + rng.normal(0, 0.1, len(idx))
        scorer.measured[g] = row
    scorer._cache.clear()
    return scorer


@functools.cache
def exhaustive_random(n: int, k: int, seed: int) -> float:
    """The exhaustive optimum of :func:`random_predictor` (computed once for both pricing variants)."""
    return exhaustive_value(random_predictor(n, seed, singletons=seed % 2 == 1), k)


def exhaustive_value(scorer: GroupScorer, k: int) -> float:
    problem = scorer.listed_problem(scorer.all_groups())
    plan = tg.solve(problem, budget=k, method="exhaustive")
    return -plan.objective


@pytest.mark.parametrize("pricing", ["enumerate", "search"])
@pytest.mark.parametrize(("n", "k", "seed"), [(8, 2, 0), (7, 2, 1), (6, 3, 2), (5, 4, 3), (6, 2, 3)])
def test_colgen_over_implicit_groups_equals_exhaustive(n, k, seed, pricing, monkeypatch):
    if pricing == "search":  # the branch-and-bound pricing used past 16 tasks, where exhaustive search can check
        monkeypatch.setattr(colgen_module, "ENUMERATE_MAX_TASKS", 0)
    scorer = random_predictor(n, seed, singletons=seed % 2 == 1)
    plan = select_groups(scorer, k, method="colgen", time_limit=30)
    best = exhaustive_random(n, k, seed)
    assert -plan.objective == pytest.approx(best, abs=1e-7)
    assert -plan.bound >= best - 1e-7  # the reported bound is valid (and closed whenever plan.optimal)
    if pricing == "enumerate":  # exact pricing over a listed pool closes the gap by construction
        assert plan.optimal


def test_measured_values_override_predictions():
    n = 6
    scorer = GroupScorer(np.zeros((n, n)), False, tuple("abcdef"))
    target = frozenset({0, 1, 2})
    assert np.all(scorer.values(target)[[0, 1, 2]] == 0.0)
    row = np.full(n, -np.inf)
    row[[0, 1, 2]] = 5.0
    measured = GroupScorer(np.zeros((n, n)), False, tuple("abcdef"), measured={target: row})
    assert np.all(measured.values(target)[[0, 1, 2]] == 5.0)
    plan = select_groups(measured, 2, method="colgen")
    # the measured group is the best one for a, b, c; the other three tasks need a group of their own
    assert "a+b+c" in plan.networks and plan.optimal
    assert -plan.objective == pytest.approx(15.0)
    problem = measured.listed_problem([target, frozenset({3, 4, 5})])
    assert not problem.predicted[0].any() and problem.predicted[1, [3, 4, 5]].all()


def test_measured_group_changes_the_search_bound(monkeypatch):
    """A measured group worse than predicted must not be priced at its prediction (no-good cut)."""
    monkeypatch.setattr(colgen_module, "ENUMERATE_MAX_TASKS", 0)
    n = 6
    S = np.full((n, n), -1.0)
    S[np.ix_([0, 1, 2], [0, 1, 2])] = 2.0
    S[np.ix_([3, 4, 5], [3, 4, 5])] = 2.0
    row = np.full(n, -np.inf)
    row[[0, 1, 2]] = -5.0  # measured: the planted group is in fact bad
    scorer = GroupScorer(S, False, tuple("abcdef"), measured={frozenset({0, 1, 2}): row})
    plan = select_groups(scorer, 2, method="colgen")
    assert -plan.objective == pytest.approx(exhaustive_value(scorer, 2))
    assert plan.optimal and "a+b+c" not in plan.networks


def pair_problem(n: int, seed: int) -> tg.Problem:
    rng = np.random.default_rng(seed)
    tasks = [f"t{i}" for i in range(n)]
    names, losses = [], []
    for i in range(n):
        row = np.full(n, np.nan)
        row[i] = rng.uniform(0.5, 1.0)
        names.append(tasks[i])
        losses.append(row)
    for i in range(n):
        for j in range(i + 1, n):
            row = np.full(n, np.nan)
            row[[i, j]] = rng.uniform(0.3, 1.1, 2)
            names.append(f"{tasks[i]}+{tasks[j]}")
            losses.append(row)
    return tg.Problem(tasks, names, np.ones(len(names)), np.array(losses))


def test_hoa_predictor_selection_equals_listed_hoa():
    problem = pair_problem(6, 0)
    listed = hoa(problem)
    for k in (2, 3):
        plan = select_groups(hoa_predictor(problem), k, method="colgen")
        best = tg.solve(listed, budget=k, method="exhaustive" if k == 2 else "ilp")
        assert plan.objective == pytest.approx(best.objective, abs=1e-9)
        assert plan.optimal


def test_hoa_groups_predicts_only_given_groups_past_20_tasks():
    problem = pair_problem(22, 1)
    with pytest.raises(InstanceTooLarge, match="groups="):
        hoa(problem)
    predicted = hoa(problem, groups=[["t0", "t1", "t2"], ("t3", "t21", "t7", "t9")])
    assert predicted.n_networks == problem.n_networks + 2
    j = predicted.network_index("t3+t7+t9+t21")
    pair = {name: problem.losses[problem.network_index(name)] for name in ("t3+t7", "t3+t9", "t3+t21")}
    expected = np.mean([pair["t3+t7"][3], pair["t3+t9"][3], pair["t3+t21"][3]])
    assert predicted.losses[j, 3] == pytest.approx(expected)
    assert predicted.predicted[j].sum() == 4


def test_hoa_groups_needs_only_pairs_inside_the_groups():
    problem = pair_problem(5, 2)
    drop = problem.without_networks(["t3+t4"])
    assert hoa(drop, groups=[["t0", "t1", "t2"]]).n_networks == drop.n_networks + 1
    with pytest.raises(InvalidProblem, match="t3"):
        hoa(drop, groups=[["t0", "t3", "t4"]])


@pytest.mark.parametrize("bad", [["t0", "t1"], ["t0", "t0", "t1"], ["t0", "t1", "zz"], "t0+t1+t2"])
def test_hoa_groups_rejects_bad_groups(bad):
    with pytest.raises(InvalidArgument):
        hoa(pair_problem(4, 0), groups=[bad])


def test_hoa_predictor_rejects_other_sizes():
    problem = tg.datasets.standley2020(1, "val")
    with pytest.raises(InvalidProblem, match="without_networks"):
        hoa_predictor(problem)


@pytest.mark.parametrize(("n", "k", "seed"), [(8, 2, 0), (7, 2, 1), (6, 3, 2), (5, 4, 3), (6, 2, 3)])
def test_size_bound_is_valid(n, k, seed):
    scorer = random_predictor(n, seed, singletons=seed % 2 == 1)
    assert scorer.size_bound(k) >= exhaustive_random(n, k, seed) - 1e-9
    assert scorer.size_bound(k) <= scorer.trivial_bound() + 1e-9


def test_size_bound_is_tight_on_planted_clusters():
    # two clusters of 4 with affinity 1 inside, -1 across: the best 2 groups are the clusters (V = 8), and a
    # group of 4 gives each member at most 1, so the size bound proves it
    labels = np.repeat([0, 1], 4)
    S = np.where(labels[:, None] == labels[None, :], 1.0, -1.0)
    scorer = GroupScorer(S, False, tuple("abcdefgh"))
    assert scorer.size_bound(2) == pytest.approx(8.0, abs=1e-6)
    plan = select_groups(scorer, 2, method="local-search", time_limit=1)
    assert plan.optimal and -plan.objective == pytest.approx(8.0)


@pytest.mark.parametrize("time_limit", [0.05, 30.0])
@pytest.mark.parametrize(("n", "k", "seed"), [(8, 2, 0), (7, 2, 1), (6, 3, 2)])
def test_search_colgen_bound_starts_at_the_size_bound_and_stays_valid(n, k, seed, time_limit, monkeypatch):
    # stabilisation starts from the size bound's duals, so the colgen bound is never worse than the size
    # bound, and it stays valid when the time limit stops pricing early
    monkeypatch.setattr(colgen_module, "ENUMERATE_MAX_TASKS", 0)
    scorer = random_predictor(n, seed, singletons=seed % 2 == 1)
    start = scorer.all_groups(max_size=n)[-1:]  # every task in one group: a valid selection
    result = colgen_module.column_generation(scorer, k, start, time_limit=time_limit)
    best = exhaustive_random(n, k, seed)
    assert result.upper_bound <= scorer.size_bound(k) + 1e-9
    assert result.upper_bound >= best - 1e-7
    assert result.value <= best + 1e-9


@pytest.mark.parametrize(("k", "seed"), [(2, 0), (2, 1), (3, 2)])
def test_fixing_threshold_keeps_every_group_of_a_better_selection(k, seed):
    """Reduced-profit fixing: a selection worth more than `value` uses only groups with P(G) > threshold."""
    scorer = random_predictor(5, seed, n_measured=2)
    groups = scorer.all_groups()
    selections = [
        list(c) for r in range(1, k + 1) for c in itertools.combinations(groups, r) if scorer.valid(list(c), k)
    ]
    values = np.array([scorer.value(s) for s in selections])
    rng = np.random.default_rng(seed)
    for value in np.quantile(values, [0.5, 0.9, 0.99]):
        for _ in range(5):
            pi = rng.normal(0.0, 1.0, 5)
            profit = {g: float(colgen_module.profit(scorer.values(g), pi)) for g in groups}
            threshold = colgen_module._fixing_threshold(value, pi, max(0.0, max(profit.values())), k)
            for selection, v in zip(selections, values):
                if v > value:
                    assert all(profit[g] > threshold for g in selection)


# instances whose LP bound leaves an integrality gap (at (5, 4, 3) exact pricing alone closes it: no fixing)
@pytest.mark.parametrize(("n", "k", "seed"), [(8, 2, 0), (7, 2, 1), (6, 3, 2), (5, 3, 3), (6, 2, 3)])
def test_search_colgen_proves_optimality_by_fixing(n, k, seed, monkeypatch):
    """With the search pricing and proof attempts from the start, the plan is proven and is the optimum."""
    monkeypatch.setattr(colgen_module, "ENUMERATE_MAX_TASKS", 0)
    monkeypatch.setattr(colgen_module, "PROOF_GAP", 10.0)
    calls = []
    threshold = colgen_module._fixing_threshold
    monkeypatch.setattr(colgen_module, "_fixing_threshold", lambda *a: calls.append(a) or threshold(*a))
    scorer = random_predictor(n, seed, singletons=seed % 2 == 1)
    start = scorer.all_groups(max_size=n)[-1:]  # every task in one group: a poor but valid start
    result = colgen_module.column_generation(scorer, k, start, time_limit=30)
    best = exhaustive_random(n, k, seed)
    assert result.value == pytest.approx(best, abs=1e-7)
    assert result.upper_bound == pytest.approx(result.value, abs=1e-7)  # proven
    assert calls  # the proof came from fixing, not from the LP bound alone


def test_colgen_proves_planted_groupings_past_the_enumeration_limit():
    matrix, _ = tg.estimate.planted_affinity(24, 3, seed=0)
    for k in (2, 3, 4):
        plan = tg.grouping.group(matrix, k, method="colgen", time_limit=60)
        assert plan.optimal and plan.bound == pytest.approx(plan.objective, abs=1e-6), k


def test_colgen_reports_progress_on_long_runs_only(monkeypatch):
    scorer = random_predictor(7, 0)
    quiet: list[str] = []
    select_groups(scorer, 2, method="colgen", say=quiet.append)
    assert quiet == []  # a run shorter than PROGRESS_EVERY says nothing
    monkeypatch.setattr(colgen_module, "PROGRESS_EVERY", 0.0)
    lines: list[str] = []
    plan = select_groups(random_predictor(7, 0), 2, method="colgen", say=lines.append)
    assert lines and all(line.startswith("colgen: ") and "bound" in line and "gap" in line for line in lines)
    assert all(line.split("gap ")[1].split("%")[0].replace(".", "").isdigit() for line in lines)  # a relative gap
    assert lines[-1].startswith("colgen: done after ") and f"value {-plan.objective:.6g}" in lines[-1]


def test_progress_is_ignored_by_methods_that_do_not_run_long():
    matrix, _ = tg.estimate.planted_affinity(6, 2, seed=0)
    lines: list[str] = []
    plan = tg.grouping.group(matrix, 2, say=lines.append)  # auto: enumerate at 6 tasks
    assert plan.optimal and lines == []


@pytest.mark.parametrize(("method", "accepted"), [("greedy-merge", "none"), ("colgen", "none"), ("beam", "['width']")])
def test_unknown_method_options_are_refused_by_name(method, accepted):
    matrix, _ = tg.estimate.planted_affinity(6, 2, seed=0)
    with pytest.raises(InvalidArgument, match=rf"'{method}' takes no option\(s\) \['depth'\]; its options: "):
        tg.grouping.group(matrix, 2, method=method, depth=3)
    with pytest.raises(InvalidArgument, match=re.escape(f"its options: {accepted}")):
        tg.grouping.group(matrix, 2, method=method, depth=3)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("pricing", ["exact while affordable", "tolerance ladder", "columns leave the LP at once"])
def test_colgen_bound_on_random_affinities_is_never_below_the_optimum(seed, pricing, monkeypatch):
    """N(0, 1) affinities (the benchmark's kind), search pricing: every bound path keeps the bound valid.

    "tolerance ladder" makes every pricing call leave a tolerance (except at repeated duals) and tries proofs by
    fixing from the first pricing on; "columns leave the LP at once" drops every column unused in the last LP
    solve but the incumbent's; a time limit too short to finish stops pricing mid-search."""
    monkeypatch.setattr(colgen_module, "ENUMERATE_MAX_TASKS", 0)
    if pricing == "tolerance ladder":
        monkeypatch.setattr(colgen_module, "EXACT_PRICINGS_LEFT", 10**9)
        monkeypatch.setattr(colgen_module, "PROOF_GAP", 10.0)
    if pricing == "columns leave the LP at once":
        monkeypatch.setattr(colgen_module, "COLUMN_AGE", 0)
        monkeypatch.setattr(colgen_module, "LP_COLUMNS", 1)
    n, k = 6 + seed % 3, 2 + seed % 2
    rng = np.random.default_rng(100 + seed)
    S = rng.normal(0.0, 1.0, (n, n))
    np.fill_diagonal(S, 0.0)
    scorer = GroupScorer(S, False, tuple(f"t{i}" for i in range(n)))
    best = -tg.solve(scorer.listed_problem(scorer.all_groups()), budget=k, method="bnb").objective
    start = scorer.all_groups(max_size=n)[-1:]
    for time_limit in (None, 0.02):
        result = colgen_module.column_generation(scorer, k, start, time_limit=time_limit)
        assert result.upper_bound >= best - 1e-7
        assert result.value <= best + 1e-9 and scorer.valid(result.groups, k)
        if time_limit is None:  # unlimited: it ends with the optimum, proven
            assert result.value == pytest.approx(best, abs=1e-7)
            assert result.upper_bound == pytest.approx(best, abs=1e-7)


def test_heuristic_phase_ends_once_the_lp_gain_per_cpu_second_tails_off():
    """`_gain_waning`: the last GAIN_WINDOW rounds against the phase's average rate, per CPU second."""
    waning = colgen_module._gain_waning
    share, window = colgen_module.GAIN_SHARE, colgen_module.GAIN_WINDOW
    steady = [(float(t), 10.0 + 0.1 * t) for t in range(20)]
    assert not any(waning(steady[:i]) for i in range(1, 21))  # a steady rise never tails off
    # a rise, then rounds that each add a tenth of the average rate: the phase ends once the window holds them
    rising = [(float(t), 10.0 + t) for t in range(6)]
    tail = rising + [(5.0 + r, 15.0 + 0.1 * r) for r in range(1, 4)]
    assert [waning(tail[:i]) for i in range(len(rising), len(tail) + 1)] == [False, False, True, True]
    assert not waning(rising + [(6.0, 15.0)])  # one degenerate round after a rise passes (window > 1)
    assert window > 1 and 0.0 < share < 1.0
    # the same LP values at rounds that cost ten times the CPU seconds: gain per second, not per round
    slow = rising + [(5.0 + 10 * r, 15.0 + 0.2 * r) for r in range(1, 4)]
    assert waning(slow) and not waning(rising + [(5.0 + r, 15.0 + 0.2 * r) for r in range(1, 4)])
    # a phase whose LP has not risen (degenerate rounds) or has risen by the solver's noise is left to patience
    assert not waning([(float(t), 10.0) for t in range(30)])
    assert not waning([(0.0, 10.0), (1.0, 10.0 + 1e-9)] + [(float(t), 10.0 + 1e-9) for t in range(2, 30)])


@pytest.mark.slow
def test_a_time_limit_leaves_the_first_master_mip_half_of_it(monkeypatch):
    """At 60 tasks with N(0, 1) affinities the heuristic phase runs far longer than a few seconds; with a time
    limit, the first master MIP still starts by about half of it (the check comes once per round: cheap rounds this
    early), so the plan can improve on the start within the limit."""
    import taskgroup.solvers as solvers
    from taskgroup.grouping.heuristics import greedy_merge

    rng = np.random.default_rng(0)
    S = rng.normal(0.0, 1.0, (60, 60))
    np.fill_diagonal(S, 0.0)
    scorer = GroupScorer(S, False, tuple(f"t{i}" for i in range(60)))
    start = greedy_merge(scorer, 3)
    masters, solve = [], solvers.solve
    monkeypatch.setattr(solvers, "solve", lambda *a, **kw: masters.append(time.perf_counter()) or solve(*a, **kw))
    time_limit = 4.0
    began = time.perf_counter()
    result = colgen_module.column_generation(scorer, 3, start, time_limit=time_limit)
    assert masters and masters[0] - began < 0.85 * time_limit
    assert result.value >= scorer.value(start) - 1e-9 and scorer.valid(result.groups, 3)
