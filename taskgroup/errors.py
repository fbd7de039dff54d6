"""The taskgroup exception tree.

Every error raised on purpose by taskgroup derives from :class:`TaskgroupError`. Each class also derives
from the matching built-in (``ValueError``, ``RuntimeError``) so that plain ``except ValueError`` clauses in
user code keep working.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "TaskgroupError",
    "InvalidProblem",
    "InvalidArgument",
    "InvalidPlan",
    "NotFound",
    "InfeasibleBudget",
    "InstanceTooLarge",
    "SolverError",
    "PipelineError",
    "InvalidSuite",
    "MeasurementError",
    "ManifestError",
    "MissingDependency",
    "ExportError",
    "Interrupted",
]


class TaskgroupError(Exception):
    """Base class of every error taskgroup raises on purpose."""


class InvalidProblem(TaskgroupError, ValueError):
    """The table, dict or arrays a problem is built from are not a valid problem."""


class InvalidArgument(TaskgroupError, ValueError):
    """A function argument has a value that is not accepted."""


class InvalidPlan(InvalidArgument):
    """A plan (a plan file, a plan dict, a manifest's plan) cannot be read: a missing or mistyped field.

    A kind of :class:`InvalidArgument`: the plan is an argument that is not accepted, so ``except
    InvalidArgument`` and ``except ValueError`` catch it.
    """


class NotFound(InvalidArgument, LookupError):
    """A store holds no entry matching what was asked; the message names the request and what is stored.

    It derives from :class:`InvalidArgument` (what the results store raises for a suite it lacks) and from
    ``LookupError``, like ``KeyError``.
    """


class InvalidSuite(TaskgroupError, ValueError):
    """A task suite cannot be built or used: unknown suite or task name, bad targets, mismatched lengths."""


class MeasurementError(TaskgroupError, RuntimeError):
    """Measuring candidate networks failed in a way that is not one network's divergence (recorded instead)."""


class InstanceTooLarge(TaskgroupError, ValueError):
    """A method refuses an instance that is too large for it (e.g. exhaustive search)."""


class SolverError(TaskgroupError, RuntimeError):
    """A solver backend failed in a way that is not the instance's fault."""


class ManifestError(TaskgroupError, ValueError):
    """A deployment manifest or checkpoint is missing, malformed, of another version, or fails its checksum."""


class MissingDependency(TaskgroupError, ImportError):
    """An optional feature needs packages that are not installed; the message names the extra that installs them."""


class ExportError(TaskgroupError, RuntimeError):
    """A network cannot be exported (an operator the format lacks) or its export disagrees with PyTorch."""


class PipelineError(TaskgroupError, RuntimeError):
    """A step of ``taskgroup run`` failed; the message names the step and where the partial results are."""


class InfeasibleBudget(TaskgroupError, ValueError):
    """No set of networks within the budget serves every task.

    Attributes
    ----------
    budget : dict[str, float]
        The budget that was asked for, per cost resource.
    minimum_budget : dict[str, float]
        Per resource, the smallest budget on that resource alone at which a plan serving every task
        exists. With one resource this is exactly the cheapest full cover: the problem is feasible at
        this budget and infeasible at any smaller one. With several resources each number is the minimum
        with the other resources unconstrained, which is necessary but may not be jointly sufficient.
    """

    def __init__(self, message: str, budget: Mapping[str, float], minimum_budget: Mapping[str, float]):
        super().__init__(message)
        self.budget = dict(budget)
        self.minimum_budget = dict(minimum_budget)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a long search that still has a result to give: ``partial`` is the best found so far.

    It is a ``KeyboardInterrupt``, so code that does not know it stops as on any Ctrl-C; ``taskgroup solve``
    catches it, writes and prints the partial plan (with its bound and gap) and exits with status 130.

    Parameters
    ----------
    message : str
        What was stopped.
    partial : object
        The best result found so far (a :class:`~taskgroup.plan.Plan` for the solvers), kept as ``partial``.
    """

    def __init__(self, message: str, partial: object):
        super().__init__(message)
        self.partial = partial
