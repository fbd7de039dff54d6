"""Train and profile candidate networks on task suites, resumably and in parallel.

- :class:`TaskSuite`, :class:`TaskSpec`, :class:`Split`: re-exported from :mod:`taskgroup.tasks`.
- :func:`make_candidates` (``candidates.py``): all subsets / pairs / a list, full and half size.
- :func:`train_candidates` (``training.py``): candidates through the engine (:mod:`taskgroup.engine`), stacked
  where possible; :class:`TrainConfig` is the engine's, its ``model`` the user's factory or a family name.
- :func:`profile_candidates` (``profile.py``): FLOPs, parameters, latency, memory of the built networks.
- :class:`ResultStore` (``store.py``): the SQLite results database.
- :func:`measure` (``runner.py``): the driver; executors in ``executors.py``.
"""

from taskgroup.measure.candidates import Candidate, make_candidates, parse_candidate
from taskgroup.measure.profile import COST_COLUMNS, normalise_costs, profile_candidates
from taskgroup.measure.runner import measure, plan_jobs
from taskgroup.measure.store import MeasurementWarning, ResultStore
from taskgroup.measure.training import NetworkResult, TrainConfig, train_candidate, train_candidates
from taskgroup.tasks.suite import SPLITS, TASK_KINDS, Split, TaskSpec, TaskSuite

__all__ = [
    "TaskSuite", "TaskSpec", "Split", "SPLITS", "TASK_KINDS",
    "Candidate", "make_candidates", "parse_candidate",
    "TrainConfig", "NetworkResult", "train_candidate", "train_candidates",
    "COST_COLUMNS", "profile_candidates", "normalise_costs",
    "ResultStore", "MeasurementWarning",
    "measure", "plan_jobs",
]
