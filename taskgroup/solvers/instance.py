"""The array form every solver works on, budget parsing, and dominance reduction.

Solvers see a :class:`SelectionInstance`: weighted losses ``WL[j, t] = w_t * L_jt`` (``+inf`` where network j
does not serve task t), costs ``C[j, r]`` and a budget ``b[r]``. Keeping this in one place means every
solver applies the same feasibility tolerance and the same reductions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from taskgroup.errors import InvalidArgument
from taskgroup.problem import Problem

__all__ = ["SelectionInstance", "Budget", "parse_budget", "budget_tolerance", "fits"]

Budget = float | int | Mapping[str, float] | Sequence[float] | None


def parse_budget(problem: Problem, budget: Budget) -> np.ndarray:
    """Budget per cost resource as an array (``inf`` = unconstrained).

    Accepts one number (problems with a single cost column), a mapping naming every cost column,
    a sequence with one number per cost column, or None (no budget).
    """
    names = problem.cost_names
    if budget is None:
        return np.full(len(names), np.inf)
    if isinstance(budget, Mapping):
        unknown = [k for k in budget if k not in names]
        missing = [k for k in names if k not in budget]
        if unknown or missing:
            raise InvalidArgument(
                f"The budget must give one value per cost column {list(names)}; "
                + (f"unknown: {unknown}. " if unknown else "")
                + (f"missing: {missing}." if missing else "")
            )
        values = [budget[k] for k in names]
    elif isinstance(budget, (int, float, np.integer, np.floating)) and not isinstance(budget, bool):
        if len(names) != 1:
            raise InvalidArgument(
                f"budget={budget!r} is one number but the problem has {len(names)} cost columns {list(names)}; "
                "give a mapping with one budget per column, or pick one column with problem.with_costs(name)."
            )
        values = [budget]
    elif isinstance(budget, Sequence) and not isinstance(budget, str):
        if len(budget) != len(names):
            raise InvalidArgument(
                f"budget has {len(budget)} values; the problem has {len(names)} cost columns {list(names)}."
            )
        values = list(budget)
    else:
        raise InvalidArgument(
            f"budget={budget!r} is not accepted; give a number, a mapping cost column -> number, or None."
        )
    out = np.empty(len(names))
    for r, (name, value) in enumerate(zip(names, values)):
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise InvalidArgument(f"The budget for {name!r} is {value!r}, which is not a number.") from None
        if math.isnan(v) or v <= 0:
            raise InvalidArgument(f"The budget for {name!r} is {value!r}; budgets must be numbers > 0.")
        out[r] = v
    return out


def budget_tolerance(budget: np.ndarray) -> np.ndarray:
    """Slack allowed on each budget so that sums of floats equal to the budget count as within it."""
    finite = np.where(np.isfinite(budget), np.abs(budget), 0.0)
    return 1e-9 * np.maximum(1.0, finite)


def fits(total_cost: np.ndarray, budget: np.ndarray) -> bool:
    """Whether a total cost (per resource) is within the budget, with :func:`budget_tolerance`."""
    return bool(np.all(total_cost <= budget + budget_tolerance(budget)))


@dataclass(frozen=True)
class SelectionInstance:
    """Arrays of a problem restricted to a set of candidate networks.

    ``index[k]`` is the problem index of the instance's k-th candidate.
    """

    problem: Problem
    index: np.ndarray  # (m,) problem indices of the candidates kept
    WL: np.ndarray  # (m, n) weighted losses, inf where not served
    C: np.ndarray  # (m, r) costs
    budget: np.ndarray  # (r,)

    @classmethod
    def build(cls, problem: Problem, budget: np.ndarray, *, reduce: bool = True) -> SelectionInstance:
        """The instance for ``budget``: drop networks over budget and, if ``reduce``, dominated ones."""
        WL = np.where(problem.serves, problem.losses * problem.weights, np.inf)
        C = np.asarray(problem.costs, dtype=float)
        keep = np.flatnonzero(np.all(C <= budget + budget_tolerance(budget), axis=1))
        if reduce and len(keep) > 1:
            keep = keep[undominated(WL[keep], C[keep])]
        return cls(problem, keep, WL[keep], C[keep], budget)

    @property
    def m(self) -> int:
        return len(self.index)

    @property
    def n(self) -> int:
        return self.WL.shape[1]

    def objective(self, chosen: Sequence[int]) -> float:
        if len(chosen) == 0:
            return math.inf
        return float(self.WL[list(chosen)].min(axis=0).sum())

    def problem_indices(self, chosen: Sequence[int]) -> list[int]:
        return sorted(int(self.index[k]) for k in chosen)


def undominated(WL: np.ndarray, C: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Indices of candidates that no other candidate dominates.

    Candidate k dominates j when k costs no more on every resource and serves every task of j at least
    as well; any plan using j stays feasible and no worse with k instead. Among identical candidates the
    first is kept, so the optimum value is unchanged.
    """
    m = len(WL)
    dominated = np.zeros(m, dtype=bool)
    idx = np.arange(m)
    for start in range(0, m, chunk):
        j = idx[start : start + chunk]
        # le[a, k]: candidate k is at least as good as j[a] everywhere (cost and every task of j[a])
        cost_le = np.all(C[None, :, :] <= C[j, None, :], axis=2)
        loss_le = np.all(WL[None, :, :] <= WL[j, None, :], axis=2)
        le = cost_le & loss_le
        cost_eq = np.all(C[None, :, :] == C[j, None, :], axis=2)
        loss_eq = np.all(WL[None, :, :] == WL[j, None, :], axis=2)
        strictly = le & ~(cost_eq & loss_eq)
        identical_earlier = cost_eq & loss_eq & (idx[None, :] < j[:, None])
        dominated[j] = np.any(strictly | identical_earlier, axis=1)
    return np.flatnonzero(~dominated)
