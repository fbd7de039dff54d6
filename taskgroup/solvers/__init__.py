"""Solvers for the network-selection problem, registered by name; :func:`solve` and :func:`frontier`."""

from functools import partial

from taskgroup.registry import MethodSpec
from taskgroup.solvers.bnb import solve_bnb
from taskgroup.solvers.exhaustive import solve_exhaustive
from taskgroup.solvers.frontier import frontier, plot_frontier
from taskgroup.solvers.greedy import solve_greedy
from taskgroup.solvers.ilp import solve_ilp
from taskgroup.solvers.partition_dp import solve_partition_dp
from taskgroup.solvers.registry import SOLVERS, SolverResult, available_solvers, get_solver, register_solver
from taskgroup.solvers.solve import minimum_budget, solve

__all__ = [
    "solve",
    "frontier",
    "plot_frontier",
    "minimum_budget",
    "SOLVERS",
    "register_solver",
    "get_solver",
    "available_solvers",
    "SolverResult",
    "MethodSpec",
]

register_solver(
    "partition-dp",
    solve_partition_dp,
    exact=True,
    description="dynamic programming over partitions of the tasks (every budget at once; about 3^n work)",
)
register_solver("exhaustive", solve_exhaustive, exact=True, description="enumerate every set within the budget")
register_solver("bnb", solve_bnb, exact=True, description="branch-and-bound with dominance and knapsack bounds")
register_solver("ilp", solve_ilp, exact=True, description="integer program, OR-Tools HiGHS")
for _backend in ("scip", "cbc", "cpsat"):
    register_solver(
        f"ilp-{_backend}",
        partial(solve_ilp, backend=_backend),
        exact=True,
        description=f"integer program, OR-Tools {_backend.upper()}",
    )
register_solver("greedy", solve_greedy, exact=False, description="loss reduction per unit cost; no optimality claim")
