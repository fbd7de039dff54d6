"""``full``: train every candidate network and read the problem off the store."""

from __future__ import annotations

from os import PathLike
from typing import Any

from taskgroup.estimate.pairs import pair_affinity
from taskgroup.strategies.base import Estimate, StrategyConfig, measure_candidates, problem_from_store

__all__ = ["full_strategy"]


def full_strategy(source: Any, store: str | PathLike[str], config: StrategyConfig) -> Estimate:
    """Measure every candidate (all subsets, full and half size) of ``source``.

    Parameters
    ----------
    source : TaskSuite
        The suite.
    store : path
        The results store.
    config : StrategyConfig
        How to measure.

    Returns
    -------
    Estimate
        The validation problem, its pair affinity and the test problem.
    """
    measure_candidates(source, store, config, "all", config.train)
    val = problem_from_store(store, "val", config.cost, config.train, objective=config.objective)
    return Estimate(
        val,
        pair_affinity(val),
        test=problem_from_store(store, "test", config.cost, config.train, objective=config.objective),
    )
