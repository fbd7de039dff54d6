"""The results store: a SQLite database (WAL) of measured networks and their costs. Reading it needs no torch.

Only the driver process writes, one transaction per finished job, so a crash or a SIGKILL loses at most
the jobs still running, never a committed result. A result is keyed by (suite fingerprint, config hash,
network, seed) — the network name carries the size variant — and inserting a key that exists is a no-op,
so a job retried after a worker died can never duplicate a row.

Tables: ``runs`` (suite fingerprint + config hash -> suite name, tasks, parameters, configuration),
``results`` (one row per network and seed: status, reason, epochs, time, per-task metrics as JSON),
``costs`` (one row per network: the profiler's cost columns, for the built-in model families) and
``resource_costs`` (one row per network and resource: costs a user's objective reported, any resource names).
``resource_costs`` (and the ``weights`` and ``replicates`` tables of :mod:`~taskgroup.measure.weights` and
:mod:`~taskgroup.measure.replicates`) were added after schema version 1 was released; each is created on the first
write, and a store without it reads as one without such rows, so stores written before them keep working.

Reading opens the file read-only (``mode=ro``), so a store on a read-only file or disk can be solved from;
writing to one fails with a message saying it is read-only. A damaged file (garbage bytes, truncation) is
reported as one :class:`~taskgroup.errors.MeasurementError` when the store is opened, never as a
``sqlite3`` or ``pandas`` exception.
"""

from __future__ import annotations

import json
import sqlite3
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from taskgroup.errors import InvalidArgument, MeasurementError, NotFound
from taskgroup.measure.affinities import AFFINITY_SCHEMA, AffinityTable
from taskgroup.measure.records import COST_COLUMNS, DEFAULT_PROFILED_COST, NetworkResult, normalise_costs
from taskgroup.measure.replicates import REPLICATES_SCHEMA, ReplicatesTable
from taskgroup.measure.tables import table_names
from taskgroup.measure.weights import WEIGHTS_SCHEMA, WeightsTable
from taskgroup.naming import network_name, split_network_name
from taskgroup.uncertainty import repeat_se

if TYPE_CHECKING:
    from taskgroup.problem import Problem

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
CREATE TABLE IF NOT EXISTS resource_costs (
    suite TEXT NOT NULL, config TEXT NOT NULL, network TEXT NOT NULL, variant TEXT NOT NULL,
    tasks TEXT NOT NULL, resource TEXT NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (suite, config, network, resource));
"""


class MeasurementWarning(UserWarning):
    """Some measured networks failed and are left out of a problem."""


class ResultStore(AffinityTable, WeightsTable, ReplicatesTable):
    """A results database at ``path`` (created if missing; an existing file is checked, not modified).

    Measured networks (results, costs, trained weights: ``weights``, :class:`~taskgroup.measure.weights.
    WeightsTable`, and bootstrap replicates of their metrics: ``replicates``,
    :class:`~taskgroup.measure.replicates.ReplicatesTable`) and affinity matrices (``save_affinity``,
    ``load_affinity``, ``affinities``: :class:`~taskgroup.measure.affinities.AffinityTable`) are tables of the one
    file.

    Parameters
    ----------
    path : str or PathLike
        The SQLite file.
    create : bool
        Create the file if it is missing (default); with False a missing file is an error (for readers).

    Raises
    ------
    InvalidArgument
        ``path`` is a directory, or is missing and ``create`` is False, or its folder does not exist.
    MeasurementError
        The file is damaged, is not a results store, or has another schema version.
    """

    def __init__(self, path: str | PathLike, *, create: bool = True) -> None:
        self.path = Path(path)
        self._writer: sqlite3.Connection | None = None
        if self.path.is_dir():
            raise InvalidArgument(f"The store path {str(path)!r} is a directory; give a file such as results.db.")
        if not self.path.exists() and not create:
            raise InvalidArgument(f"No results store at {str(path)!r}; create one with 'taskgroup measure --store'.")
        if not self.path.exists() or self.path.stat().st_size == 0:  # an empty file (touch) is a new store
            if not self.path.parent.is_dir():
                raise InvalidArgument(
                    f"Cannot create the store {str(path)!r}: the folder {str(self.path.parent)!r} does not exist."
                )
            with self._connect(write=True):
                pass  # creates the file and its tables
            return
        with self._connect() as db:
            # Garbage in the middle of a file can leave every query working and some rows wrong; a quick
            # check (linear in the file, milliseconds for a store of thousands of results) finds it.
            problems = [line for (row,) in db.execute("PRAGMA quick_check(3)") for line in str(row).splitlines()]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("integrity check failed: " + "; ".join(problems[:3]))
            tables = table_names(db)
            # An SQLite file without any table is a store whose creation was cut short (a full disk, or another
            # command creating the same store at that moment): it is finished now, not refused forever.
            unfinished = not tables and create
            if not unfinished and "meta" not in tables:
                raise MeasurementError(
                    f"{str(path)!r} is an SQLite file but not a taskgroup results store "
                    "(no 'meta' table); give the file 'taskgroup measure --store' wrote."
                )
            row = None if unfinished else db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if unfinished:
            with self._connect(write=True):
                pass  # creates its tables
            return
        version = int(row[0]) if row else SCHEMA_VERSION
        if version != SCHEMA_VERSION:
            raise MeasurementError(
                f"Store {str(path)!r} has schema version {version}; this taskgroup reads {SCHEMA_VERSION}."
            )

    @contextmanager
    def _connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction: committed on success, rolled back on error, connection closed unless it is the
        run's writer (see :meth:`writer`).

        Reading opens the file read-only, so it works on files and disks that cannot be written.
        """
        held = self._writer if write else None
        try:
            db = held or (self._open_writer() if write else self._open_reader())
        except sqlite3.Error as exc:
            raise self._error(exc, write) from None
        try:
            with db:
                yield db
        except sqlite3.Error as exc:
            raise self._error(exc, write) from None
        finally:
            if db is not held:
                db.close()

    @contextmanager
    def writer(self) -> Iterator[None]:
        """Hold one write connection for a run of many transactions (each result is still its own commit).

        Opening and closing a connection per result costs a checkpoint of the write-ahead log each time
        (milliseconds per result); a measurement holds one for its whole run. On exit the log is
        checkpointed into the database file, so the store is one self-contained file again.
        """
        if self._writer is not None:
            yield
            return
        try:
            self._writer = self._open_writer()
        except sqlite3.Error as exc:
            raise self._error(exc, True) from None
        try:
            yield
            with self._connect(write=True) as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._writer.close()
            self._writer = None

    def _open_writer(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30.0)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable against process crashes
            # Creating missing tables is the migration: a store from before resource_costs gains it here.
            db.executescript(_SCHEMA + AFFINITY_SCHEMA + WEIGHTS_SCHEMA + REPLICATES_SCHEMA)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            db.commit()
        except BaseException:
            db.close()
            raise
        return db

    def _open_reader(self) -> sqlite3.Connection:
        uri = self.path.resolve().as_uri()
        try:
            db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30.0)
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError:
            # A WAL file whose folder is read-only and that has no -shm file cannot be opened with mode=ro.
            # Then no writer can be running (a writer needs the -wal and -shm files there), so reading it
            # as immutable is safe.
            db = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=30.0)
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db

    def _error(self, exc: sqlite3.Error, write: bool) -> MeasurementError:
        text = str(exc)
        where = f"Results store {str(self.path)!r}"
        if write and ("readonly" in text or "read-only" in text or "unable to open" in text):
            return MeasurementError(
                f"{where} is read-only ({text}): results cannot be written to it. Reading it (solve, frontier) "
                "works; to measure, copy it to a writable place or give another --store."
            )
        if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "unable to open" in text):
            return MeasurementError(f"{where}: {text}.")
        return MeasurementError(
            f"{where} is damaged or is not a results store ({text}); restore it from a copy or measure into a new file."
        )

    def _frame(self, query: str, args: Sequence[Any] = ()) -> pd.DataFrame:
        """Rows of a read query as a DataFrame (read through sqlite3 so every error is the store's own)."""
        with self._connect() as db:
            cursor = db.execute(query, tuple(args))
            columns = [d[0] for d in cursor.description]
            return pd.DataFrame(cursor.fetchall(), columns=columns)

    # -- writing --------------------------------------------------------------------------------------
    def register_run(
        self,
        suite: str,
        config: str,
        suite_name: str,
        tasks: Iterable[str],
        suite_params: dict[str, Any],
        config_dict: dict[str, Any],
    ) -> None:
        with self._connect(write=True) as db:
            db.execute(
                "INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    suite,
                    config,
                    suite_name,
                    json.dumps(list(tasks)),
                    json.dumps(suite_params, default=str),
                    json.dumps(config_dict, sort_keys=True),
                    time.time(),
                ),
            )

    def add_results(self, suite: str, config: str, results: Iterable[NetworkResult]) -> int:
        """Insert results and the costs they carry in one transaction; returns how many results were new
        (existing keys are kept as they are, except that a finished result replaces a failed one, and a
        network's first reported cost is kept)."""
        results = list(results)
        rows = [
            (
                suite,
                config,
                r.network,
                r.variant,
                int(r.seed),
                json.dumps(list(r.tasks)),
                r.status,
                r.reason,
                int(r.epochs),
                int(r.best_epoch),
                float(r.train_time),
                json.dumps(r.metrics),
                time.time(),
            )
            for r in results
        ]
        cost_rows = [
            (suite, config, r.network, r.variant, network_name(r.tasks), name, float(value))
            for r in results
            for name, value in r.costs.items()
        ]
        with self._connect(write=True) as db:
            before = db.total_changes
            # a new result takes the place of a failed one (a retried call); a finished one is never rewritten
            db.executemany(
                "INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (suite, config, network, seed) "
                "DO UPDATE SET status=excluded.status, reason=excluded.reason, epochs=excluded.epochs, "
                "best_epoch=excluded.best_epoch, train_time=excluded.train_time, metrics=excluded.metrics, "
                "created=excluded.created WHERE results.status != 'ok' AND excluded.status = 'ok'",
                rows,
            )
            new = db.total_changes - before
            db.executemany("INSERT OR IGNORE INTO resource_costs VALUES (?,?,?,?,?,?,?)", cost_rows)
            self._add_weights(db, suite, config, results)
            self._add_replicates(db, suite, config, results)
            return new

    def add_costs(self, suite: str, config: str, costs: pd.DataFrame) -> None:
        """Store the profiler's cost columns (one row per network) for a run of a built-in model family."""
        rows = [
            (suite, config, r["network"], r["variant"], r["tasks"], *(float(r.get(c, np.nan)) for c in COST_COLUMNS))
            for r in costs.to_dict("records")
        ]
        with self._connect(write=True) as db:
            db.executemany("INSERT OR IGNORE INTO costs VALUES (?,?,?,?,?,?,?,?,?,?)", rows)

    # -- reading --------------------------------------------------------------------------------------
    def done(self, suite: str, config: str, *, failed: bool = True) -> set[tuple[str, int]]:
        """(network, seed) pairs already stored for this suite and configuration (finished, and failed unless
        ``failed=False``: those a rerun tries again)."""
        query = "SELECT network, seed FROM results WHERE suite=? AND config=?" + ("" if failed else " AND status='ok'")
        with self._connect() as db:
            return {(n, int(s)) for n, s in db.execute(query, (suite, config))}

    def costed(self, suite: str, config: str) -> set[str]:
        with self._connect() as db:
            return {n for (n,) in db.execute("SELECT network FROM costs WHERE suite=? AND config=?", (suite, config))}

    def runs(self) -> pd.DataFrame:
        return self._frame("SELECT suite, config, suite_name, tasks, config_json, created FROM runs ORDER BY created")

    def results(self, suite: str | None = None, config: str | None = None) -> pd.DataFrame:
        """Long table: one row per (network, seed, task) with val/test loss and metric; ``served`` lists the
        network's tasks; a failed network has one row with task = None and its reason."""
        raw = self._read("SELECT * FROM results", suite, config, order="suite, config, network, seed")
        rows = []
        for rec in raw.to_dict("records"):
            base = {
                k: rec[k]
                for k in (
                    "suite",
                    "config",
                    "network",
                    "variant",
                    "seed",
                    "status",
                    "reason",
                    "epochs",
                    "best_epoch",
                    "train_time",
                )
            }
            base["served"] = network_name(json.loads(rec["tasks"]))
            metrics = json.loads(rec["metrics"])
            if not metrics:
                rows.append({**base, "task": None})
            for task, values in metrics.items():
                rows.append({**base, "task": task, **values})
        return pd.DataFrame(rows)

    def costs(self, suite: str | None = None, config: str | None = None) -> pd.DataFrame:
        """One row per network: ``suite, config, network, variant, tasks`` and one column per cost resource
        (the profiler's columns for built-in models; the reported resources for objectives)."""
        profiled = self._read("SELECT * FROM costs", suite, config, order="suite, config, network")
        if "resource_costs" not in self._table_names():
            return profiled
        reported = self._read("SELECT * FROM resource_costs", suite, config, order="suite, config, network, rowid")
        if reported.empty:
            return profiled
        keys = ["suite", "config", "network", "variant", "tasks"]
        wide = reported.pivot_table(index=keys, columns="resource", values="value", aggfunc="first", sort=False)
        wide = wide[list(dict.fromkeys(reported["resource"]))].reset_index()
        wide.columns.name = None
        frames = [f for f in (profiled, wide) if not f.empty]
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)

    def cost_names(self, suite: str | None = None, config: str | None = None) -> tuple[str, ...]:
        """The cost resources of one run (its profiler columns, or the resources its objective reported)."""
        suite, config = self._pick_run(suite, config)
        if not self._read("SELECT network FROM costs", suite, config).empty:
            return COST_COLUMNS
        if "resource_costs" not in self._table_names():
            return ()
        reported = self._read("SELECT resource FROM resource_costs", suite, config, order="rowid")
        return tuple(dict.fromkeys(reported["resource"]))

    def _table_names(self) -> set[str]:
        with self._connect() as db:
            return table_names(db)

    def _read(self, query: str, suite: str | None, config: str | None, order: str | None = None) -> pd.DataFrame:
        """Rows of ``query`` for one suite and/or configuration (None: all), filtered in SQL."""
        clauses, args = [], []
        for column, value in (("suite", suite), ("config", config)):
            if value is not None:
                clauses.append(f"{column}=?")
                args.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._frame(query + where + (f" ORDER BY {order}" if order else ""), args)

    def _pick_run(self, suite: str | None, config: str | None) -> tuple[str, str]:
        runs = self.runs()
        if suite is not None:
            runs = runs[(runs["suite"] == suite) | (runs["suite_name"] == suite)]
        if config is not None:
            runs = runs[runs["config"] == config]
        if runs.empty:
            raise NotFound(
                f"Store {str(self.path)!r} has no measurements"
                + (f" for suite={suite!r} config={config!r}" if suite or config else "")
                + "."
            )
        if len(runs) > 1:
            listing = "; ".join(f"suite {r.suite_name} ({r.suite}) config {r.config}" for r in runs.itertuples())
            raise InvalidArgument(
                f"Store {str(self.path)!r} holds several measurements ({listing}); choose one with suite= and config=."
            )
        return str(runs["suite"].iloc[0]), str(runs["config"].iloc[0])

    def _cost_columns(self, cost: str | Sequence[str] | None, suite: str, config: str) -> list[str]:
        names = self.cost_names(suite, config)
        if not names:
            raise InvalidArgument(
                f"Store {str(self.path)!r} has no costs for this measurement: no candidate network finished (see "
                "the failed results and their reasons); measure again once the cause is fixed."
            )
        if cost is None:
            if names == COST_COLUMNS:
                return [DEFAULT_PROFILED_COST]
            if len(names) == 1:
                return list(names)
            raise InvalidArgument(
                f"Store {str(self.path)!r} has several cost resources {list(names)}; "
                "name the one(s) to use with cost= (CLI: --cost)."
            )
        cost_cols = [cost] if isinstance(cost, str) else list(cost)
        unknown = [c for c in cost_cols if c not in names]
        if unknown or not cost_cols:
            raise InvalidArgument(f"cost {unknown or cost_cols!r} not measured; the cost columns are {list(names)}.")
        return cost_cols

    def table(
        self,
        split: str = "val",
        cost: str | Sequence[str] | None = None,
        *,
        metric: bool = False,
        normalise: bool = True,
        suite: str | None = None,
        config: str | None = None,
        errors: str = "total",
    ) -> pd.DataFrame:
        """The long table ``network, task, loss, <cost columns>, seeds, loss_std, loss_se`` the solvers read.

        Losses are means over seeds (training repeats). ``loss_se`` is the standard error of that mean
        (:func:`taskgroup.uncertainty.repeat_se`: the repeats' spread over sqrt(K), plus the bootstrap error over
        evaluation rows each result recorded; NaN where neither is known: one seed of a result without a
        bootstrap error, as an objective's). ``errors="training"`` leaves the bootstrap part out: the error across
        training repeats alone (NaN with one repeat), the part that does not cancel when two networks scored on
        the same rows are compared. A network that failed for any seed is left out, with a
        :class:`MeasurementWarning` naming it and the reason. ``cost=None`` takes the run's only cost
        resource (``"cost"`` for an objective that reported none), or ``"flops"`` for built-in models.
        """
        if split not in ("val", "test"):
            raise InvalidArgument(f"split={split!r}; accepted: 'val', 'test'.")
        if errors not in ("total", "training"):
            raise InvalidArgument(f"errors={errors!r}; accepted: 'total', 'training'.")
        suite, config = self._pick_run(suite, config)
        cost_cols = self._cost_columns(cost, suite, config)
        res = self.results(suite, config)
        failed = res[res["status"] != "ok"]
        if not failed.empty:
            listing = "; ".join(f"{r.network} (seed {r.seed}): {r.reason}" for r in failed.itertuples())
            warnings.warn(
                f"Leaving out {failed['network'].nunique()} failed network(s): {listing}",
                MeasurementWarning,
                stacklevel=3,
            )
        ok = res[~res["network"].isin(failed["network"])]
        if ok.empty:
            raise InvalidArgument(f"Store {str(self.path)!r} has no successful measurements for suite {suite}.")
        run_tasks = self._run_tasks(suite, config)
        # tasks some measured network serves (a failed network has no per-task rows, only "served")
        measured = set(res["task"].dropna()) | {t for s in res["served"] for t in split_network_name(s)[0]}
        orphans = [t for t in run_tasks if t in measured and t not in set(ok["task"])]
        if orphans:
            raise InvalidArgument(
                f"Every measured network serving task(s) {orphans} failed (see the warning); "
                "there is no problem to solve for them. Re-measure with other settings."
            )
        value = f"{split}_{'metric' if metric else 'loss'}"
        lacking = sorted(set(ok["network"]) if value not in ok else set(ok.loc[ok[value].isna(), "network"]))
        if lacking:
            raise InvalidArgument(
                f"Store {str(self.path)!r} has no {value} for network(s) {lacking[:5]}"
                f"{' ...' if len(lacking) > 5 else ''}; read another split or "
                f"{'metric=False' if metric else 'measure it'} (an objective returns test "
                "losses under 'test')."
            )
        grouped = ok.groupby(["network", "task"], sort=False)[value]
        table = grouped.mean().rename("loss").to_frame()
        table["loss_std"] = grouped.std(ddof=1).fillna(0.0)
        table["seeds"] = grouped.count()
        error = f"{value}_se"
        with_errors = ok if error in ok and errors == "total" else ok.assign(**{error: np.nan})
        table["loss_se"] = with_errors.groupby(["network", "task"], sort=False)[[value, error]].apply(
            lambda rows: repeat_se(rows[value], rows[error])
        )
        table = table.reset_index()
        costs = self.costs(suite, config)
        if costs.empty:
            raise InvalidArgument(f"Store {str(self.path)!r} has no costs for suite {suite}; rerun the measurement.")
        if normalise:
            costs = normalise_costs(costs, cost_cols)
        missing = sorted(set(table["network"]) - set(costs.dropna(subset=cost_cols)["network"]))
        if missing:
            raise InvalidArgument(
                f"Networks {missing} have results but no cost {cost_cols}; rerun the measurement "
                "to profile them, or report every resource for every network."
            )
        return table.merge(costs[["network", *cost_cols]], on="network", how="left")

    def task_order(self, table: pd.DataFrame, suite: str | None = None, config: str | None = None) -> list[str]:
        """The tasks ``table`` (from :meth:`table`) has rows for, in the run's order (the suite's).

        ``Problem.from_frame(table, tasks=store.task_order(table))`` lists the tasks as the suite does; by default
        it would take them in the order the table's network names sort (``digit``, ``digit+large``, ...).

        Parameters
        ----------
        table : pandas.DataFrame
            A long table with a ``task`` column, read from this store.
        suite, config : str, optional
            Which run, when the store holds several (as for :meth:`table`).

        Returns
        -------
        list of str

        Raises
        ------
        NotFound
            No such run.
        InvalidArgument
            The store holds several runs and ``suite``/``config`` do not choose one.
        """
        present = set(table["task"])
        return [t for t in self._run_tasks(*self._pick_run(suite, config)) if t in present]

    def _run_tasks(self, suite: str, config: str) -> list[str]:
        return list(json.loads(self.runs().set_index(["suite", "config"]).loc[(suite, config), "tasks"]))

    def to_problem(
        self,
        split: str = "val",
        cost: str | Sequence[str] | None = None,
        *,
        metric: bool = False,
        normalise: bool = True,
        suite: str | None = None,
        config: str | None = None,
        errors: str = "total",
    ) -> Problem:
        """The :class:`~taskgroup.problem.Problem` of one run in this store (torch is not imported).

        Parameters
        ----------
        split : "val" or "test"
            Which split's losses (per-task means over seeds, their standard errors in ``Problem.loss_se``).
        cost : str, list of str or None
            The cost resource(s): "flops", "params", "latency_ms", "memory_bytes", "snt" for built-in models,
            the reported names (or "cost") for an objective. None: the run's only resource, or "flops".
        metric : bool
            Use the metric (higher is better) instead of the loss.
        normalise : bool
            Divide costs by the mean cost of the full-size single-task networks.
        suite, config : str, optional
            Which run, when the store holds several.
        errors : {"total", "training"}
            The standard errors in ``Problem.loss_se``: over repeats and evaluation rows, or over training repeats
            alone (see :meth:`table`).

        Raises
        ------
        InvalidArgument
            No such run, split, cost or errors; every network of a task failed.
        MeasurementError
            The store is damaged.
        """
        from taskgroup.problem import Problem

        table = self.table(split, cost, metric=metric, normalise=normalise, suite=suite, config=config, errors=errors)
        cost_cols = [c for c in table.columns if c not in ("network", "task", "loss", "loss_std", "seeds", "loss_se")]
        tasks = self.task_order(table, suite, config)
        return Problem.from_frame(table, cost=cost_cols, higher_is_better=metric, tasks=tasks)
