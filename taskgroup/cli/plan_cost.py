"""``taskgroup plan-cost``: latency, throughput and peak memory of a trained plan on this machine."""

from __future__ import annotations

import argparse
from pathlib import Path

from taskgroup.cli.options import add_factory_argument, factory_argument
from taskgroup.errors import InvalidArgument

__all__ = ["register", "run_plan_cost", "parse_batches", "format_plan_cost"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``taskgroup plan-cost`` to the command's subparsers."""
    p = commands.add_parser(
        "plan-cost",
        help="measure a trained plan's latency, throughput and peak memory per network on this machine",
        description=(
            "Time every network of a manifest, and the whole plan (each network once per batch), at each batch "
            "size: median and p95 latency, throughput, peak memory, beside the costs the plan was chosen with. "
            "Writes plan_cost.json beside the manifest (or --json), which the run report shows."
        ),
    )
    p.add_argument(
        "--manifest", required=True, metavar="MANIFEST", help="manifest.json from 'taskgroup train' or 'export'"
    )
    p.add_argument("--batch", default="1,32,256", help="comma-separated batch sizes (default 1,32,256)")
    p.add_argument("--repeats", type=int, default=30, help="timed forward passes per network and batch (default 30)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads (default: the cores available to this process, or OMP_NUM_THREADS)",
    )
    p.add_argument(
        "--json", metavar="FILE", help="where to write the table (default: plan_cost.json beside the manifest)"
    )
    add_factory_argument(p)
    p.set_defaults(run=run_plan_cost)


def parse_batches(text: str) -> list[int]:
    """``"1,32,256"`` -> [1, 32, 256]; InvalidArgument naming the text otherwise."""
    try:
        sizes = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise InvalidArgument(f"--batch must be comma-separated positive integers like 1,32,256; got {text!r}.")
    return sizes


def format_plan_cost(table) -> str:
    """The measured columns and the chosen-with costs as a fixed-width text table."""
    shown = table.rename(
        columns={
            "latency_ms_median": "median_ms",
            "latency_ms_p95": "p95_ms",
            "throughput_rows_s": "rows/s",
            "peak_memory_bytes": "peak_bytes",
        }
    )
    return shown.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep="-")


def run_plan_cost(args: argparse.Namespace) -> int:
    """Measure the plan's latency, throughput and memory on this machine and print the table."""
    from taskgroup.files import output_file
    from taskgroup.outputs import LISTING, output_path
    from taskgroup.serve.plan_cost import measure_plan_cost
    from taskgroup.serve.plan_cost_file import PLAN_COST_FILE, write_plan_cost

    sizes = parse_batches(args.batch)
    if args.json and not str(args.json).lower().endswith(".json"):
        raise InvalidArgument(f"--json {args.json!r} must be a .json file name; plan-cost writes a JSON table.")
    if args.json:
        path = output_file(args.json, inputs=[args.manifest], option="--json")
    elif (Path(args.manifest).parent / LISTING).is_file():
        # beside a manifest in a folder taskgroup owns: recorded there, so that a resumed run accepts it
        path = output_path(Path(args.manifest).parent, PLAN_COST_FILE)
    else:
        path = output_file(Path(args.manifest).parent / PLAN_COST_FILE, inputs=[args.manifest], option="--json")
    table = measure_plan_cost(
        args.manifest, sizes, repeats=args.repeats, threads=args.threads, model=factory_argument(args)
    )
    path = write_plan_cost(table, path)
    print(format_plan_cost(table))
    print(
        f"{table.attrs['runtime']}, {table.attrs['threads']} thread(s), {table.attrs['repeats']} repeats; "
        f"written to {path}"
    )
    return 0
