"""Exact selection as an integer program, solved by an OR-Tools MIP backend.

The model is a budgeted facility location (compare OR-Tools' ``facility_location.py`` sample)::

    data       WL[j,t]  weighted loss of network j on task t (only for t in S_j)
               C[j,r]   cost of network j on resource r;  b[r] budget
    variables  x[j] in {0,1}   network j is chosen
               y[j,t] in [0,1] task t is served by network j          (integral at an optimum)
    minimise   sum_{j,t} WL[j,t] * y[j,t]
    subject to (1) sum_j y[j,t] = 1            for every task t       each task is served once
               (2) y[j,t] <= x[j]              for every j, t in S_j  only by a chosen network
               (3) sum_j C[j,r] * x[j] <= b[r] for every resource r   the budget

The same model answers two more questions the rest of the package needs: the cheapest cover (minimise
``sum_j C[j,r] x[j]`` instead) and, for the budget frontier, the cheapest plan whose objective is below a cap
(add ``sum WL y <= cap``).

LP-based MIP backends (HiGHS, SCIP, CBC) are much stronger than CP-SAT on this model because the LP
relaxation of the strong formulation (2) is tight; benchmarks/solvers.py measures them side by side.
"""

from __future__ import annotations

import math

import numpy as np
from ortools.linear_solver import pywraplp

from taskgroup.errors import InvalidArgument, SolverError
from taskgroup.solvers.instance import SelectionInstance, budget_tolerance
from taskgroup.solvers.registry import SolverResult

__all__ = ["BACKENDS", "SelectionModel", "solve_ilp"]

# taskgroup name -> pywraplp solver id
BACKENDS = {"highs": "HIGHS", "scip": "SCIP", "cbc": "CBC", "cpsat": "CP_SAT"}


class SelectionModel:
    """The integer program of one instance, reusable for several objectives and caps."""

    def __init__(self, instance: SelectionInstance, backend: str = "highs") -> None:
        if backend not in BACKENDS:
            raise InvalidArgument(f"Unknown ILP backend {backend!r}; accepted: {sorted(BACKENDS)}.")
        self.instance = instance
        self.backend = backend
        solver = pywraplp.Solver.CreateSolver(BACKENDS[backend])
        if solver is None:  # pragma: no cover - depends on the OR-Tools build
            raise SolverError(f"OR-Tools was built without the {backend!r} backend.")
        solver.SuppressOutput()
        if backend == "highs":  # HiGHS prints a banner on every solve unless its own output flag is off
            solver.SetSolverSpecificParametersAsString("output_flag=false")
        self.solver = solver
        WL, C = instance.WL, instance.C
        m, n = WL.shape
        self.x = [solver.BoolVar(f"x[{j}]") for j in range(m)]
        self.y: dict[tuple[int, int], pywraplp.Variable] = {}
        for j, t in zip(*np.nonzero(np.isfinite(WL))):
            self.y[j, t] = solver.NumVar(0.0, 1.0, f"y[{j},{t}]")
        by_task: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        for j, t in self.y:
            by_task[t].append((j, t))
        for t in range(n):  # (1)
            solver.Add(sum(self.y[k] for k in by_task[t]) == 1)
        for (j, t), var in self.y.items():  # (2)
            solver.Add(var <= self.x[j])
        self.cost_exprs = [sum(C[j, r] * self.x[j] for j in range(m)) for r in range(C.shape[1])]
        self.budget_rows = [solver.Add(expr <= solver.infinity()) for expr in self.cost_exprs]  # (3)
        self.set_budget(instance.budget)
        self.loss_expr = sum(WL[j, t] * var for (j, t), var in self.y.items())
        self.cap_row = None

    def set_budget(self, budget: np.ndarray) -> None:
        """Change the budget rows (3) to ``budget`` (``inf`` = unconstrained)."""
        slack = budget_tolerance(budget)
        for r, row in enumerate(self.budget_rows):
            upper = budget[r] + slack[r] if math.isfinite(budget[r]) else self.solver.infinity()
            row.SetBounds(-self.solver.infinity(), upper)

    def set_objective_cap(self, cap: float | None) -> None:
        """Require ``sum WL y <= cap`` (None removes the requirement)."""
        if cap is None:
            if self.cap_row is not None:
                self.cap_row.SetBounds(-self.solver.infinity(), self.solver.infinity())
            return
        if self.cap_row is None:
            self.cap_row = self.solver.Add(self.loss_expr <= cap)
        else:
            self.cap_row.SetBounds(-self.solver.infinity(), cap)

    def run(self, minimise: str = "loss", time_limit: float | None = None) -> SolverResult:
        """Solve, minimising the total weighted loss (``"loss"``) or the cost on resource ``r`` (``"cost:r"``)."""
        solver = self.solver
        if minimise == "loss":
            solver.Minimize(self.loss_expr)
        else:
            solver.Minimize(self.cost_exprs[int(minimise.split(":")[1])])
        if time_limit is not None:
            solver.SetTimeLimit(max(1, int(time_limit * 1000)))
        params = pywraplp.MPSolverParameters()
        params.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, 0.0)
        status = solver.Solve(params)
        if status == pywraplp.Solver.INFEASIBLE:
            return SolverResult(None, True, math.inf, _nodes(solver))
        if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            if status == pywraplp.Solver.NOT_SOLVED:  # time limit before any solution
                return SolverResult(None, False, -math.inf, _nodes(solver))
            raise SolverError(f"The {self.backend} backend stopped with status {status} on a selection model.")
        chosen = [j for j, var in enumerate(self.x) if var.solution_value() > 0.5]
        bound = solver.Objective().BestBound() if minimise == "loss" else -math.inf
        if not math.isfinite(bound):
            bound = -math.inf
        return SolverResult(chosen, status == pywraplp.Solver.OPTIMAL, bound, _nodes(solver))


def _nodes(solver: pywraplp.Solver) -> int:
    try:
        return int(solver.nodes())
    except Exception:  # some backends do not report nodes
        return 0


def solve_ilp(
    instance: SelectionInstance, *, time_limit: float | None = None, backend: str = "highs"
) -> SolverResult:
    """Minimise the total weighted loss of ``instance`` within its budget with a MIP backend."""
    result = SelectionModel(instance, backend).run("loss", time_limit)
    if result.chosen is not None:  # the backend's own objective carries its tolerances; re-score exactly
        result.bound = min(result.bound, instance.objective(result.chosen))
    return result
