"""Column generation over groups: an upper bound on the best selection of ``k`` groups, and often a proof.

Restricted master (an LP over the groups generated so far, the facility-location relaxation)::

    max  sum_{G,t} v_t(G) y[G,t]
    s.t. sum_G y[G,t] = 1          for every task t        (duals pi_t)
         y[G,t] <= x[G],  sum_G x[G] <= k  (duals mu),  x, y >= 0

Pricing: a group's reduced profit is ``P(G) - mu`` with ``P(G) = sum_{t in G} max(0, v_t(G) - pi_t)``. For
*any* ``pi``, every selection of at most ``k`` groups has ``V <= sum_t pi_t + k * max(0, max_G P(G))``
(each task is served once, so ``V = sum pi + sum_{G chosen} sum_{t served by G} (v_t(G) - pi_t)``); with an
exact (or upper-bounded) pricing step this is a valid bound at every iteration. Pricing is exact by listing
every group for up to :data:`ENUMERATE_MAX_TASKS` tasks, and otherwise a small MIP per group size (HiGHS),
whose proven best bound is used when it stops early. An integer selection comes from solving the master as
a MIP over the generated columns (the core ILP), started from a heuristic's groups.
"""

from __future__ import annotations

import math
import time

import numpy as np
from ortools.linear_solver import pywraplp

from taskgroup.errors import SolverError
from taskgroup.estimate.cover import Group, GroupScorer

__all__ = ["column_generation", "ColumnGenerationResult", "ENUMERATE_MAX_TASKS"]

ENUMERATE_MAX_TASKS = 16
_EPS = 1e-7


class ColumnGenerationResult:
    """Best selection found, its value, the proven upper bound on V, and iteration counts."""

    def __init__(self, groups: list[Group], value: float, upper_bound: float, iterations: int, columns: int) -> None:
        self.groups = groups
        self.value = value
        self.upper_bound = upper_bound
        self.iterations = iterations
        self.columns = columns


def _lp_master(scorer: GroupScorer, columns: list[Group], k: int) -> tuple[float, np.ndarray, float]:
    solver = pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:  # pragma: no cover
        raise SolverError("OR-Tools was built without GLOP.")
    n = scorer.n
    # No x <= 1: it never binds usefully (y <= x and sum_G y = 1), and without it the duals (pi, mu) make
    # sum(pi) + k * max_G P(G) equal the LP value at convergence.
    x = [solver.NumVar(0.0, solver.infinity(), f"x{g}") for g in range(len(columns))]
    cover = [[] for _ in range(n)]
    objective = []
    for g, group in enumerate(columns):
        values = scorer.values(group)
        for t in group:
            if np.isfinite(values[t]):
                y = solver.NumVar(0.0, solver.infinity(), "")  # y <= 1 is implied; a bound would take dual weight
                solver.Add(y <= x[g])
                cover[t].append(y)
                objective.append(values[t] * y)
    rows = [solver.Add(sum(c) == 1) for c in cover]
    card = solver.Add(sum(x) <= k)
    solver.Maximize(sum(objective))
    status = solver.Solve()
    if status != pywraplp.Solver.OPTIMAL:
        raise SolverError(f"The restricted master LP stopped with status {status}.")
    pi = np.array([r.dual_value() for r in rows])
    return solver.Objective().Value(), pi, card.dual_value()


def _profit(values: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """P(G) for rows of group values (``-inf`` outside the group)."""
    return np.where(np.isfinite(values), np.maximum(values - pi, 0.0), 0.0).sum(axis=-1)


class _EnumeratedPricing:
    """Exact pricing by listing every allowed group (small n)."""

    def __init__(self, scorer: GroupScorer) -> None:
        self.groups = scorer.all_groups()
        self.values = np.array([scorer.values(g) for g in self.groups])

    def above(self, pi: np.ndarray, threshold: float) -> list[Group]:
        """Every group with P(G) >= threshold."""
        P = _profit(self.values, pi)
        return [self.groups[i] for i in np.flatnonzero(P >= threshold)]

    def price(self, pi: np.ndarray, deadline: float) -> tuple[list[tuple[float, Group]], float]:
        P = _profit(self.values, pi)
        top = np.argsort(-P)[:10]
        return [(float(P[i]), self.groups[i]) for i in top], float(P.max())


class _MipPricing:
    """Exact pricing by one small MIP per group size.

    ``x_u``: u is a member; ``z_t <= x_t``: member t counts; ``q_t <= U_t z_t`` and
    ``(s-1) q_t <= sum_{u != t} S[u, t] x_u + (s-1) (offset[s, t] - pi_t) + M_t (1 - z_t)``; maximise
    ``sum q_t`` = P(G). Measured groups of size ``s`` are cut off (``sum_{u in M} x_u <= s - 1``) and priced
    by listing them with their measured values, so the bound holds for measurements that override predictions.
    """

    def __init__(self, scorer: GroupScorer) -> None:
        self.scorer = scorer
        S = scorer.S.copy()
        np.fill_diagonal(S, np.nan)
        self.min_in = np.nanmin(S, axis=0)
        # top_mean[s, t]: mean of the s-1 largest S[u, t], u != t: no group of size s gives t more
        ranked = -np.sort(-np.where(np.isnan(S), -np.inf, S), axis=0)[:-1]  # (n-1, n), descending per target
        self.offset = np.zeros((scorer.n + 1, scorer.n)) if scorer.offset is None else scorer.offset
        self.top_mean = np.full((scorer.n + 1, scorer.n), -np.inf)
        self.top_mean[2:] = np.cumsum(ranked, axis=0) / np.arange(1, scorer.n)[:, None] + self.offset[2:]
        # measured groups are priced by listing them; the MIPs exclude them (their prediction does not count)
        self.measured = [g for g in scorer.measured if len(g) >= scorer.min_size]

    def _size(self, s: int, pi: np.ndarray, time_limit: float) -> tuple[float, Group | None, float]:
        scorer, n = self.scorer, self.scorer.n
        if s == 1:
            singles = np.array([scorer.values(frozenset([t]))[t] for t in range(n)]) - pi
            t = int(np.argmax(singles))
            return max(0.0, float(singles[t])), frozenset([t]), max(0.0, float(singles[t]))
        upper = self.top_mean[s] - pi
        solver = pywraplp.Solver.CreateSolver("HIGHS")
        solver.SuppressOutput()
        solver.SetSolverSpecificParametersAsString("output_flag=false")
        x = [solver.BoolVar("") for _ in range(n)]
        solver.Add(sum(x) == s)
        for group in self.measured:
            if len(group) == s:  # no-good cut: this group's value is its measurement, priced elsewhere
                solver.Add(sum(x[u] for u in group) <= s - 1)
        q = []
        for t in range(n):
            if upper[t] <= 0:
                continue
            # z_t: member t counts in P(G) (its v_t - pi_t is positive); q_t = its contribution
            zt = solver.BoolVar("")
            qt = solver.NumVar(0.0, float(upper[t]), "")
            solver.Add(zt <= x[t])
            solver.Add(qt <= float(upper[t]) * zt)
            shift = float(self.offset[s, t] - pi[t])
            big = (s - 1) * max(float(upper[t]), 0.0) + s * max(-self.min_in[t], 0.0) + (s - 1) * abs(shift) + 1.0
            inflow = sum(float(scorer.S[u, t]) * x[u] for u in range(n) if u != t)
            solver.Add((s - 1) * qt <= inflow + (s - 1) * shift + big * (1 - zt))
            q.append(qt)
        if not q:
            return 0.0, None, 0.0
        solver.Maximize(sum(q))
        solver.SetTimeLimit(max(1, int(time_limit * 1000)))
        params = pywraplp.MPSolverParameters()
        params.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, 0.0)
        status = solver.Solve(params)
        if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            return 0.0, None, math.inf  # no answer (e.g. out of time): the caller falls back to a cheap bound
        group = frozenset(u for u in range(n) if x[u].solution_value() > 0.5)
        # the dual bound, not the incumbent: it stays an upper bound under the solver's tolerances
        bound = max(solver.Objective().BestBound(), solver.Objective().Value())
        return float(_profit(scorer.values(group), pi)), group, float(bound) + 1e-7 * (1 + abs(bound))

    def price(self, pi: np.ndarray, deadline: float) -> tuple[list[tuple[float, Group]], float]:
        scorer = self.scorer
        found = [(float(_profit(scorer.values(g), pi)), g) for g in self.measured]
        best_found = max([0.0] + [p for p, _ in found])
        best_bound = best_found
        sizes = list(range(scorer.min_size, scorer.n + 1))
        for s in sizes:
            # P(G) for |G| = s is at most the s largest per-task caps max(0, top_mean[s, t] - pi_t)
            quick = float(np.sort(np.maximum(self.top_mean[min(max(s, 2), scorer.n)] - pi, 0.0))[::-1][:s].sum())
            if s == 1:
                singles = np.array([scorer.values(frozenset([t]))[t] for t in range(scorer.n)])
                quick = max(0.0, float((singles - pi).max()))
            if quick <= best_found + _EPS:
                best_bound = max(best_bound, quick)
                continue
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                best_bound = max(best_bound, quick)
                continue
            value, group, bound = self._size(s, pi, remaining)
            best_bound = max(best_bound, min(bound, quick))
            if group is not None:
                found.append((value, group))
                best_found = max(best_found, value)
        return sorted(found, key=lambda vg: -vg[0])[:10], best_bound


def _improve_column(scorer: GroupScorer, group: Group, pi: np.ndarray) -> tuple[float, Group]:
    """Heuristic pricing: add/remove single tasks while P(G) grows."""
    best = float(_profit(scorer.values(group), pi))
    improved = True
    while improved:
        improved = False
        for t in range(scorer.n):
            child = group - {t} if t in group else group | {t}
            if len(child) < scorer.min_size:
                continue
            p = float(_profit(scorer.values(child), pi))
            if p > best + _EPS:
                best, group, improved = p, child, True
    return best, group


def column_generation(
    scorer: GroupScorer,
    k: int,
    start: list[Group],
    *,
    time_limit: float = 60.0,
    max_iterations: int = 500,
) -> ColumnGenerationResult:
    """Column generation from the groups ``start`` (a valid selection); see the module docstring."""
    from taskgroup.solvers import solve

    started = time.perf_counter()
    deadline = started + time_limit
    n = scorer.n
    columns: dict[Group, None] = dict.fromkeys(start)
    S = scorer.S.copy()
    np.fill_diagonal(S, -np.inf)
    for t in range(n):  # every task's best partner: cheap, useful columns
        columns.setdefault(frozenset((t, int(np.argmax(S[:, t])))), None)
    pricing = _EnumeratedPricing(scorer) if n <= ENUMERATE_MAX_TASKS else _MipPricing(scorer)
    upper = scorer.trivial_bound()
    best_pi: np.ndarray | None = None
    best_profit = 0.0
    iterations = 0
    while iterations < max_iterations and time.perf_counter() < deadline:
        iterations += 1
        lp_value, pi, mu = _lp_master(scorer, list(columns), k)
        # heuristic pricing from every column first; exact pricing only when it finds nothing
        new: list[tuple[float, Group]] = []
        seeds = list(columns)[-4 * n :] + [frozenset((t, int(np.argmax(S[:, t] - pi[t])))) for t in range(n)]
        for group in seeds:  # recent columns and every task's best pair, grown under the current duals
            p, g = _improve_column(scorer, group, pi)
            if p > mu + _EPS and g not in columns:
                new.append((p, g))
        if new:
            for _, g in sorted(new, key=lambda pg: -pg[0])[:n]:
                columns[g] = None
            if iterations % 10:  # exact pricing every 10th iteration even so, for a bound along the way
                continue
        found, max_profit = pricing.price(pi, deadline)
        bound = float(pi.sum()) + k * max(0.0, max_profit)
        if bound < upper:
            upper, best_pi, best_profit = bound, pi, max(0.0, max_profit)
        added = [g for p, g in found if p > mu + _EPS and g not in columns]
        for g in added:
            columns[g] = None
        if not added and not new:
            if max_profit <= mu + _EPS:  # LP optimal over all groups: its value is the bound
                upper = min(upper, lp_value + _EPS * (1 + abs(lp_value)))
            break
    def integer_master() -> tuple[list[Group], float, bool]:
        groups = list(columns)
        problem = scorer.listed_problem(groups)
        remaining = max(1.0, deadline - time.perf_counter())
        plan = solve(problem, budget=k, method="ilp", time_limit=remaining)
        chosen = [groups[problem.network_index(name)] for name in plan.networks]
        return chosen, scorer.value(chosen), plan.optimal

    chosen, value, master_optimal = integer_master()
    if value < scorer.value(start):
        chosen, value = list(start), scorer.value(start)
    closed = upper - value <= 1e-6 * max(1.0, abs(value))
    if not closed and master_optimal and isinstance(pricing, _EnumeratedPricing) and best_pi is not None:
        # A better selection containing G needs V <= sum(pi) + P(G) + (k-1) P* > value: every such G is among
        # the groups with P(G) > value - sum(pi) - (k-1) P*. With them all in the master, its optimum is proven.
        threshold = value - float(best_pi.sum()) - (k - 1) * best_profit
        for g in pricing.above(best_pi, threshold - _EPS * (1 + abs(threshold))):
            columns.setdefault(g, None)
        chosen, value, master_optimal = integer_master()
        if master_optimal:
            upper = value
    return ColumnGenerationResult(chosen, value, max(upper, value), iterations, len(columns))
