"""Reading and writing problems: long tables (CSV, frames), the dict/JSON form, with errors naming the bad row.

:class:`~taskgroup.problem.Problem`'s ``from_frame``, ``from_csv``, ``from_dict``, ``from_json``, ``read`` and
their ``to_*`` inverses call these; they return what the problem is built from (or take a built one), so this
module does not import the problem model.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from taskgroup.errors import InvalidArgument, InvalidProblem
from taskgroup.fields import Fields
from taskgroup.files import read_text
from taskgroup.validation import check_unique, number_text

if TYPE_CHECKING:
    from taskgroup.problem import Problem

__all__ = [
    "PROBLEM_SCHEMA",
    "PROBLEM_SCHEMA_VERSION",
    "frame_fields",
    "problem_frame",
    "csv_row_labels",
    "dict_frame",
    "problem_dict",
    "json_data",
]

PROBLEM_SCHEMA = "taskgroup.problem"
PROBLEM_SCHEMA_VERSION = 1
_PROBLEM_FIELDS = ("schema", "version", "higher_is_better", "tasks", "networks")


def frame_fields(
    frame: pd.DataFrame,
    *,
    network: str,
    task: str,
    loss: str,
    cost: str | Sequence[str] | None,
    weight: str | None,
    weights: Mapping[str, float] | None,
    tasks: Sequence[str] | None,
    higher_is_better: bool,
    row_labels: Sequence[str] | None,
) -> dict[str, Any]:
    """The arguments of :class:`~taskgroup.problem.Problem` from a long table (see ``Problem.from_frame``).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per (network, task).
    network, task, loss, cost, weight, weights, tasks, higher_is_better, row_labels
        As ``Problem.from_frame``.

    Returns
    -------
    dict
        ``tasks``, ``networks``, ``costs``, ``losses``, ``weights``, ``cost_names``, ``higher_is_better``,
        ``predicted``.

    Raises
    ------
    InvalidProblem
        Naming the offending row, network or task (see ``Problem.from_frame``).
    InvalidArgument
        ``row_labels`` of another length than the table.
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
    return {
        "tasks": tasks,
        "networks": networks,
        "costs": costs,
        "losses": losses,
        "weights": task_weights,
        "cost_names": cost_cols,
        "higher_is_better": higher_is_better,
        "predicted": predicted,
    }


def problem_frame(problem: Problem) -> pd.DataFrame:
    """The long table of ``problem`` (network, task, loss, cost columns..., weight, predicted).

    Parameters
    ----------
    problem : Problem
        The problem.

    Returns
    -------
    pandas.DataFrame
        Losses in the original sense (scores when ``higher_is_better``).
    """
    j, t = np.nonzero(problem.serves)
    sign = -1.0 if problem.higher_is_better else 1.0
    data: dict[str, Any] = {
        "network": [problem.networks[k] for k in j],
        "task": [problem.tasks[k] for k in t],
        "loss": sign * problem.losses[j, t],
    }
    for r, name in enumerate(problem.cost_names):
        data[name] = problem.costs[j, r]
    data["weight"] = problem.weights[t]
    data["predicted"] = problem.predicted[j, t]
    return pd.DataFrame(data)


def csv_row_labels(path: str | PathLike[str], n_rows: int) -> Sequence[str]:
    """How error messages name the data rows of the CSV file at ``path``: ``"line 3 of 'x.csv'"``.

    Parameters
    ----------
    path : path
        The CSV file.
    n_rows : int
        Its number of data rows.

    Returns
    -------
    sequence of str
        Labels, computed on first use (only an error message needs them).
    """
    return _CsvLineLabels(path, n_rows)


def dict_frame(data: Mapping[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The long table and ``Problem.from_frame`` options of a problem's dict form.

    Parameters
    ----------
    data : mapping
        ``{"tasks": ["a", "b"] or {"a": {"weight": 2}, ...}, "higher_is_better": false,
        "networks": [{"name": "ab", "cost": 1.0 or {"flops": 2e6, ...}, "losses": {"a": 0.1, "b": 0.2}}]}``

    Returns
    -------
    (pandas.DataFrame, dict)
        The table and the options to read it with.

    Raises
    ------
    InvalidProblem
        An unknown schema or version, a missing or malformed field (named).
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
            raise InvalidProblem(f"Network {name!r} has cost keys {list(cost)}; the first network has {cost_names}.")
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
    options = {
        "cost": cost_names,
        "weight": None,
        "weights": weights or None,
        "tasks": task_list,
        "higher_is_better": higher,
    }
    return pd.DataFrame(rows), options


def problem_dict(problem: Problem) -> dict[str, Any]:
    """The dict form of ``problem``, readable by :func:`dict_frame`; losses in the original sense.

    Parameters
    ----------
    problem : Problem
        The problem.

    Returns
    -------
    dict
        JSON-serialisable.
    """
    sign = -1.0 if problem.higher_is_better else 1.0
    nets = []
    for j, name in enumerate(problem.networks):
        served = np.flatnonzero(problem.serves[j])
        cost: Any = (
            float(problem.costs[j, 0])
            if problem.cost_names == ("cost",)
            else {c: float(problem.costs[j, r]) for r, c in enumerate(problem.cost_names)}
        )
        entry = {
            "name": name,
            "cost": cost,
            "losses": {problem.tasks[t]: float(sign * problem.losses[j, t]) for t in served},
        }
        if problem.predicted[j].any():
            entry["predicted"] = [problem.tasks[t] for t in np.flatnonzero(problem.predicted[j])]
        nets.append(entry)
    return {
        "schema": PROBLEM_SCHEMA,
        "version": PROBLEM_SCHEMA_VERSION,
        "higher_is_better": problem.higher_is_better,
        "tasks": {t: {"weight": float(w)} for t, w in zip(problem.tasks, problem.weights)},
        "networks": nets,
    }


def json_data(path_or_text: str | PathLike[str]) -> Any:
    """The parsed JSON of a problem file (or a JSON string): a dict form, or a list of long-table records.

    Parameters
    ----------
    path_or_text : path or str
        A JSON file or JSON text.

    Returns
    -------
    dict or list of dict
        The document.

    Raises
    ------
    InvalidProblem
        Not JSON, or an array whose items are not objects.
    """
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
    return data


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
    elif weight_col is not None and has_col:
        values = _numeric_column(frame, weight_col, where)
        first: dict[str, tuple[int, float]] = {}
        for i, (t, w) in enumerate(zip(task_names, values)):
            if np.isnan(w):
                raise InvalidProblem(f"{where(i)} has no {weight_col}; give every row of a weighted table a weight.")
            if t in first and first[t][1] != w:
                raise InvalidProblem(
                    f"Task {t!r} has {weight_col} {number_text(first[t][1])} in {row(first[t][0])} "
                    f"but {number_text(w)} in {row(i)}; "
                    "a task's weight must be the same in all its rows."
                )
            first.setdefault(t, (i, w))
            result[t] = float(w)
    for t, w in result.items():
        if not math.isfinite(w) or w <= 0:
            raise InvalidProblem(f"Task {t!r} has weight {number_text(w)}; weights must be finite numbers > 0.")
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
            f"{where(i)} has loss {number_text(loss_values[i])}; losses must be finite numbers "
            "(drop the row if that network does not serve the task)."
        )
    cost_values = np.column_stack([_numeric_column(frame, c, where) for c in cost_cols])
    for r, col in enumerate(cost_cols):
        bad = ~np.isfinite(cost_values[:, r]) | (cost_values[:, r] <= 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise InvalidProblem(
                f"{where(i)} has {col} = {number_text(cost_values[i, r])}; costs must be finite numbers > 0."
            )
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
    check_unique(tasks, "task")
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
            f"Network {networks[j]!r} has {cost_cols[r]} = {number_text(costs[j, r])} in {row(first_row[j])} but "
            f"{number_text(cost_values[i, r])} in {row(i)}; a network's cost must be the same in all its rows."
        )
    return costs


def _capital(text: str) -> str:
    """``text`` with its first letter upper-case (row labels start a sentence: "data row 3" -> "Data row 3")."""
    return text[:1].upper() + text[1:]
