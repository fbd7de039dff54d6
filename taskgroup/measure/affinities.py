"""Affinity matrices kept in the measurement results database (an ``affinities`` table of the same file).

One row per (suite fingerprint, training configuration, method, seed, every): rerunning the same measurement
finds the stored matrix instead of training again. The measurement module's own tables are not touched.
"""

from __future__ import annotations

import json
import sqlite3
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from pathlib import Path

import pandas as pd

from taskgroup.errors import InvalidArgument, NotFound
from taskgroup.validation import keyword_only_after

__all__ = ["save_affinity", "load_affinity", "list_affinities"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS affinities (
    suite TEXT NOT NULL, suite_name TEXT NOT NULL, config TEXT NOT NULL, method TEXT NOT NULL,
    seed INTEGER NOT NULL, every INTEGER NOT NULL, tasks TEXT NOT NULL, matrix TEXT NOT NULL,
    steps INTEGER NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (suite, config, method, seed, every)
)
"""


@contextmanager
def _connect(path: str | PathLike[str]) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(str(path), timeout=30)
    try:
        with conn:  # one transaction: commit on success, roll back on error
            conn.execute(_SCHEMA)
            yield conn
    finally:
        conn.close()


def save_affinity(
    matrix: pd.DataFrame,
    path: str | PathLike[str],
    *,
    suite: str,
    suite_name: str,
    config: str,
    method: str,
    seed: int,
    every: int,
    steps: int,
) -> None:
    """Store ``matrix`` (``loc[source, target]``) in the SQLite file at ``path``; an existing row with the same key
    is kept as it is.

    Data first, destination second (until version 0.2 the order was ``save_affinity(path, matrix)``; that order
    still works for one version, with a DeprecationWarning).
    """
    if isinstance(path, pd.DataFrame) and not isinstance(matrix, pd.DataFrame):
        warnings.warn(
            "save_affinity takes the matrix first and the path second: save_affinity(matrix, path); "
            "the old order will be refused in the next version.",
            DeprecationWarning,
            stacklevel=2,
        )
        matrix, path = path, matrix
    tasks = list(map(str, matrix.index))
    with _connect(path) as conn:
        conn.execute(
            "INSERT OR IGNORE INTO affinities VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                suite,
                suite_name,
                config,
                method,
                int(seed),
                int(every),
                json.dumps(tasks),
                json.dumps(matrix.to_numpy().tolist()),
                int(steps),
                time.time(),
            ),
        )


def list_affinities(path: str | PathLike[str]) -> pd.DataFrame:
    """The stored matrices' keys: suite, suite_name, config, method, seed, every, steps, created."""
    if not Path(path).is_file():
        raise InvalidArgument(f"No results store at {str(path)!r}.")
    with _connect(path) as conn:
        return pd.read_sql_query(
            "SELECT suite, suite_name, config, method, seed, every, steps, created FROM affinities ORDER BY created",
            conn,
        )


@keyword_only_after(1)
def load_affinity(
    path: str | PathLike[str],
    *,
    method: str = "tag",
    suite: str | None = None,
    config: str | None = None,
    seed: int | None = None,
    every: int | None = None,
    missing: str = "raise",
) -> pd.DataFrame | None:
    """The most recent stored matrix matching the given key parts.

    Parameters
    ----------
    path : path
        The results store (SQLite file).
    method : {"tag", "cs"}
        Which affinity.
    suite : str, optional
        A suite fingerprint or name; default: any.
    config, seed, every : optional
        The training configuration's hash, the seed and the measuring interval; default: any.
    missing : {"raise", "none"}
        What a miss does: raise :class:`~taskgroup.errors.NotFound` (default since version 0.2), or return
        None as before 0.2 (deprecated, with a DeprecationWarning; removed in the next version).

    Returns
    -------
    DataFrame
        ``matrix.loc[source, target]``, ``attrs["higher_is_better"] = True``.

    Raises
    ------
    NotFound
        No stored matrix matches; the message names the key asked for and the matrices the store holds.
    InvalidArgument
        No file at ``path``, or ``missing`` not one of "raise", "none".
    """
    if missing not in ("raise", "none"):
        raise InvalidArgument(f"missing={missing!r} is not accepted; use 'raise' or 'none'.")
    if missing == "none":
        warnings.warn(
            "load_affinity(missing='none') is deprecated: a miss raises taskgroup.errors.NotFound from version "
            "0.2 on; catch it instead.",
            DeprecationWarning,
            stacklevel=2,
        )
    if not Path(path).is_file():
        raise InvalidArgument(f"No results store at {str(path)!r}.")
    query = "SELECT tasks, matrix FROM affinities WHERE method = ?"
    args: list[object] = [method]
    if suite is not None:
        query += " AND (suite = ? OR suite_name = ?)"
        args += [suite, suite]
    for column, value in (("config", config), ("seed", seed), ("every", every)):
        if value is not None:
            query += f" AND {column} = ?"
            args.append(value)
    with _connect(path) as conn:
        row = conn.execute(query + " ORDER BY created DESC LIMIT 1", args).fetchone()
    if row is None:
        if missing == "none":
            return None
        asked = ", ".join(
            f"{name}={value!r}"
            for name, value in (
                ("method", method),
                ("suite", suite),
                ("config", config),
                ("seed", seed),
                ("every", every),
            )
            if value is not None
        )
        raise NotFound(f"No affinity matrix with {asked} in {str(path)!r}; it holds {_describe(path)}.")
    tasks = json.loads(row[0])
    frame = pd.DataFrame(json.loads(row[1]), index=tasks, columns=tasks)
    frame.index.name, frame.columns.name = "source", "target"
    frame.attrs["higher_is_better"] = True
    return frame


def _describe(path: str | PathLike[str]) -> str:
    """The stored matrices' keys, one phrase each, for a message about a miss."""
    stored = list_affinities(path)
    if stored.empty:
        return "no affinity matrices (measure one with 'taskgroup affinity --store')"
    keys = [
        f"{r.method} of suite {r.suite_name!r} (suite={r.suite!r}, config={r.config!r}, seed={r.seed}, every={r.every})"
        for r in stored.itertuples()
    ]
    return f"{len(keys)}: " + "; ".join(keys)
