"""``taskgroup measure``: train and profile candidate networks on a suite into a results store."""

from __future__ import annotations

import argparse

from taskgroup.cli.options import add_suite_param_argument, parse_suite_params
from taskgroup.errors import InvalidArgument

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "measure",
        help="train and profile candidate networks into a results store",
        description="Train every candidate network on a task suite, profile its inference cost, and commit "
        "each result to a SQLite store as it finishes. Rerunning the same command resumes.",
    )
    p.add_argument("--suite", required=True, help="a built-in suite: synthetic, digits, wage")
    add_suite_param_argument(p)
    p.add_argument("--tasks", help="comma-separated tasks to keep (default: all of the suite's tasks)")
    p.add_argument("--candidates", default="all", help="'all', 'pairs', or a list like 'a+b,c,c@half'")
    p.add_argument("--no-half", action="store_true", help="do not add half-size single-task networks")
    p.add_argument("--epochs", type=int, default=50, help="maximum epochs (default 50)")
    p.add_argument("--patience", type=int, default=10, help="early-stopping patience in epochs (default 10)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", default="64,64", help="full-size trunk widths (default 64,64)")
    p.add_argument("--reduction", choices=["sum", "mean"], default="sum", help="multi-task loss (default sum)")
    p.add_argument("--seeds", type=int, default=1, help="number of seeds, 0..K-1 (default 1)")
    p.add_argument("--store", required=True, help="SQLite results database (created if missing)")
    p.add_argument("--executor", default="serial", help="serial, process, process:N or dask://HOST:PORT")
    p.add_argument("--stack-size", type=int, default=None, help="most networks trained together per job")
    p.add_argument("--one-by-one", action="store_true", help="train networks one at a time (no stacking)")
    p.add_argument("--latency-repeats", type=int, default=50, help="latency repeats per network (0: skip)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    p.set_defaults(run=run_measure)


def run_measure(args: argparse.Namespace) -> int:
    from taskgroup.datasets.suites import load_suite
    from taskgroup.measure.runner import measure
    from taskgroup.measure.training import TrainConfig

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None
    suite = load_suite(args.suite, tasks=tasks, **parse_suite_params(args.suite_param))
    try:
        hidden = tuple(int(h) for h in args.hidden.split(","))
    except ValueError:
        raise InvalidArgument(f"--hidden {args.hidden!r} must be comma-separated integers, e.g. 64,64.") from None
    config = TrainConfig(hidden=hidden, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         patience=args.patience, reduction=args.reduction)
    results = measure(
        suite, args.store, candidates=args.candidates, half_singles=not args.no_half, config=config,
        seeds=args.seeds, executor=args.executor, vectorise=not args.one_by_one, stack_size=args.stack_size,
        latency_repeats=args.latency_repeats, progress=not args.quiet,
    )
    if not args.quiet:
        ok = results[results["status"] == "ok"]
        failed = results[results["status"] != "ok"]
        print(f"{suite!r}: {ok['network'].nunique()} networks measured, {failed['network'].nunique()} failed; "
              f"store {args.store}")
        if not ok.empty:
            summary = ok.groupby(["network", "task"], sort=False)[["val_loss", "test_loss", "test_metric"]].mean()
            print(summary.reset_index().to_string(index=False, float_format=lambda x: f"{x:.4g}"))
        print(f"\nnext: taskgroup solve --store {args.store} --budget B [--cost flops|snt|params|latency_ms]")
    return 0
