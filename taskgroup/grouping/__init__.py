"""Grouping tasks: choose ``k`` groups that cover the tasks, valued by a group predictor or an affinity matrix.

- :func:`group`: ``k`` groups for up to ~40 tasks with candidates generated on demand (heuristics and column
  generation), the methods registered by name in :data:`GROUPING_METHODS`.
- :func:`select_groups`: the same over *every* group valued by a predictor (``tg.estimate.hoa_predictor``,
  ``tg.estimate.fit_group_predictor``, an affinity), measured groups overriding predictions.
- :func:`group_problem`: affinity matrix -> Problem whose candidates are groups (the exact solvers of
  :mod:`taskgroup.solvers` apply).
- ``cover.py``: ``GroupScorer``, the objective every method maximises; ``colgen.py``, ``pricing.py``,
  ``heuristics.py``, ``clustering.py``: the methods.
"""

from taskgroup.grouping.affinity_problem import group_problem, group_values
from taskgroup.grouping.group import (
    GROUPING_METHODS,
    GroupingResult,
    available_grouping_methods,
    group,
    register_grouping,
    select_groups,
)

__all__ = [
    "group",
    "select_groups",
    "GROUPING_METHODS",
    "GroupingResult",
    "register_grouping",
    "available_grouping_methods",
    "group_problem",
    "group_values",
]
