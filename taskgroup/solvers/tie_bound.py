"""A dual bound that proves, without a second MIP, that no cheaper plan ties the optimum (issue 24).

The tie rule (:mod:`taskgroup.solvers.ties`) asks, once the MIP has an optimal plan of objective ``value`` and
total cost ``cost``: is there a plan ``P`` within the budget with ``loss(P) <= value + tol`` and total cost
``c(P) <= cost - tol_c``? :func:`no_cheaper_tie` answers "no" with a certificate, or gives up (the MIP probe of
:mod:`taskgroup.solvers.ilp` then decides). It never answers "no" wrongly.

The certificate. For any numbers ``v[t]`` (one per task) and a plan ``P`` serving task ``t`` by ``a(t)``,
``WL[a(t), t] >= v[t] - max(0, v[t] - WL[a(t), t])``, so with the gains ``g[j] = sum_t max(0, v[t] - WL[j, t])``
(tasks ``j`` serves)::

    loss(P) >= sum_t v[t] - sum_{j in P} g[j].

Every cheaper plan obeys three limits: total cost ``<= cap_c`` (``cost`` less the tolerance, or less a whole
step where every network's cost is a multiple of one, e.g. costs 1 and 0.5); at most ``q`` networks (how many
of the cheapest fit under ``cap_c`` and the budget: where costs are equal, ``k`` networks of cost 1, a cheaper
plan has ``k - 1``, which makes the bound strong); per-resource cost ``<= b``. With multipliers
``lam, kap, mu >= 0`` of these, ``sum_{j in P} g[j] <= lam cap_c + kap q + mu.b + sum_j max(0, r[j])`` where
``r[j] = g[j] - lam c[j] - kap - mu.C[j]``. Hence every cheaper plan has ``loss(P) >= bound`` with::

    bound = sum_t v[t] - lam cap_c - kap q - mu.b - sum_j max(0, r[j]),

valid for *any* ``v`` and multipliers: when ``bound`` exceeds ``value + tol`` (by more than its rounding error),
no cheaper plan ties. The best multipliers are the duals of the LP relaxation of the capped problem; they come
from column generation (GLOP on the networks met so far, the reduced costs ``r`` price the rest), and each round
tries its duals as a certificate. On a 27-task selection of 3,185 groups at ``k = 3`` this proves in four rounds
and about 20 ms what the MIP probe proved in 0.7 s (benchmarks/results/solvers.md, issue 24 item 1).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from fractions import Fraction

import numpy as np
from ortools.linear_solver import pywraplp

from taskgroup.solvers.instance import SelectionInstance, budget_tolerance
from taskgroup.solvers.ties import cost_tolerance, objective_tolerance

__all__ = ["no_cheaper_tie", "MAX_ROUNDS", "COLUMNS_PER_ROUND"]

# Rounds of column generation before giving up (the MIP probe then decides): a proof took 1-4 rounds on the
# instances of benchmarks/speed.py; a round costs a pricing pass over the entries and a small warm LP.
MAX_ROUNDS = 40
# Networks added per round: those of the largest reduced cost.
COLUMNS_PER_ROUND = 30


def no_cheaper_tie(instance: SelectionInstance, chosen: Sequence[int], time_limit: float | None = None) -> bool:
    """Whether a dual bound proves that no plan within the budget ties ``chosen`` and costs less (tie rule).

    Parameters
    ----------
    instance : SelectionInstance
        The instance with its budget.
    chosen : sequence of int
        An optimal plan (instance indices).
    time_limit : float, optional
        Seconds; reaching it gives up (False).

    Returns
    -------
    bool
        True: proven, no cheaper tied plan exists. False: not proven (one may exist).
    """
    started = time.perf_counter()
    value, cost = instance.objective(chosen), instance.total_cost(chosen)
    cap_v = value + objective_tolerance(value)
    unit = (instance.C / instance.cost_unit).sum(axis=1)
    cap_c = cost - cost_tolerance(cost)
    step = _cost_step(unit)
    if step > 0:
        # Whole multiples of ``step``: a plan cheaper by more than the tolerance is cheaper by a whole step.
        # Exact while the rounding of the sums (a few ulps per network) stays below the tolerance, i.e. for
        # fewer than about 10^6 networks in a plan.
        cap_c = min(cap_c, cost - step + cost_tolerance(cost))
    limited = np.flatnonzero(np.isfinite(instance.budget))
    b = (instance.budget + budget_tolerance(instance.budget))[limited]
    C = instance.C[:, limited]
    q = _most_networks(unit, cap_c, C, b)
    if q == 0:
        return True  # no network at all costs less than ``chosen``
    rows, cols = np.nonzero(np.isfinite(instance.WL))
    losses = instance.WL[rows, cols]
    master = _Master(instance, unit, C, b, cap_c, q, big=abs(cap_v) + float(np.abs(losses).sum()) + 1.0)
    master.add(dict.fromkeys([*chosen, *np.argmin(instance.WL, axis=0).tolist()]))
    for _ in range(MAX_ROUNDS):
        duals = master.solve()
        if duals is None:
            return False
        v, lam, kap, mu = duals
        gains = np.bincount(rows, weights=np.maximum(0.0, v[cols] - losses), minlength=instance.m)
        reduced = gains - lam * unit - kap - C @ mu
        excess = np.maximum(reduced, 0.0)
        bound = float(v.sum() - lam * cap_c - kap * q - mu @ b - excess.sum())
        if bound > cap_v + _rounding(v, lam, kap, mu, cap_c, q, b, gains, unit, C):
            return True
        if time_limit is not None and time.perf_counter() - started > time_limit:
            return False
        fresh = np.flatnonzero((reduced > 1e-9) & ~master.has)
        if len(fresh) == 0:  # the LP relaxation is solved and its bound falls short: a MIP must decide
            return False
        master.add(fresh[np.argsort(-reduced[fresh], kind="stable")[:COLUMNS_PER_ROUND]].tolist())
    return False


def _cost_step(unit: np.ndarray) -> float:
    """The largest ``step`` of which every network's total cost is a whole multiple, where these costs are
    fractions with denominators up to 1,000 (whole numbers, halves, thirds...: each float is the one nearest
    its fraction); 0.0 where they are not (measured costs, say)."""
    step = Fraction(0)
    for value in np.unique(unit):
        fraction = Fraction(float(value)).limit_denominator(1000)
        if fraction <= 0 or float(fraction) != value:
            return 0.0
        # gcd(a/b, c/d) = gcd(a d, c b) / (b d)
        step = Fraction(
            math.gcd(step.numerator * fraction.denominator, fraction.numerator * step.denominator),
            step.denominator * fraction.denominator,
        )
    return float(step)


def _most_networks(unit: np.ndarray, cap_c: float, C: np.ndarray, b: np.ndarray) -> int:
    """The most networks a plan of total cost ``<= cap_c`` within the budget ``b`` can hold: the cheapest ones
    counted until a limit is passed (with a margin for sums in another order; a larger count only weakens the
    bound)."""
    q = int(np.searchsorted(np.cumsum(np.sort(unit)), cap_c + 1e-9 * abs(cap_c), side="right"))
    for r in range(C.shape[1]):
        q = min(q, int(np.searchsorted(np.cumsum(np.sort(C[:, r])), b[r] + 1e-9 * abs(b[r]), side="right")))
    return q


def _rounding(
    v: np.ndarray,
    lam: float,
    kap: float,
    mu: np.ndarray,
    cap_c: float,
    q: int,
    b: np.ndarray,
    gains: np.ndarray,
    unit: np.ndarray,
    C: np.ndarray,
) -> float:
    """An upper bound on the floating-point error of the bound: every term is a sum of at most ``m + n + r + 3``
    rounded operations on numbers no larger than ``scale``, and a missed ``max(0, r[j])`` is at most one
    reduced cost's error, ``m`` of them at worst."""
    m, n = len(gains), len(v)
    largest = float(np.max(gains + lam * unit + kap + C @ mu, initial=0.0))
    scale = 1.0 + float(np.abs(v).sum()) + lam * abs(cap_c) + kap * q + float(mu @ np.abs(b)) + largest
    return max(1e-9, 8 * np.finfo(float).eps * (m + 1) * (n + C.shape[1] + 3)) * scale


class _Master:
    """The LP relaxation of "at most ``q`` networks, total cost ``<= cap_c``, within the budget, every task
    served" restricted to the networks added so far, with an artificial way to serve each task at cost ``big``
    (so that it is feasible from the first round). GLOP, kept between rounds: a round adds columns and
    re-solves from the last basis."""

    def __init__(
        self,
        instance: SelectionInstance,
        unit: np.ndarray,
        C: np.ndarray,
        b: np.ndarray,
        cap_c: float,
        q: int,
        big: float,
    ) -> None:
        solver = pywraplp.Solver.CreateSolver("GLOP")
        self.solver, self.instance, self.unit, self.C = solver, instance, unit, C
        inf = solver.infinity()
        self.served = [solver.Constraint(1.0, 1.0) for _ in range(instance.n)]
        objective = solver.Objective()
        objective.SetMinimization()
        for row in self.served:
            artificial = solver.NumVar(0.0, inf, "")
            row.SetCoefficient(artificial, 1.0)
            objective.SetCoefficient(artificial, big)
        self.cost_row = solver.Constraint(-inf, cap_c)
        self.count_row = solver.Constraint(-inf, float(q))
        self.budget_rows = [solver.Constraint(-inf, float(limit)) for limit in b]
        self.has = np.zeros(instance.m, dtype=bool)

    def add(self, networks: Iterable[int]) -> None:
        solver, WL = self.solver, self.instance.WL
        objective, inf = solver.Objective(), solver.infinity()
        for j in networks:
            if self.has[j]:
                continue
            self.has[j] = True
            x = solver.NumVar(0.0, 1.0, "")
            self.cost_row.SetCoefficient(x, float(self.unit[j]))
            self.count_row.SetCoefficient(x, 1.0)
            for row, c in zip(self.budget_rows, self.C[j]):
                row.SetCoefficient(x, float(c))
            for t in np.flatnonzero(np.isfinite(WL[j])):
                y = solver.NumVar(0.0, 1.0, "")
                self.served[t].SetCoefficient(y, 1.0)
                objective.SetCoefficient(y, float(WL[j, t]))
                link = solver.Constraint(-inf, 0.0)  # y <= x
                link.SetCoefficient(y, 1.0)
                link.SetCoefficient(x, -1.0)

    def solve(self) -> tuple[np.ndarray, float, float, np.ndarray] | None:
        """The duals ``(v, lam, kap, mu)`` (multipliers of the ``<=`` rows made >= 0; any such values give a
        valid bound), or None when GLOP does not reach an optimum."""
        if self.solver.Solve() != pywraplp.Solver.OPTIMAL:
            return None
        v = np.array([row.dual_value() for row in self.served])
        # A minimisation's <= row has a dual <= 0; its multiplier in the bound is the negation.
        lam = max(0.0, -self.cost_row.dual_value())
        kap = max(0.0, -self.count_row.dual_value())
        mu = np.array([max(0.0, -row.dual_value()) for row in self.budget_rows])
        if not (np.all(np.isfinite(v)) and math.isfinite(lam) and math.isfinite(kap) and np.all(np.isfinite(mu))):
            return None
        return v, lam, kap, mu
