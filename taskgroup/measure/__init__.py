"""Train and profile candidate networks (or run the user's own training script), resumably and in parallel.

- :class:`TaskSuite`, :class:`TaskSpec`, :class:`Split` (``suite.py``): data, tasks, splits, masks.
- :class:`SharedTrunkNet` (``models.py``): the candidate network family (shared trunk + heads).
- :func:`make_candidates` (``candidates.py``): all subsets / pairs / a list, in size variants.
- :func:`train_network` (``training.py``), :func:`train_stack` (``vectorised.py``): one or many at once.
- :func:`profile_candidates` (``profile.py``): FLOPs, parameters, latency, memory.
- :class:`ResultStore` (``store.py``): the SQLite results database; reading it needs no torch.
- :func:`measure` (``runner.py``): the driver, for a suite or an objective; executors in ``executors.py``.
- :func:`measure_objective` (``objective.py``): the black-box route, ``objective(tasks, variant, seed)``.

Names are imported on first use (module ``__getattr__``), so ``import taskgroup.measure.store`` and the
objective route do not load torch; the names that train or profile do.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it
_NAMES = {
    "TaskSuite": "suite", "TaskSpec": "suite", "Split": "suite", "SPLITS": "suite", "TASK_KINDS": "suite",
    "task_loss": "suite", "task_metric": "suite",
    "SharedTrunkNet": "models", "VARIANTS": "models",
    "Candidate": "candidates", "make_candidates": "candidates", "parse_candidate": "candidates",
    "TrainConfig": "training", "train_network": "training", "train_stack": "vectorised",
    "COST_COLUMNS": "store", "normalise_costs": "store", "profile_network": "profile",
    "profile_candidates": "profile",
    "ResultStore": "store", "MeasurementWarning": "store", "NetworkResult": "store",
    "measure": "runner", "plan_jobs": "runner", "measure_objective": "objective",
}

__all__ = list(_NAMES)


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'taskgroup.measure' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"taskgroup.measure.{module}"), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMES))
