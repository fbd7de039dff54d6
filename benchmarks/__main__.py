"""Run every benchmark and regenerate its table in benchmarks/results/.

    python -m benchmarks [--quick] [--results DIR] [--only solvers,measure,...]

Without ``--only`` it runs ``BENCHMARKS``. The ``STUDIES`` (selection objectives, training variants, distillation
into the plan) answer one question each with hours of training over many suite seeds, cached under /work/cache
and resumed when stopped; their full runs are started on their own (``--only selection`` or ``python -m
benchmarks.selection``). ``--quick`` is a smoke run (small sizes, few epochs, studies included, nothing cached)
that CI runs so that no script rots; write its tables elsewhere with ``--results`` so the committed results stay
those of full runs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCHMARKS = (
    "solvers",
    "estimates",
    "measure",
    "train",
    "objective",
    "grouping",
    "serving",
    "strategies",
    "repeats",
    "evaluation_errors",
    "run_time",
)
STUDIES = ("selection", "training_variants", "plan_distill")
ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small sizes, few epochs")
    parser.add_argument("--results", type=Path, default=None, help="folder for the tables (default benchmarks/results)")
    parser.add_argument(
        "--only",
        default=None,
        help=f"comma-separated, of {list(BENCHMARKS + STUDIES)} (default: BENCHMARKS; with --quick, all of them)",
    )
    args = parser.parse_args(argv)
    if args.only is None:
        chosen = list(BENCHMARKS + STUDIES if args.quick else BENCHMARKS)
    else:
        chosen = [b for b in args.only.split(",") if b]
    unknown = [b for b in chosen if b not in BENCHMARKS + STUDIES]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; accepted: {list(BENCHMARKS + STUDIES)}")
    failed = []
    for name in chosen:
        command = [sys.executable, "-m", f"benchmarks.{name}"]
        if args.quick:
            command.append("--quick")
        if args.results is not None:
            command += ["--results", str(args.results)]
        start = time.perf_counter()
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        result = subprocess.run(command, cwd=ROOT)
        print(
            f"== {name}: {'ok' if result.returncode == 0 else 'FAILED'} in {time.perf_counter() - start:.0f} s",
            flush=True,
        )
        if result.returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
