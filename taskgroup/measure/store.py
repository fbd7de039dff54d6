"""The results store: a SQLite database (WAL) of measured networks and their costs.

Only the driver process writes, one transaction per finished job, so a crash or a SIGKILL loses at most
the jobs still running, never a committed result. A result is keyed by (suite fingerprint, config hash,
network, seed) — the network name carries the size variant — and inserting a key that exists is a no-op,
so a job retried after a worker died can never duplicate a row.

Tables: ``runs`` (suite fingerprint + config hash -> suite name, tasks, parameters, configuration),
``results`` (one row per network and seed: status, reason, epochs, time, per-task metrics as JSON) and
``costs`` (one row per network: the profiler's cost columns).
"""

from __future__ import annotations

import json
import sqlite3
import time
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from taskgroup.errors import InvalidArgument, MeasurementError
from taskgroup.measure.profile import COST_COLUMNS, normalise_costs
from taskgroup.measure.training import NetworkResult

__all__ = ["ResultStore", "MeasurementWarning", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    suite TEXT NOT NULL, config TEXT NOT NULL, suite_name TEXT NOT NULL, tasks TEXT NOT NULL,
    suite_params TEXT NOT NULL, config_json TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (suite, config));
CREATE TABLE IF NOT EXISTS results (
    suite TEXT NOT NULL, config TEXT NOT NULL, network TEXT NOT NULL, variant TEXT NOT NULL,
    seed INTEGER NOT NULL, tasks TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,
    epochs INTEGER NOT NULL, best_epoch INTEGER NOT NULL, train_time REAL NOT NULL, metrics TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (suite, config, network, seed));
CREATE TABLE IF NOT EXISTS costs (
    suite TEXT NOT NULL, config TEXT NOT NULL, network TEXT NOT NULL, variant TEXT NOT NULL,
    tasks TEXT NOT NULL, flops REAL, params REAL, latency_ms REAL, memory_bytes REAL, snt REAL,
    PRIMARY KEY (suite, config, network));
"""


class MeasurementWarning(UserWarning):
    """Some measured networks failed and are left out of a problem."""


class ResultStore:
    """A results database at ``path`` (created if missing).

    Parameters
    ----------
    path : str or PathLike
        The SQLite file.
    """

    def __init__(self, path: str | PathLike) -> None:
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise InvalidArgument(f"The store path {str(path)!r} is a directory; give a file such as results.db.")
        with self._connect() as db:
            db.executescript(_SCHEMA)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            version = int(db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])
        if version != SCHEMA_VERSION:
            raise MeasurementError(f"Store {str(path)!r} has schema version {version}; this taskgroup reads {SCHEMA_VERSION}.")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One transaction: committed on success, rolled back on error, connection always closed."""
        db = sqlite3.connect(self.path, timeout=30.0)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable against process crashes
            with db:
                yield db
        except sqlite3.DatabaseError as exc:
            raise MeasurementError(f"Results store {str(self.path)!r}: {exc}") from exc
        finally:
            db.close()

    # -- writing --------------------------------------------------------------------------------------
    def register_run(self, suite: str, config: str, suite_name: str, tasks: Iterable[str],
                     suite_params: dict[str, Any], config_dict: dict[str, Any]) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                (suite, config, suite_name, json.dumps(list(tasks)), json.dumps(suite_params, default=str),
                 json.dumps(config_dict, sort_keys=True), time.time()),
            )

    def add_results(self, suite: str, config: str, results: Iterable[NetworkResult]) -> int:
        """Insert results in one transaction; returns how many were new (existing keys are kept as they are)."""
        rows = [
            (suite, config, r.network, r.variant, int(r.seed), json.dumps(list(r.tasks)), r.status, r.reason,
             int(r.epochs), int(r.best_epoch), float(r.train_time), json.dumps(r.metrics), time.time())
            for r in results
        ]
        with self._connect() as db:
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            return db.total_changes - before

    def add_costs(self, suite: str, config: str, costs: pd.DataFrame) -> None:
        rows = [
            (suite, config, r["network"], r["variant"], r["tasks"], *(float(r.get(c, np.nan)) for c in COST_COLUMNS))
            for r in costs.to_dict("records")
        ]
        with self._connect() as db:
            db.executemany("INSERT OR IGNORE INTO costs VALUES (?,?,?,?,?,?,?,?,?,?)", rows)

    # -- reading --------------------------------------------------------------------------------------
    def done(self, suite: str, config: str) -> set[tuple[str, int]]:
        """(network, seed) pairs already stored for this suite and configuration (finished or failed)."""
        with self._connect() as db:
            return {(n, int(s)) for n, s in db.execute(
                "SELECT network, seed FROM results WHERE suite=? AND config=?", (suite, config))}

    def costed(self, suite: str, config: str) -> set[str]:
        with self._connect() as db:
            return {n for (n,) in db.execute("SELECT network FROM costs WHERE suite=? AND config=?", (suite, config))}

    def runs(self) -> pd.DataFrame:
        with self._connect() as db:
            return pd.read_sql_query("SELECT suite, config, suite_name, tasks, config_json, created FROM runs "
                                     "ORDER BY created", db)

    def results(self, suite: str | None = None, config: str | None = None) -> pd.DataFrame:
        """Long table: one row per (network, seed, task) with val/test loss and metric; ``served`` lists the
        network's tasks; a failed network has one row with task = None and its reason."""
        raw = self._read("SELECT * FROM results ORDER BY suite, config, network, seed", suite, config)
        rows = []
        for rec in raw.to_dict("records"):
            base = {k: rec[k] for k in ("suite", "config", "network", "variant", "seed", "status", "reason",
                                        "epochs", "best_epoch", "train_time")}
            base["served"] = "+".join(json.loads(rec["tasks"]))
            metrics = json.loads(rec["metrics"])
            if not metrics:
                rows.append({**base, "task": None})
            for task, values in metrics.items():
                rows.append({**base, "task": task, **values})
        return pd.DataFrame(rows)

    def costs(self, suite: str | None = None, config: str | None = None) -> pd.DataFrame:
        return self._read("SELECT * FROM costs ORDER BY suite, config, network", suite, config).reset_index(drop=True)

    def _read(self, query: str, suite: str | None, config: str | None) -> pd.DataFrame:
        """Rows of ``query`` for one suite and/or configuration (None: all)."""
        with self._connect() as db:
            raw = pd.read_sql_query(query, db)
        if suite is not None:
            raw = raw[raw["suite"] == suite]
        if config is not None:
            raw = raw[raw["config"] == config]
        return raw

    def _pick_run(self, suite: str | None, config: str | None) -> tuple[str, str]:
        runs = self.runs()
        if suite is not None:
            runs = runs[(runs["suite"] == suite) | (runs["suite_name"] == suite)]
        if config is not None:
            runs = runs[runs["config"] == config]
        if runs.empty:
            raise InvalidArgument(f"Store {str(self.path)!r} has no measurements"
                                  + (f" for suite={suite!r} config={config!r}" if suite or config else "") + ".")
        if len(runs) > 1:
            listing = "; ".join(f"suite {r.suite_name} ({r.suite}) config {r.config}" for r in runs.itertuples())
            raise InvalidArgument(f"Store {str(self.path)!r} holds several measurements ({listing}); "
                                  "choose one with suite= and config=.")
        return str(runs["suite"].iloc[0]), str(runs["config"].iloc[0])

    def table(self, split: str = "val", cost: str | list[str] = "flops", *, metric: bool = False,
              normalize: bool = True, suite: str | None = None, config: str | None = None) -> pd.DataFrame:
        """The long table ``network, task, loss, <cost columns>, seeds, loss_std`` the solvers read.

        Losses are means over seeds. A network that failed for any seed is left out, with a
        :class:`MeasurementWarning` naming it and the reason.
        """
        if split not in ("val", "test"):
            raise InvalidArgument(f"split={split!r}; accepted: 'val', 'test'.")
        cost_cols = [cost] if isinstance(cost, str) else list(cost)
        unknown = [c for c in cost_cols if c not in COST_COLUMNS]
        if unknown or not cost_cols:
            raise InvalidArgument(f"cost {unknown or cost_cols!r} not measured; the cost columns are {list(COST_COLUMNS)}.")
        suite, config = self._pick_run(suite, config)
        res = self.results(suite, config)
        failed = res[res["status"] != "ok"]
        if not failed.empty:
            listing = "; ".join(f"{r.network} (seed {r.seed}): {r.reason}" for r in failed.itertuples())
            warnings.warn(f"Leaving out {failed['network'].nunique()} failed network(s): {listing}",
                          MeasurementWarning, stacklevel=3)
        ok = res[~res["network"].isin(failed["network"])]
        if ok.empty:
            raise InvalidArgument(f"Store {str(self.path)!r} has no successful measurements for suite {suite}.")
        run_tasks = json.loads(self.runs().set_index(["suite", "config"]).loc[(suite, config), "tasks"])
        # tasks some measured network serves (a failed network has no per-task rows, only "served")
        measured = set(res["task"].dropna()) | {t for s in res["served"] for t in s.split("+")}
        orphans = [t for t in run_tasks if t in measured and t not in set(ok["task"])]
        if orphans:
            raise InvalidArgument(f"Every measured network serving task(s) {orphans} failed (see the warning); "
                                  "there is no problem to solve for them. Re-measure with other settings.")
        value = f"{split}_{'metric' if metric else 'loss'}"
        grouped = ok.groupby(["network", "task"], sort=False)[value]
        table = grouped.mean().rename("loss").to_frame()
        table["loss_std"] = grouped.std(ddof=1).fillna(0.0)
        table["seeds"] = grouped.count()
        table = table.reset_index()
        costs = self.costs(suite, config)
        if costs.empty:
            raise InvalidArgument(f"Store {str(self.path)!r} has no costs for suite {suite}; rerun the measurement.")
        if normalize:
            costs = normalise_costs(costs)
        missing = sorted(set(table["network"]) - set(costs["network"]))
        if missing:
            raise InvalidArgument(f"Networks {missing} have results but no costs; rerun the measurement to profile them.")
        return table.merge(costs[["network", *cost_cols]], on="network", how="left")
