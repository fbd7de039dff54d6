"""Pure estimators over Problems and matrices: what untrained groups would achieve. No training, no stores.

- :func:`hoa`, :func:`hoa_predictor`: Standley et al.'s Higher Order Approximation from pair networks.
- :func:`esa`, :func:`esa_select`: the Early Stopping Approximation's arithmetic (select on short runs, score the
  chosen on full runs given as a Problem or a function).
- :func:`fit_group_predictor`, :func:`measurements_from_problem`: a group predictor fitted to measured groups.
- :func:`as_affinity`: read a user's affinity or pair matrix (``matrix.loc[source, target]``).
- :func:`lookahead_affinity`, :func:`gradient_similarity`, :class:`AffinityHook`: TAG's inter-task affinity and
  gradient cosine similarity, the formulas evaluated on a model's batch (torch; the training run that feeds them
  is :mod:`taskgroup.strategies.tag`).
- :func:`planted_affinity`, :func:`planted_group_losses`: seeded synthetic instances with planted clusters.

Grouping tasks from these estimates is :mod:`taskgroup.grouping`; measuring and estimating end to end (full,
hoa, esa, tag, adaptive) is :mod:`taskgroup.strategies`.
"""

from taskgroup.estimate.esa import ESAResult, esa, esa_select
from taskgroup.estimate.fitted import fit_group_predictor, measurements_from_problem
from taskgroup.estimate.hoa import hoa, hoa_predictor
from taskgroup.estimate.matrix import as_affinity
from taskgroup.estimate.synthetic import planted_affinity, planted_group_losses

__all__ = [
    "hoa",
    "hoa_predictor",
    "esa",
    "esa_select",
    "ESAResult",
    "as_affinity",
    "fit_group_predictor",
    "measurements_from_problem",
    "lookahead_affinity",
    "gradient_similarity",
    "AffinityHook",
    "shared_parameter_names",
    "AffinityRun",
    "planted_affinity",
    "planted_group_losses",
]

# The TAG/CS formulas need torch; load those names on first use so that planning-only users and the CLI
# do not pay for importing torch.
_LAZY = {
    "AffinityRun": "taskgroup.estimate.affinity",
    "gradient_similarity": "taskgroup.estimate.affinity",
    "lookahead_affinity": "taskgroup.estimate.affinity",
    "shared_parameter_names": "taskgroup.estimate.affinity",
    "AffinityHook": "taskgroup.estimate.affinity",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # resolved once; also what documentation tools read
        return value
    raise AttributeError(f"module 'taskgroup.estimate' has no attribute {name!r}")
