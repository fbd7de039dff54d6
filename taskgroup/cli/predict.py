"""``taskgroup predict``: per-task predictions for raw inputs, from a manifest's checkpoints or ONNX files."""

from __future__ import annotations

import argparse
import sys

from taskgroup.cli.options import add_factory_argument, factory_argument
from taskgroup.errors import InvalidArgument

__all__ = ["register", "run_predict"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``taskgroup predict`` to the command's subparsers."""
    p = commands.add_parser(
        "predict",
        help="predict every served task for raw inputs (.csv or .npy) with a trained plan",
        description=(
            "Apply the manifest's preprocessing to raw inputs, run each network of the plan once per batch "
            "(PyTorch checkpoints, or ONNX files from 'taskgroup export') and write one column per task: class "
            "labels as in the training data, regression values in the target's units. A CSV must have exactly "
            "the manifest's feature columns; a .npy array the shape (n, *input_shape)."
        ),
    )
    p.add_argument(
        "--manifest", required=True, metavar="MANIFEST", help="manifest.json from 'taskgroup train' or 'export'"
    )
    p.add_argument("--input", required=True, metavar="FILE", help="raw inputs: a CSV table or a .npy array")
    p.add_argument("--out", required=True, metavar="CSV", help="where to write the predictions (CSV)")
    p.add_argument("--probabilities", action="store_true", help="add a p(task=label) column per class")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for torch and onnxruntime (default: the cores available to this process, or OMP_NUM_THREADS)",
    )
    add_factory_argument(p)
    p.set_defaults(run=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    """Predict every task for raw input rows and write one column per task."""
    from taskgroup.engine.runtime import configure_threads
    from taskgroup.files import atomic_write, output_file
    from taskgroup.serve.predictions import predict

    if not str(args.out).lower().endswith(".csv"):
        # predictions are a CSV table; any other name (a store, a manifest) would be replaced by one
        raise InvalidArgument(f"--out {args.out!r} must be a .csv file name; predict writes a CSV table.")
    out = output_file(args.out, inputs=[args.manifest, args.input])
    # the default resolved once, so onnxruntime gets the same number as torch
    threads = configure_threads(args.threads)
    table = predict(
        args.manifest, args.input, probabilities=args.probabilities, threads=threads, model=factory_argument(args)
    )
    atomic_write(out, lambda p: table.to_csv(p, index=False))
    print(
        f"{len(table)} rows, tasks {[c for c in table.columns if not c.startswith('p(')]} -> {args.out}",
        file=sys.stderr,
    )
    return 0
