"""``taskgroup train``: train the networks of a plan on a suite, evaluate them and write a deployment manifest."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from taskgroup.cli.options import (
    FAMILY_CHOICES,
    SUITE_CHOICES,
    WEIGHTING_CHOICES,
    add_force_argument,
    add_runtime_arguments,
    add_suite_param_argument,
    apply_runtime_arguments,
    executor_help,
    parse_suite_params,
)
from taskgroup.errors import InvalidArgument

__all__ = ["register", "run_train"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``taskgroup train`` to the command's subparsers."""
    p = commands.add_parser(
        "train",
        help="train a plan's networks (shared / mmoe, optional distillation) and write a deployment manifest",
        description=(
            "Train every network of a plan on a suite (single-task baselines too), evaluate on the test split, "
            "and write checkpoints and manifest.json to --out. Rerun the same command to resume an interrupted run."
        ),
    )
    p.add_argument("--plan", required=True, metavar="PLAN", help="a plan JSON file (from 'taskgroup solve --json')")
    p.add_argument(
        "--suite", required=True, metavar="NAME", choices=SUITE_CHOICES, help="a registered suite: %(choices)s"
    )
    add_suite_param_argument(p)
    p.add_argument(
        "--arch",
        default=None,
        metavar="FAMILY",
        choices=FAMILY_CHOICES,
        help="model family: %(choices)s (default: as taskgroup run, cnn for image suites, else mlp)",
    )
    p.add_argument("--hidden", help="comma-separated trunk widths for mlp (channels for cnn; default 64,64, cnn 8,16)")
    p.add_argument("--experts", type=int, help="number of MMoE experts (default 4)")
    p.add_argument("--expert-hidden", help="comma-separated layer widths of each MMoE expert (default 32)")
    p.add_argument("--tower-hidden", help="comma-separated hidden widths of each MMoE tower (default 16)")
    p.add_argument(
        "--distill", action="store_true", help="also train teacher ensembles and distilled students (MT-DNN-KD)"
    )
    p.add_argument("--teachers", type=int, default=3, help="ensemble size per teacher task (default 3)")
    p.add_argument("--teacher-tasks", help="comma-separated tasks that get a teacher (default: every served task)")
    # defaults None: taskgroup.train.compress's, the setting that paid (not imported here: it loads torch)
    p.add_argument(
        "--soft-weight", type=float, default=None, help="weight w of the soft-target loss (default: as distill)"
    )
    p.add_argument("--temperature", type=float, default=None, help="distillation temperature T (default: as distill)")
    p.add_argument(
        "--weighting",
        default="equal",
        metavar="NAME",
        choices=WEIGHTING_CHOICES,
        help="loss weighting: %(choices)s (default: equal)",
    )
    p.add_argument(
        "--batching",
        default="auto",
        choices=["auto", "joint", "per_task"],
        help="joint batches, MT-DNN per-task batches, or auto (by label overlap; default)",
    )
    p.add_argument(
        "--sampling",
        default="proportional",
        choices=["proportional", "uniform"],
        help="task sampling for per-task batches (default: proportional to task size)",
    )
    p.add_argument("--epochs", type=int, default=50, help="epochs (default 50; the best validation epoch is kept)")
    p.add_argument("--batch-size", type=int, default=None, help="mini-batch size (default 128, cnn 32)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument(
        "--patience", type=int, default=10, help="stop after this many epochs without improvement (default 10)"
    )
    p.add_argument("--no-baselines", action="store_true", help="skip single-task baselines (no Δm%%)")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="base seed of the networks (initial weights, batch order; repeat k uses SEED+k; default 0)",
    )
    p.add_argument(
        "--executor",
        default="serial",
        help=executor_help("serial"),
    )
    add_runtime_arguments(p)
    p.add_argument("--out", required=True, metavar="DIR", help="run folder (checkpoints, manifest.json, results.json)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    add_force_argument(p)
    p.set_defaults(run=run_train)


def _widths(text: str | None, what: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        widths = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise InvalidArgument(f"{what} must be comma-separated integers like 64,64; got {text!r}.") from None
    if not widths or min(widths) < 1:
        raise InvalidArgument(f"{what} must be positive integers like 64,64; got {text!r}.")
    return widths


def run_train(args: argparse.Namespace) -> int:
    """Carry out ``taskgroup train`` with parsed arguments; return the exit status."""
    device = apply_runtime_arguments(args)

    from taskgroup.datasets.suites import load_suite
    from taskgroup.engine.defaults import default_model, default_train_config
    from taskgroup.plan import Plan
    from taskgroup.train.compress import DEFAULT_SOFT_WEIGHT, DEFAULT_TEMPERATURE
    from taskgroup.train.distill import TeacherConfig
    from taskgroup.train.run import RunConfig, train_plan

    plan = Plan.from_json(args.plan)
    suite = load_suite(args.suite, **parse_suite_params(args.suite_param))
    args.arch = args.arch or default_model(suite)
    options: dict[str, Any] = {}
    if args.hidden and args.arch not in ("mlp", "cnn"):
        raise InvalidArgument(f"--hidden applies to --arch mlp or cnn, not {args.arch!r}.")
    if args.arch in ("mmoe", "omoe"):
        if args.experts is not None:
            options["n_experts"] = args.experts
        for flag, key in (("expert_hidden", "expert_hidden"), ("tower_hidden", "tower_hidden")):
            if getattr(args, flag):
                options[key] = _widths(getattr(args, flag), "--" + flag.replace("_", "-"))
    elif args.experts is not None or args.expert_hidden or args.tower_hidden:
        raise InvalidArgument(
            f"--experts, --expert-hidden and --tower-hidden apply to --arch mmoe or omoe, not {args.arch!r}."
        )
    teacher_tasks = None
    if args.teacher_tasks:
        teacher_tasks = tuple(t.strip() for t in args.teacher_tasks.split(",") if t.strip())
    config = RunConfig(
        fit=default_train_config(
            suite,
            args.arch,
            # only what was given: the family's own defaults (cnn's image settings) stay otherwise
            **({"options": options} if options else {}),
            **({"hidden": _widths(args.hidden, "--hidden")} if args.hidden else {}),
            **({"batch_size": args.batch_size} if args.batch_size is not None else {}),
            device=device,
            epochs=args.epochs,
            lr=args.lr,
            batching=args.batching,
            sampling=args.sampling,
            weighting=args.weighting,
            patience=args.patience,
            soft_weight=DEFAULT_SOFT_WEIGHT if args.soft_weight is None else args.soft_weight,
            temperature=DEFAULT_TEMPERATURE if args.temperature is None else args.temperature,
        ),
        distill=args.distill,
        teacher=TeacherConfig(n_teachers=args.teachers),
        teacher_tasks=teacher_tasks,
        baselines=not args.no_baselines,
        seed=args.seed,
        executor=args.executor,
    )
    say = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    report = train_plan(plan, suite, args.out, config, say=say, force=args.force)
    print(format_report(report))
    return 0


def format_report(report: Any) -> str:
    """A readable table: per task and metric, the value of each trained group; then Δm% per group."""
    groups = [
        ("baseline", report.baselines),
        ("multitask", report.multitask),
        ("teachers", report.teachers),
        ("student", report.student),
    ]
    groups = [(g, v) for g, v in groups if v]
    tasks = list(report.multitask)
    lines = ["task      metric    " + "".join(f"{g:>11}" for g, _ in groups)]
    for task in tasks:
        for metric in report.multitask[task]:
            cells = "".join(f"{v[task][metric]:>11.4f}" if task in v else f"{'-':>11}" for _, v in groups)
            lines.append(f"{task:<9} {metric:<9} {cells}")
    for group, value in report.delta_m.items():
        lines.append(f"Δm% {group}: {value:+.2f}")
    lines.append(f"manifest: {report.manifest}")
    return "\n".join(lines)
