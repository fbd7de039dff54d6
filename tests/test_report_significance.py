"""The report's significance sentences: what a 95 % interval of Δm% says, and what one training run cannot."""

from taskgroup.report import significance
from taskgroup.train.run import TrainReport


def _report(multitask: tuple[float, float], repeats: int, gap: tuple[float, float] | None = None) -> TrainReport:
    report = TrainReport(repeats=repeats)
    report.delta_m_ci95 = {"multitask": list(multitask)}
    report.plan_minus_all_in_one_ci95 = None if gap is None else list(gap)
    return report


def test_an_interval_above_zero_is_significant_and_one_run_says_what_it_leaves_out():
    text = significance(_report((0.5, 2.0), repeats=1, gap=(1.0, 3.0)))
    assert "is significant: its 95 % interval lies above 0" in text
    assert "significantly better than the all-in-one network" in text
    assert "With one training run these intervals resample test rows only" in text
    assert "--repeats K" in text


def test_with_repeats_the_caveat_of_one_run_is_left_out():
    text = significance(_report((0.5, 2.0), repeats=3))
    assert "is significant" in text
    assert "one training run" not in text


def test_intervals_across_and_below_zero():
    assert "not significant: its 95 % interval includes 0" in significance(_report((-1.0, 2.0), repeats=2))
    assert "significantly negative" in significance(_report((-3.0, -1.0), repeats=2))
    assert "not significantly different from" in significance(_report((1.0, 2.0), repeats=2, gap=(-1.0, 1.0)))


def test_no_interval_no_sentence():
    report = TrainReport(repeats=1)
    assert significance(report) == ""
