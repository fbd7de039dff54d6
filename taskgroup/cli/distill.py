"""``taskgroup distill``: distil a trained plan's networks into fewer networks (a student), beside a vanilla twin."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from taskgroup.cli.options import add_force_argument, add_runtime_arguments, apply_runtime_arguments

ALL_IN_ONE = "all-in-one"  # taskgroup.train.compress.ALL_IN_ONE, which this module does not import (torch)

__all__ = ["register", "run_distill", "format_distill"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``taskgroup distill`` to the command's subparsers."""
    p = commands.add_parser(
        "distill",
        help="distil a trained plan (the teachers) into one network or another plan, beside a vanilla twin",
        description=(
            "Read the teachers from the manifest of a trained plan (checkpoints verified by sha256), train the "
            "student networks on hard labels and the teachers' soft targets on every training row (labelled or "
            "not), and the same networks with the same seeds and batches on hard labels only (vanilla). Writes "
            "DIR/manifest.json (servable by predict and export) and DIR/results.json (test metrics, Δm%% of "
            "teachers, student and vanilla, kept_fraction). Rerun the same command to resume."
        ),
    )
    p.add_argument(
        "--manifest",
        required=True,
        action="append",
        metavar="MANIFEST",
        help="manifest.json of a trained plan (taskgroup train / run); repeat it with the same plan trained with "
        "other seeds to make each teacher an ensemble",
    )
    p.add_argument(
        "--student",
        default=ALL_IN_ONE,
        metavar=f"{ALL_IN_ONE}|PLAN.json",
        help=f"the student: {ALL_IN_ONE} (one network for every task; default) or a plan JSON file",
    )
    # defaults None: resolved by taskgroup.train.compress.default_fit (not imported here: it loads torch)
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (student and vanilla checkpoints)")
    p.add_argument("--temperature", type=float, default=None, help="T (default: the setting that paid, docs/train.md)")
    p.add_argument(
        "--soft-weight", type=float, default=None, help="w, the soft term's weight (default: as --temperature)"
    )
    p.add_argument("--teacher-tasks", help="comma-separated tasks with soft targets (default: every teacher task)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: as taskgroup run, 30)")
    p.add_argument("--batch-size", type=int, default=None, help="mini-batch size (default: the suite's)")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 1e-3)")
    p.add_argument("--patience", type=int, default=None, help="early-stopping patience (default 10)")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the students, their vanilla twins and baselines trained here (default 0)",
    )
    add_runtime_arguments(p)
    add_force_argument(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(run=run_distill)


def run_distill(args: argparse.Namespace) -> int:
    """Carry out ``taskgroup distill`` with parsed arguments; print the comparison; return the exit status."""
    device = apply_runtime_arguments(args)

    from taskgroup.manifest import read_manifest
    from taskgroup.plan import Plan
    from taskgroup.run_settings import RunSettings
    from taskgroup.train.compress import DistillConfig, default_fit, distill, manifest_suite

    first = read_manifest(args.manifest[0])
    suite = manifest_suite(first, args.manifest[0])
    changes: dict[str, Any] = {
        "device": device,
        "epochs": args.epochs if args.epochs is not None else RunSettings().epochs,
    }
    for key in ("temperature", "soft_weight", "batch_size", "lr", "patience"):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    teacher_tasks = None
    if args.teacher_tasks:
        teacher_tasks = tuple(t.strip() for t in args.teacher_tasks.split(",") if t.strip())
    config = DistillConfig(default_fit(suite, first, **changes), teacher_tasks, args.seed)
    student = args.student if args.student == ALL_IN_ONE else Plan.from_json(args.student)
    say = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    report = distill(args.manifest, student, args.out, config, suite=suite, say=say, force=args.force)
    print(format_distill(report))
    return 0


def format_distill(report: Any) -> str:
    """Per task and metric: single-task, teachers, vanilla, student; then Δm% of each and the kept fraction."""
    groups = [("single", report.baselines), ("teachers", report.teachers), ("vanilla", report.vanilla)]
    groups.append(("student", report.student))
    lines = ["task      metric    " + "".join(f"{g:>11}" for g, _ in groups)]
    for task, metrics in report.student.items():
        for metric in metrics:
            cells = "".join(f"{v[task][metric]:>11.4f}" if task in v else f"{'-':>11}" for _, v in groups)
            lines.append(f"{task:<9} {metric:<9} {cells}")
    dm = report.delta_m
    lines.append(
        f"Δm% over the teacher tasks: teachers {dm['teachers']:+.2f}, vanilla {dm['vanilla']:+.2f}, "
        f"student {dm['student']:+.2f}"
    )
    kept = (
        "undefined (the teachers are no better than vanilla)"
        if report.kept_fraction is None
        else (f"{report.kept_fraction:.2f}")
    )
    lines.append(f"kept fraction: {kept}")
    lines.append(f"manifest: {report.manifest}")
    return "\n".join(lines)
