"""The network-selection problem: tasks, candidate networks, their costs and per-task losses.

A :class:`Problem` is the solver input of Standley et al. (2020), generalised: candidate networks
``N_j`` each serve a task set ``S_j`` at a cost ``c_j`` (one number per resource) with a loss ``L_jt``
for every served task ``t``. A plan picks networks within a budget; each task is served by the chosen
network that is best at it, and the objective is ``sum_t w_t * min_j L_jt``.

Losses are lower-is-better. A problem built from higher-is-better scores (``higher_is_better=True``)
stores the negated scores and remembers it, so that plans can report scores in the original sense.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from taskgroup.errors import InvalidArgument, InvalidProblem
from taskgroup.files import read_csv_table
from taskgroup.io import (
    csv_row_labels,
    dict_frame,
    frame_fields,
    json_data,
    problem_dict,
    problem_frame,
)
from taskgroup.validation import check_unique, number_text

if TYPE_CHECKING:
    from taskgroup.plan import Plan

__all__ = ["Problem"]

# The largest weighted loss or cost a problem may hold: sums of many such values stay far inside float range.
MAX_MAGNITUDE = 1e100


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
    loss_se : array-like, shape (n_networks, n_tasks), optional
        The standard error of each loss (over training repeats and/or a bootstrap over validation rows; see
        docs/measure.md), NaN where it is unknown or the network does not serve the task. None (or all NaN):
        no error is known.

    Raises
    ------
    InvalidProblem
        If any array has the wrong shape, a loss is infinite, a cost is missing, infinite or <= 0,
        a weight is <= 0, a network serves no task, a task is served by no network, names repeat, or a standard
        error is negative, infinite or given where the network does not serve the task.
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
        loss_se: Any = None,
    ) -> None:
        tasks = tuple(str(t) for t in tasks)
        networks = tuple(str(n) for n in networks)
        if not tasks:
            raise InvalidProblem("A problem needs at least one task; got none.")
        if not networks:
            raise InvalidProblem("A problem needs at least one candidate network; got none.")
        check_unique(tasks, "task")
        check_unique(networks, "network")

        costs = np.array(costs, dtype=float)
        if costs.ndim == 1:
            costs = costs[:, None]
        if cost_names is None:
            cost_names = ("cost",) if costs.shape[1] == 1 else tuple(f"cost{i}" for i in range(costs.shape[1]))
        cost_names = tuple(str(c) for c in cost_names)
        check_unique(cost_names, "cost column")
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
                f"Network {networks[j]!r} has {cost_names[r]} = {number_text(costs[j, r])}; "
                "costs must be finite numbers > 0."
            )
        infinite = np.isinf(losses)
        if infinite.any():
            j, t = np.argwhere(infinite)[0]
            raise InvalidProblem(
                f"Network {networks[j]!r} has loss {number_text(losses[j, t])} on task {tasks[t]!r}; "
                "losses must be finite "
                "(use NaN only where a network does not serve a task)."
            )
        for t, task in enumerate(tasks):
            w = weights[t]
            if not np.isfinite(w) or w <= 0:
                raise InvalidProblem(f"Task {task!r} has weight {number_text(w)}; weights must be finite numbers > 0.")
        # Solvers add losses and costs up (and bound them by sums of sums): values near float's limit overflow to
        # inf there, and a plan's "objective inf" or a backend's status error would be all the user saw.
        huge = np.abs(np.nan_to_num(losses) * weights) > MAX_MAGNITUDE
        if huge.any():
            j, t = np.argwhere(huge)[0]
            raise InvalidProblem(
                f"Network {networks[j]!r} has loss {number_text(losses[j, t])} on task {tasks[t]!r} (weight "
                f"{number_text(weights[t])}); a weighted loss must be at most {MAX_MAGNITUDE:g} in size, since "
                "plans add them up."
            )
        if (costs > MAX_MAGNITUDE).any():
            j, r = np.argwhere(costs > MAX_MAGNITUDE)[0]
            raise InvalidProblem(
                f"Network {networks[j]!r} has {cost_names[r]} = {number_text(costs[j, r])}; costs must be at most "
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
        loss_se = _checked_se(loss_se, serves, networks, tasks)

        self._tasks = tasks
        self._networks = networks
        self._cost_names = cost_names
        # every array here is this object's own copy (np.array above), so it is frozen in place, not copied again
        self._costs = _frozen(costs)
        self._losses = _frozen(losses)  # NaN exactly where a network does not serve a task (serves = ~isnan)
        self._serves = _frozen(serves)
        self._weights = _frozen(weights)
        self._predicted = _frozen(predicted & serves)
        self._loss_se = None if loss_se is None else _frozen(loss_se)
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
    def loss_se(self) -> np.ndarray | None:
        """Read-only array (n_networks, n_tasks) of the losses' standard errors (NaN where unknown), or None
        when no error is known."""
        return self._loss_se

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
            and (
                (self._loss_se is None and other._loss_se is None)
                or (
                    self._loss_se is not None
                    and other._loss_se is not None
                    and np.array_equal(self._loss_se, other._loss_se, equal_nan=True)
                )
            )
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

    def with_losses(self, losses: Any, *, predicted: Any = None, loss_se: Any = None) -> Problem:
        """The same networks and costs with other losses (e.g. the test split's) and their standard errors."""
        return self._replace(losses=losses, predicted=predicted, loss_se=loss_se)

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
            loss_se=None if self._loss_se is None else self._loss_se[keep],
        )

    def _replace(self, **changes: Any) -> Problem:
        fields: dict[str, Any] = dict(
            tasks=self._tasks,
            networks=self._networks,
            costs=self._costs,
            losses=self._losses,
            weights=self._weights,
            cost_names=self._cost_names,
            higher_is_better=self._higher_is_better,
            predicted=self._predicted,
            loss_se=self._loss_se,
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
        uncovered = [t for t, ok in zip(self._tasks, np.asarray(self._serves[chosen].any(axis=0))) if not ok]
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
            ``weight`` column, a boolean ``predicted`` column and a ``loss_se`` column (each loss's standard
            error, empty where unknown). Other columns are ignored.
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
        return cls(
            **frame_fields(
                frame,
                network=network,
                task=task,
                loss=loss,
                cost=cost,
                weight=weight,
                weights=weights,
                tasks=tasks,
                higher_is_better=higher_is_better,
                row_labels=row_labels,
            )
        )

    def to_frame(self) -> pd.DataFrame:
        """The long table (network, task, loss, cost columns..., weight, predicted, and loss_se when standard errors
        are known); inverse of from_frame.

        Losses are reported in the original sense: scores when ``higher_is_better``.
        """
        return problem_frame(self)

    @classmethod
    def from_csv(cls, path: str | PathLike[str], **kwargs: Any) -> Problem:
        """Read a long table from a CSV file; keyword arguments go to :meth:`from_frame`."""
        frame = read_csv_table(path)
        kwargs.setdefault("row_labels", csv_row_labels(path, len(frame)))
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
        frame, options = dict_frame(data)
        return cls.from_frame(frame, **options)

    def to_dict(self) -> dict[str, Any]:
        """The dict form, readable by :meth:`from_dict`; losses in the original sense."""
        return problem_dict(self)

    @classmethod
    def from_json(cls, path_or_text: str | PathLike[str]) -> Problem:
        """Read the dict form from a JSON file (or a JSON string)."""
        data = json_data(path_or_text)
        if isinstance(data, list):  # records of the long table
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


def _checked_se(loss_se: Any, serves: np.ndarray, networks: Sequence[str], tasks: Sequence[str]) -> np.ndarray | None:
    """The standard errors as this problem's own float array (None when none is known), after checking them."""
    if loss_se is None:
        return None
    se = np.array(loss_se, dtype=float)
    if se.shape != serves.shape:
        raise InvalidProblem(f"loss_se must have shape {serves.shape}; got {se.shape}.")
    bad = ~np.isnan(se) & (~np.isfinite(se) | (se < 0))
    if bad.any():
        j, t = np.argwhere(bad)[0]
        raise InvalidProblem(
            f"Network {networks[j]!r} has loss_se {number_text(se[j, t])} on task {tasks[t]!r}; a standard error "
            "must be a finite number >= 0 (NaN where it is unknown)."
        )
    stray = ~np.isnan(se) & ~serves
    if stray.any():
        j, t = np.argwhere(stray)[0]
        raise InvalidProblem(
            f"Network {networks[j]!r} has loss_se {number_text(se[j, t])} on task {tasks[t]!r}, "
            "which it does not serve."
        )
    return None if np.isnan(se).all() else se


def _frozen(a: np.ndarray) -> np.ndarray:
    """``a`` made read-only in place: only for arrays the caller owns (never a user's array, which it would lock)."""
    a.setflags(write=False)
    return a


def _preview(names: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return f"[{shown}{', ...' if len(names) > limit else ''}] ({len(names)} in all)"
