"""The network-selection problem: tasks, candidate networks, their costs and per-task losses.

A :class:`Problem` is the solver input of Standley et al. (2020), generalised: candidate networks
``N_j`` each serve a task set ``S_j`` at a cost ``c_j`` (one number per resource) with a loss ``L_jt``
for every served task ``t``. A plan picks networks within a budget; each task is served by the chosen
network that is best at it, and the objective is ``sum_t w_t * min_j L_jt``.

Losses are lower-is-better. A problem built from higher-is-better scores (``higher_is_better=True``)
stores the negated scores and remembers it, so that plans can report scores in the original sense.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from taskgroup.errors import InvalidArgument, InvalidProblem
from taskgroup.fields import Fields
from taskgroup.files import read_csv_table, read_text

if TYPE_CHECKING:
    from taskgroup.plan import Plan

__all__ = ["Problem", "PROBLEM_SCHEMA", "PROBLEM_SCHEMA_VERSION"]

# The largest weighted loss or cost a problem may hold: sums of many such values stay far inside float range.
MAX_MAGNITUDE = 1e100

PROBLEM_SCHEMA = "taskgroup.problem"
PROBLEM_SCHEMA_VERSION = 1
_PROBLEM_FIELDS = ("schema", "version", "higher_is_better", "tasks", "networks")


class Problem:
    """Tasks, candidate networks, costs and losses.

    Parameters
    ----------
    tasks : sequence of str
        Task names, unique.
    networks : sequence of str
        Candidate network names, unique.
    costs : array-like, shape (n_networks, n_resources)
        Inference cost of each network on each resource; finite and > 0. A 1-D array means one resource.
    losses : array-like, shape (n_networks, n_tasks)
        ``losses[j, t]`` is network j's loss on task t, or NaN where network j does not serve task t.
    weights : array-like, shape (n_tasks,), optional
        Per-task weights, > 0. Default 1.
    cost_names : sequence of str, optional
        One name per cost resource. Default ``("cost",)`` for a single resource.
    higher_is_better : bool
        True when ``losses`` hold negated scores (see :meth:`from_frame`); plans then report scores.
    predicted : array-like of bool, shape (n_networks, n_tasks), optional
        Marks entries that are predicted (by an estimator) rather than measured.

    Raises
    ------
    InvalidProblem
        If any array has the wrong shape, a loss is infinite, a cost is missing, infinite or <= 0,
        a weight is <= 0, a network serves no task, a task is served by no network, or names repeat.
    """

    def __init__(
        self,
        tasks: Sequence[str],
        networks: Sequence[str],
        costs: Any,
        losses: Any,
        weights: Any = None,
        cost_names: Sequence[str] | None = None,
        *,
        higher_is_better: bool = False,
        predicted: Any = None,
    ) -> None:
        tasks = tuple(str(t) for t in tasks)
        networks = tuple(str(n) for n in networks)
        if not tasks:
            raise InvalidProblem("A problem needs at least one task; got none.")
        if not networks:
            raise InvalidProblem("A problem needs at least one candidate network; got none.")
        _check_unique(tasks, "task")
        _check_unique(networks, "network")

        costs = np.array(costs, dtype=float)
        if costs.ndim == 1:
            costs = costs[:, None]
        if cost_names is None:
            cost_names = ("cost",) if costs.shape[1] == 1 else tuple(f"cost{i}" for i in range(costs.shape[1]))
        cost_names = tuple(str(c) for c in cost_names)
        _check_unique(cost_names, "cost column")
        if costs.shape != (len(networks), len(cost_names)):
            raise InvalidProblem(
                f"costs must have shape (n_networks, n_resources) = ({len(networks)}, {len(cost_names)}); "
                f"got {costs.shape}."
            )
        losses = np.array(losses, dtype=float)
        if losses.shape != (len(networks), len(tasks)):
            raise InvalidProblem(
                f"losses must have shape (n_networks, n_tasks) = ({len(networks)}, {len(tasks)}); got {losses.shape}."
            )
        weights = np.ones(len(tasks)) if weights is None else np.array(weights, dtype=float).reshape(-1)
        if weights.shape != (len(tasks),):
            raise InvalidProblem(f"weights must have one value per task ({len(tasks)}); got {weights.shape[0]}.")

        bad_costs = ~np.isfinite(costs) | (costs <= 0)
        if bad_costs.any():
            j, r = np.argwhere(bad_costs)[0]  # the first in network order, as the message names one
            raise InvalidProblem(
                f"Network {networks[j]!r} has {cost_names[r]} = {_num(costs[j, r])}; costs must be finite numbers > 0."
            )
        infinite = np.isinf(losses)
        if infinite.any():
            j, t = np.argwhere(infinite)[0]
            raise InvalidProblem(
                f"Network {networks[j]!r} has loss {_num(losses[j, t])} on task {tasks[t]!r}; losses must be finite "
                "(use NaN only where a network does not serve a task)."
            )
        for t, task in enumerate(tasks):
            w = weights[t]
            if not np.isfinite(w) or w <= 0:
                raise InvalidProblem(f"Task {task!r} has weight {_num(w)}; weights must be finite numbers > 0.")
        # Solvers add losses and costs up (and bound them by sums of sums): values near float's limit overflow to
        # inf there, and a plan's "objective inf" or a backend's status error would be all the user saw.
        huge = np.abs(np.nan_to_num(losses) * weights) > MAX_MAGNITUDE
        if huge.any():
            j, t = np.argwhere(huge)[0]
            raise InvalidProblem(
                f"Network {networks[j]!r} has loss {_num(losses[j, t])} on task {tasks[t]!r} (weight "
                f"{_num(weights[t])}); a weighted loss must be at most {MAX_MAGNITUDE:g} in size, since plans add "
                "them up."
            )
        if (costs > MAX_MAGNITUDE).any():
            j, r = np.argwhere(costs > MAX_MAGNITUDE)[0]
            raise InvalidProblem(
                f"Network {networks[j]!r} has {cost_names[r]} = {_num(costs[j, r])}; costs must be at most "
                f"{MAX_MAGNITUDE:g}, since plans add them up."
            )
        serves = ~np.isnan(losses)
        for j in np.flatnonzero(~serves.any(axis=1)):
            raise InvalidProblem(f"Network {networks[j]!r} serves no task; every network needs at least one loss.")
        for t in np.flatnonzero(~serves.any(axis=0)):
            raise InvalidProblem(
                f"Task {tasks[t]!r} is served by no network; every task needs at least one candidate network."
            )
        if predicted is None:
            predicted = np.zeros_like(serves)
        predicted = np.array(predicted, dtype=bool)
        if predicted.shape != serves.shape:
            raise InvalidProblem(f"predicted must have shape {serves.shape}; got {predicted.shape}.")

        self._tasks = tasks
        self._networks = networks
        self._cost_names = cost_names
        # every array here is this object's own copy (np.array above), so it is frozen in place, not copied again
        self._costs = _frozen(costs)
        self._losses = _frozen(losses)  # NaN exactly where a network does not serve a task (serves = ~isnan)
        self._serves = _frozen(serves)
        self._weights = _frozen(weights)
        self._predicted = _frozen(predicted & serves)
        self._higher_is_better = bool(higher_is_better)
        self._task_index = {t: i for i, t in enumerate(tasks)}
        self._network_index = {n: i for i, n in enumerate(networks)}

    # ------------------------------------------------------------------ accessors
    @property
    def tasks(self) -> tuple[str, ...]:
        """Task names, in problem order."""
        return self._tasks

    @property
    def networks(self) -> tuple[str, ...]:
        """Candidate network names, in problem order."""
        return self._networks

    @property
    def cost_names(self) -> tuple[str, ...]:
        """Names of the cost resources (columns of :attr:`costs`)."""
        return self._cost_names

    @property
    def costs(self) -> np.ndarray:
        """Read-only array (n_networks, n_resources) of costs."""
        return self._costs

    @property
    def losses(self) -> np.ndarray:
        """Read-only array (n_networks, n_tasks) of losses, NaN where a network does not serve a task."""
        return self._losses

    @property
    def serves(self) -> np.ndarray:
        """Read-only boolean array (n_networks, n_tasks): network j serves task t."""
        return self._serves

    @property
    def weights(self) -> np.ndarray:
        """Read-only array (n_tasks,) of task weights."""
        return self._weights

    @property
    def predicted(self) -> np.ndarray:
        """Read-only boolean array (n_networks, n_tasks): the loss is predicted, not measured."""
        return self._predicted

    @property
    def higher_is_better(self) -> bool:
        """True when the losses are negated scores (the plan reports scores)."""
        return self._higher_is_better

    @property
    def n_tasks(self) -> int:
        return len(self._tasks)

    @property
    def n_networks(self) -> int:
        return len(self._networks)

    def network_tasks(self, network: str) -> tuple[str, ...]:
        """The tasks a candidate network serves."""
        j = self.network_index(network)
        return tuple(t for t, s in zip(self._tasks, self._serves[j]) if s)

    def network_index(self, network: str) -> int:
        try:
            return self._network_index[network]
        except KeyError:
            raise InvalidArgument(
                f"Unknown network {network!r}; this problem's networks are {_preview(self._networks)}."
            ) from None

    def task_index(self, task: str) -> int:
        try:
            return self._task_index[task]
        except KeyError:
            raise InvalidArgument(f"Unknown task {task!r}; this problem's tasks are {_preview(self._tasks)}.") from None

    def __repr__(self) -> str:
        return (
            f"Problem({self.n_tasks} tasks, {self.n_networks} networks, costs={list(self._cost_names)}"
            f"{', higher_is_better=True' if self._higher_is_better else ''})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Problem):
            return NotImplemented
        return (
            self._tasks == other._tasks
            and self._networks == other._networks
            and self._cost_names == other._cost_names
            and self._higher_is_better == other._higher_is_better
            and np.array_equal(self._costs, other._costs)
            and np.array_equal(self._losses, other._losses, equal_nan=True)
            and np.array_equal(self._weights, other._weights)
            and np.array_equal(self._predicted, other._predicted)
        )

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ derived problems
    def with_costs(self, cost: str | Sequence[str]) -> Problem:
        """The same problem constrained on a subset of its cost columns (in the given order)."""
        names = [cost] if isinstance(cost, str) else list(cost)
        if not names:
            raise InvalidArgument("with_costs needs at least one cost column name; got none.")
        idx = []
        for name in names:
            if name not in self._cost_names:
                raise InvalidArgument(
                    f"Unknown cost column {name!r}; this problem's cost columns are {list(self._cost_names)}."
                )
            idx.append(self._cost_names.index(name))
        return self._replace(costs=self._costs[:, idx], cost_names=tuple(names))

    def with_losses(self, losses: Any, *, predicted: Any = None) -> Problem:
        """The same networks and costs with other losses (e.g. the test split's)."""
        return self._replace(losses=losses, predicted=predicted)

    def with_weights(self, weights: Mapping[str, float] | Sequence[float]) -> Problem:
        """The same problem with other task weights: one per task (in task order), or a mapping task -> weight
        naming every task."""
        if isinstance(weights, Mapping):
            unknown = sorted(set(weights) - set(self._tasks))
            missing = [t for t in self._tasks if t not in weights]
            if unknown or missing:
                raise InvalidArgument(
                    f"with_weights needs one weight for each task {list(self._tasks)}; "
                    f"unknown: {unknown}, missing: {missing}."
                )
            weights = [weights[t] for t in self._tasks]
        return self._replace(weights=weights)

    def without_networks(self, networks: Iterable[str]) -> Problem:
        """The problem without the named networks (each must exist)."""
        drop = {self.network_index(n) for n in networks}
        keep = [j for j in range(self.n_networks) if j not in drop]
        return Problem(
            self._tasks,
            [self._networks[j] for j in keep],
            self._costs[keep],
            self._losses[keep],
            self._weights,
            self._cost_names,
            higher_is_better=self._higher_is_better,
            predicted=self._predicted[keep],
        )

    def _replace(self, **changes: Any) -> Problem:
        fields = dict(
            tasks=self._tasks,
            networks=self._networks,
            costs=self._costs,
            losses=self._losses,
            weights=self._weights,
            cost_names=self._cost_names,
            higher_is_better=self._higher_is_better,
            predicted=self._predicted,
        )
        fields.update(changes)
        return Problem(**fields)

    # ------------------------------------------------------------------ scoring
    def evaluate(self, networks: Iterable[str]) -> Plan:
        """Score a set of networks on this problem's losses.

        Each task is served by the given network that has the lowest loss on it (ties: the network that
        comes first in this problem). Use it to score a set chosen on validation losses on the test split.

        Parameters
        ----------
        networks : iterable of str
            Names of networks of this problem.

        Returns
        -------
        Plan
            With ``optimal=False`` and ``solver="evaluate"``; no budget.

        Raises
        ------
        InvalidArgument
            If a name is not a network of this problem, or some task is served by none of them.
        """
        from taskgroup.plan import plan_from_selection

        names = list(networks)
        if not names:
            raise InvalidArgument("evaluate needs at least one network; got none.")
        chosen = sorted({self.network_index(n) for n in names})
        uncovered = [t for t, ok in zip(self._tasks, self._serves[chosen].any(axis=0)) if not ok]
        if uncovered:
            raise InvalidArgument(
                f"The networks {names} serve no network for task(s) {uncovered}; a plan must serve every task."
            )
        return plan_from_selection(self, chosen, solver="evaluate")

    def objective_of(self, chosen: Sequence[int]) -> float:
        """Weighted total loss of the networks at indices ``chosen`` (inf if a task is unserved)."""
        if len(chosen) == 0:
            return math.inf
        best = np.nanmin(np.where(self._serves[list(chosen)], self._losses[list(chosen)], np.inf), axis=0)
        return float(np.dot(self._weights, best))

    # ------------------------------------------------------------------ long table
    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        network: str = "network",
        task: str = "task",
        loss: str = "loss",
        cost: str | Sequence[str] | None = None,
        weight: str | None = "weight",
        weights: Mapping[str, float] | None = None,
        tasks: Sequence[str] | None = None,
        higher_is_better: bool = False,
        row_labels: Sequence[str] | None = None,
    ) -> Problem:
        """Build a problem from a long table: one row per (network, task).

        Parameters
        ----------
        frame : pandas.DataFrame
            Columns: ``network``, ``task``, ``loss`` and one or more cost columns; optionally a per-task
            ``weight`` column and a boolean ``predicted`` column. Other columns are ignored.
        network, task, loss : str
            Names of the network, task and loss columns.
        cost : str or list of str, optional
            Cost column(s). Default: ``"cost"`` if the table has it.
        weight : str or None
            Name of an optional per-task weight column (constant within a task).
        weights : mapping task -> weight, optional
            Task weights given directly (instead of a column). Tasks not named get weight 1.
        tasks : sequence of str, optional
            The full task list, in order. Every listed task must have rows; default: tasks in order of
            first appearance.
        higher_is_better : bool
            The ``loss`` column holds scores where higher is better; they are negated into losses.
        row_labels : sequence of str, optional
            How error messages name each row, e.g. ``"line 3 of 'losses.csv'"`` (what :meth:`from_csv` passes);
            default ``"data row 1"``, ``"data row 2"``, ... counting from 1.

        Raises
        ------
        InvalidProblem
            Naming the offending row, network or task: an empty table, a missing column, a NaN or
            infinite loss, a missing, NaN or non-positive cost, a network whose cost differs between
            its rows, a duplicate (network, task) row, a weight <= 0, a task no network serves.
        """
        cost_cols = _table_columns(frame, network, task, loss, cost)

        if row_labels is None:
            row_labels = _DataRowLabels(len(frame))
        elif len(row_labels) != len(frame):
            raise InvalidArgument(f"row_labels has {len(row_labels)} labels for a table of {len(frame)} rows.")

        def row(i: int) -> str:
            return str(row_labels[i])

        def where(i: int) -> str:
            return _capital(f"{row(i)} (network {frame[network].iloc[i]!r}, task {frame[task].iloc[i]!r})")

        loss_values, cost_values = _table_values(frame, network, task, loss, cost_cols, row, where)
        net_names = frame[network].astype(str).to_numpy()
        task_names = frame[task].astype(str).to_numpy()
        # Integer codes per row (in order of first appearance) keep the per-row work in numpy and pandas: a
        # Python loop over the rows took 7.8 s of a 14 s solve on a 2.2-million-row table.
        rows_n, networks = _codes(net_names)
        task_codes, appearing = _codes(task_names)
        _check_pairs_once(rows_n, task_codes, net_names, task_names, row)
        tasks = _task_list(appearing, tasks)
        t_index = {t: i for i, t in enumerate(tasks)}
        rows_t = np.array([t_index[t] for t in appearing], dtype=np.intp)[task_codes]
        costs = _network_costs(rows_n, networks, cost_values, cost_cols, row)
        losses = np.full((len(networks), len(tasks)), np.nan)
        losses[rows_n, rows_t] = -loss_values if higher_is_better else loss_values

        predicted = None
        if "predicted" in frame.columns:
            predicted = np.zeros_like(losses, dtype=bool)
            predicted[rows_n, rows_t] = frame["predicted"].astype(bool).to_numpy()

        task_weights = _weights_from(frame, weight, weights, tasks, task_names, where, row)
        return cls(
            tasks,
            networks,
            costs,
            losses,
            task_weights,
            cost_cols,
            higher_is_better=higher_is_better,
            predicted=predicted,
        )

    def to_frame(self) -> pd.DataFrame:
        """The long table (network, task, loss, cost columns..., weight, predicted); inverse of from_frame.

        Losses are reported in the original sense: scores when ``higher_is_better``.
        """
        j, t = np.nonzero(self._serves)
        sign = -1.0 if self._higher_is_better else 1.0
        data: dict[str, Any] = {
            "network": [self._networks[k] for k in j],
            "task": [self._tasks[k] for k in t],
            "loss": sign * self._losses[j, t],
        }
        for r, name in enumerate(self._cost_names):
            data[name] = self._costs[j, r]
        data["weight"] = self._weights[t]
        data["predicted"] = self._predicted[j, t]
        return pd.DataFrame(data)

    @classmethod
    def from_store(
        cls,
        path: str | PathLike[str],
        split: str = "val",
        cost: str | Sequence[str] | None = None,
        **kwargs: Any,
    ) -> Problem:
        """Deprecated: use ``ResultStore(path, create=False).to_problem(split, cost, ...)`` (taskgroup.measure.store).

        Kept for one version as a thin wrapper; the core problem model does not depend on measurement.
        """
        import warnings

        warnings.warn(
            "Problem.from_store is deprecated; use taskgroup.measure.store.ResultStore(path, create=False)"
            ".to_problem(split=..., cost=...).",
            DeprecationWarning,
            stacklevel=2,
        )
        from taskgroup.measure.store import ResultStore  # lazy: the core does not import measurement

        return ResultStore(path, create=False).to_problem(split, cost, **kwargs)

    @classmethod
    def from_csv(cls, path: str | PathLike[str], **kwargs: Any) -> Problem:
        """Read a long table from a CSV file; keyword arguments go to :meth:`from_frame`."""
        frame = read_csv_table(path)
        kwargs.setdefault("row_labels", _CsvLineLabels(path, len(frame)))
        return cls.from_frame(frame, **kwargs)

    def to_csv(self, path: str | PathLike[str]) -> None:
        self.to_frame().to_csv(path, index=False)

    # ------------------------------------------------------------------ dict / JSON
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Problem:
        """Build a problem from its dict form (see :meth:`to_dict`).

        ``{"tasks": ["a", "b"] or {"a": {"weight": 2}, ...}, "higher_is_better": false,
        "networks": [{"name": "ab", "cost": 1.0 or {"flops": 2e6, ...}, "losses": {"a": 0.1, "b": 0.2}}]}``
        """
        doc = Fields(data, "problem", InvalidProblem, allowed=_PROBLEM_FIELDS)
        schema = doc.string("schema", PROBLEM_SCHEMA)
        if schema != PROBLEM_SCHEMA:
            raise InvalidProblem(f"Unknown schema {schema!r}; expected {PROBLEM_SCHEMA!r}.")
        version = doc.integer("version", PROBLEM_SCHEMA_VERSION)
        if version != PROBLEM_SCHEMA_VERSION:
            raise InvalidProblem(f"Unsupported problem schema version {version!r}; this taskgroup reads version 1.")
        higher = doc.boolean("higher_is_better", False)
        weights: dict[str, float] = {}
        task_list = None
        if doc.has("tasks"):
            if isinstance(doc.raw("tasks"), Mapping):
                spec = doc.child("tasks")
                task_list = [str(t) for t in spec.data]
                for t, props in spec.data.items():
                    if not isinstance(props, Mapping):
                        raise InvalidProblem(
                            f'In the problem, tasks[{t!r}] must be an object like {{"weight": 2.0}} (or {{}} for '
                            f"weight 1); got {props!r}."
                        )
                    props = spec.child(t, allowed=("weight",))
                    if props.has("weight"):
                        weights[str(t)] = props.number("weight")
            else:
                task_list = doc.strings("tasks")
        rows = []
        cost_names: list[str] | None = None
        networks = doc.sequence("networks")
        if not networks:
            raise InvalidProblem("The problem's 'networks' list is empty; a problem needs at least one network.")
        for k in range(len(networks)):
            net = doc.item("networks", k, allowed=("name", "cost", "losses", "predicted"))
            name = net.string("name")
            if isinstance(net.raw("cost"), Mapping):
                cost = net.number_map("cost")
            else:
                cost = {"cost": net.number("cost")}
            if cost_names is None:
                cost_names = list(cost)
            elif list(cost) != cost_names:
                raise InvalidProblem(
                    f"Network {name!r} has cost keys {list(cost)}; the first network has {cost_names}."
                )
            losses = net.number_map("losses")
            if not losses:
                raise InvalidProblem(f"Network {name!r} must have a non-empty 'losses' mapping task -> loss.")
            predicted = net.strings("predicted", [])
            unknown = [t for t in predicted if t not in losses]
            if unknown:
                raise InvalidProblem(
                    f"Network {name!r} lists predicted task(s) {unknown} that are not among its losses {list(losses)}."
                )
            for t, value in losses.items():
                rows.append({"network": name, "task": t, "loss": value, **cost, "predicted": t in predicted})
        frame = pd.DataFrame(rows)
        return cls.from_frame(
            frame,
            cost=cost_names,
            weight=None,
            weights=weights or None,
            tasks=task_list,
            higher_is_better=higher,
        )

    def to_dict(self) -> dict[str, Any]:
        """The dict form, readable by :meth:`from_dict`; losses in the original sense."""
        sign = -1.0 if self._higher_is_better else 1.0
        nets = []
        for j, name in enumerate(self._networks):
            served = np.flatnonzero(self._serves[j])
            cost: Any = (
                float(self._costs[j, 0])
                if self._cost_names == ("cost",)
                else {c: float(self._costs[j, r]) for r, c in enumerate(self._cost_names)}
            )
            entry = {
                "name": name,
                "cost": cost,
                "losses": {self._tasks[t]: float(sign * self._losses[j, t]) for t in served},
            }
            if self._predicted[j].any():
                entry["predicted"] = [self._tasks[t] for t in np.flatnonzero(self._predicted[j])]
            nets.append(entry)
        return {
            "schema": PROBLEM_SCHEMA,
            "version": PROBLEM_SCHEMA_VERSION,
            "higher_is_better": self._higher_is_better,
            "tasks": {t: {"weight": float(w)} for t, w in zip(self._tasks, self._weights)},
            "networks": nets,
        }

    @classmethod
    def from_json(cls, path_or_text: str | PathLike[str]) -> Problem:
        """Read the dict form from a JSON file (or a JSON string)."""
        text = _read_text(path_or_text)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidProblem(f"Could not parse the problem JSON: {exc}") from None
        if isinstance(data, list):  # records of the long table
            for i, record in enumerate(data):
                if not isinstance(record, Mapping):
                    raise InvalidProblem(
                        f"A problem JSON array must hold one object per (network, task) row; item {i} is {record!r}."
                    )
            return cls.from_frame(pd.DataFrame(data))
        return cls.from_dict(data)

    def to_json(self, path: str | PathLike[str] | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def read(cls, path: str | PathLike[str], **kwargs: Any) -> Problem:
        """Read a problem from a ``.csv`` or ``.json`` file, chosen by the file's suffix."""
        suffix = Path(path).suffix.lower()
        if suffix == ".csv":
            return cls.from_csv(path, **kwargs)
        if suffix == ".json":
            if kwargs:
                raise InvalidArgument(f"Options {sorted(kwargs)} apply to CSV tables only; {str(path)!r} is JSON.")
            return cls.from_json(path)
        raise InvalidArgument(f"Cannot read {str(path)!r}: expected a .csv or .json file.")


# ---------------------------------------------------------------------- helpers
class _DataRowLabels(Sequence[str]):
    """``"data row N"`` (counting from 1) for each row, formatted only when a message needs one."""

    def __init__(self, n_rows: int, suffix: str = ""):
        self._n, self._suffix = n_rows, suffix

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        return f"data row {i + 1}{self._suffix}"


class _CsvLineLabels(Sequence[str]):
    """``"line N of 'file.csv'"`` for each data row, N as an editor shows it (the header is line 1).

    The file is scanned only when an error message needs a label, never on the way to a valid problem. pandas
    skips empty lines, so they are skipped here too; a file whose non-empty lines do not match the rows one to one
    (quoted fields spanning lines) falls back to ``"data row N"``.
    """

    def __init__(self, path: str | PathLike[str], n_rows: int):
        self._path, self._n = path, n_rows

    def __len__(self) -> int:
        return self._n

    @functools.cached_property
    def _labels(self) -> Sequence[str]:
        with open(self._path, encoding="utf-8", errors="replace") as fh:
            lines = [k for k, text in enumerate(fh, start=1) if text.strip("\r\n")]
        where = repr(str(self._path))
        if len(lines) - 1 != self._n:
            return _DataRowLabels(self._n, f" of {where}")
        return [f"line {k} of {where}" for k in lines[1:]]

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        return self._labels[i]


def _frozen(a: np.ndarray) -> np.ndarray:
    """``a`` made read-only in place: only for arrays the caller owns (never a user's array, which it would lock)."""
    a.setflags(write=False)
    return a


def _num(x: Any) -> str:
    """A number as users write it (``nan``, ``0.5``), not numpy's ``np.float64(0.5)``."""
    try:
        return repr(float(x))
    except (TypeError, ValueError):
        return repr(x)


def _check_unique(names: Sequence[str], what: str) -> None:
    seen = set()
    for n in names:
        if n in seen:
            raise InvalidProblem(f"The {what} name {n!r} appears more than once; {what} names must be unique.")
        seen.add(n)


def _preview(names: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return f"[{shown}{', ...' if len(names) > limit else ''}] ({len(names)} in all)"


def _numeric_column(frame: pd.DataFrame, col: str, where: Any) -> np.ndarray:
    values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
    not_numbers = np.isnan(values) & frame[col].notna().to_numpy()
    if not_numbers.any():
        i = int(np.argmax(not_numbers))
        raise InvalidProblem(f"{where(i)} has {col} = {frame[col].iloc[i]!r}, which is not a number.")
    return values


def _weights_from(
    frame: pd.DataFrame,
    weight_col: str | None,
    weights: Mapping[str, float] | None,
    tasks: Sequence[str],
    task_names: np.ndarray,
    where: Any,
    row: Any,
) -> np.ndarray:
    has_col = weight_col is not None and weight_col in frame.columns
    if has_col and weights is not None:
        raise InvalidProblem(f"Give task weights either as the {weight_col!r} column or as weights=, not both.")
    result = {t: 1.0 for t in tasks}
    if weights is not None:
        unknown = [t for t in weights if t not in result]
        if unknown:
            raise InvalidProblem(f"weights name unknown task(s) {unknown}; the tasks are {list(tasks)}.")
        for t, w in weights.items():
            try:
                result[t] = float(w)
            except (TypeError, ValueError):
                raise InvalidProblem(f"Task {t!r} has weight {w!r}, which is not a number.") from None
    elif has_col:
        values = _numeric_column(frame, weight_col, where)
        first: dict[str, tuple[int, float]] = {}
        for i, (t, w) in enumerate(zip(task_names, values)):
            if np.isnan(w):
                raise InvalidProblem(f"{where(i)} has no {weight_col}; give every row of a weighted table a weight.")
            if t in first and first[t][1] != w:
                raise InvalidProblem(
                    f"Task {t!r} has {weight_col} {_num(first[t][1])} in {row(first[t][0])} but {_num(w)} in {row(i)}; "
                    "a task's weight must be the same in all its rows."
                )
            first.setdefault(t, (i, w))
            result[t] = float(w)
    for t, w in result.items():
        if not math.isfinite(w) or w <= 0:
            raise InvalidProblem(f"Task {t!r} has weight {_num(w)}; weights must be finite numbers > 0.")
    return np.array([result[t] for t in tasks])


def _read_text(path_or_text: str | PathLike[str]) -> str:
    if isinstance(path_or_text, str) and path_or_text.lstrip().startswith(("{", "[")):
        return path_or_text
    return read_text(path_or_text, "problem file")


# ---------------------------------------------------------------- the steps of Problem.from_frame
def _table_columns(
    frame: pd.DataFrame, network: str, task: str, loss: str, cost: str | Sequence[str] | None
) -> list[str]:
    """The cost column names, after checking the table is a non-empty DataFrame with every named column."""
    if not isinstance(frame, pd.DataFrame):
        raise InvalidProblem(f"from_frame expects a pandas DataFrame; got {type(frame).__name__}.")
    if len(frame) == 0:
        raise InvalidProblem("The table is empty; a problem needs at least one (network, task, loss) row.")
    if cost is None:
        if "cost" not in frame.columns:
            raise InvalidProblem(
                "The table has no 'cost' column; pass cost=<column name(s)> naming the cost column(s). "
                f"Columns present: {list(map(str, frame.columns))}."
            )
        cost = "cost"
    cost_cols = [cost] if isinstance(cost, str) else list(cost)
    if not cost_cols:
        raise InvalidProblem("cost must name at least one cost column; got an empty list.")
    for col in [network, task, loss, *cost_cols]:
        if col not in frame.columns:
            raise InvalidProblem(f"The table has no column {col!r}; columns present: {list(map(str, frame.columns))}.")
    return cost_cols


def _table_values(
    frame: pd.DataFrame,
    network: str,
    task: str,
    loss: str,
    cost_cols: list[str],
    row: Callable[[int], str],
    where: Callable[[int], str],
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the loss, and the costs (rows x cost columns); names present, losses finite, costs > 0."""
    for col in (network, task):
        missing = frame[col].isna().to_numpy()
        if missing.any():
            i = int(np.argmax(missing))
            raise InvalidProblem(f"{_capital(row(i))} has no {col} name; every row needs a network and a task.")
    loss_values = _numeric_column(frame, loss, where)
    bad = ~np.isfinite(loss_values)
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidProblem(
            f"{where(i)} has loss {_num(loss_values[i])}; losses must be finite numbers "
            "(drop the row if that network does not serve the task)."
        )
    cost_values = np.column_stack([_numeric_column(frame, c, where) for c in cost_cols])
    for r, col in enumerate(cost_cols):
        bad = ~np.isfinite(cost_values[:, r]) | (cost_values[:, r] <= 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise InvalidProblem(f"{where(i)} has {col} = {_num(cost_values[i, r])}; costs must be finite numbers > 0.")
    return loss_values, cost_values


def _codes(names: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Each row's name as an integer code, and the distinct names in order of first appearance."""
    codes, uniques = pd.factorize(names)
    return codes.astype(np.intp, copy=False), [str(u) for u in uniques]


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """Per code ``0..k-1`` (numbered in order of first appearance), the row where it first appears."""
    return np.flatnonzero(~pd.Index(codes).duplicated())


def _check_pairs_once(
    rows_n: np.ndarray, rows_t: np.ndarray, net_names: np.ndarray, task_names: np.ndarray, row: Callable[[int], str]
) -> None:
    """Refuse a (network, task) pair given twice, naming the first repeat and the row it repeats."""
    key = rows_n.astype(np.int64) * (int(rows_t.max()) + 1) + rows_t
    repeated = pd.Index(key).duplicated()
    if repeated.any():
        i = int(np.argmax(repeated))
        first = int(np.argmax(key == key[i]))
        raise InvalidProblem(
            f"{_capital(row(first))} and {row(i)} both give network {net_names[i]!r} on task {task_names[i]!r}; "
            "each (network, task) pair may appear once."
        )


def _task_list(appearing: list[str], tasks: Sequence[str] | None) -> list[str]:
    """The given task list (every task with rows, every row's task in it), or the tasks in order of appearance."""
    if tasks is None:
        return appearing
    tasks = [str(t) for t in tasks]
    _check_unique(tasks, "task")
    unknown = [t for t in appearing if t not in set(tasks)]
    if unknown:
        raise InvalidProblem(f"The table has rows for task(s) {unknown} that are not in tasks={tasks}.")
    unserved = [t for t in tasks if t not in set(appearing)]
    if unserved:
        raise InvalidProblem(f"Task(s) {unserved} are served by no network: the table has no row for them.")
    return tasks


def _network_costs(
    rows_n: np.ndarray,
    networks: Sequence[str],
    cost_values: np.ndarray,
    cost_cols: list[str],
    row: Callable[[int], str],
) -> np.ndarray:
    """One cost row per network (from its first row), refusing a network whose cost differs between its rows.

    ``rows_n`` holds each row's network code (:func:`_codes`); the costs are finite (checked before).
    """
    first_row = _first_rows(rows_n)
    costs = cost_values[first_row]
    differs = (cost_values != costs[rows_n]).any(axis=1)
    if differs.any():
        i = int(np.argmax(differs))  # the first row that disagrees with its network's first row
        j = rows_n[i]
        r = int(np.argmax(costs[j] != cost_values[i]))
        raise InvalidProblem(
            f"Network {networks[j]!r} has {cost_cols[r]} = {_num(costs[j, r])} in {row(first_row[j])} but "
            f"{_num(cost_values[i, r])} in {row(i)}; a network's cost must be the same in all its rows."
        )
    return costs


def _capital(text: str) -> str:
    """``text`` with its first letter upper-case (row labels start a sentence: "data row 3" -> "Data row 3")."""
    return text[:1].upper() + text[1:]
