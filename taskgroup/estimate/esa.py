"""Standley et al.'s Early Stopping Approximation (ESA): select on short-schedule losses, then train fully.

Every candidate is trained with a short schedule (a fraction of the full one); the selection is made on those
losses; only the chosen networks are then trained to the end. :func:`esa` marks a short-run problem as a
prediction; :func:`esa_select` does the selection and, given a way to train networks fully, the final step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from taskgroup.errors import InvalidArgument
from taskgroup.plan import Plan
from taskgroup.problem import Problem
from taskgroup.solvers import solve
from taskgroup.solvers.instance import Budget

__all__ = ["esa", "esa_select", "ESAResult"]

# full_train(networks) -> a Problem holding (at least) the fully trained losses of those networks
FullTrainer = Callable[[list[str]], Problem]


@dataclass(frozen=True)
class ESAResult:
    """The selection made on short-run losses and, when the chosen networks were trained fully, its score.

    Attributes
    ----------
    selection : Plan
        The plan chosen on the short-run (predicted) losses.
    full : Plan or None
        The same networks scored on their fully trained losses (None when not trained).
    trained : tuple of str
        The networks that were trained fully (the selection's networks).
    """

    selection: Plan
    full: Plan | None
    trained: tuple[str, ...]


def esa(short: Problem) -> Problem:
    """The short-schedule problem with every loss flagged as predicted (a stand-in for full training).

    Parameters
    ----------
    short : Problem
        Losses of every candidate after a short training run (e.g. ``tg.datasets.standley2020(s, "esa")``).

    Returns
    -------
    Problem
        The same problem, ``predicted`` everywhere a network serves a task.
    """
    if not isinstance(short, Problem):
        raise InvalidArgument(f"esa expects a taskgroup Problem of short-run losses; got {type(short).__name__}.")
    return short.with_losses(short.losses, predicted=short.serves)


def esa_select(
    short: Problem,
    budget: Budget,
    *,
    full: Problem | FullTrainer | None = None,
    method: str = "auto",
    time_limit: float | None = None,
) -> ESAResult:
    """Choose networks on short-run losses, then score (or train and score) only the chosen ones.

    Parameters
    ----------
    short : Problem
        Short-schedule losses of the candidates.
    budget : float or mapping
        As in :func:`tg.solve`.
    full : Problem or callable, optional
        Where the fully trained losses come from: a Problem that holds them for (at least) the chosen
        networks (e.g. a published test table), or a function ``full(networks) -> Problem`` that trains just
        those networks (e.g. via the measurement runner) and returns their losses. None: select only.
    method, time_limit
        Passed to :func:`tg.solve`.

    Returns
    -------
    ESAResult

    Raises
    ------
    InvalidArgument
        If ``full`` is neither a Problem nor a callable, or does not hold a chosen network.

    Examples
    --------
    >>> import taskgroup as tg
    >>> short, test = tg.datasets.standley2020(1, "esa"), tg.datasets.standley2020(1, "test")
    >>> result = tg.estimate.esa_select(short, budget=2, full=test)
    >>> result.full.objective > 0
    True
    """
    selection = solve(esa(short), budget, method=method, time_limit=time_limit)
    if full is None:
        return ESAResult(selection, None, ())
    chosen = list(selection.networks)
    if isinstance(full, Problem):
        trained = full
    elif callable(full):
        trained = full(chosen)
        if not isinstance(trained, Problem):
            raise InvalidArgument(f"full(networks) must return a taskgroup Problem; got {type(trained).__name__}.")
    else:
        raise InvalidArgument(
            "full must be a Problem of fully trained losses or a function networks -> Problem; got "
            f"{type(full).__name__}."
        )
    missing = [name for name in chosen if name not in set(trained.networks)]
    if missing:
        raise InvalidArgument(
            f"The fully trained losses lack the chosen network(s) {missing}; they must cover every chosen network."
        )
    for name in chosen:  # the same network must serve the same tasks in both
        if set(trained.network_tasks(name)) != set(short.network_tasks(name)):
            raise InvalidArgument(
                f"Network {name!r} serves {sorted(short.network_tasks(name))} in the short-run problem but "
                f"{sorted(trained.network_tasks(name))} in the fully trained one."
            )
    return ESAResult(selection, trained.evaluate(chosen), tuple(chosen))
