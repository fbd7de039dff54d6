"""The frontier's vertical axis names the objective the plans minimise (the report's plot follows the run's)."""

import pytest
from matplotlib.figure import Figure

import taskgroup as tg
from taskgroup.errors import InvalidArgument
from taskgroup.objectives import OBJECTIVES, objective_axis_label


def test_every_objective_has_its_own_axis_label():
    labels = [objective_axis_label(o) for o in OBJECTIVES]
    assert all(labels) and len(set(labels)) == len(OBJECTIVES)
    with pytest.raises(InvalidArgument, match=r"objective='accuracy' is not accepted; accepted: \['metric'"):
        objective_axis_label("accuracy")


def test_the_frontier_plot_names_its_objective_and_its_direction():
    front = tg.frontier(tg.datasets.standley2020(1, "val"))
    ax = front.plot(Figure().subplots())
    assert ax.get_ylabel() == "total weighted loss (lower is better)"
    ax = front.plot(Figure().subplots(), ylabel=objective_axis_label("metric"))
    assert ax.get_ylabel() == "Σ (1 − relative metric change) (lower is better)"
