"""Solvers registered by name, so the CLI, benchmarks and users can pick one by string.

A solver is a function ``solver(instance, *, time_limit) -> SolverResult`` over a
:class:`~taskgroup.solvers.instance.SelectionInstance`; :func:`taskgroup.solve` does the parsing,
feasibility checks and plan building around it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from taskgroup.errors import InvalidArgument

__all__ = ["SolverResult", "SolverSpec", "register_solver", "get_solver", "available_solvers"]


@dataclass
class SolverResult:
    """What a solver found on an instance.

    ``chosen`` holds instance indices (None when no feasible selection is known); ``optimal`` is a proof,
    or, with ``chosen`` None, a proof of infeasibility; ``bound`` is a proven lower bound on the optimum.
    """

    chosen: list[int] | None
    optimal: bool
    bound: float = -math.inf
    nodes: int = 0


SolverFunction = Callable[..., SolverResult]


@dataclass(frozen=True)
class SolverSpec:
    name: str
    function: SolverFunction
    exact: bool
    description: str


_REGISTRY: dict[str, SolverSpec] = {}


def register_solver(name: str, function: SolverFunction, *, exact: bool, description: str) -> None:
    """Register ``function`` under ``name`` (replacing an earlier registration of that name)."""
    _REGISTRY[name] = SolverSpec(name, function, exact, description)


def get_solver(name: str) -> SolverSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InvalidArgument(
            f"Unknown solver method {name!r}; accepted: {sorted(['auto', *_REGISTRY])}."
        ) from None


def available_solvers() -> dict[str, SolverSpec]:
    """Registered solvers by name (``"auto"`` is not one: it picks among them)."""
    return dict(_REGISTRY)
