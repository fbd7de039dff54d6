"""ESA: selection on the short-run split, scoring only the chosen networks' full losses."""

import pytest

import taskgroup as tg
from taskgroup.errors import InvalidArgument
from taskgroup.estimate import esa, esa_select


def test_esa_flags_everything_predicted():
    short = tg.datasets.standley2020(1, "esa")
    p = esa(short)
    assert (p.predicted == p.serves).all()
    assert (p.losses[p.serves] == short.losses[short.serves]).all()


@pytest.mark.parametrize("setting", [1, 4])
def test_esa_select_scores_on_test(setting):
    short, test = tg.datasets.standley2020(setting, "esa"), tg.datasets.standley2020(setting, "test")
    result = esa_select(short, 2.5, full=test)
    assert result.selection.optimal
    assert result.selection.networks == result.full.networks == result.trained
    assert result.full.objective == pytest.approx(test.evaluate(result.trained).objective)
    assert result.selection.cost["cost"] <= 2.5 + 1e-9


def test_esa_select_trains_only_chosen():
    short, test = tg.datasets.standley2020(1, "esa"), tg.datasets.standley2020(1, "test")
    asked = []

    def train(networks):
        asked.append(list(networks))
        return test

    result = esa_select(short, 2, full=train)
    assert asked == [list(result.selection.networks)]


def test_esa_select_errors():
    short = tg.datasets.standley2020(1, "esa")
    with pytest.raises(InvalidArgument, match="full must be"):
        esa_select(short, 2, full=42)
    with pytest.raises(InvalidArgument, match="must return"):
        esa_select(short, 2, full=lambda names: None)
    assert esa_select(short, 2).full is None
