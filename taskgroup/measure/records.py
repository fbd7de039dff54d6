"""What one measurement produced (one row of the results store) and the cost columns: plain data, no SQLite.

Kept apart from :mod:`taskgroup.measure.store` so that training code and the profiler can build rows and costs
without the database, and the store stays one job: reading and writing the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from taskgroup.errors import InvalidArgument

__all__ = ["NetworkResult", "normalise_costs", "COST_COLUMNS", "DEFAULT_PROFILED_COST"]

# The profiler's cost columns for built-in model families (see taskgroup.measure.profile).
COST_COLUMNS: tuple[str, ...] = ("flops", "params", "latency_ms", "memory_bytes", "snt")
# The resource a run of a built-in model family is read with when none is named.
DEFAULT_PROFILED_COST = "flops"


@dataclass
class NetworkResult:
    """What measuring one (candidate, seed) produced: one row of the store.

    ``metrics[task]`` holds ``val_loss`` and optionally ``val_metric``, ``test_loss``, ``test_metric`` (the
    metric is R^2 or accuracy, higher is better). A failed network has ``status="failed"``, a ``reason`` and
    no metrics. ``costs`` holds costs reported with the result (the objective route: ``{resource: value}``);
    built-in model families are profiled separately and leave it empty.

    Attributes
    ----------
    network : str
        The candidate's name (``"a+b"``, ``"a@half"``).
    tasks : tuple of str
        The tasks it was trained on.
    variant : str
        Its size variant.
    seed : int
        The training seed.
    status : {"ok", "failed"}
    reason : str
        Why it failed (empty when ``ok``).
    epochs, best_epoch : int
        Epochs run, and the epoch whose weights were kept.
    train_time : float
        Seconds of training.
    metrics : dict of str to dict of str to float
        Per task: the losses, metrics and their bootstrap errors.
    replicates : dict of str to dict of str to numpy.ndarray
        Per task: ``"<split>_<metric>"`` -> the metric on each bootstrap resample of the split's rows (the same
        resamples for every network: :func:`taskgroup.engine.score`), from which the metric objective's
        evaluation error is computed; empty where none were computed (the objective route).
    costs : dict of str to float
        Costs reported with the result.
    checkpoint : bytes or None
        The trained network as a checkpoint file's bytes (:func:`taskgroup.checkpoints.checkpoint_bytes`), where
        the trainer kept it; the store keeps it beside the row, so that a plan deploys the network it measured.
    """

    network: str
    tasks: tuple[str, ...]
    variant: str
    seed: int
    status: str = "ok"
    reason: str = ""
    epochs: int = 0
    best_epoch: int = 0
    train_time: float = 0.0
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    replicates: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)
    costs: dict[str, float] = field(default_factory=dict)
    checkpoint: bytes | None = field(default=None, repr=False)


def normalise_costs(costs: pd.DataFrame, columns: Sequence[str] = COST_COLUMNS) -> pd.DataFrame:
    """Divide each cost column by its mean over full-size single-task networks, so such a network costs 1.

    Parameters
    ----------
    costs : pandas.DataFrame
        One row per network with ``variant``, ``tasks`` (names joined by ``+``) and cost columns.
    columns : sequence of str
        The cost columns to divide (those absent from the table are skipped); default: the profiler's columns.

    Returns
    -------
    pandas.DataFrame
        A copy with those columns divided.

    Raises
    ------
    InvalidArgument
        If the table has no full-size single-task network to normalise by.
    """
    singles = costs[(costs["variant"] == "full") & ~costs["tasks"].str.contains("+", regex=False)]
    if singles.empty:
        raise InvalidArgument(
            "Cannot normalise costs: no full-size single-task network was measured (add e.g. 'task' to the "
            "candidates, or use normalise=False)."
        )
    out = costs.copy()
    for col in columns:
        if col in out.columns:
            out[col] = out[col] / singles[col].mean()
    return out
