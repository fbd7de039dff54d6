"""HOA: the paper's worked example, naming, costs, and errors for missing pairs."""

import numpy as np
import pytest

import taskgroup as tg
from taskgroup.errors import InvalidArgument, InvalidProblem
from taskgroup.estimate import hoa


def pair_problem(missing=()):
    pairs = {("a", "b"): (0.1, 0.2), ("b", "c"): (0.3, 0.4), ("a", "c"): (0.5, 0.6)}
    rows = [{"network": t, "task": t, "loss": 1.0, "cost": 1.0} for t in "abc"]
    for (u, v), (lu, lv) in pairs.items():
        if (u, v) in missing:
            continue
        rows += [
            {"network": u + v, "task": u, "loss": lu, "cost": 1.0},
            {"network": u + v, "task": v, "loss": lv, "cost": 1.0},
        ]
    import pandas as pd

    return tg.Problem.from_frame(pd.DataFrame(rows))


def test_worked_example():
    p = hoa(pair_problem())
    j = p.network_index("a+b+c")
    row = dict(zip(p.tasks, p.losses[j]))
    assert row["a"] == pytest.approx(0.30)  # (0.1 + 0.5) / 2, not the paper's typo
    assert row["b"] == pytest.approx((0.2 + 0.3) / 2)
    assert row["c"] == pytest.approx((0.4 + 0.6) / 2)
    assert p.predicted[j].all()
    assert not p.predicted[p.network_index("ab")].any()
    assert p.costs[j, 0] == 1.0


def test_missing_pair_is_named():
    with pytest.raises(InvalidProblem, match=r"\['a', 'c'\]"):
        hoa(pair_problem(missing=[("a", "c")]))


def test_duplicate_pair_rejected():
    import pandas as pd

    frame = pair_problem().to_frame()
    extra = frame[frame.network == "ab"].assign(network="ab2")
    with pytest.raises(InvalidProblem, match="both serve the pair"):
        hoa(tg.Problem.from_frame(pd.concat([frame, extra]), weight=None))


def test_standley_keeps_names_and_costs():
    val = tg.datasets.standley2020(1, "val")
    p = hoa(val)
    assert set(p.networks) == set(val.networks)
    for name in ("sdn", "sdnke"):
        j, k = p.network_index(name), val.network_index(name)
        assert p.costs[j, 0] == val.costs[k, 0]
        tasks = list(val.tasks)
        members = [t for t in tasks if p.serves[j, tasks.index(t)]]
        expect = np.mean(
            [
                val.losses[
                    val.network_index([n for n in val.networks if set(val.network_tasks(n)) == {members[0], u}][0]), 0
                ]
                for u in members[1:]
            ]
        )
        assert p.losses[j, 0] == pytest.approx(expect)
    # measured singles and pairs are untouched
    k = val.network_index("sd")
    assert np.array_equal(p.losses[p.network_index("sd")], val.losses[k], equal_nan=True)


def test_bad_arguments():
    with pytest.raises(InvalidArgument):
        hoa("not a problem")
    with pytest.raises(InvalidArgument):
        hoa(pair_problem(), max_size=1)
    with pytest.raises(InvalidArgument, match="The 'cost_value' parameter of hoa must be 1 finite number"):
        hoa(pair_problem(), cost_value=-1)
    assert hoa(pair_problem(), cost_value=2.0).costs.max() == 2.0
