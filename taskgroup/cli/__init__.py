"""The ``taskgroup`` command: a table of subcommands, each in its own module with ``register(subparsers)``.

Errors that are the user's (a bad argument, a bad table, an infeasible budget, a path that is a folder) print
one line ``taskgroup <command>: error: ...`` and exit with status 2; ``--debug`` shows the traceback instead.
An unexpected exception is reported the same way, marked as a bug. A closed stdout (``| head``) ends the
command quietly with status 141, after every file it writes is written.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence

from taskgroup.errors import TaskgroupError
from taskgroup.files import describe_os_error

__all__ = ["main", "COMMAND_MODULES"]

# Each module defines register(subparsers); a subcommand's parser sets `run=function(args) -> int`.
COMMAND_MODULES = [
    "taskgroup.cli.planning",
    "taskgroup.cli.measure",
    "taskgroup.cli.train",
    "taskgroup.cli.run",
    "taskgroup.cli.distill",
    "taskgroup.cli.affinity",
    "taskgroup.cli.export",
    "taskgroup.cli.predict",
    "taskgroup.cli.plan_cost",
]


# Commands that commit each finished unit (a measured network, a trained one) as they go, and resume on a rerun;
# the others write their files only at the end, so an interrupt leaves nothing of theirs.
RESUMABLE = frozenset({"measure", "run", "train"})


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


STARTUP_INTERRUPTED = "taskgroup: interrupted while starting; nothing was done."


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``taskgroup`` command on ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    try:
        # imports every command's module, and checking a choice imports its registry (--suite: torch): a few
        # seconds in which Ctrl-C may come
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:
        print(STARTUP_INTERRUPTED, file=sys.stderr)
        return 130
    try:
        return int(args.run(args) or 0)
    except BrokenPipeError:
        # The reader of our stdout went away (`taskgroup solve ... | head`): files are already written, so stop
        # quietly, with the status a process killed by SIGPIPE has. Point stdout at /dev/null so that the
        # interpreter's final flush does not raise again.
        _silence_stdout()
        return 128 + signal.SIGPIPE
    except KeyboardInterrupt:
        kept = (
            "finished results are kept; rerun the same command to resume"
            if args.command in RESUMABLE
            else "it stopped before it finished; run it again"
        )
        print(f"taskgroup {args.command}: interrupted; {kept}.", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"taskgroup {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2


def _one_line(exc: Exception) -> str:
    """The message a user sees for ``exc``: our own errors as they are, OS errors as path + reason.

    Anything else is a bug in taskgroup: it still gets one line (no traceback in the user's terminal) that
    says so and how to see the traceback.
    """
    if isinstance(exc, TaskgroupError):
        message = str(exc)
    elif isinstance(exc, OSError):
        message = describe_os_error(exc)
    else:
        message = (
            f"internal error {type(exc).__name__}: {exc} -- this is a bug in taskgroup; "
            "rerun with --debug for the traceback and report it."
        )
    return " ".join(message.split())


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
