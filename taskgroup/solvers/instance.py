"""The array form every solver works on, budget parsing, and dominance reduction.

Solvers see a :class:`SelectionInstance`: weighted losses ``WL[j, t] = w_t * L_jt`` (``+inf`` where network j
does not serve task t), costs ``C[j, r]`` and a budget ``b[r]``. Keeping this in one place means every
solver applies the same feasibility tolerance and the same reductions.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from taskgroup.errors import InvalidArgument
from taskgroup.problem import Problem
from taskgroup.solvers.ties import cost_units, precedes

__all__ = ["SelectionInstance", "Budget", "parse_budget", "budget_tolerance", "fits"]

Budget = float | int | Mapping[str, float] | Sequence[float] | None


def parse_budget(problem: Problem, budget: Budget) -> np.ndarray:
    """Budget per cost resource as an array (``inf`` = unconstrained).

    Accepts one number (problems with a single cost column), a mapping naming every cost column,
    a sequence with one number per cost column, or None (no budget).

    Parameters
    ----------
    problem : Problem
        Its cost columns.
    budget : number, mapping, sequence or None

    Returns
    -------
    numpy.ndarray, shape (n_resources,)

    Raises
    ------
    InvalidArgument
        A mapping with unknown or missing columns, one number for several columns, a sequence of another
        length, another type, or a value that is not a number > 0.
    """
    names = problem.cost_names
    if budget is None:
        return np.full(len(names), np.inf)
    if isinstance(budget, Mapping):
        unknown = [k for k in budget if k not in names]
        missing = [k for k in names if k not in budget]
        if unknown or missing:
            problems = [f"unknown {unknown}"] * bool(unknown) + [f"missing {missing}"] * bool(missing)
            raise InvalidArgument(
                f"The budget must give one value per cost column {list(names)}; {', '.join(problems)}."
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
    """Slack allowed on each budget so that sums of floats equal to the budget count as within it.

    Parameters
    ----------
    budget : numpy.ndarray

    Returns
    -------
    numpy.ndarray
        ``1e-9 * max(1, |budget|)`` (``1e-9`` for an infinite budget).
    """
    finite = np.where(np.isfinite(budget), np.abs(budget), 0.0)
    return 1e-9 * np.maximum(1.0, finite)


def fits(total_cost: np.ndarray, budget: np.ndarray) -> bool:
    """Whether a total cost (per resource) is within the budget, with :func:`budget_tolerance`.

    Parameters
    ----------
    total_cost, budget : numpy.ndarray, shape (n_resources,)

    Returns
    -------
    bool
    """
    return bool(np.all(total_cost <= budget + budget_tolerance(budget)))


@dataclass(frozen=True)
class SelectionInstance:
    """Arrays of a problem restricted to a set of candidate networks.

    ``index[k]`` is the problem index of the instance's k-th candidate.

    Attributes
    ----------
    problem : Problem
    index : numpy.ndarray, shape (m,)
        Problem indices of the candidates kept.
    WL : numpy.ndarray, shape (m, n)
        Weighted losses, ``inf`` where not served.
    C : numpy.ndarray, shape (m, r)
        Costs.
    budget : numpy.ndarray, shape (r,)
    cost_unit : numpy.ndarray, shape (r,)
        Units of the tie rule's total cost (:mod:`taskgroup.solvers.ties`).
    """

    problem: Problem
    index: np.ndarray  # (m,) problem indices of the candidates kept
    WL: np.ndarray  # (m, n) weighted losses, inf where not served
    C: np.ndarray  # (m, r) costs
    budget: np.ndarray  # (r,)
    cost_unit: np.ndarray  # (r,) units of the total cost of the tie rule (taskgroup.solvers.ties)

    @classmethod
    def build(
        cls, problem: Problem, budget: np.ndarray, *, reduce: bool = True, deadline: float = math.inf
    ) -> SelectionInstance:
        """The instance for ``budget``: drop networks over budget and, if ``reduce``, dominated ones.

        The reduction stops at ``deadline`` (a :func:`time.perf_counter` value), keeping what it has not
        examined.

        Parameters
        ----------
        problem : Problem
        budget : numpy.ndarray, shape (r,)
            From :func:`parse_budget`.
        reduce : bool, default True
            Drop dominated networks (:func:`undominated`).
        deadline : float, default inf

        Returns
        -------
        SelectionInstance
            The cost units are those of the whole problem.
        """
        WL = np.where(problem.serves, problem.losses * problem.weights, np.inf)
        C = np.asarray(problem.costs, dtype=float)
        keep = np.flatnonzero(np.all(C <= budget + budget_tolerance(budget), axis=1))
        if reduce and len(keep) > 1:
            keep = keep[undominated(WL[keep], C[keep], deadline)]
        return cls(problem, keep, WL[keep], C[keep], budget, cost_units(C))

    @property
    def m(self) -> int:
        return len(self.index)

    @property
    def n(self) -> int:
        return self.WL.shape[1]

    def objective(self, chosen: Sequence[int]) -> float:
        """The plan's total weighted loss (``inf`` for no network or an unserved task).

        Parameters
        ----------
        chosen : sequence of int
            Instance indices of a plan's networks.

        Returns
        -------
        float
        """
        if len(chosen) == 0:
            return math.inf
        return float(self.WL[list(chosen)].min(axis=0).sum())

    def total_cost(self, chosen: Sequence[int]) -> float:
        """The total cost of the tie rule: per-resource costs divided by the resource's unit, summed.

        Parameters
        ----------
        chosen : sequence of int
            Instance indices of a plan's networks.

        Returns
        -------
        float
        """
        return float((self.C[list(chosen)] / self.cost_unit).sum())

    def precedes(self, chosen: Sequence[int], other: Sequence[int] | None) -> bool:
        """Whether the plan ``chosen`` comes strictly before ``other`` (None: no plan) in the tie rule.

        Parameters
        ----------
        chosen : sequence of int
            Instance indices of a plan's networks.
        other : sequence of int or None

        Returns
        -------
        bool
        """
        if other is None:
            return True
        return precedes(self.objective(chosen), self.total_cost(chosen), self.objective(other), self.total_cost(other))

    def problem_indices(self, chosen: Sequence[int]) -> list[int]:
        """The problem's indices of the instance's networks ``chosen``.

        Parameters
        ----------
        chosen : sequence of int
            Instance indices of a plan's networks.

        Returns
        -------
        list of int
            Sorted.
        """
        return sorted(int(self.index[k]) for k in chosen)


def undominated(WL: np.ndarray, C: np.ndarray, deadline: float = math.inf) -> np.ndarray:
    """Indices (sorted) of candidates that no other candidate dominates.

    Candidate k dominates j when k costs no more on every resource and serves every task of j at least
    as well; any plan using j stays feasible, no worse and no dearer with k instead. Among identical candidates
    the first is kept, so the optimum and the tie rule's cheapest optimal plan are unchanged.

    Small instances (``m^2 (n + r)`` up to :data:`PAIRWISE_WORK`) compare every pair, so a network trained on
    more tasks can remove one trained on fewer. Larger ones compare only networks that serve the same task
    set, which is near-linear when such groups are small (memory: a few arrays of length m). The reduction is
    optional for correctness, so at ``deadline`` (a :func:`time.perf_counter` value) it stops and keeps every
    candidate it has not examined yet.
    """
    m, n = WL.shape
    if m <= 1:
        return np.arange(m)
    if m * m * (n + C.shape[1]) <= PAIRWISE_WORK:
        # numpy, not the compiled kernel: loading numba costs ~0.5 s per process, more than small instances take.
        return _undominated_pairwise(WL, C)
    else:
        # Group by task set: the packed served-mask of each row, sorted so that each group is contiguous.
        masks = np.packbits(np.isfinite(WL), axis=1)
        keys = np.ascontiguousarray(masks).view(np.dtype((np.void, masks.shape[1]))).ravel()
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        boundaries = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
        starts = np.concatenate([[0], boundaries, [m]])
    dominated = np.zeros(m, dtype=np.bool_)
    sizes = np.diff(starts)
    if sizes.max() <= SMALL_GROUP:
        # numpy, group size by group size: no kernel to compile or load (about a second after an install)
        for size in np.unique(sizes[sizes > 1]):
            first = starts[:-1][sizes == size]
            members = order[first[:, None] + np.arange(size)[None, :]]  # (groups, size)
            dominated[members] = _dominated_within(WL[members], C[members], members)
        return np.flatnonzero(~dominated)
    from taskgroup.solvers.kernels import mark_dominated

    WLc, Cc = np.ascontiguousarray(WL, dtype=float), np.ascontiguousarray(C, dtype=float)
    group = 0
    groups = len(starts) - 1
    while group < groups:  # slices of about 1e7 comparisons between looks at the clock
        last, work = group, 0
        while last < groups and work < 10_000_000:
            size = starts[last + 1] - starts[last]
            work += size * size
            last += 1
        mark_dominated(order, starts[group : last + 1], WLc, Cc, dominated)
        group = last
        if group < groups and time.perf_counter() > deadline:
            break
    return np.flatnonzero(~dominated)


def _dominated_within(WL: np.ndarray, C: np.ndarray, index: np.ndarray) -> np.ndarray:
    """For groups of candidates (g, s, ...) with problem indices ``index`` (g, s): which ones another of their
    group dominates (the first index survives among identical ones)."""
    le = np.all(C[:, None, :, :] <= C[:, :, None, :], axis=3) & np.all(WL[:, None, :, :] <= WL[:, :, None, :], axis=3)
    eq = np.all(C[:, None, :, :] == C[:, :, None, :], axis=3) & np.all(WL[:, None, :, :] == WL[:, :, None, :], axis=3)
    # [g, a, b]: candidate b dominates candidate a
    return np.any((le & ~eq) | (eq & (index[:, None, :] < index[:, :, None])), axis=2)


def _undominated_pairwise(WL: np.ndarray, C: np.ndarray, chunk: int = 256) -> np.ndarray:
    m = len(WL)
    dominated = np.zeros(m, dtype=bool)
    idx = np.arange(m)
    for start in range(0, m, chunk):
        j = idx[start : start + chunk]
        # le[a, k]: candidate k is at least as good as j[a] everywhere (cost and every task of j[a])
        le = np.all(C[None, :, :] <= C[j, None, :], axis=2) & np.all(WL[None, :, :] <= WL[j, None, :], axis=2)
        eq = np.all(C[None, :, :] == C[j, None, :], axis=2) & np.all(WL[None, :, :] == WL[j, None, :], axis=2)
        dominated[j] = np.any((le & ~eq) | (eq & (idx[None, :] < j[:, None])), axis=1)
    return np.flatnonzero(~dominated)


# Up to this many comparisons of (task + resource) values, every pair of candidates is compared.
PAIRWISE_WORK = 20_000_000
# Groups of candidates with one task set up to this size are compared in numpy; larger ones by the kernel.
SMALL_GROUP = 16
