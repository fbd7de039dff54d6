"""TAG and CS affinity of a :class:`~taskgroup.measure.TaskSuite`, from one all-tasks training run.

The network is the measurement module's candidate family (:class:`~taskgroup.measure.SharedTrunkNet`) on every
task of the suite, trained with the suite's mini-batch order and the :class:`~taskgroup.measure.TrainConfig`
optimiser (Adam); the trunk is the shared part. Every ``every`` steps the lookahead affinity and/or gradient
cosine similarity are measured on that step's batch (see :mod:`taskgroup.estimate.affinity`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
import torch

from taskgroup.errors import InvalidArgument
from taskgroup.estimate.affinity import AffinityRun, train_with_affinity

__all__ = ["suite_affinity", "tag_affinity", "cs_affinity"]


def suite_affinity(
    suite: Any,
    methods: Sequence[str] = ("tag", "cs"),
    *,
    config: Any = None,
    epochs: int | None = None,
    every: int = 10,
    lookahead_lr: float | None = None,
    seed: int = 0,
    threads: int | None = 1,
) -> AffinityRun:
    """Train one network on all of ``suite``'s tasks and measure TAG and/or CS affinity along the way.

    Parameters
    ----------
    suite : TaskSuite
    methods : sequence of {"tag", "cs"}
    config : TrainConfig, optional
        Trunk widths, batch size, Adam learning rate, loss reduction (default ``TrainConfig()``).
    epochs : int, optional
        Epochs of the run (default ``config.epochs``); there is no early stopping.
    every : int
        Measure every ``every`` steps.
    lookahead_lr : float, optional
        SGD step of the lookahead (default ``config.lr``, as TAG uses the training learning rate).
    seed : int
        Initial weights and batch order, as in the measurement module.
    threads : int or None
        torch threads during the run (restored afterwards); None leaves the setting alone.

    Returns
    -------
    AffinityRun
        ``.tag`` / ``.cs``: ``matrix.loc[source, target]`` in suite task order.
    """
    from taskgroup.measure import SharedTrunkNet, TaskSuite, TrainConfig, task_loss
    from taskgroup.measure.training import batch_order

    if not isinstance(suite, TaskSuite):
        raise InvalidArgument(f"suite_affinity needs a TaskSuite; got {type(suite).__name__} (see tg.datasets.load_suite).")
    config = config or TrainConfig()
    n_epochs = config.epochs if epochs is None else epochs
    if not isinstance(n_epochs, int) or n_epochs < 1:
        raise InvalidArgument(f"epochs={epochs!r} is not accepted; give an integer >= 1.")
    if len(suite.tasks) < 2:
        raise InvalidArgument(f"Affinity needs at least 2 tasks; suite {suite.name!r} has {list(suite.task_names)}.")
    train = suite.train
    net = SharedTrunkNet(suite.n_features, suite.tasks, config.hidden, 1.0, seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    per_epoch = len(batch_order(len(train), config.batch_size, 0, seed))

    def batches() -> Iterator[torch.Tensor]:
        for epoch in range(n_epochs):
            yield from batch_order(len(train), config.batch_size, epoch, seed)

    def forward(model: Any, rows: torch.Tensor) -> Any:
        return model(train.x[rows])

    def loss_fn(outputs: dict[str, torch.Tensor], rows: torch.Tensor) -> dict[str, torch.Tensor]:
        return {
            spec.name: task_loss(spec, outputs[spec.name], train.y[rows, t], train.mask[rows, t])
            for t, spec in enumerate(suite.tasks)
        }

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return train_with_affinity(
            net,
            list(batches()),
            loss_fn,
            shared="trunk",
            steps=n_epochs * per_epoch,
            lr=config.lr,
            every=every,
            methods=methods,
            optimizer=optimizer,
            lookahead_lr=lookahead_lr or config.lr,
            tasks=suite.task_names,
            forward=forward,
            reduction=config.reduction,
            seed=seed,
        )
    finally:
        torch.set_num_threads(previous)


def tag_affinity(suite: Any, **options: Any) -> pd.DataFrame:
    """TAG lookahead affinity ``Z.loc[source, target]`` of a suite (options as :func:`suite_affinity`)."""
    run = suite_affinity(suite, ("tag",), **options)
    assert run.tag is not None
    return run.tag


def cs_affinity(suite: Any, **options: Any) -> pd.DataFrame:
    """Gradient cosine similarity of a suite's tasks (options as :func:`suite_affinity`)."""
    run = suite_affinity(suite, ("cs",), **options)
    assert run.cs is not None
    return run.cs
