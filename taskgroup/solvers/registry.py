"""Solvers registered by name, so the CLI, benchmarks and users can pick one by string.

A solver is a function ``solver(instance, *, time_limit) -> SolverResult`` over a
:class:`~taskgroup.solvers.instance.SelectionInstance`; :func:`taskgroup.solve` does the parsing,
feasibility checks and plan building around it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from taskgroup.registry import MethodSpec, Registry

__all__ = ["Fallback", "SolverResult", "SOLVERS", "register_solver", "get_solver", "available_solvers"]


class Fallback(str, Enum):
    """Why a solver could not answer; :func:`taskgroup.solvers.solve` decides what answers instead."""

    NO_TIME = "the integer program would not reach its root LP within the time limit"
    NO_SOLUTION = "the time limit came before the integer program found a solution"
    INTERRUPTED = "Ctrl-C stopped the integer program before it found a solution"
    OVER_BUDGET = "the MIP backend accepted a set over budget within its own feasibility tolerance"
    TOO_LARGE = "the instance is beyond the partition DP (too many tasks, or more work than the time limit allows)"


@dataclass
class SolverResult:
    """What a solver found on an instance.

    ``chosen`` holds instance indices (None when no feasible selection is known); ``optimal`` is a proof,
    or, with ``chosen`` None, a proof of infeasibility; ``bound`` is a proven lower bound on the optimum.
    ``fallback`` (with ``chosen`` None) says why the solver could not answer.

    Attributes
    ----------
    chosen : list of int or None
        Instance indices of the chosen networks.
    optimal : bool
        A proof of optimality (or, with ``chosen`` None, of infeasibility).
    bound : float
        A proven lower bound on the optimum.
    nodes : int
        Search nodes (solver-specific work count).
    fallback : Fallback or None
        Why the solver could not answer.
    """

    chosen: list[int] | None
    optimal: bool
    bound: float = -math.inf
    nodes: int = 0
    fallback: Fallback | None = None


SolverFunction = Callable[..., SolverResult]


SOLVERS: Registry[MethodSpec] = Registry("solver method", extra_names=["auto"])
"""The solver registry (``"auto"`` is accepted by :func:`taskgroup.solve` but is not a solver: it picks one)."""


def register_solver(name: str, function: SolverFunction, *, exact: bool, description: str) -> None:
    """Register ``function`` under ``name`` (replacing an earlier registration of that name).

    Parameters
    ----------
    name : str
        The solver's name (``method=`` of :func:`taskgroup.solve`).
    function : callable
        ``function(instance, *, time_limit, **options) -> SolverResult``.
    exact : bool
        Whether it proves optimality.
    description : str
        One line.
    """
    SOLVERS.register(name, MethodSpec(name, function, exact, description), description)


def get_solver(name: str) -> MethodSpec:
    """The solver registered under ``name``; an unknown name raises InvalidArgument listing the choices.

    Parameters
    ----------
    name : str
        A registered name.

    Returns
    -------
    MethodSpec
        The registration.
    """
    return SOLVERS.get(name)


def available_solvers() -> dict[str, MethodSpec]:
    """Registered solvers by name (``"auto"`` is not one: it picks among them).

    Returns
    -------
    dict
        Name -> :class:`MethodSpec`.
    """
    return {name: SOLVERS.get(name) for name in SOLVERS}
