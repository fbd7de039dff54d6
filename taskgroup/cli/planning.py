"""``taskgroup solve`` and ``taskgroup frontier``: choose networks from a table of measured losses."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

from taskgroup.cli.affinity import add_affinity_arguments, run_affinity_solve
from taskgroup.datasets import STANDLEY_SETTINGS, STANDLEY_SPLITS, standley2020
from taskgroup.errors import InvalidArgument
from taskgroup.files import read_csv_table
from taskgroup.grouping.group import GROUPING_METHODS
from taskgroup.problem import Problem
from taskgroup.solvers import SOLVERS, frontier, plot_frontier, solve

__all__ = ["register", "load_problem", "parse_budget_text", "DEFAULT_TABLE"]

DEFAULT_TABLE = "standley2020:1:val"


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``taskgroup solve`` and ``taskgroup frontier`` to the command's subparsers."""
    p = commands.add_parser(
        "solve",
        help="the best set of networks within a budget",
        description="Choose the set of networks with the lowest total loss whose cost fits the budget.",
    )
    add_problem_arguments(p)
    p.add_argument(
        "--budget",
        help="a number, or one value per cost column as 'flops=2e6,latency_ms=3' (required unless --affinity)",
    )
    p.add_argument(
        "--method",
        default="auto",
        choices=[*SOLVERS.choices(), *GROUPING_METHODS.names()],
        help="solver (default: auto); with --affinity also a grouping method",
    )
    add_affinity_arguments(p)
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds; returns the best plan found and its gap (default: no limit, also with --affinity)",
    )
    p.add_argument("--json", metavar="PLAN", help="also write the plan as JSON to this file")
    p.add_argument("--score-on", metavar="TABLE", help="score the chosen networks on another table (e.g. test losses)")
    p.set_defaults(run=run_solve)

    f = commands.add_parser(
        "frontier",
        help="the best plan at every budget (the cost/loss staircase)",
        description="Every budget at which the optimal total loss improves, with its plan.",
    )
    add_problem_arguments(f)
    f.add_argument("--budgets", help="comma-separated budgets to solve at instead of the full staircase")
    f.add_argument("--plot", metavar="PNG", help="draw the frontier to this PNG file")
    f.add_argument("--csv", metavar="CSV", help="write the frontier table to this CSV file")
    f.set_defaults(run=run_frontier)


def add_problem_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "table",
        nargs="?",
        default=None,
        metavar="TABLE",
        help=f"a long table (.csv or .json: network, task, loss, cost columns) or a published table "
        f"'standley2020:SETTING:SPLIT' (default: {DEFAULT_TABLE})",
    )
    parser.add_argument(
        "--cost",
        help="the cost column to constrain (default: 'cost', or all cost columns; "
        "with --store: the store's only cost resource, or 'flops' for built-in models)",
    )
    parser.add_argument("--store", metavar="DB", help="read measured losses from a 'taskgroup measure' results store")
    parser.add_argument(
        "--split",
        choices=["val", "test"],
        default="val",
        help="with --store: which split's losses to use (default val)",
    )
    parser.add_argument(
        "--higher-is-better", action="store_true", help="the loss column holds scores where higher is better"
    )


def load_problem(args: argparse.Namespace) -> Problem:
    """The problem named by the TABLE argument or --store (and --cost, --split)."""
    if getattr(args, "store", None):
        if args.table:
            raise InvalidArgument(f"Give either a TABLE ({args.table!r}) or --store, not both.")
        from taskgroup.measure.store import ResultStore  # torch-free

        return ResultStore(args.store, create=False).to_problem(split=args.split, cost=args.cost)
    return read_table(args.table or DEFAULT_TABLE, cost=args.cost, higher_is_better=args.higher_is_better)


def read_table(ref: str, *, cost: str | None = None, higher_is_better: bool = False) -> Problem:
    if ref.startswith("standley2020"):
        parts = ref.split(":")
        if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) not in STANDLEY_SETTINGS:
            raise InvalidArgument(
                f"Published table {ref!r} not understood; use 'standley2020:SETTING:SPLIT' with SETTING in "
                f"{list(STANDLEY_SETTINGS)} and SPLIT in {list(STANDLEY_SPLITS)}."
            )
        problem = standley2020(int(parts[1]), parts[2])
        return problem.with_costs(cost) if cost else problem
    path = Path(ref)
    if not path.exists():
        raise InvalidArgument(f"No such table: {ref!r} (give a .csv or .json file, or 'standley2020:1:val').")
    if path.suffix.lower() == ".csv":
        header = read_csv_table(path, nrows=0).columns
        cost_columns = [cost] if cost else _default_cost_columns(header)
        return Problem.from_csv(path, cost=cost_columns, higher_is_better=higher_is_better)
    problem = Problem.read(path)
    return problem.with_costs(cost) if cost else problem


def _default_cost_columns(columns: pd.Index) -> list[str]:
    if "cost" in columns:
        return ["cost"]
    raise InvalidArgument(
        f"The table has no 'cost' column; name the cost column with --cost (columns: {list(map(str, columns))})."
    )


def parse_budget_text(text: str, cost_names: tuple[str, ...]) -> float | dict[str, float]:
    """'2.5' -> 2.5; 'flops=2e6,latency_ms=3' -> {'flops': 2e6, 'latency_ms': 3.0}."""
    try:
        if "=" not in text:
            return float(text)
        budget = {}
        for part in text.split(","):
            key, _, value = part.partition("=")
            budget[key.strip()] = float(value)
        return budget
    except ValueError:
        raise InvalidArgument(
            f"--budget {text!r} is not a number or a list like 'flops=2e6,latency_ms=3' "
            f"(cost columns: {list(cost_names)})."
        ) from None


def run_solve(args: argparse.Namespace) -> int:
    if args.affinity:
        plan, problem = run_affinity_solve(args)
        if args.json:
            plan.to_json(args.json)
        print(plan.summary())
        if args.json:
            print(f"\nplan written to {args.json}")
        return 0
    if args.budget is None:
        raise InvalidArgument(
            "the following arguments are required: --budget (or --affinity MATRIX with --n-networks K)."
        )
    problem = load_problem(args)
    budget = parse_budget_text(args.budget, problem.cost_names)
    plan = solve(problem, budget, method=args.method, time_limit=args.time_limit)
    scored = None
    if args.score_on:
        other = read_table(args.score_on, cost=args.cost, higher_is_better=args.higher_is_better)
        scored = other.evaluate(plan.networks)
    # Files first: a reader that closes stdout early (`| head`) must not cost the user the plan file.
    if args.json:
        plan.to_json(args.json)
    print(plan.summary())
    print()
    print(plan_table(problem, plan).to_string(index=False))
    if scored is not None:
        label = "score" if scored.higher_is_better else "objective"
        print(f"\non {args.score_on}: {label} {scored.score:.6g}")
    if args.json:
        print(f"\nplan written to {args.json}")
    return 0


def plan_table(problem: Problem, plan) -> pd.DataFrame:
    """One row per task: the network serving it, its loss (or score) and whether that is predicted."""
    rows = []
    for task, network in plan.assignment.items():
        j, t = problem.network_index(network), problem.task_index(task)
        rows.append(
            {
                "task": task,
                "network": network,
                ("score" if plan.higher_is_better else "loss"): plan.task_scores[task],
                "weight": problem.weights[t],
                "predicted": bool(problem.predicted[j, t]),
            }
        )
    return pd.DataFrame(rows)


def run_frontier(args: argparse.Namespace) -> int:
    problem = load_problem(args)
    budgets = None
    if args.budgets:
        try:
            budgets = [float(b) for b in args.budgets.split(",")]
        except ValueError:
            raise InvalidArgument(f"--budgets {args.budgets!r} must be comma-separated numbers.") from None
    cost = args.cost or (problem.cost_names[0] if len(problem.cost_names) == 1 else None)
    front = frontier(problem, budgets, cost=cost)
    shown = front.to_frame()
    # Files first: a reader that closes stdout early (`| head`) must not cost the user the files.
    if args.csv:
        shown.to_csv(args.csv, index=False)
    if args.plot:
        plot_frontier(front, args.plot, title=f"Budget frontier: {args.store or args.table or DEFAULT_TABLE}")
    with pd.option_context("display.max_colwidth", 80, "display.width", 200):
        print(shown.to_string(index=False, float_format=lambda x: f"{x:.6g}" if math.isfinite(x) else "-"))
    if args.csv:
        print(f"\nfrontier written to {args.csv}")
    if args.plot:
        print(f"plot written to {args.plot}")
    return 0
