"""Pair affinity from measured losses: how much training with one task lowered another's loss."""

from __future__ import annotations

import numpy as np
import pandas as pd

from taskgroup.naming import is_full_size
from taskgroup.problem import Problem

__all__ = ["pair_affinity", "full_size_losses", "single_task_losses"]


def full_size_losses(problem: Problem, size: int) -> dict[tuple[str, ...], dict[str, float]]:
    """Each full-size network (no size suffix) serving ``size`` tasks: its tasks -> {task: loss}.

    Parameters
    ----------
    problem : Problem
        The measured problem.
    size : int
        The number of tasks a network serves.

    Returns
    -------
    dict
        ``{tasks: {task: loss}}``.
    """
    found = {}
    for name in problem.networks:
        served = problem.network_tasks(name)
        if is_full_size(name) and len(served) == size:
            row = problem.losses[problem.network_index(name)]
            found[served] = {t: float(row[problem.task_index(t)]) for t in served}
    return found


def single_task_losses(problem: Problem) -> dict[str, float]:
    """Each task's loss on its own full-size network (tasks without one are left out).

    Parameters
    ----------
    problem : Problem
        The measured problem.

    Returns
    -------
    dict
        ``{task: loss}``.
    """
    return {served[0]: losses[served[0]] for served, losses in full_size_losses(problem, 1).items()}


def pair_affinity(problem: Problem) -> pd.DataFrame:
    """``A.loc[u, t] = 1 - L_t({t, u}) / L_t({t})``: how much training with u lowered t's loss (full-size nets).

    Needs the single-task and two-task full-size networks (those without a size suffix); missing pairs
    are NaN. Positive: u helps t.

    Parameters
    ----------
    problem : Problem
        The measured problem.

    Returns
    -------
    pandas.DataFrame
        ``loc[source, target]`` over the problem's tasks.
    """
    tasks = list(problem.tasks)
    single = single_task_losses(problem)
    sign = -1.0 if problem.higher_is_better else 1.0
    matrix = pd.DataFrame(np.nan, index=pd.Index(tasks, name="source"), columns=pd.Index(tasks, name="target"))
    for (a, b), losses in full_size_losses(problem, 2).items():
        for t, u in ((a, b), (b, a)):
            if t in single and single[t] != 0:
                matrix.loc[u, t] = sign * (1 - losses[t] / single[t])
    return matrix
