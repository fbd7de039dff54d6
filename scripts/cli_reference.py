"""Regenerate docs/cli.md from the argparse definitions, so the reference never drifts from the code.

python scripts/cli_reference.py
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from taskgroup.cli import build_parser

INTRO = """# Command line reference

`taskgroup` (or `python -m taskgroup`). Every subcommand prints readable tables; a bad argument or a bad input
prints one line `taskgroup <command>: error: ...` and exits with status 2 (`--debug` shows the traceback
instead). Long work (measure, train, run) shows progress bars, commits finished work as it goes and resumes
when the same command is run again.

This page is generated from the code by `python scripts/cli_reference.py`.
"""


PATH = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def render() -> str:
    """The reference page, with help text wrapped at 110 columns whatever the terminal."""
    os.environ["COLUMNS"] = "110"
    parser = build_parser()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parts = [INTRO, "```", parser.format_help().replace("python -m taskgroup", "taskgroup").strip(), "```", ""]
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        sub.prog = f"taskgroup {name}"
        parts += [f"## `taskgroup {name}`", "", "```", sub.format_help().strip(), "```", ""]
    return "\n".join(parts)


def main() -> None:
    PATH.write_text(render())
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main()
