"""What a strategy is: ``strategy(source, store, config) -> Estimate``, and the measuring every strategy shares.

A strategy obtains the selection problem of a suite (or a black-box objective), measured or estimated, and an
affinity matrix to show beside it. Strategies are registered by name in :data:`taskgroup.strategies.STRATEGIES`;
``taskgroup run`` and :func:`taskgroup.pipeline.run_pipeline` dispatch through that registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

import pandas as pd

from taskgroup.measure.store import ResultStore
from taskgroup.objectives import selection_problem
from taskgroup.plan import Plan
from taskgroup.problem import Problem

__all__ = ["StrategyConfig", "Estimate", "Strategy", "measure_candidates", "problem_from_store"]


@dataclass(frozen=True)
class StrategyConfig:
    """How a strategy measures.

    Attributes
    ----------
    train : TrainConfig or None
        The full training schedule and model of a suite's networks (None for an objective, which trains itself).
    cost : str
        The cost column of the problem (normalised: a full single-task network costs 1).
    objective : {"metric", "calibrated", "relative", "sum"}
        What the problem's values are (:func:`taskgroup.objectives.selection_problem`; unweighted: the run applies
        the relative weights). ``sum``: the plain losses.
    seeds : int or sequence of int
        Measurement seeds of every network: a count ``K`` (seeds 0..K-1) or the seeds themselves.
    executor : str
        Where measurements run (``"serial"``, ``"process:N"``, ``"dask://HOST:PORT"``).
    esa_fraction : float
        ``esa``: the short schedule as a fraction of ``train.epochs``.
    seed : int
        ``tag``: the seed of the all-task run; ``adaptive``: the seed of its initial design.
    max_measured : int or None
        ``adaptive``: the most networks to measure.
    n_networks : int or None
        ``adaptive``: the number of networks of the plan the measurement serves.
    measure_options : mapping
        Further options of :func:`taskgroup.measure.measure` (for an objective: ``tasks``, ``variants``,
        ``settings``).
    progress : bool
        Show progress bars while measuring.
    say : callable
        Where one-line progress messages go.
    """

    train: Any = None
    cost: str = "flops"
    objective: str = "sum"
    seeds: int | Sequence[int] = 1
    executor: str = "serial"
    esa_fraction: float = 0.2
    seed: int = 0
    max_measured: int | None = None
    n_networks: int | None = None
    measure_options: Mapping[str, Any] = field(default_factory=dict)
    progress: bool = True
    say: Callable[[str], None] = print


@dataclass
class Estimate:
    """What a strategy returns.

    Attributes
    ----------
    problem : Problem
        The selection problem (validation losses, measured or predicted).
    affinity : pandas.DataFrame or None
        A pairwise affinity ``loc[source, target]`` to show beside the plan.
    test : Problem or None
        The same networks' test losses, when every candidate was measured.
    finish : callable or None
        Called with the chosen plan (``esa`` trains the chosen networks fully); returns nothing.
    """

    problem: Problem
    affinity: pd.DataFrame | None
    test: Problem | None = None
    finish: Callable[[Plan], None] | None = None


Strategy = Callable[[Any, str | PathLike[str], StrategyConfig], Estimate]


def measure_candidates(
    source: Any, store: str | PathLike[str], config: StrategyConfig, candidates: str | Sequence[str], train: Any
) -> pd.DataFrame:
    """Measure ``candidates`` of ``source`` into ``store`` with the training configuration ``train``.

    Parameters
    ----------
    source : TaskSuite
        The suite.
    store : path
        The SQLite results store (created if missing); what it holds is not measured again.
    config : StrategyConfig
        Seeds, executor, progress.
    candidates : "all", "pairs" or list of str
        What to measure (:func:`taskgroup.measure.make_candidates`).
    train : TrainConfig
        How each network trains.

    Returns
    -------
    pandas.DataFrame
        The store's results for this suite and configuration.
    """
    from taskgroup.measure import measure

    return measure(
        source,
        store,
        candidates=candidates,
        config=train,
        seeds=config.seeds,
        executor=config.executor,
        progress=config.progress,
    )


def problem_from_store(
    store: str | PathLike[str],
    split: str,
    cost: str,
    train: Any,
    *,
    normalise: bool = True,
    errors: str = "total",
    objective: str = "sum",
) -> Problem:
    """The problem of the networks measured with ``train`` in ``store``, on ``split``.

    Parameters
    ----------
    store : path
        The SQLite results store.
    split : {"val", "test"}
        Which split's losses.
    cost : str
        The cost column.
    train : TrainConfig
        The training configuration whose results are read.
    normalise : bool
        Divide costs by the full single-task networks' (needs them measured with ``train``).
    errors : {"total", "training"}
        The standard errors in ``Problem.loss_se`` (see :meth:`ResultStore.table`).
    objective : {"metric", "calibrated", "relative", "sum"}
        The values (:func:`taskgroup.objectives.selection_problem`, unweighted); ``sum`` (and ``normalise=False``,
        which has no single-task networks to compare with): the plain losses.

    Returns
    -------
    Problem
        Values as means over seeds, with their standard errors as ``errors`` says (for ``metric`` and
        ``calibrated``, see :mod:`taskgroup.objectives`).
    """
    results = ResultStore(store, create=False)
    if objective in ("sum", "relative") or not normalise:
        return results.to_problem(split, cost, config=train.hash(), normalise=normalise, errors=errors)
    return selection_problem(results, objective, split=split, cost=cost, config=train.hash(), errors=errors)
