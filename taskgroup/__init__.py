"""taskgroup: decide which tasks should share a neural network under an inference budget.

>>> import taskgroup as tg
>>> problem = tg.datasets.standley2020(setting=1, split="val")
>>> plan = tg.solve(problem, budget=2.5)
"""

from taskgroup import datasets, errors, estimate, grouping, solvers
from taskgroup.errors import (
    InfeasibleBudget,
    InstanceTooLarge,
    InvalidArgument,
    InvalidPlan,
    InvalidProblem,
    SolverError,
    TaskgroupError,
)
from taskgroup.plan import Frontier, Plan
from taskgroup.problem import Problem
from taskgroup.solvers import available_solvers, frontier, minimum_budget, plot_frontier, solve

__version__ = "0.2.0"


def __getattr__(name: str):
    # These import torch; load them on first use so that planning-only users and the CLI start fast.
    if name in (
        "measure",
        "strategies",
        "train",
        "manifest",
        "checkpoints",
        "onnx_runtime",
        "engine",
        "tasks",
        "serve",
    ):
        import importlib

        return importlib.import_module(f"taskgroup.{name}")
    raise AttributeError(f"module 'taskgroup' has no attribute {name!r}")


__all__ = [
    "Problem",
    "Plan",
    "Frontier",
    "solve",
    "frontier",
    "plot_frontier",
    "minimum_budget",
    "available_solvers",
    "datasets",
    "measure",
    "train",
    "serve",
    "manifest",
    "checkpoints",
    "engine",
    "tasks",
    "errors",
    "estimate",
    "grouping",
    "strategies",
    "solvers",
    "TaskgroupError",
    "InvalidProblem",
    "InvalidArgument",
    "InvalidPlan",
    "InfeasibleBudget",
    "InstanceTooLarge",
    "SolverError",
]
