"""Built-in task suites and published tables.

The task suites (``load_suite`` and friends) need torch; they are imported on first use so that planning
from published tables starts fast.
"""

from taskgroup.datasets.selection import synthetic_problem
from taskgroup.datasets.standley import STANDLEY_SETTINGS, STANDLEY_SPLITS, standley2020, standley2020_table
from taskgroup.datasets.tag import TAG2021_DATASETS, TAG2021_KINDS, tag2021

_SUITE_NAMES = ("load_suite", "available_suites", "register_suite", "SUITES")

__all__ = [
    *_SUITE_NAMES,
    "synthetic_problem",
    "standley2020",
    "standley2020_table",
    "STANDLEY_SETTINGS",
    "STANDLEY_SPLITS",
    "tag2021",
    "TAG2021_DATASETS",
    "TAG2021_KINDS",
]


def __getattr__(name: str):
    if name in _SUITE_NAMES:
        from taskgroup.datasets import suites

        globals()[name] = getattr(suites, name)  # resolved once; also what documentation tools read
        return globals()[name]
    raise AttributeError(f"module 'taskgroup.datasets' has no attribute {name!r}")
