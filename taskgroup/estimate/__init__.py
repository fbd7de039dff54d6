"""Predicting what untrained groups would achieve, and grouping tasks from pairwise affinities.

- :func:`hoa`: Standley et al.'s Higher Order Approximation from pair networks.
- :func:`esa`, :func:`esa_select`: the Early Stopping Approximation (select on short runs, train the chosen).
- :func:`lookahead_affinity`, :func:`gradient_similarity`, :class:`AffinityHook`: TAG's inter-task
  affinity and gradient cosine similarity, measured inside one multi-task training run (torch).
- :func:`as_affinity`: read a user's affinity or pair matrix (``matrix.loc[source, target]``).
- :func:`group_problem`: affinity matrix -> Problem whose candidates are groups (exact solvers apply).
- :func:`tag_affinity`, :func:`cs_affinity`, :func:`suite_affinity`: the same on a measurement TaskSuite.
- :func:`esa_measure`: ESA end to end through the measurement runner and its results store.
- :func:`group`: ``k`` groups for up to ~40 tasks with candidates generated on demand (heuristics and column
  generation), registered by name in :data:`GROUPING_METHODS`.
- :func:`select_groups`: the same over *every* group valued by a predictor (:func:`hoa_predictor`,
  :func:`fit_group_predictor`, an affinity), measured groups overriding predictions.
- :func:`adaptive_select`, :func:`suite_measurer`: measure only the groups the selection relies on, within a
  budget of K networks; resumable through the results store.
- :func:`fit_group_posterior`, :func:`ucb_select`, :func:`certify`: a Bayesian model of every group's loss with
  uncertainty (up to 12 tasks), measurement by an upper confidence bound on plan value, and a plan's certificate.
- :func:`planted_affinity`, :func:`planted_group_losses`: seeded synthetic instances with planted clusters.
"""

from taskgroup.estimate.acquisition import AcquisitionResult, ucb_select
from taskgroup.estimate.adaptive import AdaptiveResult, adaptive_select, suite_measurer
from taskgroup.estimate.affinity_store import list_affinities, load_affinity, save_affinity
from taskgroup.estimate.certificate import Certificate, certify
from taskgroup.estimate.esa import ESAResult, esa, esa_select
from taskgroup.estimate.esa_measure import ESAMeasurement, esa_measure
from taskgroup.estimate.fitted import fit_group_predictor, measurements_from_problem
from taskgroup.estimate.group import (
    GROUPING_METHODS,
    GroupingResult,
    available_grouping_methods,
    group,
    register_grouping,
    select_groups,
)
from taskgroup.estimate.grouping import group_problem, group_values
from taskgroup.estimate.hoa import hoa, hoa_predictor
from taskgroup.estimate.matrix import as_affinity
from taskgroup.estimate.posterior import GroupPosterior, fit_group_posterior
from taskgroup.estimate.synthetic import planted_affinity, planted_group_losses

__all__ = [
    "hoa",
    "esa",
    "esa_select",
    "ESAResult",
    "as_affinity",
    "group_problem",
    "group_values",
    "lookahead_affinity",
    "gradient_similarity",
    "AffinityHook",
    "shared_parameter_names",
    "AffinityRun",
    "group",
    "GROUPING_METHODS",
    "GroupingResult",
    "register_grouping",
    "available_grouping_methods",
    "planted_affinity",
    "planted_group_losses",
    "select_groups",
    "hoa_predictor",
    "fit_group_predictor",
    "measurements_from_problem",
    "adaptive_select",
    "AdaptiveResult",
    "suite_measurer",
    "ucb_select",
    "AcquisitionResult",
    "fit_group_posterior",
    "GroupPosterior",
    "certify",
    "Certificate",
    "suite_affinity",
    "tag_affinity",
    "cs_affinity",
    "esa_measure",
    "ESAMeasurement",
    "save_affinity",
    "load_affinity",
    "list_affinities",
]

# The TAG/CS measurement needs torch; load those names on first use so that planning-only users and the CLI
# do not pay for importing torch.
_LAZY = {
    "AffinityRun": "taskgroup.estimate.affinity",
    "gradient_similarity": "taskgroup.estimate.affinity",
    "lookahead_affinity": "taskgroup.estimate.affinity",
    "shared_parameter_names": "taskgroup.estimate.affinity",
    "AffinityHook": "taskgroup.estimate.affinity",
    "cs_affinity": "taskgroup.estimate.suite_run",
    "suite_affinity": "taskgroup.estimate.suite_run",
    "tag_affinity": "taskgroup.estimate.suite_run",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # resolved once; also what documentation tools read
        return value
    raise AttributeError(f"module 'taskgroup.estimate' has no attribute {name!r}")
