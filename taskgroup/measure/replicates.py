"""The ``replicates`` table of the results store: each measured metric on bootstrap resamples of its split's rows.

A metric such as the ROC AUC is not a mean over rows, so its bootstrap error cannot be rebuilt from a stored
number: each result keeps the metric on every resample (:data:`~taskgroup.uncertainty.BOOTSTRAP_SAMPLES` of them,
as float32), and the resamples depend only on the task and its rows, not on the network or the seed
(:func:`taskgroup.engine.score`). The metric objective then compares a network with the single-task network on
the same resamples, a paired bootstrap (:func:`taskgroup.objectives.metric_values`). 0.8 kB per (network,
seed, task, split, metric): 7.6 kB per network and seed for the default ``mnist`` run (two metrics per task, val
and test, 2.4 tasks per candidate network on average; ``benchmarks/results/evaluation_errors.md``).

Rows are written with the network's result, in the same transaction
(:meth:`~taskgroup.measure.store.ResultStore.add_results`). The table is created with the store's other tables
(its schema is here, :data:`REPLICATES_SCHEMA`): a store written before it reads as one without replicates (the
metric objective's evaluation error is then unknown, NaN) and gains the table when it is next written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import numpy as np
import pandas as pd

from taskgroup.errors import InvalidArgument
from taskgroup.measure.records import NetworkResult
from taskgroup.measure.tables import StoreTable, table_names

__all__ = ["ReplicatesTable", "REPLICATES_SCHEMA"]

REPLICATES_SCHEMA = """
CREATE TABLE IF NOT EXISTS replicates (
    suite TEXT NOT NULL, config TEXT NOT NULL, network TEXT NOT NULL, seed INTEGER NOT NULL, task TEXT NOT NULL,
    name TEXT NOT NULL, samples BLOB NOT NULL,
    PRIMARY KEY (suite, config, network, seed, task, name));
"""

# float32, little-endian: a metric's replicates need no more than its 7 digits (their spread is what is read)
_DTYPE = np.dtype("<f4")


class ReplicatesTable(StoreTable):
    """The replicate methods of :class:`~taskgroup.measure.store.ResultStore`."""

    @staticmethod
    def _add_replicates(db: sqlite3.Connection, suite: str, config: str, results: Iterable[NetworkResult]) -> None:
        """Insert the replicates ``results`` carry, in the caller's transaction (existing rows are kept)."""
        rows = [
            (suite, config, r.network, int(r.seed), task, name, sqlite3.Binary(np.asarray(values, _DTYPE).tobytes()))
            for r in results
            if r.status == "ok"
            for task, named in r.replicates.items()
            for name, values in named.items()
        ]
        db.executemany("INSERT OR IGNORE INTO replicates VALUES (?,?,?,?,?,?,?)", rows)

    def replicates(self, suite: str, config: str, split: str = "val") -> pd.DataFrame:
        """Every metric's bootstrap replicates of one run on ``split``.

        Parameters
        ----------
        suite : str
            The suite's fingerprint.
        config : str
            The training configuration's hash.
        split : {"val", "test"}

        Returns
        -------
        pandas.DataFrame
            ``network, seed, task, metric, samples`` (``samples``: a float64 array per row); empty for a store
            written before replicates were kept, or for results that carry none (the objective route).

        Raises
        ------
        InvalidArgument
            Another split.
        MeasurementError
            The store cannot be read.
        """
        if split not in ("val", "test"):
            raise InvalidArgument(f"split={split!r}; accepted: 'val', 'test'.")
        columns = ["network", "seed", "task", "metric", "samples"]
        with self._connect() as db:
            if "replicates" not in table_names(db):
                return pd.DataFrame(columns=columns)
            found = db.execute(
                "SELECT network, seed, task, name, samples FROM replicates WHERE suite=? AND config=? "
                "AND substr(name, 1, ?) = ? ORDER BY network, seed, task, name",
                (suite, config, len(split) + 1, f"{split}_"),
            ).fetchall()
        rows = [
            (network, int(seed), task, name[len(split) + 1 :], np.frombuffer(blob, _DTYPE).astype(np.float64))
            for network, seed, task, name, blob in found
        ]
        return pd.DataFrame(rows, columns=columns)
