"""Inference cost of candidate networks, profiled from the built modules with the engine's one profiler.

Costs depend only on the architecture (tasks served, size variant, the model factory), never on trained
weights, so each candidate is profiled once per configuration, and a network that is predicted rather than
trained (HOA, a fitted group predictor) is profiled exactly like a measured one. Columns per network: the
engine's :data:`~taskgroup.engine.profile.COST_KEYS` (``flops``, ``params``, ``latency_ms``, ``memory_bytes``;
see :mod:`taskgroup.engine.profile`) and ``snt``, Standley et al.'s unit: the variant's width multiplier (1 for
a full-size network, 0.5 for half; 1 for a variant name a built-in family does not know).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from taskgroup.engine import VARIANTS, TrainConfig, build_model, profile_model
from taskgroup.errors import InvalidArgument
from taskgroup.measure.candidates import Candidate
from taskgroup.measure.records import COST_COLUMNS, normalise_costs
from taskgroup.naming import network_name
from taskgroup.tasks.suite import TaskSuite

__all__ = ["COST_COLUMNS", "profile_candidates", "normalise_costs"]


def profile_candidates(
    suite: TaskSuite,
    candidates: Sequence[Candidate],
    config: TrainConfig,
    *,
    repeats: int = 50,
    latency: bool = True,
) -> pd.DataFrame:
    """One row per candidate: network, variant, tasks and the cost columns, from the network ``config`` builds.

    The network is built (seed 0) and profiled, never trained.

    Parameters
    ----------
    suite : TaskSuite
        The data (the networks are sized on its example batch).
    candidates : sequence of Candidate
        The networks to profile.
    config : TrainConfig
        The configuration that builds them.
    repeats : int, default 50
        Timed forward passes per network (see :func:`taskgroup.engine.profile.profile_model`).
    latency : bool, default True
        Time the networks (otherwise ``latency_ms`` is left out).

    Returns
    -------
    pandas.DataFrame
        Columns ``network, variant, tasks, flops, params, memory_bytes[, latency_ms], snt`` (``snt``: the
        variant's width, 1 for a full network).

    Raises
    ------
    InvalidArgument
        ``config`` is not a TrainConfig, or ``repeats`` below 1.
    """
    if not isinstance(config, TrainConfig):
        raise InvalidArgument(
            f"profile_candidates needs the TrainConfig that builds the networks; got {type(config).__name__}."
        )
    factory = config.factory()
    rows = []
    for cand in candidates:
        sub = suite.subset(list(cand.tasks))
        net = build_model(factory, sub.tasks, cand.variant, sub.example_batch(), seed=0)
        rows.append(
            {
                "network": cand.name,
                "variant": cand.variant,
                "tasks": network_name(cand.tasks),
                **profile_model(net, sub.example_batch(), repeats=repeats, latency=latency),
                "snt": VARIANTS.get(cand.variant, 1.0),
            }
        )
    return pd.DataFrame(rows)
