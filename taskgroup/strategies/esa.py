"""``esa``: the Early Stopping Approximation end to end: short runs of every candidate, selection, full runs of
the chosen ones.

Both phases go through the measurement runner (:func:`taskgroup.measure.measure`) and its results store, so
they resume after an interruption and the short- and full-schedule results sit side by side (keyed by their
training configurations). The short schedule is :func:`short_schedule` wherever ESA runs (``taskgroup run
--strategy esa`` and :func:`esa_measure`): a fixed number of epochs without early stopping.
"""

# No ``from __future__ import annotations`` here: a NamedTuple's fields must be real types for the API
# reference (pdoc cannot resolve string annotations of the generated ``__new__``).
import warnings
from collections.abc import Sequence
from os import PathLike
from typing import Any, NamedTuple

from taskgroup.estimate.esa import ESAResult, esa, esa_select
from taskgroup.estimate.pairs import pair_affinity
from taskgroup.plan import Plan
from taskgroup.problem import Problem
from taskgroup.solvers.instance import Budget
from taskgroup.strategies.base import Estimate, StrategyConfig, measure_candidates, problem_from_store
from taskgroup.validation import check_number

__all__ = ["esa_strategy", "esa_measure", "ESAMeasurement", "short_schedule"]


def short_schedule(full: Any, fraction: float) -> Any:
    """ESA's short schedule: ``max(1, round(fraction * full.epochs))`` epochs of ``full``, no early stopping.

    Parameters
    ----------
    full : TrainConfig
        The full schedule.
    fraction : float
        In (0, 1).

    Returns
    -------
    TrainConfig
        The short schedule (a fixed number of epochs: early stopping would make short runs of different
        candidates incomparable).

    Raises
    ------
    InvalidArgument
        ``fraction`` outside (0, 1).
    """
    check_number(fraction, "fraction", "ESA", minimum=0, maximum=1, exclusive=True)
    return full.replace(epochs=max(1, round(fraction * full.epochs)), patience=None)


def esa_strategy(source: Any, store: str | PathLike[str], config: StrategyConfig) -> Estimate:
    """Measure every candidate on the short schedule; once a plan is chosen, train its networks fully.

    Parameters
    ----------
    source : TaskSuite
        The suite.
    store : path
        The results store.
    config : StrategyConfig
        How to measure; ``esa_fraction`` sets the short schedule.

    Returns
    -------
    Estimate
        The short-schedule problem (losses flagged predicted), its pair affinity, and ``finish``, which trains
        the chosen networks on the full schedule and says their validation objective.
    """
    short = short_schedule(config.train, config.esa_fraction)
    measure_candidates(source, store, config, "all", short)
    short_problem = problem_from_store(store, "val", config.cost, short, objective=config.objective)

    def finish(plan: Plan) -> None:
        measure_candidates(source, store, config, list(plan.networks), config.train)
        # Only the chosen networks ran the full schedule, so there is no single-task network to normalise costs
        # by; the losses are all that is needed here.
        scored = problem_from_store(store, "val", config.cost, config.train, normalise=False).evaluate(plan.networks)
        config.say(
            f"ESA: chosen on short runs (objective {plan.objective:.4g}); "
            f"fully trained: objective {scored.objective:.4g}"
        )

    return Estimate(esa(short_problem), pair_affinity(short_problem), finish=finish)


class ESAMeasurement(NamedTuple):
    """What :func:`esa_measure` returns; a named tuple, so ``result, short = esa_measure(...)`` still works.

    Attributes
    ----------
    result : ESAResult
        The selection made on the short-schedule losses and its score on the fully trained *test* losses
        (``result.full``) of the networks that were trained fully (``result.trained``).
    short_problem : Problem
        The short-schedule problem the selection was made on, every loss flagged as predicted.
    """

    result: ESAResult
    short_problem: Problem


def esa_measure(
    suite: Any,
    store: str | PathLike[str],
    budget: Budget,
    *,
    full: Any = None,
    fraction: float = 0.2,
    cost: str = "flops",
    seeds: int | Sequence[int] = 1,
    executor: str = "serial",
    progress: bool = False,
    method: str = "auto",
) -> ESAMeasurement:
    """Select networks on short-schedule validation losses, then train only those fully.

    Parameters
    ----------
    suite : TaskSuite
    store : path
        SQLite results store (created if missing).
    budget : float or mapping
        In units of ``cost``.
    full : TrainConfig, optional
        The full schedule and model (default ``TrainConfig()``).
    fraction : float
        Short schedule = ``max(1, round(fraction * full.epochs))`` epochs, no early stopping needed (0 < f < 1).
    cost : str
        Cost column of the store ("snt", "flops", "params", "latency_ms", "memory_bytes").
    seeds, executor, progress
        Passed to :func:`taskgroup.measure.measure`.
    method : str
        Solver for the selection.

    Returns
    -------
    ESAMeasurement
        ``.result`` (an :class:`ESAResult`: ``.result.full`` scores the chosen networks on their fully trained
        *test* losses) and ``.short_problem``, the short-schedule problem the selection was made on. It unpacks
        as ``result, short_problem``.
    """
    from taskgroup.engine import TrainConfig
    from taskgroup.measure import measure
    from taskgroup.measure.store import ResultStore

    full = full or TrainConfig()
    short = short_schedule(full, fraction)
    fp = suite.fingerprint()
    measure(suite, store, candidates="all", config=short, seeds=seeds, executor=executor, progress=progress)
    results = ResultStore(store)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # failed short runs are simply not candidates
        short_table = results.table("val", cost, suite=fp, config=short.hash())
        short_problem = Problem.from_frame(
            short_table, cost=cost, tasks=results.task_order(short_table, fp, short.hash())
        )

    def train_fully(networks: list[str]) -> Problem:
        measure(suite, store, candidates=list(networks), config=full, seeds=seeds, executor=executor, progress=progress)
        # Only the chosen networks have full runs, so costs cannot be normalised to a single-task network;
        # scoring ignores costs, so the raw FLOPs do.
        table = results.table("test", "flops", suite=fp, config=full.hash(), normalise=False)
        return Problem.from_frame(table, cost="flops", tasks=results.task_order(table, fp, full.hash()))

    return ESAMeasurement(esa_select(short_problem, budget, full=train_fully, method=method), esa(short_problem))
