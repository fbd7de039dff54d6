"""Standley et al. (2020) network-selection tables (Taskonomy losses), shipped with the package.

Source: "Which Tasks Should Be Learned Together in Multi-task Learning?" (ICML 2020), repository
``tstandley/taskgrouping``, folder ``network_selection/`` (MIT licence; see ``data/standley2020.LICENSE``
and ``data/standley2020.README.md``).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd

from taskgroup.errors import InvalidArgument
from taskgroup.problem import Problem

__all__ = ["standley2020", "standley2020_table", "STANDLEY_SETTINGS", "STANDLEY_SPLITS"]

STANDLEY_SETTINGS = (1, 2, 3, 4)
STANDLEY_SPLITS = ("val", "test", "esa")


@lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    with resources.files("taskgroup.datasets").joinpath("data/standley2020.csv").open("r") as fh:
        return pd.read_csv(fh)


def standley2020_table() -> pd.DataFrame:
    """The whole published table: setting, split, network, tasks, size, cost, task, loss.

    Returns
    -------
    pandas.DataFrame
        One row per setting, split, network and task; a copy the caller may change.
    """
    return _table().copy()


def standley2020(setting: int = 1, split: str = "val") -> Problem:
    """One setting and split of Standley et al.'s tables as a :class:`Problem` (cost in SNT units).

    Parameters
    ----------
    setting : {1, 2, 3, 4}
        1: Xception17, 3.9M images, tasks s d n k e; 2: larger Xception; 3: 200k images; 4: tasks a n e r c.
    split : {"val", "test", "esa"}
        ``val``: validation losses (select on these); ``test``: test losses (score a selection on these);
        ``esa``: validation losses after a short run (Early Stopping Approximation; setting 4 lacks ``ne``).

    Returns
    -------
    Problem
        The networks of that setting with their costs and per-task losses.

    Raises
    ------
    InvalidArgument
        Unknown ``setting`` or ``split``, listing the accepted ones.

    Examples
    --------
    >>> import taskgroup as tg
    >>> val, test = tg.datasets.standley2020(1, "val"), tg.datasets.standley2020(1, "test")
    >>> plan = tg.solve(val, budget=2)
    >>> round(test.evaluate(plan.networks).objective, 4) > 0
    True
    """
    if setting not in STANDLEY_SETTINGS:
        raise InvalidArgument(f"Unknown Standley setting {setting!r}; accepted: {list(STANDLEY_SETTINGS)}.")
    if split not in STANDLEY_SPLITS:
        raise InvalidArgument(f"Unknown Standley split {split!r}; accepted: {list(STANDLEY_SPLITS)}.")
    table = _table()
    rows = table[(table["setting"] == setting) & (table["split"] == split)]
    return Problem.from_frame(rows.reset_index(drop=True), cost="cost")
