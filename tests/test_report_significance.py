"""The report's significance sentences: what a 95 % interval of Δm% says, and what one training run cannot."""

from taskgroup.report import delta_m_summary, significance
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


def test_the_delta_m_summary_gives_each_delta_m_with_its_interval_and_what_it_resamples():
    report = _report((4.71, 5.98), repeats=1)
    report.delta_m = {"multitask": 5.33, "all_in_one": -13.1}
    text = delta_m_summary(report)
    assert text.startswith("Δm% against single-task baselines")
    assert "multitask: +5.33% [+4.71, +5.98], all_in_one: -13.10%" in text
    assert "bootstrap over test rows)" in text and "repeats" not in text
    report.repeats = 3
    assert "means over 3 training repeats" in delta_m_summary(report)
    assert "over test rows and repeats" in delta_m_summary(report)
    assert delta_m_summary(TrainReport()) == ""


def test_a_plan_that_is_the_all_in_one_network_is_not_compared_with_itself():
    report = _report((0.5, 2.0), repeats=2, gap=(0.0, 0.0))
    report.plan_is_all_in_one = True
    text = significance(report)
    assert "The plan is the all-in-one network itself." in text
    assert "different from the all-in-one network" not in text and "[+0.00, +0.00]" not in text
