"""Train and profile candidate networks (or run the user's own training script), resumably and in parallel.

- :class:`TaskSuite`, :class:`TaskSpec`, :class:`Split`: re-exported from :mod:`taskgroup.tasks`.
- :func:`make_candidates` (``candidates.py``): all subsets / pairs / a list, in size variants.
- :func:`train_candidates` (``training.py``): candidates through the engine (:mod:`taskgroup.engine`), stacked
  where possible; :class:`TrainConfig` is the engine's, its ``model`` the user's factory or a family name.
- :func:`profile_candidates` (``profile.py``): FLOPs, parameters, latency, memory of the built networks.
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
    "TaskSuite": "taskgroup.tasks.suite",
    "TaskSpec": "taskgroup.tasks.suite",
    "Split": "taskgroup.tasks.suite",
    "SPLITS": "taskgroup.tasks.tables",
    "TASK_KINDS": "taskgroup.tasks.tables",
    "Candidate": "taskgroup.measure.candidates",
    "make_candidates": "taskgroup.measure.candidates",
    "parse_candidate": "taskgroup.measure.candidates",
    "TrainConfig": "taskgroup.engine.config",
    "train_candidate": "taskgroup.measure.training",
    "train_candidates": "taskgroup.measure.training",
    "COST_COLUMNS": "taskgroup.measure.records",
    "normalise_costs": "taskgroup.measure.records",
    "NetworkResult": "taskgroup.measure.records",
    "ResultStore": "taskgroup.measure.store",
    "MeasurementWarning": "taskgroup.measure.store",
    "profile_candidates": "taskgroup.measure.profile",
    "measure": "taskgroup.measure.runner",
    "plan_jobs": "taskgroup.measure.runner",
    "measure_objective": "taskgroup.measure.objective",
}

__all__ = list(_NAMES)


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'taskgroup.measure' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMES))
