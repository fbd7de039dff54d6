"""Strategies: how a run obtains its selection problem, measured or estimated, registered by name.

Every strategy is ``strategy(source, store, config) -> Estimate`` (:mod:`taskgroup.strategies.base`):

- ``full`` (``full.py``): train every candidate.
- ``hoa`` (``hoa.py``): train the pairs, predict larger groups (``tg.estimate.hoa``).
- ``esa`` (``esa.py``): select on short runs, train the chosen fully; also :func:`esa_measure`.
- ``tag`` (``tag.py``): TAG lookahead affinity from one all-task run; also :func:`suite_affinity`.
- ``adaptive`` (``adaptive.py``): measure only what the plan relies on (:func:`adaptive_select`).

``taskgroup run --strategy NAME`` and :func:`taskgroup.pipeline.run_pipeline` dispatch through
:data:`STRATEGIES`. Modules that train import torch on first use only.
"""

from taskgroup.registry import Registry
from taskgroup.strategies.adaptive import AdaptiveResult, adaptive_select, adaptive_strategy, suite_measurer
from taskgroup.strategies.base import Estimate, Strategy, StrategyConfig
from taskgroup.strategies.esa import ESAMeasurement, esa_measure, esa_strategy
from taskgroup.strategies.full import full_strategy
from taskgroup.strategies.hoa import hoa_strategy
from taskgroup.strategies.tag import cs_affinity, suite_affinity, tag_affinity, tag_strategy

__all__ = [
    "STRATEGIES",
    "Strategy",
    "StrategyConfig",
    "Estimate",
    "adaptive_select",
    "AdaptiveResult",
    "suite_measurer",
    "esa_measure",
    "ESAMeasurement",
    "suite_affinity",
    "tag_affinity",
    "cs_affinity",
]

STRATEGIES: Registry[Strategy] = Registry("strategy")
STRATEGIES.register("full", full_strategy, "train every candidate network (all subsets, full and half size)")
STRATEGIES.register("hoa", hoa_strategy, "train the pairs and predict larger groups (Standley et al.'s HOA)")
STRATEGIES.register("esa", esa_strategy, "select on short runs of every candidate, then train only the chosen fully")
STRATEGIES.register("tag", tag_strategy, "TAG lookahead affinity from one all-task run; budget in networks")
STRATEGIES.register(
    "adaptive", adaptive_strategy, "measure only the groups a plan relies on, within a budget of networks"
)
