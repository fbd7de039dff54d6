"""``taskgroup export``: a manifest's networks as ONNX files, verified against PyTorch, with their own manifest."""

from __future__ import annotations

import argparse

__all__ = ["register", "run_export"]

FORMATS = ["onnx"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``taskgroup export`` to the command's subparsers."""
    p = commands.add_parser(
        "export",
        help="export a trained plan's networks to ONNX (verified against PyTorch) with a manifest",
        description=(
            "Write one ONNX file per network of a manifest (dynamic batch axis, one named output per task) and a "
            "manifest.json listing each file with its sha256. Every file is run on onnxruntime over real "
            "validation rows and must match PyTorch within the stated tolerance. Needs the deploy extra: "
            "pip install 'taskgroup[deploy]'."
        ),
    )
    p.add_argument("--manifest", required=True, metavar="MANIFEST", help="manifest.json written by 'taskgroup train'")
    p.add_argument("--format", default="onnx", choices=FORMATS, help="export format (default: onnx)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the ONNX files and their manifest.json")
    p.add_argument(
        "--input",
        metavar="FILE",
        help="raw validation rows (.csv or .npy) to verify on (default: the built-in suite's validation "
        "split; needed for suites of your own)",
    )
    p.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Export every network of a manifest to ONNX, verified against PyTorch; print one line per file."""
    from taskgroup.manifest import read_manifest
    from taskgroup.serve.onnx_export import EXPORT_TOLERANCE, export_onnx
    from taskgroup.serve.raw_inputs import read_raw_inputs

    inputs = read_raw_inputs(args.input, read_manifest(args.manifest)) if args.input else None
    path = export_onnx(args.manifest, args.out, inputs=inputs)
    manifest = read_manifest(path)
    rows = manifest["export"]["verified_rows"]
    for entry in manifest["networks"]:
        print(
            f"{entry['name']}: {entry['onnx']} "
            f"(max |onnxruntime - PyTorch| = {entry['max_abs_diff']:.2g} on {rows} rows)"
        )
    print(f"verified within rtol={EXPORT_TOLERANCE['rtol']}, atol={EXPORT_TOLERANCE['atol']}; manifest: {path}")
    return 0
