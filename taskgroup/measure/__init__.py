"""Train and profile candidate networks on task suites, resumably and in parallel.

- :class:`TaskSuite`, :class:`TaskSpec`, :class:`Split` (``suite.py``): data, tasks, splits, masks.
- :class:`SharedTrunkNet` (``models.py``): the candidate network family (shared trunk + heads).
- :func:`make_candidates` (``candidates.py``): all subsets / pairs / a list, full and half size.
- :func:`train_network` (``training.py``), :func:`train_stack` (``vectorised.py``): one or many at once.
- :func:`profile_candidates` (``profile.py``): FLOPs, parameters, latency, memory.
- :class:`ResultStore` (``store.py``): the SQLite results database.
- :func:`measure` (``runner.py``): the driver; executors in ``executors.py``.
"""

from taskgroup.measure.candidates import Candidate, make_candidates, parse_candidate
from taskgroup.measure.models import VARIANTS, SharedTrunkNet
from taskgroup.measure.profile import COST_COLUMNS, normalise_costs, profile_candidates, profile_network
from taskgroup.measure.runner import measure, plan_jobs
from taskgroup.measure.store import MeasurementWarning, ResultStore
from taskgroup.measure.suite import SPLITS, TASK_KINDS, Split, TaskSpec, TaskSuite, task_loss, task_metric
from taskgroup.measure.training import NetworkResult, TrainConfig, train_network
from taskgroup.measure.vectorised import train_stack

__all__ = [
    "TaskSuite", "TaskSpec", "Split", "SPLITS", "TASK_KINDS", "task_loss", "task_metric",
    "SharedTrunkNet", "VARIANTS",
    "Candidate", "make_candidates", "parse_candidate",
    "TrainConfig", "NetworkResult", "train_network", "train_stack",
    "COST_COLUMNS", "profile_network", "profile_candidates", "normalise_costs",
    "ResultStore", "MeasurementWarning",
    "measure", "plan_jobs",
]
