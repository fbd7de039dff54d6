"""The ``plan_cost.json`` file: a measured plan-cost table and the machine and settings it was measured with.

Kept apart from the measuring (which needs torch) so that the run report reads it without importing torch.
"""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path

import pandas as pd

from taskgroup.errors import ManifestError
from taskgroup.files import atomic_write, read_text

__all__ = ["PLAN_COST_SCHEMA", "PLAN_COST_VERSION", "PLAN_COST_FILE", "write_plan_cost", "read_plan_cost"]

PLAN_COST_SCHEMA = "taskgroup.plan-cost"
PLAN_COST_VERSION = 1
PLAN_COST_FILE = "plan_cost.json"
_SETTINGS = ("threads", "repeats", "runtime", "machine")


def write_plan_cost(table: pd.DataFrame, path: str | PathLike[str]) -> Path:
    """Write the table as ``taskgroup.plan-cost`` JSON (with the machine and settings it was measured with).

    Parameters
    ----------
    table : pandas.DataFrame
        The measured plan-cost table; its ``attrs`` hold the settings (threads, repeats, runtime, machine)
        written beside the rows (None where absent).
    path : path
        The file to write (atomically).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    data = {
        "schema": PLAN_COST_SCHEMA,
        "version": PLAN_COST_VERSION,
        **{k: table.attrs.get(k) for k in _SETTINGS},
        "rows": json.loads(table.to_json(orient="records")),
    }
    atomic_write(path, lambda p: p.write_text(json.dumps(data, indent=1)))
    return path


def read_plan_cost(path: str | PathLike[str]) -> pd.DataFrame:
    """Read a table written by :func:`write_plan_cost` (settings in ``attrs``).

    Parameters
    ----------
    path : path
        A ``plan_cost.json`` file.

    Returns
    -------
    pandas.DataFrame
        One row per record in the file; ``attrs`` holds the threads, repeats, runtime and machine it was measured
        with.

    Raises
    ------
    InvalidArgument
        ``path`` is missing, not a regular file, unreadable or not UTF-8 text.
    ManifestError
        Not JSON, not a plan-cost file, or another version.
    """
    try:
        data = json.loads(read_text(path, "plan-cost file"))
    except json.JSONDecodeError as exc:
        raise ManifestError(f"Could not parse the plan-cost file {str(path)!r}: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != PLAN_COST_SCHEMA or data.get("version") != PLAN_COST_VERSION:
        raise ManifestError(f"{str(path)!r} is not a {PLAN_COST_SCHEMA!r} version {PLAN_COST_VERSION} file.")
    table = pd.DataFrame(data["rows"])
    table.attrs.update({k: data.get(k) for k in _SETTINGS})
    return table
