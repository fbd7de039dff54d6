"""Built-in task suites and published tables."""

from taskgroup.datasets.selection import synthetic_problem
from taskgroup.datasets.tag import TAG2021_DATASETS, TAG2021_KINDS, tag2021
from taskgroup.datasets.suites import available_suites, load_suite, register_suite
from taskgroup.datasets.standley import STANDLEY_SETTINGS, STANDLEY_SPLITS, standley2020, standley2020_table

__all__ = [
    "load_suite",
    "available_suites",
    "register_suite",
    "synthetic_problem", "standley2020", "standley2020_table", "STANDLEY_SETTINGS", "STANDLEY_SPLITS", "tag2021", "TAG2021_DATASETS", "TAG2021_KINDS"]
