"""TAG and CS affinity of a :class:`~taskgroup.tasks.TaskSuite`, from one all-tasks run of the training engine.

The network is built by the configuration's model factory (the built-in ``mlp`` family by default, or the
user's own) on every task of the suite and trained by :func:`taskgroup.engine.fit` for a fixed number of epochs
(no early stopping); an :class:`~taskgroup.estimate.affinity.AffinityHook` measures the lookahead affinity and/or
the gradient cosine similarity every ``every`` steps (see :mod:`taskgroup.estimate.affinity`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from taskgroup.errors import InvalidArgument
from taskgroup.grouping.affinity_problem import group_problem
from taskgroup.strategies.base import Estimate, StrategyConfig

if TYPE_CHECKING:  # the affinity hook needs torch: imported when a run starts, not when strategies are listed
    from taskgroup.estimate.affinity import AffinityRun, SharedSpec

__all__ = ["tag_strategy", "suite_affinity", "tag_affinity", "cs_affinity"]


def tag_strategy(source: Any, store: Any, config: StrategyConfig) -> Estimate:
    """TAG lookahead affinity from one all-task run; the problem's candidates are groups (cost 1 each).

    Parameters
    ----------
    source : TaskSuite
        The suite.
    store : path
        Not used: one training run, nothing to keep.
    config : StrategyConfig
        ``train`` (its epochs are the run's) and ``seed``.

    Returns
    -------
    Estimate
        The group problem (one-task groups excluded) and the TAG matrix.
    """
    run = suite_affinity(source, ("tag",), config=config.train, epochs=config.train.epochs, seed=config.seed)
    matrix = run.tag
    assert matrix is not None
    config.say(
        f"TAG affinity from one all-task run over {len(matrix)} tasks ({len(run.measured_steps)} lookahead steps)"
    )
    return Estimate(group_problem(matrix, singletons="exclude"), matrix)


def suite_affinity(
    suite: Any,
    methods: Sequence[str] = ("tag", "cs"),
    *,
    config: Any = None,
    epochs: int | None = None,
    every: int = 10,
    lookahead_lr: float | None = None,
    shared: SharedSpec | None = None,
    seed: int = 0,
) -> AffinityRun:
    """Train one network on all of ``suite``'s tasks and measure TAG and/or CS affinity along the way.

    Parameters
    ----------
    suite : TaskSuite
    methods : sequence of {"tag", "cs"}
    config : TrainConfig, optional
        Model, batch size, Adam learning rate, loss reduction, device (default ``TrainConfig()``).
    epochs : int, optional
        Epochs of the run (default ``config.epochs``); there is no early stopping.
    every : int
        Measure every ``every`` steps.
    lookahead_lr : float, optional
        SGD step of the lookahead (default ``config.lr``, as TAG uses the training learning rate).
    shared : str, sequence or callable, optional
        The shared parameters; default: the model's ``shared_parameters()``.
    seed : int
        Initial weights and batch order, as in measurement.

    Returns
    -------
    AffinityRun
        ``.tag`` / ``.cs``: ``matrix.loc[source, target]`` in suite task order.
    """
    from taskgroup.engine import TrainConfig, build_model, fit
    from taskgroup.estimate.affinity import AffinityHook
    from taskgroup.tasks import TaskSuite

    if not isinstance(suite, TaskSuite):
        raise InvalidArgument(
            f"suite_affinity needs a TaskSuite; got {type(suite).__name__} (see tg.datasets.load_suite)."
        )
    config = config or TrainConfig()
    n_epochs = config.epochs if epochs is None else epochs
    if not isinstance(n_epochs, int) or n_epochs < 1:
        raise InvalidArgument(f"epochs={epochs!r} is not accepted; give an integer >= 1.")
    if len(suite.tasks) < 2:
        raise InvalidArgument(f"Affinity needs at least 2 tasks; suite {suite.name!r} has {list(suite.task_names)}.")
    hook = AffinityHook(
        suite.task_names, shared=shared, methods=methods, every=every, lookahead_lr=lookahead_lr or config.lr, seed=seed
    )
    model = build_model(config.factory(), suite.tasks, "full", suite.example_batch(), seed)
    fit(model, suite.train, suite.tasks, config.replace(epochs=n_epochs, patience=None), seed=seed, hooks=[hook])
    return hook.result()


def tag_affinity(suite: Any, **options: Any) -> pd.DataFrame:
    """TAG lookahead affinity ``Z.loc[source, target]`` of a suite (options as :func:`suite_affinity`).

    Parameters
    ----------
    suite : TaskSuite
        The suite.
    **options
        As :func:`suite_affinity`.

    Returns
    -------
    pandas.DataFrame
        ``matrix.loc[source, target]``.
    """
    run = suite_affinity(suite, ("tag",), **options)
    assert run.tag is not None
    return run.tag


def cs_affinity(suite: Any, **options: Any) -> pd.DataFrame:
    """Gradient cosine similarity of a suite's tasks (options as :func:`suite_affinity`).

    Parameters
    ----------
    suite : TaskSuite
        The suite.
    **options
        As :func:`suite_affinity`.

    Returns
    -------
    pandas.DataFrame
        ``matrix.loc[source, target]``, symmetric.
    """
    run = suite_affinity(suite, ("cs",), **options)
    assert run.cs is not None
    return run.cs
