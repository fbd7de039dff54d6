"""``hoa``: train the pairs, predict larger groups (Standley et al.'s HOA), profile the predicted groups' costs."""

from __future__ import annotations

from os import PathLike
from typing import Any

import numpy as np

from taskgroup.estimate.hoa import hoa
from taskgroup.estimate.pairs import pair_affinity
from taskgroup.problem import Problem
from taskgroup.strategies.base import Estimate, StrategyConfig, measure_candidates, problem_from_store

__all__ = ["hoa_strategy", "with_profiled_costs"]


def hoa_strategy(source: Any, store: str | PathLike[str], config: StrategyConfig) -> Estimate:
    """Measure the single-task and pair networks of ``source`` and predict every larger group by HOA.

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
        The predicted problem (costs profiled) and the pair affinity.
    """
    measure_candidates(source, store, config, "pairs", config.train)
    pairs = problem_from_store(store, "val", config.cost, config.train, objective=config.objective)
    predicted = hoa(pairs, cost_value=np.ones(len(pairs.cost_names)))
    return Estimate(with_profiled_costs(predicted, source, store, config.train), pair_affinity(pairs))


def with_profiled_costs(problem: Problem, source: Any, store: str | PathLike[str], train: Any) -> Problem:
    """The problem with every network's cost read from the store, profiling (never training) those not in it.

    HOA predicts the losses of groups it never trains; their costs come from profiling the architecture the
    group would have, exactly as measured networks are profiled, and are normalised the same way.

    Parameters
    ----------
    problem : Problem
        Networks named as candidates of ``source``.
    source : TaskSuite
        The suite.
    store : path
        The results store.
    train : TrainConfig
        The model the networks are built with.

    Returns
    -------
    Problem
        ``problem`` with its cost columns replaced by profiled, normalised costs.
    """
    from taskgroup.measure import ResultStore, normalise_costs, parse_candidate, profile_candidates

    db = ResultStore(store)
    fp = source.fingerprint()
    # networks are matched by what they are (task set and variant), not by how the problem spells their names
    wanted = {name: parse_candidate(name, source.task_names) for name in problem.networks}
    costed = db.costed(fp, train.hash())
    missing = sorted({c for c in wanted.values() if c.name not in costed})
    if missing:
        db.add_costs(fp, train.hash(), profile_candidates(source, missing, train))
    costs = normalise_costs(db.costs(fp, train.hash())).set_index("network")
    rows = costs.loc[[wanted[name].name for name in problem.networks], list(problem.cost_names)]
    return Problem(
        problem.tasks,
        problem.networks,
        rows.to_numpy(),
        problem.losses,
        problem.weights,
        problem.cost_names,
        higher_is_better=problem.higher_is_better,
        predicted=problem.predicted,
    )
