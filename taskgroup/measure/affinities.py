"""The ``affinities`` table of the results store: TAG/CS matrices, one row per (suite fingerprint, training
configuration, method, seed, every), so rerunning the same measurement finds the stored matrix instead of
training again.

:class:`AffinityTable` holds the table's methods; :class:`~taskgroup.measure.store.ResultStore` has them
(``store.save_affinity``, ``store.load_affinity``, ``store.affinities``). The table is created with the store's
other tables (its schema is here, :data:`AFFINITY_SCHEMA`).
"""

from __future__ import annotations

import json
import time

import pandas as pd

from taskgroup.errors import NotFound
from taskgroup.measure.tables import StoreTable, table_names

__all__ = ["AffinityTable", "AFFINITY_SCHEMA"]

AFFINITY_SCHEMA = """
CREATE TABLE IF NOT EXISTS affinities (
    suite TEXT NOT NULL, suite_name TEXT NOT NULL, config TEXT NOT NULL, method TEXT NOT NULL,
    seed INTEGER NOT NULL, every INTEGER NOT NULL, tasks TEXT NOT NULL, matrix TEXT NOT NULL,
    steps INTEGER NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (suite, config, method, seed, every));
"""

_KEYS = "suite, suite_name, config, method, seed, every, steps, created"


class AffinityTable(StoreTable):
    """The affinity methods of :class:`~taskgroup.measure.store.ResultStore`."""

    def save_affinity(
        self,
        matrix: pd.DataFrame,
        *,
        suite: str,
        suite_name: str,
        config: str,
        method: str,
        seed: int,
        every: int,
        steps: int,
    ) -> None:
        """Store ``matrix`` (``loc[source, target]``); an existing row with the same key is kept as it is.

        Parameters
        ----------
        matrix : pandas.DataFrame
            Square, indexed by task names.
        suite, suite_name : str
            The suite's fingerprint and name.
        config : str
            The training configuration's hash.
        method : {"tag", "cs"}
            Which affinity.
        seed, every, steps : int
            The run's seed, its measuring interval and the number of measured steps.

        Raises
        ------
        MeasurementError
            The store cannot be written.
        """
        tasks = list(map(str, matrix.index))
        row = (suite, suite_name, config, method, int(seed), int(every), json.dumps(tasks))
        with self._connect(write=True) as db:
            db.execute(
                "INSERT OR IGNORE INTO affinities VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, json.dumps(matrix.to_numpy().tolist()), int(steps), time.time()),
            )

    def affinities(self) -> pd.DataFrame:
        """The stored matrices' keys.

        Returns
        -------
        pandas.DataFrame
            Columns suite, suite_name, config, method, seed, every, steps, created; oldest first.
        """
        with self._connect() as db:
            if "affinities" not in table_names(db):
                return pd.DataFrame(columns=_KEYS.split(", "))
            rows = db.execute(f"SELECT {_KEYS} FROM affinities ORDER BY created").fetchall()
        return pd.DataFrame(rows, columns=_KEYS.split(", "))

    def load_affinity(
        self,
        *,
        method: str = "tag",
        suite: str | None = None,
        config: str | None = None,
        seed: int | None = None,
        every: int | None = None,
    ) -> pd.DataFrame:
        """The most recent stored matrix matching the given key parts.

        Parameters
        ----------
        method : {"tag", "cs"}
            Which affinity.
        suite : str, optional
            A suite fingerprint or name; default: any.
        config, seed, every : optional
            The training configuration's hash, the seed and the measuring interval; default: any.

        Returns
        -------
        pandas.DataFrame
            ``matrix.loc[source, target]``, ``attrs["higher_is_better"] = True``.

        Raises
        ------
        NotFound
            No stored matrix matches; the message names the key asked for and the matrices the store holds.
        """
        query = "SELECT tasks, matrix FROM affinities WHERE method = ?"
        args: list[object] = [method]
        if suite is not None:
            query += " AND (suite = ? OR suite_name = ?)"
            args += [suite, suite]
        for column, value in (("config", config), ("seed", seed), ("every", every)):
            if value is not None:
                query += f" AND {column} = ?"
                args.append(value)
        with self._connect() as db:
            row = (
                db.execute(query + " ORDER BY created DESC LIMIT 1", args).fetchone()
                if "affinities" in table_names(db)
                else None
            )
        if row is None:
            key = {"method": method, "suite": suite, "config": config, "seed": seed, "every": every}
            asked = ", ".join(f"{name}={value!r}" for name, value in key.items() if value is not None)
            raise NotFound(f"No affinity matrix with {asked} in {str(self.path)!r}; it holds {self._describe()}.")
        tasks = json.loads(row[0])
        frame = pd.DataFrame(json.loads(row[1]), index=tasks, columns=tasks)
        frame.index.name, frame.columns.name = "source", "target"
        frame.attrs["higher_is_better"] = True
        return frame

    def _describe(self) -> str:
        """The stored matrices' keys, one phrase each, for a message about a miss."""
        stored = self.affinities()
        if stored.empty:
            return "no affinity matrices (measure one with 'taskgroup affinity --store')"
        keys = [
            f"{r.method} of suite {r.suite_name!r} (suite={r.suite!r}, config={r.config!r}, seed={r.seed}, "
            f"every={r.every})"
            for r in stored.itertuples()
        ]
        return f"{len(keys)}: " + "; ".join(keys)
