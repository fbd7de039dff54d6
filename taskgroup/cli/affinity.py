"""``taskgroup affinity`` (one training run -> TAG/CS matrix) and ``taskgroup solve --affinity`` (k groups)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from taskgroup.cli.options import (
    SUITE_CHOICES,
    add_runtime_arguments,
    add_suite_param_argument,
    apply_runtime_arguments,
    parse_suite_params,
)
from taskgroup.errors import InvalidArgument, NotFound
from taskgroup.estimate.matrix import as_affinity
from taskgroup.grouping.affinity_problem import SINGLETON_MODES, group_problem
from taskgroup.grouping.group import GROUPING_METHODS, group
from taskgroup.plan import Plan

__all__ = ["register", "add_affinity_arguments", "run_affinity_solve", "read_affinity"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``taskgroup affinity`` to the command's subparsers."""
    p = commands.add_parser(
        "affinity",
        help="measure TAG / CS inter-task affinity in one all-tasks training run",
        description="Train one network on every task of a suite and measure the lookahead affinity (TAG) or "
        "gradient cosine similarity (CS) every few steps; the matrix is printed as matrix[source, target] "
        "and kept in the results store.",
    )
    p.add_argument(
        "--suite", required=True, metavar="NAME", choices=SUITE_CHOICES, help="a registered suite: %(choices)s"
    )
    add_suite_param_argument(p)
    p.add_argument("--method", choices=["tag", "cs"], default="tag", help="tag (lookahead) or cs (cosine)")
    p.add_argument("--store", metavar="DB", help="results store to keep the matrix in (and reuse it from)")
    p.add_argument("--epochs", type=int, default=None, help="epochs of the run (default: the training default)")
    p.add_argument("--every", type=int, default=10, help="measure every K steps (default 10)")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the network's initial weights and batch order (default 0)"
    )
    add_runtime_arguments(p)
    p.add_argument("--csv", metavar="CSV", help="also write the matrix to this CSV file")
    p.add_argument("--n-networks", type=int, metavar="K", help="also print the best K groups")
    p.set_defaults(run=run_affinity)


def _check_networks(networks: int | None) -> None:
    if networks is not None and networks < 1:
        raise InvalidArgument(f"--n-networks must be a whole number >= 1; got {networks}.")


def run_affinity(args: argparse.Namespace) -> int:
    from taskgroup.datasets import load_suite
    from taskgroup.engine.defaults import default_train_config
    from taskgroup.measure.store import ResultStore
    from taskgroup.strategies.tag import suite_affinity

    _check_networks(args.n_networks)  # before the training run, not after it

    device = apply_runtime_arguments(args)
    suite = load_suite(args.suite, **parse_suite_params(args.suite_param))
    # as taskgroup run measures the suite (cnn with the image settings for images, else mlp)
    config = default_train_config(suite, device=device, **({} if args.epochs is None else {"epochs": args.epochs}))
    fp, cfg = suite.fingerprint(), config.hash()
    matrix = None
    if args.store and Path(args.store).is_file():
        try:
            matrix = ResultStore(args.store).load_affinity(
                method=args.method, suite=fp, config=cfg, seed=args.seed, every=args.every
            )
            print(f"found in {args.store}: {args.method} affinity of suite {suite.name!r} (not retrained)")
        except NotFound:
            pass  # not measured yet with this key: train below
    if matrix is None:
        run = suite_affinity(suite, (args.method,), config=config, every=args.every, seed=args.seed)
        matrix = run.tag if args.method == "tag" else run.cs
        assert matrix is not None
        if args.store:
            ResultStore(args.store).save_affinity(
                matrix,
                suite=fp,
                suite_name=suite.name,
                config=cfg,
                method=args.method,
                seed=args.seed,
                every=args.every,
                steps=run.steps,
            )
            print(f"stored in {args.store}")
    print(f"{args.method} affinity, matrix[source, target]:")
    with pd.option_context("display.width", 200):
        print(matrix.to_string(float_format=lambda x: f"{x:.4g}"))
    if args.csv:
        from taskgroup.files import atomic_write, output_file

        inputs = [args.store] if args.store else []
        atomic_write(output_file(args.csv, inputs=inputs, option="--csv"), matrix.to_csv)
        print(f"\nmatrix written to {args.csv}")
    if args.n_networks is not None:
        print()
        print(group(matrix, args.n_networks).summary())
    return 0


def add_affinity_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``taskgroup solve`` that choose K groups from an affinity or pair matrix."""
    parser.add_argument(
        "--affinity",
        metavar="MATRIX",
        help="choose groups from an affinity/pair matrix instead of a table: a .csv/.json matrix "
        "(rows = source, columns = target), 'tag2021:DATASET:KIND', or 'DB.db[:SUITE][:tag|cs]'",
    )
    parser.add_argument("--n-networks", type=int, metavar="K", help="with --affinity: the number of networks")
    parser.add_argument(
        "--singletons",
        choices=list(SINGLETON_MODES),
        default="exclude",
        help="with --affinity: one-task groups excluded (default) or scored by the diagonal",
    )
    parser.add_argument(
        "--orient",
        choices=["source", "target"],
        default="source",
        help="with --affinity: what the matrix rows are (default source)",
    )
    parser.add_argument(
        "--lower-is-better",
        action="store_true",
        help="with --affinity: the matrix holds losses (e.g. pair losses), not affinities",
    )


def read_affinity(ref: str, orient: str = "source") -> pd.DataFrame:
    """A matrix from a file, a published table 'tag2021:DATASET:KIND', or a results store 'DB[:SUITE][:METHOD]'."""
    if ref.startswith("tag2021"):
        from taskgroup.datasets import tag2021

        parts = ref.split(":")
        if len(parts) != 3:
            raise InvalidArgument(
                f"Published matrix {ref!r} not understood; use 'tag2021:celeba|taskonomy:tag|cs|pairs'."
            )
        return tag2021(parts[1], parts[2])
    parts = ref.split(":")
    if parts[0].endswith(".db"):
        from taskgroup.measure.store import ResultStore

        db, extra = parts[0], parts[1:]
        method = extra[-1] if extra and extra[-1] in ("tag", "cs") else "tag"
        suite = extra[0] if extra and extra[0] not in ("tag", "cs") else None
        return ResultStore(db, create=False).load_affinity(method=method, suite=suite)
    return as_affinity(ref, orient=orient)


def run_affinity_solve(args: argparse.Namespace) -> tuple[Plan, object]:
    """``taskgroup solve --affinity``: the best ``--n-networks`` groups; returns the plan and what to tabulate."""
    if args.n_networks is None:
        raise InvalidArgument("--affinity needs --n-networks K (the number of networks).")
    _check_networks(args.n_networks)
    if args.table or getattr(args, "store", None):
        raise InvalidArgument("Give either a TABLE/--store or --affinity, not both.")
    if args.budget is not None:
        raise InvalidArgument("With --affinity the budget is --n-networks K; drop --budget.")
    matrix = read_affinity(args.affinity, args.orient)
    # affinities are higher-is-better; a published pair-loss matrix says otherwise in attrs, a user's with a flag
    hib = False if args.lower_is_better else None
    if args.method in GROUPING_METHODS.choices():
        plan = group(
            matrix,
            args.n_networks,
            method=args.method,
            singletons=args.singletons,
            higher_is_better=hib,
            time_limit=args.time_limit,
            # a long search (colgen at 30+ tasks) says how far it is; a quick one stays silent
            say=lambda line: print(line, file=sys.stderr, flush=True),
        )
        return plan, None
    from taskgroup.solvers import solve

    problem = group_problem(
        matrix,
        singletons=args.singletons,
        higher_is_better=not args.lower_is_better and matrix.attrs.get("higher_is_better", True),
    )
    return solve(problem, args.n_networks, method=args.method, time_limit=args.time_limit), problem
