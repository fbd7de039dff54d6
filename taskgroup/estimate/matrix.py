"""Affinity and pair matrices: reading, validating and orienting them.

Convention, used everywhere in taskgroup: ``matrix.loc[source, target]``. For a TAG lookahead affinity the
entry is ``Z[source -> target]``, how much a step on the source task's loss lowers the target task's loss;
for a pair matrix it is the target task's value in the network trained on {target, source} (the diagonal is
the target trained alone). Rows are sources, columns are targets.

The TAG notebooks store ``dict[target][source]``; read such data with ``orient="target"``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from taskgroup.errors import InvalidArgument

__all__ = ["AffinityLike", "as_affinity", "ORIENTS"]

ORIENTS = ("source", "target")

AffinityLike: TypeAlias = pd.DataFrame | Mapping[str, Mapping[str, float]] | str | PathLike[str]


def as_affinity(
    matrix: AffinityLike,
    *,
    orient: str = "source",
    tasks: Sequence[str] | None = None,
    name: str = "affinity matrix",
) -> pd.DataFrame:
    """A validated square matrix, indexed ``[source, target]`` with the same task order on both axes.

    Parameters
    ----------
    matrix : DataFrame, dict of dicts, or path to a ``.csv`` / ``.json`` file
        A DataFrame is read as ``frame.loc[row, column]``; a dict of dicts as ``d[outer][inner]``. A CSV file
        has the task names in its first column and its header. A JSON file holds a dict of dicts, or
        ``{"tasks": [...], "matrix": [[...], ...]}`` (rows outer).
    orient : {"source", "target"}
        What the rows (outer keys) are: ``"source"`` (the taskgroup convention) or ``"target"`` (the TAG
        notebooks' ``dict[target][source]``), which is transposed.
    tasks : sequence of str, optional
        The task order of the result; every task must be in the matrix and vice versa. Default: the row order.
    name : str
        What to call the matrix in error messages.

    Returns
    -------
    pandas.DataFrame
        Float matrix, index = sources, columns = targets, both in the same order.

    Raises
    ------
    InvalidArgument
        For an unknown ``orient``, a file that does not exist or cannot be read, a non-square matrix, row and
        column names that differ, repeated names, a missing or non-numeric entry (NaN), an infinite entry, or
        ``tasks`` that do not match the matrix's task names.

    Examples
    --------
    >>> m = as_affinity({"a": {"a": 0.0, "b": 0.3}, "b": {"a": 0.1, "b": 0.0}})
    >>> float(m.loc["a", "b"])  # source a -> target b
    0.3
    """
    if orient not in ORIENTS:
        raise InvalidArgument(f"orient={orient!r} is not accepted; use one of {list(ORIENTS)}.")
    frame = _to_frame(matrix, name)
    if orient == "target":
        frame = frame.T
    frame.index = [str(i) for i in frame.index]
    frame.columns = [str(c) for c in frame.columns]
    rows, cols = list(frame.index), list(frame.columns)
    for axis, labels in (("row", rows), ("column", cols)):
        seen: set[str] = set()
        for label in labels:
            if label in seen:
                raise InvalidArgument(f"The {name} repeats the {axis} name {label!r}; task names must be unique.")
            seen.add(label)
    if len(rows) != len(cols):
        raise InvalidArgument(
            f"The {name} must be square (one row and one column per task); got {len(rows)} rows x {len(cols)} columns."
        )
    if set(rows) != set(cols):
        only_rows = [r for r in rows if r not in set(cols)]
        only_cols = [c for c in cols if c not in set(rows)]
        raise InvalidArgument(
            f"The {name}'s row and column task names differ: rows only {only_rows}, columns only {only_cols}."
        )
    if len(rows) < 1:
        raise InvalidArgument(f"The {name} is empty; it needs at least one task.")
    order = rows if tasks is None else [str(t) for t in tasks]
    if tasks is not None:
        missing = [t for t in order if t not in set(rows)]
        extra = [t for t in rows if t not in set(order)]
        if missing or extra or len(order) != len(set(order)):
            raise InvalidArgument(
                f"The task names do not match the {name}: tasks not in the matrix {missing}, "
                f"matrix tasks not listed {extra}."
            )
    try:
        values = frame.loc[order, order].to_numpy(dtype=float)
    except (TypeError, ValueError):
        bad = _first_non_numeric(frame.loc[order, order])
        raise InvalidArgument(f"The {name} has a non-numeric entry {bad}; entries must be numbers.") from None
    bad_mask = ~np.isfinite(values)
    if bad_mask.any():
        i, j = np.argwhere(bad_mask)[0]
        raise InvalidArgument(
            f"The {name} has entry {float(values[i, j])!r} at [source {order[i]!r}, target {order[j]!r}]; "
            "every entry must be a finite number (give the diagonal too)."
        )
    return pd.DataFrame(values, index=list(order), columns=list(order))


def _to_frame(matrix: Any, name: str) -> pd.DataFrame:
    if isinstance(matrix, pd.DataFrame):
        return matrix.copy()
    if isinstance(matrix, Mapping):
        return _from_mapping(matrix, name)
    if isinstance(matrix, (str, PathLike)):
        path = Path(matrix)
        if not path.exists():
            raise InvalidArgument(f"No such {name} file: {str(matrix)!r} (give a .csv or .json file).")
        suffix = path.suffix.lower()
        if suffix == ".csv":
            try:
                return pd.read_csv(path, index_col=0)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
                raise InvalidArgument(f"Could not read {str(matrix)!r} as a CSV matrix: {exc}") from None
        if suffix == ".json":
            try:
                data = json.loads(path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise InvalidArgument(f"Could not parse {str(matrix)!r} as JSON: {exc}") from None
            if not isinstance(data, Mapping):
                raise InvalidArgument(f"{str(matrix)!r} must hold a JSON object; got {type(data).__name__}.")
            return _from_mapping(data, name)
        raise InvalidArgument(f"Cannot read the {name} {str(matrix)!r}: expected a .csv or .json file.")
    raise InvalidArgument(
        f"The {name} must be a pandas DataFrame, a dict of dicts, or a path to a .csv/.json file; "
        f"got {type(matrix).__name__}."
    )


def _from_mapping(data: Mapping[str, Any], name: str) -> pd.DataFrame:
    if "matrix" in data and "tasks" in data:
        tasks = [str(t) for t in data["tasks"]]
        values = np.array(data["matrix"], dtype=object)
        if values.ndim != 2 or values.shape != (len(tasks), len(tasks)):
            raise InvalidArgument(
                f"The {name}'s 'matrix' must be {len(tasks)} x {len(tasks)} (one row per task in 'tasks'); "
                f"got shape {values.shape}."
            )
        return pd.DataFrame(values, index=tasks, columns=tasks)
    for key, row in data.items():
        if not isinstance(row, Mapping):
            raise InvalidArgument(
                f"The {name} dict must map each task to a dict of task -> value; entry {key!r} is {type(row).__name__}."
            )
    # pandas makes outer keys the columns; transpose so outer keys are the rows.
    return pd.DataFrame({k: dict(v) for k, v in data.items()}).T


def _first_non_numeric(frame: pd.DataFrame) -> str:
    for r in frame.index:
        for c in frame.columns:
            value = frame.loc[r, c]
            try:
                float(value)
            except (TypeError, ValueError):
                return f"{value!r} at [source {r!r}, target {c!r}]"
    return "(unknown)"
