"""Problem construction, conversions and the validation of every kind of bad input."""

import json
import math

import numpy as np
import pandas as pd
import pytest

import taskgroup as tg
from taskgroup.errors import InvalidArgument, InvalidProblem


def test_from_frame_builds_arrays(toy_frame):
    p = tg.Problem.from_frame(toy_frame)
    assert p.tasks == ("a", "b")
    assert p.networks == ("a_half", "b_half", "a", "b", "ab")
    assert p.costs[:, 0].tolist() == [0.5, 0.5, 1.0, 1.0, 1.0]
    assert p.network_tasks("ab") == ("a", "b")
    assert math.isnan(p.losses[0, 1]) and p.losses[4, 1] == 0.58
    assert p.weights.tolist() == [1.0, 1.0]


def test_arrays_are_read_only(toy_frame):
    p = tg.Problem.from_frame(toy_frame)
    with pytest.raises(ValueError):
        p.losses[0, 0] = 1.0


def test_roundtrips_frame_csv_dict_json(toy_frame, tmp_path):
    p = tg.Problem.from_frame(toy_frame, weights={"b": 2.0})
    assert tg.Problem.from_frame(p.to_frame()) == p
    p.to_csv(tmp_path / "p.csv")
    assert tg.Problem.from_csv(tmp_path / "p.csv") == p
    assert tg.Problem.from_dict(p.to_dict()) == p
    p.to_json(tmp_path / "p.json")
    assert tg.Problem.read(tmp_path / "p.json") == p
    assert json.loads(p.to_json())["version"] == 1


def test_several_cost_columns_and_with_costs(toy_frame):
    frame = toy_frame.assign(flops=toy_frame["cost"] * 1e6, latency_ms=toy_frame["cost"] * 3)
    p = tg.Problem.from_frame(frame, cost=["flops", "latency_ms"])
    assert p.cost_names == ("flops", "latency_ms")
    q = p.with_costs("latency_ms")
    assert q.cost_names == ("latency_ms",) and q.costs[:, 0].tolist() == [1.5, 1.5, 3.0, 3.0, 3.0]
    with pytest.raises(InvalidArgument, match="Unknown cost column 'params'"):
        p.with_costs("params")


def test_networks_may_share_a_task_set(toy_frame):
    p = tg.Problem.from_frame(toy_frame)
    assert p.network_tasks("a") == p.network_tasks("a_half") == ("a",)


def test_higher_is_better_is_negated_and_reported_back(toy_frame):
    p = tg.Problem.from_frame(toy_frame, higher_is_better=True)
    assert p.losses[2, 0] == -0.45
    plan = p.evaluate(["ab"])
    assert plan.score == pytest.approx(0.40 + 0.58)
    assert plan.task_scores == {"a": 0.40, "b": 0.58}
    assert tg.Problem.from_frame(p.to_frame(), higher_is_better=True) == p


def test_weight_column(toy_frame):
    p = tg.Problem.from_frame(toy_frame.assign(weight=np.where(toy_frame["task"] == "a", 3.0, 1.0)))
    assert p.weights.tolist() == [3.0, 1.0]
    assert p.evaluate(["ab"]).objective == pytest.approx(3 * 0.40 + 0.58)


def test_evaluate_takes_each_tasks_best_network(toy_frame):
    p = tg.Problem.from_frame(toy_frame)
    plan = p.evaluate(["ab", "b"])
    assert plan.assignment == {"a": "ab", "b": "b"}
    assert plan.objective == pytest.approx(0.40 + 0.55)
    assert plan.cost == {"cost": 2.0}
    assert not plan.optimal and plan.solver == "evaluate"


def test_evaluate_rejects_unknown_networks_and_uncovered_tasks(toy_frame):
    p = tg.Problem.from_frame(toy_frame)
    with pytest.raises(InvalidArgument, match="Unknown network 'zz'"):
        p.evaluate(["zz"])
    with pytest.raises(InvalidArgument, match=r"task\(s\) \['b'\]"):
        p.evaluate(["a"])
    with pytest.raises(InvalidArgument, match="at least one network"):
        p.evaluate([])


# ---------------------------------------------------------------- bad input: each case names what is wrong
@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda f: f.assign(loss=f["loss"].where(f.index != 2, np.nan)),
            r"Data row 3 \(network 'a', task 'a'\) has loss nan",
        ),
        (
            lambda f: f.assign(loss=f["loss"].where(f.index != 3, np.inf)),
            r"Data row 4 \(network 'b', task 'b'\) has loss inf",
        ),
        (lambda f: f.assign(cost=f["cost"].where(f.index != 1, np.nan)), r"Data row 2 .* has cost = nan"),
        (
            lambda f: f.assign(cost=f["cost"].where(f.index != 1, 0.0)),
            r"Data row 2 .* has cost = 0.0; costs must be finite numbers > 0",
        ),
        (lambda f: f.assign(cost=f["cost"].where(f.index != 1, -1.0)), r"has cost = -1.0"),
        (
            lambda f: f.assign(cost=f["cost"].where(f.index != 5, 2.0)),
            r"Network 'ab' has cost = 1.0 in data row 5 but 2.0 in data row 6",
        ),
        (
            lambda f: pd.concat([f, f.iloc[[4]]], ignore_index=True),
            r"Data row 5 and data row 7 both give network 'ab' on task 'a'",
        ),
        (lambda f: f.iloc[0:0], "The table is empty"),
        (lambda f: f.drop(columns="cost"), "no 'cost' column"),
        (lambda f: f.drop(columns="loss"), "no column 'loss'"),
        (
            lambda f: f.assign(loss=f["loss"].astype(object).where(f.index != 0, "high")),
            r"loss = 'high', which is not a number",
        ),
        (
            lambda f: f.assign(weight=np.where(f["task"] == "a", 0.0, 1.0)),
            r"Task 'a' has weight 0.0; weights must be finite numbers > 0",
        ),
        (lambda f: f.assign(weight=np.where(f["task"] == "a", -2.0, 1.0)), r"Task 'a' has weight -2.0"),
        (
            lambda f: f.assign(weight=[1.0, 1.0, 2.0, 1.0, 1.0, 1.0]),
            r"Task 'a' has weight 1.0 in data row 1 but 2.0 in data row 3",
        ),
    ],
)
def test_bad_tables_raise_a_clear_error(toy_frame, change, message):
    with pytest.raises(InvalidProblem, match=message):
        tg.Problem.from_frame(change(toy_frame))


def test_a_task_no_network_serves(toy_frame):
    with pytest.raises(InvalidProblem, match=r"Task\(s\) \['c'\] are served by no network"):
        tg.Problem.from_frame(toy_frame, tasks=["a", "b", "c"])
    with pytest.raises(InvalidProblem, match="Task 'c' is served by no network"):
        tg.Problem(["a", "c"], ["n1"], [1.0], [[0.1, np.nan]])


def test_with_weights_by_mapping_or_sequence(toy_frame):
    p = tg.Problem.from_frame(toy_frame)
    weighted = p.with_weights({"b": 1.0, "a": 3.0})
    assert weighted.weights.tolist() == [3.0, 1.0] and weighted.losses is not p.losses
    assert weighted.evaluate(["ab"]).objective == pytest.approx(3 * 0.40 + 0.58)
    assert p.with_weights([3.0, 1.0]) == weighted and p.weights.tolist() == [1.0, 1.0]
    with pytest.raises(InvalidArgument, match=r"unknown: \['z'\], missing: \['b'\]"):
        p.with_weights({"a": 1.0, "z": 2.0})
    with pytest.raises(InvalidProblem, match="weights must be finite numbers > 0"):
        p.with_weights([0.0, 1.0])


def test_weights_naming_unknown_tasks(toy_frame):
    with pytest.raises(InvalidProblem, match=r"unknown task\(s\) \['z'\]"):
        tg.Problem.from_frame(toy_frame, weights={"z": 2.0})


def test_array_constructor_validation():
    with pytest.raises(InvalidProblem, match="costs must have shape"):
        tg.Problem(["a"], ["n1", "n2"], [1.0], [[0.1], [0.2]])
    with pytest.raises(InvalidProblem, match="The network name 'n1' appears more than once"):
        tg.Problem(["a"], ["n1", "n1"], [1.0, 1.0], [[0.1], [0.2]])
    with pytest.raises(InvalidProblem, match="Network 'n2' serves no task"):
        tg.Problem(["a"], ["n1", "n2"], [1.0, 1.0], [[0.1], [np.nan]])


def test_dict_form_validation():
    with pytest.raises(InvalidProblem, match="The problem has no field 'networks'"):
        tg.Problem.from_dict({"tasks": ["a"]})
    with pytest.raises(InvalidProblem, match=r"In the problem, networks\[0\] has no field 'cost'"):
        tg.Problem.from_dict({"networks": [{"name": "x", "losses": {"a": 1}}]})
    with pytest.raises(InvalidProblem, match="Unsupported problem schema version 7"):
        tg.Problem.from_dict({"version": 7, "networks": []})


def test_unreadable_files(tmp_path):
    with pytest.raises(InvalidArgument, match="No such table"):
        tg.Problem.from_csv(tmp_path / "missing.csv")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InvalidProblem, match="Could not parse the problem JSON"):
        tg.Problem.from_json(tmp_path / "bad.json")
    with pytest.raises(InvalidArgument, match="expected a .csv or .json file"):
        tg.Problem.read(tmp_path / "table.xlsx")


def test_errors_are_also_builtin_exceptions(toy_frame):
    with pytest.raises(ValueError):
        tg.Problem.from_frame(toy_frame.iloc[0:0])
    assert issubclass(tg.InfeasibleBudget, tg.TaskgroupError)


# ---------------------------------------------------------------- from_frame's vectorised steps
def test_from_frame_on_shuffled_rows_and_a_given_task_order():
    """Rows in any order, tasks in a given order: the same problem as the arrays the table came from."""
    rng = np.random.default_rng(7)
    tasks, networks = [f"t{i}" for i in range(6)], [f"n{j}" for j in range(40)]
    serves = rng.random((40, 6)) < 0.5
    serves[np.arange(40), rng.integers(6, size=40)] = True  # every network serves a task
    serves[rng.integers(40, size=6), np.arange(6)] = True  # every task is served
    losses = np.where(serves, rng.uniform(0.1, 2.0, (40, 6)), np.nan)
    costs = rng.uniform(0.5, 3.0, (40, 2))
    original = tg.Problem(tasks, networks, costs, losses, cost_names=["flops", "latency"])
    frame = original.to_frame().sample(frac=1.0, random_state=3).reset_index(drop=True)
    order = tasks[::-1]
    rebuilt = tg.Problem.from_frame(frame, cost=["flops", "latency"], tasks=order)
    assert rebuilt.tasks == tuple(order) and sorted(rebuilt.networks) == sorted(networks)
    rows = [original.networks.index(n) for n in rebuilt.networks]
    columns = [tasks.index(t) for t in order]
    np.testing.assert_array_equal(rebuilt.losses, losses[np.ix_(rows, columns)])
    np.testing.assert_array_equal(rebuilt.costs, costs[rows])


def test_the_first_repeated_pair_and_the_first_differing_cost_are_named():
    frame = pd.DataFrame(
        {
            "network": ["ab", "x", "ab", "x", "ab"],
            "task": ["a", "a", "b", "a", "a"],
            "loss": [0.1, 0.2, 0.3, 0.4, 0.5],
            "flops": [1.0, 2.0, 1.0, 2.0, 1.0],
            "latency": [5.0, 6.0, 5.0, 6.0, 5.0],
        }
    )
    with pytest.raises(InvalidProblem, match=r"^Data row 2 and data row 4 both give network 'x' on task 'a'"):
        tg.Problem.from_frame(frame, cost=["flops", "latency"])
    differing = frame.iloc[:3].assign(latency=[5.0, 6.0, 7.0])
    with pytest.raises(InvalidProblem, match=r"^Network 'ab' has latency = 5.0 in data row 1 but 7.0 in data row 3"):
        tg.Problem.from_frame(differing, cost=["flops", "latency"])


def test_a_problem_is_read_only_and_leaves_the_callers_arrays_alone():
    losses, costs = np.array([[0.1, np.nan], [0.3, 0.4]]), np.array([1.0, 2.0])
    problem = tg.Problem(["a", "b"], ["n1", "n2"], costs, losses)
    assert losses.flags.writeable and costs.flags.writeable  # the problem keeps copies, not the caller's arrays
    for array in (problem.losses, problem.costs, problem.serves, problem.weights, problem.predicted):
        assert not array.flags.writeable
    losses[0, 0] = 9.0
    assert problem.losses[0, 0] == 0.1
