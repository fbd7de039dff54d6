"""The selection model: the integer program of an instance, solved by an OR-Tools MIP backend.

:func:`taskgroup.solvers.ilp.solve_ilp` solves it for the best plan; the greedy cover, the frontier and the
minimum budget reuse it with other objectives. The model is a budgeted facility location (compare OR-Tools'
``facility_location.py`` sample)::

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

Every solve runs through :func:`taskgroup.interrupts.run_interruptibly`, so that Ctrl-C is not held up until the
backend returns (:meth:`SelectionModel.run`).

LP-based MIP backends (HiGHS, SCIP, CBC) are much stronger than CP-SAT on this model because the LP
relaxation of the strong formulation (2) is tight; benchmarks/solvers.py measures them side by side.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from ortools.linear_solver import pywraplp

from taskgroup.errors import InvalidArgument, SolverError
from taskgroup.interrupts import interrupt_requested, run_interruptibly
from taskgroup.solvers.instance import SelectionInstance, budget_tolerance
from taskgroup.solvers.quiet import silence_native_output, unsilenced
from taskgroup.solvers.registry import SolverResult

__all__ = ["BACKENDS", "SelectionModel", "MIP_SECONDS_PER_ENTRY", "SAY_EVERY", "mip_out_of_time"]

# Seconds of HiGHS per (network, task) entry of the model, per budget: about 0.15 s at 8 tasks (263
# candidates, 1,024 entries) and 2.4 s at 12 tasks (4,107 candidates, 24,576 entries) in
# benchmarks/results/solvers.md; the growth is close to linear in the entries.
MIP_SECONDS_PER_ENTRY = 1.0e-4
# Seconds between the lines that say a MIP is still solving (the cadence of column generation's progress lines).
SAY_EVERY = 5.0


def mip_out_of_time(instance: SelectionInstance, time_limit: float | None) -> bool:
    """Whether a MIP over ``instance`` would not even reach its root LP within ``time_limit`` seconds.

    HiGHS does not stop inside its root LP (492,000 networks over 40 tasks ran for minutes under a 20 s limit),
    and building the model takes time too, so such a model is not started at all.

    Parameters
    ----------
    instance : SelectionInstance
        The instance.
    time_limit : float, optional
        Seconds (None: never out of time).

    Returns
    -------
    bool
        The (network, task) entries times :data:`MIP_SECONDS_PER_ENTRY` exceed ``time_limit``.
    """
    entries = float(np.isfinite(instance.WL).sum())
    return time_limit is not None and entries * MIP_SECONDS_PER_ENTRY > time_limit


# taskgroup name -> pywraplp solver id
BACKENDS = {"highs": "HIGHS", "scip": "SCIP", "cbc": "CBC", "cpsat": "CP_SAT"}


class SelectionModel:
    """The integer program of one instance, reusable for several objectives and caps.

    Parameters
    ----------
    instance : SelectionInstance
        The instance; its budget is the model's until :meth:`set_budget`.
    backend : {"highs", "scip", "cbc", "cpsat"}, default "highs"
        The OR-Tools MIP backend.

    Raises
    ------
    InvalidArgument
        An unknown backend.
    SolverError
        OR-Tools was built without it.
    """

    def __init__(self, instance: SelectionInstance, backend: str = "highs") -> None:
        if backend not in BACKENDS:
            raise InvalidArgument(f"Unknown ILP backend {backend!r}; accepted: {sorted(BACKENDS)}.")
        self.instance = instance
        self.backend = backend
        solver = pywraplp.Solver.CreateSolver(BACKENDS[backend])
        if solver is None:  # pragma: no cover - depends on the OR-Tools build
            raise SolverError(f"OR-Tools was built without the {backend!r} backend.")
        solver.SuppressOutput()
        if backend == "highs":
            # No banner. An integrality tolerance of 1e-9 (default 1e-6) so that x = 1 - 1e-6 does not pass as
            # integral and a set over budget as feasible; no absolute gap (default 1e-6) and no relative gap
            # (default 1e-4, which OR-Tools' RELATIVE_MIP_GAP does not reach) so that plans closer than that are
            # still told apart: with it, HiGHS called a plan 2.6e-5 above the optimum optimal (a regression test).
            # An integrality tolerance of 1e-10 is too tight: HiGHS then returned a suboptimal plan as optimal on
            # synthetic_problem(6, seed=6) at budget 2.5 (a regression test keeps it honest).
            # Presolve finds little to remove in this model and cost 30-60% of the time at 4,000 candidates.
            solver.SetSolverSpecificParametersAsString(
                "output_flag=false\nmip_feasibility_tolerance=1e-9\nmip_abs_gap=0\nmip_rel_gap=0\npresolve=off"
            )
        if backend == "cpsat":
            # CP-SAT otherwise installs its own SIGINT handler for the solve and leaves SIGINT at the C default
            # afterwards: Ctrl-C then killed the whole process at once, with no KeyboardInterrupt to commit
            # finished work on (tests/test_solvers.py checks that Ctrl-C still raises after a solve).
            # No absolute gap (CP-SAT's default 1e-4), as for HiGHS: it returned 0.43986 as optimal where the
            # optimum is 0.43984 (Standley setting 1, budget 4), now and then, by the order of its workers.
            solver.SetSolverSpecificParametersAsString("catch_sigint_signal: false absolute_gap_limit: 0")
        if backend == "scip":
            # SCIP otherwise takes SIGINT for the solve and stops by itself: Python never saw the Ctrl-C, and an
            # interrupted solve passed for a finished one (run_interruptibly stops it instead)
            solver.SetSolverSpecificParametersAsString("misc/catchctrlc = FALSE")
        self.solver = solver
        WL, C = instance.WL, instance.C
        m, n = WL.shape
        inf = solver.infinity()
        # Rows are filled coefficient by coefficient: building pywraplp expressions with Python sums is
        # quadratic and dominated the solve time at 4,000 candidates.
        self.x = [solver.BoolVar(f"x[{j}]") for j in range(m)]
        self.y = {}
        served = [solver.Constraint(1.0, 1.0, f"served[{t}]") for t in range(n)]  # (1)
        for j, t in zip(*np.nonzero(np.isfinite(WL))):
            y = solver.NumVar(0.0, 1.0, f"y[{j},{t}]")
            self.y[int(j), int(t)] = y
            served[t].SetCoefficient(y, 1.0)
            link = solver.Constraint(-inf, 0.0)  # (2) y - x <= 0
            link.SetCoefficient(y, 1.0)
            link.SetCoefficient(self.x[j], -1.0)
        self.budget_rows = []
        for r in range(C.shape[1]):  # (3)
            row = solver.Constraint(-inf, inf, f"budget[{r}]")
            for j in range(m):
                row.SetCoefficient(self.x[j], float(C[j, r]))
            self.budget_rows.append(row)
        self.set_budget(instance.budget)
        self.cap_row: Any = None
        self.total_cost_row: Any = None

    def set_budget(self, budget: np.ndarray) -> None:
        """Change the budget rows (3) to ``budget`` (``inf`` = unconstrained).

        Parameters
        ----------
        budget : numpy.ndarray, shape (n_resources,)
        """
        slack = budget_tolerance(budget)
        for r, row in enumerate(self.budget_rows):
            upper = budget[r] + slack[r] if math.isfinite(budget[r]) else self.solver.infinity()
            row.SetBounds(-self.solver.infinity(), upper)

    def set_objective_cap(self, cap: float | None) -> None:
        """Require ``sum WL y <= cap`` (None removes the requirement).

        Parameters
        ----------
        cap : float or None
        """
        inf = self.solver.infinity()
        if self.cap_row is None:
            if cap is None:
                return
            row = self.solver.Constraint(-inf, inf, "objective_cap")
            for (j, t), y in self.y.items():
                row.SetCoefficient(y, float(self.instance.WL[j, t]))
            self.cap_row = row
        self.cap_row.SetBounds(-inf, inf if cap is None else cap)

    def set_total_cost_cap(self, cap: float | None) -> None:
        """Require the tie rule's total cost (:mod:`taskgroup.solvers.ties`) ``<= cap`` (None removes it).

        Parameters
        ----------
        cap : float or None
        """
        inf = self.solver.infinity()
        if self.total_cost_row is None:
            if cap is None:
                return
            row = self.solver.Constraint(-inf, inf, "total_cost_cap")
            unit = (self.instance.C / self.instance.cost_unit).sum(axis=1)
            for j, x in enumerate(self.x):
                row.SetCoefficient(x, float(unit[j]))
            self.total_cost_row = row
        self.total_cost_row.SetBounds(-inf, inf if cap is None else cap)

    def run(
        self, minimise: str = "loss", time_limit: float | None = None, *, say: Callable[[str], None] | None = None
    ) -> SolverResult:
        """Solve, minimising the total weighted loss (``"loss"``), the cost on resource ``r`` (``"cost:r"``)
        or the tie rule's total cost (``"total_cost"``, :mod:`taskgroup.solvers.ties`).

        Ctrl-C stops the solve within about a second (:func:`~taskgroup.interrupts.run_interruptibly`): under
        :func:`~taskgroup.interrupts.interrupt_flag` the result is then as at the time limit (CP-SAT and SCIP,
        which OR-Tools can stop, keep the best selection they hold; HiGHS and CBC, which it cannot, are left to
        finish in the background and give none), and once the flag is set no solve starts; otherwise
        ``KeyboardInterrupt`` is raised.

        Parameters
        ----------
        minimise : str, default "loss"
            ``"loss"``, ``"total_cost"`` or ``"cost:r"`` (``r`` a resource index).
        time_limit : float, optional
            Seconds.
        say : callable(str), optional
            Receives a line every :data:`SAY_EVERY` seconds while the backend runs (none for a shorter solve),
            with stdout usable (the backend's own output stays silenced).

        Returns
        -------
        SolverResult
            ``chosen`` None and ``optimal`` True when infeasible; ``chosen`` None and not optimal when stopped at
            the time limit (or by Ctrl-C) before any solution. The bound is the backend's only for ``"loss"``.

        Raises
        ------
        SolverError
            The backend stopped with another status and no time limit was set.
        """
        if interrupt_requested():  # Ctrl-C under interrupt_flag: no new solve (the last may still be running)
            return SolverResult(None, False, -math.inf)
        solver = self.solver
        objective = solver.Objective()
        objective.Clear()
        objective.SetMinimization()
        if minimise == "loss":
            for (j, t), y in self.y.items():
                objective.SetCoefficient(y, float(self.instance.WL[j, t]))
        elif minimise == "total_cost":
            unit = (self.instance.C / self.instance.cost_unit).sum(axis=1)
            for j, x in enumerate(self.x):
                objective.SetCoefficient(x, float(unit[j]))
        else:
            r = int(minimise.split(":")[1])
            for j, x in enumerate(self.x):
                objective.SetCoefficient(x, float(self.instance.C[j, r]))
        if time_limit is not None:
            solver.SetTimeLimit(max(1, int(time_limit * 1000)))
        params = pywraplp.MPSolverParameters()
        params.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, 0.0)
        with silence_native_output():
            status = run_interruptibly(
                lambda: solver.Solve(params), solver.InterruptSolve, progress=self._ticker(say, time_limit)
            )
        if status is None:  # stopped by Ctrl-C and still running: its solver must not be touched again
            return SolverResult(None, False, -math.inf)
        if status == pywraplp.Solver.INFEASIBLE:
            return SolverResult(None, True, math.inf, _nodes(solver))
        if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            if time_limit is not None or interrupt_requested():
                # stopped at the time limit (HiGHS reports 99) or by Ctrl-C (CP-SAT: 6) before any solution
                return SolverResult(None, False, -math.inf, _nodes(solver))
            raise SolverError(f"The {self.backend} backend stopped with status {status} on a selection model.")
        chosen = [j for j, var in enumerate(self.x) if var.solution_value() > 0.5]
        bound = solver.Objective().BestBound() if minimise == "loss" else -math.inf
        if not math.isfinite(bound):
            bound = -math.inf
        return SolverResult(chosen, status == pywraplp.Solver.OPTIMAL, bound, _nodes(solver))

    def _ticker(self, say: Callable[[str], None] | None, time_limit: float | None) -> Callable[[], None] | None:
        """A progress hook that gives ``say`` a line every :data:`SAY_EVERY` seconds of a solve."""
        if say is None:
            return None
        hook, started = say, time.perf_counter()
        said = started

        def tick() -> None:
            nonlocal said
            now = time.perf_counter()
            if now - said < SAY_EVERY:
                return
            said = now
            left = "" if time_limit is None else f", {max(0.0, time_limit - (now - started)):.0f} s of its limit left"
            with unsilenced():
                hook(
                    f"{self.backend} MIP over {self.instance.m} networks still solving after {now - started:.0f} s"
                    f"{left}"
                )

        return tick


def _nodes(solver: pywraplp.Solver) -> int:
    try:
        return int(solver.nodes())
    except Exception:  # some backends do not report nodes
        return 0
