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

from taskgroup.errors import InvalidArgument
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
) -> pd.DataFrame | None:
    """The most recent stored matrix matching the given key parts (suite may be a fingerprint or a name).

    Returns None when nothing matches.
    """
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
        return None
    tasks = json.loads(row[0])
    frame = pd.DataFrame(json.loads(row[1]), index=tasks, columns=tasks)
    frame.index.name, frame.columns.name = "source", "target"
    frame.attrs["higher_is_better"] = True
    return frame
