"""The ``weights`` table of the results store: each measured network's trained weights, as a checkpoint.

A measured network is the network a plan deploys: ``taskgroup run`` takes a plan's networks (and the single-task
and all-in-one networks it compares them with) from here instead of training them a second time, so the network
that was chosen on validation is the one scored on test and shipped. Rows are written with the network's result,
in the same transaction (:meth:`~taskgroup.measure.store.ResultStore.add_results`); the table is created with the
store's other tables (its schema is here, :data:`WEIGHTS_SCHEMA`), so an older store gains it when it is next
written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from taskgroup.measure.records import NetworkResult
from taskgroup.measure.tables import StoreTable, table_names

__all__ = ["WeightsTable", "WEIGHTS_SCHEMA"]

WEIGHTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS weights (
    suite TEXT NOT NULL, config TEXT NOT NULL, network TEXT NOT NULL, seed INTEGER NOT NULL,
    checkpoint BLOB NOT NULL,
    PRIMARY KEY (suite, config, network, seed));
"""


class WeightsTable(StoreTable):
    """The weights methods of :class:`~taskgroup.measure.store.ResultStore`."""

    @staticmethod
    def _add_weights(db: sqlite3.Connection, suite: str, config: str, results: Iterable[NetworkResult]) -> None:
        """Insert the checkpoints ``results`` carry, in the caller's transaction (existing rows are kept)."""
        rows = [
            (suite, config, r.network, int(r.seed), sqlite3.Binary(r.checkpoint))
            for r in results
            if r.checkpoint is not None and r.status == "ok"
        ]
        db.executemany("INSERT OR IGNORE INTO weights VALUES (?,?,?,?,?)", rows)

    def weights(self, suite: str, config: str, network: str, seed: int) -> bytes | None:
        """The trained weights of one measured network, as a checkpoint file's bytes.

        Parameters
        ----------
        suite : str
            The suite's fingerprint.
        config : str
            The training configuration's hash.
        network : str
            The network's name (``"a+b"``, ``"a@half"``).
        seed : int
            Its training seed.

        Returns
        -------
        bytes or None
            What :func:`taskgroup.checkpoints.load_checkpoint` reads (as ``io.BytesIO(data)``); None when the
            network was not measured with this suite, configuration and seed, or its weights were not kept (a
            network trained in a stack, a store from before weights were kept, the objective route).

        Raises
        ------
        MeasurementError
            The store cannot be read.
        """
        with self._connect() as db:
            if "weights" not in table_names(db):
                return None
            row = db.execute(
                "SELECT checkpoint FROM weights WHERE suite=? AND config=? AND network=? AND seed=?",
                (suite, config, network, int(seed)),
            ).fetchone()
        return None if row is None else bytes(row[0])
