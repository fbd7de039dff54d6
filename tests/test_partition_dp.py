"""The partition DP (method "partition-dp") against exhaustive search and the MIP."""

import importlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskgroup as tg
from taskgroup.errors import InfeasibleBudget
from taskgroup.solvers.instance import SelectionInstance, parse_budget
from taskgroup.solvers.partition_dp import cost_quantum, partition_table, solve_partition_dp
from taskgroup.solvers.registry import Fallback


@st.composite
def problems(draw):
    """1-5 tasks, 1-3 resources, weights, half-size variants of some networks, optional higher-is-better."""
    n = draw(st.integers(1, 5))
    r = draw(st.integers(1, 3))
    m = draw(st.integers(1, 8))
    masks = [draw(st.integers(1, 2**n - 1)) for _ in range(m)]
    covered = 0
    for mask in masks:
        covered |= mask
    masks += [1 << t for t in range(n) if not covered >> t & 1]
    loss = st.sampled_from([0.1, 0.2, 0.3, 0.5]) | st.floats(0.01, 2.0)
    cost = st.sampled_from([0.5, 1.0, 2.0]) | st.floats(0.1, 3.0)
    rows, costs = [], []
    for mask in masks:
        row = [draw(loss) if mask >> t & 1 else np.nan for t in range(n)]
        c = [draw(cost) for _ in range(r)]
        rows.append(row)
        costs.append(c)
        if draw(st.booleans()):  # a half-size variant: same task set, half the cost, a worse loss
            rows.append([v * 1.1 for v in row])
            costs.append([x / 2 for x in c])
    losses = np.array(rows)
    higher = draw(st.booleans())
    weights = [draw(st.sampled_from([1.0, 2.0, 0.5])) for _ in range(n)]
    return tg.Problem(
        [f"t{i}" for i in range(n)],
        [f"n{j}" for j in range(len(rows))],
        np.array(costs),
        -losses if higher else losses,
        weights,
        cost_names=[f"c{k}" for k in range(r)],
        higher_is_better=higher,
    )


def key(plan, problem):
    unit = problem.costs.max(axis=0)
    total = sum(plan.cost[c] / unit[r] for r, c in enumerate(problem.cost_names))
    return round(plan.objective, 9), round(total, 9)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.sampled_from([0.2, 0.5, 1.0, None]))
def test_dp_equals_exhaustive_and_the_mip(problem, fraction):
    if fraction is None:
        budget = None
    else:
        low, high = problem.costs.min(axis=0), problem.costs.sum(axis=0)
        budget = {c: float(low[k] + fraction * (high[k] - low[k])) for k, c in enumerate(problem.cost_names)}
    plans = {}
    for method in ("partition-dp", "exhaustive", "ilp"):
        try:
            plans[method] = tg.solve(problem, budget, method=method)
        except InfeasibleBudget:
            plans[method] = None
    dp = plans["partition-dp"]
    if plans["exhaustive"] is None:
        assert dp is None
        return
    assert dp.optimal and dp.solver == "partition-dp"
    assert key(dp, problem) == key(plans["exhaustive"], problem) == key(plans["ilp"], problem)
    confirmed = problem.evaluate(dp.networks)
    assert confirmed.objective == pytest.approx(dp.objective, abs=1e-12)
    if budget is not None:
        assert all(dp.cost[c] <= budget[c] * (1 + 1e-9) for c in problem.cost_names)


@pytest.mark.parametrize("n", [4, 7])
def test_dp_staircase_equals_the_mip_staircase(n):
    problem = tg.datasets.synthetic_problem(n, seed=3)
    instance = SelectionInstance.build(problem, np.array([np.inf]))
    # the package exports a function of that name, so import the module by name
    frontier_module = importlib.import_module("taskgroup.solvers.frontier")

    dp_plans = frontier_module._staircase_from_table(problem, partition_table(instance))
    saved = frontier_module.prefer_partition_dp
    frontier_module.prefer_partition_dp = lambda instance: False
    try:
        mip_plans = frontier_module._staircase(problem, None)
    finally:
        frontier_module.prefer_partition_dp = saved
    assert [round(p.objective, 9) for p in dp_plans] == [round(p.objective, 9) for p in mip_plans]
    assert [p.cost for p in dp_plans] == [p.cost for p in mip_plans]


def test_minimum_budget_from_the_table_equals_the_mip():
    problem = tg.datasets.synthetic_problem(6, seed=1)
    instance = SelectionInstance.build(problem, parse_budget(problem, None))
    table = partition_table(instance)
    least = float(table.costs()[:, 0].min())
    assert tg.minimum_budget(problem)["cost"] == pytest.approx(least)
    with pytest.raises(InfeasibleBudget) as caught:
        tg.solve(problem, least - 0.25, method="partition-dp")
    assert caught.value.minimum_budget["cost"] == pytest.approx(least)


def test_time_limit_falls_back_with_an_honest_bound_and_says_so():
    problem = tg.datasets.synthetic_problem(12, seed=2)
    instance = SelectionInstance.build(problem, parse_budget(problem, 3.0))
    assert solve_partition_dp(instance, time_limit=1e-7).fallback is Fallback.TOO_LARGE  # far too little for the DP
    plan = tg.solve(problem, 3.0, method="partition-dp", time_limit=0.001)  # solve() gives a solver >= 0.01 s
    # the DP gives up, then so does the MIP (no time to reach its root LP): greedy answers, and the plan says so
    assert plan.solver.startswith("greedy (fallback from partition-dp: ") and "then from ilp: " in plan.solver
    assert not plan.optimal and plan.bound <= plan.objective + 1e-9
    exact = tg.solve(problem, 3.0, method="partition-dp")
    assert exact.solver == "partition-dp" and plan.bound <= exact.objective + 1e-9


def test_cost_quantum_detects_grids_only():
    assert cost_quantum(np.array([0.5, 1.0, 1.5])) == 0.5
    assert cost_quantum(np.array([1.0, 3.0])) == 1.0
    assert cost_quantum(np.array([1.0, np.pi])) is None


def test_auto_uses_the_dp_where_its_work_is_smaller():
    problem = tg.datasets.synthetic_problem(11, seed=0)  # 11,264 entries: HiGHS ~1 s, the DP ~0.5 s with loading
    assert tg.solve(problem, 3.0).solver == "partition-dp"


def test_native_solver_output_never_reaches_stdout(tmp_path):
    """Bytes a native library writes to fd 1 inside the silencer are dropped; Python output around it is kept."""
    script = textwrap.dedent(
        """
        import ctypes, sys
        from taskgroup.solvers.quiet import silence_native_output
        libc = ctypes.CDLL(None)
        print("before", flush=True)
        with silence_native_output():
            libc.printf(b"HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();\\n")
            libc.fflush(None)
        print("after", flush=True)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["before", "after"]


def test_frontier_command_prints_nothing_from_highs(tmp_path):
    problem = tg.datasets.synthetic_problem(7, seed=7)
    path = tmp_path / "p.csv"
    problem.to_frame().to_csv(path, index=False)
    done = subprocess.run(
        [sys.executable, "-m", "taskgroup", "frontier", str(path)], capture_output=True, text=True, check=True
    )
    assert "Highs" not in done.stdout and "tmpSolver" not in done.stdout


def test_many_budgets_frontier_and_minimum_budget_cost_one_dp(monkeypatch):
    import taskgroup.solvers.partition_dp as dp_module

    calls = []
    original = dp_module.partition_table
    monkeypatch.setattr(dp_module, "partition_table", lambda *a, **k: calls.append(1) or original(*a, **k))
    monkeypatch.setattr(dp_module, "_CACHE", [])
    problem = tg.datasets.synthetic_problem(6, seed=4)
    budgets = [float(b) for b in np.arange(1.0, 6.01, 0.5)]
    plans = [tg.solve(problem, b, method="partition-dp") for b in budgets]
    front = tg.frontier(problem)
    least = tg.minimum_budget(problem)["cost"]
    assert len(calls) == 1
    # the cached table answers exactly what a DP pruned to each budget answers
    for budget, plan in zip(budgets, plans):
        instance = SelectionInstance.build(problem, parse_budget(problem, budget))
        own = partition_table(instance)
        point = own.best()
        assert plan.objective == pytest.approx(float(own.objectives()[point]), abs=1e-12)
    assert least == pytest.approx(front.plans[0].cost["cost"])
    # once the table is there, auto reads it whatever its estimates say
    assert tg.solve(problem, 3.0).solver == "partition-dp"
    assert len(calls) == 1  # the reference DPs above call the module's function directly


def measured_costs(problem: tg.Problem, seed: int) -> tg.Problem:
    """The same losses with costs off any grid, as profiled FLOPs or latencies are."""
    frame = problem.to_frame()
    networks = frame["network"].unique()
    cost = dict(zip(networks, np.random.default_rng(seed).uniform(0.5, 1.5, len(networks))))
    return tg.Problem.from_frame(frame.assign(cost=frame["network"].map(cost)))


def test_a_long_integer_program_staircase_hands_over_to_the_dp(monkeypatch):
    # measured costs make many steps (25 here), two MIP solves each, where prefer_partition_dp weighs one solve:
    # when it prefers the MIP (as it does in a process without the DP's kernels loaded), the MIP starts and hands
    # over to the DP once it has taken the DP's estimated time (made 0 here)
    frontier_module = importlib.import_module("taskgroup.solvers.frontier")
    problem = measured_costs(tg.datasets.synthetic_problem(6, seed=6), seed=0)
    instance = SelectionInstance.build(problem, np.array([np.inf]))
    monkeypatch.setattr(frontier_module, "prefer_partition_dp", lambda instance: False)
    by_mip = frontier_module._mip_staircase(problem, instance, None)
    with pytest.raises(frontier_module._HandOver):
        frontier_module._mip_staircase(problem, instance, None, give_up_after=0.0)
    monkeypatch.setattr(frontier_module, "dp_seconds", lambda instance, compiling: 0.0)
    handed_over = tg.frontier(problem)
    assert {plan.solver for plan in handed_over.plans} == {"partition-dp"}
    # HiGHS with its default relative gap (1e-4) stopped at a plan 2.6e-5 worse at budget 4.40, and the MIP
    # staircase repeated that step 31 times and lost the 5 after it
    assert len(by_mip) == len(handed_over.plans) > 2 * problem.n_tasks
    assert len({plan.networks for plan in by_mip}) == len(by_mip)
    for ours, theirs in zip(handed_over.plans, by_mip):
        assert ours.cost["cost"] == pytest.approx(theirs.cost["cost"], rel=1e-9)
        assert ours.objective == pytest.approx(theirs.objective, rel=1e-9)


@pytest.mark.parametrize("n, seed", [(5, 0), (7, 1), (9, 2)])
def test_numpy_path_equals_the_compiled_kernels(monkeypatch, n, seed):
    """Small grid instances run in numpy in a process without the kernels loaded (nothing to compile or load);
    the kernels give the same Pareto points."""
    import taskgroup.solvers.partition_dp as dp_module

    problem = tg.datasets.synthetic_problem(n, seed=seed)
    instance = SelectionInstance.build(problem, parse_budget(problem, None))
    monkeypatch.setattr(dp_module, "kernels_loaded", lambda: False)
    assert dp_module.uses_numpy(instance)
    tables = {"numpy": partition_table(instance)}
    monkeypatch.setattr(dp_module, "uses_numpy", lambda instance, work_cap=np.inf: False)
    tables["kernels"] = partition_table(instance)

    def points(table):
        order = np.argsort(table.costs()[:, 0], kind="stable")
        return table.costs()[order, 0], table.objectives()[order]

    (cost_a, loss_a), (cost_b, loss_b) = points(tables["numpy"]), points(tables["kernels"])
    np.testing.assert_allclose(cost_a, cost_b, rtol=1e-12)
    np.testing.assert_allclose(loss_a, loss_b, rtol=1e-12)
    for table in tables.values():
        for point in range(len(table.points)):
            assert instance.objective(table.networks(point)) == pytest.approx(table.objectives()[point], abs=1e-12)


COLD_SCRIPT = """
import sys, time
import numpy as np
import taskgroup as tg
problem = {problem}
started = time.perf_counter()
plans = {call}
print(time.perf_counter() - started)
print(" ".join(repr(p.objective) for p in plans))
print("numba" in sys.modules)
"""


def _cold_frontier(
    problem_code: str, cache: str, call: str = "list(tg.frontier(problem))"
) -> tuple[float, list[float], bool]:
    import os

    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    script = COLD_SCRIPT.format(problem=problem_code, call=call)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env).stdout
    seconds, objectives, numba = out.strip().splitlines()
    return float(seconds), [float(v) for v in objectives.split()], numba == "True"


@pytest.mark.parametrize("n", [10, pytest.param(14, marks=pytest.mark.slow)])
def test_first_frontier_without_a_numba_cache_needs_no_compiler(tmp_path, n):
    """A fresh install: numba's cache is empty. A grid instance of up to 14 tasks (issue 24: the first frontier
    at n <= 14 under 2 s) runs in numpy and never imports numba."""
    code = f"tg.datasets.synthetic_problem({n}, seed=1)"
    seconds, objectives, numba = _cold_frontier(code, str(tmp_path))
    assert not numba
    assert list(tmp_path.iterdir()) == []  # nothing compiled, nothing cached
    expected = [p.objective for p in tg.frontier(tg.datasets.synthetic_problem(n, seed=1))]
    assert objectives == pytest.approx(expected, abs=1e-12)


def test_with_the_kernels_in_numbas_cache_14_tasks_still_run_in_numpy(monkeypatch):
    """A warm cache: loading the kernels (numba, its compiler context) costs more than the whole numpy DP at 14
    tasks on costs 0.5 and 1, so the DP stays in numpy without even looking at the cache (issue 24)."""
    import taskgroup.solvers.kernels as kernels
    import taskgroup.solvers.partition_dp as dp_module

    looked = []
    monkeypatch.setattr(kernels, "kernels_cached", lambda: looked.append(1) or True)
    monkeypatch.setattr(dp_module, "kernels_loaded", lambda: False)
    problem = tg.datasets.synthetic_problem(14, seed=1)
    assert dp_module.uses_numpy(SelectionInstance.build(problem, parse_budget(problem, None)))
    assert looked == []


def test_past_where_numpy_wins_the_dp_looks_in_numbas_cache_and_compiles_nothing_without_one(tmp_path):
    """12 tasks on 10 cost levels: the numpy path (about 0.6 s) is slower than loading cached kernels, so the DP
    looks in numba's cache; finding none it runs in numpy (a cold first call) instead of compiling, and the
    frontier is the one the compiled kernels give."""
    import taskgroup.solvers.partition_dp as dp
    from taskgroup.solvers.partition_numpy import numpy_seconds

    code = (
        "tg.Problem.from_frame(tg.datasets.synthetic_problem(12, seed=2).to_frame()"
        ".assign(cost=lambda f: 1.0 + f['network'].str.len() % 10))"
    )
    problem = eval(code, {"tg": tg})
    instance = SelectionInstance.build(problem, parse_budget(problem, None))
    loading = dp.dp_work(12, instance.m, 1) / dp.DP_PAIRS_PER_SECOND + dp.DP_STARTUP_SECONDS
    assert numpy_seconds(12, dp._levels(instance)) > loading
    seconds, objectives, _ = _cold_frontier(code, str(tmp_path))
    assert not any(tmp_path.rglob("*.nbi")) and not any(tmp_path.rglob("*.nbc"))  # nothing compiled
    expected = [p.objective for p in tg.frontier(problem)]
    assert objectives == pytest.approx(expected, abs=1e-12)


@pytest.mark.slow
def test_kernels_compile_into_an_empty_numba_cache(tmp_path):
    """Costs off a grid need the compiled kernels: they compile into the empty cache, and load from it next time."""
    code = (
        "tg.Problem.from_frame(tg.datasets.synthetic_problem(5, seed=3).to_frame()"
        ".assign(cost=lambda f: f['cost'] + np.sqrt(f['network'].str.len()) / 100))"
    )
    call = "[tg.solve(problem, b, method='partition-dp') for b in (1.5, 2.5, None)]"
    _, first, numba = _cold_frontier(code, str(tmp_path), call)
    assert numba, "costs off the grid run in the compiled kernels"
    assert any(tmp_path.rglob("*.nbi"))
    _, second, _ = _cold_frontier(code, str(tmp_path), call)
    assert first == second
