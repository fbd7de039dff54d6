"""What the tables the results store is assembled from share: the store's connection, and which tables exist.

:class:`~taskgroup.measure.store.ResultStore` is assembled from one class per table beside its main ones
(affinities, weights, replicates); each reads and writes through the store's ``_connect``. A store written before a
table was added lacks it until it is next written, so readers ask :func:`table_names` first.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path

__all__ = ["StoreTable", "table_names"]


class StoreTable:
    """Base of the per-table classes of :class:`~taskgroup.measure.store.ResultStore` (which supplies ``path`` and
    ``_connect``)."""

    path: Path

    def _connect(self, write: bool = False) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # ResultStore's


def table_names(db: sqlite3.Connection) -> set[str]:
    """The names of the tables in the store ``db`` is connected to.

    Parameters
    ----------
    db : sqlite3.Connection

    Returns
    -------
    set of str
    """
    return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
