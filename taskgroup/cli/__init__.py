"""The ``taskgroup`` command: a table of subcommands, each in its own module with ``register(subparsers)``.

Errors that are the user's (a bad argument, a bad table, an infeasible budget) print one line
``taskgroup <command>: error: ...`` and exit with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from taskgroup.errors import TaskgroupError

__all__ = ["main", "COMMAND_MODULES"]

# Each module defines register(subparsers); a subcommand's parser sets `run=function(args) -> int`.
COMMAND_MODULES = ["taskgroup.cli.planning", "taskgroup.cli.measure", "taskgroup.cli.train", "taskgroup.cli.run", "taskgroup.cli.affinity"]


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (plus exit status 2), not the whole usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="taskgroup",
        description="Decide which tasks should share a neural network under an inference budget.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    commands.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except TaskgroupError as exc:
        if args.debug:
            raise
        message = " ".join(str(exc).split())
        print(f"taskgroup {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"taskgroup {args.command}: interrupted; finished results are kept.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
