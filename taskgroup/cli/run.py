"""``taskgroup run``: measure or estimate, frontier, plan, train, evaluate and report, in one command."""

from __future__ import annotations

import argparse

from taskgroup.cli.options import (
    FAMILY_CHOICES,
    SUITE_CHOICES,
    add_adaptive_budget_arguments,
    add_force_argument,
    add_runtime_arguments,
    add_suite_param_argument,
    apply_runtime_arguments,
    executor_help,
    parse_suite_params,
)
from taskgroup.pipeline import run_pipeline
from taskgroup.registry import RegistryChoices
from taskgroup.run_settings import OBJECTIVES, RunSettings

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``taskgroup run`` to the command's subparsers."""
    p = commands.add_parser(
        "run",
        help="from a task suite to a deployable plan and a report, in one command",
        description="Measure (or estimate) candidate networks, compute the budget frontier, choose a plan, "
        "train its networks, evaluate them and write a report. Re-running the same command resumes; so does "
        "re-running it with another --budget or --objective, which chooses the plan again from what was measured.",
    )
    defaults = RunSettings()
    p.add_argument(
        "--suite",
        default=defaults.suite,
        metavar="NAME",
        choices=SUITE_CHOICES,
        help=f"a registered suite: %(choices)s (default: {defaults.suite})",
    )
    add_suite_param_argument(p)
    p.add_argument(
        "--strategy",
        default=defaults.strategy,
        choices=RegistryChoices("taskgroup.strategies:STRATEGIES"),
        metavar="NAME",
        help="how candidates are measured or estimated: %(choices)s (default: %(default)s)",
    )
    add_adaptive_budget_arguments(
        p, "--strategy adaptive: networks of the plan it measures for (default: half the tasks, rounded up)"
    )
    p.add_argument(
        "--objective",
        default=defaults.objective,
        choices=OBJECTIVES,
        help="what a plan minimises on validation, per task against its single-task network: its metrics (metric, "
        "the per-task term of the report's Δm%%), its temperature-calibrated loss (calibrated) or its loss "
        f"(relative); or the plain sum of losses (sum). Default: {defaults.objective}",
    )
    p.add_argument("--budget", type=float, default=None, help="budget on --cost (default: the frontier's knee)")
    p.add_argument(
        "--cost", default=defaults.cost, choices=["flops", "latency_ms", "params", "snt"], help="cost column"
    )
    p.add_argument(
        "--model",
        default=None,
        metavar="FAMILY",
        choices=FAMILY_CHOICES,
        help="model family of the candidate and plan networks: %(choices)s (default: cnn for image suites, else mlp)",
    )
    p.add_argument(
        "--arch",
        default=None,
        metavar="FAMILY",
        choices=FAMILY_CHOICES,
        help="model family of the plan's networks, if not --model (e.g. mmoe)",
    )
    p.add_argument(
        "--distill",
        action="store_true",
        help="also distil the trained plan into one all-in-one network (its networks teach it; see distill)",
    )
    p.add_argument("--executor", default=defaults.executor, help=executor_help(defaults.executor))
    p.add_argument("--epochs", type=int, default=defaults.epochs, help="epochs of a full training run")
    p.add_argument(
        "--repeats",
        type=int,
        default=defaults.repeats,
        help="train every network K times (seeds --seed to --seed+K-1): means, errors and intervals over repeats",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=defaults.seed,
        help="base seed of the networks (initial weights, batch order; repeat k uses SEED+k) and of the strategy "
        "(default %(default)s); the data split is the suite's: --suite-param seed=N",
    )
    add_runtime_arguments(
        p, threads_help="torch CPU threads per network (default 1: the executor trains networks side by side)"
    )
    p.add_argument("--out", default="taskgroup-run", help="output folder (default: ./taskgroup-run)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    add_force_argument(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    device = apply_runtime_arguments(args)
    settings = RunSettings(
        suite=args.suite,
        suite_params=parse_suite_params(args.suite_param),
        strategy=args.strategy,
        max_measured=args.max_measured,
        n_networks=args.n_networks,
        objective=args.objective,
        budget=args.budget,
        cost=args.cost,
        model=args.model,
        arch=args.arch,
        distill=args.distill,
        executor=args.executor,
        epochs=args.epochs,
        repeats=args.repeats,
        seed=args.seed,
        device=device,
        threads=args.threads,
    )
    say = (lambda _msg: None) if args.quiet else print
    outcome = run_pipeline(settings, args.out, progress=not args.quiet, say=say, force=args.force)
    print(f"plan: {outcome.out / 'plan.json'}\nmanifest: {outcome.out / 'manifest.json'}\nreport: {outcome.report}")
    return 0
