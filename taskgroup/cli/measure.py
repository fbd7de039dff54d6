"""``taskgroup measure``: measure candidate networks into a results store, on a built-in suite (train and
profile the built-in model) or with the user's own training function (``--objective module:function``)."""

from __future__ import annotations

import argparse
from typing import Any

import pandas as pd

from taskgroup.cli.options import (
    FAMILY_CHOICES,
    SUITE_CHOICES,
    add_adaptive_budget_arguments,
    add_suite_param_argument,
    executor_help,
    parse_suite_params,
)
from taskgroup.errors import InvalidArgument, MeasurementError

__all__ = ["register"]

# Training options of --suite: None in the parser, so that giving one with --objective is noticed, and so that
# only what was given overrides the configuration taskgroup run would measure the suite with.
_TRAINING_OPTIONS = ("epochs", "patience", "batch_size", "lr", "reduction")
# Every suite-only option (the measurement ones default in _measure_suite).
_SUITE_ONLY = ("model", *_TRAINING_OPTIONS, "hidden", "stack_size", "latency_repeats")


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``taskgroup measure`` to the command's subparsers."""
    p = commands.add_parser(
        "measure",
        help="train and profile candidate networks (or run your own training function) into a results store",
        description="Train every candidate network on a task suite and profile its inference cost, or call your "
        "own training function objective(tasks, variant, seed) for every candidate, and commit each result to a "
        "SQLite store as it finishes. Rerunning the same command resumes.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--suite", metavar="NAME", choices=SUITE_CHOICES, help="a registered suite: %(choices)s")
    source.add_argument(
        "--objective",
        metavar="MODULE:FUNCTION",
        help="your training function, e.g. mytraining:objective (needs --tasks; see the how-to "
        "'Your own training script')",
    )
    add_suite_param_argument(p)
    p.add_argument("--tasks", help="comma-separated tasks (suite: which to keep, default all; objective: required)")
    p.add_argument("--candidates", default="all", help="'all', 'pairs', or a list like 'a+b,c,c@half'")
    p.add_argument("--variants", help="objective only: comma-separated variant names for every subset (default: full)")
    p.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="objective only: a keyword argument for every call, e.g. --setting epochs=2 (repeatable)",
    )
    p.add_argument("--no-half", action="store_true", help="suite only: no half-size single-task networks")
    p.add_argument(
        "--model",
        metavar="FAMILY",
        choices=FAMILY_CHOICES,
        help="model family: %(choices)s (default: as taskgroup run, cnn for image suites, else mlp)",
    )
    p.add_argument("--epochs", type=int, help="maximum epochs (default 50)")
    p.add_argument("--patience", type=int, help="early-stopping patience in epochs (default 10)")
    p.add_argument("--batch-size", type=int, help="mini-batch size (default 128, cnn 32)")
    p.add_argument("--lr", type=float, help="learning rate (default 0.001)")
    p.add_argument("--hidden", help="full-size trunk widths (default 64,64; cnn channels 8,16)")
    p.add_argument("--reduction", choices=["sum", "mean"], help="multi-task loss (default sum)")
    p.add_argument("--seeds", type=int, default=1, help="number of seeds, 0..K-1 (default 1)")
    p.add_argument("--store", required=True, help="SQLite results database (created if missing)")
    p.add_argument("--executor", default="serial", help=executor_help("serial"))
    p.add_argument("--stack-size", type=int, help="most networks trained together per job")
    p.add_argument("--one-by-one", action="store_true", help="train networks one at a time (no stacking)")
    p.add_argument("--latency-repeats", type=int, help="latency repeats per network (0: skip; default 50)")
    p.add_argument(
        "--strategy",
        choices=["listed", "adaptive"],
        default="listed",
        help="listed: measure --candidates; adaptive: measure at most --max-measured networks, chosen one at a "
        "time for a plan of --n-networks (default: listed)",
    )
    add_adaptive_budget_arguments(p, "--strategy adaptive: networks of the plan")
    p.add_argument("--seed", type=int, default=0, help="--strategy adaptive: seed of the plan search (default 0)")
    p.add_argument("--plan-out", metavar="PATH", help="--strategy adaptive: also write the chosen plan as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    p.set_defaults(run=run_measure)


def run_measure(args: argparse.Namespace) -> int:
    adaptive_only = [
        flag
        for flag, given in (
            ("--max-measured", args.max_measured is not None),
            ("--n-networks", args.n_networks is not None),
            ("--plan-out", args.plan_out is not None),
        )
        if given
    ]
    if args.strategy == "adaptive":
        return _measure_adaptive(args)
    if adaptive_only:
        raise InvalidArgument(f"{', '.join(adaptive_only)} apply to --strategy adaptive only.")
    if args.objective:
        results, label = _measure_objective(args), f"objective {args.objective}"
        cost_hint = ""
    else:
        results, label = _measure_suite(args)
        cost_hint = " [--cost flops|snt|params|latency_ms]"
    ok = results[results["status"] == "ok"]
    failed = results[results["status"] != "ok"]
    if ok.empty and not failed.empty:
        first = failed.iloc[0]
        raise MeasurementError(
            f"{label}: none of the {failed['network'].nunique()} candidate networks was measured; every one failed "
            f"(first: {first['network']}, seed {first['seed']}: {first['reason']}). Fix the cause and rerun"
            + (" the same command: failed calls are tried again." if args.objective else ".")
        )
    if not args.quiet:
        print(
            f"{label}: {ok['network'].nunique()} networks measured, {failed['network'].nunique()} failed; "
            f"store {args.store}"
        )
        for row in failed.drop_duplicates("network").itertuples():
            print(f"  failed {row.network} (seed {row.seed}): {row.reason}")
        if not ok.empty:
            values = [c for c in ("val_loss", "test_loss", "test_metric") if c in ok.columns]
            summary = ok.groupby(["network", "task"], sort=False)[values].mean()
            print(summary.reset_index().to_string(index=False, float_format=lambda x: f"{x:.4g}"))
        print(f"\nnext: taskgroup solve --store {args.store} --budget B{cost_hint}")
    return 0


def _measure_adaptive(args: argparse.Namespace) -> int:
    """``--strategy adaptive``: :func:`taskgroup.strategies.adaptive_measure`; prints progress, plan, certificate."""
    from taskgroup.strategies.adaptive import adaptive_measure

    if args.candidates != "all":
        raise InvalidArgument(f"--strategy adaptive chooses the candidates itself; got --candidates {args.candidates}.")
    for flag, value in (("--max-measured", args.max_measured), ("--n-networks", args.n_networks)):
        if value is None or value < 1:
            raise InvalidArgument(f"--strategy adaptive needs {flag} as an integer >= 1; got {value}.")
    say = None if args.quiet else print
    common = {
        "max_measured": args.max_measured,
        "n_networks": args.n_networks,
        "seed": args.seed,
        "say": say,
        "seeds": args.seeds,
        "executor": args.executor,
        "progress": False,  # one network per call: the line per measured network is the progress
    }
    if args.objective:
        from taskgroup.measure.objective import load_objective

        _check_objective_options(args)
        if args.variants:
            raise InvalidArgument("--strategy adaptive measures full networks only; leave out --variants.")
        result = adaptive_measure(
            load_objective(args.objective),
            args.store,
            tasks=args.tasks.split(","),
            settings=parse_suite_params(args.setting, option="--setting"),
            **common,
        )
    else:
        suite, config = _suite_and_config(args)
        result = adaptive_measure(
            suite,
            args.store,
            config=config,
            vectorise=not args.one_by_one,
            stack_size=args.stack_size,
            latency_repeats=50 if args.latency_repeats is None else args.latency_repeats,
            **common,
        )
    if args.plan_out:
        result.plan.to_json(args.plan_out)
    if not args.quiet:
        print(result.plan.summary())
        print(result.certificate.describe())
        print(
            f"{len(result.measured)} networks measured into {args.store}"
            + (" (stopped early: the optimistic plan is fully measured)" if result.certified else "")
        )
    return 0


def _check_objective_options(args: argparse.Namespace) -> None:
    suite_only = [f"--{name.replace('_', '-')}" for name in _SUITE_ONLY if getattr(args, name) is not None]
    suite_only += [
        flag
        for flag, given in (
            ("--no-half", args.no_half),
            ("--one-by-one", args.one_by_one),
            ("--suite-param", bool(args.suite_param)),
        )
        if given
    ]
    if suite_only:
        raise InvalidArgument(
            f"{', '.join(suite_only)} apply to --suite only; an objective trains however it "
            "likes (pass it options with --setting KEY=VALUE)."
        )
    if not args.tasks:
        raise InvalidArgument("--objective needs --tasks, e.g. --tasks a,b,c.")


def _suite_and_config(args: argparse.Namespace) -> tuple[Any, Any]:
    from taskgroup.datasets.suites import load_suite
    from taskgroup.engine.defaults import default_train_config

    if args.variants or args.setting:
        raise InvalidArgument(
            "--variants and --setting apply to --objective only; a suite's variants are full "
            "and half (--no-half leaves the half-size networks out)."
        )
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None
    suite = load_suite(args.suite, tasks=tasks, **parse_suite_params(args.suite_param))
    changes = {k: getattr(args, k) for k in _TRAINING_OPTIONS if getattr(args, k) is not None}
    if args.hidden is not None:
        try:
            changes["hidden"] = tuple(int(h) for h in str(args.hidden).split(","))
        except ValueError:
            raise InvalidArgument(f"--hidden {args.hidden!r} must be comma-separated integers, e.g. 64,64.") from None
    return suite, default_train_config(suite, args.model, **changes)


def _measure_objective(args: argparse.Namespace) -> pd.DataFrame:
    from taskgroup.measure.objective import load_objective, measure_objective  # torch-free

    _check_objective_options(args)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else ["full"]
    settings = parse_suite_params(args.setting, option="--setting")
    return measure_objective(
        load_objective(args.objective),
        args.store,
        tasks=args.tasks.split(","),
        candidates=args.candidates,
        variants=variants,
        seeds=args.seeds,
        settings=settings,
        executor=args.executor,
        progress=not args.quiet,
    )


def _measure_suite(args: argparse.Namespace) -> tuple[pd.DataFrame, str]:
    from taskgroup.measure.runner import measure

    suite, config = _suite_and_config(args)
    results = measure(
        suite,
        args.store,
        candidates=args.candidates,
        half_singles=not args.no_half,
        config=config,
        seeds=args.seeds,
        executor=args.executor,
        vectorise=not args.one_by_one,
        stack_size=args.stack_size,
        latency_repeats=50 if args.latency_repeats is None else args.latency_repeats,
        progress=not args.quiet,
    )
    return results, repr(suite)
